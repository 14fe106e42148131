// The params of the messages a client and a provider send to use a channel: create it (init actor Exec with
// the paych code and [From, To]), redeem a voucher (UpdateChannelState [Sv, Secret]); Settle and Collect
// take none. The value of the Exec message funds the new channel; more is added by a plain send to it.
import * as dagCbor from '@ipld/dag-cbor'
import { encodeExecParams } from '../init/init-actor'
import { PAYCH_ACTOR_CODE } from './paych-state'
import { signedVoucherTuple, type SignedVoucher } from './voucher'

/** The payment-channel actor's ConstructorParams [From, To]. */
export const encodePaychConstructorParams = (from: Uint8Array, to: Uint8Array): Uint8Array => dagCbor.encode([from, to])

/** Params of the message to f01 (method InitMethod.Exec) that creates a channel from `from` to `to`. */
export const createChannelMessageParams = (from: Uint8Array, to: Uint8Array): Uint8Array =>
  encodeExecParams({ code: PAYCH_ACTOR_CODE, constructorParams: encodePaychConstructorParams(from, to) })

/** Params of UpdateChannelState (PaychMethod.UpdateChannelState): the signed voucher, and its secret if it names a SecretHash. */
export function updateChannelStateParams (voucher: SignedVoucher, secret: Uint8Array = new Uint8Array(0)): Uint8Array {
  if (voucher.signature === null) throw new RangeError('a voucher is redeemed signed')
  // the voucher goes in as its tuple, not as a byte string (builtin-actors UpdateChannelStateParams.sv)
  return dagCbor.encode([signedVoucherTuple(voucher), secret])
}
