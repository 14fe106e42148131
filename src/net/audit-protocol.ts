// `/coffer/audit/1.0.0` over libp2p (codec and rules in core/pdp/audit): one request, one answer, one stream. The
// provider side bounds what a peer can make it do (a request's leaf count, answers in flight, a per-peer rate) and
// always says why it refused; the client side is a thin call with the caller's deadline.
import type { Dialer } from './dialer'
import type { Libp2p, PeerId, Stream, Connection } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import {
  AUDIT_PROTOCOL, MAX_AUDIT_REQUEST_BYTES, MAX_AUDIT_REPLY_BYTES, AuditRejectedError,
  encodeAuditRequest, decodeAuditRequest, encodeAuditReply, decodeAuditReply, type AuditRequest, type AuditReply
} from '../core'
import { TokenBuckets, type TokenRate } from '../core/rate-limit'
import { readAll, writeAndClose, RequestLimiter, StreamDeadlineError, type OneShotLimits } from './stream-io'

/**
 * Audits answered at once: each reads and hashes up to 16 segments (≤ 64 MiB) from disk, so four in all and one per
 * peer keep a flood from taking the provider's disk and cores from proving and retrieval. A request must arrive within
 * 10 s of the stream opening (it is under 1 KiB); the answer has 60 s, since proving a cold segment reads from disk.
 */
export const AUDIT_LIMITS: OneShotLimits = {
  maxInboundStreams: 4,
  maxActive: 4,
  maxActivePerPeer: 1,
  requestTimeoutMs: 10_000,
  responseTimeoutMs: 60_000
}

/**
 * Per peer: a burst of 20 audits, then one every 3 s. A tab's schedule sends a provider at most one audit per 30 s
 * tick (audit-service.ts) and a user clicks Audit now by hand, so an honest tab stays far below; a peer over it gets
 * BUSY (which its tab records as unanswered, forgiven at the next pass).
 */
export const AUDIT_RATE = { burst: 20, refillMs: 3_000 }

export type AuditRate = TokenRate

/** Token buckets by peer (core/rate-limit.ts TokenBuckets); `now` is the caller's clock (milliseconds), so tests drive it. */
export class PeerRateLimit {
  private readonly buckets: TokenBuckets
  constructor (rate: AuditRate, private readonly now: () => number = () => performance.now()) { this.buckets = new TokenBuckets(rate) }

  /** Takes one token for `peer`; false when it has none left. */
  take (peer: string): boolean { return this.buckets.take(peer, this.now()).ok }
}

/** The provider's answer to one request: the proof bytes (the chain's format for exactly `req.leaves`). Throws AuditRejectedError to refuse. */
export type AuditAnswer = (req: AuditRequest, peer: PeerId, signal: AbortSignal) => Promise<Uint8Array>

export interface ServeAuditsOptions {
  limits?: Partial<OneShotLimits>
  rate?: AuditRate
  now?: () => number
  log?: (line: string) => void
}

export async function serveAudits (node: Libp2p, answer: AuditAnswer, opts: ServeAuditsOptions = {}): Promise<RequestLimiter> {
  const limits = { ...AUDIT_LIMITS, ...opts.limits }
  const rateInit = opts.rate ?? AUDIT_RATE
  const rate = new PeerRateLimit(rateInit, opts.now)
  const limiter = new RequestLimiter(limits.maxActive, limits.maxActivePerPeer)
  const rejected = (err: unknown): Uint8Array => {
    if (!(err instanceof AuditRejectedError)) opts.log?.(`audit: ${(err as Error).name}: ${(err as Error).message}`)
    const e = err instanceof AuditRejectedError ? err : new AuditRejectedError('INTERNAL', 'the audit could not be answered')
    return encodeAuditReply({ kind: 'rejected', code: e.code, message: e.message })
  }
  // serveOneShot's shape (deadline from the stream's opening, slots taken once the request is in), with the peer
  // handed to the answer: the rate limit and the log need to know who asked
  await node.handle(AUDIT_PROTOCOL, async (stream: Stream, connection: Connection) => {
    const peer = connection.remotePeer
    const deadline = new AbortController()
    let timer = setTimeout(() => { deadline.abort(new StreamDeadlineError('request', limits.requestTimeoutMs)) }, limits.requestTimeoutMs)
    let release: (() => void) | undefined
    try {
      const bytes = await readAll(stream, MAX_AUDIT_REQUEST_BYTES, deadline.signal)
      clearTimeout(timer)
      timer = setTimeout(() => { deadline.abort(new StreamDeadlineError('response', limits.responseTimeoutMs)) }, limits.responseTimeoutMs)
      let reply: Uint8Array
      const slot = limiter.tryAcquire(peer.toString())
      if ('busy' in slot) {
        reply = rejected(new AuditRejectedError('BUSY', slot.busy === 'peer' ? 'an audit of yours is already being answered' : 'this provider is answering all the audits it will; try again shortly'))
      } else if (!rate.take(peer.toString())) {
        slot.release()
        reply = rejected(new AuditRejectedError('BUSY', `over ${rateInit.burst} audits, then one per ${rateInit.refillMs / 1000} s, from one peer`))
      } else {
        release = slot.release
        try {
          const request = decodeAuditRequest(bytes)
          const proof = await answer(request, peer, deadline.signal)
          reply = encodeAuditReply({ kind: 'proof', nonce: request.nonce, proof })
        } catch (err) { reply = rejected(err) }
      }
      await writeAndClose(stream, reply, deadline.signal)
    } catch (err) {
      stream.abort(err as Error)
    } finally {
      clearTimeout(timer)
      release?.()
    }
  }, { maxInboundStreams: limits.maxInboundStreams })
  return limiter
}

/** Where to send an audit: a connected peer, or the provider's addresses (each ending in /p2p/<peer ID>). */
export type AuditTarget = PeerId | Multiaddr[]

/** The audit got no answer: the deadline passed, or the provider could not be reached. */
export class AuditUnansweredError extends Error {
  static override name = 'AuditUnansweredError'
  override name = 'AuditUnansweredError'
  constructor (readonly code: 'DEADLINE' | 'UNREACHABLE', message: string) { super(message) }
}

/**
 * Sends one audit and reads the answer, all within `deadlineMs` (dial included). Resolves with the decoded answer
 * (a proof or a rejection: the caller checks it); throws AuditUnansweredError (no answer in time, or no way to the
 * provider) or AuditRejectedError MALFORMED (what came back is not an answer).
 */
export async function requestAudit (node: Dialer, target: AuditTarget, req: AuditRequest, opts: { deadlineMs: number, signal?: AbortSignal }): Promise<AuditReply> {
  const deadline = AbortSignal.timeout(opts.deadlineMs)
  const signal = opts.signal === undefined ? deadline : AbortSignal.any([opts.signal, deadline])
  const bytes = encodeAuditRequest(req)
  let stream
  try {
    stream = await node.dialProtocol(target, AUDIT_PROTOCOL, { signal })
  } catch (err) {
    opts.signal?.throwIfAborted()
    if (deadline.aborted) throw new AuditUnansweredError('DEADLINE', `no connection to the provider within ${opts.deadlineMs / 1000} s`)
    throw new AuditUnansweredError('UNREACHABLE', `the provider could not be reached: ${(err as Error).message}`)
  }
  let answer: Uint8Array
  try {
    await writeAndClose(stream, bytes, signal)
    answer = await readAll(stream, MAX_AUDIT_REPLY_BYTES, signal)
  } catch (err) {
    stream.abort(err as Error)
    opts.signal?.throwIfAborted()
    if (deadline.aborted) throw new AuditUnansweredError('DEADLINE', `no answer within ${opts.deadlineMs / 1000} s`)
    if ((err as Error).name === 'OversizedMessageError') throw new AuditRejectedError('MALFORMED', (err as Error).message)
    throw new AuditUnansweredError('UNREACHABLE', `the stream failed before an answer: ${(err as Error).message}`)
  }
  return decodeAuditReply(answer)
}
