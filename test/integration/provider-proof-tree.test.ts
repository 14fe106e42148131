// A provider proves a multi-segment deal (9 MiB) from the segment roots it kept when the piece was verified, and
// after that cache file is deleted: rebuilt once on the pool, then proved. Every period is paid, every proof
// checks against the chain's verifier.
import { describe, it, expect, afterAll, beforeAll } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { startDevnet, type Devnet } from '../../src/node/devnet'
import { devnetAsk } from '../../src/node/provider/devnet-providers'
import { findStoredDeal } from '../../src/node/provider/damage'
import { pieceTreePath } from '../../src/node/provider/piece-tree-cache'
import {
  pieceDigest, pieceCidV1, readDeal, readEscrow, signDealProposal, askPricePerEpoch, askCollateral, idAddressBytes, verifyPossession,
  challengeSeed, beaconEntryForEpoch, beaconTimingOf, dealProofSet, planStartEpoch, SEGMENT_PAYLOAD_BYTES, FIRST_GUESS_BYTES_PER_SEC, type DealProposal
} from '../../src/core'
import { createCofferLibp2p, sendDeal, type CofferLibp2p } from '../../src/net'
import { sendCopy, type Replan } from '../../src/light/copy-sender'
import { until } from '../helpers/until'
import { fundedMarketClient } from '../helpers/market-client'

const P = 5
const PERIODS = 3
const cleanups: Array<() => Promise<void>> = []
afterAll(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

let d: Devnet
let dir: string
let node: CofferLibp2p
const log: string[] = []

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'coffer-proof-tree-'))
  node = await createCofferLibp2p({ allowLoopbackDials: true })
  cleanups.push(async () => { await node.stop() })
  d = await startDevnet({
    dataDir: dir, distDir: '/nonexistent', serveApp: false, providers: 1, provingPeriod: P, faucetCooldownMs: 0,
    log: (l) => { log.push(l); if (process.env.DEBUG_DEVNET !== undefined) console.log(l) }
  })
  cleanups.push(async () => { await d.stop(); await rm(dir, { recursive: true, force: true }) })
  await node.dial(d.providers[0]!.libp2p.getMultiaddrs().map(a => multiaddr(a.toString()))[0]!)
  await until(() => d.chain.readState((s, r) => readEscrow(s, r, d.providers[0]!.provider.address)).escrow > 0n, 60_000)
}, 120_000)

function bytes (n: number): Uint8Array {
  const out = new Uint8Array(n)
  let x = 12345
  for (let i = 0; i < n; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; out[i] = x & 0xff }
  return out
}

describe('provider proofs from kept segment roots', () => {
  it('proves a 9 MiB deal from the roots kept at publication, and again after the cache file is deleted', async () => {
    const payload = bytes(9 * 2 ** 20)
    expect(payload.length).toBeGreaterThan(2 * SEGMENT_PAYLOAD_BYTES)
    const digest = pieceDigest(payload)
    const c = await fundedMarketClient(d, '1')
    const ask = devnetAsk(0)
    // the start a client plans (its first guess at the rate, then a publication margin); sent as the app sends a
    // copy, so a transfer measured too slow for it, or a START refusal, re-signs a later one (never a byte twice)
    const blockDelaySecs = d.genesis.state.blockDelaySecs
    const planned = planStartEpoch({ head: d.head().header.height, remainingBytes: payload.length, bytesPerSec: FIRST_GUESS_BYTES_PER_SEC, blockDelaySecs, provingPeriod: P })
    const p: DealProposal = {
      pieceCid: pieceCidV1(digest.root), pieceSize: digest.paddedBytes, verifiedDeal: false, client: c.address, provider: idAddressBytes(1001), label: 'proof-tree',
      startEpoch: planned, endEpoch: planned + PERIODS * P, storagePricePerEpoch: askPricePerEpoch(ask, digest.paddedBytes),
      providerCollateral: askCollateral(ask, digest.paddedBytes), clientCollateral: 0n
    }
    const replans: Replan[] = []
    const { dealId } = await sendCopy({
      proposal: signDealProposal(c.secret, p),
      payloadBytes: payload.length,
      transfer: async (proposal, o) => ({
        ...await sendDeal(node, d.providers[0]!.libp2p.peerId, { proposal, payloadBytes: payload.length },
          async function * (offset) { for (let at = offset; at < payload.length; at += 1 << 20) yield payload.subarray(at, at + (1 << 20)) },
          { retries: 0, onProgress: (held) => { o.onProgress(held) }, stopBeforeNextFrame: o.stopBeforeNextFrame }),
        confirmed: true
      }),
      sign: async (q) => signDealProposal(c.secret, q),
      head: () => d.head().header.height,
      nowMs: () => Date.now(),
      sleep: async (ms) => { await new Promise(resolve => setTimeout(resolve, ms)) },
      blockDelaySecs,
      provingPeriod: P,
      onReplan: async (r) => { replans.push(r) },
      onProgress: () => {}
    })
    if (replans.length > 0) console.log(`proof-tree deal: start re-planned ${replans.map(r => `${r.reason} at ${r.held} bytes`).join(', ')}`)
    const start = d.chain.readState((s, r) => readDeal(s, r, dealId))!.proposal.startEpoch
    const { store, deal } = await findStoredDeal(dir, String(dealId))
    const file = store.absolute(deal.file)
    // kept when the piece was verified, before any proof
    expect(existsSync(pieceTreePath(file))).toBe(true)
    expect(d.head().header.height).toBeLessThan(start)

    const periods = async (): Promise<number> => d.chain.readState((s, r) => readDeal(s, r, dealId))?.periods.length ?? 0
    // the first period is proved from the kept roots, with no pass over the file
    await until(async () => await periods() >= 1, 120_000)
    expect(log.some(l => l.includes(`deal ${dealId}: `) && l.includes('tree cache'))).toBe(false)
    // lost: the next period's proof hashes the file once on the pool, keeps the roots again, and proves
    await rm(pieceTreePath(file))
    await until(async () => await periods() >= PERIODS, 120_000)
    expect(log.filter(l => l.includes(`deal ${dealId}: `) && l.includes('tree cache absent'))).toHaveLength(1)
    expect(existsSync(pieceTreePath(file))).toBe(true)

    const rec = d.chain.readState((s, r) => readDeal(s, r, dealId))!
    expect(rec.periods.map(r => r.penalty)).toEqual([0n, 0n, 0n])
    for (const [i, r] of rec.periods.entries()) {
      const at = start + i * P
      // (under Expected Consensus a null round's beacon entry is carried by the first block above it)
      const header = (await d.chain.headerAtOrAbove(at))!
      verifyPossession(dealProofSet(rec.proposal), challengeSeed(beaconEntryForEpoch(beaconTimingOf(d.genesis), at, header.header)!, at, dealId), d.genesis.state.market.challengesPerPeriod, r.proofBytes!)
    }
  }, 300_000)
})
