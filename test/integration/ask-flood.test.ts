// Issue 12, bad input: a flood of ask announcements. One peer, over one connection to each node, publishes
// announcements under a fresh gossip key each (keys cost nothing, so a per-author bound alone stops none of
// them): some name miners the chain does not have, some replay the genuine provider's ask as their own. The
// network keeps producing blocks, the genuine provider's ask still reaches a second subscriber through the
// flooded node, no flooded announcement is relayed, the flooded node's state reads stay bounded by the heads it
// saw (not by what was sent), and gossipsub scores the flooder down until it is graylisted.
import { describe, it, expect, afterEach } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { generateKeyPair, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { startDevnet } from '../../src/node/devnet'
import {
  createCofferLibp2p, subscribeAsks, publishAsk, askTopic, GOSSIP_SCORE_THRESHOLDS, ASK_RELAY_RATE,
  type CofferLibp2p, type AskTopicInit
} from '../../src/net'
import {
  getMinerInfo, listMiners, idAddressBytes, secpAddressBytes, secpPublicKey, signStorageAsk, encodeSignedStorageAsk, type SignedStorageAsk
} from '../../src/core'
import { until } from '../helpers/until'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

async function node (network: string, listen = false): Promise<CofferLibp2p> {
  const p = await createCofferLibp2p({ allowLoopbackDials: true, network, listen: listen ? ['/ip4/127.0.0.1/tcp/0/ws'] : [] })
  cleanups.push(async () => { await p.stop() })
  return p
}

/**
 * Publishes `data` in a gossip envelope signed by a key made for this one message, as a flooder does: gossipsub
 * signs with the publishConfig it made from the node's own key, so we hand it one made from a fresh key
 * (@libp2p/gossipsub utils/publishConfig.js: { type: Signing, author, key: protobuf public key, privateKey }).
 */
async function publishAsFreshAuthor (flooder: CofferLibp2p, topic: string, data: Uint8Array): Promise<string> {
  const privateKey = await generateKeyPair('Ed25519')
  const author = peerIdFromPrivateKey(privateKey)
  const pubsub = flooder.services.pubsub as unknown as { publishConfig: unknown }
  const own = pubsub.publishConfig
  pubsub.publishConfig = { type: 0 /* PublishConfigType.Signing */, author, key: publicKeyToProtobuf(privateKey.publicKey), privateKey }
  try {
    await flooder.services.pubsub.publish(topic, data)
  } finally {
    pubsub.publishConfig = own
  }
  return author.toString()
}

describe('a flood of ask announcements from fresh keys', () => {
  it('is refused at the first node at a bounded cost; the chain goes on and the genuine ask still travels', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'coffer-ask-flood-'))
    cleanups.push(async () => { await rm(dataDir, { recursive: true, force: true }) })
    const d = await startDevnet({ dataDir, distDir: '/nonexistent', serveApp: false, providers: 1 })
    cleanups.push(d.stop)
    const network = d.genesis.state.network
    const topic = askTopic(network)
    const provider = d.providers[0]!

    // H: the node under flood, validating asks against the chain's state with the reads a node makes
    // (listMiners and getMinerInfo at its head), counted, with the head keys it saw
    const reads = { lists: 0, infos: 0 }
    const heads = new Set<string>()
    const relayedToH: Array<{ author: string | undefined, relay: string, err: string }> = []
    const reading: Pick<AskTopicInit, 'minerInfoOf' | 'minersOf' | 'headKey' | 'epoch'> = {
      minerInfoOf: (m) => d.chain.readState((s, r) => getMinerInfo(s, r, m)),
      minersOf: () => d.chain.readState((s, r) => listMiners(s, r)),
      headKey: () => d.chain.head().cid.toString(),
      epoch: () => d.chain.head().header.height
    }
    const h = await node(network, true)
    subscribeAsks(h, network, {
      minerInfoOf: (m) => { reads.infos++; return reading.minerInfoOf(m) },
      minersOf: () => { reads.lists++; return reading.minersOf!() },
      headKey: () => { const k = reading.headKey!(); heads.add(k); return k },
      epoch: reading.epoch,
      onRefused: (err, author, relay) => { relayedToH.push({ author, relay, err: err.name }) }
    })
    // S: a second honest subscriber, connected to H alone; it records every announcement that reaches it
    const atS: Array<{ author: string | undefined, ok: boolean, atMs: number }> = []
    const s = await node(network)
    subscribeAsks(s, network, {
      ...reading,
      onAsk: (a) => { atS.push({ author: a.peer, ok: true, atMs: Date.now() }) },
      onRefused: (_err, author) => { atS.push({ author, ok: false, atMs: Date.now() }) }
    })
    // F: the flooder, with one connection to H and one to the devnet's node
    const f = await node(network)

    await h.dial(d.libp2p.getMultiaddrs()[0]!)
    await h.dial(provider.libp2p.getMultiaddrs()[0]!)
    await s.dial(h.getMultiaddrs()[0]!)
    await f.dial(h.getMultiaddrs()[0]!)
    await f.dial(d.libp2p.getMultiaddrs()[0]!)
    await until(() => f.services.pubsub.getSubscribers(topic).length >= 2, 20_000)

    // what the flood carries: asks for miners the chain does not have, and the provider's genuine ask as if written by another
    const genuine: SignedStorageAsk = await provider.provider.ask()
    const junkKey = secp256k1.utils.randomSecretKey()
    const junkWorker = secpAddressBytes(secpPublicKey(junkKey))
    const FLOOD = 120
    const flooders = new Set<string>()
    const startHeight = d.head().header.height
    const floodStart = Date.now()
    for (let i = 0; i < FLOOD; i++) {
      const data = i % 2 === 0
        ? encodeSignedStorageAsk(signStorageAsk(junkKey, junkWorker, { ...genuine.ask, miner: idAddressBytes(50_000 + i) }))
        : encodeSignedStorageAsk(genuine)
      flooders.add(await publishAsFreshAuthor(f, topic, data))
    }

    // the flooder is scored down on the ask topic until H drops what it sends unread (graylisted)
    const fId = f.peerId.toString()
    const scoreOf = (peer: string): number => (h.services.pubsub as unknown as { getScore: (p: string) => number }).getScore(peer)
    await until(() => scoreOf(fId) < GOSSIP_SCORE_THRESHOLDS.graylistThreshold, 20_000)

    // the genuine provider announces as it does every few epochs; S hears it through H after the flood
    const pId = provider.libp2p.peerId.toString()
    await until(async () => {
      await publishAsk(provider.libp2p, network, genuine).catch(() => {})
      return atS.some(x => x.ok && x.author === pId && x.atMs >= floodStart)
    }, 20_000)
    // and the chain keeps going: the devnet's head moves on after the flood
    await until(() => d.head().header.height >= startHeight + 3, 20_000)

    // nothing the flood carried was relayed: S heard no flooder, and H got flooded asks only from F itself
    expect(atS.filter(x => x.author !== undefined && flooders.has(x.author))).toEqual([])
    const fromFlood = relayedToH.filter(x => x.author !== undefined && flooders.has(x.author))
    expect(fromFlood.length).toBeGreaterThan(0)
    expect(fromFlood.filter(x => x.relay !== fId)).toEqual([])
    // what H made of them: unknown miners and replayed asks refused by name; past the relay's bound, a relay flood
    const kinds = new Set(fromFlood.map(x => x.err))
    expect(kinds.has('AskPeerMismatchError')).toBe(true)
    expect(kinds.has('AskUnknownMinerError')).toBe(true)
    expect(fromFlood.length).toBeGreaterThan(ASK_RELAY_RATE.burst) // the flood went past the relay's bound before the graylist
    // the state reads: at most one miner list and one record of the one miner per head seen, whatever the flood's size
    expect(reads.lists).toBeLessThanOrEqual(heads.size)
    expect(reads.infos).toBeLessThanOrEqual(heads.size)
    expect(reads.lists + reads.infos).toBeLessThan(fromFlood.length)
  }, 60_000)
})
