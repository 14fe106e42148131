// The block gas limit (issue 9, defect 4): Lotus's checkBlockMessages refuses a block whose messages' GasLimits
// add up to more than build.BlockGasLimit, its mpool refuses a message asking for more than a block holds,
// and its selection fills a block only up to the limit. Coffer's rules over a real genesis state.
import { describe, it, expect, beforeAll } from 'vitest'
import {
  createGenesis, executionContext, applyBlockMessages, loadBlockMessages, storeBlockMessages, checkBlockGasLimit, blockGasLimit,
  signMessage, secpPublicKey, secpAddressBytes, blsPublicKey, idAddressBytes, MemoryBlockStore, ProofBlockStore, RecordingGetter,
  BLOCK_GAS_LIMIT, BASE_FEE, ATTO_PER_FIL, type Genesis, type Message, type SignedMessage, type CID
} from '../../src/core'
import { Mpool } from '../../src/node/mpool'
import { TEST_BEACON } from '../helpers/test-beacon'

const FIL = ATTO_PER_FIL
const keys = Array.from({ length: 25 }, (_, i) => new Uint8Array(32).fill(i + 1))
const senders = keys.map(k => secpAddressBytes(secpPublicKey(k)))
const producer = idAddressBytes(1000)
let genesis: Genesis
let root: CID

beforeAll(() => {
  genesis = createGenesis({ beacon: TEST_BEACON, network: 'test', producer, producerKey: blsPublicKey(new Uint8Array(32).fill(99)), blockDelaySecs: 1 }, 1_800_000_000,
    senders.map(address => ({ address, balance: 10n * FIL })))
  root = genesis.header.header.parentStateRoot
})

const heavy = (i: number, over: Partial<Message> = {}): SignedMessage => signMessage(keys[i]!, {
  version: 0, to: senders[(i + 1) % senders.length]!, from: senders[i]!, nonce: 0, value: 1n, gasLimit: BLOCK_GAS_LIMIT,
  gasFeeCap: BASE_FEE * 2n, gasPremium: 10n, method: 0, params: new Uint8Array(0), ...over
})
const failure = (fn: () => unknown): { name: string, code?: string } | undefined => {
  try { fn() } catch (err) { return { name: (err as Error).name, code: (err as { code?: string }).code } }
  return undefined
}

describe('a block over the block gas limit', () => {
  it('is refused where its messages are loaded (node and light client) and where they are applied', () => {
    const twenty = { bls: [], secp: Array.from({ length: 20 }, (_, i) => heavy(i)) }
    expect(blockGasLimit(twenty)).toBe(20 * BLOCK_GAS_LIMIT)
    expect(failure(() => { checkBlockGasLimit(twenty) })).toEqual({ name: 'BlockGasLimitError', code: 'BLOCK_GAS_LIMIT' })

    const store = new MemoryBlockStore()
    const txMeta = storeBlockMessages(store, twenty)
    expect(failure(() => loadBlockMessages(store, txMeta))).toMatchObject({ name: 'BlockGasLimitError' })
    // the light client replays the same load over the blocks a peer sent: the same refusal
    const rec = new RecordingGetter(store)
    try { loadBlockMessages(rec, txMeta) } catch {}
    expect(failure(() => loadBlockMessages(new ProofBlockStore(rec.blocks()), txMeta))).toMatchObject({ name: 'BlockGasLimitError' })

    const ctx = executionContext(genesis.store!, genesis.state, genesis.header.header, () => undefined)
    expect(failure(() => applyBlockMessages(ctx, root, twenty, null))).toMatchObject({ name: 'BlockGasLimitError' })
  })

  it('is accepted up to the limit exactly', () => {
    const half = BLOCK_GAS_LIMIT / 2
    const two = { bls: [], secp: [heavy(0, { gasLimit: half }), heavy(1, { gasLimit: half })] }
    expect(() => { checkBlockGasLimit(two) }).not.toThrow()
    const store = new MemoryBlockStore()
    expect(loadBlockMessages(store, storeBlockMessages(store, two)).secp).toHaveLength(2)
    const over = { bls: [], secp: [heavy(0, { gasLimit: half }), heavy(1, { gasLimit: half + 1 })] }
    expect(failure(() => { checkBlockGasLimit(over) })).toMatchObject({ name: 'BlockGasLimitError' })
  })
})

describe('a block holding a message whose GasLimit is out of range', () => {
  it('is refused, so a negative GasLimit cannot make room for others (Lotus: ValidForBlockInclusion per message)', () => {
    // decodeMessage takes any safe integer: -L + L + L sums to L, within the block limit, yet asks for 2L
    const negative = { bls: [], secp: [heavy(0, { gasLimit: -BLOCK_GAS_LIMIT }), heavy(1), heavy(2)] }
    expect(blockGasLimit(negative)).toBe(BLOCK_GAS_LIMIT)
    expect(failure(() => { checkBlockGasLimit(negative) })).toEqual({ name: 'MessageGasLimitError', code: 'BLOCK_GAS_LIMIT' })
    const store = new MemoryBlockStore()
    expect(failure(() => loadBlockMessages(store, storeBlockMessages(store, negative)))).toMatchObject({ name: 'MessageGasLimitError' })
    expect(failure(() => { checkBlockGasLimit({ bls: [], secp: [heavy(0, { gasLimit: 0 })] }) })).toMatchObject({ name: 'MessageGasLimitError' })
    expect(failure(() => { checkBlockGasLimit({ bls: [], secp: [heavy(0, { gasLimit: BLOCK_GAS_LIMIT + 1 })] }) })).toMatchObject({ name: 'MessageGasLimitError' })
  })
})

describe('the pool and the block gas limit', () => {
  it('refuses one message asking for more than a block holds', async () => {
    const pool = new Mpool(genesis.store!, () => root)
    await expect(pool.push(heavy(0, { gasLimit: BLOCK_GAS_LIMIT + 1 }))).rejects.toMatchObject({ name: 'MessageOutOfRangeError', message: expect.stringMatching(/GasLimit/) })
  })

  it('selects messages whose GasLimits fit one block, the best-paying first, and leaves the rest for later blocks', async () => {
    const pool = new Mpool(genesis.store!, () => root)
    // twenty senders of one block-sized message each, and one sender of small ones paying more per gas
    for (let i = 0; i < 20; i++) await pool.push(heavy(i))
    const small = [0, 1, 2].map(n => heavy(21, { nonce: n, gasLimit: 2_000_000, gasPremium: 50n }))
    for (const sm of small) await pool.push(sm)
    const first = pool.select(500, BLOCK_GAS_LIMIT)
    expect(blockGasLimit(first)).toBeLessThanOrEqual(BLOCK_GAS_LIMIT)
    // the small ones go first (better premium); no block-sized message fits beside them
    expect(first.secp.map(sm => sm.message.from)).toEqual([senders[21], senders[21], senders[21]])
    expect(first.secp.map(sm => sm.message.nonce)).toEqual([0, 1, 2])
    // on their own, one block-sized message per block
    const alone = new Mpool(genesis.store!, () => root)
    for (let i = 0; i < 20; i++) await alone.push(heavy(i))
    const picked = alone.select(500, BLOCK_GAS_LIMIT)
    expect(picked.secp).toHaveLength(1)
    // a smaller limit: senders take turns, each in nonce order
    const turns = new Mpool(genesis.store!, () => root)
    for (let n = 0; n < 3; n++) await turns.push(heavy(22, { nonce: n, gasLimit: 1_000_000 }))
    for (let n = 0; n < 3; n++) await turns.push(heavy(23, { nonce: n, gasLimit: 1_000_000 }))
    const some = turns.select(500, 4_000_000)
    expect(some.secp.map(sm => [senders.indexOf(sm.message.from), sm.message.nonce])).toEqual([[22, 0], [23, 0], [22, 1], [23, 1]])
  })
})
