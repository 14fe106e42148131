// Claimed power: how a miner's claim and the network totals change (builtin-actors actors/power/src/state.rs
// add_to_claim, lib.rs update_claimed_power and on_epoch_tick_end), as pure functions over the power State.
// Coffer's power comes from deals proven in the market's cron (market-actor.ts runMarketCron), which calls
// updateClaimedPowers once per proving-period boundary with each miner's net change.
import type { CID } from '../cid'
import type { BlockStore } from '../block-store'
import { hamtGet } from '../hamt'
import { getActor, setActor } from '../state-tree'
import { idOf } from '../address'
import { ActorError, ActorExit } from '../actors/actor-error'
import {
  POWER_ACTOR_ADDRESS, POWER_ACTOR_CODE, CONSENSUS_MINER_MIN_MINERS, consensusMinerMinPower, decodeClaim, encodePowerState, readPowerState, setClaim,
  type PowerState, type StoragePower
} from './power-state'

const fail = (code: number, message: string): never => { throw new ActorError(code, message) }

/**
 * state.rs add_to_claim: the miner's claim changes by the deltas; TotalBytesCommitted and TotalQABytesCommitted
 * always do; TotalRawBytePower, TotalQualityAdjPower and MinerAboveMinPowerCount count only claims at or above
 * the consensus minimum (consensus_miner_min_power of the claim's proof type), so a claim that crosses it
 * brings (or takes) its whole power into (out of) the totals, and one that stays above moves them by the delta.
 * The invariant this keeps: TotalRawBytePower = Σ RawBytePower over claims ≥ the minimum (the same for QA), and
 * MinerAboveMinPowerCount = how many such claims. ActorError as builtin-actors: not_found without a claim,
 * illegal_state for an unknown proof type or a negative result.
 */
export function addToClaim (store: BlockStore, state: PowerState, miner: Uint8Array, rawDelta: StoragePower, qaDelta: StoragePower): PowerState {
  const raw = hamtGet(store, state.claims, miner)
  if (raw === undefined) return fail(ActorExit.ErrNotFound, `no claim for actor ${idOf(miner) ?? 'with a non-ID address'}`)
  const old = decodeClaim(raw)
  const next = { ...old, rawBytePower: old.rawBytePower + rawDelta, qualityAdjPower: old.qualityAdjPower + qaDelta }
  let min: StoragePower
  try { min = consensusMinerMinPower(old.windowPoStProofType) } catch (err) { return fail(ActorExit.ErrIllegalState, (err as Error).message) }
  const prevBelow = old.rawBytePower < min
  const stillBelow = next.rawBytePower < min
  let s: PowerState = { ...state, totalBytesCommitted: state.totalBytesCommitted + rawDelta, totalQABytesCommitted: state.totalQABytesCommitted + qaDelta }
  if (prevBelow && !stillBelow) {
    // just passed the minimum: the whole claim enters the totals
    s = { ...s, minerAboveMinPowerCount: s.minerAboveMinPowerCount + 1, totalRawBytePower: s.totalRawBytePower + next.rawBytePower, totalQualityAdjPower: s.totalQualityAdjPower + next.qualityAdjPower }
  } else if (!prevBelow && stillBelow) {
    // just went below it: the whole old claim leaves them
    s = { ...s, minerAboveMinPowerCount: s.minerAboveMinPowerCount - 1, totalRawBytePower: s.totalRawBytePower - old.rawBytePower, totalQualityAdjPower: s.totalQualityAdjPower - old.qualityAdjPower }
  } else if (!prevBelow && !stillBelow) {
    s = { ...s, totalRawBytePower: s.totalRawBytePower + rawDelta, totalQualityAdjPower: s.totalQualityAdjPower + qaDelta }
  }
  if (next.rawBytePower < 0n) fail(ActorExit.ErrIllegalState, `negative claimed raw byte power: ${next.rawBytePower}`)
  if (next.qualityAdjPower < 0n) fail(ActorExit.ErrIllegalState, `negative claimed quality adjusted power: ${next.qualityAdjPower}`)
  if (s.minerAboveMinPowerCount < 0) fail(ActorExit.ErrIllegalState, `negative count of miners above the minimum: ${s.minerAboveMinPowerCount}`)
  // builtin-actors' totals are checked_sub(...).expect(...): a panic, never negative
  if (s.totalRawBytePower < 0n || s.totalQualityAdjPower < 0n) fail(ActorExit.ErrIllegalState, 'negative total power')
  return setClaim(store, s, miner, next)
}

/** One miner's net change of claimed power (UpdateClaimedPowerParams [RawByteDelta, QualityAdjustedDelta]). */
export interface ClaimedPowerDelta { miner: Uint8Array, rawByteDelta: StoragePower, qualityAdjustedDelta: StoragePower }

function loadPower (store: BlockStore, root: CID): { actor: NonNullable<ReturnType<typeof getActor>>, state: PowerState } {
  const actor = getActor(store, root, POWER_ACTOR_ADDRESS)
  if (actor === null || !actor.code.equals(POWER_ACTOR_CODE)) return fail(ActorExit.ErrIllegalState, 'this chain has no storage power actor')
  return { actor, state: readPowerState(store, actor.head) }
}

/**
 * Applies each miner's delta to its claim (add_to_claim), in miner ID order, and writes the power actor once.
 * What Filecoin does with one UpdateClaimedPower (method 3) per miner; the order does not change the result
 * (each claim's move across the minimum depends on that claim alone), ID order only makes the writes the same
 * on every node. Deltas of zero are skipped; none at all leaves `root` as it is.
 */
export function updateClaimedPowers (store: BlockStore, root: CID, deltas: ClaimedPowerDelta[]): CID {
  const moving = deltas.filter(d => d.rawByteDelta !== 0n || d.qualityAdjustedDelta !== 0n)
  if (moving.length === 0) return root
  const power = loadPower(store, root)
  let state = power.state
  const byId = [...moving].sort((a, b) => {
    const d = (idOf(a.miner) ?? -1n) - (idOf(b.miner) ?? -1n)
    return d < 0n ? -1 : d > 0n ? 1 : 0
  })
  for (const d of byId) state = addToClaim(store, state, d.miner, d.rawByteDelta, d.qualityAdjustedDelta)
  return setActor(store, root, POWER_ACTOR_ADDRESS, { ...power.actor, head: store.put(encodePowerState(state)) })
}

/**
 * state.rs current_total_power: while fewer than CONSENSUS_MINER_MIN_MINERS miners are above the minimum, the
 * power committed by all (TotalBytesCommitted, TotalQABytesCommitted); from then on, the power of those above
 * it (TotalRawBytePower, TotalQualityAdjPower).
 */
export function currentTotalPower (state: PowerState): { rawBytePower: StoragePower, qualityAdjPower: StoragePower } {
  return state.minerAboveMinPowerCount < CONSENSUS_MINER_MIN_MINERS
    ? { rawBytePower: state.totalBytesCommitted, qualityAdjPower: state.totalQABytesCommitted }
    : { rawBytePower: state.totalRawBytePower, qualityAdjPower: state.totalQualityAdjPower }
}

/**
 * lib.rs on_epoch_tick_end, the part Coffer has: ThisEpochRawBytePower and ThisEpochQualityAdjPower become
 * current_total_power() and ThisEpochPledgeCollateral the TotalPledgeCollateral, so CurrentTotalPower answers
 * the same figures to every message of the next epoch. Run once per epoch after the market's cron (Filecoin's
 * cron ticks the power actor first, but there the claims change inside that tick, in the miners' deferred
 * cron events; in Coffer they change in the market's cron, so the tick comes after it).
 * Left out: process_deferred_cron_events (Coffer's miners enroll none), the reward actor's ThisEpochReward and
 * UpdateNetworkKPI (Coffer has no reward actor), and update_smoothed_estimate: ThisEpochQAPowerSmoothed stays
 * [0, 0] since its alpha-beta filter (Q.128 fixed point, reward actor smooth.rs) feeds only pledge and reward
 * calculations Coffer does not make. Leaves `root` as it is when nothing changes.
 */
export function powerEpochTickEnd (store: BlockStore, root: CID): CID {
  const actor = getActor(store, root, POWER_ACTOR_ADDRESS)
  if (actor === null || !actor.code.equals(POWER_ACTOR_CODE)) return root
  const state = readPowerState(store, actor.head)
  const total = currentTotalPower(state)
  if (state.thisEpochRawBytePower === total.rawBytePower && state.thisEpochQualityAdjPower === total.qualityAdjPower &&
    state.thisEpochPledgeCollateral === state.totalPledgeCollateral) return root
  const next = { ...state, thisEpochRawBytePower: total.rawBytePower, thisEpochQualityAdjPower: total.qualityAdjPower, thisEpochPledgeCollateral: state.totalPledgeCollateral }
  return setActor(store, root, POWER_ACTOR_ADDRESS, { ...actor, head: store.put(encodePowerState(next)) })
}
