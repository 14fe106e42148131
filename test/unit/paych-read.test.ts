// The verified read of a payment channel (recorded on the node, replayed over its blocks alone in the light
// client, as deals and escrow are), and the provider's off-chain voucher check, one breaking case per code.
import { describe, it, expect, beforeAll } from 'vitest'
import {
  createGenesis, executionContext, applyMessage, getActor, secpPublicKey, secpAddressBytes, blsPublicKey, blsAddressBytes, idAddressBytes,
  createChannelMessageParams, updateChannelStateParams, decodeExecReturn, signVoucher, readChannel, verifyChannelProof, recordReads,
  encodeStateRequest, decodeStateRequest, checkVoucher, MAX_LANE, MAX_CHANNEL_LANES, newActorAddress, chainCid, VoucherRejectedError, InitMethod, PaychMethod,
  INIT_ACTOR_ADDRESS, ExitCode, ATTO_PER_FIL,
  type CID, type Genesis, type Message, type SignedVoucher, type ChannelRecord, type VoucherCheck, type VoucherRejectCode
} from '../../src/core'
import { TEST_BEACON } from '../helpers/test-beacon'

const FIL = ATTO_PER_FIL
const clientKey = new Uint8Array(32).fill(31)
const providerKey = new Uint8Array(32).fill(32)
const client = secpAddressBytes(secpPublicKey(clientKey))
const provider = secpAddressBytes(secpPublicKey(providerKey))
const otherProvider = blsAddressBytes(blsPublicKey(new Uint8Array(32).fill(33)))

let genesis: Genesis
let root: CID
let channel: { id: Uint8Array, robust: Uint8Array }
const nonces = new Map<string, number>()

function call (epoch: number, from: Uint8Array, to: Uint8Array, method: number, params: Uint8Array, value = 0n): { exitCode: number, return: Uint8Array } {
  const nonce = nonces.get(from.join()) ?? 0
  nonces.set(from.join(), nonce + 1)
  const m: Message = { version: 0, to, from, nonce, value, gasLimit: 10_000_000, gasFeeCap: 300n, gasPremium: 100n, method, params }
  const out = applyMessage(executionContext(genesis.store!, genesis.state, { ...genesis.header.header, height: epoch }, () => undefined), root, m)
  root = out.root
  return out.receipt
}
const voucher = (over: Partial<SignedVoucher> = {}): SignedVoucher => signVoucher(clientKey, client, {
  channelAddr: channel.id, timeLockMin: 0, timeLockMax: 0, secretHash: new Uint8Array(0), extra: null, lane: 0, nonce: 1, amount: 1n * FIL,
  minSettleHeight: 0, merges: [], signature: null, ...over
})

beforeAll(() => {
  genesis = createGenesis({ beacon: TEST_BEACON, network: 'paych-read', producer: idAddressBytes(1000), producerKey: blsPublicKey(new Uint8Array(32).fill(9)), blockDelaySecs: 1 }, 1_800_000_000,
    [{ address: client, balance: 100n * FIL }, { address: provider, balance: 1n * FIL }])
  root = genesis.header.header.parentStateRoot
  const created = call(1, client, INIT_ACTOR_ADDRESS, InitMethod.Exec, createChannelMessageParams(client, provider), 10n * FIL)
  expect(created.exitCode).toBe(ExitCode.Ok)
  const ret = decodeExecReturn(created.return)
  channel = { id: ret.idAddress, robust: ret.robustAddress }
  for (const [lane, amount] of [[0, 2n * FIL], [3, 1n * FIL], [9, 500n]] as const) {
    expect(call(2, provider, channel.id, PaychMethod.UpdateChannelState, updateChannelStateParams(voucher({ lane, amount })))).toMatchObject({ exitCode: ExitCode.Ok })
  }
})

describe('readChannel: a verified read', () => {
  it('reads the balance, state and every lane, by f0 or f2', () => {
    const rec = readChannel(genesis.store!, root, channel.robust)!
    expect(rec.id).toEqual(channel.id)
    expect(rec.balance).toBe(10n * FIL)
    expect(rec.state).toMatchObject({ from: client, to: provider, toSend: 3n * FIL + 500n, settlingAt: 0 })
    expect(rec.lanes).toEqual([{ lane: 0, redeemed: 2n * FIL, nonce: 1 }, { lane: 3, redeemed: 1n * FIL, nonce: 1 }, { lane: 9, redeemed: 500n, nonce: 1 }])
    expect(readChannel(genesis.store!, root, channel.id)).toEqual(rec)
  })

  it('the recorded blocks prove it under the root; a tampered or missing block does not', () => {
    for (const address of [channel.id, channel.robust]) {
      const blocks = recordReads(genesis.store!, g => readChannel(g, root, address))
      expect(verifyChannelProof(root, address, blocks)).toEqual(readChannel(genesis.store!, root, address))
      for (let i = 0; i < blocks.length; i++) {
        const tampered = blocks.map((b, j) => {
          if (j !== i) return b
          const t = b.slice()
          t[t.length - 1] = t[t.length - 1]! ^ 1
          return t
        })
        expect(() => verifyChannelProof(root, address, tampered), `block ${i} flipped`).toThrow(/ProofIncomplete|proof lacks/)
        expect(() => verifyChannelProof(root, address, blocks.filter((_, j) => j !== i)), `block ${i} missing`).toThrow(/proof lacks/)
      }
      // the same blocks say nothing about another root
      expect(() => verifyChannelProof(chainCid(new Uint8Array([1])), address, blocks)).toThrow(/proof lacks/)
    }
  })

  it('proves absence: an f2 no actor has, an f0 that is not a channel', () => {
    for (const address of [newActorAddress(provider, 0, 0), idAddressBytes(1000), idAddressBytes(4242), client]) {
      const blocks = recordReads(genesis.store!, g => readChannel(g, root, address))
      expect(verifyChannelProof(root, address, blocks)).toBeNull()
    }
  })

  it('the state request kind \'channel\' goes over the wire', () => {
    const req = { kind: 'channel' as const, address: channel.robust, at: root }
    expect(decodeStateRequest(encodeStateRequest(req))).toEqual(req)
  })
})

describe('checkVoucher: what a provider accepts before redeeming', () => {
  let rec: ChannelRecord
  beforeAll(() => { rec = readChannel(genesis.store!, root, channel.id)! })
  const check = (over: Partial<VoucherCheck>): ReturnType<typeof checkVoucher> =>
    checkVoucher({ channel: rec, channelAddress: channel.robust, voucher: voucher({ lane: 5, amount: 1n * FIL }), recipient: provider, epoch: 10, held: new Map(), ...over })
  const code = (over: Partial<VoucherCheck>): VoucherRejectCode | 'ok' => {
    try { check(over) } catch (err) {
      expect(err).toBeInstanceOf(VoucherRejectedError)
      expect((err as Error).message.length).toBeGreaterThan(10)
      return (err as VoucherRejectedError).code
    }
    return 'ok'
  }

  it('accepts a good voucher and says what it adds over the chain and what is held', () => {
    expect(check({})).toEqual({ added: 1n * FIL, channelTotal: 4n * FIL + 500n })
    expect(check({ voucher: voucher({ channelAddr: channel.robust, lane: 5, amount: 1n * FIL }) }).added).toBe(1n * FIL)
    // lane 0 redeemed 2 FIL at nonce 1 on chain; the provider holds 3 FIL at nonce 4
    expect(check({ voucher: voucher({ lane: 0, nonce: 5, amount: 3n * FIL + 9n }), held: new Map([[0, { nonce: 4, amount: 3n * FIL }]]) }).added).toBe(9n)
  })

  it('refuses each broken rule with its code', () => {
    expect(code({ voucher: { ...voucher(), signature: null } })).toBe('MALFORMED')
    expect(code({ voucher: voucher({ extra: { actor: client, method: 2, data: new Uint8Array(0) } }) })).toBe('MALFORMED')
    expect(code({ voucher: voucher({ lane: 5, merges: [{ lane: 0, nonce: 2 }] }) })).toBe('MALFORMED')
    expect(code({ voucher: voucher({ lane: 5, secretHash: new Uint8Array(32) }) })).toBe('MALFORMED')
    expect(code({ voucher: voucher({ lane: 5, channelAddr: idAddressBytes(4242) }) })).toBe('CHANNEL')
    expect(code({ voucher: voucher({ lane: 5, channelAddr: channel.robust }), channelAddress: undefined })).toBe('CHANNEL')
    expect(code({ recipient: otherProvider })).toBe('RECIPIENT')
    expect(code({ voucher: signVoucher(providerKey, provider, { ...voucher({ lane: 5 }), signature: null }) })).toBe('SIGNER')
    expect(code({ channel: { ...rec, state: { ...rec.state, settlingAt: 500 } } })).toBe('SETTLING')
    expect(code({ voucher: voucher({ lane: 5, timeLockMin: 11 }) })).toBe('TIMELOCK')
    expect(code({ voucher: voucher({ lane: 5, timeLockMax: 9 }) })).toBe('TIMELOCK')
    // valid now but not when the provider redeems it (after the retrieval): no time lock at all, as Lotus's paychmgr
    expect(code({ voucher: voucher({ lane: 5, timeLockMax: 1_000_000 }) })).toBe('TIMELOCK')
    expect(code({ voucher: voucher({ lane: 5, timeLockMin: 1 }) })).toBe('TIMELOCK')
    expect(code({ lane: 6 })).toBe('LANE')
    expect(code({ voucher: voucher({ lane: 0, nonce: 1, amount: 5n * FIL }) })).toBe('NONCE') // chain holds nonce 1
    expect(code({ voucher: voucher({ lane: 5, nonce: 2 }), held: new Map([[5, { nonce: 2, amount: 1n }]]) })).toBe('NONCE')
    expect(code({ voucher: voucher({ lane: 0, nonce: 2, amount: 2n * FIL }) })).toBe('AMOUNT') // not above the redeemed 2 FIL
    expect(code({ voucher: voucher({ lane: 5, nonce: 3, amount: 1n }), held: new Map([[5, { nonce: 2, amount: 1n }]]) })).toBe('AMOUNT')
    expect(code({ voucher: voucher({ lane: 5, amount: -1n }) })).toBe('AMOUNT')
    // 10 FIL in the channel: 3 FIL + 500 on chain, 6 FIL held on lane 4, so lane 5 may take 1 FIL − 500 and no more
    const held = new Map([[4, { nonce: 1, amount: 6n * FIL }]])
    expect(code({ voucher: voucher({ lane: 5, amount: 1n * FIL - 500n }), held })).toBe('ok')
    expect(code({ voucher: voucher({ lane: 5, amount: 1n * FIL - 499n }), held })).toBe('FUNDS')
  })

  it('refuses a lane the chain would refuse at redeem: past builtin-actors\' MAX_LANE (2^63 − 1) or Coffer\'s range, or one lane more than the actor opens', () => {
    expect(MAX_LANE).toBe(9223372036854775807n)
    // signed as they are where the encoder takes them; NaN cannot be encoded, so that one is unsigned
    for (const lane of [-1, 1.5, 2 ** 53, 2 ** 63]) expect(code({ voucher: voucher({ lane }) }), `lane ${lane}`).toBe('LANE')
    expect(code({ voucher: { ...voucher(), lane: Number.NaN } })).toBe('LANE')
    expect(code({ voucher: voucher({ lane: Number.MAX_SAFE_INTEGER }) })).toBe('ok')
    // lanes on chain and lanes held both count: the actor takes no new lane past MAX_CHANNEL_LANES
    const onChain = rec.lanes.length
    const fill = (n: number): Map<number, { nonce: number, amount: bigint }> => new Map(Array.from({ length: n }, (_, i) => [1000 + i, { nonce: 1, amount: 1n }]))
    expect(code({ voucher: voucher({ lane: 5 }), held: fill(MAX_CHANNEL_LANES - onChain - 1) })).toBe('ok')
    expect(code({ voucher: voucher({ lane: 5 }), held: fill(MAX_CHANNEL_LANES - onChain) })).toBe('LANE')
    // a lane already open is not a new one
    expect(code({ voucher: voucher({ lane: 1000, nonce: 2, amount: 2n }), held: fill(MAX_CHANNEL_LANES - onChain) })).toBe('ok')
  })
})

// keep the channel actor's code honest in this file too: what the read found is a channel actor
it('the channel lives at its f0 in the state tree', () => {
  expect(getActor(genesis.store!, root, channel.id)).not.toBeNull()
  expect(getActor(genesis.store!, root, channel.robust)).toBeNull()
})
