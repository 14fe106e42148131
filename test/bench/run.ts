// `npm run bench`: measurements, printed (never asserted). Each figure that has a reference is printed
// as a ratio against that reference measured in the same run.
//   1. header verification in Node: our validateHeader vs a bare @noble/curves BLS verify of the same bytes
//   2. the PWA in Chromium against a devnet pre-filled with BENCH_HEADERS (default 10,000) headers:
//      page load → first verified head, cold sync time, headers/s in the worker, UI frame gaps while the
//      backlog verifies, worker JS heap after the sync.
//   3. state proofs in Node: size and check time for state trees of 1k–100k accounts, against hashing the
//      same bytes once (the least any checker must do)
//   4. message round trip on a devnet: JSON-RPC MpoolPush → executed receipt, against the block time
//   5. in the Chromium worker: secp256k1 and BLS message-signature checks vs bare @noble/curves, and the
//      wallet's send → verified receipt time
//   8b. tab-ceilings: what one Chromium worker can do with nothing else in the way (issue 17), beside our pool
//   9. uploads (test/bench/upload.ts): deal stream vs raw libp2p stream, and a 1 GiB upload in Chromium
//  10. floods (test/bench/flood.ts): a `coffer devnet` child process under six floods; block gaps, ChainHead
//      latency and the node's RSS (BENCH_FLOODS=0,3 picks floods by number; 0 is the idle reference)
//  11. retrieval (test/bench/retrieval.ts): 256 MiB from a priced provider (verify, pay, write) vs the raw
//      libp2p stream, and the time to the first verified byte; retrieval-browser: 1 GiB downloaded through the app
//      in Chromium (share link → Download → OPFS), its MiB/s, first verified byte and peak JS memory over idle
//  12. range-read (test/bench/range-read.ts): 1 MiB at the end of a 256 MiB file through the tab's range reader: block
//      bytes moved against the whole CAR, and the time with the channel created first and with it open
//  13. gateway (test/bench/http-gateway.ts): the provider's HTTP gateway (`/ipfs/{root}?format=car`) against the libp2p
//      retrieval path on the same file from the free provider, every block verified, as a ratio from this run
//  14. fullnode-sync (test/bench/fullnode-sync.ts): a full node syncing a BENCH_FULLNODE_BLOCKS-block devnet from genesis,
//      re-executing every block: blocks/s, against the header rules alone in the same run
//  15. provider-memory (test/bench/provider-memory.ts): `coffer provider init` + `run` as child processes joining a devnet:
//      the provider process's RSS idle and under one BENCH_PROVIDER_MIB (64) MiB upload, and the time from `provider run`
//      to its first deal taken
//  16. ec-headers (test/bench/ec-headers.ts): Expected Consensus header checks (beacon, election proof, ticket, block
//      signature) on a synthetic three-miner chain of BENCH_EC_EPOCHS (40) epochs, against single-producer headers
//      ec-browser: the tab's worker syncing a BENCH_EC_BROWSER_EPOCHS (150)-epoch Expected Consensus chain from a full node,
//      every block checked against a state proof, against the `browser` section's single-producer worker figure
//  17. f3 (test/bench/f3.ts): one Filecoin mainnet F3 certificate (1,560 participants) and a 100,000-epoch certificate
//      chain at the devnet's schedule: bytes downloaded and the time to check it, mcl-wasm against noble in one run;
//      f3-cold (test/bench/f3-cold.ts): the tab's whole cold sync by certificates in Chromium (1,000 certificates, as a
//      100,000-epoch chain has), bytes received, and a reload to the verified head
//  18. tabs (test/bench/tabs.ts): five tabs with one shared node against a node per tab; transports
//      (test/bench/transports.ts): the tab over WebSockets against WebRTC-Direct, connection time and cold-sync rate
//   (BENCH_ONLY=headers,commp,commp-browser,tab-ceilings,pdp,state,roundtrip,browser,upload,upload-browser,flood,retrieval,retrieval-browser,range-read,gateway,fullnode-sync,provider-memory,ec-headers,ec-browser,f3,f3-browser,f3-cold,tabs,transports picks sections)
//   8. CommP in headless Chromium: reference package vs our pool of 1 worker and of one per core
//   7. proof-of-possession verification: 5 challenges on a 32 GiB piece, TypeScript and WASM verifiers
//   6. CommP throughput in Node, 64 MiB and 1 GiB streamed in 1 MiB chunks: our WASM (SIMD ×4 and scalar),
//      node:crypto and @noble/hashes trees, against the Rust→WASM reference package
//      (fr32-sha2-256-trunc254-padded-binary-tree-multihash)
import type { CeilingName } from './page/main'
import '../../src/net/polyfills'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { bls12_381 } from '@noble/curves/bls12-381.js'
import { readdirSync } from 'node:fs'
import { blake2b } from '@noble/hashes/blake2.js'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import {
  createGenesis, produceHeader, idAddressBytes, blsPublicKey, validateHeader, validateHeaderRun, headerSigningBytes,
  MemoryBlockStore, createStateTree, setActor, newAccountActor, proveActor, verifyActorProof, secpAddressBytes, secpPublicKey,
  signMessage, parseFil, addressToString, TRANSFER_GAS_LIMIT, TRANSFER_GAS_FEE_CAP, TRANSFER_GAS_PREMIUM,
  type SealedHeader
} from '../../src/core'
import { randomBytes } from '@noble/hashes/utils.js'
import { startDevnet } from '../../src/node/devnet'
import * as RustPiece from 'fr32-sha2-256-trunc254-padded-binary-tree-multihash'
import {
  PieceHasher, nobleNodeHasher, zeroComm, pieceCidV1, deriveChallenges, encodePossessionProof, verifyPossession, type NodeHasher
} from '../../src/core'
import { nodeCryptoHasher } from '../../src/node/node-hasher'
import { loadPieceWasm } from '../helpers/wasm'
import { launchChromium } from '../helpers/chromium'
import { requireBuiltApp } from '../helpers/dist'
import { benchUploadNode, benchUploadBrowser } from './upload'
import { rawStreamSecs } from './raw-stream'
import { openBenchPage, tabStreamCeiling, type BenchPage } from './bench-page'
import { benchRetrievalNode, benchRetrievalBrowser, type RetrievalReference } from './retrieval'
import { benchFlood } from './flood'
import { benchEcHeaders, benchEcHeadersBrowser } from './ec-headers'
import { benchF3, benchF3Browser } from './f3'
import { benchF3Cold } from './f3-cold'
import { benchTabs } from './tabs'
import { benchTransports } from './transports'
import { benchRangeRead } from './range-read'
import { benchHttpGateway } from './http-gateway'
import { benchFullNodeSync } from './fullnode-sync'
import { benchProviderMemory } from './provider-memory'
import { profiling, startTrace, summarizeTrace } from './trace-profile'
import { countChromiumCpu, describeCpu } from './chromium-cpu'
import { watchStalls, describeStalls } from './long-tasks'
import { TEST_BEACON, testBeaconEntries } from '../helpers/test-beacon'

const root = fileURLToPath(new URL('../..', import.meta.url))
const HEADERS = Number(process.env.BENCH_HEADERS ?? 10_000)
const fmt = (n: number, digits = 1): string => n.toFixed(digits)

function benchVerifyNode (count: number): void {
  const key = bls12_381.longSignatures.keygen().secretKey
  const genesis = createGenesis({ beacon: TEST_BEACON, network: 'bench', producer: idAddressBytes(1000), producerKey: blsPublicKey(key), blockDelaySecs: 1 }, 1_800_000_000)
  const chain: SealedHeader[] = [genesis.header]
  for (let i = 0; i < count; i++) chain.push(produceHeader(chain[i]!, genesis, key, 1_800_000_001 + i, testBeaconEntries(chain[i]!, genesis)))
  const now = 1_900_000_000
  // warm both paths (noble builds its tables on first use)
  validateHeader(chain[1]!, chain[0]!, genesis, now)

  let t = performance.now()
  for (let i = 1; i <= count; i++) {
    const h = chain[i]!.header
    if (!bls12_381.longSignatures.verify(h.blockSig!.data, bls12_381.longSignatures.hash(headerSigningBytes(h)), genesis.state.producerKey)) throw new Error('reference verify failed')
  }
  const refPerSec = count / ((performance.now() - t) / 1000)
  t = performance.now()
  for (let i = 1; i <= count; i++) validateHeader(chain[i]!, chain[i - 1]!, genesis, now)
  const oursPerSec = count / ((performance.now() - t) / 1000)
  t = performance.now()
  for (let i = 1; i <= count; i += 128) validateHeaderRun(chain.slice(i, i + 128), chain[i - 1]!, genesis, now, randomBytes)
  const batchPerSec = count / ((performance.now() - t) / 1000)
  console.log(`header verification, Node, ${count} headers`)
  console.log(`  reference (bare noble BLS verify):      ${fmt(refPerSec)} headers/s`)
  console.log(`  ours, one by one (validateHeader):      ${fmt(oursPerSec)} headers/s  = ${fmt(oursPerSec / refPerSec, 2)}x reference`)
  console.log(`  ours, runs of 128 (validateHeaderRun):  ${fmt(batchPerSec)} headers/s  = ${fmt(batchPerSec / refPerSec, 2)}x reference`)
}

function benchStateProofs (): void {
  console.log('\nstate proofs (Filecoin HAMT, bitWidth 5), Node')
  for (const accounts of [1_000, 10_000, 100_000]) {
    const store = new MemoryBlockStore()
    let root = createStateTree(store, store.put(new Uint8Array([0x80])))
    const addrs: Uint8Array[] = []
    for (let i = 0; i < accounts; i++) {
      const a = Uint8Array.of(1, ...blake2b(Uint8Array.of(i & 255, (i >> 8) & 255, i >> 16), { dkLen: 20 }))
      addrs.push(a)
      root = setActor(store, root, a, newAccountActor(store, a, BigInt(i)))
    }
    const samples = 200
    const proofs = Array.from({ length: samples }, (_, i) => proveActor(store, root, addrs[(i * 7919) % accounts]!))
    const bytes = proofs.map(p => p.blocks.reduce((n, b) => n + b.length, 0))
    let t = performance.now()
    for (const p of proofs) verifyActorProof(root, p.address, p.blocks)
    const checkUs = (performance.now() - t) * 1000 / samples
    t = performance.now()
    for (const p of proofs) for (const b of p.blocks) blake2b(b, { dkLen: 32 })
    const hashUs = (performance.now() - t) * 1000 / samples
    const mean = bytes.reduce((a, b) => a + b, 0) / samples
    console.log(`  ${accounts.toLocaleString()} accounts: proof ${fmt(mean / 1024, 2)} KiB mean (max ${fmt(Math.max(...bytes) / 1024, 2)} KiB, ${proofs[0]!.blocks.length} blocks), check ${fmt(checkUs)} µs = ${fmt(checkUs / hashUs, 2)}x hashing its bytes (${fmt(hashUs)} µs)`)
  }
}

async function benchRoundTrip (): Promise<void> {
  const dataDir = path.join(root, '.coffer', 'bench-roundtrip')
  const devnet = await startDevnet({ dataDir, distDir: '/nonexistent', serveApp: false, rpcPort: 0, reset: true })
  try {
    const key = secp256k1.utils.randomSecretKey()
    const from = secpAddressBytes(secpPublicKey(key))
    await devnet.chain.waitMessage(await devnet.chain.faucet(from), AbortSignal.timeout(30_000))
    const call = async (method: string, params: unknown[]): Promise<unknown> => {
      const res = await fetch(devnet.rpcUrl!, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })
      const body = await res.json() as { result?: unknown, error?: { message: string } }
      if (body.error !== undefined) throw new Error(body.error.message)
      return body.result
    }
    const times: number[] = []
    for (let nonce = 0; nonce < 8; nonce++) {
      const sm = signMessage(key, { version: 0, to: from, from, nonce, value: parseFil('0.001'), gasLimit: TRANSFER_GAS_LIMIT, gasFeeCap: TRANSFER_GAS_FEE_CAP, gasPremium: TRANSFER_GAS_PREMIUM, method: 0, params: new Uint8Array(0) })
      const json = {
        Message: { Version: 0, To: addressToString(from), From: addressToString(from), Nonce: nonce, Value: sm.message.value.toString(), GasLimit: sm.message.gasLimit, GasFeeCap: sm.message.gasFeeCap.toString(), GasPremium: sm.message.gasPremium.toString(), Method: 0, Params: '' },
        Signature: { Type: 1, Data: Buffer.from(sm.signature.data).toString('base64') }
      }
      const t = performance.now()
      const cid = await call('Filecoin.MpoolPush', [json])
      await call('Filecoin.StateWaitMsg', [cid, 0, 100, false])
      times.push(performance.now() - t)
    }
    const blockMs = devnet.genesis.state.blockDelaySecs * 1000
    const mean = times.reduce((a, b) => a + b, 0) / times.length
    console.log(`\nmessage round trip on the devnet (JSON-RPC MpoolPush → StateWaitMsg receipt), ${times.length} transfers`)
    console.log(`  mean ${fmt(mean)} ms (min ${fmt(Math.min(...times))}, max ${fmt(Math.max(...times))}) = ${fmt(mean / blockMs, 2)}x the ${blockMs} ms block time (included in the next block, receipt in the one after)`)
  } finally {
    await devnet.stop()
  }
}

async function benchWorkerSignatures (page: import('playwright-core').Page, distDir: string): Promise<void> {
  const worker = readdirSync(path.join(distDir, 'assets')).find(f => /^light-client\.worker.*\.js$/.test(f))
  if (worker === undefined) { console.log('  (no light-client worker in dist/assets)'); return }
  type Figures = { count: number, secpPerSec: number, secpRefPerSec: number, blsPerSec: number, blsRefPerSec: number }
  const figures: Figures = await page.evaluate(async (url) => await new Promise<Figures>((resolve, reject) => {
    const w = new Worker(url, { type: 'module' })
    w.onmessage = (e: MessageEvent<{ type: string, ok?: boolean, value?: unknown, error?: unknown }>) => { if (e.data.type === 'reply') { w.terminate(); e.data.ok === true ? resolve(e.data.value as Figures) : reject(new Error(JSON.stringify(e.data.error))) } }
    w.postMessage({ type: 'call', id: 1, method: 'measureSignatures', params: { count: 200 } })
  }), `/assets/${worker}`)
  console.log(`  message signatures in the worker (${figures.count} each):`)
  console.log(`    secp256k1: ${fmt(figures.secpPerSec)}/s (recover + f1 compare) = ${fmt(figures.secpPerSec / figures.secpRefPerSec, 2)}x bare noble verify (${fmt(figures.secpRefPerSec)}/s)`)
  console.log(`    BLS:       ${fmt(figures.blsPerSec)}/s = ${fmt(figures.blsPerSec / figures.blsRefPerSec, 2)}x bare noble verify (${fmt(figures.blsRefPerSec)}/s)`)
}

async function benchWalletInBrowser (page: import('playwright-core').Page, url: string): Promise<void> {
  await page.goto(url)
  await page.click('[data-testid=tab-wallet]')
  await page.fill('[data-testid=new-passphrase]', 'bench pass phrase')
  await page.fill('[data-testid=new-passphrase2]', 'bench pass phrase')
  let t = Date.now()
  await page.click('[data-testid=create-wallet]')
  await page.waitForSelector('[data-testid=balance]', { timeout: 60_000 })
  const createMs = Date.now() - t
  await page.click('[data-testid=faucet]')
  await page.waitForSelector('[data-testid=balance][data-atto="100000000000000000000"]', { timeout: 60_000 })
  const title = await page.getAttribute('[data-testid=balance] .verified', 'title')
  await page.fill('[data-testid=send-to]', addressToString(secpAddressBytes(secpPublicKey(secp256k1.utils.randomSecretKey()))))
  await page.fill('[data-testid=send-amount]', '1')
  t = Date.now()
  await page.click('[data-testid=send]')
  await page.waitForSelector('[data-testid=history-row][data-state=included][data-kind=send]', { timeout: 60_000 })
  const sendMs = Date.now() - t
  console.log(`  wallet: create key (PBKDF2 600k + AES-GCM, then unlock) → first verified balance ${createMs} ms`)
  console.log(`  wallet: balance proof as shown: ${title}`)
  console.log(`  wallet: send (sign, gossip) → receipt verified against two headers: ${sendMs} ms`)
}

async function benchPieceInBrowser (page: import('playwright-core').Page, url: string): Promise<void> {
  const { rm } = await import('node:fs/promises')
  const os = await import('node:os')
  await page.goto(url)
  await page.click('[data-testid=tab-piece]')
  const cores = await page.evaluate(() => navigator.hardwareConcurrency)
  console.log(`  piece CIDs in the page's worker pool (${cores} workers, WASM SIMD), file chosen in the Piece tab:`)
  for (const mib of [64, 1024, 4096]) {
    const file = path.join(os.tmpdir(), `coffer-bench-${mib}.bin`)
    await writeBenchFile(file, mib)
    let peak = 0
    let sampling = true
    const sampler = (async () => {
      while (sampling) {
        const m = await page.evaluate(async () => {
          const p = performance as unknown as { measureUserAgentSpecificMemory?: () => Promise<{ bytes: number }> }
          return p.measureUserAgentSpecificMemory === undefined || !crossOriginIsolated ? null : (await p.measureUserAgentSpecificMemory()).bytes
        }).catch(() => null)
        if (m !== null) peak = Math.max(peak, m)
        await new Promise(resolve => setTimeout(resolve, 500))
      }
    })()
    const before = await page.textContent('[data-testid=piece-cid-v2]').catch(() => null)
    await page.setInputFiles('[data-testid=piece-file]', file)
    await page.waitForFunction((prev) => {
      const el = document.querySelector('[data-testid=piece-cid-v2]')
      return el !== null && el.textContent !== prev
    }, before, { timeout: 600_000, polling: 100 })
    sampling = false
    await sampler
    const rate = Number((await page.textContent('[data-testid=piece-rate]'))?.match(/([\d.]+) MiB\/s/)?.[1])
    const ref = referenceMiBps.get(mib)
    console.log(`    ${String(mib).padStart(4)} MiB: ${fmt(rate)} MiB/s${ref === undefined ? '' : ` = ${fmt(rate / ref, 2)}x the reference package (its Node figure above)`}; JS memory (page + workers) peak ${peak === 0 ? 'n/a' : `${fmt(peak / 2 ** 20)} MiB`}`)
    await rm(file, { force: true })
  }
}

/** The `browser` section's worker figure (single-producer headers/s), when it ran: ec-browser's reference. */
let singleProducerWorkerFigure: number | undefined

async function benchBrowser (): Promise<number | undefined> {
  const distDir = requireBuiltApp()
  const dataDir = path.join(root, '.coffer', `bench-${HEADERS}`)
  const t0 = performance.now()
  const init = { dataDir, distDir, httpPort: 0, rpcPort: 0, prefill: HEADERS, crossOriginIsolated: true }
  // a chain kept from an older Coffer (no state tree) is rebuilt once
  const devnet = await startDevnet(init).catch(async (err: Error) => {
    if (err.name !== 'OldDataDirError') throw err
    return await startDevnet({ ...init, reset: true })
  })
  console.log(`\ndevnet with ${devnet.head().header.height} headers ready in ${fmt((performance.now() - t0) / 1000)} s (pre-signing happens once, kept in ${path.relative(root, dataDir)})`)
  const target = devnet.head().header.height
  const browser = await launchChromium(['--enable-blink-features=ForceEagerMeasureMemory'])
  try {
    const page = await browser.context.newPage()
    await page.addInitScript(() => {
      // main-thread responsiveness while the worker verifies: how late a 16 ms timer fires at worst
      // (headless Chromium does not run animation frames for a page nobody looks at)
      const w = window as unknown as { __maxFrameGap: number, __frames: number }
      w.__maxFrameGap = 0; w.__frames = 0
      let last = performance.now()
      setInterval(() => { const now = performance.now(); w.__maxFrameGap = Math.max(w.__maxFrameGap, now - last - 16); w.__frames++; last = now }, 16)
    })
    const start = Date.now()
    await page.goto(devnet.url!)
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=verified-height]')?.textContent) > 0, null, { timeout: 600_000 })
    const firstHead = Date.now() - start
    let sawProgress = false
    const poll = setInterval(() => { void page.isVisible('[data-testid=sync-progress]').then(v => { sawProgress ||= v }).catch(() => {}) }, 250)
    await page.waitForFunction((n) => Number(document.querySelector('[data-testid=verified-height]')?.textContent) >= n, target, { timeout: 1_800_000, polling: 200 })
    clearInterval(poll)
    const coldSync = Date.now() - start
    const stats = await page.textContent('[data-testid=verify-stats]')
    const frames = await page.evaluate(() => { const w = window as unknown as { __maxFrameGap: number, __frames: number }; return { gap: w.__maxFrameGap, frames: w.__frames } })
    // measureUserAgentSpecificMemory attributes bytes to the page and to each worker; it needs a
    // cross-origin isolated page, which the bench's app server turns on
    const memory = await page.evaluate(async () => {
      const p = performance as unknown as { measureUserAgentSpecificMemory?: () => Promise<{ breakdown: Array<{ bytes: number, attribution: Array<{ url: string, scope: string }> }> }> }
      if (p.measureUserAgentSpecificMemory === undefined || !crossOriginIsolated) return null
      const m = await p.measureUserAgentSpecificMemory()
      let worker = 0; let page = 0
      for (const b of m.breakdown) {
        if (b.attribution.some(a => a.scope === 'DedicatedWorkerGlobalScope')) worker += b.bytes
        else if (b.attribution.some(a => a.scope === 'Window')) page += b.bytes
      }
      return { worker, page }
    })
    const heap = memory?.worker ?? null
    const pageHeap = memory?.page ?? null
    // the everyday case: an installed app reopened with its chain stored, a header or two behind
    const stored = Number(await page.textContent('[data-testid=verified-height]'))
    const reloadAt = Date.now()
    await page.reload()
    await page.waitForFunction((n) => Number(document.querySelector('[data-testid=verified-height]')?.textContent) > n, stored, { timeout: 60_000, polling: 20 })
    const warmFirstHead = Date.now() - reloadAt
    console.log(`PWA in Chromium (headless), cold sync of ${target} headers from genesis`)
    console.log(`  page load (new profile, ${target}-header backlog) → first verified head: ${firstHead} ms`)
    console.log(`  reload with chain stored → first newly verified head: ${warmFirstHead} ms`)
    console.log(`  cold sync to height ${target}:        ${fmt(coldSync / 1000)} s  = ${fmt(target / (coldSync / 1000))} headers/s end to end`)
    console.log(`  worker verification (UI figure):   ${stats?.replace(/\s+/g, ' ')}`)
    console.log(`  progress bar shown during sync:    ${sawProgress ? 'yes' : 'no'}`)
    console.log(`  main thread while syncing:         ${frames.frames} ticks of a 16 ms timer, worst lateness ${fmt(frames.gap)} ms`)
    console.log(`  memory after sync (JS, measured):  worker ${heap === null ? 'n/a' : `${fmt(heap / 2 ** 20)} MiB`}   (page: ${pageHeap === null ? 'n/a' : `${fmt(pageHeap / 2 ** 20)} MiB`})`)
    await benchWorkerSignatures(page, distDir)
    await benchWalletInBrowser(page, devnet.url!)
    await benchPieceInBrowser(page, devnet.url!)
    const figure = Number(/at (\d+) headers\/s/.exec(stats ?? '')?.[1] ?? NaN)
    return Number.isFinite(figure) ? figure : undefined
  } finally {
    await browser.close()
    await devnet.stop()
  }
}

/** `mib` MiB of a fixed pattern, written a MiB at a time (a 4 GiB Buffer is over Node's limit). */
async function writeBenchFile (file: string, mib: number): Promise<void> {
  const { open } = await import('node:fs/promises')
  const block = Buffer.alloc(1 << 20)
  for (let i = 0; i < block.length; i++) block[i] = (i * 2654435761) >>> 24
  const f = await open(file, 'w')
  try { for (let i = 0; i < mib; i++) await f.write(block) } finally { await f.close() }
}

/** The reference package's Node figure per input size, for the browser figures' ratios. */
const referenceMiBps = new Map<number, number>()

async function benchCommPNode (): Promise<void> {
  const wasm = await loadPieceWasm()
  const chunk = new Uint8Array(1 << 20).map((_, i) => (i * 2654435761) >>> 24)
  type Feed = (write: (c: Uint8Array) => void) => void
  const rate = (mib: number, fn: (feed: Feed) => void): number => {
    const t = performance.now()
    fn((write) => { for (let i = 0; i < mib; i++) write(chunk) })
    return mib / ((performance.now() - t) / 1000)
  }
  const reference = (mib: number): number => rate(mib, (feed) => {
    const h = RustPiece.create()
    feed((c) => h.write(c))
    const out = new Uint8Array(h.multihashByteLength())
    h.digestInto(out, 0, true)
    h.free()
  })
  const ours = (mib: number, hasher: NodeHasher): number => rate(mib, (feed) => {
    const h = new PieceHasher(hasher)
    feed((c) => h.write(c))
    h.digest()
  })
  console.log('\nCommP throughput, Node, one thread (streamed in 1 MiB chunks)')
  for (const mib of [64, 1024]) {
    const ref = reference(mib)
    referenceMiBps.set(mib, ref)
    console.log(`  ${mib} MiB: reference package (Rust→WASM) ${fmt(ref)} MiB/s`)
    const impls: Array<[string, NodeHasher]> = mib === 64
      ? [['ours, WASM SIMD ×4', wasm.simd], ['ours, WASM scalar', wasm.scalar], ['ours, node:crypto', nodeCryptoHasher], ['ours, @noble/hashes', nobleNodeHasher]]
      : [['ours, WASM SIMD ×4', wasm.simd]]
    for (const [name, hasher] of impls) {
      const r = ours(mib, hasher)
      console.log(`    ${name.padEnd(22)} ${fmt(r)} MiB/s = ${fmt(r / ref, 2)}x reference`)
    }
  }
}

/** CommP in headless Chromium: the reference package and ours, measured in the same page. */
async function benchCommPChromium (): Promise<void> {
  const { rm } = await import('node:fs/promises')
  const os = await import('node:os')
  const { page, close } = await openBenchPage()
  try {
    const cores = await page.evaluate(() => (window as unknown as { bench: BenchPage }).bench.cores)
    console.log(`\nCommP throughput in headless Chromium (${cores} cores), same page, ratios to the reference package`)
    for (const mib of [64, 1024]) {
      const ref = await page.evaluate((m) => (window as unknown as { bench: BenchPage }).bench.reference(m), mib)
      console.log(`  ${mib} MiB: reference package (Rust→WASM, page thread) ${fmt(ref)} MiB/s`)
      const file = path.join(os.tmpdir(), `coffer-bench-commp-${mib}.bin`)
      await writeBenchFile(file, mib)
      await page.setInputFiles('#file', file)
      for (const size of [1, cores]) {
        const r = await page.evaluate(async (s) => await (window as unknown as { bench: BenchPage }).bench.pool(s), size)
        console.log(`    ours, WASM pool of ${size} worker${size === 1 ? ' ' : 's'}   ${fmt(r.rate)} MiB/s = ${fmt(r.rate / ref, 2)}x reference`)
      }
      if (mib === 64) {
        const n = await page.evaluate((m) => (window as unknown as { bench: BenchPage }).bench.noble(m), mib)
        console.log(`    ours, @noble/hashes (page)  ${fmt(n)} MiB/s = ${fmt(n / ref, 2)}x reference`)
      }
      await rm(file, { force: true })
    }
  } finally {
    await close()
  }
}

/**
 * The tab's ceilings (issue 17, part 1), in one Chromium run on one file on disk: reading it in a worker three ways,
 * our WASM kernel on bytes in memory, noise's cipher (ours in WASM, @noble/ciphers), 4 MiB buffers between workers, and the reference package over the file read by
 * slices (the ratios' reference) — then our pool hashing the same file, against the goal of ≥ 0.9× the slower of the
 * file-read ceiling and the kernel × cores. BENCH_CEILING_MIB (512) sets the file's size.
 */
async function benchTabCeilings (mib = Number(process.env.BENCH_CEILING_MIB ?? 512)): Promise<void> {
  const { rm } = await import('node:fs/promises')
  const os = await import('node:os')
  const file = path.join(os.tmpdir(), `coffer-bench-ceilings-${mib}.bin`)
  await writeBenchFile(file, mib)
  const { page, outDir, close } = await openBenchPage()
  /**
   * Each line: where Chromium's CPU went (from /proc), and with BENCH_PROFILE=1 a trace (those
   * figures then include the sampling's cost), both printed after the table.
   */
  const observed: string[] = []
  /** Chromium's CPU seconds on each line, all its processes together. */
  const cpuSecs = new Map<string, number>()
  const watched = async <T>(name: string, run: () => Promise<T>): Promise<T> => {
    const cpu = countChromiumCpu()
    const end = profiling() ? await startTrace(page.context(), page, `tab-ceilings-${name}`) : null
    try { return await run() } finally {
      const used = cpu?.()
      if (used !== undefined) { observed.push(`${name}: ${describeCpu(used)}`); cpuSecs.set(name, used.totalSecs) }
      if (end !== null) {
        const saved = await end()
        observed.push(`${name}: profile ${saved}`, ...summarizeTrace(saved, outDir).map(l => `  ${l}`))
      }
    }
  }
  try {
    await page.setInputFiles('#file', file)
    const cores = await page.evaluate(() => (window as unknown as { bench: BenchPage }).bench.cores)
    const c = {} as Record<CeilingName, number>
    const streamMib = Math.min(mib, 256)
    for (const name of ['slice', 'stream', 'opfs', 'kernel', 'cipher-wasm', 'cipher-js', 'transfer', 'copy', 'shared-post', 'libp2p', 'libp2p-shared', 'libp2p-in', 'libp2p-shared-in', 'reference'] as const) {
      // a line that fails is said and left out (NaN), the others still measured
      const measure = async (): Promise<number> => name === 'libp2p' || name === 'libp2p-in' || name === 'libp2p-shared' || name === 'libp2p-shared-in'
        ? await tabStreamCeiling(page, name, streamMib)
        : await page.evaluate(async ([n, k]) => await (window as unknown as { bench: BenchPage }).bench.ceilingOf(n, k), [name, 256] as const)
      c[name] = await watched(name, measure)
        .catch((err: Error) => { console.log(`  ceiling ${name}: FAILED: ${err.message.split('\n')[0]}`); return NaN })
    }
    const nodeStream = streamMib / await rawStreamSecs(streamMib * 2 ** 20)
    const pools: Array<[number, number]> = []
    const poolStalls: string[] = []
    for (const size of [1, cores]) {
      // the pool's coordinator runs on the page's main thread, as the app's Piece view runs it
      const stalls = await watchStalls(page)
      pools.push([size, (await watched(`pool-${size}`, async () => await page.evaluate(async (s) => await (window as unknown as { bench: BenchPage }).bench.pool(s), size))).rate])
      poolStalls.push(`pool of ${size}: ${describeStalls(await stalls())}`)
    }
    const ref = c.reference
    const line = (what: string, v: number): string => `  ${what.padEnd(68)} ${fmt(v).padStart(7)} MiB/s = ${fmt(v / ref, 2)}x reference`
    console.log(`\nTab ceilings in headless Chromium (${cores} cores, ${os.cpus()[0]?.model ?? 'unknown CPU'}), a ${mib} MiB file on disk, each in a worker of its own:`)
    console.log(line('reference package (Rust→WASM), the file read by slices', ref))
    console.log(line('reading the file: slice().arrayBuffer(), 4 MiB at a time', c.slice))
    console.log(line('reading the file: stream()', c.stream))
    console.log(line('reading the file from OPFS: a sync access handle, 4 MiB reads', c.opfs))
    console.log(line('our WASM kernel on 4 MiB in memory (256 MiB hashed)', c.kernel))
    // (against the JavaScript cipher @libp2p/noise would use in a browser, not against the reference)
    console.log(`  ${'noise\'s ChaCha20-Poly1305, 64 KiB messages (256 MiB sealed): our WASM'.padEnd(68)} ${fmt(c['cipher-wasm']).padStart(7)} MiB/s = ${fmt(c['cipher-wasm'] / c['cipher-js'], 2)}x @noble/ciphers (${fmt(c['cipher-js'])} MiB/s)`)
    console.log(line('4 MiB buffers from one worker to another, transferred', c.transfer))
    console.log(line('4 MiB buffers from one worker to another, copied', c.copy))
    // (the bench page is always served cross-origin isolated, as the app benches serve the app by default: Chromium
    // then copies what a SharedWorker moves to its page; see memory-sampler.ts's benchIsolated)
    console.log(line('1 MiB buffers from a SharedWorker to the page, moved (copied: isolated)', c['shared-post']))
    console.log(line(`our libp2p stream, worker → Node sink over WebSockets (${streamMib} MiB)`, c.libp2p))
    console.log(line(`  the same from a SharedWorker (where the app's node runs)`, c['libp2p-shared']))
    console.log(line(`our libp2p stream, Node source → worker over WebSockets (${streamMib} MiB)`, c['libp2p-in']))
    console.log(line(`  the same into a SharedWorker`, c['libp2p-shared-in']))
    console.log(line('  the same stream, Node → Node (this process)', nodeStream))
    const ceiling = Math.min(c.slice, c.kernel * cores)
    for (const [size, rate] of pools) console.log(line(`our pool of ${size} worker${size === 1 ? '' : 's'} hashing the file`, rate) + (size === cores ? `; ${fmt(rate / ceiling, 2)}x the slower of the file read and the kernel × ${cores} (goal ≥ 0.9)` : ''))
    // The ceiling above counts the file's read as free, and on few cores it is not: the browser's own threads spend
    // CPU on every MiB read, on the cores the hashing workers need. The CPU each line took per MiB (Chromium's threads
    // from /proc, all processes) gives what the cores can do when every MiB is both read and hashed.
    const perMiB = (name: string, mibDone: number): number => (cpuSecs.get(name) ?? NaN) / mibDone
    for (const how of ['slice', 'stream'] as const) {
      const bound = cores / (perMiB(how, mib) + perMiB('kernel', 256))
      if (!Number.isFinite(bound)) continue
      const pool = pools.find(([size]) => size === cores)?.[1] ?? NaN
      console.log(line(`the file read by ${how === 'slice' ? 'slices' : 'stream()'} and hashed, as ${cores} cores allow (CPU per MiB: read ${fmt(perMiB(how, mib) * 1000, 1)} ms, kernel ${fmt(perMiB('kernel', 256) * 1000, 1)} ms)`, bound) + `; our pool of ${cores}: ${fmt(pool / bound, 2)}x this`)
    }
    console.log(`  the page's main thread while the pool hashed: ${poolStalls.join('; ')}`)
    if (observed.length > 0) {
      console.log(`  where the time went${profiling() ? ' (BENCH_PROFILE=1: traced lines include the sampling\'s cost; open a profile in DevTools\' Performance panel; ms by source per thread)' : ''}:`)
      for (const l of observed) console.log(`    ${l}`)
    }
  } finally {
    await close()
    await rm(file, { force: true })
  }
}

/** A 5-challenge proof on a 32 GiB piece (all zeros, so the proof is known without hashing 32 GiB). */
async function benchPossession (): Promise<void> {
  const wasm = await loadPieceWasm()
  const height = 30
  const set = { pieces: [{ pieceCid: pieceCidV1(zeroComm(height)), paddedBytes: 32 * 2 ** height }] }
  const seed = new Uint8Array(32).fill(9)
  const path = Array.from({ length: height }, (_, h) => zeroComm(h))
  const proof = encodePossessionProof(deriveChallenges(seed, set, 5).map(c => ({ ...c, value: new Uint8Array(32), path })))
  const time = (check?: Parameters<typeof verifyPossession>[4]): number => {
    verifyPossession(set, seed, 5, proof, check)
    const runs = 300
    const t = performance.now()
    for (let i = 0; i < runs; i++) verifyPossession(set, seed, 5, proof, check)
    return (performance.now() - t) / runs
  }
  const ts = time()
  const w = time(wasm.verifyMerklePath)
  console.log(`\nproof of possession, 5 challenges on a 32 GiB piece (${proof.length} bytes of proof), Node`)
  console.log(`  TypeScript verifier (@noble/hashes): ${fmt(ts * 1000)} µs per proof, ${fmt(ts * 1000 / 5)} µs per challenge`)
  console.log(`  WASM verifier:                       ${fmt(w * 1000)} µs per proof, ${fmt(w * 1000 / 5)} µs per challenge = ${fmt(ts / w, 2)}x faster`)
}

// BENCH_ONLY=commp,state (names below) runs a subset; all run by default. A section that fails is reported
// as a FAILED line and the next one runs: a bench reports a failure, it does not stop or hang on it.
const only = process.env.BENCH_ONLY?.split(',')
const failed: string[] = []
async function section (name: string, run: () => unknown): Promise<void> {
  if (only !== undefined && !only.includes(name)) return
  try {
    await run()
  } catch (err) {
    failed.push(name)
    console.log(`\n${name}: FAILED: ${(err as Error).name}: ${(err as Error).message}`)
  }
}
await section('headers', () => { benchVerifyNode(Number(process.env.BENCH_VERIFY ?? 200)) })
await section('commp', benchCommPNode)
await section('commp-browser', benchCommPChromium)
await section('tab-ceilings', benchTabCeilings)
await section('pdp', benchPossession)
await section('state', benchStateProofs)
await section('roundtrip', benchRoundTrip)
await section('browser', async () => { singleProducerWorkerFigure = await benchBrowser() })
await section('upload', async () => { await benchUploadNode() })
await section('upload-browser', async () => { await benchUploadBrowser() })
// the Node-side retrieval's figures, when it ran: the Chromium section's same-run reference
let retrievalReference: RetrievalReference | undefined
await section('retrieval', async () => { retrievalReference = await benchRetrievalNode() })
await section('retrieval-browser', async () => { await benchRetrievalBrowser(undefined, retrievalReference) })
await section('range-read', async () => { await benchRangeRead() })
await section('gateway', async () => { await benchHttpGateway() })
await section('flood', benchFlood)
await section('fullnode-sync', async () => { await benchFullNodeSync(root) })
await section('provider-memory', async () => { await benchProviderMemory() })
await section('ec-headers', () => { benchEcHeaders() })
await section('ec-browser', async () => { await benchEcHeadersBrowser(singleProducerWorkerFigure) })
await section('f3', async () => { await benchF3() })
await section('f3-browser', async () => { await benchF3Browser() })
await section('f3-cold', async () => { await benchF3Cold() })
await section('tabs', async () => { await benchTabs() })
await section('transports', async () => { await benchTransports() })
if (failed.length > 0) console.log(`\nsections that failed: ${failed.join(', ')}`)
process.exit(failed.length > 0 ? 1 : 0)
