// Chain weight and fork choice as Lotus's chain/consensus/filcns/weight.go Weight and chain/store/store.go
// breakWeightTie: the heaviest chain wins, equal weights go to the smaller tickets.
import type { StoragePower } from '../power'
import { BLOCKS_PER_EPOCH, W_RATIO_DEN, W_RATIO_NUM } from './params'
import { euclidDiv } from './win-count'
import { ticketLess } from './ticket'
import { NoPowerError } from './consensus-errors'

/** A chain weight: Lotus's BigInt ParentWeight, the sum of every tipset's weight increment since genesis. */
export type ChainWeight = bigint

/**
 * The weight of a tipset (Lotus Weight):
 *   w = parentWeight + log2P·2^8 + (log2P·WRatioNum·2^8 · Σ winCount) / (BlocksPerEpoch·WRatioDen)
 * where log2P = bitLength(totalPower) - 1 and totalPower is the network's total quality-adjusted power in the
 * tipset's ParentStateRoot (the state its blocks were built on, not the election lookback), and the division
 * is Go's Euclidean big.Int Div. Zero power is refused (NoPowerError), as Lotus refuses it.
 */
export function tipsetWeight (parentWeight: ChainWeight, totalPower: StoragePower, winCounts: number[]): ChainWeight {
  if (totalPower <= 0n) throw new NoPowerError(totalPower)
  const log2P = BigInt(totalPower.toString(2).length - 1)
  const totalJ = winCounts.reduce((sum, j) => sum + BigInt(j), 0n)
  const eWeight = euclidDiv(((log2P * W_RATIO_NUM) << 8n) * totalJ, BigInt(BLOCKS_PER_EPOCH) * W_RATIO_DEN)
  return parentWeight + (log2P << 8n) + eWeight
}

/**
 * Lotus breakWeightTie between two tipsets of equal weight, each given as its blocks' tickets in tipset order:
 * true when the first wins, at the first position where one ticket is smaller (ticketLess); false when every
 * shared position is equal, in which case Lotus keeps the second.
 */
export function breakWeightTie (tickets1: Uint8Array[], tickets2: Uint8Array[]): boolean {
  const n = Math.min(tickets1.length, tickets2.length)
  for (let i = 0; i < n; i++) {
    if (ticketLess(tickets1[i]!, tickets2[i]!)) return true
    if (ticketLess(tickets2[i]!, tickets1[i]!)) return false
  }
  return false
}
