// Which state a block's election reads (the miner's power, the network's power, the worker key): Lotus's
// chain/stmgr/utils.go GetLookbackTipSetForRound, as ValidateBlock and the miner's MinerGetBaseInfo call it.
import type { Epoch } from '../units'
import { WINNING_POST_SECTOR_SET_LOOKBACK } from './params'
import { LookbackError } from './consensus-errors'

/** The lookback round of a block at `height`: height - lookback, or 0 while height is within the lookback. */
export function lookbackEpoch (height: Epoch, lookback: Epoch = WINNING_POST_SECTOR_SET_LOOKBACK): Epoch {
  return height > lookback ? height - lookback : 0
}

/**
 * Where the lookback state root is, for a block at `height` on a parent tipset at `parentHeight`:
 * - `genesis`: the parent is genesis and the round is not below it; read genesis's own ParentStateRoot
 *   (Lotus TipSetState of a height-0 tipset short-circuits to it).
 * - `after-round`: read the ParentStateRoot of the first non-null tipset at height >= round + 1 on the
 *   parent's chain, i.e. the state after executing the tipset at `round` (or the last non-null one before it).
 *   Lotus takes that tipset's parents as the lookback tipset and its ParentStateRoot as the state.
 * A round at or after a parent other than genesis is refused (LookbackError), as Lotus refuses it past
 * network version 3.
 */
export type LookbackState =
  | { kind: 'genesis', round: Epoch }
  | { kind: 'after-round', round: Epoch, firstTipSetAtOrAbove: Epoch }

export function lookbackState (height: Epoch, parentHeight: Epoch, lookback: Epoch = WINNING_POST_SECTOR_SET_LOOKBACK): LookbackState {
  const round = lookbackEpoch(height, lookback)
  if (round >= parentHeight) {
    if (parentHeight === 0) return { kind: 'genesis', round }
    throw new LookbackError(height, round, parentHeight)
  }
  return { kind: 'after-round', round, firstTipSetAtOrAbove: round + 1 }
}
