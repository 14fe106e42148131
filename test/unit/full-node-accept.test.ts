// NodeChain.accept on a follower: each way a block signed with the producer's own key can still be wrong
// is refused by its own named error, and a refused block leaves nothing behind (no header at its height,
// the head where it was, no block waiting in the store to be written).
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import {
  signMessage, secpAddressBytes, secpPublicKey, produceHeader, storeBlockMessages, signBeaconRound, MemoryBlockStore, EMPTY_AMT_CID, BLOCK_GAS_LIMIT,
  type SealedHeader, type BlockMessages
} from '../../src/core'
import { ParentMismatchError, ReceiptsRootMismatchError, MessagesMismatchError, InvalidBlockError, StateRootMismatchError } from '../../src/node/block-errors'
import { chainPair, T0, type ChainPair } from '../helpers/follower-chain'
import { testBeaconEntries } from '../helpers/test-beacon'

let c: ChainPair
/** b1 (no messages) and b2 (one payment) are on both chains; b3 names b2's receipts, on the producer's only. */
let b1: SealedHeader
let b2: SealedHeader
let b3: SealedHeader

const none: BlockMessages = { bls: [], secp: [] }
const txMeta = (msgs: BlockMessages): ReturnType<typeof storeBlockMessages> => storeBlockMessages(new MemoryBlockStore(), msgs)

beforeAll(async () => {
  c = await chainPair()
  b1 = await c.producer.produce(T0 + 1)
  await c.producer.mpoolPush(c.payment(0))
  b2 = await c.producer.produce(T0 + 2)
  b3 = await c.producer.produce(T0 + 3)
  expect(c.producer.messagesOf(b2)!.secp.length).toBe(1)
  expect(await c.follower.accept(b1, none)).toBe(true)
  expect(await c.follower.accept(b2, c.producer.messagesOf(b2)!)).toBe(true)
  expect(String(b3.header.parentMessageReceipts)).not.toBe(String(EMPTY_AMT_CID)) // b2's payment has a receipt
})
afterAll(async () => { await c?.close() })

/** A block at b3's height on the follower's head b2, with b3's roots unless overridden, signed by the producer's key. */
function forge (over: { parent?: SealedHeader, receipts?: typeof EMPTY_AMT_CID, messages?: BlockMessages } = {}): SealedHeader {
  return produceHeader(over.parent ?? b2, c.genesis, c.producerKey, T0 + 3, testBeaconEntries(over.parent ?? b2, c.genesis), {
    parentStateRoot: b3.header.parentStateRoot,
    parentMessageReceipts: over.receipts ?? b3.header.parentMessageReceipts,
    messages: txMeta(over.messages ?? none),
    blsAggregate: null
  })
}

async function refused (h: SealedHeader, msgs: BlockMessages, named: new (...args: never[]) => Error, cause?: string): Promise<void> {
  const err = await c.follower.accept(h, msgs).then(() => null, (e: Error) => e)
  expect(err, `${named.name} expected`).toBeInstanceOf(named)
  expect(err!.name).toBe(named.name)
  if (cause !== undefined) expect((err as InvalidBlockError).cause.name).toBe(cause)
  expect(await c.follower.headerAt(h.header.height)).toBeUndefined()
  expect(c.follower.head().cid.equals(b2.cid)).toBe(true)
  expect(c.followerStore.unpersisted().size).toBe(0)
}

describe('NodeChain.accept on a follower', () => {
  it('refuses the right state root with the wrong receipts root: ReceiptsRootMismatchError', async () => {
    await refused(forge({ receipts: EMPTY_AMT_CID }), none, ReceiptsRootMismatchError)
  })

  it('refuses a wrong state root: StateRootMismatchError', async () => {
    const h = produceHeader(b2, c.genesis, c.producerKey, T0 + 3, testBeaconEntries(b2, c.genesis), { parentStateRoot: b2.header.parentStateRoot, parentMessageReceipts: b3.header.parentMessageReceipts, messages: txMeta(none), blsAggregate: null })
    await refused(h, none, StateRootMismatchError)
  })

  it('refuses messages that do not build the header\'s TxMeta: MessagesMismatchError', async () => {
    const h = forge({ messages: { bls: [], secp: [c.payment(1)] } })
    await refused(h, none, MessagesMismatchError)
    await refused(h, { bls: [], secp: [c.payment(2)] }, MessagesMismatchError)
  })

  it('refuses a block carrying a message that already ran, one ahead of its sender\'s nonce, or one from no account: InvalidBlockError (NonceError, SenderNotAccountError)', async () => {
    const again = { bls: [], secp: [c.payment(0)] } // b2 executed it: the sender's nonce is 1 in the state b3 names
    await refused(forge({ messages: again }), again, InvalidBlockError, 'NonceError')
    const ahead = { bls: [], secp: [c.payment(2)] }
    await refused(forge({ messages: ahead }), ahead, InvalidBlockError, 'NonceError')
    const twice = { bls: [], secp: [c.payment(1), c.payment(1, { value: 2n })] }
    await refused(forge({ messages: twice }), twice, InvalidBlockError, 'NonceError')
    const stranger = secp256k1.utils.randomSecretKey()
    const fromNobody = { bls: [], secp: [signMessage(stranger, { ...c.payment(0).message, from: secpAddressBytes(secpPublicKey(stranger)) })] }
    await refused(forge({ messages: fromNobody }), fromNobody, InvalidBlockError, 'SenderNotAccountError')
  })

  it('refuses a message whose secp signature does not verify: InvalidBlockError', async () => {
    const good = c.payment(1)
    const data = good.signature.data.slice()
    data[5]! ^= 0xff
    const msgs = { bls: [], secp: [{ ...good, signature: { ...good.signature, data } }] }
    await refused(forge({ messages: msgs }), msgs, InvalidBlockError)
  })

  it('refuses messages whose gas limits add up to more than the block gas limit: InvalidBlockError (BlockGasLimitError)', async () => {
    const msgs = { bls: [], secp: [c.payment(1, { gasLimit: BLOCK_GAS_LIMIT }), c.payment(2, { gasLimit: BLOCK_GAS_LIMIT })] }
    await refused(forge({ messages: msgs }), msgs, InvalidBlockError, 'BlockGasLimitError')
  })

  it('refuses a block with a forged or missing beacon entry: InvalidBlockError (BadBeaconSignatureError, MissingBeaconEntriesError), also when gossip checked its block signature', async () => {
    const round = b3.header.beaconEntries[0]!.round
    const body = { parentStateRoot: b3.header.parentStateRoot, parentMessageReceipts: b3.header.parentMessageReceipts, messages: txMeta(none), blsAggregate: null }
    const forgedEntry = produceHeader(b2, c.genesis, c.producerKey, T0 + 3, [{ round, data: signBeaconRound(new Uint8Array(32).fill(5), round) }], body)
    await refused(forgedEntry, none, InvalidBlockError, 'BadBeaconSignatureError')
    const noEntry = produceHeader(b2, c.genesis, c.producerKey, T0 + 3, [], body)
    await refused(noEntry, none, InvalidBlockError, 'MissingBeaconEntriesError')
    // the gossip path: judgeBlock verified the block signature and the entries' signatures, accept still checks the rounds
    const err = await c.follower.accept(noEntry, none, { signatureVerified: true }).then(() => null, (e: Error) => e)
    expect((err as InvalidBlockError).cause.name).toBe('MissingBeaconEntriesError')
  })

  it('a second block of the producer at a height (on an older parent) is an equivocation: stored, refused by name, both left out of the head', async () => {
    const h = produceHeader(b1, c.genesis, c.producerKey, T0 + 3, testBeaconEntries(b1, c.genesis), { parentStateRoot: b2.header.parentStateRoot, parentMessageReceipts: b2.header.parentMessageReceipts, messages: txMeta(none), blsAggregate: null })
    const err = await c.follower.accept(h, none).then(() => null, (e: Error) => e)
    expect(err).toBeInstanceOf(InvalidBlockError)
    expect((err as InvalidBlockError).cause.name).toBe('EquivocationError')
    // Lotus's RefreshHeaviestTipSet: neither of the producer's two blocks at 2 forms a tipset, so the head falls back to b1
    expect(c.follower.head().cid.equals(b1.cid)).toBe(true)
    expect(await c.follower.headerAt(2)).toBeUndefined()
    expect(await c.followerDb.header(h.cid)).toBeDefined() // kept by CID, as Lotus keeps an equivocating miner's blocks
    expect(c.followerStore.unpersisted().size).toBe(0)
    // a block whose parent this node never saw is no equivocation: ParentMismatchError, nothing stored
    const orphan = produceHeader(h, c.genesis, c.producerKey, T0 + 4, testBeaconEntries(h, c.genesis), { parentStateRoot: b3.header.parentStateRoot, parentMessageReceipts: b3.header.parentMessageReceipts, messages: txMeta(none), blsAggregate: null })
    const unknown = produceHeader(orphan, c.genesis, c.producerKey, T0 + 5, testBeaconEntries(orphan, c.genesis), { parentStateRoot: b3.header.parentStateRoot, parentMessageReceipts: b3.header.parentMessageReceipts, messages: txMeta(none), blsAggregate: null })
    expect(await c.follower.accept(unknown, none).then(() => null, (e: Error) => e)).toBeInstanceOf(ParentMismatchError)
    expect(await c.followerDb.header(unknown.cid)).toBeUndefined()
  })

  it('takes the real block after all those refusals, b2 back under it', async () => {
    expect(await c.follower.accept(b3, c.producer.messagesOf(b3)!)).toBe(true)
    expect((await c.follower.headerAt(2))?.cid.equals(b2.cid)).toBe(true)
    expect((await c.follower.headerAt(3))?.cid.equals(b3.cid)).toBe(true)
    expect(c.followerStore.unpersisted().size).toBe(0)
  })

  it('a run checked together vouches only for its blocks above the head: a forged block at a lower height in it is checked alone and refused', async () => {
    const b4 = await c.producer.produce(T0 + 4)
    // at height 3 on b2, signed by a key that is not the producer's
    const stranger = new Uint8Array(32).fill(0x77)
    const forged = produceHeader(b2, c.genesis, stranger, T0 + 3, testBeaconEntries(b2, c.genesis), { parentStateRoot: b3.header.parentStateRoot, parentMessageReceipts: b3.header.parentMessageReceipts, messages: txMeta(none), blsAggregate: null })
    const err = await c.follower.acceptRun([{ header: forged, messages: none }, { header: b4, messages: c.producer.messagesOf(b4)! }]).then(() => null, (e: Error) => e)
    expect(err).toBeInstanceOf(InvalidBlockError)
    expect(await c.followerDb.header(forged.cid)).toBeUndefined()
    expect(await c.follower.acceptRun([{ header: b4, messages: c.producer.messagesOf(b4)! }])).toHaveLength(1)
    expect(c.follower.head().cid.equals(b4.cid)).toBe(true)
  })
})
