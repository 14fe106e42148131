// Verified range reads (src/light/range-reader.ts) against a real devnet: a 3 MiB file (12 leaves of 256 KiB) stored
// with t01001 (priced) and t01002 (free). Reads at the start, middle, end and across leaf boundaries equal the file;
// a priced session pays on one lane exactly the price of the blocks its ranges needed (far less than the whole file),
// a cached range is not paid twice, a provider whose copy is corrupt inside the range is dropped and the other copy
// serves, and bad ranges are refused by name before anything moves or is paid.
import { describe, it, expect, afterAll, beforeAll } from 'vitest'
import { mkdtemp, rm, open } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { CarIndexer } from '@ipld/car/indexer'
import { CarBufferReader } from '@ipld/car/buffer-reader'
import * as dagPb from '@ipld/dag-pb'
import { startDevnet, type Devnet } from '../../src/node/devnet'
import { findStoredDeal } from '../../src/node/provider/damage'
import { writeUnixfsCar, PaychClient, memoryPaychStore, type PaychChain, type RetrievalProvider } from '../../src/light'
import { createRangeReader, previewQuote, CHUNK_BYTES, type RangeReader } from '../../src/light/range-reader'
import {
  CID, pieceDigest, pieceCidV1, readEscrow, readChannel, verifyChannelProof, getMinerInfo, verifyStorageAsk, signVoucher, signMessage,
  gasLimitFor, secpAddressBytes, secpPublicKey, ExitCode, TRANSFER_GAS_FEE_CAP, TRANSFER_GAS_PREMIUM, type Message
} from '../../src/core'
import { createCofferLibp2p, sendDeal, requestAsk, priceOfBytes, type CofferLibp2p } from '../../src/net'
import { until } from '../helpers/until'
import { fundedMarketClient, dealRequest } from '../helpers/market-client'

const P = 5
const MiB = 2 ** 20
const LEAF = 256 * 1024
const PRICED = 0
const FREE = 1
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0

const cleanups: Array<() => Promise<void>> = []
afterAll(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

let dir: string
let d: Devnet
let node: CofferLibp2p
let file: Uint8Array
let car: Uint8Array
let root: CID
let rootBlockBytes = 0
let dagBlockBytes = 0
/** Leaf i's block: its CID and where its bytes sit in the CAR. */
const leaves: Array<{ cid: CID, blockOffset: number, blockLength: number }> = []
const dealIds: number[] = []

/** Chain messages the payer sent (CreateChannel, AddFunds …). */
let sends = 0
const payerKey = secp256k1.utils.randomSecretKey()
const payer = secpAddressBytes(secpPublicKey(payerKey))

const chain: PaychChain = {
  channel: async (a) => {
    const h = d.head()
    return verifyChannelProof(h.header.parentStateRoot, a, d.chain.proveState((g, r) => readChannel(g, r, a), h))
  },
  headEpoch: () => d.head().header.height,
  waitFor: async (cid) => {
    const l = await d.chain.waitMessage(CID.parse(cid), AbortSignal.timeout(120_000))
    return { exitCode: l.receipt.exitCode, return: l.receipt.return }
  },
  send: async (m, onSent) => {
    sends++
    const unsigned: Message = { version: 0, to: m.to, from: payer, nonce: await d.chain.mpoolNonce(payer), value: m.value, gasLimit: 0, gasFeeCap: TRANSFER_GAS_FEE_CAP, gasPremium: TRANSFER_GAS_PREMIUM, method: m.method, params: m.params }
    const cid = await d.chain.mpoolPush(signMessage(payerKey, { ...unsigned, gasLimit: gasLimitFor(unsigned) }))
    onSent?.(cid.toString())
    const l = await d.chain.waitMessage(cid, AbortSignal.timeout(120_000))
    return { cid: cid.toString(), exitCode: l.receipt.exitCode, return: l.receipt.return }
  }
}
const paych = new PaychClient({ chain, store: memoryPaychStore(), signer: { address: payer, sign: async (v) => signVoucher(payerKey, payer, v) } })

async function target (i: number): Promise<RetrievalProvider> {
  const p = d.providers[i]!
  const info = d.chain.readState((s, r) => getMinerInfo(s, r, p.provider.address))!
  const signed = await requestAsk(node, p.libp2p.peerId)
  verifyStorageAsk(signed, info.worker, d.head().header.height)
  return {
    address: p.address, peerId: p.libp2p.peerId.toString(), addrs: p.libp2p.getMultiaddrs().map(String), worker: info.worker,
    terms: { pricePerGiB: signed.ask.retrievalPricePerGiB, paymentInterval: signed.ask.paymentInterval, paymentIntervalIncrease: signed.ask.paymentIntervalIncrease }
  }
}

/** A reader whose file is held by the providers `which` (in that order, as findRetrievalProviders would list them). */
const readerOf = (which: number[]): RangeReader => createRangeReader({
  libp2p: node,
  find: async () => ({ candidates: await Promise.all(which.map(async (i) => ({ dealId: dealIds[i]!, provider: await target(i) }))), refused: [] }),
  payer: async () => paych
})
const fileRef = (): { root: string, size: number, dealIds: number[], carBytes: number } => ({ root: root.toString(), size: file.length, dealIds, carBytes: car.length })

/** Block bytes a ranged retrieval of [from, to) moves: the root and every leaf the 256 KiB-aligned range touches. */
const neededBlockBytes = (from: number, to: number): number => {
  const first = Math.floor(from / CHUNK_BYTES)
  const last = Math.floor((to - 1) / CHUNK_BYTES)
  return rootBlockBytes + leaves.slice(first, last + 1).reduce((n, l) => n + l.blockLength, 0)
}

/** attoFIL every lane of the payer holds (what its vouchers promise in all). */
const sentInAll = async (): Promise<bigint> => (await paych.channels()).reduce((n, c) => n + c.lanes.reduce((m, l) => m + l.sent, 0n), 0n)

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'coffer-range-'))
  d = await startDevnet({
    dataDir: dir, distDir: '/nonexistent', serveApp: false, rpcPort: null, providers: 2, provingPeriod: P, faucetCooldownMs: 0, paychSettleDelay: 10,
    log: process.env.DEBUG_DEVNET === undefined ? undefined : (l) => { console.log(l) }
  })
  cleanups.push(async () => { await d.stop(); await rm(dir, { recursive: true, force: true }) })
  node = await createCofferLibp2p({ allowLoopbackDials: true })
  cleanups.push(async () => { await node.stop() })
  for (const p of d.providers) await node.dial(multiaddr(p.libp2p.getMultiaddrs()[0]!.toString()))

  file = new Uint8Array(3 * MiB)
  for (let i = 0; i < file.length; i += 4) new DataView(file.buffer).setUint32(i, Math.imul(i + 7, 2654435761))
  const parts: Uint8Array[] = []
  const r = await writeUnixfsCar([file], { write: async (b: Uint8Array) => { parts.push(b.slice()) }, writeAt: async (offset: number, b: Uint8Array) => { parts[0]!.set(b, offset) } })
  car = new Uint8Array(r.carBytes)
  let at = 0
  for (const p of parts) { car.set(p, at); at += p.length }
  root = r.root
  const rootNode = dagPb.decode(CarBufferReader.fromBytes(car).get(root)!.bytes)
  const index = new Map<string, { blockOffset: number, blockLength: number }>()
  for await (const b of (await CarIndexer.fromBytes(car))) {
    dagBlockBytes += b.blockLength
    if (b.cid.equals(root)) rootBlockBytes = b.blockLength
    index.set(b.cid.toString(), b)
  }
  for (const l of rootNode.Links) leaves.push({ cid: l.Hash, ...index.get(l.Hash.toString())! })
  expect(leaves).toHaveLength(12)

  const digest = pieceDigest(car)
  const client = await fundedMarketClient(d, '1')
  await until(() => d.providers.every(p => d.chain.readState((s, r) => readEscrow(s, r, p.provider.address)).escrow > 0n), 60_000)
  const start = Math.ceil((d.head().header.height + 40) / P) * P
  await Promise.all([PRICED, FREE].map(async (i) => {
    const req = dealRequest(client, i, { pieceCid: pieceCidV1(digest.root), payloadBytes: car.length, start, provingPeriod: P, label: root.toString() })
    const res = await sendDeal(node, d.providers[i]!.libp2p.peerId, req, async function * (offset) { for (let a = offset; a < car.length; a += MiB) yield car.subarray(a, a + MiB) })
    dealIds[i] = res.dealId
  }))
  expect((await d.chain.waitMessage(await d.chain.faucet(payer), AbortSignal.timeout(60_000))).receipt.exitCode).toBe(ExitCode.Ok)
}, 240_000)

describe('verified range reads', () => {
  it('reads the start, middle, end and across leaf boundaries from the free copy, paying nothing, each leaf fetched once', async () => {
    const reader = readerOf([FREE, PRICED])
    const o = await reader.open(fileRef())
    // no allowance: the priced copy is left out, nothing can be paid
    expect(o).toMatchObject({ providers: ['t01002'], priced: false })
    const session = o.session!
    const cases: Array<[number, number]> = [
      [0, 1000], // the start
      [LEAF - 100, LEAF + 100], // across the first leaf boundary
      [5 * LEAF + 17, 7 * LEAF + 3], // the middle, over three leaves
      [file.length - 5000, file.length], // the end
      [file.length - 1, file.length] // the last byte
    ]
    for (const [from, to] of cases) {
      const r = await reader.read(session, from, to)
      expect(same(r.bytes, file.subarray(from, to)), `${from}-${to}`).toBe(true)
      expect(r.paid).toBe('0')
      expect(r.size).toBe(file.length)
    }
    // leaf 0 was read for [0, 1000) and again for [LEAF-100, LEAF+100): from the cache the second time, with only
    // leaf 1 (and the root above it) fetched
    const again = await reader.read(session, LEAF - 100, LEAF + 100)
    expect(again).toMatchObject({ provider: null, blockBytes: 0, cachedChunks: 2, chunks: 2 })
    expect(reader.cachedBytes()).toBe(6 * LEAF) // leaves 0, 1, 5, 6, 7 and 11
  }, 120_000)

  it('keeps no more verified bytes than its bound: the least recently used chunk is dropped, and read again when asked', async () => {
    const reader = createRangeReader({
      libp2p: node,
      find: async () => ({ candidates: [{ dealId: dealIds[FREE]!, provider: await target(FREE) }], refused: [] }),
      payer: async () => paych,
      cacheBytes: 2 * LEAF
    })
    const session = (await reader.open(fileRef())).session!
    await reader.read(session, 0, 10)
    await reader.read(session, LEAF, LEAF + 10)
    expect((await reader.read(session, 5, 15)).cachedChunks).toBe(1) // leaf 0 used last: leaf 1 is now the oldest
    await reader.read(session, 2 * LEAF, 2 * LEAF + 10)
    expect(reader.cachedBytes()).toBe(2 * LEAF)
    expect((await reader.read(session, 0, 10)).cachedChunks).toBe(1)
    const again = await reader.read(session, LEAF, LEAF + 10)
    expect(again.cachedChunks).toBe(0)
    expect(again.blockBytes).toBe(neededBlockBytes(LEAF, LEAF + 10))
    expect(same(again.bytes, file.subarray(LEAF, LEAF + 10))).toBe(true)
    expect(reader.cachedBytes()).toBeLessThanOrEqual(2 * LEAF)
  }, 120_000)

  it('pays on one lane exactly the price of the blocks each range needed: far less than the whole file', async () => {
    const reader = readerOf([PRICED])
    // priced copies only and no allowance: what a preview costs at most, nothing opened or paid
    const ask = await reader.open(fileRef())
    expect(ask.session).toBeNull()
    const priced = await target(PRICED)
    expect(ask).toEqual({ session: null, needsPayment: { provider: 't01001', pricePerGiB: priced.terms.pricePerGiB.toString(), maxPrice: previewQuote(fileRef(), priced.terms.pricePerGiB).toString() } })
    expect(await sentInAll()).toBe(0n)
    if (ask.session !== null) throw new Error('opened without an allowance')

    const o = await reader.open(fileRef(), { maxPaid: BigInt(ask.needsPayment.maxPrice) })
    const session = o.session!
    const reads: Array<[number, number]> = [[0, 4096], [6 * LEAF - 1, 6 * LEAF + 1], [file.length - LEAF, file.length]]
    let expected = 0n
    const sendsBefore = sends
    for (const [from, to] of reads) {
      const r = await reader.read(session, from, to)
      expect(same(r.bytes, file.subarray(from, to))).toBe(true)
      expect(r.provider).toBe('t01001')
      // the blocks this range needed, each verified, paid at the stream's rounded-up price and not a byte more
      expect(r.blockBytes).toBe(neededBlockBytes(from, to))
      expect(BigInt(r.paid)).toBe(priceOfBytes(r.blockBytes, priced.terms.pricePerGiB))
      expected += BigInt(r.paid)
      expect(r.sessionPaid).toBe(expected.toString())
    }
    // the channel was created funded for the allowance, as a download's is for its quote: no AddFunds per read
    expect(sends - sendsBefore).toBe(1)
    // one lane, holding exactly the sum: the vouchers' total is what the ranges moved
    const views = await paych.channels()
    const lanes = views.flatMap(v => v.lanes)
    expect(lanes).toHaveLength(1)
    expect(lanes[0]!.sent).toBe(expected)
    // a whole-file download would have paid for every block: these 4 leaves of 12 (and the root three times) cost less than half
    expect(expected).toBeLessThan(priceOfBytes(dagBlockBytes, priced.terms.pricePerGiB) / 2n)

    // a range already verified is served from the cache: nothing moves, nothing is paid
    const cached = await reader.read(session, file.length - LEAF + 10, file.length - 10)
    expect(cached).toMatchObject({ provider: null, paid: '0', blockBytes: 0 })
    expect(await sentInAll()).toBe(expected)
  }, 300_000)

  it('refuses bad ranges by name, before anything moves or is paid', async () => {
    const reader = readerOf([PRICED])
    const priced = await target(PRICED)
    const o = await reader.open(fileRef(), { maxPaid: priceOfBytes(car.length, priced.terms.pricePerGiB) })
    const before = await sentInAll()
    const refused = async (from: number, to: number): Promise<string> => await reader.read(o.session!, from, to).then(() => 'read', (e: Error) => e.name)
    expect(await refused(10, 5)).toBe('InvertedRangeError')
    expect(await refused(10, 10)).toBe('InvertedRangeError')
    expect(await refused(0, file.length + 1)).toBe('RangeBeyondEndError')
    expect(await refused(file.length, file.length + 10)).toBe('RangeBeyondEndError')
    expect(await refused(-1, 10)).toBe('MalformedRangeError')
    expect(await refused(1.5, 10)).toBe('MalformedRangeError')
    expect(await refused(Number.NaN, 10)).toBe('MalformedRangeError')
    expect(await reader.read(o.session!, '0' as unknown as number, 10).then(() => 'read', (e: Error) => e.name)).toBe('MalformedRangeError')
    expect(await reader.read('no-such-session', 0, 10).then(() => 'read', (e: Error) => e.name)).toBe('UnknownPreviewError')
    expect(await sentInAll()).toBe(before)
    expect(reader.cachedBytes()).toBe(0)
  }, 120_000)

  it('drops a provider whose copy is corrupt inside the range, and the next copy serves it', async () => {
    // flip a byte inside leaf 9 of the free provider's stored CAR: a read of leaves 8-10 gets leaf 8 from it, then the bad one
    const k = 9
    const at = leaves[k]!.blockOffset + 1000
    const { store: ps, deal } = await findStoredDeal(dir, String(dealIds[FREE]), 't01002')
    const fh = await open(ps.absolute(deal.file), 'r+')
    const flip = async (): Promise<void> => {
      const one = new Uint8Array(1)
      await fh.read(one, 0, 1, at)
      one[0] = one[0]! ^ 0xff
      await fh.write(one, 0, 1, at)
      await fh.sync()
    }
    await flip()
    try {
      const reader = readerOf([FREE, PRICED])
      const priced = await target(PRICED)
      const o = await reader.open(fileRef(), { maxPaid: priceOfBytes(car.length, priced.terms.pricePerGiB) })
      expect(o).toMatchObject({ providers: ['t01002', 't01001'], priced: true })
      const sentBefore = await sentInAll()
      const from = 8 * LEAF + 5
      const to = 10 * LEAF + 5
      const r = await reader.read(o.session!, from, to)
      expect(same(r.bytes, file.subarray(from, to))).toBe(true)
      expect(r.provider).toBe('t01001')
      // the free copy sent the root and leaf 8 (verified, kept); the priced one went on from leaf 9: the root again, leaves 9 and 10
      expect(r.blockBytes).toBe(rootBlockBytes + leaves[8]!.blockLength + rootBlockBytes + leaves[9]!.blockLength + leaves[10]!.blockLength)
      // paid only for what the priced copy sent and the client verified
      expect(BigInt(r.paid)).toBe(priceOfBytes(rootBlockBytes + leaves[9]!.blockLength + leaves[10]!.blockLength, priced.terms.pricePerGiB))
      expect(await sentInAll()).toBe(sentBefore + BigInt(r.paid))
      // the liar is not asked again in this session: a read of its good leaf 2 goes to the priced copy
      const next = await reader.read(o.session!, 2 * LEAF, 2 * LEAF + 10)
      expect(next.provider).toBe('t01001')
      expect(BigInt(next.paid)).toBeGreaterThan(0n)
    } finally {
      await flip()
      await fh.close()
    }
  }, 300_000)
})
