// Coffer's devnet block-reward schedule and the pure steps the reward actor takes with it: the reward for a
// block's WinCount (builtin-actors' formula and rounding), the epoch tick (what UpdateNetworkKPI does here),
// the smoothed estimate (builtin-actors' alpha-beta filter) and the genesis state.
//
// The schedule: ThisEpochReward starts at a round figure (DEVNET_REWARD_SCHEDULE: 5 FIL per epoch, so a win
// earns 1 FIL) and halves every `halvingEpochs` epochs, rounded down to a multiple of BLOCKS_PER_EPOCH attoFIL.
// Why this and not Filecoin's minting: Filecoin mints SimpleTotal × (1 − e^−λ) × e^−λt per epoch plus a
// baseline part driven by network power against a 1 EiB-and-growing target (actors/reward/src/logic.rs
// compute_reward). A devnet of a few providers storing MiBs never reaches any baseline, so the baseline part
// would be ~0 forever, and the simple part needs expneg's Q.128 polynomial for a curve whose half-life is six
// years. A step halving is the same shape (a geometric decay with a known total) in integer arithmetic anyone
// can recompute by hand, and its total (SimpleTotal) is exact.
// The rounding: builtin-actors pays (ThisEpochReward × WinCount) div_floor EXPECTED_LEADERS_PER_EPOCH per block
// (actors/reward/src/lib.rs award_block_reward). Coffer keeps that formula unchanged and keeps ThisEpochReward a
// multiple of BLOCKS_PER_EPOCH, so the floor never drops an attoFIL: a tipset's blocks together are paid exactly
// ThisEpochReward × ΣWinCount / BLOCKS_PER_EPOCH.
import { BLOCKS_PER_EPOCH } from '../consensus/params'
import { ATTO_PER_FIL } from '../token'
import type { FilterEstimate, RewardState } from './reward-state'
import type { AttoFil, Epoch } from '../units'

export interface RewardSchedule {
  /** ThisEpochReward from epoch 0 (a multiple of BLOCKS_PER_EPOCH attoFIL). */
  initialEpochReward: AttoFil
  /** Epochs between halvings (≥ 1). */
  halvingEpochs: Epoch
}

/**
 * 5 FIL per epoch (1 FIL per win), halving every 1,000,000 epochs (11.6 days of the devnet's 1 s epochs, so a
 * long-running devnet sees halvings and the reward is gone after ~60 of them, ≈ 2 years). SimpleTotal: just
 * under 10 M FIL, far inside Filecoin's 2 G FIL supply; the genesis gives the reward actor that much.
 */
export const DEVNET_REWARD_SCHEDULE: RewardSchedule = { initialEpochReward: 5n * ATTO_PER_FIL, halvingEpochs: 1_000_000 }

export class InvalidRewardScheduleError extends RangeError {
  static override name = 'InvalidRewardScheduleError'
  override name = 'InvalidRewardScheduleError'
}

export class InvalidWinCountError extends RangeError {
  static override name = 'InvalidWinCountError'
  override name = 'InvalidWinCountError'
}

const BPE = BigInt(BLOCKS_PER_EPOCH)

export function validateRewardSchedule (s: RewardSchedule): RewardSchedule {
  if (s.initialEpochReward <= 0n || s.initialEpochReward % BPE !== 0n) {
    throw new InvalidRewardScheduleError(`initial epoch reward ${s.initialEpochReward} is not a positive multiple of ${BLOCKS_PER_EPOCH} attoFIL`)
  }
  if (!Number.isSafeInteger(s.halvingEpochs) || s.halvingEpochs < 1) throw new InvalidRewardScheduleError(`halving interval ${s.halvingEpochs} is not a positive number of epochs`)
  return s
}

/** ThisEpochReward after `halvings` halvings: floor(initial / BLOCKS_PER_EPOCH / 2^halvings) × BLOCKS_PER_EPOCH. */
const rewardAfterHalvings = (s: RewardSchedule, halvings: number): AttoFil => ((s.initialEpochReward / BPE) >> BigInt(halvings)) * BPE

/** The schedule's ThisEpochReward for `epoch` (≥ 0). */
export function scheduledEpochReward (epoch: Epoch, schedule: RewardSchedule = DEVNET_REWARD_SCHEDULE): AttoFil {
  validateRewardSchedule(schedule)
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new RangeError(`epoch ${epoch} is not a chain epoch`)
  return rewardAfterHalvings(schedule, Math.floor(epoch / schedule.halvingEpochs))
}

/** Σ over all epochs of ThisEpochReward: everything the schedule mints when each epoch has the expected wins. */
export function scheduleSimpleTotal (schedule: RewardSchedule = DEVNET_REWARD_SCHEDULE): AttoFil {
  validateRewardSchedule(schedule)
  let total = 0n
  for (let k = 0; ; k++) {
    const r = rewardAfterHalvings(schedule, k)
    if (r === 0n) return total
    total += r * BigInt(schedule.halvingEpochs)
  }
}

/**
 * A block's reward for `winCount` wins: (ThisEpochReward × WinCount) div_floor BLOCKS_PER_EPOCH, builtin-actors
 * award_block_reward exactly. WinCount must be positive (InvalidWinCountError), as the actor requires.
 */
export function rewardForWinCount (state: Pick<RewardState, 'thisEpochReward'>, winCount: number): AttoFil {
  if (!Number.isSafeInteger(winCount) || winCount <= 0) throw new InvalidWinCountError(`invalid win count ${winCount}`)
  // both operands are non-negative, so bigint division (truncating) is div_floor
  return (state.thisEpochReward * BigInt(winCount)) / BPE
}

// ---- the smoothed estimate: builtin-actors runtime/src/builtin/reward/smooth ----

/** builtin-actors runtime/src/builtin/reward/math.rs PRECISION: FilterEstimate is Q.128. */
export const FILTER_PRECISION = 128n
/** builtin-actors runtime/src/builtin/reward/smooth/smooth_func.rs DEFAULT_ALPHA (Q.128). */
export const DEFAULT_ALPHA = 314760000000000000000000000000000000n
/** builtin-actors runtime/src/builtin/reward/smooth/smooth_func.rs DEFAULT_BETA (Q.128). */
export const DEFAULT_BETA = 96640100000000000000000000000000n

/** num-integer's div_floor: rounds toward −∞ (bigint `/` truncates toward 0). */
const divFloor = (a: bigint, b: bigint): bigint => {
  const q = a / b
  return (a % b !== 0n && (a < 0n) !== (b < 0n)) ? q - 1n : q
}

/** FilterEstimate::new: Q.0 position and velocity into Q.128. */
export const filterEstimate = (position: bigint, velocity: bigint): FilterEstimate =>
  ({ position: position << FILTER_PRECISION, velocity: velocity << FILTER_PRECISION })

/**
 * AlphaBetaFilter::next_estimate(obs, epoch_delta) with DEFAULT_ALPHA and DEFAULT_BETA. BigInt `>>` rounds
 * toward −∞ in both num-bigint and JavaScript, so the shifts agree on negative residuals.
 */
export function nextFilterEstimate (prev: FilterEstimate, observation: bigint, epochDelta: Epoch): FilterEstimate {
  if (!Number.isSafeInteger(epochDelta) || epochDelta < 1) throw new RangeError(`filter epoch delta ${epochDelta} is not positive`)
  const deltaT = BigInt(epochDelta) << FILTER_PRECISION
  let position = ((deltaT * prev.velocity) >> FILTER_PRECISION) + prev.position
  const residual = (observation << FILTER_PRECISION) - position
  position += (DEFAULT_ALPHA * residual) >> FILTER_PRECISION
  const velocity = divFloor(residual * DEFAULT_BETA, deltaT) + prev.velocity
  return { position, velocity }
}

// ---- genesis and the tick ----

/**
 * builtin-actors State::new as Coffer's schedule fills it: Epoch starts at EPOCH_UNDEFINED (−1) and one
 * update_to_next_epoch_with_reward brings it to 0 with ThisEpochReward for epoch 0. The smoothed estimate starts,
 * like Filecoin's INITIAL_REWARD_POSITION/VELOCITY_ESTIMATE (the simple reward at epoch 0 and its change to
 * epoch 1), at this schedule's reward at epoch 0 and its change to epoch 1. Baseline fields zero.
 */
export function initialRewardState (schedule: RewardSchedule = DEVNET_REWARD_SCHEDULE): RewardState {
  const r0 = scheduledEpochReward(0, schedule)
  const r1 = scheduledEpochReward(1, schedule)
  return {
    cumsumBaseline: 0n,
    cumsumRealized: 0n,
    effectiveNetworkTime: 0,
    effectiveBaselinePower: 0n,
    thisEpochReward: r0,
    thisEpochRewardSmoothed: filterEstimate(r0, r1 - r0),
    thisEpochBaselinePower: 0n,
    epoch: 0,
    totalStoragePowerReward: 0n,
    simpleTotal: scheduleSimpleTotal(schedule),
    baselineTotal: 0n
  }
}

/**
 * What UpdateNetworkKPI does at the end of epoch `currEpoch` (builtin-actors update_network_kpi): Epoch catches
 * up over null rounds to `currEpoch`, then steps once more; ThisEpochReward is the schedule's figure for that
 * next epoch (paid by the next non-null epoch's blocks), and the smoothed estimate takes it as an observation
 * over the epochs passed. The realized power Filecoin passes in drives only baseline minting, which Coffer does
 * not have, so it is not an argument here.
 */
export function rewardEpochTick (state: RewardState, currEpoch: Epoch, schedule: RewardSchedule = DEVNET_REWARD_SCHEDULE): RewardState {
  if (!Number.isSafeInteger(currEpoch) || currEpoch < 0) throw new RangeError(`epoch ${currEpoch} is not a chain epoch`)
  const prev = state.epoch
  // while st.epoch < curr_epoch { st.epoch += 1 } then one more step (update_to_next_epoch_with_reward)
  const epoch = Math.max(state.epoch, currEpoch) + 1
  const thisEpochReward = scheduledEpochReward(epoch, schedule)
  return { ...state, epoch, thisEpochReward, thisEpochRewardSmoothed: nextFilterEstimate(state.thisEpochRewardSmoothed, thisEpochReward, epoch - prev) }
}
