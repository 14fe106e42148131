// GasEstimateMessageGas as Lotus fills it (node/impl/full/gas.go, chain/messagepool CapGasFee), with
// Coffer's fixed transfer cost standing in for executing the message.
import { TRANSFER_GAS, BLOCK_GAS_LIMIT, type Message, type AttoFil } from '../../core'
import type { MessageSendSpec } from './lotus-json'

/** messagepool/config.go GasLimitOverestimation. */
export const GAS_LIMIT_OVERESTIMATION = 1.25
/**
 * gasutils.MinGasPremium: what Lotus suggests when recent blocks show no premiums (always, on Coffer).
 * Lotus multiplies it by ~1±0.5% random noise; Coffer leaves it exact so an estimate can be repeated.
 */
export const MIN_GAS_PREMIUM: AttoFil = 100_000n
/** node/config/def.go DefaultDefaultMaxFee: 0.07 FIL caps a message's fees when the spec names no MaxFee. */
export const DEFAULT_MAX_FEE: AttoFil = 70_000_000_000_000_000n

/**
 * Fills only what the caller left zero. The fee cap is twice the parent base fee plus the premium: Lotus
 * projects the base fee 20 blocks ahead at +12.5% a block, but Coffer's base fee never moves (it stays at
 * the minimum), so twice is already headroom. Then Lotus's CapGasFee: fee cap × gas limit may not exceed
 * MaxFee (or the default), and the premium never exceeds the fee cap.
 */
export function estimateMessageGas (m: Message, spec: MessageSendSpec, parentBaseFee: AttoFil): Message {
  // int64(float64(gasLimit) * overestimation): Go truncates toward zero
  const gasLimit = m.gasLimit === 0 ? Math.min(Math.trunc(TRANSFER_GAS * GAS_LIMIT_OVERESTIMATION), BLOCK_GAS_LIMIT) : m.gasLimit
  let gasPremium = m.gasPremium === 0n ? MIN_GAS_PREMIUM : m.gasPremium
  let gasFeeCap = m.gasFeeCap === 0n ? parentBaseFee * 2n + gasPremium : m.gasFeeCap
  const maxFee = spec.maxFee === 0n ? DEFAULT_MAX_FEE : spec.maxFee
  if (spec.maximizeFeeCap || gasFeeCap * BigInt(gasLimit) > maxFee) gasFeeCap = maxFee / BigInt(gasLimit)
  if (gasPremium > gasFeeCap) gasPremium = gasFeeCap
  return { ...m, gasLimit, gasFeeCap, gasPremium }
}
