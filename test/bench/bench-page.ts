// The bench's own page (test/bench/page, built here, never shipped) in headless Chromium, cross-origin isolated:
// what the tab can do with nothing of the app in the way (page/main.ts, page/ceilings.worker.ts). Sections that
// measure the app itself take their same-run ceilings from here.
import path from 'node:path'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { mkdtemp, rm } from 'node:fs/promises'
import type { Page } from 'playwright-core'
import { startAppServer } from '../../src/node/app-server'
import { launchChromium } from '../helpers/chromium'
import { profiling } from './trace-profile'
import { countChromiumCpu, cpuMsPerMiB, type ChromiumCpu } from './chromium-cpu'
import { startSink, startSource, SINK_PROTOCOL, SOURCE_PROTOCOL } from './raw-stream'
import type { CeilingName } from './page/main'

const root = fileURLToPath(new URL('../..', import.meta.url))

export type BenchPage = {
  cores: number
  reference: (m: number) => number
  noble: (m: number) => number
  pool: (size: number) => Promise<{ rate: number, v2: string }>
  ceilingOf: (name: CeilingName, kernelMib: number, peer?: { addr: string, protocol: string, mib: number }) => Promise<number>
}

/** The page's `bench` object, called in the page. */
export const bench = (): BenchPage => (window as unknown as { bench: BenchPage }).bench

export async function openBenchPage (): Promise<{ page: Page, outDir: string, close: () => Promise<void> }> {
  const { build } = await import('vite')
  const outDir = await mkdtemp(path.join(os.tmpdir(), 'coffer-bench-page-'))
  await build({ root: path.join(root, 'test/bench/page'), configFile: false, logLevel: 'warn', build: { outDir, target: 'es2022', emptyOutDir: true, sourcemap: profiling() }, worker: { format: 'es' } })
  const server = await startAppServer({ distDir: outDir, host: '127.0.0.1', port: 0, bootstrap: () => { throw new Error('no bootstrap here') }, crossOriginIsolated: true })
  const browser = await launchChromium(['--enable-blink-features=ForceEagerMeasureMemory'])
  const close = async (): Promise<void> => {
    await browser.close()
    await server.close()
    await rm(outDir, { recursive: true, force: true })
  }
  try {
    const page = await browser.context.newPage()
    page.on('crash', () => { console.log('  (the bench page crashed)') })
    // what went wrong in the page or its workers is said (a request that failed, by its address: not the icon it has none of)
    page.on('console', (m) => { if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) console.log(`  (the bench page: ${m.text()})`) })
    page.on('response', (r) => { if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) console.log(`  (the bench page: ${r.status()} for ${r.url()})`) })
    page.on('worker', (w) => { w.on('console', (m) => { if (m.type() === 'error') console.log(`  (a bench worker: ${m.text()})`) }) })
    await page.goto(server.url)
    await page.waitForFunction(() => document.getElementById('state')?.textContent === 'ready')
    return { page, outDir, close }
  } catch (err) { await close(); throw err }
}

/**
 * Our libp2p stream between a worker of the bench page and a Node node on loopback WebSockets, bytes discarded, in
 * MiB/s: out (worker → Node sink, `libp2p`) or in (Node source → worker, `libp2p-in`).
 */
export async function tabStreamCeiling (page: Page, way: 'libp2p' | 'libp2p-in' | 'libp2p-shared' | 'libp2p-shared-in', mib: number): Promise<number> {
  const out = way === 'libp2p' || way === 'libp2p-shared'
  const peer = out ? await startSink(mib * 2 ** 20) : await startSource(mib * 2 ** 20)
  try {
    const to = { addr: peer.addr, protocol: out ? SINK_PROTOCOL : SOURCE_PROTOCOL, mib }
    // a stream that stalls is reported, not waited on for ever (ten minutes is far past any machine's 256 MiB)
    let timer: NodeJS.Timeout | undefined
    const stalled = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`${way}: no end in 10 minutes`)) }, 600_000) })
    try {
      return await Promise.race([page.evaluate(async ([n, s]) => await (window as unknown as { bench: BenchPage }).bench.ceilingOf(n, 0, s), [way, to] as const), stalled])
    } finally { clearTimeout(timer) }
  } finally { await peer.stop() }
}

/** A raw stream's rate, and the CPU it cost per MiB moved: Chromium's threads and this process's (the Node end) together. */
export interface StreamCeiling { mibPerSec: number, cpuMsPerMiB: number | null, cpu: ChromiumCpu | null, mib: number }

/**
 * What issue 17's goal leaves for an upload's or download's own work: at 0.7x a SharedWorker's raw stream (where the
 * app's node moves the bytes) the machine's cores give so much CPU per MiB, the raw stream alone spends its part, and
 * the rest is what everything else (hashing, packing, verifying, paying, writing, the provider's side, the full node
 * going on) could cost with the goal still in reach, beside what it cost (`spentMsPerMiB`, the same processes', over
 * the window `spentOver` names).
 */
export function goalBudget (shared: StreamCeiling, spentMsPerMiB: number, spentOver: string, cores: number): string {
  const ms = (n: number): string => n.toFixed(0)
  const goal = 0.7 * shared.mibPerSec
  const budget = cores * 1000 / goal
  const at = `at the goal (0.7x the SharedWorker's raw stream: ${goal.toFixed(1)} MiB/s) ${cores} cores give ${ms(budget)} ms of CPU per MiB`
  if (shared.cpuMsPerMiB === null) return `${at}; this took ${ms(spentMsPerMiB)} ms (${spentOver})`
  const left = budget - shared.cpuMsPerMiB
  return `${at}; that raw stream alone takes ${ms(shared.cpuMsPerMiB)} ms (Chromium and the Node end), which leaves ${left > 0 ? `${ms(left)} ms` : 'nothing'} for the rest: this took ${ms(spentMsPerMiB)} ms (${spentOver}), ${ms(spentMsPerMiB - shared.cpuMsPerMiB)} beyond the raw stream's`
}

/** Both ways of the tab's raw stream, from a dedicated worker and from a SharedWorker, measured in a bench page of their own (opened and closed here). */
export async function tabStreamCeilings (mib: number): Promise<{ out: StreamCeiling, in: StreamCeiling, sharedOut: StreamCeiling | null, sharedIn: StreamCeiling | null }> {
  const { page, close } = await openBenchPage()
  const measured = async (way: 'libp2p' | 'libp2p-in' | 'libp2p-shared' | 'libp2p-shared-in'): Promise<StreamCeiling> => {
    const cpu = countChromiumCpu()
    const mibPerSec = await tabStreamCeiling(page, way, mib)
    const used = cpu?.()
    return { mibPerSec, cpuMsPerMiB: used === undefined ? null : cpuMsPerMiB(used, mib), cpu: used ?? null, mib }
  }
  // a SharedWorker's line that fails is said and left out, the dedicated worker's still given
  const orNull = async (p: Promise<StreamCeiling>): Promise<StreamCeiling | null> => await p.catch((err: Error) => { console.log(`  the raw stream of a SharedWorker: FAILED: ${err.message}`); return null })
  try {
    return { out: await measured('libp2p'), in: await measured('libp2p-in'), sharedOut: await orNull(measured('libp2p-shared')), sharedIn: await orNull(measured('libp2p-shared-in')) }
  } finally { await close() }
}
