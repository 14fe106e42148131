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
  validateMessageFields, verifyMessageSignature, signedMessageCid, messageCid, addressToString, getActor, chainCid,
  encodeMessage, encodeSignedMessage, isLowS, NonceError, InsufficientFundsError, MessageOutOfRangeError,
  MessageSignatureError, BASE_FEE, TRANSFER_GAS, MAX_MESSAGE_BYTES, BLOCK_GAS_LIMIT, SIG_TYPE_BLS, SIG_TYPE_SECP256K1,
  type BlockGetter, type CID, type SignedMessage, type BlockMessages, type AttoFil, type Signature
} from '../core'
import { inlineVerifier, type SignatureVerifier } from './signature-verifier'

/** Lotus refuses more than this many pending messages per sender (mpool's default MaxNonceGap-ish cap). */
export const MAX_PENDING_PER_SENDER = 1000

/**
 * Messages waiting for a signature check at once, overall. At 45 ms a BLS check the whole queue clears in
 * about 3 s.
 */
export const MAX_VERIFYING = 64
/**
 * What one origin (an RPC client's address, a gossip message's author) may hold of that queue while its
 * signatures check out: half, so a flood from one source leaves room for everyone else, and still enough
 * for a wallet that pipelines a batch of consecutive nonces (issue 9 review: 20 pushes in one batch).
 */
export const MAX_VERIFYING_PER_ORIGIN = 32
/** What an origin whose signatures failed within SIGNATURE_FAILURE_WINDOW_MS may hold: tight only after failures. */
export const MAX_VERIFYING_PER_FAILING_ORIGIN = 2
/*
 * There is deliberately no limit keyed on a message's From across origins: anyone can name any From, so a
 * limit (or a cool-down) on From lets an attacker refuse a provider's worker key with a few forged pushes
 * (issue 9 review). One sender's messages from one origin are bounded by that origin's share.
 */

/**
 * An origin whose signatures failed this many times within SIGNATURE_FAILURE_WINDOW_MS is refused, without
 * a check, for SIGNATURE_FAILURE_COOLDOWN_MS. An honest wallet never fails: it signs what it sends. The
 * origin is who handed us the message (Lotus scores gossip peers the same way), never the From it names.
 */
export const SIGNATURE_FAILURES_ALLOWED = 5
export const SIGNATURE_FAILURE_WINDOW_MS = 60_000
export const SIGNATURE_FAILURE_COOLDOWN_MS = 30_000
/** Known-bad (message, signature) pairs remembered, and origins tracked: bounded memory under spam. */
export const KNOWN_BAD_ENTRIES = 10_000
export const TRACKED_SOURCES = 10_000
/**
 * Blocks a sender's pooled messages may wait behind a nonce gap (the first of them above the sender's
 * nonce on chain, or a hole between them) before they are dropped: nothing can be selected past a gap, and
 * a stuck run would otherwise hold the sender's pending count (the faucet's) forever.
 */
export const GAP_DROP_BLOCKS = 5
/** BLS message signatures kept for restore after a reorganisation (Lotus's blsSigCache holds 40,000). */
export const BLS_SIGNATURES_KEPT = 10_000

/** The pool will not queue this message for a signature check now; the same push later may succeed. */
export class MpoolBusyError extends Error {
  static override name = 'MpoolBusyError'
  override name = 'MpoolBusyError'
  readonly code = 'MPOOL_BUSY'
  constructor (readonly reason: 'queue' | 'origin', readonly retryAfterMs: number) {
    super(`the message pool is busy checking signatures (${reason === 'queue' ? 'queue full' : 'too many from this client or peer'}); try again shortly`)
  }
}

/**
 * The sender already has MAX_PENDING_PER_SENDER messages pooled or being checked: our pool's state, not a
 * fault of the message (gossip ignores it rather than penalising the relay).
 */
export class MpoolFullError extends Error {
  static override name = 'MpoolFullError'
  override name = 'MpoolFullError'
  readonly code = 'MPOOL_FULL'
  constructor (readonly queued: number) { super(`the sender has ${queued} messages waiting (limit ${MAX_PENDING_PER_SENDER}); try again after a block`) }
}

/** Too many messages from this origin (RPC client address or gossip author) failed their signature check recently. */
export class SignatureFailuresError extends Error {
  static override name = 'SignatureFailuresError'
  override name = 'SignatureFailuresError'
  readonly code = 'SIGNATURE_FAILURES'
  constructor (readonly source: 'origin', readonly retryAfterMs: number) {
    super(`messages from this client or peer failed their signature check too often; refused for ${Math.ceil(retryAfterMs / 1000)} s`)
  }
}

/** Where a pushed message came from. */
export interface PushOrigin {
  /**
   * Who handed it over, as an opaque key: `rpc:<remote address>`, `peer:<gossip author>`. Failure limits
   * and queue shares are kept per origin; pushes that name none share one anonymous origin.
   */
  origin?: string
  /**
   * Signed by this node or a provider running in it (the faucet, an in-process provider's worker): checked
   * inline (a ~1 ms secp check), never queued, throttled or refused as busy.
   */
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

  /** Whether `key` failed within the window (or is cooling down). */
  failedRecently (key: string, now: number): boolean {
    const e = this.entries.get(key)
    return e !== undefined && (e.blockedUntil > now || e.times.some(t => now - t < SIGNATURE_FAILURE_WINDOW_MS))
  }

  fail (key: string, now: number): void {
    const e = this.entries.get(key) ?? { times: [], blockedUntil: 0 }
    this.entries.delete(key) // re-insert: Map order is then least recently failed first, for eviction
    e.times = [...e.times.filter(t => now - t < SIGNATURE_FAILURE_WINDOW_MS), now]
    if (e.times.length >= SIGNATURE_FAILURES_ALLOWED) {
      e.blockedUntil = now + SIGNATURE_FAILURE_COOLDOWN_MS
      e.times = [now] // still "failed recently" once the cool-down ends: tight limits, not a fresh start
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

/** A candidate being checked: it reserves no nonce and no funds until its signature is known good. */
interface Verifying {
  sm: SignedMessage
  origin: string
  /** Settles (either way) once the candidate is pooled or refused: later nonces wait for it. */
  finished: Promise<void>
}

/** What a block proposer earns per unit of gas: Lotus's gas performance at a base fee of BASE_FEE. */
const premiumPerGas = (sm: SignedMessage): AttoFil => {
  const m = sm.message
  const room = m.gasFeeCap - BASE_FEE
  return m.gasPremium < room ? m.gasPremium : room > 0n ? room : 0n
}

const ANONYMOUS = 'anonymous'

export class Mpool {
  /** Each sender's pooled messages in nonce order. */
  private readonly bySender = new Map<string, SignedMessage[]>()
  private readonly byCid = new Map<string, SignedMessage>()
  /** Candidates being checked, per sender in the order pushed; several may name one nonce. */
  private readonly verifying = new Map<string, Verifying[]>()
  private readonly verifyingByEnvelope = new Map<string, Promise<CID>>()
  private readonly verifyingPerOrigin = new Map<string, number>()
  private verifyingCount = 0
  private readonly knownBad = new BoundedSet(KNOWN_BAD_ENTRIES)
  private readonly originFailures = new FailureLimiter()
  /** Blocks selected so far, and since which of them each sender's pooled messages sat behind a gap. */
  private selections = 0
  private readonly gapSince = new Map<string, number>()
  /** The signatures of BLS messages this pool took, newest last: what restore needs (a block carries only the aggregate). */
  private readonly blsSignatures = new Map<string, Signature>()
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

  /** Pending messages plus candidates still being checked: what a sender has waiting. */
  queued (from: Uint8Array): number { return this.pending(from).length + (this.verifying.get(addressToString(from))?.length ?? 0) }

  has (cid: CID): boolean { return this.byCid.has(cid.toString()) }
  get (cid: CID): SignedMessage | undefined { return this.byCid.get(cid.toString()) }

  /**
   * The sender's next nonce: its nonce on chain, past the pooled messages that follow it without a gap
   * (Lotus's msgSet.nextNonce). Candidates still being checked reserve nothing: anyone can push a message
   * naming any From, and a forged one must not hand out, or hold, the real sender's nonce.
   */
  nextNonce (from: Uint8Array): number {
    let next = this.actor(from).nonce
    for (const sm of this.pending(from)) {
      if (sm.message.nonce < next) continue
      if (sm.message.nonce !== next) break
      next++
    }
    return next
  }

  async close (): Promise<void> { await this.verifier.close() }

  /**
   * Queues `sm` once its signature checks out; rejects with the named error that says why it cannot be
   * queued (a MessageRejectedError: never includable; MpoolBusyError, MpoolFullError or
   * SignatureFailuresError: not now). Everything up to the signature check runs synchronously, so the
   * faucet's concurrent local pushes see each other's nonces.
   */
  async push (sm: SignedMessage, origin: PushOrigin = {}): Promise<CID> {
    const cid = signedMessageCid(sm)
    if (this.has(cid)) return cid
    // the pair, not the message CID: a BLS message's CID leaves out its signature, and an attacker who
    // pairs someone's message with a bad signature must not get the good pair refused
    const envelope = sm.signature.type === SIG_TYPE_BLS ? chainCid(encodeSignedMessage(sm)).toString() : cid.toString()
    const inFlight = this.verifyingByEnvelope.get(envelope)
    if (inFlight !== undefined) return await inFlight
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
    const source = origin.origin ?? ANONYMOUS
    const now = this.nowMs()
    if (origin.local !== true) {
      const wait = this.originFailures.blockedFor(source, now)
      if (wait > 0) throw new SignatureFailuresError('origin', wait)
    }
    const candidates = this.verifying.get(sender) ?? []
    const next = this.nextNonce(m.from)
    if (origin.local === true) {
      this.checkState(sm, next, 0)
      if (sm.signature.type === SIG_TYPE_SECP256K1 && sm.signature.data.length === 65 && !isLowS(sm.signature)) throw new MessageSignatureError('secp256k1 signature is not in low-S form')
      // signed in this process a moment ago: checked inline as a guard against our own bugs (~1 ms for a secp
      // key, a pairing's ~25 ms for a provider's BLS worker: a few messages a proving period)
      verifyMessageSignature(sm)
      this.insert(sm, cid)
      return cid
    }
    // a candidate may follow the pooled messages or another candidate: a wallet pipelines its nonces
    const highest = candidates.reduce((h, v) => Math.max(h, v.sm.message.nonce + 1), next)
    if (m.nonce > next && m.nonce <= highest) this.checkState(sm, m.nonce, candidates.length)
    else this.checkState(sm, next, candidates.length)
    if (sm.signature.type === SIG_TYPE_SECP256K1 && sm.signature.data.length === 65 && !isLowS(sm.signature)) throw new MessageSignatureError('secp256k1 signature is not in low-S form')

    const held = this.verifyingPerOrigin.get(source) ?? 0
    const share = this.originFailures.failedRecently(source, now) ? MAX_VERIFYING_PER_FAILING_ORIGIN : MAX_VERIFYING_PER_ORIGIN
    // retry hints: the queue drains in order, so a share of it clears in about one block time
    if (this.verifyingCount >= MAX_VERIFYING) throw new MpoolBusyError('queue', 1000)
    if (held >= share) throw new MpoolBusyError('origin', 1000)

    let finish!: () => void
    const entry: Verifying = { sm, origin: source, finished: new Promise<void>(resolve => { finish = resolve }) }
    this.verifying.set(sender, [...candidates, entry])
    this.verifyingPerOrigin.set(source, held + 1)
    this.verifyingCount++
    const done = this.settle(entry, cid, envelope, sender).finally(() => {
      const left = (this.verifying.get(sender) ?? []).filter(v => v !== entry)
      if (left.length === 0) this.verifying.delete(sender)
      else this.verifying.set(sender, left)
      this.verifyingByEnvelope.delete(envelope)
      const n = (this.verifyingPerOrigin.get(source) ?? 1) - 1
      if (n <= 0) this.verifyingPerOrigin.delete(source)
      else this.verifyingPerOrigin.set(source, n)
      this.verifyingCount--
      finish()
    })
    this.verifyingByEnvelope.set(envelope, done)
    return await done
  }

  private async settle (entry: Verifying, cid: CID, envelope: string, sender: string): Promise<CID> {
    const ok = await this.verifier.verify(entry.sm)
    if (!ok) {
      this.knownBad.add(envelope)
      this.originFailures.fail(entry.origin, this.nowMs())
      throw new MessageSignatureError(`signature does not match sender of message ${String(cid)}`)
    }
    // The first candidate for a nonce that verifies wins it. One at a later nonce waits for the candidates
    // before it (a pipelined wallet's earlier pushes, usually already done: the thread checks in order);
    // if none of them verifies, it is left behind a gap: NonceError.
    const m = entry.sm.message
    for (;;) {
      if (this.has(cid)) return cid
      const next = this.nextNonce(m.from)
      if (m.nonce <= next) break
      const before = (this.verifying.get(sender) ?? []).filter(v => v !== entry && v.sm.message.nonce >= next && v.sm.message.nonce < m.nonce)
      if (before.length === 0) break
      await Promise.race(before.map(v => v.finished))
    }
    // blocks may have been made while it waited: check again against the state it now joins
    this.checkState(entry.sm, this.nextNonce(m.from), 0)
    this.insert(entry.sm, cid)
    return cid
  }

  /**
   * Nonce, pending count and funds for `sm` behind the sender's pooled messages. `checking` candidates
   * count toward the pending cap (they are bounded by the queue anyway) but not toward funds: a forged
   * candidate must not spend the real sender's balance.
   */
  private checkState (sm: SignedMessage, expected: number, checking: number): void {
    const m = sm.message
    if (m.nonce !== expected) throw new NonceError(expected, m.nonce)
    const pending = this.pending(m.from)
    if (pending.length + checking >= MAX_PENDING_PER_SENDER) throw new MpoolFullError(pending.length + checking)
    const cost = (x: SignedMessage): bigint => x.message.value + BigInt(x.message.gasLimit) * x.message.gasFeeCap
    const needed = [...pending, sm].reduce((sum, x) => sum + cost(x), 0n)
    const { balance } = this.actor(m.from)
    if (needed > balance) throw new InsufficientFundsError(needed, balance)
  }

  /**
   * Messages of tipsets a reorganisation left (Lotus MessagePool.HeadChange: each reverted message added back,
   * its checks skipped: it was in a block). Secp messages carry their signature; a BLS message comes back when this
   * pool saw its signature (BLS_SIGNATURES_KEPT are kept, as Lotus's blsSigCache), else it is left out. Those the
   * new head already used are dropped by the next selection. Returns how many came back.
   */
  restore (blocks: readonly BlockMessages[]): number {
    let restored = 0
    for (const b of blocks) {
      const signed: SignedMessage[] = [...b.secp]
      for (const m of b.bls) {
        const signature = this.blsSignatures.get(messageCid(m).toString())
        if (signature !== undefined) signed.push({ message: m, signature })
      }
      for (const sm of signed) {
        const cid = signedMessageCid(sm)
        if (this.has(cid) || this.pending(sm.message.from).some(p => p.message.nonce === sm.message.nonce)) continue
        this.insert(sm, cid)
        restored++
      }
    }
    return restored
  }

  private insert (sm: SignedMessage, cid: CID): void {
    if (sm.signature.type === SIG_TYPE_BLS) {
      this.blsSignatures.set(messageCid(sm.message).toString(), sm.signature)
      if (this.blsSignatures.size > BLS_SIGNATURES_KEPT) this.blsSignatures.delete(this.blsSignatures.keys().next().value!)
    }
    const key = addressToString(sm.message.from)
    const list = [...(this.bySender.get(key) ?? []), sm].sort((a, b) => a.message.nonce - b.message.nonce)
    this.bySender.set(key, list)
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
    this.selections++
    for (const [sender, list] of this.bySender) {
      const nonce = this.actor(list[0]!.message.from).nonce
      const live = list.filter(sm => sm.message.nonce >= nonce)
      for (const sm of list) if (sm.message.nonce < nonce) this.byCid.delete(signedMessageCid(sm).toString())
      const run: SignedMessage[] = []
      for (const sm of live) {
        if (sm.message.nonce !== nonce + run.length) break
        run.push(sm)
      }
      // messages behind a gap wait a few blocks for the missing nonce, then go: nothing selects past a gap
      const stuck = live.length - run.length
      let kept = live
      if (stuck === 0) this.gapSince.delete(sender)
      else if (!this.gapSince.has(sender)) this.gapSince.set(sender, this.selections)
      else if (this.selections - this.gapSince.get(sender)! >= GAP_DROP_BLOCKS) {
        for (const sm of live.slice(run.length)) this.byCid.delete(signedMessageCid(sm).toString())
        this.gapSince.delete(sender)
        kept = run
      }
      if (kept.length === 0) this.bySender.delete(sender)
      else this.bySender.set(sender, kept)
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
