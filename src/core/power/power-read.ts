// One miner's power and the network's, read from a state root in one pass: what Lotus's stmgr.GetPowerRaw
// answers (the claim, TotalPower, HasMinPower), as the reader a node records for a light client's verified
// 'power' read and the light client replays over those blocks alone.
import type { CID } from '../cid'
import type { BlockGetter } from '../block-store'
import { hamtGet } from '../hamt'
import { powerStateAt, decodeClaim, minerNominalPowerMeetsConsensusMinimum, type Claim, type StoragePower } from './power-state'

export interface PowerRead {
  /** The miner's claim; null when the power actor has none for it (not a miner), or the chain has no power actor. */
  claim: Claim | null
  /**
   * Lotus's TotalPower (chain/actors/builtin/power TotalPower: TotalRawBytePower, TotalQualityAdjPower): the
   * power of the miners at or above the consensus minimum, what Expected Consensus divides a miner's
   * QualityAdjPower by.
   */
  totalRawBytePower: StoragePower
  totalQualityAdjPower: StoragePower
  /** Lotus's TotalCommitted (TotalBytesCommitted, TotalQABytesCommitted): every miner's power, below the minimum too. */
  totalBytesCommitted: StoragePower
  totalQABytesCommitted: StoragePower
  minerAboveMinPowerCount: number
  /** builtin-actors miner_nominal_power_meets_consensus_minimum for the claim (false without one): Lotus's HasMinPower. */
  hasMinPower: boolean
}

/**
 * The power of `miner` (its ID address bytes, as claims are keyed) and the totals in the state at `root`.
 * Reads the state tree's path to f04, the power State and the claims HAMT's path to `miner`'s key, nothing
 * else, so its recorded blocks are a proof of a few KiB. A chain with no power actor has no power: zeros.
 */
export function readPower (store: BlockGetter, root: CID, miner: Uint8Array): PowerRead {
  const state = powerStateAt(store, root)
  if (state === null) {
    return { claim: null, totalRawBytePower: 0n, totalQualityAdjPower: 0n, totalBytesCommitted: 0n, totalQABytesCommitted: 0n, minerAboveMinPowerCount: 0, hasMinPower: false }
  }
  const raw = hamtGet(store, state.claims, miner)
  const claim = raw === undefined ? null : decodeClaim(raw)
  return {
    claim,
    totalRawBytePower: state.totalRawBytePower,
    totalQualityAdjPower: state.totalQualityAdjPower,
    totalBytesCommitted: state.totalBytesCommitted,
    totalQABytesCommitted: state.totalQABytesCommitted,
    minerAboveMinPowerCount: state.minerAboveMinPowerCount,
    hasMinPower: claim !== null && minerNominalPowerMeetsConsensusMinimum(state, claim)
  }
}
