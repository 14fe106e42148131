// `/coffer/deal/1.0.0` and `/coffer/ask/1.0.0` over libp2p streams (formats in core/market/deal-wire).
// The provider side validates a proposal before taking any byte, tells the client where to resume, and
// answers only once the bytes hash to the proposed piece and the deal is published. The client side
// streams with the stream's back-pressure, reports progress, and resumes after a dropped connection.
import type { Dialer } from './dialer'
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import {
  DEAL_PROTOCOL, ASK_PROTOCOL, MAX_DATA_FRAME, MAX_CONTROL_FRAME, HELD_ACK_BYTES, SEND_WINDOW, DealRejectedError, isDiskFullError, encodeDealRequest, decodeDealRequest,
  encodeDealReply, decodeDealReply, encodeSignedStorageAsk, decodeSignedStorageAsk, type DealRequest, type DealReply, type SignedStorageAsk
} from '../core'
import { serveOneShot, requestOneShot } from './stream-io'
import { FrameReader, writeFrame, FrameError } from './frames'
import { SendWindow } from './windowed-transfer'

/** How long either side waits for the other's next frame before giving up on the stream. */
export const DEAL_IDLE_TIMEOUT_MS = 30_000
/** Seconds of sending a client keeps in flight beyond the provider's last acknowledgement, once measured. */
export const WINDOW_SECS = 8
/** How long a client waits, after the last byte, for the provider to check the piece and publish. */
export const DEAL_PUBLISH_TIMEOUT_MS = 5 * 60_000

/**
 * The slowest a transfer may run once past its grace period, as an average over a sliding window. The idle
 * timeout alone lets a peer hold a transfer (and the whole piece's reservation) with one byte per frame
 * timeout; the floor makes holding cost bandwidth. It tells a trickle from a slow link, not a slow link from
 * a fast one: a floor far below any real uplink, and a window long enough to ride out a stall.
 */
export interface TransferRateFloor {
  bytesPerSecond: number
  /** The average is taken over this much time… */
  windowMs: number
  /** …and first judged this long after the transfer was accepted. */
  graceMs: number
}

/**
 * 16 KiB/s (128 kbit/s) over a minute, judged after a minute: a 1 GiB upload at that rate would take 18 hours,
 * so no upload anyone waits for runs near it, while a mobile uplink (hundreds of kbit/s and up) passes with
 * room; a window of 60 s rides out a stall of most of a minute (a laptop's Wi-Fi roaming, a provider's
 * disk flush) at any real rate. A dropped transfer keeps its staged bytes: the client resumes from them.
 */
export const DEFAULT_TRANSFER_RATE_FLOOR: TransferRateFloor = { bytesPerSecond: 16 * 1024, windowMs: 60_000, graceMs: 60_000 }

/**
 * A transfer's average rate over the last `windowMs`, from samples of the bytes received so far. Sans-I/O: the
 * caller gives the time and the count; `below` says when the transfer has fallen under the floor.
 */
export class RateFloorMeter {
  /** [time, bytes received by then], oldest first; the first is at or before the window's start once it is full. */
  private readonly samples: Array<[number, number]> = []
  private readonly startMs: number

  constructor (private readonly floor: TransferRateFloor, nowMs: number, received = 0) {
    this.startMs = nowMs
    this.samples.push([nowMs, received])
  }

  /**
   * Records `received` at `nowMs`. Once past the grace period with a whole window measured, the average rate
   * (bytes/s) when it is under the floor; null otherwise.
   */
  below (nowMs: number, received: number): number | null {
    this.samples.push([nowMs, received])
    const windowStart = nowMs - this.floor.windowMs
    // keep one sample at or before the window's start: it is the baseline the average runs from
    while (this.samples.length > 1 && this.samples[1]![0] <= windowStart) this.samples.shift()
    if (nowMs - this.startMs < Math.max(this.floor.graceMs, this.floor.windowMs)) return null
    const [t0, b0] = this.samples[0]!
    if (t0 > windowStart || nowMs <= t0) return null
    const rate = (received - b0) * 1000 / (nowMs - t0)
    return rate < this.floor.bytesPerSecond ? rate : null
  }
}

/** The STALLED rejection, with the rate measured: the client learns why, and that it may resume. */
const stalledError = (bytesPerSecond: number, floor: TransferRateFloor): DealRejectedError => new DealRejectedError('STALLED',
  `the transfer ran at ${bytesPerSecond.toFixed(0)} bytes/s over the last ${floor.windowMs / 1000} s, below the ${floor.bytesPerSecond} bytes/s this provider requires; the bytes received are kept, so a new stream resumes from them`)

export interface ServeDealsOptions {
  log?: (line: string) => void
  /** The slowest a transfer may run; DEFAULT_TRANSFER_RATE_FLOOR when left out. */
  rateFloor?: TransferRateFloor
  /** How long the provider waits with no byte arriving; DEAL_IDLE_TIMEOUT_MS when left out. */
  idleTimeoutMs?: number
  nowMs?: () => number
}

/** Where a provider puts the bytes of one accepted transfer. */
export interface PayloadSink {
  write: (bytes: Uint8Array) => Promise<void>
  /** All bytes are in: check them against the proposal and publish; the deal's ID and message CID. */
  finish: () => Promise<{ dealId: number, message: string }>
  /** The stream ended early: keep what arrived (the client may resume) and release the transfer. */
  interrupted: () => Promise<void>
}

export interface DealHandler {
  /** Checks a request before any byte moves; throws DealRejectedError, or returns where to resume. */
  accept: (req: DealRequest, peer: string) => Promise<{ offset: number, sink: PayloadSink } | { published: { dealId: number, message: string } }>
}

/**
 * The next frame, given up on only when no byte at all has arrived for `idleMs` while it waits. A whole frame
 * (up to MAX_DATA_FRAME, 1 MiB) is no measure of idleness: bounding each frame by the idle timeout would drop
 * every link slower than 1 MiB / 30 s (≈34 KiB/s) before its first frame was whole, and since only whole frames
 * are staged, each resume would start that frame over and never finish. The rate floor, not this, is what
 * drops a peer that sends too little; this only notices one that has gone quiet. Quiet time counts from the
 * later of the last byte and the start of this read: while the provider writes to disk it reads nothing (the
 * frame reader pauses the stream), and that time is the provider's, not the peer's.
 */
export async function nextFrame (frames: FrameReader, lastByteMs: () => number, nowMs: () => number, idleMs: number, signal?: AbortSignal): Promise<Uint8Array> {
  return await idleBounded(async (s) => await must(frames, s), lastByteMs, nowMs, idleMs, signal)
}

/** As nextFrame, but a clean end of stream between frames is null (a sender that ends when it has no more). */
export async function nextFrameOrEnd (frames: FrameReader, lastByteMs: () => number, nowMs: () => number, idleMs: number, signal?: AbortSignal): Promise<Uint8Array | null> {
  return await idleBounded(async (s) => {
    try { return await frames.read(s) } catch (err) {
      if (err instanceof FrameError) throw new DealRejectedError('TRANSFER', err.message)
      throw err
    }
  }, lastByteMs, nowMs, idleMs, signal)
}

async function idleBounded<T> (read: (signal: AbortSignal) => Promise<T>, lastByteMs: () => number, nowMs: () => number, idleMs: number, signal?: AbortSignal): Promise<T> {
  const idle = new AbortController()
  const from = nowMs()
  let timer: ReturnType<typeof setTimeout> | undefined
  const arm = (): void => {
    const left = idleMs - (nowMs() - Math.max(lastByteMs(), from))
    if (left <= 0) idle.abort(new DealRejectedError('TRANSFER', `no byte arrived for ${idleMs / 1000} s`))
    else timer = setTimeout(arm, left)
  }
  arm()
  try {
    return await read(signal === undefined ? idle.signal : AbortSignal.any([idle.signal, signal]))
  } finally {
    clearTimeout(timer)
  }
}

/** The next frame, or a TRANSFER rejection when the stream ends first. */
async function must (frames: FrameReader, signal: AbortSignal): Promise<Uint8Array> {
  let frame: Uint8Array | null
  try { frame = await frames.read(signal) } catch (err) {
    if (err instanceof FrameError) throw new DealRejectedError('TRANSFER', err.message)
    throw err
  }
  if (frame === null) throw new DealRejectedError('TRANSFER', 'the stream ended early')
  return frame
}

export async function serveDeals (node: Libp2p, handler: DealHandler, opts: ServeDealsOptions | ((line: string) => void) = {}): Promise<void> {
  const o: ServeDealsOptions = typeof opts === 'function' ? { log: opts } : opts
  const log = o.log ?? (() => {})
  const floor = o.rateFloor ?? DEFAULT_TRANSFER_RATE_FLOOR
  const nowMs = o.nowMs ?? (() => performance.now())
  const idleMs = o.idleTimeoutMs ?? DEAL_IDLE_TIMEOUT_MS
  await node.handle(DEAL_PROTOCOL, async (stream: Stream, connection) => {
    const frames = new FrameReader(stream, MAX_DATA_FRAME)
    const reply = async (r: DealReply): Promise<void> => { await writeFrame(stream, encodeDealReply(r), AbortSignal.timeout(DEAL_IDLE_TIMEOUT_MS)) }
    // raw bytes off the stream, counted as they arrive: a slow link fills a 1 MiB frame over many seconds, and
    // counting whole frames only would judge it (rate floor and idle timeout alike) by the frame it has not
    // finished yet
    let received = 0
    let lastByteMs = nowMs()
    stream.addEventListener('message', (evt) => { received += evt.data.byteLength; lastByteMs = nowMs() })
    const read = async (signal?: AbortSignal): Promise<Uint8Array> => await nextFrame(frames, () => lastByteMs, nowMs, idleMs, signal)
    const stalled = new AbortController()
    let watch: ReturnType<typeof setInterval> | undefined
    let sink: PayloadSink | undefined
    let done = false
    let held = 0
    try {
      const first = await read()
      if (first.length > MAX_CONTROL_FRAME) throw new DealRejectedError('TRANSFER', 'request frame too large')
      const req = decodeDealRequest(first)
      const accepted = await handler.accept(req, connection.remotePeer.toString())
      if ('published' in accepted) {
        await reply({ kind: 'published', ...accepted.published })
      } else {
        sink = accepted.sink
        await reply({ kind: 'accepted', offset: accepted.offset })
        let have = accepted.offset
        let acked = have
        if (have < req.payloadBytes) {
          // judged on a timer too, not only as frames arrive: a trickle completes no frame to judge it by
          watch = watchRateFloor(floor, nowMs, () => received, (rate) => { stalled.abort(stalledError(rate, floor)) })
        }
        while (have < req.payloadBytes) {
          stalled.signal.throwIfAborted()
          const frame = await read(stalled.signal)
          if (frame.length === 0 || have + frame.length > req.payloadBytes) throw new DealRejectedError('TRANSFER', `a data frame runs past the ${req.payloadBytes} bytes proposed`)
          await sink.write(frame)
          have += frame.length
          held = have
          // acknowledged every HELD_ACK_BYTES, and once all are in (the client then knows the check has begun)
          if (have - acked >= HELD_ACK_BYTES || have === req.payloadBytes) { acked = have; await reply({ kind: 'held', held: have }) }
        }
        clearInterval(watch)
        done = true
        await reply({ kind: 'published', ...(await sink.finish()) })
      }
      await stream.close({ signal: AbortSignal.timeout(DEAL_IDLE_TIMEOUT_MS) })
    } catch (err) {
      clearInterval(watch)
      if (sink !== undefined && !done) await sink.interrupted().catch(() => {})
      // a disk that filled during the transfer (the free space was checked when the proposal was taken, but other
      // writes share the disk) is told to the client by name, not as a reset: it may send again once there is room
      const e = isDiskFullError(err)
        ? new DealRejectedError('SPACE', `the provider's disk filled during the transfer (${(err as { code: string }).code}): it keeps the ${held} bytes it holds; send again once it has room`)
        : err as Error
      log(`deal: ${e.name}: ${e.message}`)
      await endStream(stream, e, reply)
    }
  })
}

/**
 * Judges a running transfer against the rate floor on a timer, not only as frames arrive (a trickle completes
 * no frame to judge it by): `onBelow` gets the average rate once it is under the floor. Stop with clearInterval.
 */
export function watchRateFloor (floor: TransferRateFloor, nowMs: () => number, received: () => number, onBelow: (bytesPerSecond: number) => void): ReturnType<typeof setInterval> {
  const meter = new RateFloorMeter(floor, nowMs(), received())
  const watch = setInterval(() => {
    const rate = meter.below(nowMs(), received())
    if (rate !== null) onBelow(rate)
  }, Math.max(50, Math.min(5000, floor.windowMs / 4)))
  watch.unref?.()
  return watch
}

/**
 * Ends a provider's stream after `e`: a refusal is told (with its earliest start, for START) and the stream
 * closed; anything else resets it.
 */
export async function endStream (stream: Stream, e: Error, reply: (r: DealReply) => Promise<void>): Promise<void> {
  if (!(e instanceof DealRejectedError)) { stream.abort(e); return }
  await reply({ kind: 'rejected', code: e.code, message: e.message, ...(e.earliestStart === undefined ? {} : { earliestStart: e.earliestStart }) }).then(async () => { await stream.close({ signal: AbortSignal.timeout(DEAL_IDLE_TIMEOUT_MS) }) }).catch(() => { stream.abort(e) })
  // closing writes only half-closes: a peer that goes on sending (a trickle told STALLED) would keep the
  // stream open for ever, so it gets the idle timeout to hang up, then a reset
  if (stream.status === 'open' || stream.status === 'closing') setTimeout(() => { stream.abort(e) }, DEAL_IDLE_TIMEOUT_MS).unref?.()
}

/**
 * A sender's window sized to its link, for a stream that starts acknowledged at `start`: SEND_WINDOW until an
 * acknowledgement measures the rate, then about WINDOW_SECS of sending at it (see sendOnce).
 */
export function linkSizedWindow (start: number): (w: SendWindow) => number {
  const startedMs = performance.now()
  return (w) => {
    const secs = (performance.now() - startedMs) / 1000
    if (w.acked === start || secs <= 0) return SEND_WINDOW
    const rate = (w.acked - start) / secs
    return Math.min(SEND_WINDOW, Math.max(HELD_ACK_BYTES + MAX_DATA_FRAME, Math.ceil(rate * WINDOW_SECS)))
  }
}

export interface SendDealOptions {
  signal?: AbortSignal
  /** Bytes the provider holds so far, of `total`. */
  onProgress?: (held: number, total: number) => void
  /** Fresh connections to try after one breaks mid-transfer (resuming where the provider stands). */
  retries?: number
  /**
   * Asked before each data frame: an error to stop the stream with (the caller re-plans), or undefined to go
   * on. Never asked once every byte is written.
   */
  stopBeforeNextFrame?: () => Error | undefined
}

/** The payload from `offset` to the end, in any chunking. */
export type PayloadReader = (offset: number) => AsyncIterable<Uint8Array>

/** Proposes a deal and streams its payload; resolves once the provider has published it. */
export async function sendDeal (node: Dialer, peer: PeerId, req: DealRequest, payload: PayloadReader, opts: SendDealOptions = {}): Promise<{ dealId: number, message: string }> {
  const retries = opts.retries ?? 3
  for (let attempt = 0; ; attempt++) {
    try {
      return await sendOnce(node, peer, req, payload, opts)
    } catch (err) {
      // a rejection is the provider's answer; a broken connection is worth another try from where it stands
      if (err instanceof DealRejectedError || opts.signal?.aborted === true || opts.stopBeforeNextFrame?.() !== undefined || attempt >= retries) throw err
      await new Promise(resolve => setTimeout(resolve, 500 * (attempt + 1)))
    }
  }
}

async function sendOnce (node: Dialer, peer: PeerId, req: DealRequest, payload: PayloadReader, opts: SendDealOptions): Promise<{ dealId: number, message: string }> {
  const idle = (): AbortSignal => opts.signal === undefined ? AbortSignal.timeout(DEAL_IDLE_TIMEOUT_MS) : AbortSignal.any([opts.signal, AbortSignal.timeout(DEAL_IDLE_TIMEOUT_MS)])
  const stream = await node.dialProtocol(peer, DEAL_PROTOCOL, { signal: idle() })
  let watchdog: ReturnType<typeof setTimeout> | undefined
  try {
    const frames = new FrameReader(stream, MAX_CONTROL_FRAME)
    await writeFrame(stream, encodeDealRequest(req), idle())
    const first = decodeDealReply(await must(frames, idle()))
    if (first.kind === 'rejected') throw new DealRejectedError(first.code, first.message, first)
    if (first.kind === 'published') { opts.onProgress?.(req.payloadBytes, req.payloadBytes); return first }
    if (first.kind !== 'accepted') throw new DealRejectedError('TRANSFER', 'the provider acknowledged bytes before accepting')
    // `sent` bytes are on their way; the provider acknowledges what it has written. The window keeps the
    // bytes in flight (and so in memory, in whatever layer holds them) bounded.
    let held = first.offset
    opts.onProgress?.(held, req.payloadBytes)
    // Replies are read as they arrive, beside the writes: on a slow link the writes wait on back-pressure for
    // long stretches, and the acknowledgements (the client's only measure of progress, which re-planning a
    // deal's start depends on) must not queue behind them. The reader ends with the provider's last word.
    const readerAbort = new AbortController()
    // one signal for the whole stream (not one per frame): the caller's, and the reader's end
    const live = opts.signal === undefined ? readerAbort.signal : AbortSignal.any([opts.signal, readerAbort.signal])
    // The provider must show progress (an acknowledgement, or its last word) within the publish timeout of the
    // last progress: judged by progress, not by a clock started at the first byte, so a slow link is never
    // cut off for being slow, and the wait for publication counts from the last byte the provider holds.
    const arm = (): void => {
      clearTimeout(watchdog)
      watchdog = setTimeout(() => { readerAbort.abort(new DealRejectedError('TRANSFER', `the provider showed no progress for ${DEAL_PUBLISH_TIMEOUT_MS / 1000} s`)) }, DEAL_PUBLISH_TIMEOUT_MS)
    }
    arm()
    // Bytes in flight are sized to the link once acknowledgements measure it: about WINDOW_SECS of sending,
    // never less than an acknowledgement interval plus a frame (the provider acknowledges every
    // HELD_ACK_BYTES, so a smaller window would wait for an acknowledgement that cannot come), never more than
    // SEND_WINDOW. On a slow link a full 16 MiB window is a minute of bytes queued in buffers: every broken
    // stream throws them away and every acknowledgement waits behind them.
    const window = new SendWindow(first.offset, linkSizedWindow(first.offset))
    const readReplies = async (): Promise<{ dealId: number, message: string }> => {
      for (;;) {
        const r = decodeDealReply(await must(frames, live))
        if (r.kind === 'rejected') throw new DealRejectedError(r.code, r.message, r)
        if (r.kind === 'held') {
          try { window.ack(r.held) } catch { throw new DealRejectedError('TRANSFER', `the provider acknowledged ${r.held} bytes, ${window.sent} were sent`) }
          held = r.held
          opts.onProgress?.(held, req.payloadBytes)
          arm()
          continue
        }
        if (r.kind !== 'published') throw new DealRejectedError('TRANSFER', 'the provider accepted twice')
        if (window.sent !== req.payloadBytes) throw new DealRejectedError('TRANSFER', 'the provider answered before the last byte')
        return r
      }
    }
    const replies = readReplies()
    replies.catch((err) => {
      window.fail(err)
      // a write waiting on back-pressure ends now, not whenever the transport gives up
      if (!readerAbort.signal.aborted) readerAbort.abort(err)
      stream.abort(err as Error)
    })
    try {
      for await (const chunk of payload(window.sent)) {
        for (let at = 0; at < chunk.length; at += MAX_DATA_FRAME) {
          // the caller may stop the stream between frames (to re-plan), never once the last byte is written:
          // the provider alone then decides, and a proposal it can still publish is never abandoned
          const stop = opts.stopBeforeNextFrame?.()
          if (stop !== undefined) throw stop
          const frame = chunk.subarray(at, Math.min(chunk.length, at + MAX_DATA_FRAME))
          // waits for acknowledgements while a window is out; throws once the reader has ended (it always
          // ends: the watchdog bounds it)
          await window.room()
          // counted as sent when handed to the stream, not when the write returns: a write that waits for the
          // stream to drain resumes after the provider may have read the frame, written it and acknowledged it
          // (seen under load: the acknowledgement was refused as beyond what was sent, a TRANSFER rejection)
          window.wrote(frame.length)
          await writeFrame(stream, frame, live)
        }
      }
      if (window.sent !== req.payloadBytes) throw new RangeError(`the payload gave ${window.sent} bytes, the proposal says ${req.payloadBytes}`)
    } catch (err) {
      if (!readerAbort.signal.aborted) readerAbort.abort(err)
      await replies.catch(() => {})
      // the provider's own refusal (e.g. STALLED, SPACE) says more than the write it broke
      throw window.failed instanceof DealRejectedError ? window.failed : err
    }
    const last = await replies
    opts.onProgress?.(req.payloadBytes, req.payloadBytes)
    await stream.close().catch(() => {})
    return last
  } catch (err) {
    stream.abort(err as Error)
    throw err
  } finally {
    clearTimeout(watchdog)
  }
}

export async function serveAsk (node: Libp2p, ask: () => Promise<SignedStorageAsk>): Promise<void> {
  await serveOneShot(node, ASK_PROTOCOL, 16, async () => encodeSignedStorageAsk(await ask()), () => new Uint8Array(0))
}

/** The provider's signed ask; the caller checks the signature against the on-chain worker. */
export async function requestAsk (node: Dialer, peer: PeerId, signal?: AbortSignal): Promise<SignedStorageAsk> {
  return decodeSignedStorageAsk(await requestOneShot(node, peer, ASK_PROTOCOL, new Uint8Array(0), MAX_CONTROL_FRAME, signal))
}
