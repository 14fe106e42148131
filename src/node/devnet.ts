// A local Coffer devnet in one process: genesis on first start, a producer signing one header per epoch,
// libp2p (ws on loopback) serving hello, chain exchange and header gossip, and the PWA plus its bootstrap
// document over HTTP. Everything persists under `dataDir`, so a restart continues the same chain.
import { tryWebRtcDirect } from './optional-webrtc-direct'
import { rm, mkdir } from 'node:fs/promises'
import {
  createGenesis, openGenesis, decodeHeader, idAddressBytes, blsPublicKey, encodeBlockMsg, blocksTopic,
  chainCid, secpPublicKey, secpAddressBytes, addressToString, parseFil,
  MemoryBlockStore, DEFAULT_MARKET_PARAMS, getActor, POWER_ACTOR_ADDRESS, listMiners, idOf, type Genesis, type SealedHeader,
  CHAIN_RULES_VERSION, beaconPublicKey,
  DEFAULT_F3_PARAMS, type F3Params
} from '../core'
import {
  createCofferLibp2p, makeBootstrap, BeaconRelay, gossipOf, type CofferLibp2p, type BootstrapDocument, type BootstrapProvider
} from '../net'
import { genesisProviders, startDevnetProviders, genesisProviderFolders, providerDir, FIRST_PROVIDER_ID, type RunningProvider, type DevnetProviderOptions } from './provider/devnet-providers'
import { superviseProviderChild, type ProviderChild } from './provider/provider-children'
import type { ProviderAskInit } from './provider/storage-provider'
import { serveChainNode } from './chain-node-services'
import { ChainDb, OldDataDirError, encodeRules, rulesOf } from './chain-db'
import { NodeChain } from './chain'
import { loadOrCreatePeerKey, loadOrCreateProducerKey, loadOrCreateFaucetKey, loadOrCreateBeaconKey } from './keys'
import { DevnetBeacon } from './devnet-beacon'
import { startBeaconPublisher } from './beacon-publisher'
import { startProducer, type Producer } from './producer'
import { startPublishingProducer } from './ec-producer'
import { startF3Service, type F3Service } from './f3'
import { followChain } from './chain-follower'
import { loadOrCreateProviderKeys } from './provider/provider-keys'
import { startAppServer, type AppServer } from './app-server'
import { startRpcServer, type RpcServer } from './rpc'
import { blockTopicValidator } from './gossip-validators'
import { encodeGenesisCar } from './full-node/genesis-car'

export interface DevnetInit {
  dataDir: string
  /** The devnet's own node also listens with WebRTC-Direct (any UDP port), listed in the bootstrap document. */
  webrtcDirect?: boolean
  /** Whether the devnet's node (and its in-process providers) are circuit relays for tabs (default yes). */
  relay?: boolean
  distDir: string
  reset?: boolean
  host?: string
  httpPort?: number
  p2pPort?: number
  blockDelayMs?: number
  network?: string
  /** Extra multiaddrs to list in the bootstrap document (tests add a second peer this way). */
  extraPeers?: string[]
  /** On a fresh chain, pre-sign this many back-dated headers (for sync benchmarks). */
  prefill?: number
  serveApp?: boolean
  /** Lotus-style JSON-RPC port (0 for any free port); none when left out. The CLI defaults it to 1234. */
  rpcPort?: number | null
  /** Serve with COOP/COEP so the page is cross-origin isolated (the bench's memory measurement needs it). */
  crossOriginIsolated?: boolean
  /** FIL the faucet sends per request, and how long an address waits before asking again. */
  faucetAmount?: bigint
  faucetCooldownMs?: number
  /**
   * How blocks are made, fixed at genesis: 'single' (when left out), one devnet key signs a block every epoch;
   * 'expected', Filecoin's Expected Consensus: the genesis providers win blocks by the storage they prove (their
   * pre-sealed genesis deals are the power the network starts from) and each provider's own producer makes them.
   */
  consensus?: 'single' | 'expected'
  /**
   * F3 finality (issue 14), fixed at genesis: the providers certify finalized tipsets on this schedule. Under
   * Expected Consensus DEFAULT_F3_PARAMS when left out; null, none. A single-producer chain has none.
   */
  f3?: F3Params | null
  /** Storage providers genesis creates (the count is fixed once the chain exists); none when left out. */
  providers?: number
  /** Epochs in a proving period (genesis parameter). */
  provingPeriod?: number
  /** Epochs from a payment channel's Settle to its Collect (genesis parameter); DEFAULT_PAYCH_PARAMS when left out. */
  paychSettleDelay?: number
  /** Changes provider `index`'s ask or limits (tests: a small capacity, a short grace). In-process providers only, but for the ask. */
  providerOptions?: (index: number) => DevnetProviderOptions | undefined
  /**
   * Runs each genesis provider as a child process (`coffer provider run --data <data>/providers/<id>`), as a provider
   * on another machine runs, instead of in this process; what `coffer devnet` (`npm start`) does. Tests keep the
   * in-process providers unless they set this.
   */
  providerProcesses?: boolean
  /**
   * IP addresses exempt from the node's gossip colocation penalty; loopback when left out (createCofferLibp2p).
   * A test passes [] so its crowd on 127.0.0.1 is scored as a crowd behind one NAT would be.
   */
  ipColocationWhitelist?: string[]
  log?: (line: string) => void
  nowMs?: () => number
}

export interface Devnet {
  url: string | null
  /** The JSON-RPC endpoint, http://127.0.0.1:1234/rpc/v1 by default. */
  rpcUrl: string | null
  genesis: Genesis
  libp2p: CofferLibp2p
  chain: NodeChain
  /** The faucet's f1 address (t1…), funded at genesis. */
  faucetAddress: string
  head: () => SealedHeader
  headerAt: (height: number) => Promise<SealedHeader | undefined>
  /** The stored run of tipsets from `head` down, as chain exchange serves it (every block of each tipset). */
  headerRun: ChainDb['headerRun']
  bootstrap: () => BootstrapDocument
  /** F3 finality certificates (issue 14); null on a chain whose genesis has no F3 schedule. */
  f3: F3Service | null
  /** In-process providers; empty with providerProcesses. */
  providers: RunningProvider[]
  /** Child-process providers (providerProcesses); empty otherwise. */
  providerChildren: ProviderChild[]
  /** Every genesis provider's gateway, whichever way it runs: what `coffer devnet` prints. */
  gateways: () => Array<{ address: string, url: string, free: boolean }>
  stop: () => Promise<void>
}

const PRODUCER_ID = 1000
/** An Expected Consensus devnet needs genesis providers: their pre-sealed deals are the power its first blocks are won by. */
export class NoGenesisPowerError extends Error {
  static override name = 'NoGenesisPowerError'
  override name = 'NoGenesisPowerError'
  constructor () { super('an Expected Consensus devnet needs at least one genesis provider (--providers 1 or more; or --consensus single, one devnet key signing every block): nobody else holds power to win its blocks') }
}

const sleep = async (ms: number): Promise<void> => { if (ms > 0) await new Promise(resolve => setTimeout(resolve, ms)) }

/** What genesis gives the faucet: 10% of Filecoin's supply, far more than a devnet hands out. */
const FAUCET_GENESIS_FIL = '200000000'

async function loadOrCreateGenesis (db: ChainDb, init: Required<Pick<DevnetInit, 'network' | 'blockDelayMs' | 'dataDir' | 'consensus'>> & { f3: F3Params | null, secret: Uint8Array, beaconSecret: Uint8Array, faucet: Uint8Array, prefill: number, nowMs: () => number, providers: number, provingPeriod: number, paychSettleDelay?: number }): Promise<Genesis> {
  const headerBytes = await db.getBytes('genesis/header')
  const rootBytes = await db.getBytes('genesis/root')
  const stateBytes = await db.getBytes('genesis/state')
  if (headerBytes !== undefined && (rootBytes === undefined || stateBytes === undefined)) throw new OldDataDirError(init.dataDir)
  // a chain executed under other rules: its state roots are not what this version computes
  if (headerBytes !== undefined && rulesOf(await db.getBytes('genesis/rules')) !== CHAIN_RULES_VERSION) throw new OldDataDirError(init.dataDir)
  if (headerBytes !== undefined && rootBytes !== undefined && stateBytes !== undefined) {
    try {
      return openGenesis(chainCid(headerBytes), headerBytes, rootBytes, stateBytes, decodeHeader)
    } catch (err) {
      // genesis parameters from before the storage market cannot be read
      if ((err as Error).name === 'MalformedMessageError') throw new OldDataDirError(init.dataDir)
      throw err
    }
  }
  // refused before anything is written: a folder left with an Expected Consensus genesis and nobody to mine it would
  // refuse every later start, --consensus single included, until --reset
  if (init.consensus === 'expected' && init.providers === 0) throw new NoGenesisPowerError()
  const { providers, allocations } = await genesisProviders(init.dataDir, init.providers)
  const nowSecs = Math.floor(init.nowMs() / 1000)
  const blockDelaySecs = Math.max(1, Math.round(init.blockDelayMs / 1000))
  // back-dated far enough that each prefilled block's epoch, and so its beacon round, is already due
  const genesisTime = nowSecs - (init.prefill + 1) * blockDelaySecs
  const genesis = createGenesis({
    network: init.network,
    producer: idAddressBytes(PRODUCER_ID),
    producerKey: blsPublicKey(init.secret),
    blockDelaySecs,
    ...(init.consensus === 'expected' ? { consensus: 'expected' as const } : {}),
    ...(init.consensus === 'expected' && init.f3 !== null ? { f3: init.f3 } : {}),
    // the beacon starts with the chain and keeps its pace: the block at height h carries round h
    beacon: { publicKey: beaconPublicKey(init.beaconSecret), genesisTime, periodSecs: blockDelaySecs },
    market: { ...DEFAULT_MARKET_PARAMS, provingPeriod: init.provingPeriod },
    ...(init.paychSettleDelay === undefined ? {} : { paych: { settleDelay: init.paychSettleDelay } })
  }, genesisTime, [{ address: secpAddressBytes(secpPublicKey(init.faucet)), balance: parseFil(FAUCET_GENESIS_FIL) }, ...allocations], providers)
  // state blocks, header and head in one batch, the genesis keys last: a kill between the two leaves a folder
  // without genesis keys, which starts over (a new genesis at height 0), never one with keys and no head
  await db.append(genesis.header, genesis.store!.unpersisted())
  await db.putAll({ 'genesis/header': genesis.header.bytes, 'genesis/root': genesis.rootBytes, 'genesis/state': genesis.stateBytes, 'genesis/rules': encodeRules(CHAIN_RULES_VERSION) })
  return genesis
}

export async function startDevnet (init: DevnetInit): Promise<Devnet> {
  const log = init.log ?? (() => {})
  const nowMs = init.nowMs ?? (() => Date.now())
  const host = init.host ?? '127.0.0.1'
  const blockDelayMs = init.blockDelayMs ?? 1000
  const network = init.network ?? 'coffer-devnet'

  await mkdir(init.dataDir, { recursive: true })
  let db = await ChainDb.open(init.dataDir) // takes the folder's lock before anything is touched
  if (init.reset === true) {
    await db.close()
    await rm(init.dataDir, { recursive: true, force: true })
    await mkdir(init.dataDir, { recursive: true })
    db = await ChainDb.open(init.dataDir)
    log(`reset: ${init.dataDir} starts over`)
  }

  const cleanups: Array<() => Promise<void>> = [async () => { await db.close() }]
  // each cleanup runs once, newest first: a second stop() (a test's own, then its afterAll) finds nothing left, where
  // reversing in place ran them all again oldest first (the database closed before the chain that writes to it)
  const stopAll = async (): Promise<void> => {
    for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {})
  }
  try {
    const secret = await loadOrCreateProducerKey(db)
    const beaconSecret = await loadOrCreateBeaconKey(db)
    const faucetKey = await loadOrCreateFaucetKey(db)
    const genesis = await loadOrCreateGenesis(db, {
      network, blockDelayMs, secret, beaconSecret, faucet: faucetKey, prefill: init.prefill ?? 0, nowMs, dataDir: init.dataDir, consensus: init.consensus ?? ((init.providers ?? 0) > 0 ? 'expected' : 'single'),
      f3: init.f3 === undefined ? DEFAULT_F3_PARAMS : init.f3,
      providers: init.providers ?? 0, provingPeriod: init.provingPeriod ?? DEFAULT_MARKET_PARAMS.provingPeriod, paychSettleDelay: init.paychSettleDelay
    })
    const headHeight = (await db.headHeight()) ?? 0
    let storedHead = (await db.headerAt(headHeight))!
    const store = new MemoryBlockStore()
    for await (const [, bytes] of db.allBlocks()) store.put(bytes)
    store.persisted(store.unpersisted().keys()) // these came from disk
    const faucetAddress = secpAddressBytes(secpPublicKey(faucetKey))
    const beacon = new DevnetBeacon(beaconSecret, genesis.state.beacon, nowMs)
    // under Expected Consensus the genesis providers make the blocks: there must be some, with their keys here
    const expected = genesis.state.consensus === 'expected'
    const genesisMiners = expected ? listMiners(store, genesis.header.header.parentStateRoot) : []
    if (expected && genesisMiners.length === 0) throw new NoGenesisPowerError()
    const minerKeys = await Promise.all(genesisMiners.map(async miner => ({ miner, workerSecretKey: (await loadOrCreateProviderKeys(providerDir(init.dataDir, Number(idOf(miner)) - FIRST_PROVIDER_ID))).worker })))
    /** The devnet's beacon, waited for (a producer asks for its next round before it is due). */
    const beaconSource = { entry: async (round: number) => { await sleep(beacon.roundTimeMs(round) - nowMs()); return await beacon.entry(round) } }
    const chain = await NodeChain.open({
      db, genesis, store, head: storedHead, producerKey: secret, nowMs, beacon,
      faucet: { secretKey: faucetKey, address: faucetAddress, amount: init.faucetAmount ?? parseFil('100'), cooldownMs: init.faucetCooldownMs ?? 60_000 }
    }).catch((err: Error) => {
      // a head block over the block gas limit was stored before that rule (issue 9): this version cannot execute it
      throw err.name === 'MalformedStateError' || err.name === 'ProofIncompleteError' || (err as { code?: string }).code === 'BLOCK_GAS_LIMIT' ? new OldDataDirError(init.dataDir) : err
    })
    cleanups.push(async () => { await chain.close() })
    // a chain from before miners were created on chain (issue 12) has no power actor (f04), and its providers'
    // records are in the older [Owner, Worker, PeerId] form: this version cannot read it
    if (chain.readState((s, r) => getActor(s, r, POWER_ACTOR_ADDRESS)) === null) throw new OldDataDirError(init.dataDir)
    // prefill: back-dated blocks on a new chain (genesis is dated before them), produced and executed as any
    // block is, so a full node re-executing them finds the roots they name (the proving period's cron moves state)
    if (headHeight === 0) {
      for (let i = 1; i <= (init.prefill ?? 0); i++) {
        if (!expected) { await chain.produce(genesis.header.header.timestamp + i * genesis.state.blockDelaySecs); continue }
        // each genesis provider's election on the same base, as their producers run it (null rounds where none wins)
        const base = chain.headTipSet().key
        for (const m of minerKeys) {
          const won = await chain.mine({ ...m, height: i, beacon: beaconSource, base })
          if (won !== null) await chain.submit(won)
        }
      }
      storedHead = chain.head()
    }

    // loaded only when asked for: it brings a native module (node-datachannel) no other node needs
    const rtc = init.webrtcDirect === true ? await tryWebRtcDirect(init.dataDir, host, 0, log) : { transports: [], listen: [] }
    const libp2p = await createCofferLibp2p({
      privateKey: await loadOrCreatePeerKey(db),
      listen: [`/ip4/${host}/tcp/${init.p2pPort ?? 0}/ws`, ...rtc.listen],
      transports: rtc.transports,
      network,
      // a circuit relay for tabs (issue 15 part 2), unless told not to be
      role: 'node',
      relayServer: init.relay !== false,
      ...(init.ipColocationWhitelist === undefined ? {} : { ipColocationWhitelist: init.ipColocationWhitelist })
    })
    cleanups.push(async () => {
      // a relay/listener can take long to stop after browsers vanish: bound it (NOTES.md)
      await Promise.race([libp2p.stop(), new Promise(resolve => setTimeout(resolve, 3000).unref())])
    })
    let producer: Producer | undefined
    const gossip = gossipOf(libp2p)
    const head = (): SealedHeader => expected ? chain.head() : producer?.head() ?? storedHead

    // Gossip is validated before it is relayed (issue 9): a topic's validator runs before a message is
    // delivered or forwarded, and a reject is charged to the peer that sent it, so junk stops here instead of
    // reaching light clients through us (which then blamed us for it).
    const topic = blocksTopic(network)
    // under Expected Consensus the providers' blocks are executed before they are relayed, and heads synced, as a full node does
    const follower = expected ? followChain({ libp2p, gossip, chain, nowMs, log }) : undefined
    if (follower === undefined) gossip.listen(topic, blockTopicValidator({ genesis: genesis.state, head, nowSecs: () => Math.floor(nowMs() / 1000), log }))
    await serveChainNode({ libp2p, gossip, chain, db, store, genesis, head, nowMs, log, ...(follower === undefined ? {} : { onHello: follower.onHello }) })
    // F3 (issue 14): the devnet's node keeps, relays and serves certificates; in-process providers vote through it
    const f3 = genesis.state.f3 === undefined ? null : await startF3Service({ libp2p, gossip, chain, db, genesis, params: genesis.state.f3, log })
    chain.finality = f3
    cleanups.push(async () => { await f3?.stop() })
    if (f3 !== null && init.providerProcesses !== true) for (const m of minerKeys) f3.addParticipant(m)
    // the beacon's rounds on the beacon topic, for producers in other processes (issue 13 part 5)
    // past rounds are served to who asks (a provider's first block after a stall carries every round since the last block)
    const beaconRelay = new BeaconRelay(libp2p, network, { beacon: genesis.state.beacon, nowMs, log, verified: chain.verifiedBeacon, serve: async (round) => await beacon.entry(round) })
    beaconRelay.start()
    const beaconPublisher = startBeaconPublisher({ beacon, relay: beaconRelay, clock: genesis.state.beacon, nowMs, log })
    cleanups.push(async () => { beaconPublisher.stop() })

    if (!expected) producer = startProducer({
      // the chain's own epoch (genesis), not this start's --block-time: a restart with another, or one under a
      // second, would make blocks faster than the beacon's rounds come
      produce: async (nowSecs) => await chain.produce(nowSecs), head: storedHead, blockDelayMs: genesis.state.blockDelaySecs * 1000, nowMs,
      onHeader: (h) => {
        gossip.publish(topic, encodeBlockMsg(h, chain.messagesOf(h))).catch((err: Error) => log(`gossip: ${err.message}`))
      },
      onError: (err) => log(`producer: ${(err as Error).message}`)
    })
    cleanups.push(async () => { await producer?.stop() })

    const providers = init.providerProcesses === true ? [] : await startDevnetProviders({ dataDir: init.dataDir, host, chain, log, options: init.providerOptions, webrtcDirect: init.webrtcDirect === true, relay: init.relay !== false })
    cleanups.push(async () => { for (const p of providers) await p.stop() })
    // in-process providers' producers run on this node's chain, one per miner with its own worker key (child
    // providers run theirs in their own processes)
    const producers = expected && init.providerProcesses !== true ? minerKeys.map(m => startPublishingProducer({ gossip, chain, beacon: beaconSource, nowMs, log, ...m })) : []
    cleanups.push(async () => { await Promise.all(producers.map(async p => { await p.stop() })) })
    const children: ProviderChild[] = []
    const childAsks: ProviderAskInit[] = []
    cleanups.push(async () => { await Promise.all(children.map(async c => { await c.stop() })) })

    const childPeers = (): string[] => children.flatMap(c => c.info()?.addrs ?? [])
    // the providers' own nodes are full nodes: peers as well as providers
    const peers = (): string[] => [...libp2p.getMultiaddrs().map(String), ...childPeers(), ...(init.extraPeers ?? [])]
    let rpc: RpcServer | undefined
    const providerList = (): BootstrapProvider[] => [
      ...providers.map(p => ({ address: p.address, peerId: p.libp2p.peerId.toString(), addrs: p.libp2p.getMultiaddrs().map(String), gateway: p.gateway.url })),
      ...children.flatMap(c => { const i = c.info(); return i === undefined ? [] : [{ address: i.miner, peerId: i.peerId, addrs: i.addrs, gateway: i.gateway }] })
    ]
    const bootstrap = (): BootstrapDocument => makeBootstrap(genesis, peers(), rpc?.url, providerList())

    let app: AppServer | undefined
    if (init.serveApp !== false) {
      app = await startAppServer({ distDir: init.distDir, host, port: init.httpPort ?? 5173, bootstrap, crossOriginIsolated: init.crossOriginIsolated, genesisCar: async () => await encodeGenesisCar(store, genesis) })
      cleanups.push(async () => { await app?.close() })
    }

    if (init.rpcPort !== undefined && init.rpcPort !== null) {
      // with the app served, only its pages (and tools that send no Origin) may call: any other web page
      // the user visits could otherwise drain the faucet through the browser
      const origin = app === undefined ? undefined : new URL(app.url).origin
      const allowedOrigins = origin === undefined ? undefined : [origin, origin.replace('//127.0.0.1:', '//localhost:')]
      rpc = await startRpcServer({ backend: chain, host, port: init.rpcPort, log, allowedOrigins })
      cleanups.push(async () => { await rpc?.close() })
    }

    if (init.providerProcesses === true) {
      // each folder gets what `coffer provider init` would write (the network, read by the child at its start) and
      // its miner, which genesis created; then the child is started and runs as any provider does
      const folders = await genesisProviderFolders({ dataDir: init.dataDir, chain, options: init.providerOptions })
      const network = makeBootstrap(genesis, libp2p.getMultiaddrs().map(String), rpc?.url)
      for (const f of folders) {
        await f.prepare(network)
        childAsks.push(f.ask)
        children.push(superviseProviderChild({ dir: f.dir, host, name: f.address, log, webrtcDirect: init.webrtcDirect === true, relay: init.relay !== false }))
      }
      await Promise.all(children.map(async c => await c.ready))
    }

    log(`genesis ${genesis.header.cid} (${network}), head at height ${storedHead.header.height}`)
    log(`libp2p ${peers().join(' ')}`)
    log(`faucet ${addressToString(faucetAddress, 't')}`)
    for (const p of providers) log(`provider ${p.address} ${p.libp2p.getMultiaddrs().map(String).join(' ')}`)
    for (const c of children) log(`provider ${c.name} (process ${String(c.pid())}) ${c.info()?.addrs.join(' ') ?? ''}`)
    const gateways = (): Array<{ address: string, url: string, free: boolean }> => [
      ...providers.map(p => ({ address: p.address, url: p.gateway.url, free: p.provider.retrievalTerms().pricePerGiB === 0n })),
      // a child's retrieval price is its devnet ask's (written to its ask.json)
      ...children.flatMap((c, i) => { const info = c.info(); return info === undefined ? [] : [{ address: c.name, url: info.gateway, free: childAsks[i]?.retrievalPricePerGiB === 0n }] })
    ]
    for (const g of gateways()) log(`gateway ${g.address} ${g.url} (/ipfs/{cid}, /piece/{pieceCid}; ${g.free ? 'free' : 'paid by voucher'})`)
    if (rpc !== undefined) log(`rpc ${rpc.url}`)
    if (app !== undefined) log(`app ${app.url}`)
    return { url: app?.url ?? null, rpcUrl: rpc?.url ?? null, genesis, libp2p, chain, f3, faucetAddress: addressToString(faucetAddress, 't'), head, headerAt: async (h) => await db.headerAt(h), headerRun: async (key, length) => await db.headerRun(key, length), bootstrap, providers, providerChildren: children, gateways, stop: stopAll }
  } catch (err) {
    await stopAll()
    throw err
  }
}

