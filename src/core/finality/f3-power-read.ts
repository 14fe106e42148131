// The F3 power table of a tipset, read from its state as Lotus builds it (chain/lf3/ec.go
// getPowerTableLotusTSK): every miner whose claim meets the consensus minimum (CollectEligibleClaims)
// with positive quality-adjusted power, no fee debt and no consensus fault in force, keyed by its
// worker's BLS key; a worker that is not a BLS key fails the whole table, as in Lotus. A pure read over
// a BlockGetter, so a light client can replay it over a node's proof.
import type { CID } from '../cid'
import type { BlockGetter } from '../block-store'
import type { Epoch } from '../units'
import { idOf } from '../address'
import { listMiners, powerStateAt, readClaim, minerNominalPowerMeetsConsensusMinimum } from '../power/power-state'
import { getMinerInfo, getMinerState } from '../miner/miner-state'
import { workerKeyAt } from '../consensus/ec-miner-view'
import { sortPowerTable, type PowerEntry } from './power-table'

/** The F3 power table in the state at `root` of the tipset at `height` (its ParentStateRoot, as Lotus's ParentState). */
export function readF3PowerTable (store: BlockGetter, root: CID, height: Epoch): PowerEntry[] {
  const power = powerStateAt(store, root)
  if (power === null) return []
  const entries: PowerEntry[] = []
  for (const miner of listMiners(store, root, Infinity)) {
    const claim = readClaim(store, root, miner)
    if (claim === null || !minerNominalPowerMeetsConsensusMinimum(power, claim) || claim.qualityAdjPower <= 0n) continue
    const info = getMinerInfo(store, root, miner)
    const state = getMinerState(store, root, miner)
    if (info === null || state === null) continue
    if (state.feeDebt !== 0n) continue // Lotus: fee debt keeps a miner out of the table
    if (height <= info.consensusFaultElapsed) continue
    entries.push({ id: Number(idOf(miner)), power: claim.qualityAdjPower, pubKey: workerKeyAt(store, root, info.worker) })
  }
  return sortPowerTable(entries)
}
