// `coffer provider run`: a storage provider as a program of its own. It runs a full node (its libp2p peer ID is
// the miner's PeerId), syncs and validates the chain itself, creates its miner if the folder has none, keeps the
// miner's on-chain PeerId and Multiaddrs equal to this run's, then runs the provider services on that node and
// announces its signed ask on the ask topic every few epochs and whenever it changes. It shares no memory or
// files with any other node: everything it knows of the network comes over libp2p.
import path from 'node:path'
import { mkdir } from 'node:fs/promises'
import { startFullNode, type FullNode } from '../full-node'
import { idAddressBytes } from '../../core'
import { publishAsk } from '../../net/ask-gossip'
import { loadOrCreateProviderKeys, type ProviderKeys } from './provider-keys'
import { existsSync } from 'node:fs'
import { startProviderServices, type ProviderServices, type ProviderServiceOptions } from './provider-services'
import { devnetAsk, providerChain } from './devnet-providers'
import { loadNetwork, readAsk, dealsStopped, ProviderNotInitializedError } from './provider-folder'
import { ensureMiner, syncMinerInfo, workerAddress, type JoinInit } from './join'
import { answerWithdrawRequest, withdrawFunds } from './leave'
import { writeFileDurably } from './durable-write'
import { rm } from 'node:fs/promises'
import type { ProviderAskInit } from './storage-provider'

/** Epochs between two announcements of an unchanged ask (an ask lives 600 epochs; a client that opened late hears it within these). */
export const ASK_ANNOUNCE_EPOCHS = 5

export interface ProviderProcessInit {
  dir: string
  /** The address its libp2p and gateway listen on; 127.0.0.1 when left out. */
  host?: string
  p2pPort?: number
  gatewayPort?: number
  /** Addresses to record on chain and tell peers instead of the listen address (behind NAT, or a proxy). */
  announce?: string[]
  /** Also listen with WebRTC-Direct on UDP `port` (0: any), so a browser reaches it without a TLS certificate. */
  webrtcDirect?: { port?: number }
  /** Whether its node is a circuit relay for tabs (default yes). */
  relay?: boolean
  options?: ProviderServiceOptions
  log?: (line: string) => void
}

export interface ProviderProcess {
  /** t01004 … */
  miner: string
  peerId: string
  multiaddrs: string[]
  gatewayUrl: string
  node: FullNode
  services: ProviderServices
  /** Milliseconds from start to the miner running its services (syncing and joining included). */
  startupMs: number
  stop: () => Promise<void>
}

/** The ask a provider that brings no ask.json sells at: the first devnet provider's terms, with free retrieval. */
export const DEFAULT_ASK: ProviderAskInit = { ...devnetAsk(0), retrievalPricePerGiB: 0n }

export async function runProviderProcess (init: ProviderProcessInit): Promise<ProviderProcess> {
  const started = performance.now()
  const log = init.log ?? (() => {})
  const host = init.host ?? '127.0.0.1'
  const dir = path.resolve(init.dir)
  if (!existsSync(path.join(dir, 'keys.json'))) throw new ProviderNotInitializedError(dir, 'keys.json')
  const bootstrap = await loadNetwork(dir)
  const keys: ProviderKeys = await loadOrCreateProviderKeys(dir)
  const ask = await readAsk(dir, DEFAULT_ASK)
  await mkdir(path.join(dir, 'chain'), { recursive: true })
  const node = await startFullNode({
    dataDir: path.join(dir, 'chain'), bootstrap, privateKey: keys.peer, host, rpcPort: null, log,
    listen: [`/ip4/${host}/tcp/${init.p2pPort ?? 0}/ws`], ...(init.announce === undefined ? {} : { announce: init.announce }),
    ...(init.webrtcDirect === undefined ? {} : { webrtcDirect: init.webrtcDirect }),
    ...(init.relay === undefined ? {} : { relay: init.relay })
  })
  const stopped = new AbortController()
  let services: ProviderServices | undefined
  let announcing: Promise<void> | undefined
  const stop = async (): Promise<void> => {
    stopped.abort()
    await announcing?.catch(() => {})
    await services?.stop().catch((err: Error) => { log(`stopping the provider: ${err.message}`) })
    await node.stop()
    await rm(path.join(dir, PID_FILE), { force: true })
  }
  try {
    await node.synced()
    log(`synced at height ${node.chain.head().header.height}`)
    const chain = providerChain(node.chain)
    const multiaddrs = init.announce ?? node.libp2p.getMultiaddrs().map(a => a.decapsulateCode(421).toString()) // without /p2p/<id>: MinerInfo keeps the peer ID apart
    const join: JoinInit = { chain, keys, dir, multiaddrs, log, signal: stopped.signal }
    const miner = await ensureMiner(join)
    // under Expected Consensus the provider makes blocks: its election every round with its own worker key (it
    // wins once its deals give it power; a genesis provider's pre-sealed deal does from the start). Before its
    // on-chain record is brought up to date: that message needs a block, which may have to be its own
    if (node.genesis.state.consensus === 'expected') {
      node.startProducer({ miner: idAddressBytes(miner.id), workerSecretKey: keys.worker })
      log(`${miner.address}: producing blocks (Expected Consensus)`)
    }
    const changed = await syncMinerInfo(join, miner.id)
    if (changed.length > 0) log(`${miner.address}: on-chain ${changed.join(' and ')} updated`)
    services = await startProviderServices({
      libp2p: node.libp2p, chain, keys, minerId: miner.id, dir, host, ask, log,
      options: { ...init.options, acceptingDeals: () => !dealsStopped(dir), ...(init.gatewayPort === undefined ? {} : { gatewayPort: init.gatewayPort }) }
    })
    const p = services.provider
    const withdraw = async (): Promise<void> => {
      const done = await answerWithdrawRequest(dir, async () => await withdrawFunds({
        chain, minerId: miner.id, owner: workerAddress(keys), signal: stopped.signal,
        push: async (to, method, params) => await p.pushFromWorker(to, method, params)
      }))
      if (done !== null) log(`withdrew ${done.market} attoFIL of free escrow and ${done.miner} attoFIL from the miner; the owner holds ${done.ownerBalance}`)
    }
    announcing = everyHead(node, stopped.signal, [
      announcer(node, services, bootstrap.network, dir, log),
      async () => { await withdraw().catch((err: Error) => { log(`withdraw: ${err.message}`) }) }
    ])
    // `coffer provider withdraw` hands a running process its request through the folder (leave.ts): it looks here
    await writeFileDurably(path.join(dir, PID_FILE), String(process.pid))
    return {
      miner: miner.address, peerId: node.libp2p.peerId.toString(), multiaddrs: node.libp2p.getMultiaddrs().map(String), gatewayUrl: services.gateway.url,
      node, services, startupMs: performance.now() - started, stop
    }
  } catch (err) {
    await stop().catch(() => {})
    throw err
  }
}

/** Holds the running provider process's ID while it runs. */
export const PID_FILE = 'provider.pid'

/** Runs each task once per head, in order, until `signal`. */
async function everyHead (node: FullNode, signal: AbortSignal, tasks: Array<() => Promise<void>>): Promise<void> {
  while (!signal.aborted) {
    for (const t of tasks) await t()
    await node.chain.nextHead(signal).catch(() => {})
  }
}

export interface AskAnnouncerInit {
  height: () => number
  /** Whether `coffer provider stop-deals` is in force. */
  stopped: () => boolean
  /** Publishes the current signed ask; resolves with how many peers it was sent to. */
  publish: () => Promise<{ recipients: number }>
  log: (line: string) => void
}

/**
 * Publishes the signed ask on the ask topic now, every ASK_ANNOUNCE_EPOCHS epochs, and at the first head after
 * `coffer provider stop-deals` (the ask then offers no room). A publish that reached nobody (no peer
 * subscribed yet: publishAsk's recipients is 0, or NoPeersSubscribedToTopic) does not count as an
 * announcement: it is tried again at the next head, not ASK_ANNOUNCE_EPOCHS later.
 */
export function askAnnouncer (init: AskAnnouncerInit): () => Promise<void> {
  let last = -Infinity
  let wasStopped: boolean | undefined
  let logged = false
  return async () => {
    const height = init.height()
    const nowStopped = init.stopped()
    if (height - last < ASK_ANNOUNCE_EPOCHS && nowStopped === wasStopped) return
    if (nowStopped !== logged) {
      if (nowStopped) init.log('stop-deals: taking no new deals; live deals keep being proven')
      logged = nowStopped
    }
    try {
      const { recipients } = await init.publish()
      if (recipients === 0) return
      last = height
      wasStopped = nowStopped
    } catch (err) {
      // NoPeersSubscribedToTopic until a peer subscribes: tried again next head
      if (!/NoPeersSubscribed/i.test(`${(err as Error).name} ${(err as Error).message}`)) init.log(`ask announcement: ${(err as Error).message}`)
    }
  }
}

function announcer (node: FullNode, services: ProviderServices, network: string, dir: string, log: (line: string) => void): () => Promise<void> {
  return askAnnouncer({
    height: () => node.chain.head().header.height,
    stopped: () => dealsStopped(dir),
    publish: async () => await publishAsk(node.libp2p, network, await services.provider.ask()),
    log
  })
}
