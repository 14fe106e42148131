// The check a provider runs on a voucher it receives, before giving anything for it, in the spirit of
// Lotus's paychmgr checkVoucherValid: against the channel state it verified from its own chain and the
// best voucher it already holds on each lane, would this voucher redeem, and for how much more? Pure: the
// caller brings the verified channel, the epoch and what it holds.
import { bytesEqual } from '../address'
import { verifyVoucherSignature, type SignedVoucher } from './voucher'
import type { ChannelRecord } from './channel-record'
import { MAX_CHANNEL_LANES } from './paych-state'
import type { AttoFil, Epoch } from '../units'

export type VoucherRejectCode = 'SIGNER' | 'CHANNEL' | 'RECIPIENT' | 'LANE' | 'NONCE' | 'AMOUNT' | 'FUNDS' | 'SETTLING' | 'TIMELOCK' | 'MALFORMED'

/** A voucher the provider must not accept; `code` says which rule it broke (the retrieval 'PAYMENT' refusal carries it). */
export class VoucherRejectedError extends Error {
  static override name = 'VoucherRejectedError'
  override name = 'VoucherRejectedError'
  constructor (readonly code: VoucherRejectCode, message: string) { super(message) }
}

/** The best voucher a provider holds (accepted, maybe not yet redeemed) on one lane. */
export interface HeldLane { nonce: number, amount: AttoFil }

export interface VoucherCheck {
  /** The channel as read (verified) from the provider's chain. */
  channel: ChannelRecord
  /** The address the provider knows the channel by (its f2), accepted as ChannelAddr besides the channel's f0. */
  channelAddress?: Uint8Array
  voucher: SignedVoucher
  /** The provider's own address: it must be the channel's To. */
  recipient: Uint8Array
  /** The epoch the provider's chain is at. */
  epoch: Epoch
  /** Per lane, the best voucher already held; lanes absent hold nothing beyond what the chain shows. */
  held: ReadonlyMap<number, HeldLane>
  /** The lane this retrieval pays on, when the caller fixed one. */
  lane?: number
}

export interface VoucherAccepted {
  /** What this voucher adds over the best already known on its lane (always > 0). */
  added: AttoFil
  /** Everything the channel would owe the provider over all lanes with this voucher. */
  channelTotal: AttoFil
}

/**
 * builtin-actors' MAX_LANE (actors/paych/src/types.rs: `i64::MAX as u64`): find_lane refuses a higher lane ID with
 * USR_ILLEGAL_ARGUMENT "maximum lane ID is 2^63-1". It caps the lane's number, not how many lanes a channel has
 * (builtin-actors has no such count; Coffer's actor adds MAX_CHANNEL_LANES, see paych-state.ts). Coffer holds lanes
 * as JS numbers, so past 2^53 − 1 a lane is refused already (decodeSignedVoucher's RANGE), well under this cap.
 */
export const MAX_LANE = 2n ** 63n - 1n

const reject = (code: VoucherRejectCode, message: string): never => { throw new VoucherRejectedError(code, message) }
const max = (a: bigint, b: bigint): bigint => a > b ? a : b

/** Returns what the voucher adds, or throws VoucherRejectedError naming the rule it breaks. */
export function checkVoucher (c: VoucherCheck): VoucherAccepted {
  const { channel, voucher: sv } = c
  const st = channel.state
  if (sv.signature === null) reject('MALFORMED', 'voucher has no signature')
  // the provider could not redeem these: Extra names an actor check Coffer does not run, merges Lotus's
  // paychmgr does not accept either, a secret the provider was never given
  if (sv.extra !== null) reject('MALFORMED', 'voucher asks for an Extra verification, which Coffer does not support')
  if (sv.merges.length > 0) reject('MALFORMED', 'voucher merges lanes, which is not accepted off-chain')
  if (sv.secretHash.length > 0) reject('MALFORMED', 'voucher needs a secret the provider does not have')
  // builtin-actors find_lane's cap, which UpdateChannelState would hit at redeem: a voucher it refuses is no payment
  // (checked before the signature: a lane that is no integer cannot even be encoded to verify it)
  if (!Number.isSafeInteger(sv.lane) || sv.lane < 0 || BigInt(sv.lane) > MAX_LANE) reject('LANE', `voucher lane ${sv.lane} is not a lane ID the chain takes (maximum lane ID is 2^63-1; Coffer holds up to ${Number.MAX_SAFE_INTEGER})`)
  if (!bytesEqual(sv.channelAddr, channel.id) && (c.channelAddress === undefined || !bytesEqual(sv.channelAddr, c.channelAddress))) {
    reject('CHANNEL', 'voucher is for another payment channel')
  }
  if (!bytesEqual(st.to, c.recipient)) reject('RECIPIENT', 'the channel pays someone else: its To is not this provider')
  if (!verifyVoucherSignature(sv, st.from)) reject('SIGNER', 'voucher is not signed by the channel\'s From')
  // the chain would still take vouchers until SettlingAt, but a provider that serves more against a
  // settling channel risks bytes it cannot redeem in time
  if (st.settlingAt !== 0) reject('SETTLING', `the channel is settling (collectable from epoch ${st.settlingAt})`)
  // a provider redeems later (when the retrieval ends), so a voucher that could expire or not yet be valid then
  // is no payment: Lotus's paychmgr (checkVoucherValidUnlocked) refuses any time lock off-chain for this reason
  if (sv.timeLockMin !== 0) reject('TIMELOCK', `voucher cannot be redeemed before epoch ${sv.timeLockMin}: a retrieval voucher carries no time lock`)
  if (sv.timeLockMax !== 0) reject('TIMELOCK', `voucher expires at epoch ${sv.timeLockMax}: a retrieval voucher carries no time lock`)
  if (c.lane !== undefined && sv.lane !== c.lane) reject('LANE', `voucher pays lane ${sv.lane}, this retrieval pays on lane ${c.lane}`)

  const onChain = new Map(channel.lanes.map(l => [l.lane, l]))
  const known = (lane: number): HeldLane => {
    const chain = onChain.get(lane)
    const held = c.held.get(lane)
    return { nonce: Math.max(chain?.nonce ?? 0, held?.nonce ?? 0), amount: max(chain?.redeemed ?? 0n, held?.amount ?? 0n) }
  }
  const best = known(sv.lane)
  if ((onChain.has(sv.lane) || c.held.has(sv.lane)) && sv.nonce <= best.nonce) reject('NONCE', `voucher nonce ${sv.nonce} is not above ${best.nonce}, the lane's highest`)
  if (sv.amount <= best.amount) reject('AMOUNT', `voucher amount ${sv.amount} is not above ${best.amount}, what the lane already holds`)

  // Coffer's actor takes no new lane past MAX_CHANNEL_LANES (paychUpdateChannelState): a voucher opening one more
  // would be refused at redeem. Lanes the provider holds vouchers for count too: they will be on chain by then.
  const lanes = new Set([...onChain.keys(), ...c.held.keys(), sv.lane])
  if (!onChain.has(sv.lane) && !c.held.has(sv.lane) && lanes.size > MAX_CHANNEL_LANES) {
    reject('LANE', `the channel already has ${MAX_CHANNEL_LANES} lanes, the most its actor opens: pay on one of them or open a new channel`)
  }
  let channelTotal = 0n
  for (const lane of lanes) channelTotal += lane === sv.lane ? sv.amount : known(lane).amount
  if (channelTotal > channel.balance) reject('FUNDS', `the channel holds ${channel.balance} attoFIL, its vouchers would need ${channelTotal}`)
  return { added: sv.amount - best.amount, channelTotal }
}
