// Staging before proposing (issue 10 part 6), on a real devnet: a peer sends an upload's bytes before the
// piece CID exists, then proposes naming the transfer with the real first bytes (`head`), and the deal stream
// sends nothing more; only the peer that staged may adopt; the bytes are checked against the piece as any
// others (a lying head is refused); a broken stage resumes; the limits hold (stages a peer, bytes in all) and
// an unadopted stage expires.
import { describe, it, expect, afterAll, beforeAll } from 'vitest'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { multiaddr } from '@multiformats/multiaddr'
import type { PeerId } from '@libp2p/interface'
import { startDevnet, type Devnet } from '../../src/node/devnet'
import { providerDir } from '../../src/node/provider/devnet-providers'
import { pieceDigest, pieceCidV1, secpAddressBytes, secpPublicKey, readEscrow, decodeDealRequest, encodeDealRequest, DealRejectedError, TRANSFER_ID_BYTES, type DealRequest } from '../../src/core'
import { createCofferLibp2p, sendDeal, sendStage, type CofferLibp2p, type PayloadReader } from '../../src/net'
import { until } from '../helpers/until'
import { MarketClientPool, dealRequest, stagedFiles, rejection, noBytes, type MarketClient } from '../helpers/market-client'

const P = 5
const MiB = 2 ** 20
const HEAD = 64

const cleanups: Array<() => Promise<void>> = []
afterAll(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

let d: Devnet
let dir: string
let node: CofferLibp2p
let other: CofferLibp2p
const logs: string[] = []
/** The tests' fresh keys, funded together before them (one batch instead of two messages' wait per key). */
let pool: MarketClientPool
/** How far provider 1's clock runs ahead of this machine's: moved past its stage idle time instead of waiting it out. */
let clockAheadMs = 0
const STAGE_IDLE_MS = 30_000

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'coffer-prestage-'))
  node = await createCofferLibp2p({ allowLoopbackDials: true })
  other = await createCofferLibp2p({ allowLoopbackDials: true })
  cleanups.push(async () => { await node.stop(); await other.stop() })
  cleanups.push(async () => { await d?.stop(); await rm(dir, { recursive: true, force: true }) })
  d = await startDevnet({
    dataDir: dir, distDir: '/nonexistent', serveApp: false, providers: 2, provingPeriod: P, faucetCooldownMs: 0,
    log: (l) => { logs.push(l); if (process.env.DEBUG_DEVNET !== undefined) console.log(l) },
    providerOptions: (i) => i === 1
      ? { limits: { prestage: { maxPeerStages: 2, maxPeerBytes: 64 * MiB, maxTotalBytes: 6 * MiB, idleMs: STAGE_IDLE_MS, reserveAheadBytes: MiB } }, nowMs: () => Date.now() + clockAheadMs }
      : undefined
  })
  for (const n of [node, other]) for (const p of d.providers) await n.dial(p.libp2p.getMultiaddrs().map(a => multiaddr(a.toString()))[0]!)
  await until(() => d.providers.every(p => d.chain.readState((s, r) => readEscrow(s, r, p.provider.address)).escrow > 0n), 60_000)
  pool = await MarketClientPool.fill(d, { '1': 3 })
}, 120_000)

const peerOf = (provider: number): PeerId => d.providers[provider]!.libp2p.peerId
const startIn = (ahead: number): number => Math.ceil((d.head().header.height + ahead) / P) * P
const transferId = (): Uint8Array => new Uint8Array(randomBytes(TRANSFER_ID_BYTES))

/** A payload as the tab stages it: the first HEAD bytes a placeholder, the real ones known only at the end. */
function payload (bytes: number): { real: Uint8Array, staged: Uint8Array, head: Uint8Array } {
  const real = new Uint8Array(randomBytes(bytes))
  const staged = real.slice()
  staged.fill(0, 0, HEAD)
  return { real, staged, head: real.slice(0, HEAD) }
}

async function * chunks (bytes: Uint8Array, size = 300_000): AsyncIterable<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, Math.min(bytes.length, at + size))
}

const whole = (bytes: Uint8Array): PayloadReader => async function * (offset) { yield bytes.subarray(offset) }

function request (c: MarketClient, provider: number, real: Uint8Array, extra: Partial<DealRequest> = {}): DealRequest {
  return { ...dealRequest(c, provider, { pieceCid: pieceCidV1(pieceDigest(real).root), payloadBytes: real.length, start: startIn(60), provingPeriod: P, label: 'prestage' }), ...extra }
}

const preFiles = async (provider: number): Promise<Array<{ key: string, bytes: number }>> => (await stagedFiles(dir, provider)).filter(f => f.key.startsWith('pre-'))

describe('staging before proposing', () => {
  it('a DealRequest round-trips transfer and head, and refuses a head without a transfer or past MAX_HEAD_BYTES', async () => {
    const secret = new Uint8Array(32).fill(1)
    const c: MarketClient = { secret, address: secpAddressBytes(secpPublicKey(secret)) }
    const { real } = payload(4096)
    const req = request(c, 0, real, { transfer: transferId(), head: real.slice(0, HEAD) })
    const back = decodeDealRequest(encodeDealRequest(req))
    expect(back.transfer).toEqual(req.transfer)
    expect(back.head).toEqual(req.head)
    expect(() => decodeDealRequest(encodeDealRequest({ ...req, transfer: undefined }))).toThrow(/only with a transfer/)
    expect(() => decodeDealRequest(encodeDealRequest({ ...req, head: new Uint8Array(257) }))).toThrow(/at most 256/)
    expect(() => decodeDealRequest(encodeDealRequest({ ...req, transfer: new Uint8Array(15) }))).toThrow(/16 bytes/)
    // a request without them encodes as it did before they existed
    expect(Object.keys(await import('@ipld/dag-cbor').then(m => m.decode(encodeDealRequest({ ...req, transfer: undefined, head: undefined })) as object))).toEqual(['proposal', 'payloadBytes'])
  }, 30_000)

  it('bytes staged before the proposal are adopted by it: the deal stream sends none, and the stored payload is the real one (head written over the placeholder)', async () => {
    const c = pool.take('1')
    const { real, staged, head } = payload(3 * MiB + 12345)
    const transfer = transferId()
    expect(await sendStage(node, peerOf(0), transfer, chunks(staged))).toBe(staged.length)
    expect((await preFiles(0)).map(f => f.bytes)).toEqual([staged.length])
    const seen: number[] = []
    const r = await sendDeal(node, peerOf(0), request(c, 0, real, { transfer, head }), noBytes(real.length), { onProgress: (held) => seen.push(held) })
    expect(r.dealId).toBeGreaterThanOrEqual(0)
    expect(seen[0]).toBe(real.length)
    expect(await preFiles(0)).toEqual([])
    const deal = d.providers[0]!.provider.store.all().find(x => x.dealId === r.dealId)!
    expect(Buffer.compare(await readFile(path.join(providerDir(dir, 0), deal.file)), real)).toBe(0)
    // hashed as the stage arrived, its header patched in at adoption: no second pass over the file
    expect(logs.some(l => / adopted as .*, hashed as it arrived$/.test(l))).toBe(true)
    expect(logs.some(l => /the bytes hash to the proposed piece \(hashed as they arrived/.test(l))).toBe(true)
  }, 180_000)

  it('another peer naming the same transfer adopts nothing (it sends every byte), and a head that lies is refused PIECE_MISMATCH', async () => {
    const c = pool.take('1')
    const { real, staged, head } = payload(2 * MiB)
    const transfer = transferId()
    await sendStage(node, peerOf(0), transfer, chunks(staged))
    let asked = -1
    const fromOther = await sendDeal(other, peerOf(0), request(c, 0, real, { transfer, head }), async function * (offset) { asked = offset; yield real.subarray(offset) })
    expect(asked).toBe(0)
    expect(fromOther.dealId).toBeGreaterThanOrEqual(0)
    // the stager's own file is still there, untouched
    expect((await preFiles(0)).map(f => f.bytes)).toEqual([staged.length])
    // the stager proposes a different piece with a head that does not make its staged bytes that piece
    const c2 = pool.take('1')
    const wrong = payload(2 * MiB).real
    const err = await rejection(sendDeal(node, peerOf(0), request(c2, 0, wrong, { transfer, head: wrong.slice(0, HEAD) }), whole(wrong), { retries: 0 }))
    expect(err.code).toBe('PIECE_MISMATCH')
  }, 240_000)

  it('a broken stage resumes where the provider stands; a peer holds at most maxPeerStages; all peers together at most maxTotalBytes (BUSY), with what arrived kept; an unadopted stage expires', async () => {
    const transfer = transferId()
    const { staged } = payload(3 * MiB)
    // the first stream stops once the provider holds 2 MiB (the tab closed): the provider keeps them
    const firstTwo = async function * (): AsyncIterable<Uint8Array> {
      yield staged.subarray(0, 2 * MiB)
      await until(async () => (await preFiles(1)).some(f => f.bytes === 2 * MiB), 60_000)
      throw new Error('the tab closed')
    }
    await expect(sendStage(node, peerOf(1), transfer, firstTwo())).rejects.toThrow(/the tab closed/)
    let resumedFrom = -1
    // the provider may still be ending the broken stream: BUSY until it has
    const resumed = async (): Promise<number> => await sendStage(node, peerOf(1), transfer, chunks(staged), { onProgress: (h) => { if (resumedFrom < 0) resumedFrom = h } })
      .catch(async (err: Error) => { if (err instanceof DealRejectedError && err.code === 'BUSY') { await new Promise(resolve => setTimeout(resolve, 200)); return await resumed() } throw err })
    expect(await resumed()).toBe(3 * MiB)
    expect(resumedFrom).toBe(2 * MiB)
    // a second stage fits the peer's two; a third is refused by name
    const second = transferId()
    await expect(sendStage(node, peerOf(1), second, chunks(payload(2 * MiB).staged))).resolves.toBe(2 * MiB)
    const third = await rejection(sendStage(node, peerOf(1), transferId(), chunks(payload(MiB).staged)))
    expect(third.code).toBe('CLIENT_LIMIT')
    // another peer: 5 MiB are held of the 6 MiB all peers may stage, so its stage stops at the limit, BUSY, and
    // what it sent is kept (its deal stream would resume from it)
    const busy = await rejection(sendStage(other, peerOf(1), transferId(), chunks(payload(4 * MiB).staged)))
    expect(busy.code).toBe('BUSY')
    // nothing adopts them: the provider's sweep removes every stage once idle past 30 s. They are all still held
    // (however long the steps above took here, well under 30 s of the provider's clock passed since the stage
    // that was not refused wrote), then its clock moves 30 s on and the next head's sweep removes them
    expect((await preFiles(1)).length).toBeGreaterThanOrEqual(2)
    clockAheadMs = STAGE_IDLE_MS + 1000
    await until(async () => (await preFiles(1)).length === 0, 240_000)
  }, 300_000)

  it('a stage request that is not 16 bytes of transfer ID is refused TRANSFER', async () => {
    const err = await rejection(sendStage(node, peerOf(0), new Uint8Array(8), chunks(new Uint8Array(10))))
    expect(err).toBeInstanceOf(DealRejectedError)
    expect(err.code).toBe('TRANSFER')
  }, 30_000)
})
