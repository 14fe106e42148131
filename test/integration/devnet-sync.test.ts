// A devnet on free loopback ports and a Node-side light client (same code as the browser worker, with an
// in-memory IndexedDB) syncing verified headers from it over libp2p WebSockets.
import { describe, it, expect, afterEach } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startDevnet, type Devnet } from '../../src/node/devnet'
import { startLightClient, type LightClient, type LightClientStatus } from '../../src/light'
import { startMaliciousPeer, type MaliciousPeer } from '../helpers/malicious-peer'
import { createCofferLibp2p, type BootstrapDocument } from '../../src/net'
import { blocksTopic } from '../../src/core'
import { until } from '../helpers/until'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

async function devnet (opts: { dataDir?: string, prefill?: number } = {}): Promise<Devnet> {
  const dataDir = opts.dataDir ?? await mkdtemp(path.join(tmpdir(), 'coffer-devnet-'))
  const d = await startDevnet({ dataDir, distDir: '/nonexistent', serveApp: false, prefill: opts.prefill })
  cleanups.push(d.stop)
  if (opts.dataDir === undefined) cleanups.push(async () => { await rm(dataDir, { recursive: true, force: true }) })
  return d
}

async function client (bootstrap: BootstrapDocument): Promise<{ lc: LightClient, statuses: LightClientStatus[] }> {
  const statuses: LightClientStatus[] = []
  const lc = await startLightClient({ bootstrap, bootstrapSource: 'network', onStatus: (s) => statuses.push(s), statusIntervalMs: 10 })
  cleanups.push(lc.stop)
  return { lc, statuses }
}

describe('light client against a devnet', () => {
  it('backfills from genesis, then follows gossip, verifying every header', async () => {
    const d = await devnet({ prefill: 40 })
    const { lc } = await client(d.bootstrap())
    // 'syncing' while more than a head behind, which a loaded machine shows for a moment at any height: wait it out
    // (the list of recent headers is read from the store after each head: it may trail the head for a moment)
    await until(() => { const s = lc.status(); return s.verifiedHeight >= 43 && s.syncState === 'synced' && s.recent[0]?.height === s.verifiedHeight })
    const s = lc.status()
    expect(s.peers.length).toBe(1)
    expect(s.syncState).toBe('synced')
    expect(s.lastRejection).toBeNull()
    expect(s.recent).toHaveLength(20)
    expect(s.recent[0]!.height).toBe(s.verifiedHeight)
    expect(s.recent[0]!.miner).toBe('t01000')
    expect(s.stats.headersVerified).toBe(s.verifiedHeight) // genesis is trusted, every later header verified
    // what the client stored is exactly the devnet's chain
    const stored = await lc.store.recent(s.verifiedHeight + 1)
    expect(stored).toHaveLength(s.verifiedHeight + 1)
    for (const [i, h] of stored.entries()) {
      expect((await d.headerAt(h.header.height))!.cid.equals(h.cid)).toBe(true)
      if (i + 1 < stored.length) expect(h.header.parents[0]!.equals(stored[i + 1]!.cid)).toBe(true)
    }
    expect(stored[stored.length - 1]!.cid.equals(d.genesis.header.cid)).toBe(true)
  })

  it('a devnet restart continues the same chain', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'coffer-devnet-'))
    cleanups.push(async () => { await rm(dataDir, { recursive: true, force: true }) })
    const first = await startDevnet({ dataDir, distDir: '/nonexistent', serveApp: false })
    await until(() => first.head().header.height >= 2)
    const genesis = first.genesis.header.cid.toString()
    const peer = first.libp2p.peerId.toString()
    const height = first.head().header.height
    await first.stop()
    const second = await devnet({ dataDir })
    expect(second.genesis.header.cid.toString()).toBe(genesis)
    expect(second.libp2p.peerId.toString()).toBe(peer)
    await until(() => second.head().header.height > height)
    // the first header produced after the restart links to the last one before it
    const after = (await second.headerAt(height + 1))!
    expect(after.header.parents[0]!.equals((await second.headerAt(height))!.cid)).toBe(true)
    expect((await startReset(dataDir, second)).genesis.header.cid.toString()).not.toBe(genesis)
  })

  it('drops a peer serving a badly signed chain and stores nothing it sent', async () => {
    const d = await devnet()
    const evil: MaliciousPeer = await startMaliciousPeer(d.genesis, { length: 50 })
    cleanups.push(evil.stop)
    const { lc } = await client({ ...d.bootstrap(), peers: [evil.addr, ...d.bootstrap().peers] })
    const rejection = await until(() => lc.status().lastRejection ?? undefined)
    expect(rejection.name).toBe('BadSignatureError')
    expect(rejection.peer).toBe(evil.libp2p.peerId.toString())
    await until(() => lc.status().peers.every(p => p.id !== rejection.peer))
    for (const h of evil.forged) expect(await lc.store.has(h.cid.toString())).toBe(false)
    // and it keeps syncing the honest chain
    await until(() => lc.status().verifiedHeight >= 2 && lc.status().syncState === 'synced')
  })
})

describe('light client against gossip junk', () => {
  it('drops a peer that gossips a malformed block message', async () => {
    const d = await devnet()
    const junk = await createCofferLibp2p({ listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
    cleanups.push(async () => { await junk.stop() })
    const topic = blocksTopic(d.genesis.state.network)
    junk.services.pubsub.subscribe(topic)
    const { lc } = await client({ ...d.bootstrap(), peers: [junk.getMultiaddrs()[0]!.toString(), ...d.bootstrap().peers] })
    await until(() => junk.services.pubsub.getSubscribers(topic).some(p => p.equals(lc.libp2p.peerId)))
    // a BlockMsg tuple whose header is truncated CBOR. Seeing the client's subscription does not mean
    // gossipsub has opened its outbound stream yet (a publish before that is dropped), so publish until it lands
    const junkBlock = Uint8Array.of(0x83, 0x44, 0x01, 0x02, 0x03, 0x04, 0x80, 0x80)
    let published = 0
    const rejection = await until(async () => {
      const r = lc.status().lastRejection
      if (r != null) return r
      if (Date.now() - published > 1000) {
        published = Date.now()
        await junk.services.pubsub.publish(topic, junkBlock).catch(() => {})
      }
      return undefined
    })
    expect(rejection.peer).toBe(junk.peerId.toString())
    expect(rejection.name).toMatch(/Malformed/)
    await until(() => lc.status().peers.every(p => p.id !== junk.peerId.toString()))
    await until(() => lc.status().verifiedHeight >= 2)
  })
})

async function startReset (dataDir: string, running: Devnet): Promise<Devnet> {
  await running.stop()
  const d = await startDevnet({ dataDir, distDir: '/nonexistent', serveApp: false, reset: true })
  cleanups.push(d.stop)
  return d
}
