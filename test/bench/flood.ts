// Flood benchmarks (`BENCH_ONLY=flood`, issue 9 "Measure and report"): a devnet started as a separate process
// (`coffer devnet`, as a user runs it), and from this process, for each flood: the largest gap between blocks
// (header timestamps, and as a ChainHead poller saw new heads), Filecoin.ChainHead latency p50/p99 from a probe
// calling every 100 ms (counted from when each call was due, so a stalled node cannot hide it), and the node's
// RSS (/proc/<pid>/status VmRSS): before, at its peak, and 30 s after the flood stops.
// Goals: gap ≤ 2 block times, ChainHead p99 < 500 ms, RSS bounded and back to baseline.
// Every scenario has a hard time bound: one that runs over is reported as a failure and the next one runs.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import net, { type Socket } from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import { multiaddr } from '@multiformats/multiaddr'
import { bls12_381 } from '@noble/curves/bls12-381.js'
import type { Stream } from '@libp2p/interface'
import {
  blsPublicKey, blsAddressBytes, blsSign, addressToString, blocksTopic,
  TRANSFER_GAS_LIMIT, TRANSFER_GAS_FEE_CAP, TRANSFER_GAS_PREMIUM, HELLO_PROTOCOL, CHAIN_EXCHANGE_PROTOCOL, STATE_PROTOCOL
} from '../../src/core'
import { createCofferLibp2p, type CofferLibp2p } from '../../src/net'
import { signedMessageToLotus } from '../../src/node/rpc/lotus-json'

const root = fileURLToPath(new URL('../..', import.meta.url))
const fmt = (n: number, digits = 0): string => Number.isFinite(n) ? n.toFixed(digits) : 'n/a'
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }
/** How long after a flood the node gets before its RSS is read again ("back to baseline?"). */
const RECOVERY_MS = 30_000
const PROBE_EVERY_MS = 100
const PROBE_TIMEOUT_MS = 10_000

// ---------------------------------------------------------------------------------------------------------
// the node under test: `coffer devnet` in a child process

interface NodeProcess {
  child: ChildProcess
  pid: number
  rpcUrl: string
  httpUrl: string
  p2p: string
  faucet: string
  lines: string[]
  exited: () => boolean
  stop: () => Promise<void>
}

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => { const { port } = s.address() as net.AddressInfo; s.close(() => resolve(port)) })
  })
}

async function startNode (prefill: number): Promise<NodeProcess> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'coffer-bench-flood-'))
  const [port, rpcPort, p2pPort] = [await freePort(), await freePort(), await freePort()]
  const child = spawn(process.execPath, [
    '--experimental-websocket', 'src/node/bin.mjs', 'devnet', '--data', dataDir, '--port', String(port), '--rpc-port', String(rpcPort),
    '--p2p-port', String(p2pPort), '--prefill', String(prefill)
  ], { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: string[] = []
  let exited = false
  const exit = new Promise<void>(resolve => child.once('exit', () => { exited = true; resolve() }))
  let rest = ''
  const onData = (chunk: Buffer): void => {
    const text = rest + chunk.toString()
    const parts = text.split('\n')
    rest = parts.pop()!
    for (const l of parts) lines.push(l)
    if (lines.length > 20_000) lines.splice(0, 10_000)
  }
  child.stdout!.on('data', onData)
  child.stderr!.on('data', onData)
  const stop = async (): Promise<void> => {
    if (!exited) {
      try { process.kill(-child.pid!, 'SIGTERM') } catch {}
      const killer = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL') } catch {} }, 15_000)
      await exit
      clearTimeout(killer)
    }
    await rm(dataDir, { recursive: true, force: true })
  }
  const find = (re: RegExp): string | undefined => { for (const l of lines) { const m = re.exec(l); if (m !== null) return m[1] } return undefined }
  const end = Date.now() + 180_000 + prefill * 100 // pre-signing takes a moment per header
  for (;;) {
    const rpcUrl = find(/JSON-RPC \(Lotus API\): (\S+)/)
    if (rpcUrl !== undefined) {
      return {
        child, pid: child.pid!, rpcUrl, httpUrl: `http://127.0.0.1:${port}`, p2p: find(/coffer: libp2p (\S+)/)!, faucet: find(/coffer: faucet (\S+)/)!,
        lines, exited: () => exited, stop
      }
    }
    if (exited || Date.now() > end) {
      await stop()
      throw new Error(`the devnet did not start: ${lines.slice(-5).join(' | ')}`)
    }
    await sleep(100)
  }
}

async function rssBytes (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1]
  return kb === undefined ? NaN : Number(kb) * 1024
}

async function rpc<T> (url: string, method: string, params: unknown[] = [], timeoutMs = PROBE_TIMEOUT_MS): Promise<T> {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }), signal: AbortSignal.timeout(timeoutMs) })
  const body = await res.json() as { result?: T, error?: { message: string } }
  if (body.error !== undefined) throw new Error(`${method}: ${body.error.message}`)
  return body.result as T
}

interface LotusTipSet { Cids: Array<{ '/': string }>, Height: number, Blocks: Array<{ Timestamp: number }> }

// ---------------------------------------------------------------------------------------------------------
// what is measured around each flood

class Monitor {
  /** [due time, latency ms] of each ChainHead probe. */
  readonly probes: Array<[number, number]> = []
  /** [time, bytes] RSS samples. */
  readonly rss: Array<[number, number]> = []
  /** [height, first seen at] as the probe saw heads arrive. */
  readonly seen: Array<[number, number]> = []
  private running = true
  private readonly loops: Array<Promise<void>> = []

  constructor (private readonly node: NodeProcess) {
    this.loops.push(this.probeLoop(), this.rssLoop())
  }

  private async probeLoop (): Promise<void> {
    const start = performance.now()
    const pending = new Set<Promise<void>>()
    for (let k = 0; this.running; k++) {
      const due = start + k * PROBE_EVERY_MS
      const p = rpc<LotusTipSet>(this.node.rpcUrl, 'Filecoin.ChainHead').then((head) => {
        const now = performance.now()
        this.probes.push([due, now - due])
        const last = this.seen.at(-1)
        if (last === undefined || head.Height > last[0]) this.seen.push([head.Height, now])
      }, () => { this.probes.push([due, performance.now() - due]) }).finally(() => pending.delete(p))
      pending.add(p)
      await sleep(Math.max(0, due + PROBE_EVERY_MS - performance.now()))
    }
    await Promise.all(pending)
  }

  private async rssLoop (): Promise<void> {
    while (this.running) {
      this.rss.push([performance.now(), await rssBytes(this.node.pid)])
      await sleep(250)
    }
  }

  async stop (): Promise<void> {
    this.running = false
    await Promise.all(this.loops)
  }

  latencies (from: number, to: number): number[] { return this.probes.filter(([t]) => t >= from && t <= to).map(([, l]) => l) }
  rssIn (from: number, to: number): number[] { return this.rss.filter(([t]) => t >= from && t <= to).map(([, b]) => b) }
  /** The largest wall-clock step between heads as the probe first saw them, in ms. */
  seenGapMs (from: number, to: number): number {
    const s = this.seen.filter(([, t]) => t >= from && t <= to)
    let gap = 0
    for (let i = 1; i < s.length; i++) gap = Math.max(gap, s[i]![1] - s[i - 1]![1])
    return gap
  }
}

const percentile = (xs: number[], p: number): number => {
  if (xs.length === 0) return NaN
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!
}

/** The largest step between consecutive headers' timestamps in [from, to], in seconds (read after the flood). */
async function stampGapSecs (rpcUrl: string, from: number, to: number): Promise<number> {
  const stamps: number[] = []
  for (let h = from; h <= to; h += 100) {
    const batch = Array.from({ length: Math.min(100, to - h + 1) }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'Filecoin.ChainGetTipSetByHeight', params: [h + i, null] }))
    const res = await fetch(rpcUrl, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(batch), signal: AbortSignal.timeout(60_000) })
    const replies = await res.json() as Array<{ id: number, result?: LotusTipSet }>
    for (const r of replies.sort((a, b) => a.id - b.id)) if (r.result !== undefined) stamps.push(r.result.Blocks[0]!.Timestamp)
  }
  let gap = 0
  for (let i = 1; i < stamps.length; i++) gap = Math.max(gap, stamps[i]! - stamps[i - 1]!)
  return gap
}

// ---------------------------------------------------------------------------------------------------------
// the floods: each gets the node and a signal (its hard time bound) and returns a note for the table

interface Flood {
  name: string
  /** Headers to pre-sign on the fresh chain (chain exchange needs a backlog). */
  prefill?: number
  /** The hard bound on the attack itself; recovery and measurement come on top. */
  boundMs: number
  attack: (node: NodeProcess, signal: AbortSignal) => Promise<string>
}

function aborted (signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    if (signal.aborted) reject(signal.reason)
    signal.addEventListener('abort', () => reject(signal.reason), { once: true })
  })
}

async function openSocket (url: string): Promise<WebSocket> {
  const ws = new WebSocket(url.replace(/^http/, 'ws'))
  ws.on('error', () => {})
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  return ws
}

/** (0) no flood: the same measurements over 20 s of an idle devnet, so a loaded machine shows as such. */
const noFlood: Flood = {
  name: 'no flood (reference)',
  boundMs: 60_000,
  attack: async () => { await sleep(20_000); return 'idle for 20 s' }
}

/** (i) 300 batches of 100 Coffer.StateProof calls sent at once over one WebSocket. */
const rpcWsFlood: Flood = {
  name: 'RPC ws: 300×100 StateProof',
  boundMs: 300_000,
  attack: async (node, signal) => {
    const ws = await openSocket(node.rpcUrl)
    try {
      let answered = 0
      let results = 0
      let refused = 0
      const done = new Promise<void>(resolve => {
        ws.on('message', (data: Buffer) => {
          const replies = JSON.parse(data.toString()) as Array<{ result?: unknown, error?: { code: number } }> | { error?: unknown }
          for (const r of Array.isArray(replies) ? replies : [replies]) { if ('result' in r) results++; else refused++ }
          if (++answered === 300) resolve()
        })
        ws.once('close', () => resolve())
      })
      const batches = Array.from({ length: 300 }, (_, b) => JSON.stringify(Array.from({ length: 100 }, (_, i) => ({ jsonrpc: '2.0', id: b * 100 + i, method: 'Coffer.StateProof', params: [node.faucet, null] }))))
      for (const b of batches) ws.send(b)
      await Promise.race([done, aborted(signal)])
      return `${results} proofs, ${refused} refused, ${300 - answered} batches unanswered`
    } finally {
      ws.terminate()
    }
  }
}

/** (ii) a WebSocket consumer that stops reading and keeps asking for ~150 KB batch replies. */
const nonReadingFlood: Flood = {
  name: 'RPC ws: client not reading',
  boundMs: 180_000,
  attack: async (node, signal) => {
    const ws = await openSocket(node.rpcUrl)
    const socket = (ws as unknown as { _socket: Socket })._socket
    socket.pause()
    const before = node.lines.length
    const closedByServer = (): boolean => node.lines.slice(before).some(l => /rpc ws .*closed/.test(l))
    const batch = JSON.stringify(Array.from({ length: 100 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'Filecoin.ChainHead' })))
    const t0 = performance.now()
    try {
      // 3000 batches (~450 MB of replies if the node kept them all), then wait for the server to give up on us
      for (let b = 0; b < 3000; b++) ws.send(batch)
      const deadline = performance.now() + 60_000
      while (!closedByServer() && performance.now() < deadline && !signal.aborted) await sleep(200)
      return closedByServer()
        ? `closed by the node after ${fmt((performance.now() - t0) / 1000)} s`
        : 'NOT closed by the node within 60 s'
    } finally {
      ws.terminate()
    }
  }
}

/**
 * `count` libp2p nodes, each connected to the devnet. Dialled one after another with retries: libp2p's
 * connection manager refuses more than a few new inbound connections a second from one host
 * (inboundConnectionThreshold), and a flood that connected only 5 of its 16 peers would measure nothing.
 */
async function peers (count: number, node: NodeProcess): Promise<CofferLibp2p[]> {
  const nodes = await Promise.all(Array.from({ length: count }, async () => await createCofferLibp2p({ listen: [], allowLoopbackDials: true })))
  for (const n of nodes) {
    for (let attempt = 0; attempt < 40; attempt++) {
      const ok = await n.dial(multiaddr(node.p2p), { signal: AbortSignal.timeout(30_000) }).then(() => true, () => false)
      if (ok) break
      await sleep(250)
    }
  }
  return nodes
}
const connected = (nodes: CofferLibp2p[]): number => nodes.filter(n => n.getConnections().length > 0).length
const stopAll = async (nodes: CofferLibp2p[]): Promise<void> => {
  await Promise.all(nodes.map(async n => await Promise.race([n.stop(), sleep(5_000)]).catch(() => {})))
}

/**
 * (iii) 512 concurrent chain-exchange requests for 900 headers each over 16 connections, kept up for 20 s
 * (each slot asks again as soon as it has its answer). The attacker runs in its own process
 * (test/helpers/exchange-flood.ts, the integration test's): decoding hundreds of 900-header answers here would
 * slow this process's own ChainHead probe and charge the attacker's CPU to the node's latency.
 */
const chainExchangeFlood: Flood = {
  name: 'chain exchange: 512×900 headers',
  prefill: 1_000,
  boundMs: 240_000,
  attack: async (node, signal) => {
    const head = await rpc<LotusTipSet>(node.rpcUrl, 'Filecoin.ChainHead')
    const script = fileURLToPath(new URL('../helpers/exchange-flood.ts', import.meta.url))
    const options = { addr: node.p2p, head: head.Cids[0]!['/'], peers: 16, streams: 32, length: 900, ms: 20_000 }
    const child = spawn(process.execPath, ['--experimental-websocket', '--import', 'tsx', script, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout!.on('data', (b: Buffer) => { out += b.toString() })
    child.stderr!.on('data', (b: Buffer) => { err += b.toString() })
    const stop = (): void => { child.kill('SIGKILL') }
    signal.addEventListener('abort', stop, { once: true })
    try {
      const code = await new Promise<number | null>(resolve => child.once('exit', resolve))
      if (code !== 0) return `attacker process failed (${code}): ${err.trim().split('\n').slice(-1)[0] ?? ''}`
      const r = JSON.parse(out.trim().split('\n').pop()!) as { requests: number, statuses: Record<string, number>, errors: Record<string, number> }
      const statuses = Object.entries(r.statuses).map(([k, v]) => `${v} × status ${k}`).join(', ')
      const errors = Object.entries(r.errors).map(([k, v]) => `${v} ${k}`).join(', ')
      return `attacker in its own process: ${r.requests} requests in 20 s (${statuses}${errors === '' ? '' : `; ${errors}`})`
    } finally {
      signal.removeEventListener('abort', stop)
    }
  }
}

/** (iv) ~1000 streams opened on hello, chain exchange and state that never send a byte. */
const silentStreamsFlood: Flood = {
  name: 'silent streams: ~1000',
  boundMs: 180_000,
  attack: async (node, signal) => {
    const nodes = await peers(16, node)
    try {
      const target = nodes[0]!.getConnections()[0]?.remotePeer
      if (target === undefined) return 'could not connect'
      const streams: Stream[] = []
      let refused = 0
      const perConnection: Array<[string, number]> = [[CHAIN_EXCHANGE_PROTOCOL, 30], [STATE_PROTOCOL, 30], [HELLO_PROTOCOL, 4]]
      await Promise.all(nodes.flatMap(n => perConnection.flatMap(([protocol, count]) => Array.from({ length: count }, async () => {
        try {
          streams.push(await n.dialProtocol(target, protocol, { signal: AbortSignal.timeout(30_000) }))
        } catch { refused++ }
      }))))
      const opened = streams.length
      // watch them for 30 s (or until the bound): how many does the node leave open?
      const until = performance.now() + 30_000
      while (performance.now() < until && !signal.aborted) await sleep(500)
      const open = streams.filter(s => s.status === 'open' && s.remoteWriteStatus === 'writable').length
      return `${connected(nodes)}/16 connected, ${opened} opened (${refused} refused at opening), ${open} still open after 30 s`
    } finally {
      await stopAll(nodes)
    }
  }
}

/** (v) messages from a funded t3 sender with one reused bad BLS signature, pushed at 50/s for 20 s. */
const badBlsFlood: Flood = {
  name: 'bad BLS sigs: 50/s MpoolPush',
  boundMs: 180_000,
  attack: async (node, signal) => {
    const secret = bls12_381.longSignatures.keygen().secretKey
    const from = blsAddressBytes(blsPublicKey(secret))
    const t3 = addressToString(from, 't')
    await rpc(node.rpcUrl, 'Coffer.Faucet', [t3], 60_000)
    while (BigInt(await rpc<string>(node.rpcUrl, 'Filecoin.WalletBalance', [t3], 60_000)) === 0n) {
      if (signal.aborted) return 'the faucet payment never landed'
      await sleep(500)
    }
    // a real BLS signature (a valid G2 point), over other bytes: only the pairing check can refuse it
    const bad = blsSign(secret, new TextEncoder().encode('not this message'))
    let accepted = 0; let refused = 0; let failed = 0
    const pending = new Set<Promise<void>>()
    const start = performance.now()
    for (let i = 0; i < 1000 && !signal.aborted; i++) {
      // nonce 0 each time (the right one), a different value each time: every message is new and passes the cheap checks
      const message = { version: 0, to: from, from, nonce: 0, value: BigInt(i + 1), gasLimit: TRANSFER_GAS_LIMIT, gasFeeCap: TRANSFER_GAS_FEE_CAP, gasPremium: TRANSFER_GAS_PREMIUM, method: 0, params: new Uint8Array(0) }
      const p = rpc(node.rpcUrl, 'Filecoin.MpoolPush', [signedMessageToLotus({ message, signature: bad })], 30_000)
        .then(() => { accepted++ }, (err: Error) => { if (err.name === 'Error') refused++; else failed++ })
        .finally(() => pending.delete(p))
      pending.add(p)
      if (pending.size > 500) await Promise.race(pending) // never more than 500 open requests from here
      await sleep(Math.max(0, start + (i + 1) * 20 - performance.now()))
    }
    await Promise.race([Promise.all(pending), aborted(signal)])
    return `${accepted + refused + failed} pushed in ${fmt((performance.now() - start) / 1000)} s: ${refused} refused, ${accepted} ACCEPTED, ${failed} without an answer`
  }
}

/** (vi) 20 gossip peers from 127.0.0.1, then a Node light client: how far behind the node's head does it fall? */
const gossipPeersFlood: Flood = {
  name: '20 gossip peers + light client',
  boundMs: 180_000,
  attack: async (node, signal) => {
    await import('../setup-node') // the light client keeps its headers in IndexedDB (fake-indexeddb in Node)
    const { startLightClient } = await import('../../src/light')
    const doc = await (await fetch(`${node.httpUrl}/bootstrap.json`)).json() as { network: string }
    const nodes = await peers(20, node)
    for (const n of nodes) n.services.pubsub.subscribe(blocksTopic(doc.network))
    const lc = await startLightClient({ bootstrap: doc as Parameters<typeof startLightClient>[0]['bootstrap'], bootstrapSource: 'network', onStatus: () => {} })
    try {
      const lag = async (): Promise<number> => (await rpc<LotusTipSet>(node.rpcUrl, 'Filecoin.ChainHead')).Height - lc.status().verifiedHeight
      // first sync (bounded), then 60 s of following
      const synced = performance.now() + 60_000
      while (await lag() > 2 && performance.now() < synced && !signal.aborted) await sleep(250)
      let worst = 0; let last = 0
      const until = performance.now() + 60_000
      while (performance.now() < until && !signal.aborted) {
        last = await lag()
        worst = Math.max(worst, last)
        await sleep(250)
      }
      return `${connected(nodes)}/20 peers connected, light client behind by ${worst} heads at worst over 60 s, ${last} at the end${worst > 2 ? ' (FALLS BEHIND)' : ''}`
    } finally {
      await Promise.race([lc.stop(), sleep(5_000)]).catch(() => {})
      await stopAll(nodes)
    }
  }
}

// ---------------------------------------------------------------------------------------------------------

const loadAverage = async (): Promise<string> => (await readFile('/proc/loadavg', 'utf8').catch(() => '?')).split(' ')[0]!

interface Row { load: string, name: string, gapStamp: number, gapSeenMs: number, p50: number, p99: number, base: number, peak: number, after: number, note: string, failure?: string }

async function runFlood (flood: Flood): Promise<Row> {
  const row: Row = { load: await loadAverage(), name: flood.name, gapStamp: NaN, gapSeenMs: NaN, p50: NaN, p99: NaN, base: NaN, peak: NaN, after: NaN, note: '' }
  let node: NodeProcess | undefined
  let monitor: Monitor | undefined
  try {
    node = await startNode(flood.prefill ?? 0)
    monitor = new Monitor(node)
    await sleep(5_000) // settle: providers start, the first blocks come
    const t0 = performance.now()
    row.base = percentile(monitor.rssIn(t0 - 3_000, t0), 0.5)
    const from = (await rpc<LotusTipSet>(node.rpcUrl, 'Filecoin.ChainHead')).Height
    const bound = new AbortController()
    const timer = setTimeout(() => bound.abort(new Error(`ran past its ${flood.boundMs / 1000} s bound`)), flood.boundMs)
    try {
      row.note = await Promise.race([flood.attack(node, bound.signal), aborted(bound.signal)])
    } catch (err) {
      row.failure = (err as Error).message
    } finally {
      clearTimeout(timer)
      bound.abort(new Error('done'))
    }
    const t1 = performance.now()
    // one block time after the flood shows a stall at its very end too
    await sleep(2_000)
    const to = (await rpc<LotusTipSet>(node.rpcUrl, 'Filecoin.ChainHead', [], 60_000)).Height
    row.gapStamp = await stampGapSecs(node.rpcUrl, from, to)
    row.gapSeenMs = monitor.seenGapMs(t0, performance.now())
    const lat = monitor.latencies(t0, t1)
    row.p50 = percentile(lat, 0.5)
    row.p99 = percentile(lat, 0.99)
    row.peak = Math.max(...monitor.rssIn(t0, performance.now()))
    await sleep(RECOVERY_MS)
    row.after = await rssBytes(node.pid)
    if (node.exited()) row.failure = `the node exited: ${node.lines.slice(-3).join(' | ')}`
  } catch (err) {
    row.failure = (err as Error).message
  } finally {
    await monitor?.stop()
    await node?.stop()
  }
  return row
}

export const FLOODS: Flood[] = [noFlood, rpcWsFlood, nonReadingFlood, chainExchangeFlood, silentStreamsFlood, badBlsFlood, gossipPeersFlood]

export async function benchFlood (): Promise<void> {
  const only = process.env.BENCH_FLOODS?.split(',').map(Number) // picks by number, e.g. BENCH_FLOODS=0,1,2
  const blockSecs = 1 // the CLI's default --block-time
  const MiB = 2 ** 20
  console.log('\nfloods against `coffer devnet` in its own process (goals: gap ≤ 2 block times, ChainHead p99 < 500 ms, RSS bounded and back to baseline)')
  const rows: Row[] = []
  for (const [i, flood] of FLOODS.entries()) {
    if (only !== undefined && !only.includes(i)) continue
    const row = await runFlood(flood)
    rows.push(row)
    const mark = (ok: boolean): string => ok ? 'ok' : 'MISSED'
    const gapOk = row.gapStamp <= 2 * blockSecs && row.gapSeenMs <= 2 * blockSecs * 1000 + 500
    const backOk = row.after <= row.base * 1.25 + 64 * MiB
    console.log(`  (${['0', 'i', 'ii', 'iii', 'iv', 'v', 'vi'][i]}) ${row.name.padEnd(32)} ` +
      `gap ${fmt(row.gapStamp)} s / ${fmt(row.gapSeenMs / 1000, 1)} s seen [${mark(gapOk)}]  ` +
      `ChainHead p50 ${fmt(row.p50)} ms p99 ${fmt(row.p99)} ms [${mark(row.p99 < 500)}]  ` +
      `RSS ${fmt(row.base / MiB)} → peak ${fmt(row.peak / MiB)} → +30 s ${fmt(row.after / MiB)} MiB [${mark(backOk)}]`)
    console.log(`        ${row.failure === undefined ? row.note : `FAILED: ${row.failure}${row.note === '' ? '' : ` (${row.note})`}`}`)
  }
  console.log('\n| flood | largest block gap (stamps / seen) | ChainHead p50 / p99 | RSS before → peak → 30 s after | load avg | notes |')
  console.log('|---|---|---|---|---|---|')
  for (const r of rows) {
    console.log(`| ${r.name} | ${fmt(r.gapStamp)} s / ${fmt(r.gapSeenMs / 1000, 1)} s | ${fmt(r.p50)} / ${fmt(r.p99)} ms | ${fmt(r.base / MiB)} → ${fmt(r.peak / MiB)} → ${fmt(r.after / MiB)} MiB | ${r.load} | ${r.failure === undefined ? r.note : `FAILED: ${r.failure}`} |`)
  }
}
