// The node's one-shot libp2p protocols (hello, chain exchange, state) attacked from outside by real
// peers: a flood of 900-header chain-exchange requests from another process, and streams that open and
// then say nothing.
import { describe, it, expect, afterEach, afterAll, beforeAll } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Stream } from '@libp2p/interface'
import { startDevnet, type Devnet } from '../../src/node/devnet'
import { createCofferLibp2p } from '../../src/net'
import { CHAIN_EXCHANGE_PROTOCOL, HELLO_PROTOCOL, STATE_PROTOCOL } from '../../src/core'
import { until } from '../helpers/until'
import type { FloodOptions, FloodResult } from '../helpers/exchange-flood'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })
const fileCleanups: Array<() => Promise<void>> = []
afterAll(async () => { for (const fn of fileCleanups.splice(0).reverse()) await fn().catch(() => {}) })

const BLOCK_MS = 1000
const MiB = 1024 * 1024

async function devnet (prefill: number, cleanup = cleanups): Promise<Devnet> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'coffer-floods-'))
  cleanup.push(async () => { await rm(dataDir, { recursive: true, force: true }) })
  const d = await startDevnet({ dataDir, distDir: '/nonexistent', serveApp: false, prefill, blockDelayMs: BLOCK_MS })
  cleanup.push(d.stop)
  return d
}

/**
 * The flood's devnet pre-signs 1000 headers, tens of seconds of BLS signing (41 s measured on a loaded 2-core
 * machine): it is built from the file's start, while the silent-streams case (which needs none of them, and
 * checks only lower bounds on time) runs; the flood itself starts once it is ready, with nothing else running.
 */
let floodNet: Promise<Devnet>
beforeAll(() => {
  floodNet = devnet(1000, fileCleanups)
  floodNet.catch(() => {}) // awaited (and its failure reported) by the flood case
})

/** Runs the flood in a child process, so the attacker's own decoding and encryption are not charged to the node. */
async function runFlood (o: FloodOptions): Promise<FloodResult> {
  const script = fileURLToPath(new URL('../helpers/exchange-flood.ts', import.meta.url))
  const child = spawn(process.execPath, ['--experimental-websocket', '--import', 'tsx', script, JSON.stringify(o)], { stdio: ['ignore', 'pipe', 'pipe'] })
  cleanups.push(async () => { child.kill('SIGKILL') })
  let out = ''
  let err = ''
  child.stdout.on('data', (b: Buffer) => { out += b.toString() })
  child.stderr.on('data', (b: Buffer) => { err += b.toString() })
  const code = await new Promise<number | null>(resolve => child.on('exit', resolve))
  if (code !== 0) throw new Error(`flood exited ${code}: ${err}`)
  return JSON.parse(out.trim().split('\n').pop()!) as FloodResult
}

/** Watches the head from the node's own process: when each new height appeared, and the peak RSS. */
function watch (d: Devnet): { gaps: (from: number, to: number) => number, peakRss: () => number, resetPeak: () => void, stop: () => void } {
  const seen: Array<{ height: number, at: number }> = []
  let peak = 0
  const sample = (): void => {
    const h = d.head().header.height
    if (seen.length === 0 || seen[seen.length - 1]!.height !== h) seen.push({ height: h, at: Date.now() })
    peak = Math.max(peak, process.memoryUsage.rss())
  }
  const timer = setInterval(sample, 20)
  return {
    // the largest wall-clock gap between new heads within [from, to]
    gaps: (from, to) => {
      const inside = seen.filter(s => s.at >= from && s.at <= to)
      let max = 0
      for (let i = 1; i < inside.length; i++) max = Math.max(max, inside[i]!.at - inside[i - 1]!.at)
      const last = inside[inside.length - 1]
      return Math.max(max, last === undefined ? to - from : to - last.at)
    },
    peakRss: () => peak,
    resetPeak: () => { peak = process.memoryUsage.rss() },
    stop: () => { clearInterval(timer) }
  }
}

describe('silent streams', () => {
  it('the node closes hello, chain-exchange and state streams that send nothing, counting from when they opened', async () => {
    const d = await devnet(0)
    const target = d.libp2p.getMultiaddrs()[0]!
    const silent: Array<{ protocol: string, stream: Stream }> = []
    for (let i = 0; i < 3; i++) {
      const peer = await createCofferLibp2p({ allowLoopbackDials: true })
      cleanups.push(async () => { await peer.stop() })
      for (const protocol of [HELLO_PROTOCOL, CHAIN_EXCHANGE_PROTOCOL, STATE_PROTOCOL]) {
        for (let j = 0; j < 2; j++) silent.push({ protocol, stream: await peer.dialProtocol(target, protocol) })
      }
    }
    const opened = Date.now()
    // every stream was accepted (not refused at once by a stream limit): the node is waiting for a request
    await new Promise(resolve => setTimeout(resolve, 1000))
    expect(silent.filter(s => s.stream.status === 'open')).toHaveLength(silent.length)
    // the node's request timeout is 15 s from the stream's opening; allow a slow machine plenty more
    await until(() => silent.every(s => s.stream.status !== 'open'), 60_000)
    const closedAfter = Date.now() - opened
    console.log(`silent streams: ${silent.length} closed by the node after ${closedAfter} ms (${silent.map(s => s.stream.status).join(',')})`)
    expect(closedAfter).toBeGreaterThanOrEqual(14_000)
    // and nothing of them is left on the node's side
    await until(() => d.libp2p.getConnections().flatMap(c => c.streams).every(s => ![HELLO_PROTOCOL, CHAIN_EXCHANGE_PROTOCOL, STATE_PROTOCOL].includes(s.protocol)), 10_000)
  }, 120_000)
})

describe('chain-exchange flood', () => {
  it('16 peers x 32 concurrent requests for 900 headers keep production on cadence and memory bounded', async () => {
    const d = await floodNet
    const start = d.head().header.height
    await until(() => d.head().header.height >= start + 3, 60_000)
    const w = watch(d)
    cleanups.push(async () => { w.stop() })
    await until(() => d.head().header.height >= start + 6, 60_000)
    globalThis.gc?.()
    const baseline = process.memoryUsage().rss
    w.resetPeak()
    const floodStart = Date.now()
    const result = await runFlood({ addr: d.libp2p.getMultiaddrs()[0]!.toString(), head: d.head().cid.toString(), peers: 16, streams: 32, length: 900, ms: 20_000 })
    const floodEnd = Date.now()
    const gap = w.gaps(floodStart, floodEnd)
    const peak = w.peakRss()
    const heightAfter = d.head().header.height
    console.log(`flood: largest block gap ${gap} ms, RSS ${Math.round(baseline / MiB)} MiB -> peak ${Math.round(peak / MiB)} MiB; ${JSON.stringify(result)}`)
    // the node kept answering: some requests got all 900 headers
    expect(result.statuses['0'] ?? 0).toBeGreaterThan(0)
    // the goal is two block times (one missed epoch); measured 1.3-2.0 s with other test runs sharing the
    // two cores, 12.4 s before the bounds. A third block time is the slack for a slower or busier machine.
    expect(gap).toBeLessThanOrEqual(3 * BLOCK_MS)
    expect(peak - baseline).toBeLessThan(300 * MiB)
    // and production goes on after the flood
    await until(() => d.head().header.height >= heightAfter + 2, 30_000)
  }, 240_000)
})
