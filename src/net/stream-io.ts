// One-shot request/response over a libp2p 3 stream, as Filecoin's hello and chain exchange use it: the
// writer sends one CBOR object and closes its side; the reader reads to end, refusing more than `limit`.
// Serving side: every stream has a deadline from the moment it opens, and answers are bounded per peer and
// per node, so a peer that says nothing or asks too much cannot hold the node's memory or event loop.
import type { Dialer } from './dialer'
import type { Libp2p, PeerId, Stream, Connection } from '@libp2p/interface'
import { OversizedMessageError } from '../core'
import { sendPaced } from './send-pacing'

/** A stream's deadline passed; the stream was aborted whatever it was waiting on. */
export class StreamDeadlineError extends Error {
  static override name = 'StreamDeadlineError'
  override name = 'StreamDeadlineError'
  constructor (readonly phase: 'request' | 'response', readonly ms: number) {
    super(`the ${phase} was not complete within ${ms} ms`)
  }
}

/**
 * Aborts `stream` when `signal` fires. Reading a libp2p stream only wakes on a chunk (or its end), so a
 * deadline checked between chunks never fires on a peer that sends nothing; aborting the stream does
 * (issue 9: 96 of 96 silent streams were still open after 45 s). Returns the function that stops watching.
 */
export function abortOnSignal (stream: Stream, signal: AbortSignal): () => void {
  const onAbort = (): void => {
    stream.abort(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)))
  }
  if (signal.aborted) {
    onAbort()
    return () => {}
  }
  signal.addEventListener('abort', onAbort, { once: true })
  return () => { signal.removeEventListener('abort', onAbort) }
}

export async function readAll (stream: Stream, limit: number, signal?: AbortSignal): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  let size = 0
  const unwatch = signal === undefined ? () => {} : abortOnSignal(stream, signal)
  try {
    for await (const chunk of stream) {
      const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray()
      size += bytes.length
      if (size > limit) {
        stream.abort(new OversizedMessageError(size, limit))
        throw new OversizedMessageError(size, limit)
      }
      chunks.push(bytes)
    }
  } catch (err) {
    // our own deadline surfaces as the stream's abort: name the deadline, not the abort
    throw signal?.aborted === true ? signal.reason : err
  } finally {
    unwatch()
  }
  signal?.throwIfAborted()
  return chunks.length === 1 ? chunks[0]! : concatBytes(chunks, size)
}

function concatBytes (chunks: readonly Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size)
  let at = 0
  for (const c of chunks) { out.set(c, at); at += c.length }
  return out
}

export async function writeAndClose (stream: Stream, bytes: Uint8Array, signal?: AbortSignal): Promise<void> {
  await writeAllAndClose(stream, [bytes], signal)
}

/**
 * Small chunks of an answer are sent together, up to this many bytes (one noise message holds 65,519): each send is
 * a muxer frame, and the asker pays for every frame — a WebSocket message, a decryption, and a window update yamux
 * sends back (8.0.3 answers every data frame with one). A certificate exchange answer of 256 certificates, one chunk
 * each, was 267 frames; a tab's cold sync of 1,000 certificates spent a second of its worker on those frames.
 */
export const COALESCE_BYTES = 64 * 1024 - 32

/**
 * Sends the chunks as the muxer takes them (waiting for drain, so at most a chunk or two is buffered), small ones
 * gathered up to COALESCE_BYTES, then closes.
 */
async function writeAllAndClose (stream: Stream, chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<void> {
  const unwatch = signal === undefined ? () => {} : abortOnSignal(stream, signal)
  let held: Uint8Array[] = []
  let heldBytes = 0
  const flush = async (): Promise<void> => {
    if (held.length === 0) return
    const out = held.length === 1 ? held[0]! : concatBytes(held, heldBytes)
    held = []
    heldBytes = 0
    await sendPaced(stream, out, signal)
  }
  try {
    for await (const chunk of chunks) {
      signal?.throwIfAborted()
      if (heldBytes > 0 && heldBytes + chunk.length > COALESCE_BYTES) await flush()
      held.push(chunk)
      heldBytes += chunk.length
      if (heldBytes >= COALESCE_BYTES) await flush()
    }
    await flush()
    await stream.close({ signal })
  } finally {
    unwatch()
  }
}

/** Bounds every one-shot exchange so a silent peer cannot stall its caller. */
export const REQUEST_TIMEOUT_MS = 15_000
/**
 * From the start of an answer to its last byte handed to the muxer: Lotus's chain-exchange WriteResDeadline.
 * Longer than the request's, since an answer can be 900 headers to a peer on a slow link.
 */
export const RESPONSE_TIMEOUT_MS = 60_000

export interface OneShotLimits {
  /**
   * libp2p's bound on open streams of the protocol per connection (`maxInboundStreams` of `handle`): beyond
   * it libp2p resets the stream before any handler runs. Left out, libp2p's default (32) holds.
   */
  maxInboundStreams?: number
  /** Requests answered at once over all peers; the request beyond it gets `busy`'s reply. */
  maxActive: number
  /** Requests answered at once for one peer, over all its connections. */
  maxActivePerPeer: number
  /** From the stream's opening to the whole request read: a silent or trickling peer is cut off then. */
  requestTimeoutMs: number
  /** From the request read to the whole answer handed to the muxer. */
  responseTimeoutMs: number
}

export const DEFAULT_ONE_SHOT_LIMITS: OneShotLimits = {
  maxActive: Infinity,
  maxActivePerPeer: Infinity,
  requestTimeoutMs: REQUEST_TIMEOUT_MS,
  responseTimeoutMs: RESPONSE_TIMEOUT_MS
}

/** Why a request got no slot: its peer already has its share, or the node is answering all it will. */
export type BusyReason = 'peer' | 'node'

/** Counts answers in progress, per peer and in all; a slot is taken at once or refused, never queued. */
export class RequestLimiter {
  private active = 0
  private readonly perPeer = new Map<string, number>()

  constructor (readonly maxActive: number, readonly maxActivePerPeer: number) {}

  get inProgress (): number { return this.active }

  /** A slot for `peer` (call `release` once when the answer is done), or why there is none. */
  tryAcquire (peer: string): { release: () => void } | { busy: BusyReason } {
    const mine = this.perPeer.get(peer) ?? 0
    if (mine >= this.maxActivePerPeer) return { busy: 'peer' }
    if (this.active >= this.maxActive) return { busy: 'node' }
    this.active++
    this.perPeer.set(peer, mine + 1)
    let released = false
    return {
      release: () => {
        if (released) return
        released = true
        this.active--
        const left = (this.perPeer.get(peer) ?? 1) - 1
        if (left === 0) this.perPeer.delete(peer)
        else this.perPeer.set(peer, left)
      }
    }
  }
}

/** An answer: one buffer, or chunks produced as the stream takes them (so a large answer is never whole in memory). */
export type OneShotAnswer = Uint8Array | AsyncIterable<Uint8Array>

export interface ServeOneShotOptions {
  limits?: Partial<OneShotLimits>
  /**
   * The reply to a request over the limits. Left out, such a stream is reset: the asker sees a network
   * failure and may ask again or elsewhere.
   */
  busy?: (reason: BusyReason) => Uint8Array
}

/**
 * Serves a one-shot protocol: read one request (up to `limit` bytes), answer it, close. A request that
 * fails to decode or to answer gets `onError`'s reply, so the asker always hears why. The request must
 * arrive within `requestTimeoutMs` of the stream's opening and the answer leave within `responseTimeoutMs`
 * of that, or the stream is aborted. `answer` gets the deadline's signal, to stop work nobody will read.
 */
export async function serveOneShot (
  node: Libp2p, protocol: string, limit: number,
  answer: (request: Uint8Array, signal: AbortSignal) => Promise<OneShotAnswer>,
  onError: (err: unknown) => Uint8Array,
  options: ServeOneShotOptions = {}
): Promise<RequestLimiter> {
  const limits = { ...DEFAULT_ONE_SHOT_LIMITS, ...options.limits }
  const limiter = new RequestLimiter(limits.maxActive, limits.maxActivePerPeer)
  await node.handle(protocol, async (stream: Stream, connection: Connection) => {
    const deadline = new AbortController()
    const arm = (phase: 'request' | 'response', ms: number): ReturnType<typeof setTimeout> =>
      setTimeout(() => { deadline.abort(new StreamDeadlineError(phase, ms)) }, ms)
    let timer = arm('request', limits.requestTimeoutMs)
    // watches the stream's whole life, not only its reads: a peer that never reads our answer is cut off too
    const unwatch = abortOnSignal(stream, deadline.signal)
    let release: (() => void) | undefined
    try {
      const request = await readAll(stream, limit, deadline.signal)
      clearTimeout(timer)
      timer = arm('response', limits.responseTimeoutMs)
      // counted only once the request is in: a silent stream costs a buffer and a timer, bounded by
      // maxInboundStreams and the request deadline, and must not take a slot an honest asker needs
      const slot = limiter.tryAcquire(connection.remotePeer.toString())
      let response: OneShotAnswer
      if ('busy' in slot) {
        if (options.busy === undefined) {
          stream.abort(new Error(`${protocol}: too many requests in progress (${slot.busy})`))
          return
        }
        response = options.busy(slot.busy)
      } else {
        release = slot.release
        try {
          response = await answer(request, deadline.signal)
        } catch (err) {
          response = onError(err)
        }
      }
      await writeAllAndClose(stream, response instanceof Uint8Array ? [response] : response, deadline.signal)
    } catch (err) {
      stream.abort(err as Error)
    } finally {
      clearTimeout(timer)
      unwatch()
      release?.()
    }
  }, limits.maxInboundStreams === undefined ? {} : { maxInboundStreams: limits.maxInboundStreams })
  return limiter
}

/** Asks `peer` one question on `protocol` and reads the whole answer (up to `limit` bytes). */
export async function requestOneShot (node: Dialer, peer: PeerId, protocol: string, request: Uint8Array, limit: number, signal?: AbortSignal): Promise<Uint8Array> {
  const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS)
  const s = signal === undefined ? timeout : AbortSignal.any([signal, timeout])
  const stream = await node.dialProtocol(peer, protocol, { signal: s })
  await writeAndClose(stream, request, s)
  return await readAll(stream, limit, s)
}
