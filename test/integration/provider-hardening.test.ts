// A storage provider under a hostile or unlucky client, on a real devnet: capacity held with proposals and a
// trickle of bytes (issue 9, defect 9), staging that grows and is not counted (defect 10), and a transfer
// whose start came before it could be published (defect 1, the provider's side: staged bytes are kept by
// client and piece, so a re-signed proposal resumes them).
import { describe, it, expect, afterAll, beforeAll } from 'vitest'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { multiaddr } from '@multiformats/multiaddr'
import type { PeerId, Stream } from '@libp2p/interface'
import { startDevnet, type Devnet } from '../../src/node/devnet'
import { providerDir } from '../../src/node/provider/devnet-providers'
import { PRESEAL_FILE } from '../../src/node/provider/preseal'
import {
  addressToString, parseFil, pieceDigest, pieceCidV1,
  readEscrow, readDeal, dealProposalCid, encodeDealRequest, decodeDealReply,
  DEAL_PROTOCOL, MAX_CONTROL_FRAME, DealRejectedError,
  type DealRequest, type DealReply, type CID
} from '../../src/core'
import { createCofferLibp2p, sendDeal, requestAsk, FrameReader, writeFrame, type CofferLibp2p, type PayloadReader } from '../../src/net'
import { until } from '../helpers/until'
import { MarketClientPool, dealRequest, stagedFiles, rejection, noBytes, type MarketClient } from '../helpers/market-client'

const P = 5
const MiB = 2 ** 20
/** Providers 0 and 2 sell 16 MiB, in pieces of at most 8 MiB: two such pieces are the whole capacity. */
const SMALL = { capacityBytes: 16 * MiB, maxPieceSize: 8 * MiB }
/** A floor and window short enough to test; 1 KiB/s is still far below what loopback does on any machine. */
const FAST_FLOOR = { bytesPerSecond: 1024, windowMs: 2000, graceMs: 2000 }
const IDLE_MS = 3000

const cleanups: Array<() => Promise<void>> = []
afterAll(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

let d: Devnet
let dir: string
let node: CofferLibp2p

/** Starts (or restarts, on the same folder) the devnet, and connects the test's node to its providers. */
async function startNet (): Promise<void> {
  d = await startDevnet({
    dataDir: dir, distDir: '/nonexistent', serveApp: false, providers: 3, provingPeriod: P, faucetCooldownMs: 0,
    log: process.env.DEBUG_DEVNET === undefined ? undefined : (l) => { console.log(l) },
    providerOptions: (i) => [
      { ask: SMALL, limits: { rateFloor: FAST_FLOOR } },
      undefined,
      { ask: SMALL, limits: { stagingIdleMs: IDLE_MS } }
    ][i]
  })
  for (const p of d.providers) await node.dial(p.libp2p.getMultiaddrs().map(a => multiaddr(a.toString()))[0]!)
  // every provider has topped up its collateral escrow before any proposal arrives
  await until(() => d.providers.every(p => d.chain.readState((s, r) => readEscrow(s, r, p.provider.address)).escrow > 0n), 60_000)
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'coffer-provider-hardening-'))
  node = await createCofferLibp2p({ allowLoopbackDials: true })
  cleanups.push(async () => { await node.stop() })
  cleanups.push(async () => { await d?.stop(); await rm(dir, { recursive: true, force: true }) })
  await startNet()
  pool = await MarketClientPool.fill(d, { '1': 5, '10': 3 })
}, 120_000)

type Client = MarketClient
/** Each test's fresh keys, funded together before the tests (one batch instead of two messages' wait per key). */
let pool: MarketClientPool
const client = async (escrow: string): Promise<Client> => pool.take(escrow)

const head = (): number => d.head().header.height
/** The first period boundary at least `ahead` epochs past the head. */
const startIn = (ahead: number): number => Math.ceil((head() + ahead) / P) * P

function proposal (c: Client, provider: number, o: { pieceCid: CID, payloadBytes: number, start?: number, pricePerEpoch?: bigint }): DealRequest {
  return dealRequest(c, provider, { ...o, start: o.start ?? startIn(60), provingPeriod: P, label: 'hardening' })
}

/** A made-up piece of `payloadBytes`: the attacker never sends it whole, so its CID need not be its bytes'. */
const fakePiece = (payloadBytes: number): { pieceCid: CID, payloadBytes: number } => ({ pieceCid: pieceCidV1(randomBytes(32)), payloadBytes })
/** The largest payload that makes a piece of `paddedBytes`. */
const fill = (paddedBytes: number): number => paddedBytes / 128 * 127

function realPiece (bytes: Uint8Array): { pieceCid: CID, payloadBytes: number } {
  return { pieceCid: pieceCidV1(pieceDigest(bytes).root), payloadBytes: bytes.length }
}

const peerOf = (provider: number): PeerId => d.providers[provider]!.libp2p.peerId
const freeBytes = async (provider: number): Promise<number> => (await requestAsk(node, peerOf(provider))).ask.freeBytes
/** The 16 MiB a provider sells, less its pre-sealed piece (its genesis power), which it holds from the start. */
const room = async (provider: number): Promise<number> => 16 * MiB - (await stat(path.join(providerDir(dir, provider), PRESEAL_FILE))).size
const staged = async (provider: number): Promise<Array<{ key: string, bytes: number }>> => await stagedFiles(dir, provider)

async function rawTransfer (provider: number, req: DealRequest): Promise<{ first: DealReply, stream: Stream, replies: FrameReader }> {
  const stream = await node.dialProtocol(peerOf(provider), DEAL_PROTOCOL)
  const replies = new FrameReader(stream, MAX_CONTROL_FRAME)
  await writeFrame(stream, encodeDealRequest(req))
  const first = decodeDealReply((await replies.read(AbortSignal.timeout(30_000)))!)
  cleanups.push(async () => { stream.abort(new Error('test over')) })
  return { first, stream, replies }
}

/** Sends a deal, asking again while the provider says BUSY (an earlier stream for the piece is still ending). */
async function sendPatiently (provider: number, req: DealRequest, payload: PayloadReader): Promise<{ dealId: number, message: string }> {
  for (;;) {
    try {
      return await sendDeal(node, peerOf(provider), req, payload, { retries: 0 })
    } catch (err) {
      if (!(err instanceof DealRejectedError && err.code === 'BUSY')) throw err
      await new Promise(resolve => setTimeout(resolve, 200))
    }
  }
}

describe('a provider under a hostile client', () => {
  it('two max-size proposals and a trickle cannot hold its capacity: CLIENT_LIMIT, an honest client is served, the trickle is dropped STALLED and its bytes kept and counted', async () => {
    const attacker = await client('1')
    const honest = await client('1')
    expect(await freeBytes(0)).toBe(await room(0))

    // the attack as it was found: a whole max-size piece reserved, then a byte now and then
    const sentAt = performance.now() // the provider accepts after this, and judges the rate from then
    const first = await rawTransfer(0, proposal(attacker, 0, fakePiece(fill(8 * MiB))))
    expect(first.first).toEqual({ kind: 'accepted', offset: 0 })
    let trickled = 0
    let reply: DealReply | undefined
    const replied = first.replies.read().then(f => { reply = f === null ? undefined : decodeDealReply(f) }, () => {})
    const trickle = setInterval(() => { if (reply === undefined) { first.stream.send(Uint8Array.of(1, 0x2a)); trickled++ } }, 200) // a 1-byte frame
    cleanups.push(async () => { clearInterval(trickle) })

    // the second max-size piece would be the rest of the capacity: one client may not hold that much
    const second = await rejection(sendDeal(node, peerOf(0), proposal(attacker, 0, fakePiece(fill(8 * MiB))), noBytes(), { retries: 0 }))
    expect(second.code).toBe('CLIENT_LIMIT')
    // the running transfer holds its whole piece (staged bytes and the rest), no more (give or take the byte
    // being written while the ask measures the folder)
    const during = await freeBytes(0)
    expect(during).toBeLessThanOrEqual(await room(0) - 8 * MiB)
    expect(during).toBeGreaterThanOrEqual(await room(0) - 8 * MiB - 2)

    // an honest client still finds room and is served
    const bytes = randomBytes(MiB - 1000)
    const honestReq = proposal(honest, 0, realPiece(bytes))
    const deal = await sendDeal(node, peerOf(0), honestReq, async function * (offset) { yield bytes.subarray(offset) })
    expect(d.providers[0]!.provider.store.byProposal(dealProposalCid(honestReq.proposal.proposal).toString())?.dealId).toBe(deal.dealId)

    // the trickle is dropped after the grace period, with STALLED; its bytes stay staged and count as used
    await until(() => reply !== undefined, 30_000)
    clearInterval(trickle)
    expect(performance.now() - sentAt).toBeGreaterThanOrEqual(FAST_FLOOR.graceMs)
    expect(reply).toMatchObject({ kind: 'rejected', code: 'STALLED' })
    await replied
    const left = await until(async () => { const s = await staged(0); return s.length === 1 && s[0]!.bytes > 0 ? s[0]! : undefined })
    expect(left.bytes).toBeLessThanOrEqual(trickled)
    expect(left.key.startsWith(addressToString(attacker.address))).toBe(true)
    expect(await freeBytes(0)).toBe(await room(0) - bytes.length - left.bytes)
  }, 180_000)

  it('counts a client\'s running proposals against its escrow', async () => {
    const c = await client('1')
    // each deal would lock 0.6 FIL: the escrow covers one, and the first locks nothing until it is published
    const price = parseFil('0.6') / BigInt(2 * P)
    const a = await rawTransfer(1, proposal(c, 1, { ...fakePiece(1000), pricePerEpoch: price }))
    expect(a.first).toEqual({ kind: 'accepted', offset: 0 })
    const b = await rejection(sendDeal(node, peerOf(1), proposal(c, 1, { ...fakePiece(1000), pricePerEpoch: price }), noBytes(), { retries: 0 }))
    expect(b.code).toBe('FUNDS')
    // once the first stream is gone, the escrow is free for another
    a.stream.abort(new Error('gone'))
    const again = proposal(c, 1, { ...fakePiece(1000), pricePerEpoch: price })
    const c2 = await until(async () => {
      const r = await rawTransfer(1, again)
      if (r.first.kind === 'accepted') return r
      r.stream.abort(new Error('again'))
      return undefined
    })
    expect(c2.first).toEqual({ kind: 'accepted', offset: 0 })
    c2.stream.abort(new Error('done'))
  }, 120_000)

  it('refuses a start too far ahead, and a start too soon, with START naming the head and the starts it takes', async () => {
    const c = await client('1')
    // 14 days of 1-second epochs (Lotus's MaxDealStartDelay) and then some
    const far = await rejection(sendDeal(node, peerOf(1), proposal(c, 1, { ...fakePiece(1000), start: startIn(14 * 24 * 3600 + 10 * P) }), noBytes(), { retries: 0 }))
    expect(far.code).toBe('START')
    expect(far.message).toMatch(/\(head \d+\): sign a start from \d+ to \d+, on a 5-epoch period boundary/)
    const soon = await rejection(sendDeal(node, peerOf(1), proposal(c, 1, { ...fakePiece(1000), start: startIn(0) }), noBytes(), { retries: 0 }))
    expect(soon.code).toBe('START')
    const [, h, from] = /\(head (\d+)\): sign a start from (\d+)/.exec(soon.message)!
    expect(Number(from)).toBeGreaterThanOrEqual(Number(h) + 5)
    expect(Number(from) % P).toBe(0)
  }, 60_000)

  it('counts staged bytes in the ask\'s free space and expires them once idle', async () => {
    const c = await client('1')
    // a transfer dropped half way, for a start far ahead: the old provider kept it until that start neared
    const t = await rawTransfer(2, proposal(c, 2, { ...fakePiece(fill(4 * MiB)), start: startIn(3000) }))
    expect(t.first).toEqual({ kind: 'accepted', offset: 0 })
    await writeFrame(t.stream, randomBytes(100_000))
    await until(async () => (await staged(2))[0]?.bytes === 100_000)
    t.stream.abort(new Error('dropped'))
    const free2 = await room(2)
    await until(async () => await freeBytes(2) === free2 - 100_000)
    // nobody resumes it: it goes, and the space comes back
    await until(async () => (await staged(2)).length === 0, 60_000)
    expect(await freeBytes(2)).toBe(free2)
  }, 120_000)
})

describe('a transfer slower than its start (the provider\'s side)', () => {
  it('resumes a re-signed proposal for the same piece from the staged bytes, and refuses a second stream for the piece BUSY', async () => {
    const c = await client('10')
    const bytes = randomBytes(3 * MiB)
    const piece = realPiece(bytes)
    const a = proposal(c, 1, piece)
    let dropped = false
    const err = await sendDeal(node, peerOf(1), a, async function * (offset) {
      for (let at = offset; at < bytes.length; at += 256 * 1024) {
        if (at >= 2 * MiB) { dropped = true; throw new Error('the tab went away') }
        yield bytes.subarray(at, at + 256 * 1024)
      }
    }, { retries: 0 }).catch((e: Error) => e)
    expect(dropped).toBe(true)
    expect(err).toBeInstanceOf(Error)

    // another proposal for the piece (once the dropped stream has ended: BUSY until then) resumes from the staged bytes…
    const holder = await until(async () => {
      const r = await rawTransfer(1, proposal(c, 1, { ...piece, start: startIn(70) }))
      if (r.first.kind === 'accepted') return r
      expect(r.first).toMatchObject({ kind: 'rejected', code: 'BUSY' })
      r.stream.abort(new Error('again'))
      return undefined
    })
    const resumedAt = (holder.first as { offset: number }).offset
    expect(resumedAt).toBeGreaterThan(0)
    expect(resumedAt).toBeLessThanOrEqual(2 * MiB)
    expect((await staged(1)).find(f => f.key.startsWith(addressToString(c.address)))?.bytes).toBe(resumedAt)
    // …and while its stream is open, a third proposal for the piece is refused BUSY, not written alongside
    const busy = await rejection(sendDeal(node, peerOf(1), proposal(c, 1, { ...piece, start: startIn(80) }), noBytes(), { retries: 0 }))
    expect(busy.code).toBe('BUSY')
    holder.stream.abort(new Error('closed'))

    // a new proposal (a later start, as a client re-plans) for the same piece: it resumes where the bytes stand
    const b = proposal(c, 1, { ...piece, start: a.proposal.proposal.startEpoch + 10 * P })
    const offsets: number[] = []
    const deal = await sendPatiently(1, b, async function * (offset) { offsets.push(offset); yield bytes.subarray(offset) })
    expect(offsets).toEqual([resumedAt])
    const onChain = await until(() => d.chain.readState((s, r) => readDeal(s, r, deal.dealId)) ?? undefined)
    expect(onChain.proposal.startEpoch).toBe(b.proposal.proposal.startEpoch)
    expect(onChain.proposal.pieceCid.equals(piece.pieceCid)).toBe(true)
    expect((await staged(1)).filter(f => f.key.startsWith(addressToString(c.address)))).toEqual([])
  }, 120_000)

  it('a START refusal after the last byte keeps every byte; a re-signed later start publishes without sending any again', async () => {
    const c = await client('10')
    const bytes = randomBytes(MiB)
    const piece = realPiece(bytes)
    const a = proposal(c, 1, { ...piece, start: startIn(8) })
    const start = a.proposal.proposal.startEpoch
    // the last bytes go only once the start is a block away: too late to publish
    const late = await rejection(sendDeal(node, peerOf(1), a, async function * (offset) {
      yield bytes.subarray(offset, bytes.length - 1000)
      await until(() => head() >= start - 1, 60_000)
      yield bytes.subarray(bytes.length - 1000)
    }, { retries: 0 }))
    expect(late.code).toBe('START')
    expect(late.message).toMatch(/every byte is kept \(head \d+\): sign a start from \d+/)
    const kept = (await staged(1)).filter(f => f.key.startsWith(addressToString(c.address)))
    expect(kept.map(f => f.bytes)).toEqual([bytes.length])

    const b = proposal(c, 1, { ...piece, start: startIn(20) })
    const deal = await sendPatiently(1, b, noBytes(bytes.length))
    const onChain = await until(() => d.chain.readState((s, r) => readDeal(s, r, deal.dealId)) ?? undefined)
    expect(onChain.proposal.startEpoch).toBe(b.proposal.proposal.startEpoch)
  }, 120_000)

  it('keeps staged bytes across a provider restart: a re-signed proposal resumes from them', async () => {
    const c = await client('10')
    const bytes = randomBytes(2 * MiB)
    const piece = realPiece(bytes)
    const t = await rawTransfer(1, proposal(c, 1, piece))
    expect(t.first).toEqual({ kind: 'accepted', offset: 0 })
    await writeFrame(t.stream, bytes.subarray(0, MiB))
    await until(async () => (await staged(1)).find(f => f.key.startsWith(addressToString(c.address)))?.bytes === MiB)
    t.stream.abort(new Error('dropped'))

    await d.stop()
    await startNet()
    const offsets: number[] = []
    const deal = await sendPatiently(1, proposal(c, 1, { ...piece, start: startIn(30) }), async function * (offset) { offsets.push(offset); yield bytes.subarray(offset) })
    expect(offsets).toEqual([MiB])
    expect(await until(() => d.chain.readState((s, r) => readDeal(s, r, deal.dealId)) ?? undefined)).toBeTruthy()
  }, 180_000)
})
