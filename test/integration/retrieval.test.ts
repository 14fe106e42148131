// Retrieval end to end through the client's engine (src/light/retrieval-session.ts) and payment-channel client
// (paych-client.ts) against a real devnet: a 10 MiB file stored with two providers (t01001 priced, t01002 free) is
// retrieved from the priced one, paid interval by interval; the provider redeems exactly the vouchers, and Settle +
// Collect return the rest to the attoFIL. A copy with one corrupted leaf is dropped at that leaf, unpaid for it, and
// the free copy finishes; a provider stopped mid-stream is left for the other copy from the verified offset.
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
import {
  PaychClient, memoryPaychStore, retrieveFile, newDownloadState,
  type PaychChain, type RetrievalProvider, type DownloadState, type RetrieveFileOptions
} from '../../src/light'
import {
  CID, pieceDigest, pieceCidV1, readEscrow, readChannel, verifyChannelProof, verifyActorProof, getMinerInfo, verifyStorageAsk, signVoucher, signMessage,
  gasLimitFor, secpAddressBytes, secpPublicKey, parseAddress, ExitCode, BASE_FEE, TRANSFER_GAS_FEE_CAP, TRANSFER_GAS_PREMIUM,
  type Message, type ChannelRecord
} from '../../src/core'
import { createCofferLibp2p, sendDeal, requestAsk, priceOfBytes, type CofferLibp2p } from '../../src/net'
import { until } from '../helpers/until'
import { fundedMarketClient, dealRequest } from '../helpers/market-client'
import { unixfsCar } from '../helpers/unixfs-file'

const P = 5
const MiB = 2 ** 20
const LEAF = 256 * 1024
const SETTLE_DELAY = 10
const PRICED = 0
const FREE = 1

const t0 = Date.now()
const step = (what: string): void => { if (process.env.DEBUG_RETRIEVAL !== undefined) console.log(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`) }
/**
 * Byte equality in one native call: vitest's deep toEqual on 10 MiB arrays holds the event loop for tens of
 * seconds, and the devnet's providers share this process (a provider then gave up waiting for a voucher it had
 * been sent: its timer fired before the socket was read).
 */
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0

const cleanups: Array<() => Promise<void>> = []
afterAll(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

let dir: string
let d: Devnet
let node: CofferLibp2p
let file: Uint8Array
let car: Uint8Array
let root: CID
/** Every block's bytes in the DAG: what a whole-file retrieval is charged for. */
let dagBlockBytes: number
let rootBlockBytes: number
const dealIds: number[] = []

/** The retrieval payer: a key of its own, so its balance moves only with channel messages. */
const payerKey = secp256k1.utils.randomSecretKey()
const payer = secpAddressBytes(secpPublicKey(payerKey))
/** Gas each message of the payer burnt and tipped, from its receipt (the devnet's base fee is constant). */
let gasSpent = 0n


/** The payer's balance, checked against the head's state root through the node's state proof. */
async function verifiedBalance (): Promise<bigint> {
  const h = d.head()
  return verifyActorProof(h.header.parentStateRoot, payer, (await d.chain.stateProof(payer, h)).proof.blocks)?.balance ?? 0n
}

const verifiedChannel = (address: Uint8Array): ChannelRecord | null => {
  const h = d.head()
  return verifyChannelProof(h.header.parentStateRoot, address, d.chain.proveState((g, r) => readChannel(g, r, address), h))
}

/** The chain as the payer sees it: channel reads replayed over the node's proof blocks, messages signed with the payer's key. */
const chain: PaychChain = {
  channel: async (a) => verifiedChannel(a),
  headEpoch: () => d.head().header.height,
  waitFor: async (cid) => {
    const l = await d.chain.waitMessage(CID.parse(cid), AbortSignal.timeout(120_000))
    return { exitCode: l.receipt.exitCode, return: l.receipt.return }
  },
  send: async (m, onSent) => {
    const unsigned: Message = { version: 0, to: m.to, from: payer, nonce: await d.chain.mpoolNonce(payer), value: m.value, gasLimit: 0, gasFeeCap: TRANSFER_GAS_FEE_CAP, gasPremium: TRANSFER_GAS_PREMIUM, method: m.method, params: m.params }
    const msg = { ...unsigned, gasLimit: gasLimitFor(unsigned) }
    const cid = await d.chain.mpoolPush(signMessage(payerKey, msg))
    onSent?.(cid.toString())
    const l = await d.chain.waitMessage(cid, AbortSignal.timeout(120_000))
    // apply-messages: burn gasUsed x base fee, tip gasLimit x premium (the fee cap leaves room for both)
    gasSpent += BigInt(l.receipt.gasUsed) * BASE_FEE + BigInt(msg.gasLimit) * TRANSFER_GAS_PREMIUM
    return { cid: cid.toString(), exitCode: l.receipt.exitCode, return: l.receipt.return }
  }
}

const store = memoryPaychStore()
const paych = new PaychClient({ chain, store, signer: { address: payer, sign: async (v) => signVoucher(payerKey, payer, v) } })

/** Provider `i` as a client knows it: its ask verified against the worker on chain. */
async function target (i: number): Promise<RetrievalProvider> {
  const p = d.providers[i]!
  const info = d.chain.readState((s, r) => getMinerInfo(s, r, p.provider.address))!
  const signed = await requestAsk(node, p.libp2p.peerId)
  verifyStorageAsk(signed, info.worker, d.head().header.height)
  return {
    address: p.address, peerId: p.libp2p.peerId.toString(), addrs: p.libp2p.getMultiaddrs().map(String), worker: info.worker, quoteBytes: car.length,
    terms: { pricePerGiB: signed.ask.retrievalPricePerGiB, paymentInterval: signed.ask.paymentInterval, paymentIntervalIncrease: signed.ask.paymentIntervalIncrease }
  }
}

async function retrieve (providers: RetrievalProvider[], o: Partial<RetrieveFileOptions> = {}): Promise<{ out: Uint8Array, state: DownloadState, result: Awaited<ReturnType<typeof retrieveFile>> }> {
  const out = new Uint8Array(file.length)
  const state = newDownloadState(root)
  const result = await retrieveFile({
    libp2p: node, root, providers, payer: paych, state, saveState: async () => {},
    sink: { write: async (offset, bytes) => { out.set(bytes, offset) } },
    ...o
  })
  return { out, state, result }
}

const redeemed = (channel: string, lane: number): bigint => verifiedChannel(parseAddress(channel).bytes)?.lanes.find(l => l.lane === lane)?.redeemed ?? 0n

/** Waits for the provider to redeem `amount` on the lane (each read builds and checks a proof: once a second will do). */
async function redeemedReaches (channel: string, lane: number, amount: bigint): Promise<void> {
  await until(async () => {
    await new Promise(resolve => setTimeout(resolve, 1000))
    return redeemed(channel, lane) === amount || undefined
  }, 120_000).catch((err: Error) => { throw new Error(`${err.message}: redeemed ${redeemed(channel, lane)} of ${amount}`) })
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'coffer-retrieval-'))
  d = await startDevnet({
    dataDir: dir, distDir: '/nonexistent', serveApp: false, rpcPort: null, providers: 2, provingPeriod: P, faucetCooldownMs: 0, paychSettleDelay: SETTLE_DELAY,
    log: process.env.DEBUG_DEVNET === undefined ? undefined : (l) => { console.log(l) }
  })
  cleanups.push(async () => { await d.stop(); await rm(dir, { recursive: true, force: true }) })
  node = await createCofferLibp2p({ allowLoopbackDials: true })
  cleanups.push(async () => { await node.stop() })
  for (const p of d.providers) await node.dial(multiaddr(p.libp2p.getMultiaddrs()[0]!.toString()))

  file = new Uint8Array(10 * MiB)
  for (let i = 0; i < file.length; i += 4) new DataView(file.buffer).setUint32(i, Math.imul(i + 1, 2654435761))
  ;({ car, root } = await unixfsCar(file))
  dagBlockBytes = 0
  for await (const b of (await CarIndexer.fromBytes(car))) {
    dagBlockBytes += b.blockLength
    if (b.cid.equals(root)) rootBlockBytes = b.blockLength
  }
  const digest = pieceDigest(car)
  const client = await fundedMarketClient(d, '1')
  await until(() => d.providers.every(p => d.chain.readState((s, r) => readEscrow(s, r, p.provider.address)).escrow > 0n), 60_000)
  const start = Math.ceil((d.head().header.height + 40) / P) * P
  await Promise.all([PRICED, FREE].map(async (i) => {
    const req = dealRequest(client, i, { pieceCid: pieceCidV1(digest.root), payloadBytes: car.length, start, provingPeriod: P, label: root.toString() })
    const r = await sendDeal(node, d.providers[i]!.libp2p.peerId, req, async function * (offset) { for (let at = offset; at < car.length; at += MiB) yield car.subarray(at, at + MiB) })
    dealIds[i] = r.dealId
  }))
  expect((await d.chain.waitMessage(await d.chain.faucet(payer), AbortSignal.timeout(60_000))).receipt.exitCode).toBe(ExitCode.Ok)
  step('stored and funded')
}, 240_000)

describe('retrieval', () => {
  it('retrieves 10 MiB from the priced provider, which redeems exactly the vouchers; Settle + Collect return the rest to the attoFIL', async () => {
    const before = await verifiedBalance()
    const priced = await target(PRICED)
    expect(priced.terms.pricePerGiB).toBeGreaterThan(0n)
    const seen: number[] = []
    step('retrieving')
    const { out, state, result } = await retrieve([priced], { onProgress: (p) => { seen.push(p.verifiedBytes) } })
    step('retrieved')
    expect(same(out, file)).toBe(true)
    expect(result).toMatchObject({ bytes: file.length, fileSize: file.length, provider: 't01001' })
    expect(seen[seen.length - 1]).toBe(file.length)
    // every block verified, and paid at the rounded-up price of exactly those bytes: never more
    expect(state.providers.t01001!.verifiedBlockBytes).toBe(dagBlockBytes)
    expect(result.payments).toHaveLength(1)
    const pay = result.payments[0]!
    expect(pay.amount).toBe(priceOfBytes(dagBlockBytes, priced.terms.pricePerGiB))
    expect(pay.amount).toBeLessThanOrEqual(priceOfBytes(dagBlockBytes + priced.terms.paymentInterval, priced.terms.pricePerGiB))
    const [view] = await paych.channels()
    // one voucher per interval (1, 2, 3 … MiB as the interval grows) and the final one
    expect(view!.vouchersSent).toBeGreaterThanOrEqual(4)
    expect(view!.lanes).toEqual([expect.objectContaining({ lane: pay.lane, sent: pay.amount })])

    // the provider redeems its best voucher when the retrieval ends: exactly what the vouchers say
    await redeemedReaches(pay.channel, pay.lane, pay.amount)
    const ch = verifiedChannel(parseAddress(pay.channel).bytes)!
    expect(ch.state.toSend).toBe(pay.amount)
    expect(ch.state.to).toEqual(priced.worker)

    step('redeemed')
    await paych.settle(pay.channel)
    step('settled')
    const settlingAt = verifiedChannel(parseAddress(pay.channel).bytes)!.state.settlingAt
    expect(settlingAt).toBeGreaterThan(0)
    await until(async () => { await new Promise(resolve => setTimeout(resolve, 500)); return d.head().header.height >= settlingAt || undefined }, 120_000)
    step('collecting')
    await paych.collect(pay.channel)
    step('collected')
    expect(verifiedChannel(parseAddress(pay.channel).bytes)).toBeNull()
    // all that left the payer: the provider's redeemed amount and the gas of its own messages, to the attoFIL
    expect(await verifiedBalance()).toBe(before - pay.amount - gasSpent)
    const after = await paych.channels()
    expect(after[0]).toMatchObject({ collected: true, vouchersSent: view!.vouchersSent })
  }, 300_000)

  it('drops a provider at its corrupted leaf without paying for it, and finishes from the free copy', async () => {
    // flip a byte inside leaf 24 (6 MiB into the file: past the first intervals) of the priced provider's stored CAR
    const rootNode = dagPb.decode(CarBufferReader.fromBytes(car).get(root)!.bytes)
    const k = 24
    const leaf = rootNode.Links[k]!.Hash
    let at = -1
    for await (const b of (await CarIndexer.fromBytes(car))) if (b.cid.equals(leaf)) at = b.blockOffset + 1000
    const { store: ps, deal } = await findStoredDeal(dir, String(dealIds[PRICED]), 't01001')
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
      const priced = await target(PRICED)
      const { out, state, result } = await retrieve([priced, await target(FREE)])
      expect(same(out, file)).toBe(true)
      expect(result.provider).toBe('t01002')
      const bad = state.providers.t01001!
      expect(bad.failure).toMatchObject({ name: 'HashMismatchError', code: 'HASH_MISMATCH', lied: true, atOffset: k * LEAF })
      // it was paid for the root and the k leaves before the bad one at most, never for the bad leaf
      expect(bad.verifiedBlockBytes).toBe(rootBlockBytes + k * LEAF)
      const paid = BigInt(bad.paid)
      expect(paid).toBeGreaterThan(0n)
      expect(paid).toBeLessThanOrEqual(priceOfBytes(rootBlockBytes + k * LEAF, priced.terms.pricePerGiB))
      // the free copy went on from the bad leaf: it sent the root again and the leaves from k on
      expect(state.providers.t01002!.verifiedBlockBytes).toBe(rootBlockBytes + dagBlockBytes - rootBlockBytes - k * LEAF)
      expect(result.payments).toEqual([{ provider: 't01001', channel: bad.channel, lane: bad.lane, amount: paid }])
      await redeemedReaches(bad.channel!, bad.lane!, paid)
    } finally {
      await flip()
      await fh.close()
    }
  }, 300_000)

  it('resumes from the verified offset with the other copy when a provider stops mid-stream', async () => {
    const priced = await target(PRICED)
    let killed = false
    const out = new Uint8Array(file.length)
    let next = 0
    let framesMoved = 0
    const { state, result } = await retrieve([priced, await target(FREE)], {
      sink: {
        write: async (offset, bytes, ownBuffer) => {
          // as a sink's contract has it: in order, without gaps, across the switch to the other provider too
          if (offset !== next) throw new Error(`a write at ${offset}, the file's end is ${next}`)
          next = offset + bytes.length
          // and taken as the tab's sink takes them (remote-platform's): a buffer wholly the bytes', or handed over whole
          // with them (a received frame holding its leaves in place), is moved out, leaving them empty for the caller
          const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
          if (ownBuffer === true) framesMoved++
          const [at, length] = [bytes.byteOffset, bytes.byteLength]
          out.set(whole || ownBuffer === true ? new Uint8Array(structuredClone(bytes.buffer as ArrayBuffer, { transfer: [bytes.buffer as ArrayBuffer] }), at, length) : bytes, offset)
          // the priced provider never runs more than an interval ahead of its vouchers: stopping it here leaves most of the file
          if (!killed && offset >= 3 * MiB) { killed = true; await d.providers[PRICED]!.libp2p.stop() }
        }
      }
    })
    expect(killed).toBe(true)
    expect(same(out, file)).toBe(true)
    expect(framesMoved).toBeGreaterThan(0)
    expect(result.provider).toBe('t01002')
    const dropped = state.providers.t01001!.failure!
    expect(dropped.lied).toBe(false)
    expect(dropped.atOffset).toBeGreaterThanOrEqual(3 * MiB)
    expect(dropped.atOffset).toBeLessThan(file.length)
    expect(dropped.atOffset % LEAF).toBe(0)
    // the free copy sent the root and only the leaves from the verified offset on
    expect(state.providers.t01002!.verifiedBlockBytes).toBe(rootBlockBytes + file.length - dropped.atOffset)
    // the priced provider was paid for verified bytes only
    expect(BigInt(state.providers.t01001!.paid)).toBeLessThanOrEqual(priceOfBytes(state.providers.t01001!.verifiedBlockBytes, priced.terms.pricePerGiB))
  }, 300_000)
})

