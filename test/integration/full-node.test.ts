// A devnet and a full node (startFullNode) on loopback: the node fetches the genesis state, syncs by
// chain exchange with messages, re-executes every block and ends with the devnet's state root at every
// height; restarted from its folder it continues. A block signed with the producer's own key but with a
// wrong state root, gossiped or served by chain exchange, is refused by name, not stored, and its sender
// scored down and hung up on.
import { describe, it, expect, afterEach } from 'vitest'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { startDevnet, type Devnet } from '../../src/node/devnet'
import { startFullNode, requestGenesis, type FullNode } from '../../src/node/full-node'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { ChainDb } from '../../src/node/chain-db'
import { loadOrCreateProducerKey, loadOrCreateBeaconKey } from '../../src/node/keys'
import { resolveNetwork, NetworkArgumentError } from '../../src/node/resolve-network'
import {
  blocksTopic, encodeBlockMsg, produceHeader, currentBeaconRound, verifyBeaconEntry, signBeaconRound, secpPublicKey, secpAddressBytes, EMPTY_AMT_CID, EMPTY_TXMETA_CID,
  CHAIN_RULES_VERSION, type SealedHeader, type Genesis, type CID
} from '../../src/core'
import { createCofferLibp2p, serveChainExchange, runHello, beaconTopic, encodeBeaconEntryMsg, type CofferLibp2p } from '../../src/net'
import { until } from '../helpers/until'
import { beaconEntriesWith } from '../helpers/test-beacon'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

async function tmp (prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix))
  cleanups.push(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

async function devnet (dataDir: string): Promise<Devnet> {
  const d = await startDevnet({ dataDir, distDir: '/nonexistent', serveApp: false, faucetCooldownMs: 0 })
  cleanups.push(d.stop)
  return d
}

async function fullNode (d: Devnet | { bootstrap: () => ReturnType<Devnet['bootstrap']> }, dataDir: string, lines: string[] = []): Promise<FullNode> {
  const n = await startFullNode({ dataDir, bootstrap: d.bootstrap(), log: (l) => lines.push(l) })
  cleanups.push(n.stop)
  return n
}

/** Faucet payments to fresh addresses: each a message some block carries. */
async function payments (d: Devnet, count: number): Promise<CID[]> {
  const cids: CID[] = []
  for (let i = 0; i < count; i++) cids.push(await d.chain.faucet(secpAddressBytes(secpPublicKey(secp256k1.utils.randomSecretKey()))))
  return cids
}

/** The node's stored header at every height up to `top` is the devnet's (so its state root and receipts are too). */
async function sameChain (d: Devnet, n: FullNode, top: number): Promise<void> {
  for (let h = 0; h <= top; h++) {
    const ours = await n.chain.headerAt(h)
    const theirs = await d.headerAt(h)
    expect(ours?.cid.toString(), `height ${h}`).toBe(theirs?.cid.toString())
    expect(String(ours?.header.parentStateRoot)).toBe(String(theirs?.header.parentStateRoot))
  }
}

const withMessages = async (d: Devnet, upTo: number): Promise<number> => {
  let carrying = 0
  for (let h = 1; h <= upTo; h++) {
    const m = d.chain.messagesOf((await d.headerAt(h))!)
    if (m !== undefined && m.secp.length + m.bls.length > 0) carrying++
  }
  return carrying
}

describe('full node', () => {
  it('syncs from genesis re-executing every block, follows gossip, and continues after a restart', async () => {
    const d = await devnet(await tmp('coffer-devnet-'))
    const early = await payments(d, 3)
    await until(() => d.head().header.height >= 3)
    const dir = await tmp('coffer-node-')
    const n = await fullNode(d, dir)
    await n.synced()
    await payments(d, 2)
    const target = d.head().header.height + 2
    await until(() => n.chain.head().header.height >= target)
    await sameChain(d, n, target)
    expect(await withMessages(d, target)).toBeGreaterThanOrEqual(2)
    // the receipts the node computed itself say the payments went through
    for (const cid of early) expect((await n.chain.searchMessage(cid))?.receipt.exitCode).toBe(0)
    await n.stop()

    // the devnet runs on, with more payments; the node starts again from its folder and catches up
    await payments(d, 2)
    const later = d.head().header.height + 3
    await until(() => d.head().header.height >= later)
    const again = await fullNode(d, dir)
    expect(again.chain.head().header.height).toBeGreaterThanOrEqual(target)
    await again.synced()
    await until(() => again.chain.head().header.height >= later)
    await sameChain(d, again, later)
    expect(again.sync.applied).toBeLessThanOrEqual(again.chain.head().header.height - target + 2) // continued, not restarted from genesis
  })

  it('hears the devnet\'s beacon rounds by gossip, each verified, and rejects a forged round from a peer', async () => {
    const d = await devnet(await tmp('coffer-devnet-'))
    const lines: string[] = []
    const n = await fullNode(d, await tmp('coffer-node-'), lines)
    await n.synced()
    // the next round, due within a period: gossip brings it, signed by the key genesis names
    const next = currentBeaconRound(d.genesis.state.beacon, Math.floor(Date.now() / 1000)) + 1
    const got = await n.beacon.entry(next)
    expect(() => verifyBeaconEntry(d.genesis.state.beacon.publicKey, got)).not.toThrow()
    // the block at that height carries the same round (the devnet's beacon keeps the chain's pace)
    await until(() => d.head().header.height >= next)
    expect((await d.headerAt(next))!.header.beaconEntries.at(-1)).toEqual(got)
    // a peer publishing a round signed by another key is rejected by name (gossipsub scores it down for it)
    const rogueNode = await createCofferLibp2p({ listen: ['/ip4/127.0.0.1/tcp/0/ws'], network: d.genesis.state.network, allowLoopbackDials: true })
    cleanups.push(async () => { await rogueNode.stop() })
    const topic = beaconTopic(d.genesis.state.network)
    rogueNode.services.pubsub.subscribe(topic)
    await rogueNode.dial(n.libp2p.getMultiaddrs()[0]!)
    const future = next + 3
    await until(async () => {
      const now = currentBeaconRound(d.genesis.state.beacon, Math.floor(Date.now() / 1000))
      const forged = { round: now, data: signBeaconRound(new Uint8Array(32).fill(5), now) }
      await rogueNode.services.pubsub.publish(topic, encodeBeaconEntryMsg(forged)).catch(() => {})
      return lines.some(l => l.startsWith(`gossip: beacon entry from ${rogueNode.peerId.toString()} rejected: BadBeaconSignatureError`))
    })
    const honest = await n.beacon.entry(future)
    expect(() => verifyBeaconEntry(d.genesis.state.beacon.publicKey, honest)).not.toThrow()
  })

  it('starts from a folder a kill left during the genesis fetch (genesis keys and state blocks written, no head)', async () => {
    const d = await devnet(await tmp('coffer-devnet-'))
    // what an earlier version left when killed between its writes: the state blocks, then the genesis keys,
    // but not yet the header and head pointer (its next start crashed opening a chain with no head)
    const fetcher = await createCofferLibp2p({ listen: ['/ip4/127.0.0.1/tcp/0/ws'], network: d.genesis.state.network, allowLoopbackDials: true })
    cleanups.push(async () => { await fetcher.stop() })
    const addr = multiaddr(d.bootstrap().peers[0]!)
    await fetcher.dial(addr)
    const { genesis, store } = await requestGenesis(fetcher, peerIdFromString(addr.getComponents().find(c => c.name === 'p2p')!.value!), d.genesis.header.cid)
    const dir = await tmp('coffer-node-')
    const db = await ChainDb.open(dir)
    await db.putBlocks(store.unpersisted())
    await db.putAll({ 'genesis/header': genesis.header.bytes, 'genesis/root': genesis.rootBytes, 'genesis/state': genesis.stateBytes })
    expect(await db.headHeight()).toBeUndefined()
    await db.close()
    await until(() => d.head().header.height >= 2)
    const n = await fullNode(d, dir)
    await n.synced()
    expect((await n.chain.headerAt(0))?.cid.equals(d.genesis.header.cid)).toBe(true)
    await sameChain(d, n, 2)
  })

  it('refuses a folder stored under other chain rules (an older version\'s) as OldDataDirError, and one whose head it cannot read', async () => {
    const d = await devnet(await tmp('coffer-devnet-'))
    const dir = await tmp('coffer-node-')
    const first = await fullNode(d, dir)
    await first.synced()
    await first.stop()
    let db = await ChainDb.open(dir)
    await db.putAll({ 'genesis/rules': new TextEncoder().encode('3') })
    await db.close()
    await expect(startFullNode({ dataDir: dir, bootstrap: d.bootstrap() })).rejects.toMatchObject({ name: 'OldDataDirError' })
    // an older layout's head pointer (a height as text)
    db = await ChainDb.open(dir)
    await db.putAll({ 'meta/head': new TextEncoder().encode('12'), 'genesis/rules': new TextEncoder().encode(String(CHAIN_RULES_VERSION)) })
    await db.close()
    await expect(startFullNode({ dataDir: dir, bootstrap: d.bootstrap() })).rejects.toMatchObject({ name: 'OldDataDirError' })
  })

  it('refuses a block with a wrong state root, gossiped or served by chain exchange: named, not stored, sender scored down and hung up on', async () => {
    const dataDir = await tmp('coffer-devnet-')
    const d = await devnet(dataDir)
    await payments(d, 2)
    await until(() => d.head().header.height >= 3)
    const lines: string[] = []
    const n = await fullNode(d, await tmp('coffer-node-'), lines)
    await n.synced()
    // the producer stops; its key (from its data folder) signs blocks whose only fault is the state root
    await d.stop()
    const db = await ChainDb.open(dataDir)
    const producerKey = await loadOrCreateProducerKey(db)
    const beaconKey = await loadOrCreateBeaconKey(db)
    await db.close()
    await until(() => n.chain.head().header.height === d.head().header.height)
    const head = n.chain.head()
    const wrongRoot = d.genesis.header.header.parentStateRoot // a real state, just not this block's
    const forge = (parent: SealedHeader): SealedHeader => produceHeader(parent, d.genesis, producerKey, Math.max(Math.floor(Date.now() / 1000), parent.header.timestamp + 1), beaconEntriesWith(beaconKey, parent, d.genesis), {
      parentStateRoot: wrongRoot, parentMessageReceipts: EMPTY_AMT_CID, messages: EMPTY_TXMETA_CID, blsAggregate: null
    })
    const bad1 = forge(head)
    const bad2 = forge(bad1)

    // 1. gossiped straight on top of the node's head
    const gossiper = await rogue(d.genesis, [bad1], n, { hello: false })
    await until(async () => {
      await gossiper.libp2p.services.pubsub.publish(blocksTopic(d.genesis.state.network), encodeBlockMsg(bad1)).catch(() => {})
      return lines.some(l => l.includes('StateRootMismatchError'))
    })
    await until(() => n.libp2p.getConnections(gossiper.libp2p.peerId).length === 0)
    // gossipsub's own verdict on the sender, kept after the hang-up (retainScore); it caches a score for up to a heartbeat
    const score = (): number => (n.libp2p.services.pubsub as unknown as { getScore: (peer: string) => number }).getScore(gossiper.libp2p.peerId.toString())
    await until(() => score() < 0)
    expect(await n.chain.headerAt(bad1.header.height)).toBeUndefined()
    expect(n.chain.head().cid.equals(head.cid)).toBe(true)

    // 2. announced by hello two blocks up and served by chain exchange: sync refuses it by name and drops the peer
    const before = lines.length
    const server = await rogue(d.genesis, [bad1, bad2], n)
    await until(() => lines.slice(before).some(l => l.includes('StateRootMismatchError') && l.includes(server.libp2p.peerId.toString())))
    await until(() => n.libp2p.getConnections(server.libp2p.peerId).length === 0)
    expect(await n.chain.headerAt(bad1.header.height)).toBeUndefined()
    expect(n.chain.head().cid.equals(head.cid)).toBe(true)
  })

  it('refuses a peer announcing a head no chain can have reached yet, before fetching anything', async () => {
    const d = await devnet(await tmp('coffer-devnet-'))
    const lines: string[] = []
    const n = await fullNode(d, await tmp('coffer-node-'), lines)
    await n.synced()
    // a hello naming a head a million blocks up: more than the seconds since genesis
    const fake = { ...d.head(), header: { ...d.head().header, height: 1_000_000, parentWeight: 1_000_000n } }
    const liar = await rogue(d.genesis, [fake], n, { hello: true, gossip: false })
    await until(() => lines.some(l => l.includes('ImpossibleHeadError') && l.includes(liar.libp2p.peerId.toString())))
    await until(() => n.libp2p.getConnections(liar.libp2p.peerId).length === 0)
    expect(n.sync.bestKnownHeight).toBeLessThan(1_000_000)
  })

  it('resolves --network from a peer multiaddr (genesis over the genesis protocol, trusted on first use) and from a saved file', async () => {
    const d = await devnet(await tmp('coffer-devnet-'))
    const printed: string[] = []
    const fromPeer = await resolveNetwork(d.bootstrap().peers[0]!, { log: (l) => printed.push(l) })
    expect(fromPeer.genesis.cid).toBe(d.genesis.header.cid.toString())
    expect(fromPeer.peers).toEqual([d.bootstrap().peers[0]])
    expect(printed.join('\n')).toContain(d.genesis.header.cid.toString())
    const file = path.join(await tmp('coffer-net-'), 'network.json')
    await writeFile(file, JSON.stringify(d.bootstrap()))
    expect((await resolveNetwork(file)).genesis.cid).toBe(d.genesis.header.cid.toString())
    await expect(resolveNetwork('not-a-network')).rejects.toThrow(NetworkArgumentError)
    // a node joined by multiaddr alone syncs as well
    // (the devnet may not have made its first block yet: synced() is then rightly at height 0, so wait for one)
    await until(() => d.head().header.height >= 1)
    const n = await fullNode({ bootstrap: () => fromPeer }, await tmp('coffer-node-'))
    await n.synced()
    await until(() => n.chain.head().header.height >= 1)
  })
})

/**
 * A peer holding forged blocks `chain` (ascending, on the node's head): it announces the top by hello,
 * (unless `hello` is false) serves them (no messages) by chain exchange, and gossips on the block topic once the node is in its mesh.
 */
async function rogue (genesis: Genesis, chain: SealedHeader[], n: FullNode, opts: { hello?: boolean, gossip?: boolean } = {}): Promise<{ libp2p: CofferLibp2p }> {
  const network = genesis.state.network
  const libp2p = await createCofferLibp2p({ listen: ['/ip4/127.0.0.1/tcp/0/ws'], network, allowLoopbackDials: true })
  cleanups.push(async () => { await libp2p.stop() })
  const top = chain[chain.length - 1]!
  await serveChainExchange(libp2p, {
    headersFrom: async (cid, length) => {
      const at = chain.findIndex(h => h.cid.equals(cid))
      return at < 0 ? null : chain.slice(Math.max(0, at - length + 1), at + 1).reverse()
    },
    messagesOf: () => ({ bls: [], secp: [] })
  })
  if (opts.hello !== false) await runHello(libp2p, { genesisCid: genesis.header.cid, head: () => top, onError: () => {}, clockNs: () => BigInt(Date.now()) * 1_000_000n })
  if (opts.gossip === false) {
    await libp2p.dial(n.libp2p.getMultiaddrs()[0]!)
    return { libp2p }
  }
  libp2p.services.pubsub.subscribe(blocksTopic(network))
  await libp2p.dial(n.libp2p.getMultiaddrs()[0]!)
  await until(() => libp2p.services.pubsub.getSubscribers(blocksTopic(network)).some(p => p.equals(n.libp2p.peerId)))
  return { libp2p }
}
