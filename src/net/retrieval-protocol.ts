// `/coffer/retrieval/1.1.0` over libp2p streams (frames in core/retrieval/retrieval-wire). The provider side
// sends the CAR its session yields and never lets the channel owe more than one payment interval: the unpaid
// count is the channel's ledger over every stream on it (a session brings it), the interval grows by its
// increase with this stream's payments, a held stream tells its client what is owed, and a client that does
// not pay is told UNPAID after the idle timeout. The client side is a thin stream: the caller verifies,
// decides when to pay, and sends.
import type { Dialer } from './dialer'
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import {
  RETRIEVAL_PROTOCOL, RETRIEVAL_MAX_FRAME, RETRIEVAL_MAX_CAR_BYTES, RetrievalRejectedError, RetrievalProtocolError, carFrame, controlFrame, splitFrame,
  encodeRetrievalRequest, decodeRetrievalRequest, encodeRetrievalReply, decodeRetrievalReply, encodeVoucherControl, decodeClientControl,
  GIB, intervalSizeAt, retrievalPrice, ChannelLedger, PaymentOwedError, type RetrievalRequest, type RetrievalReply, type AttoFil
} from '../core'
import { FrameReader, writeFrame, FrameError, StreamCutError } from './frames'
import { SendWindow } from './windowed-transfer'

/** How long either side waits for the other's next frame (the provider: for a voucher it needs) before giving up. */
export const RETRIEVAL_IDLE_TIMEOUT_MS = 30_000
/** Retrievals a provider serves at once, whoever they are for. */
export const MAX_RETRIEVALS = 16
/** …and to one peer (a tab downloads a few files at once at most). */
export const MAX_RETRIEVALS_PER_PEER = 4

/** The terms a provider serves under (its signed ask's retrieval terms). */
export interface RetrievalTerms { pricePerGiB: AttoFil, paymentInterval: number, paymentIntervalIncrease: number }

/** One piece of the CAR stream the provider sends, and the block bytes in it the client pays for. */
export interface CarPart { bytes: Uint8Array, charged: number }

export interface RetrievalServerSession {
  terms: RetrievalTerms
  /** The CAR stream in order: the header (charged 0), then one section per block (charged its block's bytes). */
  car: AsyncIterable<CarPart>
  /**
   * A voucher from the client: checks it and returns what this stream has been paid in all (attoFIL, cumulative
   * over the stream's vouchers). Throws RetrievalRejectedError('PAYMENT') when it does not check out. With a
   * `ledger`, it also pays what the voucher added into it (recorded with the voucher, in one write).
   */
  voucher: (bytes: Uint8Array) => Promise<AttoFil>
  /**
   * The paying channel's ledger, shared by every stream on the channel and kept across restarts by the handler:
   * the stream charges what it sends to it and is held while it owes an interval. Absent (a free provider, a
   * scripted session), the stream keeps a ledger of its own, paid from the totals `voucher` returns.
   */
  ledger?: ChannelLedger
  /** The stream is about to wait for payment: the handler records what the ledger owes before it waits. */
  holding?: () => Promise<void>
  /** The stream ended: what was sent (charged bytes) and paid, and why it ended. Called once, always. */
  end: (outcome: { sent: number, paid: AttoFil, complete: boolean, error?: Error }) => Promise<void>
}

export interface RetrievalHandler {
  /** Checks a request (payload held, range inside the file, channel usable); throws RetrievalRejectedError. */
  accept: (req: RetrievalRequest, peer: PeerId) => Promise<RetrievalServerSession>
}

export interface ServeRetrievalsOptions {
  log?: (line: string) => void
  idleTimeoutMs?: number
  maxStreams?: number
  maxStreamsPerPeer?: number
}

/** Block bytes `paid` attoFIL covers at `pricePerGiB` (rounded down: the provider never counts a byte unpaid-for as paid). */
export const bytesPaidFor = (paid: AttoFil, pricePerGiB: AttoFil): number =>
  pricePerGiB === 0n ? Number.MAX_SAFE_INTEGER : Number((paid * BigInt(GIB)) / pricePerGiB)

/** What `bytes` of blocks cost at `pricePerGiB`, rounded up to the attoFIL (the client's side of bytesPaidFor). */
export const priceOfBytes = (bytes: number, pricePerGiB: AttoFil): AttoFil => retrievalPrice({ retrievalPricePerGiB: pricePerGiB }, bytes)

/**
 * Bad framing from the other side is a protocol error (a provider's is its lie); a stream cut mid-frame is a broken
 * link, not bad framing (see StreamCutError), and goes on as itself, like any other error.
 */
function throwIfBadFraming (err: unknown): void {
  if (err instanceof FrameError && !(err instanceof StreamCutError)) throw new RetrievalProtocolError(err.message)
}

/** The next frame within the idle timeout, or a named error (a clean end is null). */
async function nextFrame (frames: FrameReader, idleMs: number, signal?: AbortSignal): Promise<Uint8Array | null> {
  const idle = AbortSignal.timeout(idleMs)
  try {
    return await frames.read(signal === undefined ? idle : AbortSignal.any([idle, signal]))
  } catch (err) {
    throwIfBadFraming(err)
    if (idle.aborted && signal?.aborted !== true) throw new RetrievalRejectedError('PROTOCOL', `no frame arrived for ${idleMs / 1000} s`)
    throw err
  }
}

export async function serveRetrievals (node: Libp2p, handler: RetrievalHandler, opts: ServeRetrievalsOptions = {}): Promise<void> {
  const log = opts.log ?? (() => {})
  const idleMs = opts.idleTimeoutMs ?? RETRIEVAL_IDLE_TIMEOUT_MS
  const maxStreams = opts.maxStreams ?? MAX_RETRIEVALS
  const maxPerPeer = opts.maxStreamsPerPeer ?? MAX_RETRIEVALS_PER_PEER
  let running = 0
  const byPeer = new Map<string, number>()
  await node.handle(RETRIEVAL_PROTOCOL, async (stream: Stream, connection) => {
    const peer = connection.remotePeer.toString()
    const frames = new FrameReader(stream, RETRIEVAL_MAX_FRAME)
    /** A frame write began and did not finish: the stream's framing may be cut, so nothing more can be said on it. */
    let writeCut = false
    const framed = async (frame: Uint8Array): Promise<void> => {
      writeCut = true
      await writeFrame(stream, frame, AbortSignal.timeout(idleMs))
      writeCut = false
    }
    const send = async (r: RetrievalReply): Promise<void> => { await framed(controlFrame(encodeRetrievalReply(r))) }
    let session: RetrievalServerSession | undefined
    let sent = 0
    let paid: AttoFil = 0n
    let complete = false
    let counted = false
    try {
      if (running >= maxStreams) throw new RetrievalRejectedError('BUSY', `this provider serves ${maxStreams} retrievals at once; try again shortly`)
      // one peer cannot hold every slot (and keep the service BUSY for everyone else)
      if ((byPeer.get(peer) ?? 0) >= maxPerPeer) throw new RetrievalRejectedError('BUSY', `this provider serves ${maxPerPeer} retrievals at once to one peer`)
      running++
      byPeer.set(peer, (byPeer.get(peer) ?? 0) + 1)
      counted = true
      const first = await nextFrame(frames, idleMs)
      if (first === null) throw new RetrievalProtocolError('the stream ended before a request')
      const f = splitFrame(first)
      if (f.kind !== 'control') throw new RetrievalProtocolError('a client sent CAR bytes')
      const req = decodeRetrievalRequest(f.value)
      session = await handler.accept(req, connection.remotePeer)
      const asked = `${req.root.toString()}${req.range === undefined ? '' : ` bytes ${req.range.from}–${req.range.to}`} for ${peer.slice(-8)}`
      log(`retrieval: serving ${asked}`)
      const { terms } = session
      await send({ kind: 'accepted', ...terms })

      // The unpaid window: the size of the payment interval this stream's paid bytes fall in (go-fil-markets'
      // Params.NextInterval), so the credit grows with what was paid, never with how many vouchers came. What is
      // unpaid is the channel's: every stream on it, earlier sessions and restarts included, charges one ledger,
      // so a second stream (or a reconnect) on a channel that owes an interval waits for payment instead of
      // getting fresh credit. Bytes paid ahead count too (the ledger's owed goes below zero).
      const price = terms.pricePerGiB
      const ledger = session.ledger ?? new ChannelLedger()
      const ownLedger = session.ledger === undefined
      let paidBytes = 0
      let streamSent = 0
      const interval = (): number => intervalSizeAt(paidBytes, terms.paymentInterval, terms.paymentIntervalIncrease)
      const owing = (): boolean => price !== 0n && ledger.owed >= priceOfBytes(interval(), price)
      // the window here is only the wait: room while the channel owes less than an interval, woken by any payment
      const window = new SendWindow(0, () => owing() ? 0 : Number.MAX_SAFE_INTEGER)
      const unsubscribe = ledger.onPaid(() => { window.poke() })
      const readerAbort = new AbortController()
      const readVouchers = async (): Promise<void> => {
        for (;;) {
          // a client owes a voucher only while bytes are unpaid; otherwise its silence is not a fault
          const frame = await frames.read(readerAbort.signal).catch((err: unknown) => {
            throwIfBadFraming(err)
            throw err
          })
          if (frame === null) {
            // the client hung up (a closed tab, a killed CLI): it can pay for nothing more, so a sender waiting
            // for room stops now rather than at the idle timeout (which would also hold the lane's redeem back)
            window.fail(new RetrievalRejectedError('PROTOCOL', 'the client closed the stream'))
            return
          }
          const c = splitFrame(frame)
          if (c.kind !== 'control') throw new RetrievalProtocolError('a client sent CAR bytes')
          const control = decodeClientControl(c.value)
          if (control.kind !== 'voucher') throw new RetrievalProtocolError('a second request on one stream')
          if (price === 0n) continue // a gift to a free provider changes nothing
          const total = await session!.voucher(control.voucher)
          if (total > paid) {
            if (ownLedger) ledger.pay(total - paid)
            paid = total
            paidBytes = bytesPaidFor(paid, price)
            window.poke()
          }
        }
      }
      const reader = readVouchers()
      reader.catch((err: unknown) => { window.fail(err) })
      // a client that leaves a full interval unpaid for the idle time is told UNPAID: it holds the stream
      // (and this provider's bytes in flight) without paying for them. What is timed is how long the sender has
      // been held at a full window without a break: a steady payer lets it go on at every payment (sampling
      // "is the window full?" on a timer once counted a prompt payer's whole download as one wait: the
      // Chromium test's 256 KiB intervals hit UNPAID after ~108 vouchers), while vouchers too small to open
      // the window keep it held and do not restart the clock.
      let heldSince: number | undefined
      const watch = setInterval(() => {
        if (heldSince !== undefined && performance.now() - heldSince >= idleMs) {
          const owed = ledger.owed
          window.fail(new PaymentOwedError(owed, `no voucher within ${idleMs / 1000} s for the ${owed} attoFIL this channel owes (${ledger.entry.sentBytes} block bytes sent on it in all; one interval of ${interval()} bytes is the most it may owe)`))
        }
      }, Math.max(50, Math.min(1000, idleMs / 10)))
      watch.unref?.()
      try {
        let pending: Uint8Array[] = []
        let pendingBytes = 0
        const flush = async (): Promise<void> => {
          if (pendingBytes === 0) return
          const out = pending.length === 1 ? pending[0]! : concat(pending, pendingBytes)
          pending = []
          pendingBytes = 0
          await framed(carFrame(out))
        }
        for await (const part of session.car) {
          if (part.charged > 0) {
            // small sections (DAG nodes) are batched into one frame; a block waits while the channel owes an interval
            if (owing()) {
              await flush()
              await session.holding?.()
              // the client has everything this stream sent (the frames before this one): it can pay what it verified
              if (ledger.owed > 0n) await send({ kind: 'owed', owed: ledger.owed })
              heldSince = performance.now()
              try { await window.room() } finally { heldSince = undefined }
            }
            if (window.failed !== undefined) throw window.failed
          }
          for (let at = 0; at < part.bytes.length; at += RETRIEVAL_MAX_CAR_BYTES) {
            const piece = part.bytes.subarray(at, Math.min(part.bytes.length, at + RETRIEVAL_MAX_CAR_BYTES))
            if (pendingBytes + piece.length > RETRIEVAL_MAX_CAR_BYTES) await flush()
            pending.push(piece)
            pendingBytes += piece.length
          }
          if (part.charged > 0) {
            // the stream's total is priced once and rounded up once (as the client pays it): each block charges
            // the difference, so rounding never adds up over blocks
            const before = priceOfBytes(streamSent, price)
            streamSent += part.charged
            ledger.charge(part.charged, priceOfBytes(streamSent, price) - before)
          }
          sent += part.charged
        }
        await flush()
        if (window.failed !== undefined) throw window.failed
        await send({ kind: 'done', sent })
        // The client answers done with its last voucher (for what it verified and has not paid yet) and then closes
        // its side: the stream ends when it does (every voucher before the close has been read by then), or at the
        // idle time. Judging "paid" from the figures instead once ended the stream before that voucher came: a
        // resumed client also pays for blocks the provider did not charge again, so its vouchers ran ahead of the
        // charges, and the lane was redeemed one voucher short of what the client sent.
        let timer: ReturnType<typeof setTimeout> | undefined
        const idle = new Promise<'idle'>(resolve => { timer = setTimeout(() => { resolve('idle') }, idleMs) })
        const last = await Promise.race([reader.then(() => 'closed' as const, (err: unknown) => err), idle])
        clearTimeout(timer)
        // a refused last voucher is told to the client like any other
        if (last !== 'closed' && last !== 'idle') throw last
        complete = terms.pricePerGiB === 0n || bytesPaidFor(paid, terms.pricePerGiB) >= sent
      } finally {
        clearInterval(watch)
        unsubscribe()
        readerAbort.abort()
        await reader.catch(() => {})
      }
      await stream.close({ signal: AbortSignal.timeout(idleMs) }).catch(() => { stream.abort(new Error('close timed out')) })
      log(`retrieval: served ${asked}: ${sent} block bytes, ${paid} attoFIL paid${complete ? '' : ' (short of them)'}`)
      await session.end({ sent, paid, complete })
    } catch (err) {
      const e = err as Error
      log(`retrieval: ${e.name}: ${e.message}`)
      await session?.end({ sent, paid, complete: false, error: e }).catch(() => {})
      // a failure of the provider's own (a chain read, a disk write) is told to the client by name like a refusal,
      // unless it cut a frame: then the stream can only be reset
      const refusal = e instanceof RetrievalRejectedError ? e : writeCut ? null : new RetrievalRejectedError('INTERNAL', `${e.name}: ${e.message}`)
      if (refusal !== null) {
        await send({ kind: 'rejected', code: refusal.code, message: refusal.message.slice(0, 500), ...(refusal instanceof PaymentOwedError && refusal.owed > 0n ? { owed: refusal.owed } : {}) })
          .then(async () => { await stream.close({ signal: AbortSignal.timeout(idleMs) }) })
          .catch(() => { stream.abort(e) })
      } else {
        stream.abort(e)
      }
    } finally {
      if (counted) {
        running--
        const n = (byPeer.get(peer) ?? 1) - 1
        if (n === 0) byPeer.delete(peer)
        else byPeer.set(peer, n)
      }
    }
  })
}

function concat (parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total)
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}

/** The client's side of one retrieval stream: the provider's terms, then CAR bytes until done. */
export interface RetrievalStream {
  terms: RetrievalTerms
  /**
   * The next CAR bytes, the provider's done (charged bytes sent), or `owed`: the provider stopped until the channel
   * owes less than an interval (pay what was verified). Throws RetrievalRejectedError when refused
   * (PaymentOwedError when it waited for a payment that did not come). `ownBuffer`: the CAR bytes' buffer holds their
   * frame alone (the reader joined it from the stream's pieces: FrameReader.joined): the caller may change it, or move
   * it to another worker.
   */
  next: () => Promise<{ car: Uint8Array, ownBuffer: boolean } | { done: number } | { owed: AttoFil }>
  sendVoucher: (voucher: Uint8Array) => Promise<void>
  close: () => Promise<void>
  abort: (err: Error) => void
}

/** Opens a retrieval: sends the request and waits for the provider's terms (or its refusal). */
export async function openRetrieval (node: Dialer, peer: PeerId, req: RetrievalRequest, opts: { signal?: AbortSignal, idleTimeoutMs?: number } = {}): Promise<RetrievalStream> {
  const idleMs = opts.idleTimeoutMs ?? RETRIEVAL_IDLE_TIMEOUT_MS
  const within = (): AbortSignal => opts.signal === undefined ? AbortSignal.timeout(idleMs) : AbortSignal.any([opts.signal, AbortSignal.timeout(idleMs)])
  const stream = await node.dialProtocol(peer, RETRIEVAL_PROTOCOL, { signal: within() })
  const frames = new FrameReader(stream, RETRIEVAL_MAX_FRAME)
  const control = (frame: Uint8Array | null): RetrievalReply => {
    if (frame === null) throw new RetrievalRejectedError('PROTOCOL', 'the provider ended the stream early')
    const f = splitFrame(frame)
    if (f.kind !== 'control') throw new RetrievalProtocolError('CAR bytes before the provider accepted')
    return decodeRetrievalReply(f.value)
  }
  try {
    await writeFrame(stream, controlFrame(encodeRetrievalRequest(req)), within())
    const first = control(await nextFrame(frames, idleMs, opts.signal))
    if (first.kind === 'rejected') throw first.owed !== undefined ? new PaymentOwedError(first.owed, first.message) : new RetrievalRejectedError(first.code, first.message)
    if (first.kind !== 'accepted') throw new RetrievalProtocolError('the provider answered before accepting')
    const terms: RetrievalTerms = { pricePerGiB: first.pricePerGiB, paymentInterval: first.paymentInterval, paymentIntervalIncrease: first.paymentIntervalIncrease }
    let finished = false
    return {
      terms,
      next: async () => {
        if (finished) throw new RetrievalProtocolError('read past the provider\'s done')
        const frame = await nextFrame(frames, idleMs, opts.signal)
        if (frame === null) throw new RetrievalRejectedError('PROTOCOL', 'the provider ended the stream before done')
        const f = splitFrame(frame)
        if (f.kind === 'car') return { car: f.bytes, ownBuffer: frames.joined(frame) }
        const r = decodeRetrievalReply(f.value)
        if (r.kind === 'rejected') throw r.owed !== undefined ? new PaymentOwedError(r.owed, r.message) : new RetrievalRejectedError(r.code, r.message)
        if (r.kind === 'owed') return { owed: r.owed }
        if (r.kind !== 'done') throw new RetrievalProtocolError('the provider accepted twice')
        finished = true
        return { done: r.sent }
      },
      sendVoucher: async (voucher) => { await writeFrame(stream, controlFrame(encodeVoucherControl(voucher)), within()) },
      close: async () => { await stream.close({ signal: within() }).catch(() => { stream.abort(new Error('close timed out')) }) },
      abort: (err) => { stream.abort(err) }
    }
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
}
