// The reward actor (issue 13 part 4): its State in builtin-actors' field order (hand-written CBOR), the devnet
// schedule (halvings, SimpleTotal, ThisEpochReward always a multiple of BLOCKS_PER_EPOCH so builtin-actors'
// floor per WinCount loses nothing across a tipset), the tick over null rounds, AwardBlockReward's checks by
// exit code, payment to a miner (penalty ×3 repaid from unlocked funds, the rest fee debt) or to burnt funds.
import { describe, it, expect, beforeEach } from 'vitest'
import * as dagCbor from '@ipld/dag-cbor'
import {
  createGenesis, getActor, setActor, creditActor, secpPublicKey, secpAddressBytes, idAddressBytes, blsPublicKey, blsAddressBytes, chainCid, callRuntime,
  getMinerState, encodeMinerState, readMinerState, ActorError, ActorExit, BURNT_FUNDS_ADDRESS, ATTO_PER_FIL, BLOCKS_PER_EPOCH, MAX_WIN_COUNT,
  type CID, type Genesis, type Epoch,
  type BeaconEntry
} from '../../src/core'
import {
  REWARD_ACTOR_ADDRESS, SYSTEM_ACTOR_ADDRESS, DEVNET_REWARD_SCHEDULE, encodeRewardState, decodeRewardState, rewardStateAt, initialRewardState,
  scheduledEpochReward, scheduleSimpleTotal, rewardForWinCount, rewardEpochTick, nextFilterEstimate, filterEstimate, genesisRewardActor,
  rewardAwardBlockReward, rewardThisEpochReward, rewardUpdateNetworkKpi, encodeAwardBlockRewardParams, decodeThisEpochRewardReturn,
  encodeUpdateNetworkKpiParams, PENALTY_MULTIPLIER, type RewardState, type AwardBlockRewardParams
} from '../../src/core/reward'
import { TEST_BEACON } from '../helpers/test-beacon'

const FIL = ATTO_PER_FIL
const BPE = BigInt(BLOCKS_PER_EPOCH)
const hex = (b: Uint8Array): string => Array.from(b, x => x.toString(16).padStart(2, '0')).join('')
const fromHex = (h: string): Uint8Array => Uint8Array.from(h.match(/../g)!.map(x => parseInt(x, 16)))

describe('reward State encoding', () => {
  // every field a different value, so a swapped pair shows in the bytes
  const s: RewardState = {
    cumsumBaseline: 1n, cumsumRealized: 2n, effectiveNetworkTime: 3, effectiveBaselinePower: 4n, thisEpochReward: 5n,
    thisEpochRewardSmoothed: { position: 6n, velocity: 7n }, thisEpochBaselinePower: 8n, epoch: 9, totalStoragePowerReward: 10n,
    simpleTotal: 11n, baselineTotal: 12n
  }
  // hand-written from builtin-actors actors/reward/src/state.rs (b0a3bdd6): an 11-tuple, big ints as byte strings
  // [sign 0x00, magnitude], EffectiveNetworkTime and Epoch as CBOR ints, the smoothed estimate a 2-tuple
  const expected = '8b' + '420001' + '420002' + '03' + '420004' + '420005' + '82' + '420006' + '420007' + '420008' + '09' + '42000a' + '42000b' + '42000c'

  it('writes the fields in builtin-actors order and reads them back', () => {
    expect(hex(encodeRewardState(s))).toBe(expected)
    expect(decodeRewardState(fromHex(expected))).toEqual(s)
    const genesisState = initialRewardState()
    expect(decodeRewardState(encodeRewardState(genesisState))).toEqual(genesisState)
  })

  it('refuses bytes that are not a reward State as MalformedStateError', () => {
    const bad = [
      new Uint8Array([0xff]), // not CBOR
      dagCbor.encode([1, 2, 3]), // wrong length
      fromHex('8b' + '420001' + '420002' + '03' + '420004' + '420005' + '420006' + '420007' + '420008' + '09' + '42000a' + '42000b' + '42000c'), // smoothed not a pair
      fromHex('8b' + '420001' + '420002' + '03' + '420004' + '420105' + '82' + '420006' + '420007' + '420008' + '09' + '42000a' + '42000b' + '42000c'), // negative ThisEpochReward
      fromHex('8b' + '420001' + '420002' + '03' + '420004' + '420005' + '82' + '420006' + '420007' + '420008' + '40' + '42000a' + '42000b' + '42000c') // Epoch as bytes
    ]
    for (const b of bad) expect(() => decodeRewardState(b)).toThrow(expect.objectContaining({ name: 'MalformedStateError' }))
  })
})

describe('devnet schedule', () => {
  it('pays 5 FIL an epoch (1 FIL per win), halving every 1,000,000 epochs', () => {
    expect(DEVNET_REWARD_SCHEDULE).toEqual({ initialEpochReward: 5n * FIL, halvingEpochs: 1_000_000 })
    expect(scheduledEpochReward(0)).toBe(5n * FIL)
    expect(scheduledEpochReward(999_999)).toBe(5n * FIL)
    expect(scheduledEpochReward(1_000_000)).toBe(5n * FIL / 2n)
    expect(scheduledEpochReward(2_999_999)).toBe(5n * FIL / 4n)
    expect(scheduledEpochReward(3_000_000)).toBe(5n * FIL / 8n)
    expect(rewardForWinCount({ thisEpochReward: scheduledEpochReward(0) }, 1)).toBe(FIL)
  })

  it('keeps ThisEpochReward a multiple of BLOCKS_PER_EPOCH at every halving, down to zero', () => {
    let k = 0
    for (; scheduledEpochReward(k * DEVNET_REWARD_SCHEDULE.halvingEpochs) > 0n; k++) {
      const r = scheduledEpochReward(k * DEVNET_REWARD_SCHEDULE.halvingEpochs)
      expect(r % BPE).toBe(0n)
      // the plain halving floor(5 FIL / 2^k) stops being a multiple of 5 after 19 halvings (5e18 = 2^18 · 5^19):
      // from there the schedule rounds down to one
      if (k <= 18) expect(r).toBe((5n * FIL) >> BigInt(k))
      else expect(r).toBe((((5n * FIL) >> BigInt(k)) / BPE) * BPE)
    }
    expect(k).toBe(60) // 10^18 < 2^60: the reward runs out after 60 halvings
  })

  it('SimpleTotal is the sum of every epoch\'s reward (per epoch, against per halving)', () => {
    const small = { initialEpochReward: 40n, halvingEpochs: 3 }
    let naive = 0n
    for (let e = 0; e < 100; e++) naive += scheduledEpochReward(e, small)
    expect(naive).toBe(225n) // (40 + 20 + 10 + 5) × 3
    expect(scheduleSimpleTotal(small)).toBe(naive)
    const total = scheduleSimpleTotal()
    expect(total).toBeLessThanOrEqual(10_000_000n * FIL)
    expect(total).toBeGreaterThan(10_000_000n * FIL - 1_000_000n * 60n * BPE) // at most a few attoFIL per epoch rounded away
    expect(initialRewardState().simpleTotal).toBe(total)
  })

  it('refuses a schedule whose reward is not a positive multiple of BLOCKS_PER_EPOCH', () => {
    for (const bad of [{ initialEpochReward: 5n * FIL + 1n, halvingEpochs: 10 }, { initialEpochReward: 0n, halvingEpochs: 10 }, { initialEpochReward: 5n, halvingEpochs: 0 }]) {
      expect(() => scheduledEpochReward(0, bad)).toThrow(expect.objectContaining({ name: 'InvalidRewardScheduleError' }))
    }
  })
})

describe('rounding: builtin-actors div_floor per WinCount', () => {
  // builtin-actors award_block_reward: (this_epoch_reward * win_count).div_floor(EXPECTED_LEADERS_PER_EPOCH)
  const builtinActors = (reward: bigint, w: number): bigint => (reward * BigInt(w)) / 5n

  it('pays each WinCount 1..15 exactly its share at every halving of the schedule', () => {
    expect(MAX_WIN_COUNT).toBe(15)
    for (let k = 0; k <= 60; k++) {
      const r = scheduledEpochReward(k * DEVNET_REWARD_SCHEDULE.halvingEpochs)
      let sum = 0n
      for (let w = 1; w <= MAX_WIN_COUNT; w++) {
        const paid = rewardForWinCount({ thisEpochReward: r }, w)
        expect(paid).toBe(builtinActors(r, w))
        expect(paid * BPE).toBe(r * BigInt(w)) // nothing dropped by the floor
        sum += paid
      }
      expect(sum * BPE).toBe(r * 120n) // Σ 1..15 = 120 wins
    }
  })

  it('would lose attoFIL with a reward that is not a multiple of BLOCKS_PER_EPOCH (why the schedule rounds)', () => {
    const r = 5n * FIL + 1n
    let sum = 0n
    for (let w = 1; w <= 15; w++) sum += rewardForWinCount({ thisEpochReward: r }, w)
    expect(sum * BPE).toBeLessThan(r * 120n)
  })

  it('refuses WinCount 0 and negative as InvalidWinCountError', () => {
    for (const w of [0, -1, 1.5]) expect(() => rewardForWinCount({ thisEpochReward: 5n }, w)).toThrow(expect.objectContaining({ name: 'InvalidWinCountError' }))
  })
})

describe('the epoch tick (UpdateNetworkKPI)', () => {
  const small = { initialEpochReward: 40n * FIL, halvingEpochs: 4 }

  it('steps Epoch to one past the current epoch, catching up null rounds, and takes that epoch\'s reward', () => {
    const s0 = initialRewardState(small)
    expect(s0.epoch).toBe(0)
    expect(s0.thisEpochReward).toBe(40n * FIL)
    const s1 = rewardEpochTick(s0, 0, small)
    expect(s1.epoch).toBe(1)
    expect(s1.thisEpochReward).toBe(40n * FIL)
    const s2 = rewardEpochTick(s1, 3, small) // epochs 1 and 2 null: caught up, then epoch 4's reward
    expect(s2.epoch).toBe(4)
    expect(s2.thisEpochReward).toBe(20n * FIL)
    const s3 = rewardEpochTick(s2, 10, small)
    expect(s3.epoch).toBe(11)
    expect(s3.thisEpochReward).toBe(10n * FIL)
  })

  it('smooths the reward with builtin-actors\' alpha-beta filter', () => {
    const s0 = initialRewardState(small)
    expect(s0.thisEpochRewardSmoothed).toEqual(filterEstimate(40n * FIL, 0n))
    // a constant reward leaves the estimate exactly where it is
    const s1 = rewardEpochTick(s0, 0, small)
    expect(s1.thisEpochRewardSmoothed).toEqual(s0.thisEpochRewardSmoothed)
    // a halving moves it by alpha (≈ 0.000925) of the residual toward the new figure, and the velocity turns negative
    const s2 = rewardEpochTick(s1, 3, small)
    const residual = (20n * FIL - 40n * FIL) << 128n
    expect(s2.thisEpochRewardSmoothed.position).toBe((40n * FIL << 128n) + ((314760000000000000000000000000000000n * residual) >> 128n))
    expect(s2.thisEpochRewardSmoothed.position >> 128n).toBe(40n * FIL - 18_499_930_093_241_161n) // ≈ 0.0185 FIL down (Python's floor-shifting ints, as num-bigint's)
    expect(s2.thisEpochRewardSmoothed.velocity).toBeLessThan(0n)
    // the velocity's revision is divided by the epochs passed (3 here): div_floor, not truncation
    const v = nextFilterEstimate({ position: 0n, velocity: 0n }, -1n, 3)
    expect(v.velocity).toBe(-32213366666666666666666666666667n) // Python: (-(1 << 128) * BETA) // (3 << 128)
  })
})

describe('reward actor methods', () => {
  const keyOf = (n: number): Uint8Array => new Uint8Array(32).fill(n)
  const owner = secpAddressBytes(secpPublicKey(keyOf(41)))
  const account = secpAddressBytes(secpPublicKey(keyOf(43)))
  const worker = blsAddressBytes(blsPublicKey(keyOf(42)))
  const miner = idAddressBytes(1001)
  const miner2 = idAddressBytes(1002)
  const power = idAddressBytes(4)
  const beaconAt = (e: Epoch): BeaconEntry => ({ round: e, data: chainCid(dagCbor.encode(['reward test header', e])).bytes })
  const market = { provingPeriod: 4, challengesPerPeriod: 3, maxConsecutiveFaults: 2 }
  let genesis: Genesis
  let root: CID
  const store = (): NonNullable<Genesis['store']> => genesis.store!
  const balance = (a: Uint8Array): bigint => getActor(store(), root, a)?.balance ?? 0n

  beforeEach(() => {
    genesis = createGenesis(
      { beacon: TEST_BEACON, network: 'reward-test', producer: idAddressBytes(1000), producerKey: blsPublicKey(keyOf(9)), blockDelaySecs: 1, market }, 1_800_000_000,
      [{ address: owner, balance: 1000n * FIL }, { address: account, balance: 0n }],
      [{ id: 1001, info: { owner, worker, peerId: new Uint8Array([1]) } }, { id: 1002, info: { owner, worker, peerId: new Uint8Array([2]) } }]
    )
    root = setActor(store(), genesis.header.header.parentStateRoot, REWARD_ACTOR_ADDRESS, genesisRewardActor(store()))
  })

  const rt = (caller: Uint8Array, epoch: Epoch = 1): ReturnType<typeof callRuntime> =>
    callRuntime({ store: store(), epoch, market, paych: { settleDelay: 10 }, beaconAt }, { origin: caller, nonce: 0, actorsCreated: 0 }, caller, REWARD_ACTOR_ADDRESS, 0n)
  const award = (p: Partial<AwardBlockRewardParams>, caller = SYSTEM_ACTOR_ADDRESS): void => {
    root = rewardAwardBlockReward(rt(caller), root, encodeAwardBlockRewardParams({ miner, penalty: 0n, gasReward: 0n, winCount: 1, ...p })).root
  }
  const refusal = (f: () => void): number => {
    try { f() } catch (err) { expect((err as Error).name).toBe('ActorError'); return (err as ActorError).exitCode }
    throw new Error('not refused')
  }

  it('pays a tipset\'s miners exactly ThisEpochReward × ΣWinCount / BLOCKS_PER_EPOCH plus their gas rewards', () => {
    const before = balance(REWARD_ACTOR_ADDRESS)
    expect(before).toBe(scheduleSimpleTotal())
    root = creditActor(store(), root, REWARD_ACTOR_ADDRESS, 700n) // the tipset's tips, already moved to f02
    award({ miner, winCount: 3, gasReward: 500n })
    award({ miner: miner2, winCount: 7, gasReward: 200n })
    award({ miner, winCount: 1 })
    expect(balance(miner)).toBe(4n * FIL + 500n)
    expect(balance(miner2)).toBe(7n * FIL + 200n)
    expect(before + 700n - balance(REWARD_ACTOR_ADDRESS)).toBe(scheduledEpochReward(0) * 11n / BPE + 700n)
    expect(rewardStateAt(store(), root)!.totalStoragePowerReward).toBe(11n * FIL) // gas rewards not counted, as builtin-actors
  })

  it('only the system actor may award; WinCount 0, negative amounts and unknown miners are refused by exit code', () => {
    expect(refusal(() => award({}, owner))).toBe(ActorExit.ErrForbidden)
    expect(refusal(() => award({}, power))).toBe(ActorExit.ErrForbidden)
    expect(refusal(() => award({ winCount: 0 }))).toBe(ActorExit.ErrIllegalArgument)
    expect(refusal(() => award({ winCount: -2 }))).toBe(ActorExit.ErrIllegalArgument)
    expect(refusal(() => award({ penalty: -1n }))).toBe(ActorExit.ErrIllegalArgument)
    expect(refusal(() => award({ gasReward: -1n }))).toBe(ActorExit.ErrIllegalArgument)
    expect(refusal(() => award({ miner: idAddressBytes(5555) }))).toBe(ActorExit.ErrNotFound)
    expect(refusal(() => { rewardAwardBlockReward(rt(SYSTEM_ACTOR_ADDRESS), root, dagCbor.encode([miner, new Uint8Array(0), new Uint8Array(0)])) })).toBe(ActorExit.ErrSerialization)
    expect(refusal(() => { rewardAwardBlockReward(rt(SYSTEM_ACTOR_ADDRESS), root, new Uint8Array(0)) })).toBe(ActorExit.ErrIllegalArgument)
    expect(balance(miner)).toBe(0n)
  })

  it('refuses a gas reward the balance cannot cover, and pays out the rest of the balance for a block reward it cannot', () => {
    root = setActor(store(), root, REWARD_ACTOR_ADDRESS, { ...getActor(store(), root, REWARD_ACTOR_ADDRESS)!, balance: FIL / 2n })
    expect(refusal(() => award({ gasReward: FIL / 2n + 1n }))).toBe(ActorExit.ErrIllegalState)
    award({ winCount: 2, gasReward: 100n }) // 2 FIL + 100 asked, 0.5 FIL there: builtin-actors pays what is left
    expect(balance(miner)).toBe(FIL / 2n)
    expect(balance(REWARD_ACTOR_ADDRESS)).toBe(0n)
    expect(rewardStateAt(store(), root)!.totalStoragePowerReward).toBe(FIL / 2n - 100n)
  })

  it('charges Penalty × 3 from the miner\'s unlocked funds, burns it, and keeps what it cannot pay as FeeDebt', () => {
    const burnt0 = balance(BURNT_FUNDS_ADDRESS)
    award({ winCount: 1, penalty: 100n })
    expect(PENALTY_MULTIPLIER).toBe(3n)
    expect(balance(miner)).toBe(FIL - 300n)
    expect(balance(BURNT_FUNDS_ADDRESS) - burnt0).toBe(300n)
    expect(getMinerState(store(), root, miner)!.feeDebt).toBe(0n)
    // a miner whose whole balance is pledge: the reward pays what it can, the rest is fee debt
    const a = getActor(store(), root, miner2)!
    root = setActor(store(), root, miner2, { ...a, balance: 10n * FIL, head: store().put(encodeMinerState({ ...readMinerState(store(), a.head), initialPledge: 10n * FIL })) })
    award({ miner: miner2, winCount: 1, penalty: FIL })
    expect(balance(miner2)).toBe(10n * FIL)
    expect(getMinerState(store(), root, miner2)!.feeDebt).toBe(2n * FIL)
    expect(balance(BURNT_FUNDS_ADDRESS) - burnt0).toBe(300n + FIL)
  })

  it('burns the reward of a block whose Miner is not a miner actor (builtin-actors\' failed ApplyRewards send)', () => {
    const burnt0 = balance(BURNT_FUNDS_ADDRESS)
    award({ miner: account, winCount: 2 })
    expect(balance(account)).toBe(0n)
    expect(balance(BURNT_FUNDS_ADDRESS) - burnt0).toBe(2n * FIL)
  })

  it('ThisEpochReward answers [ThisEpochRewardSmoothed, ThisEpochBaselinePower] to anyone', () => {
    const out = rewardThisEpochReward(rt(account), root, new Uint8Array(0))
    expect(out.root.equals(root)).toBe(true)
    expect(decodeThisEpochRewardReturn(out.return)).toEqual({ thisEpochRewardSmoothed: filterEstimate(5n * FIL, 0n), thisEpochBaselinePower: 0n })
    expect(hex(out.return)).toBe('82' + '82' + '5819' + '00' + hex(Uint8Array.from((5n * FIL << 128n).toString(16).padStart(48, '0').match(/../g)!.map(x => parseInt(x, 16)))) + '40' + '40')
  })

  it('UpdateNetworkKPI: only the power actor, a non-null argument, then the tick at the current epoch', () => {
    expect(refusal(() => { rewardUpdateNetworkKpi(rt(SYSTEM_ACTOR_ADDRESS), root, encodeUpdateNetworkKpiParams(0n)) })).toBe(ActorExit.ErrForbidden)
    expect(refusal(() => { rewardUpdateNetworkKpi(rt(power), root, encodeUpdateNetworkKpiParams(null)) })).toBe(ActorExit.ErrIllegalArgument)
    root = rewardUpdateNetworkKpi(rt(power, 1_000_000 - 1), root, encodeUpdateNetworkKpiParams(123n)).root
    const s = rewardStateAt(store(), root)!
    expect(s.epoch).toBe(1_000_000)
    expect(s.thisEpochReward).toBe(5n * FIL / 2n)
    award({ winCount: 1 })
    expect(balance(miner)).toBe(FIL / 2n)
  })
})
