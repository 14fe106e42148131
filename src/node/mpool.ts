// The node's message pool: signed messages waiting for a block, checked on entry against the state at the
// head (signature, fields, nonce, funds) so that nothing a block could not apply is ever selected.
import {
  validateMessageFields, verifyMessageSignature, signedMessageCid, addressToString, getActor,
  encodeMessage, encodeSignedMessage, isLowS, NonceError, InsufficientFundsError, MessageOutOfRangeError,
  MessageSignatureError, BASE_FEE, TRANSFER_GAS, MAX_MESSAGE_BYTES, SIG_TYPE_BLS, SIG_TYPE_SECP256K1,
  type BlockGetter, type CID, type SignedMessage, type BlockMessages
} from '../core'

/** Lotus refuses more than this many pending messages per sender (mpool's default MaxNonceGap-ish cap). */
export const MAX_PENDING_PER_SENDER = 1000

export class Mpool {
  private readonly bySender = new Map<string, SignedMessage[]>()
  private readonly byCid = new Map<string, SignedMessage>()

  /** `stateRoot()` is the state the next block's messages will be applied to. */
  constructor (private readonly store: BlockGetter, private readonly stateRoot: () => CID) {}

  private actor (from: Uint8Array): { nonce: number, balance: bigint } {
    return getActor(this.store, this.stateRoot(), from) ?? { nonce: 0, balance: 0n }
  }

  pending (from: Uint8Array): SignedMessage[] { return this.bySender.get(addressToString(from)) ?? [] }

  has (cid: CID): boolean { return this.byCid.has(cid.toString()) }
  get (cid: CID): SignedMessage | undefined { return this.byCid.get(cid.toString()) }

  nextNonce (from: Uint8Array): number {
    const pending = this.pending(from)
    return pending.length > 0 ? pending[pending.length - 1]!.message.nonce + 1 : this.actor(from).nonce
  }

  /** Throws the named MessageRejectedError that says why `sm` can never be included; else queues it. */
  push (sm: SignedMessage): CID {
    const cid = signedMessageCid(sm)
    if (this.has(cid)) return cid
    const m = sm.message
    // cheap checks first, so spam with a wrong nonce costs no signature check
    const size = sm.signature.type === SIG_TYPE_BLS ? encodeMessage(m).length : encodeSignedMessage(sm).length
    // every block that includes it must load again later: a pool limit, not only a gossip one
    if (size > MAX_MESSAGE_BYTES) throw new MessageOutOfRangeError(`message of ${size} bytes exceeds ${MAX_MESSAGE_BYTES}`)
    validateMessageFields(m)
    if (m.gasFeeCap < BASE_FEE) throw new MessageOutOfRangeError(`GasFeeCap ${m.gasFeeCap} is below the base fee ${BASE_FEE}`)
    // as Lotus's mpool refuses a message whose GasLimit cannot cover its own on-chain cost
    if (m.gasLimit < TRANSFER_GAS) throw new MessageOutOfRangeError(`GasLimit ${m.gasLimit} is below the ${TRANSFER_GAS} a transfer uses`)
    const expected = this.nextNonce(m.from)
    if (m.nonce !== expected) throw new NonceError(expected, m.nonce)
    const pending = this.pending(m.from)
    if (pending.length >= MAX_PENDING_PER_SENDER) throw new MessageOutOfRangeError('too many pending messages from this sender')
    const cost = (x: SignedMessage): bigint => x.message.value + BigInt(x.message.gasLimit) * x.message.gasFeeCap
    const needed = [...pending, sm].reduce((sum, x) => sum + cost(x), 0n)
    const { balance } = this.actor(m.from)
    if (needed > balance) throw new InsufficientFundsError(needed, balance)
    if (sm.signature.type === SIG_TYPE_SECP256K1 && sm.signature.data.length === 65 && !isLowS(sm.signature)) throw new MessageSignatureError('secp256k1 signature is not in low-S form')
    verifyMessageSignature(sm)
    this.bySender.set(addressToString(m.from), [...pending, sm])
    this.byCid.set(cid.toString(), sm)
    return cid
  }

  /**
   * Up to `max` messages that apply in order on the current state, and drops those the chain has
   * already used (nonce below the sender's).
   */
  select (max: number): BlockMessages {
    const out: BlockMessages = { bls: [], secp: [] }
    let taken = 0
    for (const [sender, list] of this.bySender) {
      const nonce = this.actor(list[0]!.message.from).nonce
      const live = list.filter(sm => sm.message.nonce >= nonce)
      for (const sm of list) if (sm.message.nonce < nonce) this.byCid.delete(signedMessageCid(sm).toString())
      if (live.length === 0) { this.bySender.delete(sender); continue }
      this.bySender.set(sender, live)
      for (const sm of live) {
        if (taken >= max || sm.message.nonce !== nonce + live.indexOf(sm)) break
        if (sm.signature.type === SIG_TYPE_BLS) out.bls.push(sm.message)
        else out.secp.push(sm)
        taken++
      }
    }
    return out
  }
}
