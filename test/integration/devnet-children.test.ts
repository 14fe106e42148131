// `npm start`'s path (issue 12): the devnet runs its genesis provider as a child process (`coffer provider run`), the
// way a provider on another machine runs. The child syncs its own full node, records this run's multiaddrs on chain
// (ChangeMultiaddrs from its worker), and answers ask queries under the miner's peer ID; the bootstrap document lists
// it. Killed (SIGKILL to its process group), it is started again by the supervisor and serves again from new
// addresses; devnet.stop() leaves no process behind.
import { describe, it, expect, afterAll, beforeAll } from 'vitest'
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { startDevnet, type Devnet } from '../../src/node/devnet'
import { getMinerInfo, idAddressBytes, verifyStorageAsk } from '../../src/core'
import { createCofferLibp2p, requestAsk, type CofferLibp2p } from '../../src/net'
import { ProviderChildError, FIRST_READY_ATTEMPTS, type ProviderReady } from '../../src/node/provider/provider-children'
import { providerDir } from '../../src/node/provider/devnet-providers'
import { until } from '../helpers/until'

const debug = process.env.DEBUG_DEVNET !== undefined
const bin = fileURLToPath(new URL('../../src/node/bin.mjs', import.meta.url))
const T01001 = idAddressBytes(1001)

let dir: string
let d: Devnet
let client: CofferLibp2p
const cleanups: Array<() => Promise<void>> = []
afterAll(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

/** Whether any process is left in process group `pgid` (the child and whatever it started). */
function groupAlive (pgid: number): boolean {
  try { process.kill(-pgid, 0); return true } catch (err) { return (err as NodeJS.ErrnoException).code !== 'ESRCH' }
}

/** The chain's record of t01001's multiaddrs, as strings (MinerInfo keeps them without /p2p/<id>). */
function onChainAddrs (): string[] {
  const info = d.chain.readState((s, r) => getMinerInfo(s, r, T01001))
  return (info?.multiaddrs ?? []).map(a => multiaddr(a).toString())
}

/** Waits for the devnet's chain to record `ready`'s addresses for t01001 (the chain's blocks reach it by gossip). */
async function onChainAddrsBecome (ready: ProviderReady): Promise<void> {
  const wanted = ready.addrs.map(a => multiaddr(a).decapsulateCode(421).toString())
  await until(() => JSON.stringify(onChainAddrs()) === JSON.stringify(wanted), 20_000, () => ({ onChain: onChainAddrs(), wanted, head: d.head().header.height }))
}

/** Dials the child at what it printed and asks for its ask: answered under t01001's peer ID with t01001's worker's signature. */
async function askAnswered (ready: ProviderReady): Promise<void> {
  const peer = peerIdFromString(ready.peerId)
  const info = d.chain.readState((s, r) => getMinerInfo(s, r, T01001))!
  expect(info.peerId).toEqual(peer.toMultihash().bytes)
  // by the chain's record alone: its multiaddrs, with the on-chain PeerId
  const conn = await client.dial(multiaddr(info.multiaddrs[0]!).encapsulate(`/p2p/${ready.peerId}`), { signal: AbortSignal.timeout(10_000) })
  expect(conn.remotePeer.toString()).toBe(ready.peerId)
  const ask = await requestAsk(client, peer, AbortSignal.timeout(10_000))
  expect(ask.ask.miner).toEqual(T01001)
  verifyStorageAsk(ask, info.worker, d.head().header.height)
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'coffer-devnet-children-'))
  cleanups.push(async () => { await rm(dir, { recursive: true, force: true }) })
  d = await startDevnet({
    dataDir: dir, distDir: '/nonexistent', serveApp: false, rpcPort: 0, providers: 1, providerProcesses: true,
    log: debug ? (l) => { console.log(`[devnet] ${l}`) } : undefined
  })
  cleanups.push(async () => { await d.stop() })
  client = await createCofferLibp2p({ allowLoopbackDials: true })
  cleanups.push(async () => { await client.stop() })
}, 60_000)

describe('the devnet with its provider as a child process', () => {
  it('lists the child in the bootstrap document; the child recorded its multiaddrs on chain and answers t01001\'s ask', async () => {
    expect(d.providers).toEqual([])
    expect(d.providerChildren).toHaveLength(1)
    const child = d.providerChildren[0]!
    // startDevnet resolves once every child printed its ready line
    const ready = child.info()!
    expect(ready.miner).toBe('t01001')
    expect(child.pid()).toBeGreaterThan(0)
    expect(child.pid()).not.toBe(process.pid)

    const doc = d.bootstrap()
    expect(doc.providers).toEqual([{ address: 't01001', peerId: ready.peerId, addrs: ready.addrs, gateway: ready.gateway }])
    // the child's node is a full node: a peer of the network as well
    for (const a of ready.addrs) expect(doc.peers).toContain(a)
    expect(d.gateways()).toEqual([{ address: 't01001', url: ready.gateway, free: expect.any(Boolean) }])

    // the child waited for its ChangeMultiaddrs receipt before it said ready. Under Expected Consensus the child's
    // own producer may have made that block: the devnet's node, another node, has it once gossip brings it
    await onChainAddrsBecome(ready)
    await askAnswered(ready)
  }, 60_000)

  it('starts the child again after a SIGKILL of its process group; the new run records its new addresses and answers again', async () => {
    const child = d.providerChildren[0]!
    const before = child.info()!
    const pid = child.pid()!
    const restarts = child.restarts()
    process.kill(-pid, 'SIGKILL')
    await until(() => !groupAlive(pid), 10_000)

    // a new process, ready again, under the same miner and peer ID (its keys are its folder's)
    const again = await until(() => child.restarts() > restarts && child.pid() !== pid ? child.info() : undefined, 30_000)
    expect(again.miner).toBe('t01001')
    expect(again.peerId).toBe(before.peerId)
    // listening on a new port, which it recorded on chain before it said ready
    expect(again.addrs).not.toEqual(before.addrs)
    await onChainAddrsBecome(again)
    expect(d.bootstrap().providers).toEqual([{ address: 't01001', peerId: again.peerId, addrs: again.addrs, gateway: again.gateway }])
    await client.hangUp(peerIdFromString(before.peerId)).catch(() => {})
    await askAnswered(again)
  }, 75_000)

  it('stop() ends the child and leaves no process of its group', async () => {
    const child = d.providerChildren[0]!
    const pid = child.pid()!
    expect(groupAlive(pid)).toBe(true)
    await d.stop()
    expect(groupAlive(pid)).toBe(false)
    expect(child.info()).toBeUndefined()
  }, 30_000)
})

describe('a child whose devnet is gone', () => {
  it('stops by itself when its stdin (the devnet\'s pipe) closes while it is still starting, instead of waiting forever to sync', async () => {
    // t01001's folder from the stopped devnet above: its network names peers nobody listens on any more, so the
    // child can only wait to sync, as a child whose devnet was killed (kill -9) while it started does
    await d.stop() // stopped already when the tests above ran
    const child = spawn(process.execPath, [bin, 'provider', 'run', '--data', providerDir(dir, 0)], {
      detached: true, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, COFFER_SUPERVISED: '1' }
    })
    cleanups.push(async () => { try { process.kill(-child.pid!, 'SIGKILL') } catch {} })
    let out = ''
    child.stdout.on('data', (b: Buffer) => { out += b.toString() })
    child.stderr.on('data', (b: Buffer) => { out += b.toString() })
    const exited = new Promise<number | null>(resolve => child.on('exit', (code) => resolve(code)))
    // started: its full node runs (and waits for a peer)
    await until(() => /libp2p \//.test(out), 20_000)
    expect(out).not.toContain('provider ready')
    child.stdin.end()
    expect(await Promise.race([exited, until(() => false, 15_000).catch(() => 'still running')]), out).toBe(1)
    expect(out).toContain('the devnet that started this provider is gone')
  }, 40_000)
})

describe('a child that cannot start', () => {
  it('fails startDevnet by name with what the child printed once its first runs all failed, instead of waiting forever on its restarts', async () => {
    const data = path.join(dir, 'broken')
    // the child's chain folder is a file: `coffer provider run` fails at its start, every time
    await mkdir(providerDir(data, 0), { recursive: true })
    await writeFile(path.join(providerDir(data, 0), 'chain'), 'not a folder')
    const lines: string[] = []
    const err = await startDevnet({
      dataDir: data, distDir: '/nonexistent', serveApp: false, providers: 1, providerProcesses: true, log: (l) => { lines.push(l) }
    }).then(async (started) => { await started.stop(); return undefined }, (e: Error) => e)
    expect(err, lines.join('\n')).toBeInstanceOf(ProviderChildError)
    expect(err!.message).toMatch(new RegExp(`^t01001: \`coffer provider run\` exited ${FIRST_READY_ATTEMPTS} times before it was ready \\(code 1\\): .*EEXIST`))
  }, 120_000)
})
