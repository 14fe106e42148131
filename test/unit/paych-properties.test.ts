// FIL is conserved by payment channels whatever is sent to them: random schedules of vouchers (valid and
// not), settles, collects, top-ups and epoch advances, checked against a model of builtin-actors' rules
// (every receipt's success predicted), with From, To, the channel, f099 and the block producer summing to
// the same total after every message, and Collect paying To exactly what the model says the lanes redeemed
// (the amount of each lane's latest accepted voucher) and From the rest, to the attoFIL.
import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import {
  createGenesis, executionContext, applyMessage, getActor, secpPublicKey, secpAddressBytes, blsPublicKey, idAddressBytes,
  createChannelMessageParams, updateChannelStateParams, decodeExecReturn, signVoucher, readChannel, InitMethod, PaychMethod,
  INIT_ACTOR_ADDRESS, BURNT_FUNDS_ADDRESS, REWARD_ACTOR_ADDRESS, ExitCode, BASE_FEE, ATTO_PER_FIL, type CID, type Message
} from '../../src/core'
import { TEST_BEACON } from '../helpers/test-beacon'

const FIL = ATTO_PER_FIL
const DELAY = 4
const keys = [21, 22, 23].map(n => new Uint8Array(32).fill(n))
const [client, provider, stranger] = keys.map(k => secpAddressBytes(secpPublicKey(k))) as [Uint8Array, Uint8Array, Uint8Array]
const producer = idAddressBytes(1000)
const who = [client, provider, stranger]

/** Amounts in quarter FIL, sometimes plus a few attoFIL: vouchers then land exactly on (or 1 attoFIL past) a channel's balance. */
const quarters = (min: number, max: number): fc.Arbitrary<bigint> =>
  fc.tuple(fc.integer({ min, max }), fc.constantFrom(0n, 0n, 7n)).map(([q, odd]) => BigInt(q) * FIL / 4n + odd)

type Step =
  | { kind: 'voucher', lane: number, nonce: number, amount: bigint, signer: number, caller: number, timeLockMin: number, minSettleHeight: number }
  | { kind: 'settle', caller: number }
  | { kind: 'collect', caller: number }
  | { kind: 'fund', amount: bigint }
  | { kind: 'advance', epochs: number }

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('voucher' as const), lane: fc.nat({ max: 3 }), nonce: fc.nat({ max: 6 }), amount: fc.tuple(fc.integer({ min: -2, max: 12 }), fc.constantFrom(0n, 0n, 1n, 7n, 8n)).map(([q, odd]) => BigInt(q) * FIL / 4n + odd), signer: fc.constantFrom(0, 0, 0, 1, 2), caller: fc.constantFrom(1, 1, 1, 0, 2), timeLockMin: fc.constantFrom(0, 0, 0, 30), minSettleHeight: fc.constantFrom(0, 0, 0, 0, 12, 25) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('settle' as const), caller: fc.constantFrom(0, 1, 2) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('collect' as const), caller: fc.constantFrom(0, 1, 2) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('fund' as const), amount: quarters(1, 8) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), epochs: fc.nat({ max: 6 }) }) }
)

describe('payment channels conserve FIL (fast-check)', () => {
  it('under random schedules, every receipt is the model\'s and Collect pays the redeemed lanes to To, the rest to From', () => {
    fc.assert(fc.property(quarters(1, 20), fc.array(step, { maxLength: 25 }), (funds, steps) => {
      const genesis = createGenesis({ beacon: TEST_BEACON, network: 'paych-prop', producer, producerKey: blsPublicKey(new Uint8Array(32).fill(9)), blockDelaySecs: 1, paych: { settleDelay: DELAY } },
        1_800_000_000, who.map(address => ({ address, balance: 100n * FIL })))
      const store = genesis.store!
      let root: CID = genesis.header.header.parentStateRoot
      let epoch = 1
      const nonces = [0, 0, 0]
      const balance = (a: Uint8Array): bigint => getActor(store, root, a)?.balance ?? 0n
      /** Applies a message; returns its exit code and what its sender paid in gas. */
      const send = (from: number, to: Uint8Array, method: number, params: Uint8Array, value = 0n): { exitCode: number, gas: bigint, ret: Uint8Array } => {
        const m: Message = { version: 0, to, from: who[from]!, nonce: nonces[from]!++, value, gasLimit: 10_000_000, gasFeeCap: 300n, gasPremium: 100n, method, params }
        const out = applyMessage(executionContext(store, genesis.state, { ...genesis.header.header, height: epoch }, () => undefined), root, m)
        root = out.root
        return { exitCode: out.receipt.exitCode, gas: BigInt(out.receipt.gasUsed) * BASE_FEE + BigInt(m.gasLimit) * m.gasPremium, ret: out.receipt.return }
      }
      const created = send(0, INIT_ACTOR_ADDRESS, InitMethod.Exec, createChannelMessageParams(client, provider), funds)
      expect(created.exitCode).toBe(ExitCode.Ok)
      const ch = decodeExecReturn(created.ret).idAddress
      const holders = [...who, ch, BURNT_FUNDS_ADDRESS, producer, REWARD_ACTOR_ADDRESS, INIT_ACTOR_ADDRESS]
      const total = (): bigint => holders.reduce((s, a) => s + balance(a), 0n)
      const start = total()

      // the model of the channel
      let held = funds
      let toSend = 0n
      let settlingAt = 0
      let minSettle = 0
      let collected = false
      const lanes = new Map<number, { redeemed: bigint, nonce: number }>()

      // every schedule ends with the channel closed: Settle (if not yet), wait out the delay, Collect
      const tail: Step[] = [{ kind: 'settle', caller: 1 }, { kind: 'advance', epochs: DELAY + 30 }, { kind: 'collect', caller: 0 }]
      for (const s of [...steps, ...tail]) {
        const before = who.map(balance)
        if (s.kind === 'advance') { epoch += s.epochs; continue }
        if (s.kind === 'fund') {
          const r = send(0, ch, 0, new Uint8Array(0), s.amount)
          expect(r.exitCode === ExitCode.Ok).toBe(!collected)
          if (!collected) held += s.amount
        } else if (s.kind === 'settle') {
          const ok = !collected && s.caller !== 2 && settlingAt === 0
          expect(send(s.caller, ch, PaychMethod.Settle, new Uint8Array(0)).exitCode === ExitCode.Ok).toBe(ok)
          if (ok) settlingAt = Math.max(epoch + DELAY, minSettle)
        } else if (s.kind === 'collect') {
          const ok = !collected && s.caller !== 2 && settlingAt !== 0 && epoch >= settlingAt
          const r = send(s.caller, ch, PaychMethod.Collect, new Uint8Array(0))
          expect(r.exitCode === ExitCode.Ok).toBe(ok)
          if (ok) {
            const expected = [held - toSend, toSend, 0n]
            expected[s.caller] = expected[s.caller]! - r.gas
            expect(who.map((a, i) => balance(a) - before[i]!)).toEqual(expected)
            expect(readChannel(store, root, ch)).toBeNull()
            collected = true
          }
        } else {
          const v = signVoucher(keys[s.signer]!, who[s.signer]!, {
            channelAddr: ch, timeLockMin: s.timeLockMin, timeLockMax: 0, secretHash: new Uint8Array(0), extra: null, lane: s.lane, nonce: s.nonce,
            amount: s.amount, minSettleHeight: s.minSettleHeight, merges: [], signature: null
          })
          const lane = lanes.get(s.lane)
          const next = toSend + s.amount - (lane?.redeemed ?? 0n)
          const ok = !collected && s.caller !== 2 && s.signer === (s.caller === 0 ? 1 : 0) && (settlingAt === 0 || epoch < settlingAt) &&
            epoch >= s.timeLockMin && s.amount >= 0n && (lane === undefined || s.nonce > lane.nonce) && next >= 0n && next <= held
          expect(send(s.caller, ch, PaychMethod.UpdateChannelState, updateChannelStateParams(v)).exitCode === ExitCode.Ok).toBe(ok)
          if (ok) {
            toSend = next
            lanes.set(s.lane, { redeemed: s.amount, nonce: s.nonce })
            if (s.minSettleHeight !== 0) {
              if (settlingAt !== 0 && settlingAt < s.minSettleHeight) settlingAt = s.minSettleHeight
              minSettle = Math.max(minSettle, s.minSettleHeight)
            }
          }
        }
        expect(total()).toBe(start)
        if (!collected) {
          const rec = readChannel(store, root, ch)!
          expect(rec.balance).toBe(held)
          expect(rec.state).toMatchObject({ toSend, settlingAt, minSettleHeight: minSettle })
          // without merges, ToSend is what the lanes redeemed, summed
          expect([...lanes.values()].reduce((sum, l) => sum + l.redeemed, 0n)).toBe(toSend)
          expect(rec.lanes).toEqual([...lanes].sort((a, b) => a[0] - b[0]).map(([l, x]) => ({ lane: l, ...x })))
        }
      }
      expect(collected).toBe(true)
    }), { numRuns: 60 })
  }, 120_000)
})
