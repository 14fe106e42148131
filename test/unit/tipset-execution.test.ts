// Executing a tipset as Lotus's ApplyBlocks: cron runs for each null epoch (a proving boundary on a null round is
// settled as if a block had been there), a message two blocks carry runs once, each block's tips go to its miner.
import { describe, it, expect } from 'vitest'
import {
  applyTipSetMessages, applyBlockMessages, tipSetExecutionOrder, executionContext, createGenesis, signMessage, secpPublicKey, secpAddressBytes,
  idAddressBytes, blsPublicKey, getActor, readDeal, ATTO_PER_FIL, TRANSFER_GAS_LIMIT, BASE_FEE, ExitCode, METHOD_SEND, type Message
} from '../../src/core'
import { PowerChain, BIG, beaconAt } from '../helpers/power-chain'
import { TEST_BEACON } from '../helpers/test-beacon'

const market = { provingPeriod: 4, challengesPerPeriod: 2, maxConsecutiveFaults: 3 }
const P = market.provingPeriod
const S = 2 * P

describe('tipset execution', () => {
  it('runs cron for a null epoch: a proving boundary on a null round settles as if a block had been there', async () => {
    // one deal, proven for its first period only; the boundary that settles that period and opens the second is a null round
    const B = S + P
    const plan = [{ provider: 1001, payload: BIG, start: S, periods: 3 }]
    const proves = (_id: number, period: number): boolean => period === 0
    const everyEpoch = new PowerChain([1001], market)
    everyEpoch.publish(plan)
    await everyEpoch.run(B + 1, proves)
    const withNull = new PowerChain([1001], market)
    withNull.publish(plan)
    await withNull.run(B - 1, proves)
    const ctx = executionContext(withNull.store, withNull.genesis.state, { ...withNull.genesis.header.header, height: B + 1 }, beaconAt)
    const out = applyTipSetMessages(ctx, B - 1, withNull.root, [{ miner: idAddressBytes(1000), messages: { bls: [], secp: [] }, blsAggregate: null }])
    expect(out.receipts).toEqual([])
    expect(out.root.toString()).toBe(everyEpoch.root.toString())
    const deal = readDeal(withNull.store, out.root, 0)!
    expect(deal.periods[0]!.paid).toBe(0n) // free deal: settled, nothing to pay …
    expect(deal.state.lastUpdatedEpoch).toBe(B) // … at the null epoch's cron
    // and the rule is what made them equal: without the null epoch's cron the period is not settled
    const skipped = applyBlockMessages(ctx, withNull.root, { bls: [], secp: [] }, null)
    expect(skipped.root.toString()).not.toBe(everyEpoch.root.toString())
  })

  describe('messages of several blocks', () => {
    const keys = [new Uint8Array(32).fill(0x31), new Uint8Array(32).fill(0x32)]
    const [a, b] = keys.map(k => secpAddressBytes(secpPublicKey(k))) as [Uint8Array, Uint8Array]
    const [minerOne, minerTwo] = [secpAddressBytes(secpPublicKey(new Uint8Array(32).fill(0x41))), secpAddressBytes(secpPublicKey(new Uint8Array(32).fill(0x42)))]
    const genesis = createGenesis({ beacon: TEST_BEACON, network: 'tipset', producer: idAddressBytes(1000), producerKey: blsPublicKey(new Uint8Array(32).fill(3)), blockDelaySecs: 1 }, 1_800_000_000,
      [{ address: a, balance: 10n * ATTO_PER_FIL }, { address: b, balance: 10n * ATTO_PER_FIL }, { address: minerOne, balance: 0n }, { address: minerTwo, balance: 0n }])
    const pay = (from: Uint8Array, key: Uint8Array): ReturnType<typeof signMessage> => {
      const m: Message = { version: 0, to: idAddressBytes(1000), from, nonce: 0, value: 1n, gasLimit: TRANSFER_GAS_LIMIT, gasFeeCap: BASE_FEE + 50n, gasPremium: 50n, method: METHOD_SEND, params: new Uint8Array(0) }
      return signMessage(key, m)
    }
    const m1 = pay(a, keys[0]!)
    const m2 = pay(b, keys[1]!)
    const blocks = [
      { miner: minerOne, messages: { bls: [], secp: [m1] }, blsAggregate: null },
      { miner: minerTwo, messages: { bls: [], secp: [m1, m2] }, blsAggregate: null }
    ]

    it('runs a message two blocks carry once, at its first; each block\'s tips go to its own miner', () => {
      const ctx = executionContext(genesis.store!, genesis.state, { ...genesis.header.header, height: 1 }, beaconAt)
      const out = applyTipSetMessages(ctx, 0, genesis.header.header.parentStateRoot, blocks)
      expect(out.receipts.map(r => r.exitCode)).toEqual([ExitCode.Ok, ExitCode.Ok])
      expect(tipSetExecutionOrder(blocks).map(x => x.message)).toEqual([m1.message, m2.message])
      expect(getActor(genesis.store!, out.root, a)!.nonce).toBe(1)
      const tip = BigInt(TRANSFER_GAS_LIMIT) * 50n
      expect(getActor(genesis.store!, out.root, minerOne)!.balance).toBe(tip)
      expect(getActor(genesis.store!, out.root, minerTwo)!.balance).toBe(tip)
    })

    it('refuses a parent epoch at or above the tipset\'s', () => {
      const ctx = executionContext(genesis.store!, genesis.state, { ...genesis.header.header, height: 1 }, beaconAt)
      expect(() => applyTipSetMessages(ctx, 1, genesis.header.header.parentStateRoot, blocks)).toThrow(RangeError)
    })
  })
})
