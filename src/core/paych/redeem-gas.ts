// When a provider should spend gas to redeem a voucher: an UpdateChannelState costs its sender gas whatever it
// redeems, so a voucher adding dust over what the chain already redeemed is held until it is worth more than its
// message, except when the channel settles (then it is the last chance, and the best voucher always goes out,
// as Lotus's paychmgr settler submits every lane's best voucher on a Settle).
import { gasLimitFor, TRANSFER_GAS_FEE_CAP } from '../apply-messages'
import type { Message } from '../message'
import { PaychMethod } from './paych-actor'
import { updateChannelStateParams } from './paych-params'
import type { SignedVoucher } from './voucher'
import type { AttoFil } from '../units'

/**
 * A redeem goes out only when it adds more than this many times the most its message can cost. Twice, not once:
 * the cost is known before the message lands, the base fee is not (Filecoin's may rise 12.5 % an epoch; Coffer's
 * is fixed at the minimum today), and a redeem that only breaks even spends a worker nonce and block space for
 * nothing. At the devnet's prices a redeem's gas (~0.4 nanoFIL) is a few KiB of retrieval, so only dust waits.
 */
export const REDEEM_GAS_MULTIPLE = 2n

/**
 * The most an UpdateChannelState carrying `sv` can cost its sender: GasLimit × GasFeeCap, with the gas limit and
 * fee cap Coffer's own senders put on a message (gasLimitFor: the gas the chain charges it plus Lotus's 25 %
 * margin; TRANSFER_GAS_FEE_CAP), which is what the provider's worker signs its redeems with.
 */
export function redeemGasCost (sv: SignedVoucher, feeCap: AttoFil = TRANSFER_GAS_FEE_CAP): AttoFil {
  // the gas depends on the method and the params' length only; the other fields are the message's placeholders
  const m: Message = {
    version: 0, to: sv.channelAddr, from: sv.channelAddr, nonce: 0, value: 0n, gasLimit: 0, gasFeeCap: feeCap, gasPremium: 0n,
    method: PaychMethod.UpdateChannelState, params: updateChannelStateParams(sv)
  }
  return BigInt(gasLimitFor(m)) * feeCap
}

/** Whether redeeming `sv` (which adds `gain` over what the chain has redeemed on its lane) is worth its gas now. */
export const worthRedeeming = (gain: AttoFil, sv: SignedVoucher, feeCap: AttoFil = TRANSFER_GAS_FEE_CAP): boolean =>
  gain > REDEEM_GAS_MULTIPLE * redeemGasCost(sv, feeCap)
