// What Expected Consensus needs to know about a block's miner, read from the chain's own state: the EcMinerView
// validateEcBlock and makeEcHeader take, from the three state roots Lotus reads for one block (ec-validate.ts
// EcMinerView says which), and the roots themselves from the chain below the block's parent (lookback.ts).
// A pure read over a BlockGetter: a full node reads its own store, a light client the blocks a node sent as a
// proof (recordReads of this function is that proof).
import type { CID } from '../cid'
import type { BlockGetter } from '../block-store'
import type { TipSet } from '../tipset'
import type { Epoch } from '../units'
import type { StoragePower } from '../power'
import { Protocol } from '../address'
import { getActor, ACCOUNT_ACTOR_CODE } from '../state-tree'
import { mustGet } from '../block-store'
import { getMinerState, getMinerInfo } from '../miner/miner-state'
import { readPower } from '../power/power-read'
import * as dagCbor from '@ipld/dag-cbor'
import { lookbackState } from './lookback'
import { WINNING_POST_SECTOR_SET_LOOKBACK } from './params'
import type { EcMinerView } from './ec-validate'

/** The three state roots one block's checks read (Lotus: lbst, the lookback tipset's ParentStateRoot, the parent's). */
export interface EcStateRoots {
  /** The lookback state: worker key and the power the election divides. */
  lookback: CID
  /** The lookback tipset's own ParentStateRoot: whether the miner meets the consensus minimum. */
  lookbackParent: CID
  /** The parent tipset's ParentStateRoot: the miner's claim, fee debt and consensus-fault mark. */
  parent: CID
}

/** A miner's worker does not resolve to a BLS key in the lookback state (Lotus: "worker key was not BLS"). */
export class WorkerKeyError extends Error {
  static override name = 'WorkerKeyError'
  override name = 'WorkerKeyError'
}

/**
 * The worker's 48-byte BLS public key: MinerInfo.Worker is an f3 address, or an ID address whose account actor
 * holds one (Lotus GetMinerWorkerRaw → ResolveToDeterministicAddress); anything else is WorkerKeyError.
 */
export function workerKeyAt (store: BlockGetter, root: CID, worker: Uint8Array): Uint8Array {
  let key = worker
  if (worker[0] === Protocol.ID) {
    const actor = getActor(store, root, worker)
    if (actor === null || !actor.code.equals(ACCOUNT_ACTOR_CODE)) throw new WorkerKeyError('the worker ID names no account actor')
    // the account actor's State is [Address] (builtin-actors account State { address })
    let state: unknown
    try { state = dagCbor.decode(mustGet(store, actor.head)) } catch { state = null }
    if (!Array.isArray(state) || !(state[0] instanceof Uint8Array)) throw new WorkerKeyError('the worker\'s account state holds no address')
    key = state[0]
  }
  if (key[0] !== Protocol.BLS || key.length !== 49) throw new WorkerKeyError('the worker key is not a BLS key')
  return key.subarray(1)
}

/**
 * The EcMinerView of `miner` (its ID address) at `roots`, or null when the lookback state has no miner actor of
 * that address (then no block of its can be valid, and validateEcBlock refuses it by name).
 */
export function readEcMinerView (store: BlockGetter, roots: EcStateRoots, miner: Uint8Array): EcMinerView | null {
  const info = getMinerInfo(store, roots.lookback, miner)
  if (info === null) return null
  const lookback = readPower(store, roots.lookback, miner)
  const parentPower = readPower(store, roots.parent, miner)
  const parentState = getMinerState(store, roots.parent, miner)
  const parentInfo = getMinerInfo(store, roots.parent, miner)
  return {
    workerKey: workerKeyAt(store, roots.lookback, info.worker),
    lookback: { claim: lookback.claim, totalQualityAdjPower: lookback.totalQualityAdjPower },
    hasMinPower: readPower(store, roots.lookbackParent, miner).hasMinPower,
    // a miner gone from the parent state has no power and no debt to speak of: NO_POWER refuses it
    parent: { claim: parentPower.claim, feeDebt: parentState?.feeDebt ?? 0n, consensusFaultElapsed: parentInfo?.consensusFaultElapsed ?? -1 }
  }
}

/**
 * The state roots for a block at `height` on `parent` (Lotus's GetLookbackTipSetForRound and MinerGetBaseInfo):
 * when the lookback round is at or above a genesis parent, genesis's own state for both lookback roots; else
 * the ParentStateRoot of the first tipset at or above round + 1 on the parent's chain (`tipSetAtOrAbove`, which
 * skips null rounds), and for the consensus minimum that of its parent tipset (`tipSetOf` its Parents).
 */
export function ecStateRoots (
  height: Epoch,
  parent: TipSet,
  chain: { tipSetAtOrAbove: (height: Epoch) => TipSet, tipSetOf: (key: CID[]) => TipSet },
  lookback: Epoch = WINNING_POST_SECTOR_SET_LOOKBACK
): EcStateRoots {
  const parentRoot = parent.blocks[0]!.header.parentStateRoot
  const where = lookbackState(height, parent.height, lookback)
  if (where.kind === 'genesis') return { lookback: parentRoot, lookbackParent: parentRoot, parent: parentRoot }
  // round < parent height here (lookbackState), so the tipset is the parent or below it
  const after = chain.tipSetAtOrAbove(where.firstTipSetAtOrAbove)
  const lookbackTipSet = chain.tipSetOf(after.blocks[0]!.header.parents)
  return {
    lookback: after.blocks[0]!.header.parentStateRoot,
    lookbackParent: lookbackTipSet.blocks[0]!.header.parentStateRoot,
    parent: parentRoot
  }
}

/** The roots one block's checks read (EcStateRoots) and the block's own ParentStateRoot, which weighing its tipset reads. */
export interface EcBlockRoots extends EcStateRoots {
  /** The block's own ParentStateRoot: its tipset's weight divides by the total power there (Lotus filcns Weight). */
  own: CID
}

/** Everything a block's Expected Consensus checks and its tipset's weight read from state. */
export interface EcBlockState {
  /** readEcMinerView at the block's roots (null: no miner of that address at the lookback). */
  view: EcMinerView | null
  /** The network's TotalQualityAdjPower in the parent tipset's ParentStateRoot: the block's ParentWeight check. */
  parentTotalPower: StoragePower
  /** The same in the block's own ParentStateRoot: its tipset's weight. */
  ownTotalPower: StoragePower
}

/**
 * One read for everything validating a block and weighing its tipset takes from state: a full node records it
 * (recordReads) and a light client replays it over those blocks alone, under roots named by headers it verified.
 */
export function readEcBlockState (store: BlockGetter, roots: EcBlockRoots, miner: Uint8Array): EcBlockState {
  return {
    view: readEcMinerView(store, roots, miner),
    parentTotalPower: readPower(store, roots.parent, miner).totalQualityAdjPower,
    ownTotalPower: readPower(store, roots.own, miner).totalQualityAdjPower
  }
}
