// A Coffer full node: a NodeChain in follower mode over its own LevelDB folder, on its own libp2p node.
// It learns genesis state from its bootstrap peers (the genesis protocol, checked against the trusted
// genesis CID), syncs and re-executes every block (chain-sync.ts), validates gossiped blocks by executing
// them (block-validator.ts), and serves what light clients and other nodes ask: hello, chain exchange with
// messages, state proofs, the genesis CAR, block and message gossip, and optionally the JSON-RPC.
// `coffer node` runs one; a provider process runs one with its own peer key and adds its services. Under Expected
// Consensus it runs one producer per miner it is given the worker key of (ec-producer.ts), publishing what they win.
import { tryWebRtcDirect } from '../optional-webrtc-direct'
import { mkdir } from 'node:fs/promises'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PrivateKey, PeerId } from '@libp2p/interface'
import {
  CID, chainCid, openGenesis, decodeHeader, MemoryBlockStore,
  CHAIN_RULES_VERSION, type Genesis, type BeaconSource
} from '../../core'
import {
  createCofferLibp2p, genesisOf, BeaconRelay, gossipOf, type CofferLibp2p, type BootstrapDocument
} from '../../net'
import { ChainDb, OldDataDirError, encodeRules, rulesOf } from '../chain-db'
import { NodeChain } from '../chain'
import { loadOrCreatePeerKey } from '../keys'
import { startRpcServer, type RpcServer } from '../rpc'
import type { ChainSync } from './chain-sync'
import { untilSynced } from './synced'
import { requestGenesis } from './genesis-protocol'
import { serveChainNode } from '../chain-node-services'
import { startPublishingProducer, type EcProducer } from '../ec-producer'
import { followChain } from '../chain-follower'
import { startF3Service, type F3Service } from '../f3'

export { ChainSync, UnlinkedChainError, ExchangeAnswerError, ExchangeRefusedError, PeerBusyError, ImpossibleHeadError, isPeerFault } from './chain-sync'
export { fullBlockValidator } from './block-validator'
export { serveGenesis, requestGenesis, GENESIS_PROTOCOL, GenesisUnavailableError } from './genesis-protocol'
export * from './genesis-car'

export interface FullNodeInit {
  /** The node's LevelDB folder: genesis, headers, messages, state and (without `privateKey`) its peer key. */
  dataDir: string
  bootstrap: BootstrapDocument
  /** The libp2p identity (a provider's is its miner's PeerId); kept in the data folder when left out. */
  privateKey?: PrivateKey
  /** Listen multiaddrs; `/ip4/<host>/tcp/0/ws` when left out. */
  listen?: string[]
  /**
   * Also listen with WebRTC-Direct on UDP `port` (0: any), its certificate kept in the data folder (webrtc-direct.ts):
   * a browser reaches it with no CA-signed TLS certificate.
   */
  webrtcDirect?: { port?: number }
  /** Whether it is a circuit relay for tabs (default yes: `--no-relay` says no). */
  relay?: boolean
  announce?: string[]
  /** Lotus-style JSON-RPC port (0: any free port); none when null or left out. */
  rpcPort?: number | null
  host?: string
  log?: (line: string) => void
  nowMs?: () => number
  /**
   * The genesis with all its state blocks, for the first node of a network (no peer to fetch it from yet); it must
   * be the bootstrap document's. Ignored when the folder already holds the chain.
   */
  genesis?: Genesis
  /**
   * Under Expected Consensus, the miners whose blocks this node makes: each runs its own election every round
   * with its own worker key (one producer each), and what it wins is published on block gossip.
   */
  miners?: Array<{ miner: Uint8Array, workerSecretKey: Uint8Array }>
  /** Where the producers take beacon rounds from: the beacon gossip relay when left out. */
  beaconSource?: BeaconSource
}

export interface FullNode {
  chain: NodeChain
  libp2p: CofferLibp2p
  genesis: Genesis
  sync: ChainSync
  /** The beacon's rounds as gossip brings them, each verified under the genesis beacon key. */
  beacon: BeaconRelay
  /** F3 finality certificates (issue 14); null on a chain whose genesis has no F3 schedule. */
  f3: F3Service | null
  /** The JSON-RPC endpoint when one was asked for. */
  rpcUrl: string | null
  /** The producers running: `miners`' in its order, then those started since. */
  producers: EcProducer[]
  /** Starts a miner's producer on this node (a provider once it knows its miner ID): Expected Consensus only. */
  startProducer: (m: { miner: Uint8Array, workerSecretKey: Uint8Array }) => EcProducer
  /** Resolves once some peer told us its head and ours reached the best height announced then (synced.ts). */
  synced: () => Promise<void>
  stop: () => Promise<void>
}

/** The data folder holds another network's chain. */
export class DataDirNetworkError extends Error {
  static override name = 'DataDirNetworkError'
  override name = 'DataDirNetworkError'
  constructor (dir: string, held: string, wanted: string) { super(`data folder ${dir} holds the chain of genesis ${held}, not ${wanted}: use another --data folder`) }
}

/** No bootstrap peer served the genesis state. */
export class GenesisFetchError extends Error {
  static override name = 'GenesisFetchError'
  override name = 'GenesisFetchError'
  constructor (readonly failures: string[]) { super(`no bootstrap peer served the genesis state: ${failures.join('; ') || 'no peers listed'}`) }
}

/** How often the node checks that it is still connected to a bootstrap peer, and redials when not. */
const REDIAL_MS = 5_000

/** Node 20 has no global WebSocket, and libp2p's ws transport dials with it (NOTES.md): the `ws` package's has the same API. */
async function ensureWebSocket (): Promise<void> {
  if (typeof globalThis.WebSocket === 'undefined') {
    (globalThis as { WebSocket?: unknown }).WebSocket = (await import('ws')).WebSocket
  }
}

const peerOfAddr = (addr: string): PeerId | null => {
  const id = multiaddr(addr).getComponents().find(c => c.name === 'p2p')?.value
  return id === undefined ? null : peerIdFromString(id)
}

async function loadStoredGenesis (db: ChainDb, dir: string, trusted: CID): Promise<Genesis | null> {
  const headerBytes = await db.getBytes('genesis/header')
  const rootBytes = await db.getBytes('genesis/root')
  const stateBytes = await db.getBytes('genesis/state')
  if (headerBytes === undefined || rootBytes === undefined || stateBytes === undefined) return null
  const held = chainCid(headerBytes)
  if (String(held) !== String(trusted)) throw new DataDirNetworkError(dir, String(held), String(trusted))
  // the same genesis, but stored by a version with other chain rules or another layout: nothing in it can be read
  if (rulesOf(await db.getBytes('genesis/rules')) !== CHAIN_RULES_VERSION) throw new OldDataDirError(dir, 'delete the folder (or pass another --data) and start again')
  return openGenesis(trusted, headerBytes, rootBytes, stateBytes, decodeHeader)
}

/** Stores a genesis and its state blocks as the chain's first block (see fetchGenesis for the order). */
async function storeGenesis (db: ChainDb, genesis: Genesis): Promise<Genesis> {
  if (genesis.store === undefined) throw new RangeError('the genesis given has no state blocks')
  const store = new MemoryBlockStore()
  for (const bytes of genesis.store.blocks.values()) store.put(bytes)
  await db.append(genesis.header, store.unpersisted())
  await db.putAll({ 'genesis/header': genesis.header.bytes, 'genesis/root': genesis.rootBytes, 'genesis/state': genesis.stateBytes, 'genesis/rules': encodeRules(CHAIN_RULES_VERSION) })
  return genesis
}

/** Fetches the genesis CAR from the first bootstrap peer that serves it and stores genesis as the chain's first block. */
async function fetchGenesis (libp2p: CofferLibp2p, db: ChainDb, bootstrap: BootstrapDocument, trusted: CID, log: (line: string) => void): Promise<Genesis> {
  const failures: string[] = []
  for (const addr of bootstrap.peers) {
    try {
      const peer = peerOfAddr(addr)
      if (peer === null) throw new Error('no /p2p/ peer ID in the address')
      await libp2p.dial(multiaddr(addr), { signal: AbortSignal.timeout(10_000) })
      const { genesis, store } = await requestGenesis(libp2p, peer, trusted)
      // the state blocks, the header and the head pointer in one batch, then the genesis keys: a kill at
      // any point leaves either no genesis keys (fetched again) or a complete folder, never keys without a head
      await storeGenesis(db, { ...genesis, store })
      log(`genesis state: ${store.blocks.size} blocks from ${peer.toString()}`)
      return genesis
    } catch (err) {
      failures.push(`${addr}: ${(err as Error).name}: ${(err as Error).message}`)
    }
  }
  throw new GenesisFetchError(failures)
}

export async function startFullNode (init: FullNodeInit): Promise<FullNode> {
  const log = init.log ?? (() => {})
  const nowMs = init.nowMs ?? (() => Date.now())
  const host = init.host ?? '127.0.0.1'
  await ensureWebSocket()
  // the document's genesis bytes must hash to its CID and name its network before anything is trusted
  const docGenesis = genesisOf(init.bootstrap)
  const trusted = docGenesis.header.cid
  const network = docGenesis.state.network

  await mkdir(init.dataDir, { recursive: true })
  const db = await ChainDb.open(init.dataDir)
  const cleanups: Array<() => Promise<void>> = [async () => { await db.close() }]
  const stopAll = async (): Promise<void> => {
    for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {})
  }
  try {
    // loaded only when asked for: it brings a native module (node-datachannel) no other node needs
    const rtc = init.webrtcDirect === undefined ? { transports: [], listen: [] } : await tryWebRtcDirect(init.dataDir, host, init.webrtcDirect.port ?? 0, log)
    const libp2p = await createCofferLibp2p({
      privateKey: init.privateKey ?? await loadOrCreatePeerKey(db),
      listen: [...(init.listen ?? [`/ip4/${host}/tcp/0/ws`]), ...rtc.listen],
      transports: rtc.transports,
      ...(init.announce === undefined ? {} : { announce: init.announce }),
      network,
      // a circuit relay for tabs, as every node is (issue 15 part 2), unless told not to be
      role: 'node',
      ...(init.relay === false ? { relayServer: false } : {}),
      // a devnet's peers are on loopback, which libp2p's gater would refuse to dial
      allowLoopbackDials: true
    })
    cleanups.push(async () => {
      await Promise.race([libp2p.stop(), new Promise(resolve => setTimeout(resolve, 3000).unref())])
    })

    // no head: the folder was never started, or a start was killed during the genesis fetch (an older
    // version wrote the genesis keys before the head): fetch genesis again rather than open a chain with no head
    // a head this version cannot read is a folder from an older layout
    const storedHead = await db.headKey().catch(() => { throw new OldDataDirError(init.dataDir, 'delete the folder (or pass another --data) and start again') })
    let genesis = storedHead === undefined ? null : await loadStoredGenesis(db, init.dataDir, trusted)
    const fresh = genesis === null
    if (genesis === null && init.genesis !== undefined) {
      if (!init.genesis.header.cid.equals(trusted)) throw new DataDirNetworkError(init.dataDir, String(init.genesis.header.cid), String(trusted))
      genesis = await storeGenesis(db, init.genesis)
    }
    genesis ??= await fetchGenesis(libp2p, db, init.bootstrap, trusted, log)
    const store = new MemoryBlockStore()
    for await (const [, bytes] of db.allBlocks()) store.put(bytes)
    store.persisted(store.unpersisted().keys()) // these came from disk
    const head = (await db.headerAt((await db.headHeight()) ?? 0))!
    const chain = await NodeChain.open({ db, genesis, store, head, nowMs })
    cleanups.push(async () => { await chain.close() })

    const gossip = gossipOf(libp2p)
    const { sync, onHello } = followChain({ libp2p, gossip, chain, nowMs, log })
    const beacon = new BeaconRelay(libp2p, network, { beacon: genesis.state.beacon, nowMs, log, verified: chain.verifiedBeacon })
    beacon.start()
    await serveChainNode({ libp2p, gossip, chain, db, store, genesis, head: () => chain.head(), nowMs, log, onHello })
    // F3 (issue 14): every node keeps, checks, relays and serves the certificates; its miners vote
    const f3 = genesis.state.f3 === undefined ? null : await startF3Service({ libp2p, gossip, chain, db, genesis, params: genesis.state.f3, log })
    chain.finality = f3
    cleanups.push(async () => { await f3?.stop() })

    // the connections made to fetch genesis said no hello (nothing served it then): start them over
    if (fresh) for (const c of libp2p.getConnections()) await c.close().catch(() => {})
    const bootstrapPeers = init.bootstrap.peers.filter(a => peerOfAddr(a)?.equals(libp2p.peerId) !== true)
    const dialBootstrap = async (): Promise<void> => {
      const connected = new Set(libp2p.getConnections().map(c => c.remotePeer.toString()))
      await Promise.allSettled(bootstrapPeers.filter(a => !connected.has(peerOfAddr(a)?.toString() ?? '')).map(async a =>
        await libp2p.dial(multiaddr(a), { signal: AbortSignal.timeout(10_000) })))
    }
    await dialBootstrap()
    let redialing = false
    const redial = setInterval(() => {
      if (redialing) return
      redialing = true
      void dialBootstrap().finally(() => { redialing = false })
    }, REDIAL_MS)
    redial.unref()
    cleanups.push(async () => { clearInterval(redial) })

    let rpc: RpcServer | undefined
    if (init.rpcPort !== undefined && init.rpcPort !== null) {
      rpc = await startRpcServer({ backend: chain, host, port: init.rpcPort, log })
      cleanups.push(async () => { await rpc?.close() })
    }

    const synced = async (): Promise<void> => {
      await untilSynced(sync, () => chain.head().header.height, async () => { await new Promise(resolve => setTimeout(resolve, 50)) })
    }
    const producers: EcProducer[] = []
    cleanups.push(async () => { await Promise.all(producers.map(async p => { await p.stop() })) })
    const startProducer = (m: { miner: Uint8Array, workerSecretKey: Uint8Array }): EcProducer => {
      const p = startPublishingProducer({ gossip, chain, beacon: init.beaconSource ?? beacon, nowMs, log, ...m })
      producers.push(p)
      f3?.addParticipant(m)
      return p
    }
    for (const m of init.miners ?? []) startProducer(m)

    log(`genesis ${genesis.header.cid} (${network}), head at height ${chain.head().header.height}`)
    log(`peer ${libp2p.peerId.toString()}`)
    log(`libp2p ${libp2p.getMultiaddrs().map(String).join(' ')}`)
    if (rpc !== undefined) log(`rpc ${rpc.url}`)
    return { chain, libp2p, genesis, sync, beacon, f3, rpcUrl: rpc?.url ?? null, producers, startProducer, synced, stop: stopAll }
  } catch (err) {
    await stopAll()
    throw err
  }
}
