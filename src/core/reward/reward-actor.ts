// The reward actor's methods (builtin-actors actors/reward/src/lib.rs, master b0a3bdd6): AwardBlockReward (2),
// which pays a block's miner its block reward for its WinCount plus the gas reward the block's messages tipped,
// ThisEpochReward (3), and UpdateNetworkKPI (4), the end-of-epoch tick. Params and returns in go-state-types'
// layouts. In the dispatch table (actors/dispatch.ts); tipset execution sends AwardBlockReward per block as
// Lotus's ApplyBlocks does (tipset-execution.ts), and every epoch's cron ticks the state (rewardCronTick).
import * as dagCbor from '@ipld/dag-cbor'
import type { CID } from '../cid'
import { getActor, setActor, creditActor, BURNT_FUNDS_ADDRESS, type Actor } from '../state-tree'
import { bytesEqual, validateAddressBytes, idAddressBytes } from '../address'
import { encodeBigInt, decodeBigInt } from '../token'
import { ActorError, ActorExit, type InvokeResult } from '../actors/actor-error'
import { resolveAddress } from '../init/init-state'
import { MINER_ACTOR_CODE } from '../market/market-state'
import { readMinerState, encodeMinerState } from '../miner/miner-state'
import {
  REWARD_ACTOR_ADDRESS, REWARD_ACTOR_CODE, SYSTEM_ACTOR_ADDRESS, encodeRewardState, readRewardState,
  type FilterEstimate, type RewardState, type StoragePowerBytes
} from './reward-state'
import { rewardForWinCount, rewardEpochTick, initialRewardState, DEVNET_REWARD_SCHEDULE, type RewardSchedule } from './reward-schedule'
import type { ActorRuntime } from '../actors/runtime'
import type { BlockStore } from '../block-store'
import type { AttoFil, Epoch } from '../units'

export const RewardMethod = {
  Constructor: 1,
  AwardBlockReward: 2,
  ThisEpochReward: 3,
  UpdateNetworkKPI: 4
} as const

/** builtin-actors actors/reward/src/lib.rs PENALTY_MULTIPLIER: a block's gas penalty is charged to its miner threefold. */
export const PENALTY_MULTIPLIER = 3n

/** builtin-actors STORAGE_POWER_ACTOR_ADDR (f04), the only caller of UpdateNetworkKPI. */
const POWER_ACTOR_ID_ADDRESS = idAddressBytes(4)

const fail = (code: number, message: string): never => { throw new ActorError(code, message) }
const NO_RETURN = new Uint8Array(0)

/** go-state-types reward AwardBlockRewardParams [Miner, Penalty, GasReward, WinCount]. */
export interface AwardBlockRewardParams { miner: Uint8Array, penalty: AttoFil, gasReward: AttoFil, winCount: number }

export const encodeAwardBlockRewardParams = (p: AwardBlockRewardParams): Uint8Array =>
  dagCbor.encode([p.miner, encodeBigInt(p.penalty), encodeBigInt(p.gasReward), p.winCount])

/** go-state-types reward ThisEpochRewardReturn [ThisEpochRewardSmoothed [Position, Velocity], ThisEpochBaselinePower]. */
export interface ThisEpochRewardReturn { thisEpochRewardSmoothed: FilterEstimate, thisEpochBaselinePower: StoragePowerBytes }

export class MalformedRewardReturnError extends Error {
  static override name = 'MalformedRewardReturnError'
  override name = 'MalformedRewardReturnError'
}

export const encodeThisEpochRewardReturn = (r: ThisEpochRewardReturn): Uint8Array => dagCbor.encode([
  [encodeBigInt(r.thisEpochRewardSmoothed.position), encodeBigInt(r.thisEpochRewardSmoothed.velocity)], encodeBigInt(r.thisEpochBaselinePower)
])

export function decodeThisEpochRewardReturn (bytes: Uint8Array): ThisEpochRewardReturn {
  let raw: unknown
  try { raw = dagCbor.decode(bytes) } catch (err) { throw new MalformedRewardReturnError(`ThisEpochReward return is not DAG-CBOR: ${(err as Error).message}`) }
  const bad = (): never => { throw new MalformedRewardReturnError('ThisEpochReward return is not [[Position, Velocity], ThisEpochBaselinePower]') }
  if (!Array.isArray(raw) || raw.length !== 2 || !Array.isArray(raw[0]) || raw[0].length !== 2) return bad()
  const [[p, v], b] = raw as [unknown[], unknown]
  if (!(p instanceof Uint8Array) || !(v instanceof Uint8Array) || !(b instanceof Uint8Array)) return bad()
  try {
    return { thisEpochRewardSmoothed: { position: decodeBigInt(p), velocity: decodeBigInt(v) }, thisEpochBaselinePower: decodeBigInt(b) }
  } catch (err) { throw new MalformedRewardReturnError(`ThisEpochReward return: ${(err as Error).message}`) }
}

/** go-state-types reward UpdateNetworkKPIParams: Option<BigInt>, serde-transparent (null or one big int). */
export const encodeUpdateNetworkKpiParams = (currRealizedPower: StoragePowerBytes | null): Uint8Array =>
  dagCbor.encode(currRealizedPower === null ? null : encodeBigInt(currRealizedPower))

function decodeParams (params: Uint8Array): unknown {
  if (params.length === 0) return fail(ActorExit.ErrIllegalArgument, 'method expects arguments')
  try { return dagCbor.decode(params) } catch (err) { return fail(ActorExit.ErrSerialization, `params are not DAG-CBOR: ${(err as Error).message}`) }
}

const bigParam = (v: unknown, what: string): bigint => {
  if (!(v instanceof Uint8Array)) return fail(ActorExit.ErrSerialization, `${what} is not a big int`)
  try { return decodeBigInt(v) } catch (err) { return fail(ActorExit.ErrSerialization, `${what}: ${(err as Error).message}`) }
}

export function decodeAwardBlockRewardParams (params: Uint8Array): AwardBlockRewardParams {
  const raw = decodeParams(params)
  if (!Array.isArray(raw) || raw.length !== 4) return fail(ActorExit.ErrSerialization, 'params are not [Miner, Penalty, GasReward, WinCount]')
  const [miner, penalty, gasReward, winCount] = raw as unknown[]
  if (!(miner instanceof Uint8Array)) return fail(ActorExit.ErrSerialization, 'Miner is not an address')
  try { validateAddressBytes(miner) } catch (err) { return fail(ActorExit.ErrSerialization, `Miner: ${(err as Error).message}`) }
  // WinCount is an i64; a negative one decodes and is refused by the method's own check, as in builtin-actors
  if (typeof winCount !== 'number' || !Number.isSafeInteger(winCount)) return fail(ActorExit.ErrSerialization, 'WinCount is not an integer')
  return { miner, penalty: bigParam(penalty, 'Penalty'), gasReward: bigParam(gasReward, 'GasReward'), winCount }
}

function loadReward (rt: ActorRuntime, root: CID): { actor: NonNullable<ReturnType<typeof getActor>>, state: RewardState } {
  const actor = getActor(rt.store, root, REWARD_ACTOR_ADDRESS)
  if (actor === null || !actor.code.equals(REWARD_ACTOR_CODE)) return fail(ActorExit.ErrIllegalState, 'this chain has no reward actor')
  return { actor, state: readRewardState(rt.store, actor.head) }
}

/**
 * AwardBlockReward([Miner, Penalty, GasReward, WinCount]), builtin-actors award_block_reward check by check:
 * only the system actor (f00) may call (ErrForbidden); a negative penalty or gas reward is ErrIllegalArgument;
 * a balance below the gas reward is ErrIllegalState (the block's tips must already sit in f02, where Filecoin's
 * message application puts each MinerTip: ref-fvm executor transfer_to_actor(REWARD_ACTOR_ID, miner_tip));
 * WinCount ≤ 0 is ErrIllegalArgument; a Miner that resolves to no actor is ErrNotFound. The block reward is
 * rewardForWinCount; when the balance cannot cover block reward + gas reward, the rest of the balance is paid
 * (builtin-actors warns and pays out what is left). TotalStoragePowerReward grows by the block reward paid.
 *
 * Paying: builtin-actors sends the total to the miner's ApplyRewards (14), which locks 75 % of the block reward
 * as vesting LockedFunds (locked_reward_from_reward: 180 days linear) and charges Penalty × 3 as fee debt
 * repaid from the miner's funds. Coffer's miner actor has no ApplyRewards and no vesting table (miner-state.ts:
 * VestingFunds is always null), so this does the same state change in place: the whole reward goes to the miner
 * actor's balance, unlocked, withdrawable by its owner with WithdrawBalance — a devnet has no long-term
 * security to buy with vesting. The penalty follows ApplyRewards: apply_penalty adds it to FeeDebt, then
 * repay_partial_debt_in_priority_order pays the debt from the unlocked balance (balance − PreCommitDeposits −
 * LockedFunds − InitialPledge, get_unlocked_balance) and burns it; what it cannot pay stays FeeDebt (which
 * makes the miner ineligible to mine). Coffer's message application charges no MinerPenalty today (it burns
 * GasUsed × min(BaseFee, GasFeeCap) and nothing for the shortfall), so Penalty is 0 from Coffer's own caller.
 * When Miner is not a miner actor (an account, Coffer's system-code single producer), builtin-actors' send to
 * ApplyRewards fails and the total goes to the burnt-funds actor: so here.
 */
export function rewardAwardBlockReward (rt: ActorRuntime, root: CID, params: Uint8Array): InvokeResult {
  if (!bytesEqual(rt.caller, SYSTEM_ACTOR_ADDRESS)) fail(ActorExit.ErrForbidden, 'only the system actor may award block rewards')
  const p = decodeAwardBlockRewardParams(params)
  const reward = loadReward(rt, root)
  const priorBalance = reward.actor.balance
  if (p.penalty < 0n) fail(ActorExit.ErrIllegalArgument, `negative penalty ${p.penalty}`)
  if (p.gasReward < 0n) fail(ActorExit.ErrIllegalArgument, `negative gas reward ${p.gasReward}`)
  if (priorBalance < p.gasReward) fail(ActorExit.ErrIllegalState, `actor current balance ${priorBalance} insufficient to pay gas reward ${p.gasReward}`)
  if (p.winCount <= 0) fail(ActorExit.ErrIllegalArgument, `invalid win count ${p.winCount}`)
  const minerId = resolveAddress(rt.store, root, p.miner)
  const minerActor = minerId === null ? null : getActor(rt.store, root, minerId)
  if (minerId === null || minerActor === null) return fail(ActorExit.ErrNotFound, 'failed to resolve given owner address')
  const penalty = p.penalty * PENALTY_MULTIPLIER

  let blockReward = rewardForWinCount(reward.state, p.winCount)
  let total = p.gasReward + blockReward
  if (total > priorBalance) {
    total = priorBalance
    blockReward = total - p.gasReward // ≥ 0: the gas reward was checked against the balance above
  }
  const state: RewardState = { ...reward.state, totalStoragePowerReward: reward.state.totalStoragePowerReward + blockReward }
  root = setActor(rt.store, root, REWARD_ACTOR_ADDRESS, { ...reward.actor, balance: priorBalance - total, head: rt.store.put(encodeRewardState(state)) })

  if (!minerActor.code.equals(MINER_ACTOR_CODE)) return { root: creditActor(rt.store, root, BURNT_FUNDS_ADDRESS, total), return: NO_RETURN }
  return { root: applyRewardsToMiner(rt, root, minerId, total, penalty), return: NO_RETURN }
}

/** The state change of builtin-actors miner ApplyRewards, on Coffer's miner (no vesting): see rewardAwardBlockReward. */
function applyRewardsToMiner (rt: ActorRuntime, root: CID, miner: Uint8Array, reward: AttoFil, penalty: AttoFil): CID {
  const actor = getActor(rt.store, root, miner)!
  const st = readMinerState(rt.store, actor.head)
  const balance = actor.balance + reward
  const feeDebt = st.feeDebt + penalty
  const unlocked = balance - st.preCommitDeposits - st.lockedFunds - st.initialPledge
  const repaid = unlocked <= 0n ? 0n : (unlocked < feeDebt ? unlocked : feeDebt)
  const head = feeDebt - repaid === st.feeDebt ? actor.head : rt.store.put(encodeMinerState({ ...st, feeDebt: feeDebt - repaid }))
  root = setActor(rt.store, root, miner, { ...actor, balance: balance - repaid, head })
  return creditActor(rt.store, root, BURNT_FUNDS_ADDRESS, repaid)
}

/**
 * The end-of-epoch tick the power actor's on_epoch_tick_end sends as UpdateNetworkKPI (builtin-actors
 * actors/power/src/lib.rs: after its own tick, every epoch including null ones), applied in place the way
 * Coffer's power tick is (power-claims.ts powerEpochTickEnd): no message, the same state change. A state
 * with no reward actor is left as it is (a chain's genesis always has one; hand-made test trees may not).
 */
export function rewardCronTick (store: BlockStore, root: CID, epoch: Epoch, schedule: RewardSchedule = DEVNET_REWARD_SCHEDULE): CID {
  const actor = getActor(store, root, REWARD_ACTOR_ADDRESS)
  if (actor === null) return root
  if (!actor.code.equals(REWARD_ACTOR_CODE)) throw new ActorError(ActorExit.ErrIllegalState, 'f02 is not the reward actor')
  const state = rewardEpochTick(readRewardState(store, actor.head), epoch, schedule)
  return setActor(store, root, REWARD_ACTOR_ADDRESS, { ...actor, head: store.put(encodeRewardState(state)) })
}

/** ThisEpochReward() → [ThisEpochRewardSmoothed, ThisEpochBaselinePower]; any caller (validate_immediate_caller_accept_any). */
export function rewardThisEpochReward (rt: ActorRuntime, root: CID, _params: Uint8Array): InvokeResult {
  const { state } = loadReward(rt, root)
  return { root, return: encodeThisEpochRewardReturn({ thisEpochRewardSmoothed: state.thisEpochRewardSmoothed, thisEpochBaselinePower: state.thisEpochBaselinePower }) }
}

/**
 * UpdateNetworkKPI(CurrRealizedPower): only the power actor (f04) may call (ErrForbidden); a null argument is
 * ErrIllegalArgument ("argument cannot be None"); then rewardEpochTick at the current epoch. The power only
 * feeds Filecoin's baseline minting, which Coffer's schedule does not have: it is checked and not used.
 */
export function rewardUpdateNetworkKpi (rt: ActorRuntime, root: CID, params: Uint8Array, schedule: RewardSchedule = DEVNET_REWARD_SCHEDULE): InvokeResult {
  if (!bytesEqual(rt.caller, POWER_ACTOR_ID_ADDRESS)) fail(ActorExit.ErrForbidden, 'only the power actor may update network KPIs')
  const raw = decodeParams(params)
  if (raw === null) fail(ActorExit.ErrIllegalArgument, 'argument cannot be None')
  bigParam(raw, 'CurrRealizedPower')
  loadReward(rt, root)
  return { root: rewardCronTick(rt.store, root, rt.epoch, schedule), return: NO_RETURN }
}

/**
 * The reward actor a genesis places at f02 (Lotus chain/gen/genesis/f02_reward.go SetupRewardActor writes State::new
 * and funds it with buildconstants.InitialRewardBalance): the initial state, holding `balance` — by default SimpleTotal, what the
 * schedule mints at the expected leader count.
 */
export function genesisRewardActor (store: BlockStore, schedule: RewardSchedule = DEVNET_REWARD_SCHEDULE, balance?: AttoFil): Actor {
  const state = initialRewardState(schedule)
  return { code: REWARD_ACTOR_CODE, head: store.put(encodeRewardState(state)), nonce: 0, balance: balance ?? state.simpleTotal, delegatedAddress: null }
}
