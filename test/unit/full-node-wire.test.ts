// Chain exchange's Messages option in Lotus's layout (BSTipSet [Blocks, CompactedMessages [Bls, BlsIncludes,
// Secpk, SecpkIncludes]]) and the genesis CAR a new full node starts from: round trips and named refusals.
import { describe, it, expect } from 'vitest'
import * as dagCbor from '@ipld/dag-cbor'
import { bls12_381 } from '@noble/curves/bls12-381.js'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { CarBufferReader } from '@ipld/car/buffer-reader'
import { CarWriter } from '@ipld/car/writer'
import {
  createGenesis, produceHeader, idAddressBytes, blsPublicKey, secpPublicKey, secpAddressBytes, signMessage, storeBlockMessages,
  encodeExchangeResponse, decodeExchangeResponse, compactBlockMessages, compactTipSetMessages, blockMessagesOf, encodeBlockMsg, decodeBlockMsgFull,
  signedMessageCid, MemoryBlockStore, ExchangeStatus, MAX_EXCHANGE_MESSAGES_RESPONSE_BYTES, MalformedMessageError, parseFil, MAX_BLOCK_MESSAGES, MAX_TIPSET_BLOCKS, TooManyMessagesError,
  TRANSFER_GAS_LIMIT, TRANSFER_GAS_FEE_CAP, TRANSFER_GAS_PREMIUM, METHOD_SEND, type BlockMessages, type CID
} from '../../src/core'
import { encodeGenesisCar, decodeGenesisCar, GenesisBlockHashError, GenesisCidMismatchError, GenesisIncompleteError } from '../../src/node/full-node/genesis-car'
import { TEST_BEACON, testBeaconEntries } from '../helpers/test-beacon'

const producer = bls12_381.longSignatures.keygen().secretKey
const genesis = createGenesis({ beacon: TEST_BEACON, network: 'wire-test', producer: idAddressBytes(1000), producerKey: blsPublicKey(producer), blockDelaySecs: 1 }, 1_000_000,
  [{ address: idAddressBytes(1001), balance: parseFil('5') }])

function secpMessages (n: number): BlockMessages {
  const key = secp256k1.utils.randomSecretKey()
  const from = secpAddressBytes(secpPublicKey(key))
  const secp = Array.from({ length: n }, (_, nonce) => signMessage(key, {
    version: 0, to: idAddressBytes(1001), from, nonce, value: 1n, gasLimit: TRANSFER_GAS_LIMIT, gasFeeCap: TRANSFER_GAS_FEE_CAP, gasPremium: TRANSFER_GAS_PREMIUM, method: METHOD_SEND, params: new Uint8Array(0)
  }))
  return { bls: [], secp }
}

describe('chain exchange with messages', () => {
  it('round-trips a tipset\'s CompactedMessages and rebuilds the TxMeta the header names', () => {
    const msgs = secpMessages(3)
    const txMeta = storeBlockMessages(new MemoryBlockStore(), msgs)
    const h = produceHeader(genesis.header, genesis, producer, 1_000_001, testBeaconEntries(genesis.header, genesis), { parentStateRoot: genesis.header.header.parentStateRoot, parentMessageReceipts: genesis.header.header.parentMessageReceipts, messages: txMeta, blsAggregate: null })
    const bytes = encodeExchangeResponse({ status: ExchangeStatus.Ok, errorMessage: '', chain: [[h]], messages: [compactBlockMessages(msgs)] })
    // Lotus's layout: [Status, ErrorMessage, [[Blocks, [Bls, BlsIncludes, Secpk, SecpkIncludes]]]]
    const raw = dagCbor.decode(bytes) as unknown[][]
    const bs = (raw[2] as unknown[][])[0]!
    expect((bs[1] as unknown[]).length).toBe(4)
    expect((bs[1] as unknown[])[3]).toEqual([[0, 1, 2]])
    const back = decodeExchangeResponse(bytes, MAX_EXCHANGE_MESSAGES_RESPONSE_BYTES)
    expect(back.chain[0]![0]!.cid.equals(h.cid)).toBe(true)
    const rebuilt = blockMessagesOf(back.messages![0]!, 0)
    expect(storeBlockMessages(new MemoryBlockStore(), rebuilt).equals(h.header.messages)).toBe(true)
    // a headers-only answer carries null messages, as before
    expect(decodeExchangeResponse(encodeExchangeResponse({ status: ExchangeStatus.Ok, errorMessage: '', chain: [[h]] })).messages).toBeUndefined()
  })

  it('a messages-only answer (Options = Messages: no headers, as the gossip validator asks) decodes by its includes, bounded', () => {
    const c = compactBlockMessages(secpMessages(3))
    const only = encodeExchangeResponse({ status: ExchangeStatus.Ok, errorMessage: '', chain: [[]], messages: [c] })
    const back = decodeExchangeResponse(only, MAX_EXCHANGE_MESSAGES_RESPONSE_BYTES)
    expect(blockMessagesOf(back.messages![0]!, 0).secp).toHaveLength(3)
    // includes for more blocks than a tipset may hold are refused before any message is decoded
    const many = { bls: [], blsIncludes: Array(MAX_TIPSET_BLOCKS + 1).fill([]), secpk: [], secpkIncludes: Array(MAX_TIPSET_BLOCKS + 1).fill([]) }
    expect(() => decodeExchangeResponse(encodeExchangeResponse({ status: ExchangeStatus.Ok, errorMessage: '', chain: [[]], messages: [many] }), MAX_EXCHANGE_MESSAGES_RESPONSE_BYTES)).toThrow(TooManyMessagesError)
  })

  it('a tipset of several blocks lists each message once, as Lotus\'s gatherMessages: shared and repeated messages are indexed, not sent again', () => {
    const [a, b, c] = secpMessages(3).secp as [BlockMessages['secp'][number], BlockMessages['secp'][number], BlockMessages['secp'][number]]
    const blocks: BlockMessages[] = [{ bls: [], secp: [a, b] }, { bls: [], secp: [b, c, c] }, { bls: [], secp: [] }]
    const compacted = compactTipSetMessages(blocks)
    expect(compacted.secpk.map(sm => String(signedMessageCid(sm)))).toEqual([a, b, c].map(sm => String(signedMessageCid(sm))))
    expect(compacted.secpkIncludes).toEqual([[0, 1], [1, 2, 2], []])
    expect(compacted.blsIncludes).toEqual([[], [], []])
    // each block's own list comes back in its own order, so its TxMeta does too
    for (const [i, msgs] of blocks.entries()) expect(blockMessagesOf(compacted, i)).toEqual(msgs)
    expect(compactBlockMessages(blocks[1]!)).toEqual({ bls: [], blsIncludes: [[]], secpk: [b, c], secpkIncludes: [[0, 1, 1]] })
  })

  it('refuses includes that point past the messages sent, by name', () => {
    const c = compactBlockMessages(secpMessages(1))
    expect(() => blockMessagesOf({ ...c, secpkIncludes: [[0, 5]] }, 0)).toThrow(MalformedMessageError)
    expect(() => blockMessagesOf(c, 1)).toThrow(MalformedMessageError)
    const block = dagCbor.decode(genesis.header.bytes)
    const pastEnd = dagCbor.encode([0, '', [[[block], [[], [[0]], [], [[]]]]]])
    expect(() => blockMessagesOf(decodeExchangeResponse(pastEnd, MAX_EXCHANGE_MESSAGES_RESPONSE_BYTES).messages![0]!, 0)).toThrow(MalformedMessageError)
    const junk = dagCbor.encode([0, '', [[[block], [[new Uint8Array(3)], [[0]], [], [[]]]]]])
    expect(() => decodeExchangeResponse(junk, MAX_EXCHANGE_MESSAGES_RESPONSE_BYTES)).toThrow(MalformedMessageError)
  })

  it('refuses, by name and before decoding any message, more messages or includes than a block may hold, or includes for another number of blocks', () => {
    const one = secpMessages(1).secp[0]!
    const h = genesis.header
    const answer = (c: ReturnType<typeof compactBlockMessages>, blocks = [h]): Uint8Array =>
      encodeExchangeResponse({ status: ExchangeStatus.Ok, errorMessage: '', chain: [blocks], messages: [c] })
    const decode = (bytes: Uint8Array): unknown => decodeExchangeResponse(bytes, MAX_EXCHANGE_MESSAGES_RESPONSE_BYTES)
    // the most a block may hold decodes
    expect((decode(answer(compactBlockMessages({ bls: [], secp: Array(MAX_BLOCK_MESSAGES).fill(one) }))) as { messages: unknown[] }).messages).toHaveLength(1)
    // one more secp message than a block may hold (the same message repeated: its count alone is refused)
    expect(() => decode(answer(compactBlockMessages({ bls: [], secp: Array(MAX_BLOCK_MESSAGES + 1).fill(one) })))).toThrow(TooManyMessagesError)
    // as many BLS messages
    const bls = Array(MAX_BLOCK_MESSAGES + 1).fill(one.message)
    expect(() => decode(answer({ bls, blsIncludes: [[]], secpk: [], secpkIncludes: [[]] }))).toThrow(TooManyMessagesError)
    // an includes list naming one message more than a block's limit times
    expect(() => decode(answer({ bls: [], blsIncludes: [[]], secpk: [one], secpkIncludes: [Array(MAX_BLOCK_MESSAGES + 1).fill(0)] }))).toThrow(TooManyMessagesError)
    // BLS and secp includes that together pass the limit
    expect(() => decode(answer({ bls: [one.message], blsIncludes: [Array(MAX_BLOCK_MESSAGES).fill(0)], secpk: [one], secpkIncludes: [[0]] }))).toThrow(TooManyMessagesError)
    // includes for two blocks in a one-block tipset (Lotus's validateCompressedIndices)
    expect(() => decode(answer({ bls: [], blsIncludes: [[], []], secpk: [one], secpkIncludes: [[0], [0]] }))).toThrow(TooManyMessagesError)
    expect(new TooManyMessagesError('x')).toBeInstanceOf(MalformedMessageError) // a fault: sync drops the peer
  })

  it('a block gossip message carries its message CIDs (Lotus BlockMsg)', () => {
    const msgs = secpMessages(2)
    const h = genesis.header
    const m = decodeBlockMsgFull(encodeBlockMsg(h, msgs))
    expect(m.secpkMessages.map(String)).toEqual(msgs.secp.map(sm => String(signedMessageCid(sm))))
    expect(m.blsMessages).toHaveLength(0)
  })
})

async function car (roots: CID[], blocks: Array<{ cid: CID, bytes: Uint8Array }>): Promise<Uint8Array> {
  const { writer, out } = CarWriter.create(roots)
  const chunks: Uint8Array[] = []
  const done = (async () => { for await (const c of out) chunks.push(c) })()
  for (const b of blocks) await writer.put(b)
  await writer.close()
  await done
  return new Uint8Array(chunks.flatMap(c => [...c]))
}

describe('genesis CAR', () => {
  it('holds the header and every state block, and opens against the trusted CID', async () => {
    const bytes = await encodeGenesisCar(genesis.store!, genesis)
    const { genesis: opened, store } = decodeGenesisCar(bytes, genesis.header.cid)
    expect(opened.header.cid.equals(genesis.header.cid)).toBe(true)
    expect(opened.state.network).toBe('wire-test')
    // the state tree, its parameters and the empty message and receipt arrays the header links (not the
    // intermediate roots genesis creation left in its store on the way)
    for (const cid of [genesis.header.header.parentStateRoot, genesis.stateCid, genesis.header.header.messages, genesis.header.header.parentMessageReceipts]) {
      expect(store.get(cid)).toBeDefined()
    }
    expect(store.blocks.size).toBeLessThanOrEqual(genesis.store!.blocks.size)
  })

  it('refuses another genesis, a block that does not hash to its CID, and a state with a block missing', async () => {
    const bytes = await encodeGenesisCar(genesis.store!, genesis)
    const other = createGenesis({ ...genesis.state, network: 'other' }, 1_000_000)
    expect(() => decodeGenesisCar(bytes, other.header.cid)).toThrow(GenesisCidMismatchError)
    const blocks = [...CarBufferReader.fromBytes(bytes).blocks()]
    const tampered = blocks.map((b, i) => i === 2 ? { cid: b.cid, bytes: Uint8Array.from(b.bytes, (v, j) => j === b.bytes.length - 1 ? v ^ 1 : v) } : b)
    expect(() => decodeGenesisCar(new Uint8Array(0), genesis.header.cid)).toThrow(/does not decode/)
    const tamperedCar = await car([genesis.header.cid], tampered as never)
    expect(() => decodeGenesisCar(tamperedCar, genesis.header.cid)).toThrow(GenesisBlockHashError)
    const missingCar = await car([genesis.header.cid], blocks.filter((_, i) => i !== blocks.length - 1) as never)
    expect(() => decodeGenesisCar(missingCar, genesis.header.cid)).toThrow(GenesisIncompleteError)
  })
})
