// The reward actor (f02): Filecoin's reward State in builtin-actors' field order (actors/reward/src/state.rs,
// master b0a3bdd6): [CumsumBaseline, CumsumRealized, EffectiveNetworkTime, EffectiveBaselinePower,
// ThisEpochReward, ThisEpochRewardSmoothed [Position, Velocity], ThisEpochBaselinePower, Epoch,
// TotalStoragePowerReward, SimpleTotal, BaselineTotal].
// What Coffer computes: ThisEpochReward, its smoothed estimate, Epoch, TotalStoragePowerReward and SimpleTotal
// (reward-schedule.ts says how). Coffer mints no baseline reward, so the baseline fields (CumsumBaseline,
// CumsumRealized, EffectiveNetworkTime, EffectiveBaselinePower, ThisEpochBaselinePower, BaselineTotal) are
// written as their zero values, never invented.
import * as dagCbor from '@ipld/dag-cbor'
import { MalformedStateError } from '../hamt'
import { mustGet, type BlockGetter } from '../block-store'
import { getActor, builtinActorCode } from '../state-tree'
import { idAddressBytes } from '../address'
import { encodeBigInt } from '../token'
import { bigIntField } from '../market/market-state'
import type { CID } from '../cid'
import type { AttoFil, Epoch } from '../units'

export { MalformedStateError }

/** builtin-actors runtime/src/builtin/singletons.rs REWARD_ACTOR_ID = 2. */
export const REWARD_ACTOR_ADDRESS = idAddressBytes(2)
export const REWARD_ACTOR_CODE = builtinActorCode('reward')
/** builtin-actors SYSTEM_ACTOR_ID = 0: the only caller of AwardBlockReward (Lotus sends it as an implicit message). */
export const SYSTEM_ACTOR_ADDRESS = idAddressBytes(0)

/**
 * builtin-actors runtime/src/builtin/reward/smooth/alpha_beta_filter.rs FilterEstimate: Q.128 fixed-point
 * position and velocity (PRECISION = 128, runtime/src/builtin/reward/math.rs).
 */
export interface FilterEstimate { position: bigint, velocity: bigint }

/** Bytes of storage power, as power-state.ts's StoragePower (kept local so reward does not import power). */
export type StoragePowerBytes = bigint

export interface RewardState {
  /** Zero on Coffer (no baseline minting). Byte-epochs in Filecoin. */
  cumsumBaseline: bigint
  /** Zero on Coffer (no baseline minting). */
  cumsumRealized: bigint
  /** Zero on Coffer (no baseline minting). */
  effectiveNetworkTime: Epoch
  /** Zero on Coffer (no baseline minting). */
  effectiveBaselinePower: StoragePowerBytes
  /** What all of an epoch's expected leaders earn together; one win earns it / BLOCKS_PER_EPOCH. */
  thisEpochReward: AttoFil
  thisEpochRewardSmoothed: FilterEstimate
  /** Zero on Coffer (no baseline minting). */
  thisEpochBaselinePower: StoragePowerBytes
  /** The epoch ThisEpochReward was computed for (one past the last tick's epoch). */
  epoch: Epoch
  /** Every block reward paid so far (gas rewards not included, as in builtin-actors). */
  totalStoragePowerReward: AttoFil
  /** Everything Coffer's schedule mints over the chain's life at the expected leader count (reward-schedule.ts). */
  simpleTotal: AttoFil
  /** Zero on Coffer (no baseline minting). */
  baselineTotal: AttoFil
}

export function encodeRewardState (s: RewardState): Uint8Array {
  const b = encodeBigInt
  return dagCbor.encode([
    b(s.cumsumBaseline), b(s.cumsumRealized), s.effectiveNetworkTime, b(s.effectiveBaselinePower),
    b(s.thisEpochReward), [b(s.thisEpochRewardSmoothed.position), b(s.thisEpochRewardSmoothed.velocity)],
    b(s.thisEpochBaselinePower), s.epoch, b(s.totalStoragePowerReward), b(s.simpleTotal), b(s.baselineTotal)
  ])
}

const int = (v: unknown, what: string): number => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new MalformedStateError(`reward state ${what} is not an integer in range`)
  return v
}

export function decodeRewardState (bytes: Uint8Array): RewardState {
  let raw: unknown
  try { raw = dagCbor.decode(bytes) } catch (err) { throw new MalformedStateError(`reward state is not DAG-CBOR: ${(err as Error).message}`) }
  if (!Array.isArray(raw) || raw.length !== 11) throw new MalformedStateError('reward state is not an 11-field tuple')
  const big = (i: number, what: string): bigint => bigIntField(raw[i], `reward ${what}`)
  const amount = (i: number, what: string): AttoFil => {
    const v = big(i, what)
    if (v < 0n) throw new MalformedStateError(`reward ${what} is negative`)
    return v
  }
  const smoothed = raw[5] as unknown
  if (!Array.isArray(smoothed) || smoothed.length !== 2) throw new MalformedStateError('reward ThisEpochRewardSmoothed is not [Position, Velocity]')
  return {
    cumsumBaseline: big(0, 'CumsumBaseline'),
    cumsumRealized: big(1, 'CumsumRealized'),
    effectiveNetworkTime: int(raw[2], 'EffectiveNetworkTime'),
    effectiveBaselinePower: big(3, 'EffectiveBaselinePower'),
    thisEpochReward: amount(4, 'ThisEpochReward'),
    thisEpochRewardSmoothed: {
      position: bigIntField(smoothed[0], 'reward smoothed position'),
      velocity: bigIntField(smoothed[1], 'reward smoothed velocity')
    },
    thisEpochBaselinePower: big(6, 'ThisEpochBaselinePower'),
    epoch: int(raw[7], 'Epoch'),
    totalStoragePowerReward: amount(8, 'TotalStoragePowerReward'),
    simpleTotal: amount(9, 'SimpleTotal'),
    baselineTotal: amount(10, 'BaselineTotal')
  }
}

export const readRewardState = (store: BlockGetter, head: CID): RewardState => decodeRewardState(mustGet(store, head))

/** The reward state of the chain at `root`, or null when it has no reward actor. */
export function rewardStateAt (store: BlockGetter, root: CID): RewardState | null {
  const actor = getActor(store, root, REWARD_ACTOR_ADDRESS)
  if (actor === null) return null
  if (!actor.code.equals(REWARD_ACTOR_CODE)) throw new MalformedStateError('f02 is not the reward actor')
  return readRewardState(store, actor.head)
}
