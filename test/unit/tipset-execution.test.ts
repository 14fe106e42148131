// Executing a tipset as Lotus's ApplyBlocks: cron runs for each null epoch (a proving boundary on a null round is
// settled as if a block had been there), a message two blocks carry runs once, each block's tips and block reward
// go to its miner through the reward actor's AwardBlockReward.
import { describe, it, expect } from 'vitest'
import {
  applyTipSetMessages, applyBlockMessages, tipSetExecutionOrder, executionContext, createGenesis, signMessage, secpPublicKey, secpAddressBytes,
  idAddressBytes, blsPublicKey, blsAddressBytes, getActor, readDeal, rewardStateAt, ATTO_PER_FIL, TRANSFER_GAS_LIMIT, BASE_FEE, ExitCode, METHOD_SEND,
  REWARD_ACTOR_ADDRESS, BURNT_FUNDS_ADDRESS, STORAGE_MARKET_ADDRESS, POWER_ACTOR_ADDRESS, RewardApplicationError, ActorExit, type Message, type CID
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
    const out = applyTipSetMessages(ctx, B - 1, withNull.root, [{ miner: idAddressBytes(1000), winCount: 1, messages: { bls: [], secp: [] }, blsAggregate: null }])
    expect(out.receipts).toEqual([])
    // the market's and the power actor's state equal the chain's that had a block at every epoch (the roots differ
    // only by the rewards of the blocks the null rounds did not have)
    const head = (root: CID, addr: Uint8Array): string => getActor(withNull.store, root, addr)!.head.toString()
    const everyHead = (addr: Uint8Array): string => getActor(everyEpoch.store, everyEpoch.root, addr)!.head.toString()
    expect(head(out.root, STORAGE_MARKET_ADDRESS)).toBe(everyHead(STORAGE_MARKET_ADDRESS))
    expect(head(out.root, POWER_ACTOR_ADDRESS)).toBe(everyHead(POWER_ACTOR_ADDRESS))
    expect(rewardStateAt(withNull.store, out.root)!.epoch).toBe(rewardStateAt(everyEpoch.store, everyEpoch.root)!.epoch)
    const deal = readDeal(withNull.store, out.root, 0)!
    expect(deal.periods[0]!.paid).toBe(0n) // free deal: settled, nothing to pay …
    expect(deal.state.lastUpdatedEpoch).toBe(B) // … at the null epoch's cron
    // and the rule is what made them equal: without the null epoch's cron the period is not settled
    const skipped = applyBlockMessages(ctx, withNull.root, { bls: [], secp: [] }, null)
    expect(head(skipped.root, STORAGE_MARKET_ADDRESS)).not.toBe(everyHead(STORAGE_MARKET_ADDRESS))
  })

  describe('messages and rewards of several blocks', () => {
    const keys = [new Uint8Array(32).fill(0x31), new Uint8Array(32).fill(0x32)]
    const [a, b] = keys.map(k => secpAddressBytes(secpPublicKey(k))) as [Uint8Array, Uint8Array]
    // two genesis miners (miner actors f01001, f01002) with BLS workers, and an account that is no miner
    const worker = (n: number): Uint8Array => blsAddressBytes(blsPublicKey(new Uint8Array(32).fill(n)))
    const [minerOne, minerTwo] = [idAddressBytes(1001), idAddressBytes(1002)]
    const account = secpAddressBytes(secpPublicKey(new Uint8Array(32).fill(0x43)))
    const providers = [1001, 1002].map((id, i) => ({ id, info: { owner: worker(0x51 + i), worker: worker(0x51 + i), peerId: Uint8Array.of(0, 2, 0, 0) } }))
    const genesis = createGenesis({ beacon: TEST_BEACON, network: 'tipset', producer: idAddressBytes(1000), producerKey: blsPublicKey(new Uint8Array(32).fill(3)), blockDelaySecs: 1 }, 1_800_000_000,
      [{ address: a, balance: 10n * ATTO_PER_FIL }, { address: b, balance: 10n * ATTO_PER_FIL }, { address: account, balance: 0n }], providers)
    const store = genesis.store!
    const root0 = genesis.header.header.parentStateRoot
    const balance = (r: CID, addr: Uint8Array): bigint => getActor(store, r, addr)?.balance ?? 0n
    const pay = (from: Uint8Array, key: Uint8Array): ReturnType<typeof signMessage> => {
      const m: Message = { version: 0, to: idAddressBytes(1000), from, nonce: 0, value: 1n, gasLimit: TRANSFER_GAS_LIMIT, gasFeeCap: BASE_FEE + 50n, gasPremium: 50n, method: METHOD_SEND, params: new Uint8Array(0) }
      return signMessage(key, m)
    }
    const m1 = pay(a, keys[0]!)
    const m2 = pay(b, keys[1]!)
    const tip = BigInt(TRANSFER_GAS_LIMIT) * 50n
    const WIN = ATTO_PER_FIL // the devnet schedule: 5 FIL an epoch, BLOCKS_PER_EPOCH = 5, so 1 FIL a win
    const blocks = [
      { miner: minerOne, winCount: 1, messages: { bls: [], secp: [m1] }, blsAggregate: null },
      { miner: minerTwo, winCount: 3, messages: { bls: [], secp: [m1, m2] }, blsAggregate: null }
    ]
    const ctx = executionContext(store, genesis.state, { ...genesis.header.header, height: 1 }, beaconAt)

    it('genesis funds the reward actor with everything the schedule mints', () => {
      const reward = rewardStateAt(store, root0)!
      expect(balance(root0, REWARD_ACTOR_ADDRESS)).toBe(reward.simpleTotal)
      expect(reward.thisEpochReward).toBe(5n * ATTO_PER_FIL)
    })

    it('runs a message two blocks carry once, at its first; each block\'s miner is paid its own tips and WinCount × 1 FIL, from f02, without receipts', () => {
      const out = applyTipSetMessages(ctx, 0, root0, blocks)
      expect(out.receipts.map(r => r.exitCode)).toEqual([ExitCode.Ok, ExitCode.Ok]) // no receipt for the implicit reward messages
      expect(tipSetExecutionOrder(blocks).map(x => x.message)).toEqual([m1.message, m2.message])
      expect(getActor(store, out.root, a)!.nonce).toBe(1)
      expect(balance(out.root, minerOne)).toBe(tip + 1n * WIN)
      expect(balance(out.root, minerTwo)).toBe(tip + 3n * WIN)
      // f02 paid out exactly what it was tipped plus the block rewards; its books count the block rewards only
      expect(balance(root0, REWARD_ACTOR_ADDRESS) - balance(out.root, REWARD_ACTOR_ADDRESS)).toBe(4n * WIN)
      expect(rewardStateAt(store, out.root)!.totalStoragePowerReward).toBe(4n * WIN)
      // the epoch's cron ticked the reward actor on to the next epoch
      expect(rewardStateAt(store, out.root)!.epoch).toBe(2)
    })

    it('a block whose miner is no miner actor: its reward and tips are burnt (builtin-actors: ApplyRewards fails, the total goes to f099)', () => {
      const out = applyTipSetMessages(ctx, 0, root0, [{ miner: account, winCount: 2, messages: { bls: [], secp: [m1] }, blsAggregate: null }])
      expect(balance(out.root, account)).toBe(0n)
      const burnt = balance(out.root, BURNT_FUNDS_ADDRESS) - balance(root0, BURNT_FUNDS_ADDRESS)
      expect(burnt).toBe(2n * WIN + tip + 1_000_000n * BASE_FEE)
    })

    it('the single producer\'s block (no ElectionProof) counts one win, burnt with its tips', () => {
      expect(ctx.winCount).toBe(1)
      expect(ctx.miner).toEqual(genesis.header.header.miner)
      const produced = executionContext(store, genesis.state, { ...genesis.header.header, miner: idAddressBytes(1000), height: 1 }, beaconAt)
      const out = applyBlockMessages(produced, root0, { bls: [], secp: [m1] }, null)
      expect(balance(out.root, idAddressBytes(1000))).toBe(balance(root0, idAddressBytes(1000)) + 1n) // m1's value only
      expect(balance(root0, REWARD_ACTOR_ADDRESS) - balance(out.root, REWARD_ACTOR_ADDRESS)).toBe(WIN)
    })

    it('refuses a tipset whose reward cannot be applied: WinCount 0 (ErrIllegalArgument), a Miner with no actor (ErrNotFound)', () => {
      const refuse = (miner: Uint8Array, winCount: number): RewardApplicationError => {
        try {
          applyTipSetMessages(ctx, 0, root0, [{ miner, winCount, messages: { bls: [], secp: [] }, blsAggregate: null }])
        } catch (err) { return err as RewardApplicationError }
        throw new Error('applied')
      }
      const zero = refuse(minerOne, 0)
      expect(zero).toBeInstanceOf(RewardApplicationError)
      expect(zero.exitCode).toBe(ActorExit.ErrIllegalArgument)
      expect(refuse(idAddressBytes(4242), 1).exitCode).toBe(ActorExit.ErrNotFound)
      // control: the same tipset with a miner and a win applies
      expect(() => applyTipSetMessages(ctx, 0, root0, [{ miner: minerOne, winCount: 1, messages: { bls: [], secp: [] }, blsAggregate: null }])).not.toThrow()
    })

    it('refuses a parent epoch at or above the tipset\'s', () => {
      expect(() => applyTipSetMessages(ctx, 1, root0, blocks)).toThrow(RangeError)
    })

    it('null epochs tick the reward actor too: after epochs 1–4 null, the state is at epoch 6', () => {
      const at5 = executionContext(store, genesis.state, { ...genesis.header.header, height: 5 }, beaconAt)
      const out = applyTipSetMessages(at5, 0, root0, [{ miner: minerOne, winCount: 1, messages: { bls: [], secp: [] }, blsAggregate: null }])
      expect(rewardStateAt(store, out.root)!.epoch).toBe(6)
    })
  })
})
