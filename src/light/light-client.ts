// The light client service: opens the chain store for the bootstrap's genesis, dials the bootstrap peers
// over libp2p WebSockets, follows hello and header gossip, and reports a status snapshot on every change.
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import {
  addressToString, blocksTopic, decodeBlockMsg, toWireError, EXCHANGE_OPT_HEADERS,
  type SealedHeader
} from '../core'
import { createCofferLibp2p, genesisOf, requestChain, runHello, type BootstrapDocument, type CofferLibp2p } from '../net'
import { HeaderSync, isRuleViolation } from './header-sync'
import { createStateClient, type StateClient } from './state-client'
import { openHeaderStore, type HeaderStore } from './header-store'
import type { HeaderSummary, LightClientStatus, Rejection } from './status'

export interface LightClientInit {
  bootstrap: BootstrapDocument
  bootstrapSource: 'network' | 'stored'
  onStatus: (status: LightClientStatus) => void
  nowMs?: () => number
  /** How often to redial when no peer is connected. */
  redialMs?: number
  statusIntervalMs?: number
}

export interface LightClient {
  status: () => LightClientStatus
  sync: HeaderSync
  libp2p: CofferLibp2p
  store: HeaderStore
  state: StateClient
  genesis: ReturnType<typeof genesisOf>
  /** Called after each batch of newly verified headers; returns a function that stops the calls. */
  onVerified: (listener: (head: SealedHeader) => void) => () => void
  stop: () => Promise<void>
}

const RECENT = 20
const DIAL_TIMEOUT_MS = 5_000

export function summarize (h: SealedHeader): HeaderSummary {
  let miner: string
  try { miner = addressToString(h.header.miner) } catch { miner = '(unreadable)' }
  return {
    cid: h.cid.toString(),
    height: h.header.height,
    timestamp: h.header.timestamp,
    miner,
    parent: h.header.parents[0]?.toString() ?? null,
    sizeBytes: h.bytes.length
  }
}

const isLoopback = (addr: string): boolean => /\/(ip4\/127\.|ip6\/::1\/|dns4?\/localhost\/)/.test(addr)

export async function startLightClient (init: LightClientInit): Promise<LightClient> {
  const nowMs = init.nowMs ?? (() => Date.now())
  const startedAtMs = nowMs()
  const genesis = genesisOf(init.bootstrap)
  const store = await openHeaderStore(genesis.header.cid.toString())
  let head = await store.head()
  if (head === null) {
    await store.append([genesis.header]) // trusted by CID: the root everything else is checked against
    head = genesis.header
  }
  let recent: HeaderSummary[] = (await store.recent(RECENT)).map(summarize)
  let lastRejection: Rejection | null = null
  let lastNetworkError: string | null = null
  let firstVerifiedAtMs: number | null = null
  let dialed = false
  let stopped = false

  const libp2p = await createCofferLibp2p({ allowLoopbackDials: init.bootstrap.peers.every(isLoopback) })
  const verifiedListeners: Array<(head: SealedHeader) => void> = []
  const messageCounts = new Map<string, number>()

  const peerOf = (id: string): PeerId => peerIdFromString(id)
  const reject = (peer: string, err: Error): void => {
    const wire = toWireError(err)
    lastRejection = { peer, name: wire.name, code: wire.code ?? wire.name, message: wire.message, height: (err as { height?: number }).height, atMs: nowMs() }
    libp2p.hangUp(peerOf(peer)).catch(() => {})
    scheduleStatus()
  }

  const sync = new HeaderSync({
    genesis,
    store,
    head,
    nowMs,
    nowSecs: () => Math.floor(nowMs() / 1000),
    randomBytes: (n) => crypto.getRandomValues(new Uint8Array(n)),
    net: {
      fetchChain: async (peer, cid, length) => await requestChain(libp2p, peerOf(peer), { head: [cid], length, options: EXCHANGE_OPT_HEADERS })
    },
    onAppend: (headers) => {
      firstVerifiedAtMs ??= nowMs()
      recent = [...headers.slice(-RECENT).reverse().map(summarize), ...recent].slice(0, RECENT)
      void countMessages(headers.slice(-RECENT))
      const top = headers[headers.length - 1]
      if (top !== undefined) for (const l of verifiedListeners) l(top)
    },
    onRejection: reject,
    onNetworkError: (peer, err) => { lastNetworkError = `${peer.slice(-8)}: ${err.message}`; scheduleStatus() },
    onChange: () => { scheduleStatus() }
  })

  /** Peers that said hello on our genesis: full nodes. Storage providers we dial for deals are not. */
  const chainPeers = new Set<string>()
  const providerPeers = new Set((init.bootstrap.providers ?? []).map(p => p.peerId))
  /** Connections to full nodes: what sync, status and redial count (a provider connection is not one). */
  const nodeConnections = (): ReturnType<typeof libp2p.getConnections> => libp2p.getConnections().filter(c => !providerPeers.has(c.remotePeer.toString()))
  const state = createStateClient({
    libp2p, store, head: () => sync.head, onLie: (peer, err) => { reject(peer, err) },
    isChainPeer: (p) => chainPeers.has(p), isStorageProvider: (p) => providerPeers.has(p)
  })

  /** Message counts for the header list; skipped while catching up, when nobody is looking at old headers. */
  async function countMessages (headers: SealedHeader[]): Promise<void> {
    if (sync.backlog !== null && sync.backlog.total > RECENT) return
    for (const h of headers) {
      try {
        messageCounts.set(h.cid.toString(), await state.messageCount(h))
      } catch { /* a lie is already reported; no peer means no count yet */ }
    }
    if (messageCounts.size > 4 * RECENT) for (const k of [...messageCounts.keys()].slice(0, messageCounts.size - 2 * RECENT)) messageCounts.delete(k)
    scheduleStatus()
  }

  const status = (): LightClientStatus => {
    const peers = nodeConnections().map(c => ({ id: c.remotePeer.toString(), addr: c.remoteAddr.toString() }))
    const backlogBig = sync.backlog !== null && sync.backlog.total > 1
    const behind = sync.bestKnownHeight > sync.head.header.height + 1
    return {
      network: genesis.state.network,
      provingPeriod: genesis.state.market.provingPeriod,
      genesisCid: genesis.header.cid.toString(),
      bootstrapSource: init.bootstrapSource,
      syncState: peers.length === 0 && dialed ? 'offline' : (peers.length === 0 || backlogBig || behind ? 'syncing' : 'synced'),
      peers,
      verifiedHeight: sync.head.header.height,
      headCid: sync.head.cid.toString(),
      headTimestamp: sync.head.header.timestamp,
      bestKnownHeight: sync.bestKnownHeight,
      backlog: sync.backlog,
      lastRejection,
      lastNetworkError,
      recent: recent.map(r => ({ ...r, messageCount: messageCounts.get(r.cid) })),
      stats: { headersVerified: sync.headersVerified, verifyMs: sync.verifyMs, firstVerifiedAtMs, startedAtMs }
    }
  }

  let statusTimer: ReturnType<typeof setTimeout> | undefined
  function scheduleStatus (): void {
    if (statusTimer !== undefined || stopped) return
    statusTimer = setTimeout(() => { statusTimer = undefined; init.onStatus(status()) }, init.statusIntervalMs ?? 50)
  }

  await runHello(libp2p, {
    genesisCid: genesis.header.cid,
    head: () => sync.head,
    onHello: (peer, hello) => {
      chainPeers.add(peer.toString())
      const cid = hello.heaviestTipSet[0]
      if (cid !== undefined) sync.offer({ peer: peer.toString(), cid, height: hello.heaviestTipSetHeight })
    },
    onError: (peer, err) => { if (isRuleViolation(err)) reject(peer.toString(), err) },
    clockNs: () => BigInt(nowMs()) * 1_000_000n
  })

  const topic = blocksTopic(genesis.state.network)
  libp2p.services.pubsub.subscribe(topic)
  libp2p.services.pubsub.addEventListener('gossipsub:message', (evt) => {
    const { propagationSource, msg } = evt.detail
    if (msg.topic !== topic) return
    const peer = propagationSource.toString()
    try {
      const h = decodeBlockMsg(msg.data)
      sync.offer({ peer, cid: h.cid, height: h.header.height, header: h })
    } catch (err) {
      if (isRuleViolation(err)) reject(peer, err)
    }
  })
  libp2p.addEventListener('peer:connect', scheduleStatus)
  libp2p.addEventListener('peer:disconnect', (evt) => { chainPeers.delete(evt.detail.toString()); sync.forgetPeer(evt.detail.toString()); scheduleStatus() })

  const addrs = init.bootstrap.peers.map(p => multiaddr(p))
  const dialAll = async (): Promise<void> => {
    await Promise.allSettled(addrs.map(async a => {
      try {
        await libp2p.dial(a, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) })
      } catch (err) {
        lastNetworkError = `dial ${a.toString()}: ${(err as Error).message}`
      }
    }))
    dialed = true
    scheduleStatus()
    // headers verified in an earlier session get their message counts once a peer can give them
    if (nodeConnections().length > 0 && recent.some(r => !messageCounts.has(r.cid))) {
      void store.recent(RECENT).then(async hs => { await countMessages(hs.filter(h => !messageCounts.has(h.cid.toString()))) })
    }
  }
  // redial whenever we have no peer: the devnet may come back while the tab stays open
  const redial = setInterval(() => {
    if (nodeConnections().length === 0) void dialAll()
  }, init.redialMs ?? 5_000)
  init.onStatus(status())
  void dialAll()

  return {
    status,
    sync,
    libp2p,
    store,
    state,
    genesis,
    onVerified: (listener) => {
      verifiedListeners.push(listener)
      return () => { const i = verifiedListeners.indexOf(listener); if (i >= 0) verifiedListeners.splice(i, 1) }
    },
    stop: async () => {
      stopped = true
      clearInterval(redial)
      clearTimeout(statusTimer)
      await libp2p.stop()
      await sync.settled()
      store.close()
    }
  }
}
