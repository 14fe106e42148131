// `npm run bench`: measurements, printed (never asserted). Each figure that has a reference is printed
// as a ratio against that reference measured in the same run.
//   1. header verification in Node: our validateHeader vs a bare @noble/curves BLS verify of the same bytes
//   2. the PWA in Chromium against a devnet pre-filled with BENCH_HEADERS (default 10,000) headers:
//      page load → first verified head, cold sync time, headers/s in the worker, UI frame gaps while the
//      backlog verifies, worker JS heap after the sync.
import '../../src/net/polyfills'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { bls12_381 } from '@noble/curves/bls12-381.js'
import {
  createGenesis, produceHeader, idAddressBytes, blsPublicKey, validateHeader, validateHeaderRun, headerSigningBytes,
  type SealedHeader
} from '../../src/core'
import { randomBytes } from '@noble/hashes/utils.js'
import { startDevnet } from '../../src/node/devnet'
import { launchChromium } from '../helpers/chromium'
import { requireBuiltApp } from '../helpers/dist'

const root = fileURLToPath(new URL('../..', import.meta.url))
const HEADERS = Number(process.env.BENCH_HEADERS ?? 10_000)
const fmt = (n: number, digits = 1): string => n.toFixed(digits)

function benchVerifyNode (count: number): void {
  const key = bls12_381.longSignatures.keygen().secretKey
  const genesis = createGenesis({ network: 'bench', producer: idAddressBytes(1000), producerKey: blsPublicKey(key), blockDelaySecs: 1 }, 1_800_000_000)
  const chain: SealedHeader[] = [genesis.header]
  for (let i = 0; i < count; i++) chain.push(produceHeader(chain[i]!, genesis, key, 1_800_000_001 + i))
  const now = 1_900_000_000
  // warm both paths (noble builds its tables on first use)
  validateHeader(chain[1]!, chain[0]!, genesis.state, now)

  let t = performance.now()
  for (let i = 1; i <= count; i++) {
    const h = chain[i]!.header
    if (!bls12_381.longSignatures.verify(h.blockSig!.data, bls12_381.longSignatures.hash(headerSigningBytes(h)), genesis.state.producerKey)) throw new Error('reference verify failed')
  }
  const refPerSec = count / ((performance.now() - t) / 1000)
  t = performance.now()
  for (let i = 1; i <= count; i++) validateHeader(chain[i]!, chain[i - 1]!, genesis.state, now)
  const oursPerSec = count / ((performance.now() - t) / 1000)
  t = performance.now()
  for (let i = 1; i <= count; i += 128) validateHeaderRun(chain.slice(i, i + 128), chain[i - 1]!, genesis.state, now, randomBytes)
  const batchPerSec = count / ((performance.now() - t) / 1000)
  console.log(`header verification, Node, ${count} headers`)
  console.log(`  reference (bare noble BLS verify):      ${fmt(refPerSec)} headers/s`)
  console.log(`  ours, one by one (validateHeader):      ${fmt(oursPerSec)} headers/s  = ${fmt(oursPerSec / refPerSec, 2)}x reference`)
  console.log(`  ours, runs of 128 (validateHeaderRun):  ${fmt(batchPerSec)} headers/s  = ${fmt(batchPerSec / refPerSec, 2)}x reference`)
}

async function benchBrowser (): Promise<void> {
  const distDir = requireBuiltApp()
  const dataDir = path.join(root, '.coffer', `bench-${HEADERS}`)
  const t0 = performance.now()
  const devnet = await startDevnet({ dataDir, distDir, httpPort: 0, prefill: HEADERS, crossOriginIsolated: true })
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
  } finally {
    await browser.close()
    await devnet.stop()
  }
}

benchVerifyNode(Number(process.env.BENCH_VERIFY ?? 200))
await benchBrowser()
process.exit(0)
