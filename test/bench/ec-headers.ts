// Expected Consensus header checks (issue 13's figure): a header now carries several signatures (its beacon
// entries, the election proof's VRF, the ticket's VRF and the block signature), so verifying one costs more
// pairings than today's single-producer header. Measured in Node on the synthetic three-miner chain
// (test/helpers/ec-chain.ts, mined with makeEcHeader), against the same run's single-producer headers
// (validateHeader: one BLS signature) as the reference. The worker figure comes when the light client checks them.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { bls12_381 } from '@noble/curves/bls12-381.js'
import { createGenesis, produceHeader, idAddressBytes, blsPublicKey, validateHeader, MemoryBlockStore, MAX_PROVING_PERIOD, VerifiedBeaconEntries, type SealedHeader, type Genesis } from '../../src/core'
import { makeBootstrap } from '../../src/net'
import { startFullNode } from '../../src/node/full-node'
import { startAppServer } from '../../src/node/app-server'
import { ChainDb } from '../../src/node/chain-db'
import { NodeChain } from '../../src/node/chain'
import { inlineVerifier } from '../../src/node/signature-verifier'
import { ecGenesis } from '../helpers/ec-node'
import { launchChromium } from '../helpers/chromium'
import { requireBuiltApp } from '../helpers/dist'
import { mineSyntheticChain, tipsets, validate } from '../helpers/ec-chain'
import { TEST_BEACON, testBeaconEntries, testBeaconEntry } from '../helpers/test-beacon'

const fmt = (n: number, digits = 1): string => n.toFixed(digits)

export function benchEcHeaders (epochs = Number(process.env.BENCH_EC_EPOCHS ?? 40)): void {
  const t0 = performance.now()
  mineSyntheticChain({ epochs, log: false })
  const blocks = tipsets.slice(1).flatMap(t => t.blocks)
  const mineMs = performance.now() - t0
  validate(blocks[0]!) // warm noble's tables
  let t = performance.now()
  for (const b of blocks) validate(b)
  const ecPerSec = blocks.length / ((performance.now() - t) / 1000)
  // each block's signatures in two batches (the worker's three, the beacon's)
  const randomBytes = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n))
  t = performance.now()
  for (const b of blocks) validate(b, { randomBytes })
  const batchedPerSec = blocks.length / ((performance.now() - t) / 1000)
  // as the node and the tab run it: batched, and a round's beacon entries verified once for all its blocks
  const verifiedBeacon = new VerifiedBeaconEntries()
  t = performance.now()
  for (const b of blocks) validate(b, { randomBytes, verifiedBeacon })
  const cachedPerSec = blocks.length / ((performance.now() - t) / 1000)
  const signatures = blocks.reduce((n, b) => n + 3 + b.header.beaconEntries.length, 0)

  // the reference: as many single-producer headers, each with its one signature
  const key = bls12_381.longSignatures.keygen().secretKey
  const genesis = createGenesis({ beacon: TEST_BEACON, network: 'bench', producer: idAddressBytes(1000), producerKey: blsPublicKey(key), blockDelaySecs: 1 }, 1_800_000_000)
  const chain: SealedHeader[] = [genesis.header]
  for (let i = 0; i < blocks.length; i++) chain.push(produceHeader(chain[i]!, genesis, key, 1_800_000_001 + i, testBeaconEntries(chain[i]!, genesis)))
  validateHeader(chain[1]!, chain[0]!, genesis, 1_900_000_000)
  t = performance.now()
  for (let i = 1; i < chain.length; i++) validateHeader(chain[i]!, chain[i - 1]!, genesis, 1_900_000_000)
  const singlePerSec = blocks.length / ((performance.now() - t) / 1000)

  console.log(`\nExpected Consensus headers, Node: ${blocks.length} blocks in ${tipsets.length - 1} tipsets over ${epochs} epochs (mined in ${fmt(mineMs / 1000)} s), ${fmt(signatures / blocks.length, 2)} signatures a block`)
  console.log(`  reference (single-producer validateHeader, one signature): ${fmt(singlePerSec)} headers/s`)
  console.log(`  validateEcBlock (beacon, election, ticket, block signature), one by one: ${fmt(ecPerSec)} headers/s = ${fmt(ecPerSec / singlePerSec, 3)}x reference`)
  console.log(`  validateEcBlock, a block's signatures in two batches: ${fmt(batchedPerSec)} headers/s = ${fmt(batchedPerSec / singlePerSec, 3)}x reference`)
  console.log(`  validateEcBlock batched, each round's beacon entries verified once (the node's and the tab's way): ${fmt(cachedPerSec)} headers/s = ${fmt(cachedPerSec / singlePerSec, 3)}x reference`)
}

/**
 * `ec-browser`: the tab's worker syncing an Expected Consensus chain of `epochs` rounds (three miners, mined here
 * before the page opens, served by one full node over libp2p): every block checked by validateEcBlock against a
 * state proof of its miner's power. Prints the worker's figure (headers/s over its check time, the Chain view's
 * figure) and end to end (state proofs and chain exchange included), against `reference`: the single-producer
 * worker figure of the `browser` section when it ran in the same run.
 */
export async function benchEcHeadersBrowser (reference?: number, epochs = Number(process.env.BENCH_EC_BROWSER_EPOCHS ?? 150)): Promise<void> {
  const distDir = requireBuiltApp()
  if (typeof globalThis.WebSocket === 'undefined') (globalThis as { WebSocket?: unknown }).WebSocket = (await import('ws')).WebSocket
  const cleanups: Array<() => Promise<void>> = []
  try {
    // genesis far enough back that every mined round's timestamp is past
    const genesis = ecGenesis({
      network: 'bench-ec', time: Math.floor(Date.now() / 1000) - epochs - 10, blockDelaySecs: 1, secrets: BENCH_SECRETS,
      // nobody proves the genesis deals of a chain mined offline: a period longer than the chain keeps their power
      provingPeriod: Math.min(MAX_PROVING_PERIOD, epochs + 10),
      payloads: [3000, 3000, 3000].map((n, i) => new Uint8Array(n).fill(i + 1))
    })
    const dataDir = await mkdtemp(path.join(tmpdir(), 'coffer-bench-ec-'))
    cleanups.push(async () => { await rm(dataDir, { recursive: true, force: true }) })
    const bootstrap = makeBootstrap(genesis, [])
    const t0 = performance.now()
    // the folder seeded by a first start, then mined offline by the node's own chain
    await (await startFullNode({ dataDir, bootstrap, genesis })).stop()
    const blocks = await mineOffline(dataDir, genesis, epochs)
    const node = await startFullNode({ dataDir, bootstrap, genesis })
    cleanups.push(node.stop)
    const target = node.chain.head().header.height
    console.log(`\nExpected Consensus in the tab's worker: ${blocks} blocks in ${target} epochs, mined and served in ${fmt((performance.now() - t0) / 1000)} s`)
    const app = await startAppServer({ distDir, host: '127.0.0.1', port: 0, bootstrap: () => makeBootstrap(genesis, node.libp2p.getMultiaddrs().map(String)) })
    cleanups.push(app.close)
    const browser = await launchChromium()
    cleanups.push(browser.close)
    const page = await browser.context.newPage()
    const start = Date.now()
    await page.goto(app.url)
    await page.waitForFunction((n) => Number(document.querySelector('[data-testid=verified-height]')?.textContent) >= n, target, { timeout: 1_800_000, polling: 200 })
    const syncMs = Date.now() - start
    const stats = (await page.textContent('[data-testid=verify-stats]'))?.replace(/\s+/g, ' ') ?? ''
    const worker = Number(/at (\d+) headers\/s/.exec(stats)?.[1] ?? NaN)
    console.log(`  worker checks (UI figure):        ${stats}`)
    console.log(`  end to end (state proofs, exchange): ${fmt(blocks / (syncMs / 1000))} headers/s, ${fmt(syncMs / 1000)} s for ${blocks} blocks`)
    console.log(reference === undefined
      ? '  reference: none (the single-producer worker figure comes from the `browser` section: BENCH_ONLY=browser,ec-browser)'
      : `  reference (single-producer headers in the worker, one signature each, batch-verified): ${fmt(reference)} headers/s → EC = ${fmt(worker / reference, 3)}x reference`)
  } finally {
    for (const fn of cleanups.reverse()) await fn().catch(() => {})
  }
}

const BENCH_SECRETS = [91, 92, 93].map(n => new Uint8Array(32).fill(n))

/** Mines `epochs` rounds on the folder's chain with the three genesis miners (null rounds where none wins); the blocks made. */
async function mineOffline (dataDir: string, genesis: Genesis, epochs: number): Promise<number> {
  const db = await ChainDb.open(dataDir)
  const store = new MemoryBlockStore()
  for await (const [, bytes] of db.allBlocks()) store.put(bytes)
  store.persisted(store.unpersisted().keys())
  const head = (await db.headerAt((await db.headHeight()) ?? 0))!
  const chain = await NodeChain.open({ db, genesis, store, head, nowMs: () => Date.now(), verifier: inlineVerifier() })
  const beacon = { entry: async (r: number) => testBeaconEntry(r) }
  let made = 0
  try {
    for (let h = 1; h <= epochs; h++) {
      const base = chain.headTipSet()
      for (const [i, secret] of BENCH_SECRETS.entries()) {
        const won = await chain.mine({ miner: idAddressBytes(1001 + i), workerSecretKey: secret, height: h, beacon, base: base.key })
        if (won !== null) { await chain.submit(won); made++ }
      }
    }
  } finally {
    await chain.close()
    await db.close()
  }
  return made
}
