// One file's retrieval, shared by the tab and the CLI: ask each provider in turn for the file from the verified
// offset, check every block as it arrives (core CarVerifier), write each verified slice where it belongs, and pay
// with cumulative vouchers only for block bytes already verified. A provider that lies, refuses or breaks is dropped
// at once and the next continues from the verified offset; the caller persists the state, so a pause or a closed
// tab resumes on the same lanes and never pays twice for a file byte. What it verified and had not yet paid for
// when it stopped is paid first on resume: the provider counts what a channel owes across streams and sessions,
// and holds a new stream on a channel that still owes an interval.
import { isTabGone } from './remote-platform'
import { isChainUnanswered } from './retrieval-views'
import { peerIdFromString } from '@libp2p/peer-id'
import {
  CarVerifier, fileRuns, runInPlace, intervalSizeAt, RetrievalRejectedError, RetrievalVerifyError, formatFil, parseAddress,
  type CID, type AttoFil, type AsyncMultihashFn, type MultihashFn, type ByteRange, type FileRange, type RetrievalRequest
} from '../core'
import { openRetrieval, priceOfBytes, connectTo, type Dialer, type RetrievalTerms, type RetrievalStream } from '../net'
import type { RetrievalPayer } from './paych-client'
import { untilAborted } from './until-aborted'
import { nameOfError } from './failure-text'

/** A provider to retrieve from, with what the client verified about it. */
export interface RetrievalProvider {
  /** Its miner address (t01001 …). */
  address: string
  peerId: string
  /** Where to dial it (the bootstrap document's multiaddrs). */
  addrs: string[]
  /** The retrieval terms of its signed ask, verified against its on-chain worker key. */
  terms: RetrievalTerms
  /** Its worker key address: the payment channel's To. */
  worker: Uint8Array
  /** Bytes to fund the channel for before the first byte (the deal's payload size); the file's remaining size when left out. */
  quoteBytes?: number
}

/** Why a provider was dropped, as kept in the state (JSON-safe; `name` is the error class's name). */
export interface ProviderFailure {
  name: string
  /** The rejection or verification code, when the error has one. */
  code: string | null
  message: string
  /** The verified offset when it was dropped. */
  atOffset: number
  /** True for a provider that sent bad data: it is never asked again for this download. */
  lied: boolean
}

export interface ProviderDownloadState {
  /** The channel (t2…) and lane this download pays the provider on; null for a free provider. */
  channel: string | null
  lane: number | null
  /** The lane's cumulative amount in attoFIL (decimal), as of the last voucher sent. */
  paid: string
  /** Block bytes it sent that verified (over every stream of this download). */
  verifiedBlockBytes: number
  /**
   * attoFIL owed for block bytes verified (and written) but not yet paid, at the stream's price, as of the last
   * save: the first voucher of a resume on the same lane pays it (absent in states saved before it was kept: 0).
   */
  owed?: string
  failure: ProviderFailure | null
}

/** What the caller persists between runs (JSON-safe). */
export interface DownloadState {
  root: string
  range: ByteRange | null
  /** Every file byte before this offset has been verified and written. */
  verifiedOffset: number
  fileSize: number | null
  complete: boolean
  providers: Record<string, ProviderDownloadState>
}

export const newDownloadState = (root: CID | string, range?: ByteRange): DownloadState =>
  ({ root: String(root), range: range ?? null, verifiedOffset: range?.from ?? 0, fileSize: null, complete: false, providers: {} })

export interface RetrievalProgress {
  /** File bytes verified and written, from the start of the range. */
  verifiedBytes: number
  /** File bytes the range holds, once known. */
  totalBytes: number | null
  /** attoFIL paid in all for this download (every lane's vouchers). */
  paid: AttoFil
  /** Verified file bytes a second during this run (null until measurable). */
  rate: number | null
  provider: string
}

export interface RetrievalSink {
  /**
   * Writes verified file bytes at their file offset (ranges start at their `from`). The bytes are handed over; with
   * `ownBuffer` their whole buffer is (nothing else keeps a view of it): a sink in another worker may move it.
   */
  write: (offset: number, bytes: Uint8Array, ownBuffer?: boolean) => Promise<void>
}

export interface RetrieveFileOptions {
  libp2p: Dialer
  root: CID
  range?: ByteRange
  /** Tried in this order. */
  providers: RetrievalProvider[]
  /** Pays priced providers; null/absent: only free providers can serve. */
  payer?: RetrievalPayer | null
  sink: RetrievalSink
  /** The download's persisted state (newDownloadState for a new one); changed in place and handed to `saveState`. */
  state: DownloadState
  /** Persists the state; resolves once it is durable. */
  saveState: (s: DownloadState) => Promise<void>
  onProgress?: (p: RetrievalProgress) => void
  /** Abort = pause: the state says where to resume. */
  signal?: AbortSignal
  hash?: MultihashFn
  /** The blocks' hash when it is asynchronous (block-hash.ts webCryptoBlockHash): used instead of `hash`. */
  hashAsync?: AsyncMultihashFn
  nowMs?: () => number
  idleTimeoutMs?: number
}

export interface RetrievalResult {
  /** File bytes verified and written (the range's length). */
  bytes: number
  fileSize: number
  /** The provider that completed it. */
  provider: string
  /** What each provider's lane holds for this download. */
  payments: Array<{ provider: string, channel: string, lane: number, amount: AttoFil }>
  paid: AttoFil
}

/** A priced provider and no payer (the CLI without --key). */
export class PaymentRequiredError extends Error {
  static override name = 'PaymentRequiredError'
  override name = 'PaymentRequiredError'
  constructor (readonly provider: string, readonly pricePerGiB: AttoFil) {
    super(`${provider} charges ${formatFil(pricePerGiB)} per GiB: a key to pay it with is needed`)
  }
}

/** The provider's stream asks for terms worse than its signed ask. */
export class TermsMismatchError extends Error {
  static override name = 'TermsMismatchError'
  override name = 'TermsMismatchError'
  constructor (readonly provider: string, readonly asked: RetrievalTerms, readonly streamed: RetrievalTerms) {
    super(`${provider}'s retrieval asks ${formatFil(streamed.pricePerGiB)}/GiB every ${streamed.paymentInterval} bytes, its signed ask ${formatFil(asked.pricePerGiB)}/GiB every ${asked.paymentInterval}`)
  }
}

/** The provider could not be reached, or its stream broke (not a lie: it may be asked again on a later run). */
export class ProviderUnreachableError extends Error {
  static override name = 'ProviderUnreachableError'
  override name = 'ProviderUnreachableError'
  constructor (readonly provider: string, override readonly cause: Error) { super(`${provider}: ${nameOfError(cause)}: ${String(cause.message)}`) }
}

/** Every provider failed; `failures` says why, each. */
export class AllProvidersFailedError extends Error {
  static override name = 'AllProvidersFailedError'
  override name = 'AllProvidersFailedError'
  constructor (readonly failures: Array<{ provider: string } & ProviderFailure>, readonly verifiedOffset: number) {
    super(`no provider could complete the retrieval (verified up to byte ${verifiedOffset}): ${failures.length === 0 ? 'none listed' : failures.map(f => `${f.provider}: ${f.name}${f.code === null ? '' : ` ${f.code}`}: ${f.message}`).join('; ')}`)
  }
}

function failureOf (err: Error, atOffset: number): ProviderFailure {
  const cause = err instanceof ProviderUnreachableError ? err.cause : err
  const code = (cause as { code?: unknown }).code
  return {
    name: nameOfError(cause),
    code: typeof code === 'string' ? code : null,
    message: String(cause.message ?? cause).slice(0, 500),
    atOffset,
    // a block that fails verification, bad framing, or terms other than signed: a lie or a broken provider
    lied: cause instanceof RetrievalVerifyError || cause instanceof TermsMismatchError || (cause instanceof RetrievalRejectedError && cause.name === 'RetrievalProtocolError')
  }
}

const totalPaid = (s: DownloadState): AttoFil => Object.values(s.providers).reduce((n, p) => n + BigInt(p.paid), 0n)

/**
 * Retrieves `root` (or its `range`) into `sink`, provider after provider, from `state.verifiedOffset`. Resolves when
 * every byte is verified and written; rejects with AllProvidersFailedError when none could finish, or with the
 * signal's reason when paused.
 */
export async function retrieveFile (o: RetrieveFileOptions): Promise<RetrievalResult> {
  const { state } = o
  if (state.root !== o.root.toString()) throw new RangeError(`the state is for ${state.root}, not ${o.root.toString()}`)
  const now = o.nowMs ?? (() => performance.now())
  const started = { at: now(), offset: state.verifiedOffset }
  const rangeFrom = o.range?.from ?? 0
  const progress = (provider: string): void => {
    const secs = (now() - started.at) / 1000
    const end = o.range?.to ?? state.fileSize
    o.onProgress?.({
      verifiedBytes: state.verifiedOffset - rangeFrom,
      totalBytes: end === null ? null : end - rangeFrom,
      paid: totalPaid(state),
      rate: secs > 0.2 ? (state.verifiedOffset - started.offset) / secs : null,
      provider
    })
  }

  let completedBy = ''
  for (const p of o.providers) {
    if (state.complete) break
    const rec = state.providers[p.address] ??= { channel: null, lane: null, paid: '0', verifiedBlockBytes: 0, failure: null }
    if (rec.failure?.lied === true) continue
    try {
      await fromProvider(o, p, rec, progress)
      rec.failure = null
      completedBy = p.address
      state.complete = true
      await o.saveState(state)
    } catch (err) {
      // a pause is not the provider's fault: keep its lane for the resume
      if (o.signal?.aborted === true) {
        await o.saveState(state)
        throw o.signal.reason ?? err
      }
      // nor is a payer's locked wallet or missing key (thrown by signing): no provider can be paid until the user acts
      const cause = err instanceof ProviderUnreachableError ? err.cause : err as Error
      // nor is a shared node's tab closing under the file being written (remote-platform.ts): it goes on in another tab;
      // nor a chain read (its payment channel's) that no full node could answer: it goes on once one can
      if (cause.name === 'WalletLockedError' || cause.name === 'NoWalletKeyError' || isTabGone(cause) || isChainUnanswered(cause)) {
        await o.saveState(state)
        throw cause
      }
      rec.failure = failureOf(err as Error, state.verifiedOffset)
      await o.saveState(state)
    }
  }
  if (!state.complete) {
    const failures = o.providers.flatMap(p => {
      const f = state.providers[p.address]?.failure
      return f == null ? [] : [{ provider: p.address, ...f }]
    })
    throw new AllProvidersFailedError(failures, state.verifiedOffset)
  }
  const payments = Object.entries(state.providers).flatMap(([provider, r]) => r.channel === null || r.lane === null ? [] : [{ provider, channel: r.channel, lane: r.lane, amount: BigInt(r.paid) }])
  return {
    bytes: state.verifiedOffset - rangeFrom,
    fileSize: state.fileSize ?? state.verifiedOffset,
    provider: completedBy,
    payments,
    paid: totalPaid(state)
  }
}

/** One provider's turn: resolves once the download is complete, throws the reason it was dropped. */
async function fromProvider (o: RetrieveFileOptions, p: RetrievalProvider, rec: ProviderDownloadState, progress: (provider: string) => void): Promise<void> {
  const { state } = o
  const end = o.range?.to ?? state.fileSize ?? undefined
  // Every byte verified by an earlier run: nothing is left to fetch, unless that run's last voucher never left (its
  // stream cut as it paid: seen in the provider-crash reliability run, a lane holding a signed voucher the records
  // never counted), which leaves this provider owed. That is paid on a stream for the last byte, the only payment
  // on it: the blocks it walks again were all charged to this channel before (a provider charges a block once per
  // channel, charged-blocks.ts), so they are verified but neither paid for again nor written twice.
  const owedAtEnd = end !== undefined && end > 0 && state.verifiedOffset >= end && p.terms.pricePerGiB > 0n &&
    rec.channel !== null && rec.lane !== null && BigInt(rec.owed ?? '0') > 0n
  if (end !== undefined && state.verifiedOffset >= end && !owedAtEnd) return
  const from = owedAtEnd ? end! - 1 : state.verifiedOffset
  const priced = p.terms.pricePerGiB > 0n
  if (priced && (o.payer === undefined || o.payer === null)) throw new PaymentRequiredError(p.address, p.terms.pricePerGiB)

  // A resumed retrieval starts at the verified offset. The walk to that offset passes through the root and the inner
  // nodes above it again: those few DAG blocks are sent, verified and paid for a second time; file bytes never are.
  const range: FileRange | undefined = from > 0 || o.range !== undefined ? { from, ...(end === undefined ? {} : { to: end }) } : undefined
  if (range !== undefined && range.to === undefined) throw new RangeError('a resumed retrieval needs the file size')

  let payment: { channel: string, lane: number, paid: AttoFil } | undefined
  if (priced) {
    // fund the lane for the quote before any byte: a voucher never has to wait for a top-up mid-stream
    // the quote is for what is left: a resumed download scales the whole-file quote down to its remaining share
    const left = end === undefined ? undefined : end - from
    const whole = o.range === undefined ? state.fileSize : null
    const quoteBytes = p.quoteBytes !== undefined && left !== undefined && whole !== null && whole > 0
      ? Math.ceil(p.quoteBytes * left / whole) + p.terms.paymentInterval
      : p.quoteBytes ?? (left === undefined ? 4 * p.terms.paymentInterval : Math.ceil(left * 1.01) + p.terms.paymentInterval)
    const reuse = rec.channel !== null && rec.lane !== null ? { channel: rec.channel, lane: rec.lane } : undefined
    payment = await untilAborted(o.payer!.prepare(p.worker, priceOfBytes(quoteBytes, p.terms.pricePerGiB), reuse), o.signal)
    if (rec.channel !== payment.channel || rec.lane !== payment.lane) {
      rec.channel = payment.channel
      rec.lane = payment.lane
      rec.paid = String(payment.paid)
      // what was owed was owed on the old lane's channel: this one owes nothing yet
      rec.owed = '0'
      await o.saveState(state)
    }
  }

  let s: RetrievalStream
  try {
    await connectTo(o.libp2p, p, o.signal)
    const req: RetrievalRequest = {
      root: o.root,
      ...(range === undefined ? {} : { range: { from: range.from, to: range.to! } }),
      ...(payment === undefined ? {} : { payment: { channel: parseChannel(payment.channel), lane: payment.lane } })
    }
    s = await openRetrieval(o.libp2p, peerIdFromString(p.peerId), req, { ...(o.signal === undefined ? {} : { signal: o.signal }), ...(o.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: o.idleTimeoutMs }) })
  } catch (err) {
    if (err instanceof RetrievalRejectedError || o.signal?.aborted === true) throw err
    throw new ProviderUnreachableError(p.address, err as Error)
  }

  /** The payment under way (see payInBackground), the error a payment failed with, and whether payments are over. */
  let paying: Promise<void> | undefined
  let payFailure: Error | undefined
  let stopped = false
  /** The stream given up: a voucher signed after that is not sent, and stays owed. */
  let torn = false
  // a payment waiting on the chain (a top-up) ends at once when this stream is given up
  const payments = new AbortController()
  const paymentSignal = o.signal === undefined ? payments.signal : AbortSignal.any([o.signal, payments.signal])
  const paymentsDone = async (): Promise<void> => { while (paying !== undefined) await paying }
  try {
    const t = s.terms
    // the stream's terms may be kinder than the signed ask, never harsher: the quote and the risk were judged on the ask
    if (t.pricePerGiB > p.terms.pricePerGiB || t.paymentInterval > p.terms.paymentInterval || t.paymentIntervalIncrease > p.terms.paymentIntervalIncrease) {
      throw new TermsMismatchError(p.address, p.terms, t)
    }
    const verifier = new CarVerifier(o.root, { ...(range === undefined ? {} : { range }), ...(o.hash === undefined ? {} : { hash: o.hash }) })
    let paidBefore = payment?.paid ?? 0n
    // A resume pays first for what the last run verified and did not pay for (a pause, a closed tab, a crash
    // between saving the offset and sending the voucher): the provider still counts those bytes as owed on the
    // channel, and with an interval owed it sends nothing more on any stream of it. Only verified bytes are paid.
    const owedBefore = BigInt(rec.owed ?? '0')
    if (payment !== undefined && t.pricePerGiB > 0n && owedBefore > 0n) {
      const v = await o.payer!.voucher(payment.channel, payment.lane, BigInt(rec.paid) + owedBefore, o.signal)
      // sent before the state says it is paid (as every payment below): see pay
      await s.sendVoucher(v.bytes)
      rec.paid = String(v.amount)
      rec.owed = '0'
      await o.saveState(state)
      paidBefore = v.amount
    }
    // the provider's schedule (go-fil-markets' NextInterval): the interval the bytes paid for fall in
    const interval = (): number => intervalSizeAt(paidBytes, t.paymentInterval, t.paymentIntervalIncrease)
    /** Block bytes of this stream the vouchers sent cover. */
    let paidBytes = 0
    let countedBytes = 0
    /** What the lane owes for the block bytes counted (verified and written) and not yet paid. */
    const owedNow = (): AttoFil => {
      const owed = paidBefore + priceOfBytes(countedBytes, t.pricePerGiB) - BigInt(rec.paid)
      return owed > 0n ? owed : 0n
    }
    const pay = async (): Promise<void> => {
      // the bytes counted (verified and written, whole chunks), not all the verifier took: a payment may start
      // while a chunk is being written
      const counted = countedBytes
      if (payment === undefined || t.pricePerGiB === 0n || counted <= paidBytes) return
      // the offset goes to disk before the voucher exists: a crash in between leaves bytes unpaid (the provider's one
      // interval of risk), never bytes paid for and fetched again (the save takes its copy of the state at once)
      await o.saveState(state)
      const amount = paidBefore + priceOfBytes(counted, t.pricePerGiB)
      const v = await o.payer!.voucher(payment.channel, payment.lane, amount, paymentSignal)
      // Sent before the state says it is paid: a resume from a state that still owes it asks the payer for it
      // again, which returns this same voucher, and the provider ignores one it holds (as Lotus's paychmgr
      // does); a state saying "paid" for a voucher that never left would leave the channel owing with nothing
      // to pay it. A voucher signed after this stream was given up is not sent, and stays owed.
      if (torn) return
      await s.sendVoucher(v.bytes)
      rec.paid = String(v.amount)
      // (the reading went on meanwhile: what it counted since is still owed)
      rec.owed = String(owedNow())
      // Recorded paid by the next save (the next payment's, the caller's periodic one, or the session's last), not
      // one of its own: until then the state says this voucher is owed, and a resume asks the payer for it again and
      // gets this same one (above). A save here held the next payment behind it: payments follow one another, and
      // the provider waits on them at every interval (retrieval-browser bench, 256 MiB: ~60 payments of ~75 ms, ~20
      // of each in this save).
      paidBytes = Math.max(paidBytes, counted)
      progress(p.address)
    }
    // Vouchers go while the reading goes on: a voucher is a chain read, a signature and saves (tens of ms in a
    // tab), and waiting for each one stopped the reading as often as the provider said what was owed (a client
    // behind its provider hears that after every payment, once it has verified what came before: measured 90
    // of them for 256 MiB, 3.4 s of 10.8 s spent waiting on payments). One payment at a time. The provider's
    // "owed" during one is answered by one more payment after it, for everything verified by then, so an interval
    // owed is always paid; the half-interval rule is simply checked again at the next chunk.
    let payAgain = false
    /** Starts a payment unless one is under way; `providerAsked` (its "owed") makes one more follow that one. */
    const payInBackground = (providerAsked: boolean): void => {
      if (stopped) return
      if (paying !== undefined) { payAgain ||= providerAsked; return }
      paying = (async () => {
        try {
          do { payAgain = false; await pay() } while (payAgain && !stopped)
        } catch (err) {
          // the reading may be waiting for bytes the provider holds back until it is paid: it stops with this error
          payFailure ??= err as Error
          stopped = true
          torn = true
          s.abort(err as Error)
        } finally {
          // cleared with the last check of payAgain, in one step: an "owed" heard after it starts a new payment
          paying = undefined
        }
      })()
    }
    // Where a download's time goes, measured (issue 17; retrieval-browser bench, 256 MiB from a provider on the same
    // two cores into the tab's shared node, not isolated; every wait summed in an instrumented run): this loop waited
    // 6.7–7.0 s of 7.5–7.8 s for frames and spent ~0.3 s verifying and ~0.3 s handing writes on, while the provider
    // waited 4.0–4.7 s for its connection to take frames and 2.1–2.7 s for payments. Neither end's own work sets the
    // rate: the bytes between them do. Tried, the same rate within the noise (30–35 MiB/s from the first byte):
    // payment intervals growing by 64 MiB (2 stops, not 36–50; its waits moved to the connection), a 4 MiB yamux window
    // from the start, frames of one leaf (not 1 MiB). Chromium hands a worker its WebSocket's received bytes through a
    // data pipe of 131000 bytes (services/network/websocket.cc, kReceiveDataPipeCapacity) that only the worker's own
    // thread drains, between its tasks: the shared node's thread, busy 65–75 % (the connection's decryption and
    // demuxing, frames joined, the chain's sync; its raw stream alone keeps it 68 % busy), refills it in turns.
    for (;;) {
      // a pause or cancel stops here, between frames (each frame's blocks written and counted, so the saved state
      // adds up): the read below notices the signal only when it has to wait, and a provider that does not wait
      // for payment (a free one, or bytes it does not charge again) keeps frames buffered, so a download that
      // only looked there ran on to its end after Cancel (Chromium test download-controls)
      o.signal?.throwIfAborted()
      // (the stream's reader still hands out frames it holds after a failed payment aborted it)
      if (payFailure !== undefined) throw payFailure
      const n = await s.next()
      if ('done' in n) break
      // the provider stopped for payment (the channel owes an interval, over every stream on it): pay what was
      // verified now rather than at half an interval, or two downloads on one channel could wait on each other
      if ('owed' in n) { payInBackground(true); continue }
      // verified blocks come back even when a later one in the chunk fails: they are written (and paid for) first
      const blocks = o.hashAsync === undefined ? verifier.push(n.car) : await verifier.pushAsync(n.car, o.hashAsync)
      let writtenTo = state.verifiedOffset
      // a frame of leaves alone, in a buffer of its own, is written from that buffer (handed over whole), not copied
      // into new memory
      const inPlace = n.ownBuffer ? runInPlace(n.car, blocks, verifier) : null
      for (const run of inPlace === null ? fileRuns(blocks) : [inPlace]) {
        // (bytes written before, which only a stream paying what was owed at the end asks for again, are not rewritten)
        // (the run's end taken before the write: the bytes are handed over, and a sink in another worker may move their
        // buffer, which leaves them empty here)
        const end = run.offset + run.bytes.length
        const skip = Math.min(run.bytes.length, Math.max(0, writtenTo - run.offset))
        if (skip < run.bytes.length) await o.sink.write(run.offset + skip, run.bytes.subarray(skip), inPlace !== null)
        writtenTo = Math.max(writtenTo, end)
      }
      // the offset moves with the chunk's figures, in one step: a save meanwhile (a payment's) counts whole chunks
      state.verifiedOffset = writtenTo
      state.fileSize ??= verifier.fileSize ?? null
      // (a stream that only settles what was owed counts nothing: see owedAtEnd)
      if (!owedAtEnd) {
        rec.verifiedBlockBytes += verifier.stats.blockBytesVerified - countedBytes
        countedBytes = verifier.stats.blockBytesVerified
      }
      if (payment !== undefined && t.pricePerGiB > 0n) rec.owed = String(owedNow())
      if (verifier.failure !== undefined) throw verifier.failure
      if (blocks.length > 0) progress(p.address)
      // pay once half an interval of verified bytes is unpaid: the provider stops at a whole interval, and a
      // voucher sent only then would drain the pipe at every interval (stop and wait: measured 0.58x the raw
      // stream on 64 MiB). Paid at half, the voucher travels while the other half is still on its way, and
      // the client still pays for nothing it has not verified.
      if (countedBytes - paidBytes >= Math.ceil(interval() / 2)) payInBackground(false)
    }
    verifier.end()
    state.fileSize ??= verifier.fileSize ?? null
    if (state.fileSize !== null && o.range === undefined) state.verifiedOffset = Math.max(state.verifiedOffset, state.fileSize)
    await paymentsDone()
    if (payFailure !== undefined) throw payFailure
    await pay()
    await s.close()
  } catch (caught) {
    // a failed payment stopped the stream: its error is the one to tell, not the reading's
    const err = payFailure ?? caught
    stopped = true
    // A pause or cancel (the user's, with nothing wrong on the stream) lets a payment under way send the voucher it
    // has signed, so the channel's records and the download's agree on what was paid (Chromium test
    // download-controls: a pause during a signature left the lane a voucher ahead of the panel's "paid"); a payment
    // not yet signing ends at once on the same signal. A fault drops the stream at once: no voucher after it.
    const userStop = o.signal?.aborted === true && payFailure === undefined && !providerFault(caught)
    const tear = (): void => { torn = true; s.abort(err as Error) }
    if (!userStop) tear()
    payments.abort(err)
    // a payment under way ends before the next provider is tried, so this session's saves never land after the next one's
    await paymentsDone()
    tear()
    if (providerFault(err) || o.signal?.aborted === true) throw err
    throw new ProviderUnreachableError(p.address, err as Error)
  }
}

/** The provider's own refusal, lie or terms: told as it is, never as the provider being unreachable. */
const providerFault = (err: unknown): boolean =>
  err instanceof RetrievalRejectedError || err instanceof RetrievalVerifyError || err instanceof TermsMismatchError

/** Channels are kept as text in the state; the request carries the address bytes (go-fil-markets PaymentInfo.PayCh). */
const parseChannel = (text: string): Uint8Array => parseAddress(text).bytes
