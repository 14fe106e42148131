// The node's message pool: signed messages waiting for a block, checked on entry against the state at the
// head (signature, fields, nonce, funds) so that nothing a block could not apply is ever selected, and
// selected within the block gas limit.
//
// Signatures are the expensive check (BLS ≈ 23–45 ms, secp ≈ 1 ms), and anyone can send messages that
// pass every cheap check and carry a bad signature (issue 9: 50 bad BLS pushes a second stalled blocks
// for seconds). So, in order: every cheap check first; a (message, signature) pair that failed before is
// refused from a cache; a sender or peer with several recent failures is refused for a cool-down; what
// remains waits in a bounded queue for a verifier thread (signature-verifier.ts), and a full queue is
// refused as MpoolBusyError rather than waited on. Block production never waits for any of it.
import {
  validateMessageFields, verifyMessageSignature, signedMessageCid, addressToString, getActor, chainCid,
  encodeMessage, encodeSignedMessage, isLowS, NonceError, InsufficientFundsError, MessageOutOfRangeError,
  MessageSignatureError, BASE_FEE, TRANSFER_GAS, MAX_MESSAGE_BYTES, BLOCK_GAS_LIMIT, SIG_TYPE_BLS, SIG_TYPE_SECP256K1,
  type BlockGetter, type CID, type SignedMessage, type BlockMessages, type AttoFil
} from '../core'
import { inlineVerifier, type SignatureVerifier } from './signature-verifier'

/** Lotus refuses more than this many pending messages per sender (mpool's default MaxNonceGap-ish cap). */
export const MAX_PENDING_PER_SENDER = 1000

/**
 * Messages waiting for a signature check at once, overall, per sender and per gossip peer. At 45 ms a BLS
 * check the whole queue clears in about 3 s; one sender or peer may hold only a share of it, so a flood
 * from one source leaves room for everyone else.
 */
export const MAX_VERIFYING = 64
export const MAX_VERIFYING_PER_SENDER = 8
export const MAX_VERIFYING_PER_PEER = 16

/**
 * A sender or peer whose signatures failed this many times within SIGNATURE_FAILURE_WINDOW_MS is refused,
 * without a check, for SIGNATURE_FAILURE_COOLDOWN_MS. An honest wallet never fails: it signs what it sends.
 * Anyone can name any From, so the per-sender limit lets an attacker delay a victim's messages for a
 * cool-down (Lotus has no such rule; it scores gossip peers): the cool-down is kept short for that reason,
 * and the victim's own already pooled messages stay.
 */
export const SIGNATURE_FAILURES_ALLOWED = 5
export const SIGNATURE_FAILURE_WINDOW_MS = 60_000
export const SIGNATURE_FAILURE_COOLDOWN_MS = 30_000
/** Known-bad (message, signature) pairs remembered, and senders/peers tracked: bounded memory under spam. */
export const KNOWN_BAD_ENTRIES = 10_000
export const TRACKED_SOURCES = 10_000

/** The pool will not queue this message for a signature check now; the same push later may succeed. */
export class MpoolBusyError extends Error {
  static override name = 'MpoolBusyError'
  override name = 'MpoolBusyError'
  readonly code = 'MPOOL_BUSY'
  constructor (readonly reason: 'queue' | 'sender' | 'peer', readonly retryAfterMs: number) {
    super(`the message pool is busy checking signatures (${reason === 'queue' ? 'queue full' : `too many from this ${reason}`}); try again shortly`)
  }
}

/** Too many messages from this sender (or gossip peer) failed their signature check recently. */
export class SignatureFailuresError extends Error {
  static override name = 'SignatureFailuresError'
  override name = 'SignatureFailuresError'
  readonly code = 'SIGNATURE_FAILURES'
  constructor (readonly source: 'sender' | 'peer', readonly retryAfterMs: number) {
    super(`messages from this ${source} failed their signature check too often; refused for ${Math.ceil(retryAfterMs / 1000)} s`)
  }
}

/** Where a pushed message came from. */
export interface PushOrigin {
  /** The gossip peer that authored it (per-peer limits); none for the JSON-RPC. */
  peer?: string
  /** Signed by this node itself (the faucet): checked inline, never queued, throttled or refused as busy. */
  local?: boolean
}

export interface MpoolInit {
  verifier?: SignatureVerifier
  /** Time for the failure windows; injected so tests and the node share one clock. */
  nowMs?: () => number
}

/** Counts failures per key in a sliding window; a key over the limit is blocked for a cool-down. */
class FailureLimiter {
  private readonly entries = new Map<string, { times: number[], blockedUntil: number }>()

  /** Milliseconds `key` is still refused for, or 0. */
  blockedFor (key: string, now: number): number {
    const e = this.entries.get(key)
    return e === undefined ? 0 : Math.max(0, e.blockedUntil - now)
  }

  fail (key: string, now: number): void {
    const e = this.entries.get(key) ?? { times: [], blockedUntil: 0 }
    this.entries.delete(key) // re-insert: Map order is then least recently failed first, for eviction
    e.times = [...e.times.filter(t => now - t < SIGNATURE_FAILURE_WINDOW_MS), now]
    if (e.times.length >= SIGNATURE_FAILURES_ALLOWED) {
      e.blockedUntil = now + SIGNATURE_FAILURE_COOLDOWN_MS
      e.times = []
    }
    this.entries.set(key, e)
    if (this.entries.size > TRACKED_SOURCES) this.entries.delete(this.entries.keys().next().value!)
  }
}

/** A bounded set that forgets its oldest entries first. */
class BoundedSet {
  private readonly keys = new Set<string>()
  constructor (private readonly limit: number) {}
  has (key: string): boolean { return this.keys.has(key) }
  add (key: string): void {
    this.keys.add(key)
    if (this.keys.size > this.limit) this.keys.delete(this.keys.values().next().value!)
  }
}

interface Verifying { sm: SignedMessage, peer?: string, done: Promise<CID> }

/** What a block proposer earns per unit of gas: Lotus's gas performance at a base fee of BASE_FEE. */
const premiumPerGas = (sm: SignedMessage): AttoFil => {
  const m = sm.message
  const room = m.gasFeeCap - BASE_FEE
  return m.gasPremium < room ? m.gasPremium : room > 0n ? room : 0n
}

export class Mpool {
  private readonly bySender = new Map<string, SignedMessage[]>()
  private readonly byCid = new Map<string, SignedMessage>()
  /** Messages whose signature is being checked, per sender in nonce order (each follows the pool's tail). */
  private readonly verifying = new Map<string, Verifying[]>()
  private readonly verifyingByEnvelope = new Map<string, Verifying>()
  private readonly verifyingPerPeer = new Map<string, number>()
  private verifyingCount = 0
  private readonly knownBad = new BoundedSet(KNOWN_BAD_ENTRIES)
  private readonly senderFailures = new FailureLimiter()
  private readonly peerFailures = new FailureLimiter()
  private readonly verifier: SignatureVerifier
  private readonly nowMs: () => number

  /** `stateRoot()` is the state the next block's messages will be applied to. */
  constructor (private readonly store: BlockGetter, private readonly stateRoot: () => CID, init: MpoolInit = {}) {
    this.verifier = init.verifier ?? inlineVerifier()
    this.nowMs = init.nowMs ?? (() => Date.now())
  }

  private actor (from: Uint8Array): { nonce: number, balance: bigint } {
    return getActor(this.store, this.stateRoot(), from) ?? { nonce: 0, balance: 0n }
  }

  pending (from: Uint8Array): SignedMessage[] { return this.bySender.get(addressToString(from)) ?? [] }

  /** Pending messages plus those still being checked: what a sender has waiting. */
  queued (from: Uint8Array): number { return this.pending(from).length + (this.verifying.get(addressToString(from))?.length ?? 0) }

  has (cid: CID): boolean { return this.byCid.has(cid.toString()) }
  get (cid: CID): SignedMessage | undefined { return this.byCid.get(cid.toString()) }

  /** The nonce after the sender's pooled messages and those still being checked. */
  nextNonce (from: Uint8Array): number {
    const checking = this.verifying.get(addressToString(from))
    if (checking !== undefined && checking.length > 0) return checking[checking.length - 1]!.sm.message.nonce + 1
    return this.nextPooledNonce(from)
  }

  private nextPooledNonce (from: Uint8Array): number {
    const pending = this.pending(from)
    return pending.length > 0 ? pending[pending.length - 1]!.message.nonce + 1 : this.actor(from).nonce
  }

  async close (): Promise<void> { await this.verifier.close() }

  /**
   * Queues `sm` once its signature checks out; rejects with the named error that says why it cannot be
   * queued (a MessageRejectedError: never includable; MpoolBusyError or SignatureFailuresError: not now).
   * Everything up to the signature check runs synchronously, so concurrent pushes (the faucet's) see each
   * other's nonces.
   */
  async push (sm: SignedMessage, origin: PushOrigin = {}): Promise<CID> {
    const cid = signedMessageCid(sm)
    if (this.has(cid)) return cid
    // the pair, not the message CID: a BLS message's CID leaves out its signature, and an attacker who
    // pairs someone's message with a bad signature must not get the good pair refused
    const envelope = sm.signature.type === SIG_TYPE_BLS ? chainCid(encodeSignedMessage(sm)).toString() : cid.toString()
    const inFlight = this.verifyingByEnvelope.get(envelope)
    if (inFlight !== undefined) return await inFlight.done
    if (this.knownBad.has(envelope)) throw new MessageSignatureError(`signature of message ${String(cid)} failed before`)
    const m = sm.message
    // cheap checks first, so spam with a wrong nonce costs no signature check
    const size = sm.signature.type === SIG_TYPE_BLS ? encodeMessage(m).length : encodeSignedMessage(sm).length
    // every block that includes it must load again later: a pool limit, not only a gossip one
    if (size > MAX_MESSAGE_BYTES) throw new MessageOutOfRangeError(`message of ${size} bytes exceeds ${MAX_MESSAGE_BYTES}`)
    validateMessageFields(m) // includes Lotus's "GasLimit above the block gas limit" refusal
    if (m.gasFeeCap < BASE_FEE) throw new MessageOutOfRangeError(`GasFeeCap ${m.gasFeeCap} is below the base fee ${BASE_FEE}`)
    // as Lotus's mpool refuses a message whose GasLimit cannot cover its own on-chain cost
    if (m.gasLimit < TRANSFER_GAS) throw new MessageOutOfRangeError(`GasLimit ${m.gasLimit} is below the ${TRANSFER_GAS} a transfer uses`)
    const sender = addressToString(m.from)
    const now = this.nowMs()
    if (origin.local !== true) {
      const senderWait = this.senderFailures.blockedFor(sender, now)
      if (senderWait > 0) throw new SignatureFailuresError('sender', senderWait)
      const peerWait = origin.peer === undefined ? 0 : this.peerFailures.blockedFor(origin.peer, now)
      if (peerWait > 0) throw new SignatureFailuresError('peer', peerWait)
    }
    this.checkState(sm, this.nextNonce(m.from), this.verifying.get(sender) ?? [])
    if (sm.signature.type === SIG_TYPE_SECP256K1 && sm.signature.data.length === 65 && !isLowS(sm.signature)) throw new MessageSignatureError('secp256k1 signature is not in low-S form')

    if (origin.local === true) {
      // signed by this node a moment ago: a ~1 ms secp check, kept as a guard against our own bugs
      verifyMessageSignature(sm)
      this.insert(sm, cid)
      return cid
    }
    const checking = this.verifying.get(sender) ?? []
    const peerCount = origin.peer === undefined ? 0 : this.verifyingPerPeer.get(origin.peer) ?? 0
    // retry hints: the queue drains in order, so a share of it clears in about one block time
    if (this.verifyingCount >= MAX_VERIFYING) throw new MpoolBusyError('queue', 1000)
    if (checking.length >= MAX_VERIFYING_PER_SENDER) throw new MpoolBusyError('sender', 1000)
    if (peerCount >= MAX_VERIFYING_PER_PEER) throw new MpoolBusyError('peer', 1000)

    const entry: Verifying = { sm, peer: origin.peer, done: undefined as unknown as Promise<CID> }
    this.verifying.set(sender, [...checking, entry])
    this.verifyingByEnvelope.set(envelope, entry)
    if (origin.peer !== undefined) this.verifyingPerPeer.set(origin.peer, peerCount + 1)
    this.verifyingCount++
    entry.done = this.settle(entry, cid, envelope, sender)
    return await entry.done
  }

  private async settle (entry: Verifying, cid: CID, envelope: string, sender: string): Promise<CID> {
    let ok: boolean
    try {
      ok = await this.verifier.verify(entry.sm)
    } finally {
      const left = (this.verifying.get(sender) ?? []).filter(v => v !== entry)
      if (left.length === 0) this.verifying.delete(sender)
      else this.verifying.set(sender, left)
      this.verifyingByEnvelope.delete(envelope)
      if (entry.peer !== undefined) {
        const n = (this.verifyingPerPeer.get(entry.peer) ?? 1) - 1
        if (n <= 0) this.verifyingPerPeer.delete(entry.peer)
        else this.verifyingPerPeer.set(entry.peer, n)
      }
      this.verifyingCount--
    }
    if (!ok) {
      const now = this.nowMs()
      this.knownBad.add(envelope)
      this.senderFailures.fail(sender, now)
      if (entry.peer !== undefined) this.peerFailures.fail(entry.peer, now)
      throw new MessageSignatureError(`signature does not match sender of message ${String(cid)}`)
    }
    // blocks may have been made while it waited: check again against the state it now joins (an earlier
    // message of the same sender that failed its check leaves this one with a gap: NonceError)
    if (this.has(cid)) return cid
    this.checkState(entry.sm, this.nextPooledNonce(entry.sm.message.from), [])
    this.insert(entry.sm, cid)
    return cid
  }

  /** Nonce, pending count and funds for `sm` behind the sender's pooled messages and `ahead` (being checked). */
  private checkState (sm: SignedMessage, expected: number, ahead: Verifying[]): void {
    const m = sm.message
    if (m.nonce !== expected) throw new NonceError(expected, m.nonce)
    const pending = this.pending(m.from)
    if (pending.length + ahead.length >= MAX_PENDING_PER_SENDER) throw new MessageOutOfRangeError('too many pending messages from this sender')
    const cost = (x: SignedMessage): bigint => x.message.value + BigInt(x.message.gasLimit) * x.message.gasFeeCap
    const needed = [...pending, ...ahead.map(v => v.sm), sm].reduce((sum, x) => sum + cost(x), 0n)
    const { balance } = this.actor(m.from)
    if (needed > balance) throw new InsufficientFundsError(needed, balance)
  }

  private insert (sm: SignedMessage, cid: CID): void {
    const key = addressToString(sm.message.from)
    this.bySender.set(key, [...(this.bySender.get(key) ?? []), sm])
    this.byCid.set(cid.toString(), sm)
  }

  /**
   * Up to `max` messages whose GasLimits add up to at most `gasLimit` (the block gas limit), each sender's
   * in nonce order from its nonce on the current state; drops those the chain has already used.
   * Lotus's selection sorts senders' chains by gas performance and trims a chain that does not fit; here
   * senders are ordered by what their next message pays per gas and take turns, one message a turn, so a
   * sender with a deep queue cannot crowd the rest out of a block. A message that does not fit the gas
   * left ends its sender's turns (its later nonces cannot go before it); smaller ones from others may.
   */
  select (max: number, gasLimit: number = BLOCK_GAS_LIMIT): BlockMessages {
    const out: BlockMessages = { bls: [], secp: [] }
    const runs: SignedMessage[][] = []
    for (const [sender, list] of this.bySender) {
      const nonce = this.actor(list[0]!.message.from).nonce
      const live = list.filter(sm => sm.message.nonce >= nonce)
      for (const sm of list) if (sm.message.nonce < nonce) this.byCid.delete(signedMessageCid(sm).toString())
      if (live.length === 0) { this.bySender.delete(sender); continue }
      this.bySender.set(sender, live)
      const run: SignedMessage[] = []
      for (const sm of live) {
        if (sm.message.nonce !== nonce + run.length) break
        run.push(sm)
      }
      if (run.length > 0) runs.push(run)
    }
    runs.sort((a, b) => { const d = premiumPerGas(b[0]!) - premiumPerGas(a[0]!); return d > 0n ? 1 : d < 0n ? -1 : 0 })
    const next = runs.map(() => 0)
    let taken = 0
    let gasLeft = gasLimit
    for (let progressed = true; progressed && taken < max;) {
      progressed = false
      for (let i = 0; i < runs.length && taken < max; i++) {
        const sm = runs[i]![next[i]!]
        if (sm === undefined) continue
        if (sm.message.gasLimit > gasLeft) { next[i] = runs[i]!.length; continue }
        if (sm.signature.type === SIG_TYPE_BLS) out.bls.push(sm.message)
        else out.secp.push(sm)
        gasLeft -= sm.message.gasLimit
        next[i] = next[i]! + 1
        taken++
        progressed = true
      }
    }
    return out
  }
}
