// The provider's side of retrieval on a real devnet: two providers store the same file (t01001 priced, t01002
// free); a client streams it back through openRetrieval and CarVerifier, paying per interval from a payment
// channel created through the init actor; the provider redeems exactly its best voucher on chain. Refusals:
// a payload it does not hold, a range past the end, no or an empty or someone else's channel, and vouchers
// with the wrong signer, an old nonce, more than the channel holds or another channel's address. A client
// that stops paying gets one interval and UNPAID; a client that starts settling has the provider's best
// voucher redeemed before SettlingAt, and once the channel is collected the provider forgets it.
import { describe, it, expect, afterAll, beforeAll } from 'vitest'
import { mkdtemp, rm, cp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { sha256 } from 'multiformats/hashes/sha2'
import { startDevnet, type Devnet } from '../../src/node/devnet'
import { writeUnixfsCar } from '../../src/light/unixfs-car'
import {
  CID, CarVerifier, RetrievalRejectedError, PaymentOwedError, pieceDigest, pieceCidV1, readEscrow, readChannel, createChannelMessageParams, decodeExecReturn,
  signVoucher, encodeSignedVoucher, decodeSignedVoucher, worthRedeeming, signMessage, gasLimitFor, secpAddressBytes, secpPublicKey, addressToString, parseFil,
  INIT_ACTOR_ADDRESS, InitMethod, PaychMethod, ExitCode, TRANSFER_GAS_FEE_CAP, TRANSFER_GAS_PREMIUM,
  type ByteRange, type Message, type ChannelRecord
} from '../../src/core'
import { createCofferLibp2p, sendDeal, openRetrieval, priceOfBytes, RETRIEVAL_IDLE_TIMEOUT_MS, type CofferLibp2p } from '../../src/net'
import type { MsgLookup } from '../../src/node/rpc/backend'
import { RetrievalServer, type RetrievalProvider as RetrievalProviderInit } from '../../src/node/provider/retrieval-server'
import { until } from '../helpers/until'
import { fundedMarketClient, dealRequest, type MarketClient } from '../helpers/market-client'

const P = 5
const KiB = 1024
const MiB = 2 ** 20
/** The importer's leaves: the largest block any of these DAGs has. */
const LEAF = 256 * KiB
/** Epochs from Settle to Collect: short enough to collect in the test, long enough for a slow machine's redeem. */
const SETTLE_DELAY = 20
const PRICED = 0
const FREE = 1

const cleanups: Array<() => Promise<void>> = []
afterAll(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

let d: Devnet
let node: CofferLibp2p
let client: MarketClient
let file: Uint8Array
let root: CID

/**
 * 3.3 MiB whose first two leaves are the same bytes: the DAG links one block twice, and the provider must
 * send it at each visit (dups=y), as the verifier's walk asks for it.
 */
function testFile (): Uint8Array {
  const f = new Uint8Array(3 * MiB + 300 * KiB)
  const view = new DataView(f.buffer)
  for (let i = 0; i + 4 <= f.length; i += 4) view.setUint32(i, Math.imul((i % LEAF) + (i < 2 * LEAF ? 0 : i) + 1, 2654435761))
  return f
}

async function carOf (bytes: Uint8Array): Promise<{ car: Uint8Array, root: CID }> {
  const parts: Uint8Array[] = []
  const sink = { write: async (b: Uint8Array) => { parts.push(b.slice()) }, writeAt: async (offset: number, b: Uint8Array) => { parts[0]!.set(b, offset) } }
  const r = await writeUnixfsCar([bytes], sink)
  const car = new Uint8Array(r.carBytes)
  let at = 0
  for (const p of parts) { car.set(p, at); at += p.length }
  return { car, root: r.root }
}

let pushing: Promise<unknown> = Promise.resolve()
/**
 * Signs, pushes and waits for `from`'s message; its receipt must say Ok. Nonce and push run one at a time
 * (tests here send side by side from one client), the waits overlap.
 */
async function send (from: MarketClient, to: Uint8Array, method: number, params: Uint8Array, value: bigint): Promise<MsgLookup> {
  const pushed = pushing.then(async () => {
    const m: Message = { version: 0, to, from: from.address, nonce: await d.chain.mpoolNonce(from.address), value, gasLimit: 0, gasFeeCap: TRANSFER_GAS_FEE_CAP, gasPremium: TRANSFER_GAS_PREMIUM, method, params }
    return await d.chain.mpoolPush(signMessage(from.secret, { ...m, gasLimit: gasLimitFor(m) }))
  })
  pushing = pushed.catch(() => {})
  const lookup = await d.chain.waitMessage(await pushed, AbortSignal.timeout(60_000))
  expect(lookup.receipt.exitCode).toBe(ExitCode.Ok)
  return lookup
}

/** A payment channel from the client to `provider`'s worker holding `funds`, created by the init actor's Exec: its f2 address. */
async function channelTo (provider: number, funds: bigint): Promise<Uint8Array> {
  const lookup = await send(client, INIT_ACTOR_ADDRESS, InitMethod.Exec, createChannelMessageParams(client.address, d.providers[provider]!.provider.worker), funds)
  return decodeExecReturn(lookup.receipt.return).robustAddress
}

const channel = (address: Uint8Array): ChannelRecord | null => d.chain.readState((s, r) => readChannel(s, r, address))
const redeemedOn = (address: Uint8Array, lane: number): bigint | undefined => channel(address)?.lanes.find(l => l.lane === lane)?.redeemed

/** The client's side of a lane: cumulative amount and nonce, as a client keeps them between streams. */
interface Lane { channel: Uint8Array, lane: number, nonce: number, amount: bigint, key?: Uint8Array, from?: Uint8Array }

const voucherBytes = (l: Lane, o: { nonce: number, amount: bigint, channel?: Uint8Array, key?: Uint8Array }): Uint8Array => {
  const key = o.key ?? l.key ?? client.secret
  const from = o.key === undefined ? (l.from ?? client.address) : secpAddressBytes(secpPublicKey(o.key))
  return encodeSignedVoucher(signVoucher(key, from, {
    channelAddr: o.channel ?? l.channel, timeLockMin: 0, timeLockMax: 0, secretHash: new Uint8Array(0), extra: null,
    lane: l.lane, nonce: o.nonce, amount: o.amount, minSettleHeight: 0, merges: [], signature: null
  }))
}

interface Retrieved {
  bytes: Uint8Array
  /** Block bytes verified: what the provider charges for. */
  blockBytes: number
  vouchers: bigint[]
  error?: Error
}

/**
 * Retrieves `root` from `provider` as an honest client does: every chunk through the verifier, a cumulative
 * voucher each time an interval of verified block bytes is unpaid (the interval then grows), the final one
 * after done, on top of what the lane carried before. `maxVouchers` stops paying after that many; `first` is
 * sent right after the provider accepts.
 */
async function retrieve (provider: number, o: { range?: ByteRange, lane?: Lane, payment?: { channel: Uint8Array, lane: number }, maxVouchers?: number, first?: Uint8Array, onStream?: (abort: (e: Error) => void) => void, idleTimeoutMs?: number } = {}): Promise<Retrieved> {
  const payment = o.payment ?? (o.lane === undefined ? undefined : { channel: o.lane.channel, lane: o.lane.lane })
  const s = await openRetrieval(node, d.providers[provider]!.libp2p.peerId, { root, ...(o.range === undefined ? {} : { range: o.range }), ...(payment === undefined ? {} : { payment }) }, o.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: o.idleTimeoutMs })
  o.onStream?.((e) => { s.abort(e) })
  const from = o.range?.from ?? 0
  const v = new CarVerifier(root, o.range === undefined ? {} : { range: o.range })
  const out = new Uint8Array((o.range?.to ?? file.length) - from)
  const vouchers: bigint[] = []
  let interval = s.terms.paymentInterval
  let paidBytes = 0
  const lane = o.lane
  const base = lane?.amount ?? 0n
  const pay = async (bytes: number): Promise<void> => {
    if (lane === undefined || s.terms.pricePerGiB === 0n || vouchers.length >= (o.maxVouchers ?? Infinity)) return
    const amount = base + priceOfBytes(bytes, s.terms.pricePerGiB)
    lane.nonce++
    lane.amount = amount
    vouchers.push(amount)
    paidBytes = bytes
    interval += s.terms.paymentIntervalIncrease
    await s.sendVoucher(voucherBytes(lane, { nonce: lane.nonce, amount }))
  }
  try {
    if (o.first !== undefined) await s.sendVoucher(o.first)
    for (;;) {
      const n = await s.next()
      if ('done' in n) break
      // the provider stopped for payment: pay what was verified (an honest client's answer)
      if ('owed' in n) { if (v.stats.blockBytesVerified > paidBytes) await pay(v.stats.blockBytesVerified); continue }
      for (const b of v.push(n.car)) if (b.slice !== null) out.set(b.slice.bytes, b.slice.offset - from)
      if (v.stats.blockBytesVerified - paidBytes >= interval) await pay(v.stats.blockBytesVerified)
    }
    v.end()
    if (v.stats.blockBytesVerified > paidBytes) await pay(v.stats.blockBytesVerified)
    await s.close()
    return { bytes: out, blockBytes: v.stats.blockBytesVerified, vouchers }
  } catch (err) {
    s.abort(err as Error)
    return { bytes: out, blockBytes: v.stats.blockBytesReceived, vouchers, error: err as Error }
  }
}

/** Byte equality: toEqual walks megabytes element by element (it held the event loop for over a minute). */
const same = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && Buffer.compare(a, b) === 0

function refusal (r: Retrieved | Error, code: string): RetrievalRejectedError {
  const err = r instanceof Error ? r : r.error
  expect(err).toBeInstanceOf(RetrievalRejectedError)
  expect((err as RetrievalRejectedError).code).toBe(code)
  return err as RetrievalRejectedError
}

const price = (): bigint => d.providers[PRICED]!.provider.retrievalTerms().pricePerGiB
const interval = (): number => d.providers[PRICED]!.provider.retrievalTerms().paymentInterval

beforeAll(async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'coffer-retrieval-provider-'))
  d = await startDevnet({
    dataDir: dir, distDir: '/nonexistent', serveApp: false, rpcPort: null, providers: 2, provingPeriod: P, faucetCooldownMs: 0, paychSettleDelay: SETTLE_DELAY,
    log: process.env.DEBUG_DEVNET === undefined ? undefined : (l) => { console.log(`${(performance.now() / 1000).toFixed(2)} ${l}`) }
  })
  cleanups.push(async () => { await d.stop(); await rm(dir, { recursive: true, force: true }) })
  node = await createCofferLibp2p({ allowLoopbackDials: true })
  cleanups.push(async () => { await node.stop() })
  for (const p of d.providers) await node.dial(multiaddr(p.libp2p.getMultiaddrs()[0]!.toString()))
  expect(price()).toBeGreaterThan(0n)
  expect(d.providers[FREE]!.provider.retrievalTerms().pricePerGiB).toBe(0n)

  file = testFile()
  const car = await carOf(file)
  root = car.root
  const digest = pieceDigest(car.car)
  client = await fundedMarketClient(d, '1')
  await until(() => d.providers.every(p => d.chain.readState((s, r) => readEscrow(s, r, p.provider.address)).escrow > 0n), 60_000)
  const start = Math.ceil((d.head().header.height + 40) / P) * P
  await Promise.all([PRICED, FREE].map(async (i) => {
    const req = dealRequest(client, i, { pieceCid: pieceCidV1(digest.root), payloadBytes: car.car.length, start, provingPeriod: P, label: root.toString() })
    await sendDeal(node, d.providers[i]!.libp2p.peerId, req, async function * (offset) { yield car.car.subarray(offset) })
  }))
}, 180_000)

describe('the retrieval provider', () => {
  it('the free provider serves the file, a range of it, and ignores a payment field; a CID it does not hold is NOT_FOUND, a range past the end RANGE', async () => {
    const whole = await retrieve(FREE)
    expect(whole.error).toBeUndefined()
    expect(same(whole.bytes, file)).toBe(true)
    // across the twice-linked leaf and into the third
    const range = { from: 100_000, to: 2 * LEAF + 5000 }
    const part = await retrieve(FREE, { range, payment: { channel: INIT_ACTOR_ADDRESS, lane: 7 } })
    expect(part.error).toBeUndefined()
    expect(same(part.bytes, file.subarray(range.from, range.to))).toBe(true)
    // only the root and the three leaves the range touches were sent
    expect(part.blockBytes).toBeLessThan(3 * LEAF + 4 * KiB)

    const unknown = CID.createV1(0x55, await sha256.digest(new Uint8Array([9, 9, 9])))
    for (const provider of [FREE, PRICED]) {
      const err = await openRetrieval(node, d.providers[provider]!.libp2p.peerId, { root: unknown }).then(() => undefined, (e: Error) => e)
      expect(refusal(err!, 'NOT_FOUND').message).toContain(unknown.toString())
    }
    const past = await openRetrieval(node, d.providers[FREE]!.libp2p.peerId, { root, range: { from: 10, to: file.length + 1 } }).then(() => undefined, (e: Error) => e)
    expect(refusal(past!, 'RANGE').message).toContain(String(file.length))
  }, 120_000)

  it('a priced retrieval streams the exact bytes, paid interval by interval; the provider redeems exactly the best voucher, and a resumed stream on the lane pays on from it', async () => {
    const ch = await channelTo(PRICED, parseFil('0.001'))
    const lane: Lane = { channel: ch, lane: 0, nonce: 0, amount: 0n }
    const r = await retrieve(PRICED, { lane })
    expect(r.error).toBeUndefined()
    expect(same(r.bytes, file)).toBe(true)
    // one voucher per interval (1, 2, 3 MiB: the interval grows by its increase) and the final one
    expect(r.vouchers.length).toBeGreaterThanOrEqual(2)
    expect(r.vouchers.at(-1)).toBe(priceOfBytes(r.blockBytes, price()))
    await until(() => redeemedOn(ch, 0) === lane.amount, 60_000)
    const onChain = channel(ch)!
    expect(onChain.lanes).toEqual([{ lane: 0, redeemed: lane.amount, nonce: lane.nonce }])
    expect(onChain.state.toSend).toBe(lane.amount)
    // never more than the bytes sent, rounded up to one interval
    expect(lane.amount).toBeLessThanOrEqual(priceOfBytes(Math.ceil(r.blockBytes / interval()) * interval(), price()))

    // a second stream on the same lane (a resume from 1 MiB): it is charged from the lane's best voucher on
    const before = lane.amount
    const resumed = await retrieve(PRICED, { lane, range: { from: MiB, to: file.length } })
    expect(resumed.error).toBeUndefined()
    expect(same(resumed.bytes, file.subarray(MiB))).toBe(true)
    expect(lane.amount - before).toBe(priceOfBytes(resumed.blockBytes, price()))
    await until(() => redeemedOn(ch, 0) === lane.amount, 60_000)
    expect(channel(ch)!.lanes).toEqual([{ lane: 0, redeemed: lane.amount, nonce: lane.nonce }])
    // the provider holds that voucher, with no redeem left out
    const id = addressToString(channel(ch)!.id)
    const held = await until(() => d.providers[PRICED]!.retrieval.status().channels.find(c => c.channel === id && c.lanes.every(l => l.redeem === undefined)), 60_000)
    expect(held.lanes.map(l => [l.lane, l.nonce, l.amount])).toEqual([[0, lane.nonce, lane.amount]])
  }, 180_000)

  it('refuses a request without a channel, with an empty one, or with one that pays someone else (PAYMENT)', async () => {
    const none = await openRetrieval(node, d.providers[PRICED]!.libp2p.peerId, { root }).then(() => undefined, (e: Error) => e)
    expect(refusal(none!, 'PAYMENT').message).toContain(addressToString(d.providers[PRICED]!.provider.worker))
    const [empty, elsewhere] = await Promise.all([channelTo(PRICED, 0n), channelTo(FREE, parseFil('0.001'))])
    const e1 = await openRetrieval(node, d.providers[PRICED]!.libp2p.peerId, { root, payment: { channel: empty, lane: 0 } }).then(() => undefined, (e: Error) => e)
    expect(refusal(e1!, 'PAYMENT').message).toMatch(/0 attoFIL left/)
    const e2 = await openRetrieval(node, d.providers[PRICED]!.libp2p.peerId, { root, payment: { channel: elsewhere, lane: 0 } }).then(() => undefined, (e: Error) => e)
    expect(refusal(e2!, 'PAYMENT').message).toMatch(/not this provider's worker/)
  }, 120_000)

  it('refuses a voucher with the wrong signer, an old nonce, more than the channel holds or another channel (PAYMENT with the code); nothing is redeemed for it', async () => {
    const [ch, other] = await Promise.all([channelTo(PRICED, parseFil('0.001')), channelTo(FREE, parseFil('0.001'))])
    const balance = channel(ch)!.balance
    const lanes = [1, 2, 3, 4, 5].map((n): Lane => ({ channel: ch, lane: n, nonce: 0, amount: 0n }))
    const small = priceOfBytes(MiB, price())

    const signer = await retrieve(PRICED, { lane: lanes[0], first: voucherBytes(lanes[0]!, { nonce: 1, amount: small, key: secp256k1.utils.randomSecretKey() }) })
    expect(refusal(signer, 'PAYMENT').message).toContain('(SIGNER)')
    const funds = await retrieve(PRICED, { lane: lanes[1], first: voucherBytes(lanes[1]!, { nonce: 1, amount: balance + 1n }) })
    expect(refusal(funds, 'PAYMENT').message).toContain('(FUNDS)')
    const wrongChannel = await retrieve(PRICED, { lane: lanes[2], first: voucherBytes(lanes[2]!, { nonce: 1, amount: small, channel: other }) })
    expect(refusal(wrongChannel, 'PAYMENT').message).toContain('(CHANNEL)')
    const garbage = await retrieve(PRICED, { lane: lanes[3], first: new Uint8Array([0x82, 1, 2]) })
    expect(refusal(garbage, 'PAYMENT').message).toContain('(MALFORMED)')

    // an old nonce: a good voucher first (prepaid), then a larger one on the same nonce
    const good = voucherBytes(lanes[4]!, { nonce: 1, amount: small })
    const s = await openRetrieval(node, d.providers[PRICED]!.libp2p.peerId, { root, payment: { channel: ch, lane: 5 } })
    await s.sendVoucher(good)
    await s.sendVoucher(voucherBytes(lanes[4]!, { nonce: 1, amount: 2n * small }))
    const err = await (async () => { for (;;) if ('done' in await s.next()) return undefined })().then(() => undefined, (e: Error) => e)
    expect(refusal(err!, 'PAYMENT').message).toContain('(NONCE)')

    // the good voucher is redeemed when its retrieval ends; nothing else on any lane, nothing on the other channel
    await until(() => redeemedOn(ch, 5) === small, 60_000)
    expect(channel(ch)!.lanes).toEqual([{ lane: 5, redeemed: small, nonce: 1 }])
    expect(channel(other)!.lanes).toEqual([])
    expect(channel(ch)!.state.toSend).toBe(small)
  }, 180_000)

  it('takes the very voucher it holds again as adding nothing (a client resuming from a state saved before it knew the voucher arrived), as Lotus does', async () => {
    const ch = await channelTo(PRICED, parseFil('0.001'))
    const lane: Lane = { channel: ch, lane: 0, nonce: 0, amount: 0n }
    // enough for every block of the file, paid before the first one
    const v = voucherBytes(lane, { nonce: 1, amount: priceOfBytes(2 * file.length, price()) })
    const s = await openRetrieval(node, d.providers[PRICED]!.libp2p.peerId, { root, payment: { channel: ch, lane: 0 } })
    await s.sendVoucher(v)
    await s.sendVoucher(v)
    const err = await (async () => { for (;;) if ('done' in await s.next()) return undefined })().then(() => undefined, (e: Error) => e)
    expect(err).toBeUndefined()
    await s.close()
  }, 180_000)
})

// Both wait out the provider's idle timeout (30 s): run side by side, on different channels.
describe.concurrent('a client that stops', () => {
  it('paying receives at most one interval (and one block) and is told UNPAID; nothing is redeemed; the debt stays on the channel, on disk, and a new stream on it gets no fresh credit', async () => {
    const ch = await channelTo(PRICED, parseFil('0.001'))
    const lane: Lane = { channel: ch, lane: 0, nonce: 0, amount: 0n }
    // the client waits longer than the provider's idle time, so the provider is the one to end it
    const r = await retrieve(PRICED, { lane, maxVouchers: 0, idleTimeoutMs: 2 * RETRIEVAL_IDLE_TIMEOUT_MS })
    const unpaid = refusal(r, 'UNPAID')
    expect(unpaid).toBeInstanceOf(PaymentOwedError)
    // charged: at most an interval and a block; the file's repeated leaf is sent again at its second visit but
    // charged once (a block is charged once on a channel), so what arrived may be one leaf more
    expect(r.blockBytes).toBeGreaterThanOrEqual(interval())
    expect(r.blockBytes).toBeLessThanOrEqual(interval() + 2 * LEAF)
    expect(r.vouchers).toEqual([])
    expect(channel(ch)!.lanes).toEqual([])

    // the channel's ledger holds the debt: in the provider, and in its record on disk (what a restart reads)
    const id = addressToString(channel(ch)!.id)
    const server = d.providers[PRICED]!.retrieval
    const held = await until(() => server.status().channels.find(c => c.channel === id), 30_000)
    const charged = held.ledger.sentBytes
    expect(charged).toBeGreaterThanOrEqual(interval())
    expect(charged).toBeLessThanOrEqual(Math.min(r.blockBytes, interval() + LEAF))
    const owed = priceOfBytes(charged, price())
    expect((unpaid as PaymentOwedError).owed).toBe(owed)
    expect(held.ledger).toEqual({ sentBytes: charged, charged: owed, paid: 0n })
    const copy = await mkdtemp(path.join(tmpdir(), 'coffer-vouchers-'))
    cleanups.push(async () => { await rm(copy, { recursive: true, force: true }) })
    await cp(path.join(d.providers[PRICED]!.provider.store.dir, 'vouchers'), path.join(copy, 'vouchers'), { recursive: true })
    const restarted = await RetrievalServer.open({ provider: { ...d.providers[PRICED]!.provider, store: { ...d.providers[PRICED]!.provider.store, dir: copy } } as unknown as RetrievalProviderInit })
    expect(restarted.status().channels.find(c => c.channel === id)?.ledger).toEqual({ sentBytes: charged, charged: owed, paid: 0n })
    // and which blocks were charged, so a restarted provider does not charge them again when a resume re-sends them
    const chargedBlocks = await server.chargedBlockCount(id)
    expect(chargedBlocks).toBeGreaterThan(0)
    expect(await restarted.chargedBlockCount(id)).toBe(chargedBlocks)

    // another lane of the same channel (a reconnect, a second download): it gets again only the blocks already
    // charged (no fresh credit), then is held before the first new block and told what is owed
    const s = await openRetrieval(node, d.providers[PRICED]!.libp2p.peerId, { root, payment: { channel: ch, lane: 1 } })
    const again = new CarVerifier(root)
    for (;;) {
      const n = await s.next()
      if ('owed' in n) { expect(n.owed).toBe(owed); break }
      if ('done' in n) throw new Error('a stream owing an interval ran to the end unpaid')
      again.push(n.car)
    }
    // what it got: blocks the channel was charged for already (what the first stream's client verified, and any
    // it lost in flight), nothing new: the channel's charges have not moved
    expect(again.stats.blockBytesVerified).toBeGreaterThanOrEqual(r.blockBytes)
    s.abort(new Error('test: leaves'))
    expect(server.status().channels.find(c => c.channel === id)?.ledger.sentBytes).toBe(charged)

    // the first stream's bytes were lost in flight (that client verified none of them): a client that pays for
    // what it verifies, once, resumes on a new lane and completes; the blocks sent again are not charged again,
    // so what it pays clears the channel's debt instead of adding to it
    const lane2: Lane = { channel: ch, lane: 2, nonce: 0, amount: 0n }
    const done = await retrieve(PRICED, { lane: lane2 })
    expect(done.error).toBeUndefined()
    expect(same(done.bytes, file)).toBe(true)
    expect(done.vouchers.at(-1)).toBe(priceOfBytes(done.blockBytes, price()))
    const after = await until(() => { const l = server.status().channels.find(c => c.channel === id)?.ledger; return l !== undefined && l.paid >= done.vouchers.at(-1)! ? l : undefined }, 30_000)
    // charged: each block once; paid: every block verified on lane 2, once (what the first stream sent, now paid).
    // Each stream's charge is rounded up once, so two streams may charge one attoFIL above one total
    expect(after.charged - after.paid).toBeLessThanOrEqual(1n)
  }, RETRIEVAL_IDLE_TIMEOUT_MS * 3)

  it('a voucher worth less than its redeem\'s gas is held, not redeemed, when its retrieval ends; Settle sends it anyway', async () => {
    const ch = await channelTo(PRICED, parseFil('0.001'))
    const id = addressToString(channel(ch)!.id)
    const server = d.providers[PRICED]!.retrieval
    const lane: Lane = { channel: ch, lane: 3, nonce: 0, amount: 0n }
    const dust = 1000n
    const s = await openRetrieval(node, d.providers[PRICED]!.libp2p.peerId, { root, range: { from: 0, to: 10 }, payment: { channel: ch, lane: 3 } })
    const v = voucherBytes(lane, { nonce: 1, amount: dust })
    expect(worthRedeeming(dust, decodeSignedVoucher(v))).toBe(false)
    await s.sendVoucher(v)
    await until(() => server.status().channels.find(c => c.channel === id)?.lanes.find(l => l.lane === 3)?.amount === dust, 60_000)
    s.abort(new Error('test: leaves'))
    await until(() => !server.status().running.some(r => r.channel === id), 60_000)
    // heads pass, and the redeem loop looks at the lane at each: it leaves it (it redeemed a running-free lane at once before)
    const h = d.head().header.height
    await until(() => d.head().header.height >= h + 5, 60_000)
    expect(redeemedOn(ch, 3)).toBeUndefined()
    expect(server.status().channels.find(c => c.channel === id)!.lanes.find(l => l.lane === 3)!.redeem).toBeUndefined()
    // Settle: the best voucher goes out whatever it is worth, before SettlingAt
    await send(client, ch, PaychMethod.Settle, new Uint8Array(0), 0n)
    const settlingAt = channel(ch)!.state.settlingAt
    await until(() => redeemedOn(ch, 3) === dust, 60_000)
    expect(d.head().header.height).toBeLessThan(settlingAt)
  }, 240_000)

  it('the channel (Settle): the provider redeems its best voucher at once, before SettlingAt, with the retrieval still running; once collected it forgets the channel', async () => {
    const ch = await channelTo(PRICED, parseFil('0.001'))
    const id = addressToString(channel(ch)!.id)
    const server = d.providers[PRICED]!.retrieval
    const lane: Lane = { channel: ch, lane: 0, nonce: 0, amount: 0n }
    // one interval paid, then the client stops reading and paying: the retrieval is held open on the provider
    let abort: ((e: Error) => void) | undefined
    const paidOnce = retrieve(PRICED, { lane, maxVouchers: 1, idleTimeoutMs: 2 * RETRIEVAL_IDLE_TIMEOUT_MS, onStream: (a) => { abort = a } })
    await until(() => server.status().channels.find(c => c.channel === id)?.lanes[0]?.amount, 60_000)
    const held = server.status().channels.find(c => c.channel === id)!.lanes[0]!.amount
    expect(server.status().running).toContainEqual({ channel: id, lane: 0 })
    // held only: a running retrieval's lane is redeemed when it ends
    expect(redeemedOn(ch, 0)).toBeUndefined()

    await send(client, ch, PaychMethod.Settle, new Uint8Array(0), 0n)
    const settlingAt = channel(ch)!.state.settlingAt
    expect(settlingAt).toBeGreaterThan(0)
    await until(() => (redeemedOn(ch, 0) ?? 0n) >= held, 60_000)
    expect(d.head().header.height).toBeLessThan(settlingAt)
    expect(server.status().running.some(r => r.channel === id)).toBe(true)
    expect(redeemedOn(ch, 0)).toBe(held)
    expect(lane.amount).toBe(held)
    abort?.(new Error('test: client leaves'))
    await paidOnce

    await until(() => d.head().header.height >= settlingAt, (SETTLE_DELAY + 30) * 2000)
    await send(client, ch, PaychMethod.Collect, new Uint8Array(0), 0n)
    expect(channel(ch)).toBeNull()
    await until(() => server.status().channels.every(c => c.channel !== id), 60_000)
  }, 240_000)
})
