// The tab's whole cold sync by F3 certificates (issue 14), end to end in real Chromium: a fresh profile opens the
// app against a devnet whose three providers certified its history, and the figures are the user's — page opened →
// a verified head at or above the finalized tipset with the Finalized card shown, the bytes the browser received
// over its libp2p connections for it, and a reload → the same verified head and card again.
//
// Which chain: a 100,000-epoch chain at the devnet's default schedule (an instance per 100 epochs) carries 1,000
// certificates; making 100,000 real Expected Consensus epochs takes hours here (~0.3 s an epoch), so this devnet
// certifies every epoch (`instanceEpochs: 1`) of a BENCH_F3_COLD_EPOCHS (1,000) epoch chain: the same number of
// certificates, of the same size, under the same rules. What else a cold sync fetches does not grow with the chain's
// length: the power table proven from genesis state and the finalized tipset; once its head is shown, the 900-tipset
// lookback below it by hash link and the headers after it, each checked by Expected Consensus (the bytes are printed
// at both points). The headers before the lookback are never fetched (the Finalized card says so, and this bench
// checks it).
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { execFileSync } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'
import { startDevnet } from '../../src/node/devnet'
import { MAX_PROVING_PERIOD } from '../../src/core'
import { launchChromium } from '../helpers/chromium'
import { requireBuiltApp } from '../helpers/dist'
import { profiling, startTrace, summarizeTrace } from './trace-profile'

const fmt = (n: number, digits = 1): string => n.toFixed(digits)

/** Bytes Chromium's processes received on their open TCP connections to `ports` (ss(8): Linux only). */
function chromiumBytesFrom (ports: ReadonlySet<number>): number {
  const out = execFileSync('ss', ['-tinpH', 'state', 'established'], { encoding: 'utf8' })
  const lines = out.split('\n')
  let total = 0
  for (let i = 0; i < lines.length - 1; i++) {
    const line = lines[i]!
    if (!/users:\(\("chrom/.test(line)) continue
    const peer = /^\S+\s+\S+\s+\S+\s+\S+:(\d+)/.exec(line.trim())
    if (peer === null || !ports.has(Number(peer[1]))) continue
    total += Number(/bytes_received:(\d+)/.exec(lines[i + 1]!)?.[1] ?? 0)
  }
  return total
}

/**
 * CPU seconds the devnet has used: this process (its node and providers run here) and its child processes but
 * Chromium's (Linux /proc; the browser is Playwright's child). Clock ticks are 1/100 s on Linux.
 */
function devnetCpuSecs (): number {
  const own = process.cpuUsage()
  // every process's parent and CPU ticks (user, system, and its waited-for children's), to walk down from this one
  const procs = new Map<number, { ppid: number, ticks: number, chromium: boolean }>()
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8')
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      const chromium = /chrom/.test(readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0')[0] ?? '')
      procs.set(Number(d), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]), chromium })
    } catch { continue } // (gone meanwhile)
  }
  let ticks = 0
  const visit = (pid: number): void => {
    for (const [kid, p] of procs) {
      if (p.ppid !== pid || p.chromium) continue
      ticks += p.ticks
      visit(kid)
    }
  }
  visit(process.pid)
  return (own.user + own.system) / 1e6 + ticks / 100
}

export async function benchF3Cold (epochs = Number(process.env.BENCH_F3_COLD_EPOCHS ?? 1000)): Promise<void> {
  const distDir = requireBuiltApp()
  const dataDir = await mkdtemp(path.join(tmpdir(), 'coffer-bench-f3-cold-'))
  const cleanups: Array<() => Promise<void>> = [async () => { await rm(dataDir, { recursive: true, force: true }) }]
  try {
    const t0 = performance.now()
    const d = await startDevnet({ dataDir, distDir, httpPort: 0, rpcPort: null, providers: 3, f3: { instanceEpochs: 1, finalityDepth: 10 }, prefill: epochs, provingPeriod: MAX_PROVING_PERIOD })
    cleanups.push(d.stop)
    const prefilledS = (performance.now() - t0) / 1000
    // certified as the providers catch up with the prefilled chain: waited for while instances keep coming
    let last = -1
    let lastAt = performance.now()
    while ((d.f3!.state().finalized?.epoch ?? 0) < epochs) {
      const instance = d.f3!.state().nextInstance
      if (instance > last) { last = instance; lastAt = performance.now() }
      if (performance.now() - lastAt > 120_000) throw new Error(`no certificate for 2 minutes (instance ${last}, finalized ${d.f3!.state().finalized?.epoch ?? 'none'} of ${epochs})`)
      await new Promise(resolve => setTimeout(resolve, 500))
    }
    const certified = d.f3!.state()
    console.log(`\nF3 cold sync in Chromium, end to end: ${epochs} epochs prefilled in ${fmt(prefilledS)} s, certified to instance ${certified.nextInstance - 1} (epoch ${certified.finalized?.epoch}) in ${fmt((performance.now() - t0) / 1000 - prefilledS)} s more`)
    // A chain that has run 100,000 epochs is not one that certified its whole history in the last minute: its nodes
    // are opened on in their steady state (a block and, here, a certificate a second), so the bench waits for the
    // devnet to settle from catching up (under half a core over 2 s, at most a minute) and says what it used during
    // the sync, on a machine whose cores the tab shares with it.
    const settleFrom = performance.now()
    let settled = Infinity
    for (let last = devnetCpuSecs(); performance.now() - settleFrom < 60_000;) {
      await new Promise(resolve => setTimeout(resolve, 2000))
      const now = devnetCpuSecs()
      settled = (now - last) / 2
      last = now
      if (settled < 0.5) break
    }
    console.log(`  the devnet settled to ${fmt(settled * 100, 0)}% of a core (over 2 s) ${fmt((performance.now() - settleFrom) / 1000)} s after the last certificate`)

    const appPort = Number(new URL(d.url!).port)
    const browser = await launchChromium()
    cleanups.push(browser.close)
    const page = await browser.context.newPage()
    const errors: string[] = []
    page.on('pageerror', err => errors.push(err.message))
    const num = async (id: string): Promise<number> => Number(await page.textContent(`[data-testid=${id}]`))
    // BENCH_PROFILE=1: the cold sync traced (the figures then include the sampling's cost)
    const endTrace = profiling() ? await startTrace(browser.context, page, 'f3-cold') : null
    const opened = performance.now()
    const cpuAtOpen = devnetCpuSecs()
    await page.goto(`${d.url!}#chain`)
    const finalizedTarget = certified.finalized!.epoch
    // the way there, as the user sees it: the Chain view up, a node connected, the certificates checked (the card
    // names the instance), then the verified head at or above the finalized tipset (the jump and the blocks after it)
    const steps: string[] = []
    const step = async (name: string, fn: string, arg?: unknown): Promise<void> => {
      await page.waitForFunction(fn, arg, { timeout: 600_000, polling: 20 })
      steps.push(`${name} ${fmt((performance.now() - opened) / 1000, 2)} s`)
    }
    await step('Chain view', "document.querySelector('[data-testid=verified-height]') !== null")
    await step('a node connected', "document.querySelector('[data-testid=peer]') !== null")
    await step(`certificates to instance ${certified.nextInstance - 1} checked`, `Number(document.querySelector('[data-testid=finality-instance]')?.textContent ?? -1) >= ${certified.nextInstance - 1}`)
    await page.waitForFunction((n) => Number(document.querySelector('[data-testid=finalized-height]')?.textContent) >= n &&
      Number(document.querySelector('[data-testid=verified-height]')?.textContent) >= Number(document.querySelector('[data-testid=finalized-height]')?.textContent),
    finalizedTarget, { timeout: 600_000, polling: 50 })
    const coldMs = performance.now() - opened
    const devnetShare = (devnetCpuSecs() - cpuAtOpen) / (coldMs / 1000)
    if (endTrace !== null) {
      const file = await endTrace()
      console.log(`  profile (BENCH_PROFILE=1; the figures below include its cost): ${file}, open it in DevTools' Performance panel; by thread, ms by source:`)
      for (const line of summarizeTrace(file, distDir)) console.log(`    ${line}`)
    }
    steps.push(`verified head at or above epoch ${finalizedTarget} ${fmt(coldMs / 1000, 2)} s`)
    // every TCP peer of the browser except the app's HTTP server: the devnet's node and the providers' libp2p
    const peerPorts = new Set<number>()
    for (const line of execFileSync('ss', ['-tnpH', 'state', 'established'], { encoding: 'utf8' }).split('\n')) {
      const m = /^\S+\s+\S+\s+\S+\s+\S+:(\d+).*users:\(\("chrom/.exec(line.trim())
      if (m !== null && Number(m[1]) !== appPort) peerPorts.add(Number(m[1]))
    }
    const bytes = chromiumBytesFrom(peerPorts)
    const text = async (id: string): Promise<string> => (await (await page.$(`[data-testid=${id}]`))?.textContent())?.replace(/\s+/g, ' ') ?? `(no ${id})`
    // what the tab itself counted (payloads, not TCP): the rest of the bytes is hello, gossip, state proofs, framing
    const payloads = await text('finality-received')
    // the lookback run below the finalized tipset is fetched and stored after its head is shown (finality-service.ts),
    // and then the tipsets after it are checked by Expected Consensus (their lookback states read as proofs): the
    // bytes once the run is stored are printed too
    await page.waitForFunction(() => (document.querySelector('[data-testid=verify-stats]')?.getAttribute('data-startup') ?? '').includes('jumped to the finalized tipset'), undefined, { timeout: 600_000, polling: 20 })
    const runMs = performance.now() - opened
    steps.push(`the lookback below it stored ${fmt(runMs / 1000, 2)} s`)
    const bytesWithRun = chromiumBytesFrom(peerPorts)
    const payloadsWithRun = await text('finality-received')
    const verified = await text('finality-verified')
    const jump = await text('finality-jump')
    const lowestEl = await page.$('[data-testid=lowest-height]')
    const lowest = lowestEl === null ? 0 : Number(await lowestEl.textContent())
    console.log(`  page opened → verified head ≥ finalized epoch ${finalizedTarget}, Finalized card shown: ${fmt(coldMs / 1000, 2)} s (goal ≤ 5 s; page and worker load included; the devnet meanwhile used ${fmt(devnetShare * 100, 0)}% of a core, serving the tab and making its chain)`)
    console.log(`  on the way (since the page was opened): ${steps.join(' · ')}`)
    console.log(`  received over libp2p to the verified head (${peerPorts.size} connection(s), TCP payload: WebSocket, noise and yamux framing included): ${fmt(bytes / 1024)} KiB (goal ≤ 2 MB); of it, as the tab counted: ${payloads}`)
    console.log(`  received once the lookback below it was stored (${fmt(runMs / 1000, 2)} s; the tipsets after the finalized one checked meanwhile, with their state proofs): ${fmt(bytesWithRun / 1024)} KiB; as the tab counted: ${payloadsWithRun}`)
    console.log(`  ${verified}; ${jump}`)
    if (!(lowest > 0)) console.log(`  NOTE: the tab holds headers from ${lowest}: the jump did not leave the early chain unfetched`)

    // the node's own record of where its start went (Chain view footnote's data-startup: starting-status.ts), put on
    // the page's clock beside the page's own marks (use-light-client.ts)
    const startupOf = async (): Promise<string> => {
      const marks = JSON.parse(await page.getAttribute('[data-testid=verify-stats]', 'data-startup') ?? '[]') as Array<{ phase: string, atMs: number }>
      const workerOrigin = Number(await page.getAttribute('[data-testid=verify-stats]', 'data-startup-origin'))
      const page_ = await page.evaluate(() => ({ origin: performance.timeOrigin, marks: performance.getEntriesByType('mark').filter(m => m.name.startsWith('coffer: ')).map(m => ({ phase: `page: ${m.name.slice(8)}`, atMs: m.startTime })) }))
      const shift = Number.isFinite(workerOrigin) ? workerOrigin - page_.origin : NaN
      return [...page_.marks, ...marks.map(m => ({ phase: m.phase, atMs: m.atMs + shift }))]
        .sort((a, b) => a.atMs - b.atMs).map(m => `${m.phase} ${fmt(m.atMs, 0)}`).join(' · ')
    }
    console.log(`  the start, ms since the page's navigation began (the node's marks moved onto the page's clock): ${await startupOf()}`)
    const headBefore = await num('verified-height')
    const reloadAt = performance.now()
    // what the user waits for is the head on screen, not the page's load event (which Playwright's reload awaits by
    // default, and which came after the head was shown): the page's own mark says when (ChainView's 'head shown')
    await page.reload({ waitUntil: 'commit' })
    await page.waitForFunction((h) => Number(document.querySelector('[data-testid=verified-height]')?.textContent) >= h && document.querySelector('[data-testid=finality-instance]') !== null, headBefore, { timeout: 60_000, polling: 20 })
    const reloadMs = performance.now() - reloadAt
    await page.waitForLoadState('load', { timeout: 60_000 }).catch(() => {})
    const nav = await page.evaluate(() => {
      const n = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined
      const shown = performance.getEntriesByName('coffer: head shown')[0] as PerformanceMark | undefined
      return { dcl: n?.domContentLoadedEventEnd ?? NaN, load: n?.loadEventEnd ?? NaN, shownAt: shown?.startTime ?? NaN, shownHeight: (shown?.detail as { height?: number } | null)?.height ?? NaN }
    })
    console.log(`  reload → verified head ${headBefore} or more and the Finalized card again: shown ${fmt(nav.shownAt, 0)} ms after the reload's navigation began (height ${nav.shownHeight}; goal ≤ 0.5 s); seen by the bench ${fmt(reloadMs, 0)} ms after it called reload; the page's DOMContentLoaded at ${fmt(nav.dcl, 0)} ms, load at ${fmt(nav.load, 0)} ms`)
    await page.waitForFunction(() => document.querySelector('[data-testid=verify-stats]')?.getAttribute('data-startup')?.includes('"running"') === true, undefined, { timeout: 60_000 }).catch(() => {})
    console.log(`  the reload's start, ms since its navigation began: ${await startupOf()}`)
    if (errors.length > 0) console.log(`  page errors: ${errors.join('; ')}`)
  } finally {
    for (const fn of cleanups.reverse()) await fn().catch(() => {})
  }
}
