// JSON-RPC floods over one WebSocket (issue 9, defect 7), against a real devnet: a socket that sends 300 batches
// of 100 state proofs at once (from another process) must not stall block production or another client's calls,
// measured against a quiet baseline from the same run; and a socket that never reads its replies must not grow
// the node's memory, and is closed.
import { describe, it, expect, afterEach } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Socket } from 'node:net'
import { spawn } from 'node:child_process'
import WebSocket from 'ws'
import { startDevnet, type Devnet } from '../../src/node/devnet'
import { MAX_BATCH } from '../../src/node/rpc/rpc-limits'
import { until } from '../helpers/until'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

async function devnet (log?: (line: string) => void): Promise<Devnet> {
  const dir = await mkdtemp(path.join(tmpdir(), 'coffer-rpc-flood-'))
  const d = await startDevnet({ dataDir: dir, distDir: '/nonexistent', serveApp: false, rpcPort: 0, log })
  cleanups.push(async () => { await d.stop(); await rm(dir, { recursive: true, force: true }) })
  return d
}

async function openSocket (d: Devnet): Promise<WebSocket> {
  const ws = new WebSocket(d.rpcUrl!.replace(/^http/, 'ws'))
  ws.on('error', () => {}) // a reset after the server drops us is expected in the second test
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  cleanups.push(async () => { ws.terminate() })
  return ws
}

/** The largest step between consecutive headers' timestamps from `from` to the head, in seconds. */
async function largestGapSecs (d: Devnet, from: number): Promise<number> {
  let gap = 0
  let prev = (await d.headerAt(from))!.header.timestamp
  for (let h = from + 1; h <= d.head().header.height; h++) {
    const t = (await d.headerAt(h))!.header.timestamp
    gap = Math.max(gap, t - prev)
    prev = t
  }
  return gap
}

const percentile = (xs: number[], p: number): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!
}

/**
 * The flooding client: another process (its sends and its parsing of 30,000 state-proof replies are its own
 * work, not the node's), one WebSocket, every batch sent at once. Prints what it was answered.
 */
const ATTACKER = `
import WebSocket from 'ws'
const [url, address, batches, size] = process.argv.slice(1)
const ws = new WebSocket(url)
await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
const bodies = Array.from({ length: Number(batches) }, (_, b) =>
  JSON.stringify(Array.from({ length: Number(size) }, (_, i) => ({ jsonrpc: '2.0', id: b * Number(size) + i, method: 'Coffer.StateProof', params: [address, null] }))))
let results = 0, refused = 0, answered = 0
const other = {}
ws.on('message', (data) => {
  for (const r of JSON.parse(data.toString())) {
    if (r.result !== undefined) results++
    else if (r.error?.code === -32005) refused++ // LimitExceeded: the connection's queue was full
    else other[r.error?.message ?? 'no result'] = (other[r.error?.message ?? 'no result'] ?? 0) + 1
  }
  if (++answered === bodies.length) { console.log(JSON.stringify({ results, refused, other })); process.exit(0) }
})
process.stdout.write('sending\\n')
for (const body of bodies) ws.send(body)
`

/** Runs the attacker; `sending` resolves when it starts sending, `done` with what it was answered. */
function runAttacker (url: string, address: string, batches: number): { sending: Promise<void>, done: Promise<{ results: number, refused: number, other: Record<string, number> }> } {
  // cwd: the repository, so that the child's `import 'ws'` finds node_modules
  const child = spawn(process.execPath, ['--input-type=module', '-e', ATTACKER, url, address, String(batches), String(MAX_BATCH)], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] })
  cleanups.push(async () => { child.kill() })
  let out = ''
  let started: () => void
  const sending = new Promise<void>(resolve => { started = resolve })
  child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); if (out.startsWith('sending')) started() })
  const done = new Promise<{ results: number, refused: number, other: Record<string, number> }>((resolve, reject) => {
    child.on('exit', (code) => { code === 0 ? resolve(JSON.parse(out.slice(out.indexOf('\n') + 1))) : reject(new Error(`attacker exited with ${code}`)) })
  })
  return { sending, done }
}

/**
 * Asks for the head every 100 ms over `ws` until `stop` resolves. Latency counts from when the call was due, so
 * a stalled event loop that sends it late (the probe shares the node's process) is counted, not hidden; each
 * new height is stamped when first seen, for gaps as a client sees them.
 */
async function probe (ws: WebSocket, stop: Promise<unknown>): Promise<{ latencies: number[], seen: Array<[number, number]> }> {
  const due = new Map<number, number>()
  const latencies: number[] = []
  const seen: Array<[number, number]> = []
  const onMessage = (data: Buffer): void => {
    const reply = JSON.parse(data.toString()) as { id: number, result?: { Height: number } }
    const at = due.get(reply.id)
    if (at === undefined || reply.result === undefined) return
    const now = performance.now()
    latencies.push(now - at)
    if (seen.length === 0 || seen[seen.length - 1]![0] !== reply.result.Height) seen.push([reply.result.Height, now])
  }
  ws.on('message', onMessage)
  let stopped = false
  void stop.then(() => { stopped = true })
  const start = performance.now()
  for (let id = probeIds; !stopped; id++) {
    const at = start + (id - probeIds) * 100
    due.set(id, at)
    ws.send(JSON.stringify({ jsonrpc: '2.0', id, method: 'Filecoin.ChainHead', params: [] }))
    await new Promise(resolve => setTimeout(resolve, Math.max(0, at + 100 - performance.now())))
  }
  probeIds += due.size
  // the last calls' answers, if they come
  await until(() => latencies.length >= due.size - 1, 60_000).catch(() => {})
  ws.off('message', onMessage)
  return { latencies, seen }
}
let probeIds = 0
const largestSeenGapMs = (seen: Array<[number, number]>): number => Math.max(0, ...seen.slice(1).map(([, at], i) => at - seen[i]![1]))

describe('JSON-RPC floods over WebSocket', () => {
  it('300 batches of 100 state proofs sent at once from another process: blocks keep their cadence and another client\'s ChainHead stays prompt', async () => {
    const d = await devnet()
    const blockSecs = d.genesis.state.blockDelaySecs
    const probeSocket = await openSocket(d)

    // the same figures with no flood first: this machine's own (shared, maybe loaded) baseline from this run
    const quietFrom = d.head().header.height
    const quiet = await probe(probeSocket, until(() => d.head().header.height >= quietFrom + 5, 120_000))
    const quietGap = await largestGapSecs(d, quietFrom)

    const from = d.head().header.height
    const attacker = runAttacker(d.rpcUrl!.replace(/^http/, 'ws'), d.faucetAddress, 300)
    await Promise.race([attacker.sending, attacker.done])
    // the probe runs until the flood is answered and two more blocks came (a stall at its end shows there too)
    const flood = await probe(probeSocket, (async () => {
      await attacker.done.catch(() => {})
      const end = d.head().header.height
      await until(() => d.head().header.height >= end + 2, 120_000)
    })())
    const answered = await attacker.done

    const gap = await largestGapSecs(d, from)
    const p = (xs: number[], q: number): string => percentile(xs, q).toFixed(1)
    console.log(`flood: ${answered.results} proofs, ${answered.refused} refused, heights ${from}..${d.head().header.height}; ` +
      `under flood: largest gap ${gap} s (stamps) ${largestSeenGapMs(flood.seen).toFixed(0)} ms (seen), ChainHead p50 ${p(flood.latencies, 0.5)} ms p99 ${p(flood.latencies, 0.99)} ms (${flood.latencies.length} calls); ` +
      `quiet before: largest gap ${quietGap} s (stamps) ${largestSeenGapMs(quiet.seen).toFixed(0)} ms (seen), ChainHead p50 ${p(quiet.latencies, 0.5)} ms p99 ${p(quiet.latencies, 0.99)} ms (${quiet.latencies.length} calls)`)
    expect(answered.other).toEqual({})
    expect(answered.results + answered.refused).toBe(300 * MAX_BATCH)
    expect(answered.results).toBeGreaterThan(0)
    expect(d.head().header.height - from).toBeGreaterThan(2)
    expect(flood.latencies.length).toBeGreaterThanOrEqual(10)
    // issue 9's goals: largest gap ≤ 2 block times, ChainHead p99 < 500 ms. A machine shared with other work can
    // miss them with no flood at all, so each goal stretches to what this run measured before the flood (before
    // the fix the flood gave a 12 s gap and answers seconds late, far past either)
    expect(gap).toBeLessThanOrEqual(Math.max(2 * blockSecs, quietGap + blockSecs))
    expect(largestSeenGapMs(flood.seen)).toBeLessThanOrEqual(Math.max(2000 * blockSecs, largestSeenGapMs(quiet.seen) + 1000 * blockSecs))
    expect(percentile(flood.latencies, 0.99)).toBeLessThan(Math.max(500, 2 * percentile(quiet.latencies, 0.99)))
  }, 900_000)

  it('a client that never reads its replies: the node\'s memory stays bounded and the server closes the socket', async () => {
    const lines: string[] = []
    const d = await devnet((line) => lines.push(line))
    const ws = await openSocket(d)
    const closed = new Promise<number>(resolve => ws.once('close', (code: number) => resolve(code)))
    // stop reading at the TCP level: the server's replies pile up in the kernel and then in the node
    const socket = (ws as unknown as { _socket: Socket })._socket
    socket.pause()

    const baseline = process.memoryUsage().rss
    let peak = baseline
    const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss) }, 50)
    cleanups.push(async () => { clearInterval(sampler) })
    // 3000 batches of 100 ChainHead calls: ~150 KB of reply each, ~450 MB if the node buffered them all
    const batch = JSON.stringify(Array.from({ length: MAX_BATCH }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'Filecoin.ChainHead' })))
    for (let b = 0; b < 3000; b++) ws.send(batch)

    const grewMiB = (): number => (peak - baseline) / 2 ** 20
    await until(() => {
      if (grewMiB() >= 200) throw new Error(`RSS grew ${grewMiB().toFixed(0)} MiB while the client did not read`)
      return lines.some(l => /rpc ws .* closed \(1008\)/.test(l))
    }, 300_000)
    clearInterval(sampler)
    console.log(`non-reading client: RSS grew ${grewMiB().toFixed(0)} MiB at most; ${lines.find(l => l.includes('closed (1008)'))}`)
    expect(grewMiB()).toBeLessThan(200)

    // reading again, the client finds its connection gone (the close frame may not get past the unread bytes)
    socket.resume()
    const code = await closed
    expect([1006, 1008]).toContain(code)
    // and the node goes on answering others
    const other = await openSocket(d)
    other.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'Filecoin.ChainHead', params: [] }))
    const reply = await new Promise<Buffer>(resolve => other.once('message', resolve))
    expect((JSON.parse(reply.toString()) as { result: unknown }).result).toBeDefined()
  }, 600_000)
})
