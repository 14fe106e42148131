// The power table (issue 13 part 1): a deal proven for a period gives its provider its PieceSize of power
// from the boundary where that period settles; a missed period takes it away until the next proven one;
// slashing and the deal's end take it for good. Claims and totals move as builtin-actors' add_to_claim
// (actors/power/src/state.rs): the totals count only miners at or above the consensus minimum. Checked block by
// block through applyBlockMessages, and against a naive recomputation from the deal records under random
// proof patterns.
import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import * as dagCbor from '@ipld/dag-cbor'
import {
  addToClaim, updateClaimedPowers, powerEpochTickEnd, currentTotalPower, powerUpdateClaimedPower, encodeUpdateClaimedPowerParams, callRuntime,
  powerStateAt, readClaim, idOf, readPower, readDeal, readPowerState, encodePowerState, setActor, getActor, setClaim, idAddressBytes, encodeBigInt,
  executionContext, runMarketCron, MINIMUM_CONSENSUS_POWER, CONSENSUS_MINER_MIN_MINERS, POWER_ACTOR_ADDRESS, ActorExit, PowerMethod,
  type CID, type PowerState, type MarketParams, type Epoch, type BlockStore
} from '../../src/core'
import { PowerChain, SMALL, BIG, worker, beaconAt, type DealPlan } from '../helpers/power-chain'

const market: MarketParams = { provingPeriod: 4, challengesPerPeriod: 2, maxConsecutiveFaults: 2 }
const P = market.provingPeriod
const id = (n: number): Uint8Array => idAddressBytes(n)

/** The power figures of a state, in one object for toEqual. */
function figures (chain: PowerChain, root: CID, miners: number[]): Record<string, unknown> {
  const s = powerStateAt(chain.store, root)!
  return {
    claims: miners.map(m => readClaim(chain.store, root, id(m))!.rawBytePower),
    qa: miners.map(m => readClaim(chain.store, root, id(m))!.qualityAdjPower),
    totalRaw: s.totalRawBytePower,
    totalQA: s.totalQualityAdjPower,
    committed: s.totalBytesCommitted,
    committedQA: s.totalQABytesCommitted,
    above: s.minerAboveMinPowerCount,
    thisEpochRaw: s.thisEpochRawBytePower,
    thisEpochQA: s.thisEpochQualityAdjPower
  }
}

describe('the pieces the tests use', () => {
  it('pad to 1024 bytes (below the 2 KiB devnet minimum) and 4096 (above it)', () => {
    const chain = new PowerChain([1001], market)
    chain.publish([{ provider: 1001, payload: SMALL, start: 4, periods: 1 }, { provider: 1001, payload: BIG, start: 4, periods: 1 }])
    expect(chain.deals.map(d => d.pieceSize)).toEqual([1024, 4096])
    expect(MINIMUM_CONSENSUS_POWER).toBe(2048n)
    expect(CONSENSUS_MINER_MIN_MINERS).toBe(4)
  })
})

describe('one deal\'s power over its life', () => {
  it('counts from the settlement of a proven period, leaves at a miss, returns at the next proof, ends with the deal', async () => {
    const chain = new PowerChain([1001], market)
    chain.publish([{ provider: 1001, payload: BIG, start: 4, periods: 4 }]) // periods open at 4, 8, 12, 16; ends at 20
    const proven = [true, false, true, true]
    const seen: bigint[] = []
    await chain.run(24, (_, period) => proven[period]!, e => {
      // settled at 8 (proven): power; at 12 (missed): none; at 16 and then 20 the deal's last period settles and it ends
      const power = (e >= 8 && e < 12) || (e >= 16 && e < 20) ? 4096n : 0n
      const above = power > 0n ? 1 : 0
      expect(figures(chain, chain.root, [1001]), `epoch ${e}`).toEqual({
        claims: [power], qa: [power], totalRaw: power, totalQA: power, committed: power, committedQA: power, above,
        // fewer than CONSENSUS_MINER_MIN_MINERS above the minimum: current_total_power is what is committed
        thisEpochRaw: power, thisEpochQA: power
      })
      seen.push(power)
    })
    // the proof for the first period landed at epoch 5, but counts only from its settlement at 8
    expect(readDeal(chain.store, chain.roots[5]!, 0)!.periods[0]!.proof).not.toBeNull()
    expect(readClaim(chain.store, chain.roots[7]!, id(1001))!.rawBytePower).toBe(0n)
    expect(seen.filter(p => p > 0n).length).toBe(8)
    // the deal ended paid, not slashed
    const d = readDeal(chain.store, chain.root, 0)!
    expect(d.state).toMatchObject({ slashEpoch: -1, lastUpdatedEpoch: 20 })
  })

  it('a proving boundary settles once: the market cron run again at the same epoch (a second block of a tipset) changes nothing', async () => {
    const chain = new PowerChain([1001], market)
    chain.publish([{ provider: 1001, payload: BIG, start: 4, periods: 2 }])
    await chain.run(7, () => true)
    const ctx = executionContext(chain.store, chain.genesis.state, { ...chain.genesis.header.header, height: 8 }, beaconAt)
    const once = runMarketCron(ctx, chain.root)
    expect(once.equals(chain.root)).toBe(false) // the first period settled: paid, and power counted
    expect(runMarketCron(ctx, once).equals(once)).toBe(true)
  })

  it('slashing takes a deal\'s power for good; a deal never proven has none to lose (the claim never goes negative)', async () => {
    const chain = new PowerChain([1001], market)
    chain.publish([{ provider: 1001, payload: BIG, start: 4, periods: 5 }, { provider: 1001, payload: BIG, start: 4, periods: 5 }])
    // deal 0: proven in period 0, then missed twice (slashed at 16), never proven again (the chain refuses proofs
    // of a slashed deal); deal 1: never proven, slashed at 12 after two misses
    await chain.run(28, (dealId, period) => dealId === 0 && period !== 1 && period !== 2, e => {
      expect(readClaim(chain.store, chain.root, id(1001))!.rawBytePower, `epoch ${e}`).toBe(e >= 8 && e < 12 ? 4096n : 0n)
      expect(powerStateAt(chain.store, chain.root)!.totalBytesCommitted).toBe(e >= 8 && e < 12 ? 4096n : 0n)
    })
    expect(readDeal(chain.store, chain.root, 0)!.state.slashEpoch).toBe(16)
    expect(readDeal(chain.store, chain.root, 1)!.state.slashEpoch).toBe(12)
  })

  it('a deal proven in its last period loses its power when it ends', async () => {
    const chain = new PowerChain([1001], market)
    chain.publish([{ provider: 1001, payload: BIG, start: 8, periods: 2 }]) // 8..16
    await chain.run(20, () => true)
    expect(readClaim(chain.store, chain.roots[12]!, id(1001))!.rawBytePower).toBe(4096n)
    expect(readClaim(chain.store, chain.roots[15]!, id(1001))!.rawBytePower).toBe(4096n)
    expect(readClaim(chain.store, chain.roots[16]!, id(1001))!.rawBytePower).toBe(0n)
    expect(powerStateAt(chain.store, chain.roots[16]!)!).toMatchObject({ totalRawBytePower: 0n, totalBytesCommitted: 0n, minerAboveMinPowerCount: 0 })
  })
})

describe('the consensus minimum', () => {
  it('totals count a miner only at or above it, as add_to_claim; past CONSENSUS_MINER_MIN_MINERS the smaller ones lose HasMinPower', async () => {
    const miners = [1001, 1002, 1003, 1004, 1005, 1006]
    const chain = new PowerChain(miners, market)
    // each deal starts in the period it is first proven in: two misses in a row would slash it
    const plans: DealPlan[] = [
      { provider: 1001, payload: SMALL, start: 4, periods: 6 }, // 0: A's first 1024
      { provider: 1001, payload: SMALL, start: 8, periods: 5 }, // 1: A's second 1024 → A reaches 2048
      ...[1002, 1003, 1004, 1005].map(provider => ({ provider, payload: BIG, start: 12, periods: 4 })), // 2..5: 4096 each
      { provider: 1006, payload: SMALL, start: 16, periods: 3 } // 6: F, 1024
    ]
    chain.publish(plans)
    // every deal is proven in every period but deal 0 in the one opening at 20; all end at 28
    await chain.run(28, (dealId, period) => !(dealId === 0 && period === 4))
    const at = (e: Epoch): Record<string, unknown> => figures(chain, chain.roots[e]!, miners)
    const hasMin = (e: Epoch, m: number): boolean => readPower(chain.store, chain.roots[e]!, id(m)).hasMinPower
    const big = 4n * 4096n

    // A below the minimum: its power is committed but not in the totals; young network: HasMinPower for any power
    expect(at(8)).toEqual({ claims: [1024n, 0n, 0n, 0n, 0n, 0n], qa: [1024n, 0n, 0n, 0n, 0n, 0n], totalRaw: 0n, totalQA: 0n, committed: 1024n, committedQA: 1024n, above: 0, thisEpochRaw: 1024n, thisEpochQA: 1024n })
    expect(hasMin(8, 1001)).toBe(true)
    expect(hasMin(8, 1002)).toBe(false) // no power at all
    // A crosses it: its whole claim enters the totals
    expect(at(12)).toMatchObject({ claims: [2048n, 0n, 0n, 0n, 0n, 0n], totalRaw: 2048n, totalQA: 2048n, committed: 2048n, above: 1, thisEpochRaw: 2048n })
    // four more above: five above, so current_total_power is the totals from now on
    expect(at(16)).toMatchObject({ claims: [2048n, 4096n, 4096n, 4096n, 4096n, 0n], totalRaw: 2048n + big, committed: 2048n + big, above: 5, thisEpochRaw: 2048n + big })
    // F below the minimum with five above: committed, not in the totals, no HasMinPower; ThisEpoch* leaves it out
    expect(at(20)).toMatchObject({ claims: [2048n, 4096n, 4096n, 4096n, 4096n, 1024n], totalRaw: 2048n + big, totalQA: 2048n + big, committed: 3072n + big, above: 5, thisEpochRaw: 2048n + big, thisEpochQA: 2048n + big })
    expect(hasMin(20, 1006)).toBe(false)
    expect(hasMin(20, 1001)).toBe(true)
    // A misses one deal's period: back below, its whole old claim leaves the totals; four above still
    expect(at(24)).toMatchObject({ claims: [1024n, 4096n, 4096n, 4096n, 4096n, 1024n], totalRaw: big, committed: 2048n + big, above: 4, thisEpochRaw: big })
    expect(hasMin(24, 1001)).toBe(false)
    // every deal ends at 28: nothing left
    expect(at(28)).toEqual({ claims: [0n, 0n, 0n, 0n, 0n, 0n], qa: [0n, 0n, 0n, 0n, 0n, 0n], totalRaw: 0n, totalQA: 0n, committed: 0n, committedQA: 0n, above: 0, thisEpochRaw: 0n, thisEpochQA: 0n })
  }, 30_000)
})

/** Power as the deal records say it should be: a deal holds PieceSize while live and its latest settled period was proven. */
function naivePower (chain: PowerChain, root: CID, miners: number[]): Map<number, bigint> {
  const power = new Map(miners.map(m => [m, 0n]))
  for (let dealId = 0; ; dealId++) {
    const d = readDeal(chain.store, root, dealId)
    if (d === null) break
    const live = d.state.slashEpoch < 0 && d.state.lastUpdatedEpoch < d.proposal.endEpoch
    const settled = d.periods.filter(r => r.settled)
    if (live && settled.length > 0 && settled[settled.length - 1]!.proof !== null) {
      const provider = Number(idOf(d.proposal.provider))
      power.set(provider, power.get(provider)! + BigInt(d.proposal.pieceSize))
    }
  }
  return power
}

describe('claims and totals under random proof patterns', () => {
  it('equal a naive recomputation from the deal records after every block', async () => {
    const miners = [1001, 1002, 1003, 1004, 1005]
    const seen = { crossed: 0, grown: 0, slashed: 0, faults: 0, restored: 0, below: 0 }
    const plan = fc.record({
      provider: fc.constantFrom(...miners),
      payload: fc.constantFrom(SMALL, BIG, BIG),
      start: fc.constantFrom(4, 8, 12),
      periods: fc.integer({ min: 1, max: 4 })
    })
    // proofs four times in five, so that four miners above the minimum at once is reached too
    const proves = fc.array(fc.integer({ min: 0, max: 4 }).map(x => x > 0), { minLength: 1, maxLength: 40 })
    await fc.assert(fc.asyncProperty(fc.array(plan, { minLength: 1, maxLength: 12 }), proves, async (plans, pattern) => {
      const chain = new PowerChain(miners, market)
      chain.publish(plans)
      await chain.run(12 + 4 * P + 1, (dealId, period) => pattern[(dealId * 5 + period) % pattern.length]!, () => {
        const naive = naivePower(chain, chain.root, miners)
        const s = powerStateAt(chain.store, chain.root)!
        const claims = miners.map(m => readClaim(chain.store, chain.root, id(m))!)
        expect(claims.map(c => c.rawBytePower)).toEqual(miners.map(m => naive.get(m)))
        expect(claims.map(c => c.qualityAdjPower)).toEqual(miners.map(m => naive.get(m)))
        const above = [...naive.values()].filter(p => p >= MINIMUM_CONSENSUS_POWER)
        const sum = (xs: bigint[]): bigint => xs.reduce((a, b) => a + b, 0n)
        expect({ totalRaw: s.totalRawBytePower, totalQA: s.totalQualityAdjPower, committed: s.totalBytesCommitted, committedQA: s.totalQABytesCommitted, above: s.minerAboveMinPowerCount })
          .toEqual({ totalRaw: sum(above), totalQA: sum(above), committed: sum([...naive.values()]), committedQA: sum([...naive.values()]), above: above.length })
        const current = above.length < CONSENSUS_MINER_MIN_MINERS ? sum([...naive.values()]) : sum(above)
        expect([s.thisEpochRawBytePower, s.thisEpochQualityAdjPower]).toEqual([current, current])
        for (const m of miners) {
          const p = naive.get(m)!
          expect(readPower(chain.store, chain.root, id(m)).hasMinPower).toBe(p >= MINIMUM_CONSENSUS_POWER || (above.length < CONSENSUS_MINER_MIN_MINERS && p > 0n))
          if (p > 0n && p < MINIMUM_CONSENSUS_POWER) seen.below++
        }
        if (above.length > 0) seen.crossed++
        if (above.length >= CONSENSUS_MINER_MIN_MINERS) seen.grown++
      })
      for (let dealId = 0; dealId < plans.length; dealId++) {
        const d = readDeal(chain.store, chain.root, dealId)!
        if (d.state.slashEpoch >= 0) seen.slashed++
        seen.faults += d.periods.filter(r => r.proof === null).length
        if (d.periods.some((r, i) => r.proof === null && d.periods.slice(i + 1).some(later => later.settled && later.proof !== null))) seen.restored++
      }
      // every deal has ended: no power is left anywhere
      expect(powerStateAt(chain.store, chain.root)!).toMatchObject({ totalBytesCommitted: 0n, totalRawBytePower: 0n, minerAboveMinPowerCount: 0 })
    }), { numRuns: 25, seed: Number(process.env.FC_SEED ?? 20261213) })
    // the schedules reached every case the rules distinguish
    expect(seen.crossed).toBeGreaterThan(0)
    expect(seen.grown).toBeGreaterThan(0)
    expect(seen.slashed).toBeGreaterThan(0)
    expect(seen.faults).toBeGreaterThan(0)
    expect(seen.restored).toBeGreaterThan(0)
    expect(seen.below).toBeGreaterThan(0)
  }, 120_000)
})

describe('add_to_claim', () => {
  const miners = [1001, 1002, 1003, 1004, 1005, 1006]
  const fresh = (): { store: BlockStore, state: PowerState, root: CID } => {
    const chain = new PowerChain(miners, market)
    return { store: chain.store, state: powerStateAt(chain.store, chain.root)!, root: chain.root }
  }

  it('keeps totals = Σ claims at or above the minimum and the count of them, under any sequence of deltas', () => {
    fc.assert(fc.property(fc.array(fc.record({ miner: fc.constantFrom(...miners), delta: fc.integer({ min: -6, max: 6 }) }), { maxLength: 60 }), steps => {
      const f = fresh()
      const store = f.store
      let state = f.state
      const naive = new Map(miners.map(m => [m, 0n]))
      for (const { miner, delta } of steps) {
        const d = BigInt(delta) * 512n
        if (naive.get(miner)! + d < 0n) {
          expect(() => addToClaim(store, state, id(miner), d, d)).toThrow(expect.objectContaining({ name: 'ActorError', exitCode: ActorExit.ErrIllegalState }))
          continue
        }
        state = addToClaim(store, state, id(miner), d, d)
        naive.set(miner, naive.get(miner)! + d)
      }
      const above = [...naive.values()].filter(p => p >= MINIMUM_CONSENSUS_POWER)
      const sum = (xs: bigint[]): bigint => xs.reduce((a, b) => a + b, 0n)
      expect({ raw: state.totalRawBytePower, qa: state.totalQualityAdjPower, committed: state.totalBytesCommitted, above: state.minerAboveMinPowerCount })
        .toEqual({ raw: sum(above), qa: sum(above), committed: sum([...naive.values()]), above: above.length })
    }), { numRuns: 200, seed: 20261213 })
  })

  it('moves the whole claim across the minimum, not the delta (state.rs prev_below / still_below)', () => {
    const { store, state } = fresh()
    let s = addToClaim(store, state, id(1001), 1024n, 1024n)
    expect(s).toMatchObject({ totalRawBytePower: 0n, totalBytesCommitted: 1024n, minerAboveMinPowerCount: 0 })
    s = addToClaim(store, s, id(1001), 1024n, 1024n)
    expect(s).toMatchObject({ totalRawBytePower: 2048n, totalQualityAdjPower: 2048n, totalBytesCommitted: 2048n, minerAboveMinPowerCount: 1 })
    s = addToClaim(store, s, id(1001), 4096n, 4096n)
    expect(s).toMatchObject({ totalRawBytePower: 6144n, minerAboveMinPowerCount: 1 })
    s = addToClaim(store, s, id(1001), -5120n, -5120n)
    expect(s).toMatchObject({ totalRawBytePower: 0n, totalQualityAdjPower: 0n, totalBytesCommitted: 1024n, minerAboveMinPowerCount: 0 })
  })

  it('refuses a miner without a claim (not found) and a claim gone negative (illegal state)', () => {
    const { store, state } = fresh()
    expect(() => addToClaim(store, state, id(1999), 1n, 1n)).toThrow(expect.objectContaining({ name: 'ActorError', exitCode: ActorExit.ErrNotFound }))
    expect(() => addToClaim(store, state, id(1001), -1n, 0n)).toThrow(expect.objectContaining({ name: 'ActorError', exitCode: ActorExit.ErrIllegalState }))
    expect(() => addToClaim(store, state, id(1001), 0n, -1n)).toThrow(expect.objectContaining({ name: 'ActorError', exitCode: ActorExit.ErrIllegalState }))
    const odd = setClaim(store, state, id(1001), { windowPoStProofType: 999, rawBytePower: 0n, qualityAdjPower: 0n })
    expect(() => addToClaim(store, odd, id(1001), 1n, 1n)).toThrow(expect.objectContaining({ name: 'ActorError', exitCode: ActorExit.ErrIllegalState }))
  })

  it('updateClaimedPowers writes nothing for no change and gives one result whatever the order of miners', () => {
    const { store, root } = fresh()
    expect(updateClaimedPowers(store, root, []).equals(root)).toBe(true)
    expect(updateClaimedPowers(store, root, [{ miner: id(1001), rawByteDelta: 0n, qualityAdjustedDelta: 0n }]).equals(root)).toBe(true)
    const deltas = miners.map((m, i) => ({ miner: id(m), rawByteDelta: BigInt(i + 1) * 1024n, qualityAdjustedDelta: BigInt(i + 1) * 1024n }))
    const a = updateClaimedPowers(store, root, deltas)
    const b = updateClaimedPowers(store, root, [...deltas].reverse())
    expect(a.equals(b)).toBe(true)
    expect(readClaim(store, a, id(1003))!.rawBytePower).toBe(3072n)
  })
})

describe('UpdateClaimedPower (method 3)', () => {
  it('takes go-state-types UpdateClaimedPowerParams [RawByteDelta, QualityAdjustedDelta] as two big-int byte strings', () => {
    // CBOR array(2), bytes(3) 00 10 00 (+4096: sign byte 0, big-endian magnitude), bytes(2) 01 01 (-1)
    expect(Buffer.from(encodeUpdateClaimedPowerParams({ rawByteDelta: 4096n, qualityAdjustedDelta: -1n })).toString('hex')).toBe('8243001000420101')
    expect(PowerMethod.UpdateClaimedPower).toBe(3)
  })

  it('changes the calling miner\'s claim; an account may not call it; malformed params are refused', () => {
    const chain = new PowerChain([1001], market)
    const call = (caller: Uint8Array, params: Uint8Array, root = chain.root): CID => powerUpdateClaimedPower(
      callRuntime({ store: chain.store, epoch: 1, market, paych: { settleDelay: 10 }, beaconAt }, { origin: worker, nonce: 0, actorsCreated: 0 }, caller, POWER_ACTOR_ADDRESS, 0n),
      root, params).root
    const after = call(id(1001), encodeUpdateClaimedPowerParams({ rawByteDelta: 4096n, qualityAdjustedDelta: 4096n }))
    expect(readPower(chain.store, after, id(1001))).toMatchObject({ claim: { rawBytePower: 4096n, qualityAdjPower: 4096n }, totalRawBytePower: 4096n, minerAboveMinPowerCount: 1 })
    expect(() => call(worker, encodeUpdateClaimedPowerParams({ rawByteDelta: 1n, qualityAdjustedDelta: 1n })))
      .toThrow(expect.objectContaining({ name: 'ActorError', exitCode: ActorExit.ErrForbidden }))
    expect(() => call(id(1001), dagCbor.encode([encodeBigInt(1n)]))).toThrow(expect.objectContaining({ exitCode: ActorExit.ErrSerialization }))
    expect(() => call(id(1001), dagCbor.encode([1, 2]))).toThrow(expect.objectContaining({ exitCode: ActorExit.ErrSerialization }))
    expect(() => call(id(1001), encodeUpdateClaimedPowerParams({ rawByteDelta: -4097n, qualityAdjustedDelta: 0n }), after))
      .toThrow(expect.objectContaining({ exitCode: ActorExit.ErrIllegalState }))
    // a miner actor with no claim: not found, as add_to_claim
    const orphan = setActor(chain.store, chain.root, id(1077), getActor(chain.store, chain.root, id(1001))!)
    expect(() => call(id(1077), encodeUpdateClaimedPowerParams({ rawByteDelta: 1n, qualityAdjustedDelta: 1n }), orphan))
      .toThrow(expect.objectContaining({ exitCode: ActorExit.ErrNotFound }))
  })
})

describe('the end-of-epoch tick', () => {
  it('sets ThisEpoch* to current_total_power and the pledge total, and leaves an unchanged state as it is', () => {
    const chain = new PowerChain([1001], market)
    const actor = getActor(chain.store, chain.root, POWER_ACTOR_ADDRESS)!
    const state = readPowerState(chain.store, actor.head)
    expect(powerEpochTickEnd(chain.store, chain.root).equals(chain.root)).toBe(true)
    const young: PowerState = { ...state, totalBytesCommitted: 5000n, totalQABytesCommitted: 5001n, totalRawBytePower: 4096n, totalQualityAdjPower: 4097n, minerAboveMinPowerCount: 1, totalPledgeCollateral: 77n }
    const at = (s: PowerState): CID => setActor(chain.store, chain.root, POWER_ACTOR_ADDRESS, { ...actor, head: chain.store.put(encodePowerState(s)) })
    expect(currentTotalPower(young)).toEqual({ rawBytePower: 5000n, qualityAdjPower: 5001n })
    expect(powerStateAt(chain.store, powerEpochTickEnd(chain.store, at(young)))!).toMatchObject({ thisEpochRawBytePower: 5000n, thisEpochQualityAdjPower: 5001n, thisEpochPledgeCollateral: 77n })
    const grown = { ...young, minerAboveMinPowerCount: CONSENSUS_MINER_MIN_MINERS }
    expect(powerStateAt(chain.store, powerEpochTickEnd(chain.store, at(grown)))!).toMatchObject({ thisEpochRawBytePower: 4096n, thisEpochQualityAdjPower: 4097n })
  })
})

describe('genesis power: pre-sealed pieces', () => {
  it('count from genesis, stay while each period is proven, leave at a miss and return with the next proof', async () => {
    // two providers: 1001's pre-seal pads to 4096 (above the 2 KiB minimum), 1002's to 1024 (below it)
    const chain = new PowerChain([1001, 1002], market, [BIG, SMALL])
    const g = chain.genesis.header.header.parentStateRoot
    expect(figures(chain, g, [1001, 1002])).toEqual({
      claims: [4096n, 1024n], qa: [4096n, 1024n], totalRaw: 4096n, totalQA: 4096n, committed: 5120n, committedQA: 5120n, above: 1,
      thisEpochRaw: 5120n, thisEpochQA: 5120n // fewer than 4 miners above the minimum: what is committed
    })
    const deal = readDeal(chain.store, g, 0)!
    expect(deal.state).toMatchObject({ sectorStartEpoch: 0, slashEpoch: -1 })
    expect(deal.proposal).toMatchObject({ startEpoch: P, storagePricePerEpoch: 0n, providerCollateral: 0n, clientCollateral: 0n, client: worker })
    // 1001 proves every period; 1002 misses its second period (opening at 2P) and proves the rest
    const proves = (dealId: number, period: number): boolean => dealId === 0 || period !== 1
    const claims: Array<[bigint, bigint]> = []
    await chain.run(5 * P, proves, () => { claims.push([readClaim(chain.store, chain.root, id(1001))!.rawBytePower, readClaim(chain.store, chain.root, id(1002))!.rawBytePower]) })
    // epoch e is claims[e - 1]: 1001 never moves (no double count at its proofs' settlements); 1002 loses its power
    // where its missed period settles (3P) and has it again where the next proven one does (4P)
    expect(claims.every(([a]) => a === 4096n)).toBe(true)
    expect(claims.map(([, b]) => b)).toEqual(Array.from({ length: 5 * P }, (_, i) => i + 1 >= 3 * P && i + 1 < 4 * P ? 0n : 1024n))
  })

  it('a provider that never proves its pre-seal loses the power at the first settlement and is slashed in the end', async () => {
    const chain = new PowerChain([1001], market, [BIG])
    await chain.run(2 * P + market.maxConsecutiveFaults * P, () => false)
    expect(readClaim(chain.store, chain.roots[2 * P - 1]!, id(1001))!.rawBytePower).toBe(4096n)
    expect(readClaim(chain.store, chain.roots[2 * P]!, id(1001))!.rawBytePower).toBe(0n)
    expect(readDeal(chain.store, chain.root, 0)!.state.slashEpoch).toBeGreaterThan(0)
  })
})
