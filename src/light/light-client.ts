// The light client service: opens the chain store for the bootstrap's genesis, dials the bootstrap peers
// over libp2p WebSockets, follows hello and header gossip (checked before it is taken or relayed), notices
// when no new head has come for several block times and asks its peers for their heads again, and reports
// a status snapshot on every change.
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString, peerIdFromPrivateKey } from '@libp2p/peer-id'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import {
  blocksTopic, toWireError, TruncatedMessageError, EXCHANGE_OPT_HEADERS, verifyActorProof, STORAGE_MARKET_ADDRESS, makeTipSet,
  type SealedHeader, type TipSet, type Epoch, type OneSignerBatchVerifier, type StateRequest, verifyOneSignerBatch
} from '../core'
import {
  createCofferLibp2p, genesisOf, requestChain, requestState, runHello, subscribeAsks, serveState,
  gossipOf, type BootstrapDocument, type CofferLibp2p, type CofferLibp2pInit, type AskBook, type AskAnnouncement, type Gossip, type Dialer
} from '../net'
import { judgeBlock } from '../net/gossip-validation'
import { HeaderSync, isRuleViolation } from './header-sync'
import { EcHeaderSync } from './ec-header-sync'
import { createStateClient, StateProofRejectedError, type StateClient } from './state-client'
import { NodeBook, judgeNodeHeads, compareReads, type ReadOutcome } from './node-checks'
import { openHeaderStore, type HeaderStore } from './header-store'
import { startTabFinality } from './tab-finality'
import type { SignatureBatchCheck } from './f3-sync'
import { openF3CertStore } from './f3-cert-store'
import { readStoredStatus, startupClock, summarize, RECENT, STALL_BLOCK_TIMES, type StartupClock } from './starting-status'
import { startTabPeers, serveVerifiedChain, type TabPeers } from './tab-peers'
import { createVerifiedStateCache } from './verified-state-cache'
import { mclBeaconCheck, mclOneSignerBatch } from '../core/finality/mcl-bls'
import type { HeaderSummary, LightClientStatus, Rejection } from './status'

export interface LightClientInit {
  bootstrap: BootstrapDocument
  bootstrapSource: 'network' | 'stored'
  onStatus: (status: LightClientStatus) => void
  nowMs?: () => number
  /** How often to redial when no peer is connected. */
  redialMs?: number
  statusIntervalMs?: number
  /**
   * The shortest stall window: how long without a head by gossip, while peers are connected, before the
   * client says 'stalled' and asks its peers for their heads. The window grows beyond it to
   * STALL_GAP_FACTOR times the largest recent gap between gossiped heads. Default: STALL_BLOCK_TIMES block
   * times of the genesis's block delay.
   */
  stallAfterMs?: number
  /** IP addresses exempt from gossipsub's colocation penalty; loopback when left out (see createCofferLibp2p). */
  ipColocationWhitelist?: string[]
  /** Transports besides WebSockets: in the tab, WebRTC-Direct through the page (bridged-rtc.ts). */
  transports?: CofferLibp2pInit['transports']
  /** Whether to use WebSockets (default yes). */
  webSockets?: boolean
  /** Addresses to listen on: a tab that can be reached through relays listens on `/p2p-circuit` and `/webrtc`. */
  listen?: string[]
  /** Find other tabs and sync from them too (tab-peers.ts): needs the WebRTC and circuit-relay transports. */
  tabPeers?: boolean
  /** The worker's clock of this start (steps before the client, such as loading the bootstrap document, marked on it). */
  startup?: StartupClock
  /** This node's libp2p key (a new one when left out): the worker makes it first, to name it in its earliest status. */
  privateKey?: PrivateKey
  /** Other threads that check certificates' signatures beside the client's own (the open tabs' workers: f3-sync.ts). */
  certificateHelpers?: () => SignatureBatchCheck[]
}

export interface LightClient {
  status: () => LightClientStatus
  /** Header sync: the single producer's (HeaderSync) or Expected Consensus's (EcHeaderSync), as the genesis says. */
  sync: HeaderSync | EcHeaderSync
  libp2p: CofferLibp2p
  /** Gossip as services publish and hear it (src/net/gossip.ts): nothing above reaches into gossipsub. */
  gossip: Gossip
  /** What services that ask peers get of the node (src/net/dialer.ts): dial and open streams, nothing more. */
  dialer: Dialer
  store: HeaderStore
  state: StateClient
  genesis: ReturnType<typeof genesisOf>
  /** Called after each batch of newly verified headers; returns a function that stops the calls. */
  onVerified: (listener: (head: SealedHeader) => void) => () => void
  /** The nodes this tab talks to, each checked against the verified chain (node-checks.ts). */
  nodes: NodeBook
  /** Asks heard on gossip, each verified against its miner's on-chain record (ask-gossip.ts). */
  asks: AskBook
  /** Called for every verified ask announcement; returns a function that stops the calls. */
  onAsk: (listener: (a: AskAnnouncement) => void) => () => void
  /** Peer IDs of storage providers (from the chain's miner records): shown as providers among the nodes. */
  noteProviderPeers: (peerIds: string[]) => void
  /**
   * Makes the stored chain reach down to `height`: after a jump to a finalized tipset the headers below it are
   * fetched by hash link only when something asks (a deal's challenge block, the Chain view scrolled back). Resolves
   * to the tipsets fetched; a tab that synced from genesis holds them all (0).
   */
  backfill: (height: Epoch) => Promise<number>
  stop: () => Promise<void>
}

/**
 * How long one address may take to connect (libp2p's own per-address default, ADDRESS_DIAL_TIMEOUT): a dial of a
 * node's n addresses gets n times this, so a blocked first transport leaves the next its full time.
 */
const ADDRESS_DIAL_TIMEOUT_MS = 6_000
/** The transport an address or connection uses, as the Peers card names it. */
const transportName = (a: Multiaddr): string => a.toString().includes('/webrtc-direct') ? 'webrtc-direct' : 'websockets'
/** Verified heads between cross-checks (the same state read asked of two nodes and compared). */
export const CROSS_CHECK_EVERY_HEADS = 3
/** Block times without a new head before the client calls itself stalled (starting-status.ts says why five). */
export { STALL_BLOCK_TIMES }
/**
 * The stall window is at least this many times the largest gap between gossiped heads seen lately: a chain
 * that produces slowly (a loaded producer, null rounds) is not a stall, and what counts as slow is learnt
 * from the gaps themselves, never assumed from a machine's speed.
 */
export const STALL_GAP_FACTOR = 2
/** Gossiped heads whose gaps size the window: a long gap stops counting after this many more heads. */
const RECENT_GAPS = 20
/**
 * Longest wait between head probes, in stall windows. Probes back off while gossip stays silent, even when
 * they bring heads: a probe that finds heads shows the chain moves, not that gossip came back.
 */
const MAX_PROBE_BACKOFF = 8


const isLoopback = (addr: string): boolean => /\/(ip4\/127\.|ip6\/::1\/|dns4?\/localhost\/)/.test(addr)
const peerIdOfAddr = (addr: string): string | undefined => /\/p2p\/([^/]+)$/.exec(addr)?.[1]

export async function startLightClient (init: LightClientInit): Promise<LightClient> {
  const nowMs = init.nowMs ?? (() => Date.now())
  const startedAtMs = nowMs()
  const genesis = genesisOf(init.bootstrap)
  const store = await openHeaderStore(genesis.header.cid.toString())
  let headTipSet: TipSet | null = await store.headTipSet()
  if (headTipSet === null) {
    await store.append([genesis.header]) // trusted by CID: the root everything else is checked against
    headTipSet = makeTipSet([genesis.header])
  }
  const expected = genesis.state.consensus === 'expected'
  /** The stored head's parent tipset (the EC fork tree's root, so the head's tipset can still grow), when stored. */
  const headParent = await (async (): Promise<TipSet | null> => {
    if (!expected || headTipSet.height === 0) return null
    return await store.tipSet(headTipSet.blocks[0]!.header.parents)
  })()
  let recent: HeaderSummary[] = (await store.recent(RECENT)).map(summarize)
  /** The Chain view's list from the store: after a reorganisation the new chain's tipsets, not the old ones'. */
  let refreshing = false
  let refreshAgain = false
  const refreshRecent = async (): Promise<void> => {
    // a head that comes while the list is being read is read again after, not skipped (the list would lag a head
    // behind until the next one came: for good, on a chain that stopped)
    if (refreshing) { refreshAgain = true; return }
    refreshing = true
    try {
      do {
        refreshAgain = false
        recent = (await store.recent(RECENT)).map(summarize)
      } while (refreshAgain)
    } catch { /* the store closed: the list stays */ } finally { refreshing = false }
    scheduleStatus()
  }
  let lastReorg: { atMs: number, height: number, depth: number } | null = null
  let lastRejection: Rejection | null = null
  let lastNetworkError: string | null = null
  let firstVerifiedAtMs: number | null = null
  let dialed = false
  let stopped = false
  /**
   * Status snapshots are scheduled only once the client is whole (its last step sends the first full one): a service
   * started on the way (finality reading its store) may report a change before the state status() reads exists.
   */
  let assembled = false
  let statusTimer: ReturnType<typeof setTimeout> | undefined
  const startup = init.startup ?? startupClock()

  // What an earlier session verified is shown before anything else starts: the stored head and finality, with the
  // peer ID this session will have (its key is made first, so the first status already names it).
  const privateKey = init.privateKey ?? await generateKeyPair('Ed25519')
  const certs = expected && genesis.state.f3 !== undefined ? await openF3CertStore(genesis.header.cid.toString()) : null
  const blockDelayMs = genesis.state.blockDelaySecs * 1000
  const minStallMs = init.stallAfterMs ?? STALL_BLOCK_TIMES * blockDelayMs
  init.onStatus(await readStoredStatus({
    peerId: peerIdFromPrivateKey(privateKey).toString(), genesis, store, certs, bootstrapSource: init.bootstrapSource, startedAtMs, stallWindowMs: minStallMs, startup
  }))

  const libp2p = await createCofferLibp2p({
    privateKey,
    role: 'tab',
    allowLoopbackDials: init.bootstrap.peers.every(isLoopback),
    network: genesis.state.network,
    ...(init.ipColocationWhitelist === undefined ? {} : { ipColocationWhitelist: init.ipColocationWhitelist }),
    ...(init.transports === undefined ? {} : { transports: init.transports }),
    ...(init.webSockets === undefined ? {} : { webSockets: init.webSockets }),
    ...(init.listen === undefined ? {} : { listen: init.listen }),
    // the nodes we bootstrap from are the ones we chose; a few bad messages they forwarded must not get
    // them pruned or graylisted by our gossipsub (Lotus scores its bootstrappers the same way)
    trustedPeers: init.bootstrap.peers.map(peerIdOfAddr).filter((p): p is string => p !== undefined)
  })
  const gossip = gossipOf(libp2p)
  const verifiedListeners: Array<(head: SealedHeader) => void> = []
  const askListeners: Array<(a: AskAnnouncement) => void> = []
  const messageCounts = new Map<string, number>()

  const peerOf = (id: string): PeerId => peerIdFromString(id)
  /** Shows why `peer`'s data was refused; hangs up on it unless it only relayed what someone else wrote. */
  const reject = (peer: string, err: Error, hangUp = true): void => {
    const wire = toWireError(err)
    lastRejection = { peer, name: wire.name, code: wire.code ?? wire.name, message: wire.message, height: (err as { height?: number }).height, atMs: nowMs() }
    // the author of what did not verify is named in the node list and not used again this session
    if (hangUp) { nodes.drop(peer, err); libp2p.hangUp(peerOf(peer)).catch(() => {}) }
    scheduleStatus()
  }

  const onAppend = (headers: SealedHeader[]): void => {
    firstVerifiedAtMs ??= nowMs()
    lastNewHeadAtMs = nowMs()
    const reorg = sync.reorgs.last
    if (reorg !== null && sync.reorgs.count > reorgsSeen) {
      reorgsSeen = sync.reorgs.count
      lastReorg = { atMs: nowMs(), ...reorg }
    }
    void refreshRecent()
    void countMessages(headers.slice(-RECENT))
    if (headers.length > 0) for (const l of verifiedListeners) l(sync.head)
    void judgeNodes()
    if (++headsSinceCheck >= CROSS_CHECK_EVERY_HEADS) { headsSinceCheck = 0; void crossCheck() }
  }
  let reorgsSeen = 0
  /** Peers hung up on for an answer that broke off: while none of their connections is open, their cut streams are ours. */
  const cutOff = new Set<string>()
  /**
   * A failure with `peer` that proves nothing against it. An answer that broke off (TruncatedMessageError) also hangs
   * up: a cut link is gone anyway, and a peer that stops mid-answer on a live one is asked nothing more on it; but it
   * is not dropped for the session as a liar is, since a cut sends the same bytes (the redial may reach it again).
   */
  const onNetworkError = (peer: string, err: Error): void => {
    // the hang-up ends that peer's other streams short too: our doing, not news (the status keeps why it was hung up)
    if (err instanceof TruncatedMessageError && cutOff.has(peer) && libp2p.getConnections(peerOf(peer)).length === 0) return
    lastNetworkError = `${peer.slice(-8)}: ${err.message}`
    if (err instanceof TruncatedMessageError && peer !== '') {
      cutOff.add(peer)
      libp2p.hangUp(peerOf(peer)).catch(() => {})
    }
    scheduleStatus()
  }
  // a block's worker signatures in mcl-wasm once it has loaded (~3x noble's in the tab: `npm run bench`, ec-browser);
  // noble's until then, or for good where it does not load
  let workerBatch: OneSignerBatchVerifier = verifyOneSignerBatch
  if (expected) void mclOneSignerBatch().then(v => { workerBatch = v }, () => {})
  const sync: HeaderSync | EcHeaderSync = expected
    ? new EcHeaderSync({
      genesis,
      store,
      head: headTipSet,
      ...(headParent === null ? {} : { headParent }),
      nowMs,
      randomBytes: (n) => crypto.getRandomValues(new Uint8Array(n)),
      workerBatch: (pk, items, randomBytes) => workerBatch(pk, items, randomBytes),
      net: { fetchChain: async (peer, key, length) => await requestChain(libp2p, peerOf(peer), { head: key, length, options: EXCHANGE_OPT_HEADERS }) },
      // the block's miner's power, worker key and eligibility, proven by the node that sent the block (it holds its fork)
      // (a tab that sent it is asked only when no node is connected: it holds just the proofs it checked)
      blockState: async (miner, at, from) => (await state.ecBlockState(miner, at, from !== undefined && !nodes.isDropped(from) && libp2p.getConnections(peerOf(from)).length > 0 && (tabs?.isTab(from) !== true || nodeConnections().length === 0) ? from : undefined)).value,
      onAppend,
      onRejection: reject,
      onNetworkError,
      onChange: () => { scheduleStatus() }
    })
    : new HeaderSync({
      genesis,
      store,
      head: headTipSet.blocks[0]!,
      nowMs,
      nowSecs: () => Math.floor(nowMs() / 1000),
      randomBytes: (n) => crypto.getRandomValues(new Uint8Array(n)),
      net: {
        fetchChain: async (peer, cid, length) => await requestChain(libp2p, peerOf(peer), { head: [cid], length, options: EXCHANGE_OPT_HEADERS })
      },
      onAppend: (headers) => { onAppend(headers) },
      onRejection: reject,
      onNetworkError,
      onChange: () => { scheduleStatus() }
    })
  // a drand round's signature likewise (the gossip judge checks one per round; ~4x faster than noble's in Node),
  // noble's until it loads or where it does not
  if (sync instanceof EcHeaderSync) { const cache = sync.verifiedBeacon; void mclBeaconCheck().then(c => { cache.useCheck(c) }, () => {}) }

  /** Peers that said hello on our genesis: full nodes. Storage providers we dial for deals are not. */
  const chainPeers = new Set<string>()
  const providerPeers = new Set((init.bootstrap.providers ?? []).map(p => p.peerId))
  /** The state proofs this tab checked, served to other tabs (verified-state-cache.ts). */
  const provenState = createVerifiedStateCache()
  const nodes = new NodeBook((p) => providerPeers.has(p) ? 'provider' : tabs?.isTab(p) === true ? 'tab' : 'node')
  /** Other tabs (tab-peers.ts), started once hello runs: they sync from this one and it from them. */
  let tabs: TabPeers | null = null
  /** Connections that bring the chain: nodes' and other tabs' (not providers', dialled for deals; not a relay's limited circuit). */
  const chainConnections = (): ReturnType<typeof libp2p.getConnections> =>
    libp2p.getConnections().filter(c => c.limits === undefined && !providerPeers.has(c.remotePeer.toString()))
  /**
   * Connections to nodes: the chain's connections less other tabs'. Whether to redial the bootstrap nodes is decided
   * on these alone: two tabs holding each other must not stop either from reaching a node again.
   */
  const nodeConnections = (): ReturnType<typeof libp2p.getConnections> => chainConnections().filter(c => tabs?.isTab(c.remotePeer.toString()) !== true)
  const state = createStateClient({
    libp2p, store, head: () => sync.head, onLie: (peer, err) => { reject(peer, err) }, onCut: onNetworkError,
    // a dropped node is never asked again; one that said hello on our genesis is preferred
    isChainPeer: (p) => chainPeers.has(p) && !nodes.isDropped(p),
    // a tab holds only the proofs it checked: asked after the nodes
    isTab: (p) => tabs?.isTab(p) === true,
    ...(init.tabPeers === true ? { onVerified: (req: StateRequest, blocks: Uint8Array[]) => { provenState.put(req, blocks) } } : {}),
    isStorageProvider: (p) => providerPeers.has(p) || nodes.isDropped(p)
  })

  // F3 (issue 14): certificates from genesis to the latest finalized tipset; a head below it jumps there
  const usableChainPeers = (): string[] => {
    const chain = [...chainPeers].filter(p => !nodes.isDropped(p))
    return chain.length > 0 ? chain : nodeConnections().map(c => c.remotePeer.toString()).filter(p => !nodes.isDropped(p))
  }
  const tabFinality = sync instanceof EcHeaderSync && certs !== null
    ? await startTabFinality({ libp2p, certs, gossip, genesis, headers: store, sync, state, peers: usableChainPeers, onRejection: reject, onNetworkError, onChange: () => { scheduleStatus() }, serveCertificates: init.tabPeers === true, mark: startup.mark, ...(init.certificateHelpers === undefined ? {} : { helpers: init.certificateHelpers }) })
    : null
  const finality = tabFinality?.service ?? null

  // ---- cross-checking the nodes (issue 12: the tab believes no single node) ----

  /** Judges every node's last hello head against the verified header at its height. */
  let judging = false
  async function judgeNodes (): Promise<void> {
    if (judging) return
    judging = true
    try {
      const head = sync.head
      const verdicts = await judgeNodeHeads(nodes.toJudge(), { height: head.header.height, cid: head.cid.toString() },
        async (h, theirs) => {
          const ts = await store.tipSetAt(h)
          return ts === null ? null : ts.key.some(c => String(c) === theirs) ? theirs : String(ts.key[0])
        }, expected)
      for (const { node, verdict } of verdicts) {
        const err = nodes.judged(node.peer, node, verdict)
        if (err !== null) reject(node.peer, err)
      }
    } catch { /* the store closed under us: the next head judges again */ } finally { judging = false }
    scheduleStatus()
  }

  /** One actor read asked of `peer` alone at `header`, verified here: what a cross-check compares. */
  async function readFrom (peer: string, header: SealedHeader, address: Uint8Array): Promise<ReadOutcome> {
    let blocks: Uint8Array[]
    try {
      const resp = await requestState(libp2p, peerOf(peer), { kind: 'actor', address, at: header.cid }, AbortSignal.timeout(10_000))
      if (!resp.ok) return { kind: 'unavailable', error: new Error(resp.error ?? 'refused') }
      blocks = resp.blocks
    } catch (err) { return { kind: 'unavailable', error: err as Error } }
    try {
      const a = verifyActorProof(header.header.parentStateRoot, address, blocks)
      return { kind: 'verified', value: a === null ? 'none' : `${a.code.toString()} ${a.head.toString()} ${a.nonce} ${a.balance}` }
    } catch (err) {
      return { kind: 'lie', error: new StateProofRejectedError(peer, err as Error) }
    }
  }

  let headsSinceCheck = 0
  let checking = false
  /**
   * Asks two nodes the same read at the verified head (the market actor: every chain has it, and its record
   * changes with every deal) and compares; a node alone is checked by itself. Each node takes its turn.
   */
  async function crossCheck (): Promise<void> {
    if (checking) return
    checking = true
    try {
      const header = sync.head
      const pair = nodes.nextPair()
      const usable = nodes.usable()
      const peers = pair ?? (usable[0] === undefined ? [] : [usable[0]])
      if (peers.length === 0) return
      const outcomes = await Promise.all(peers.map(async p => ({ peer: p, outcome: await readFrom(p, header, STORAGE_MARKET_ADDRESS) })))
      const verdicts = outcomes.length === 2 ? compareReads(outcomes[0]!, outcomes[1]!) : compareReads(outcomes[0]!, outcomes[0]!).slice(0, 1)
      for (const v of verdicts) {
        nodes.crossChecked(v.peer)
        // a node that proved state at our head holds that head
        if (v.verdict === 'agrees') { nodes.answered(v.peer); nodes.seen(v.peer, { height: header.header.height, cid: header.cid.toString() }, sync.head.header.height) }
        if (v.verdict === 'drop') reject(v.peer, v.error!)
      }
    } finally { checking = false; void judgeNodes() }
  }


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

  // Stall watch. Gossip can stop reaching us while the connection stays up (a node's peer score left us
  // out, a lost subscription): then nothing else would ever tell us the chain moved on. The watch measures
  // gossip alone: heads that only our own probes bring do not say gossip works again.
  let lastNewHeadAtMs = startedAtMs
  /**
   * When gossip last brought a new head, or a node's connection opened with its hello; null until the first
   * node says hello. Not the client's start: opening the store, creating libp2p and dialling take their own
   * time, which says nothing about gossip (issue 9 review: a false 'stalled' at every start).
   */
  let gossipClockMs: number | null = null
  /** Gaps between recent gossiped heads, by nowMs. */
  const gossipGaps: number[] = []
  let lastGossipHeadAtMs: number | null = null
  const stallWindowMs = (): number => Math.max(minStallMs, STALL_GAP_FACTOR * Math.max(0, ...gossipGaps))
  const noteGossipHead = (): void => {
    const now = nowMs()
    if (lastGossipHeadAtMs !== null) {
      gossipGaps.push(now - lastGossipHeadAtMs)
      if (gossipGaps.length > RECENT_GAPS) gossipGaps.shift()
    }
    lastGossipHeadAtMs = now
    gossipClockMs = now
    fruitlessProbes = 0 // gossip works: a later stall starts probing at once
  }
  /** Probes since gossip last brought a head; each waits twice as long as the one before. */
  let fruitlessProbes = 0
  let nextProbeAtMs = 0
  let headProbes = 0
  let stalled = false
  /** Peers asked for their head whose answer (a hello) has not come yet: that hello is not a new connection's. */
  const asked = new Set<string>()
  /** Nothing by gossip for the stall window while connected and not catching up. */
  const isStalled = (): boolean => gossipClockMs !== null && chainConnections().length > 0 && sync.backlog === null && nowMs() - gossipClockMs > stallWindowMs()

  const status = (): LightClientStatus => {
    // one line per peer: the connection that carries its protocols (a relayed one, limited, only carried the
    // signalling that made the direct one to another tab; libp2p keeps it until its limits end)
    const byPeer = new Map<string, { id: string, addr: string, limited: boolean }>()
    for (const c of chainConnections()) {
      const id = c.remotePeer.toString()
      const limited = c.limits !== undefined
      const known = byPeer.get(id)
      if (known === undefined || (known.limited && !limited)) byPeer.set(id, { id, addr: c.remoteAddr.toString(), limited })
    }
    const peers = [...byPeer.values()].map(({ id, addr }) => ({ id, addr }))
    const backlogBig = sync.backlog !== null && sync.backlog.total > 1
    const behind = sync.bestKnownHeight > sync.head.header.height + 1
    return {
      peerId: libp2p.peerId.toString(),
      network: genesis.state.network,
      provingPeriod: genesis.state.market.provingPeriod,
      genesisCid: genesis.header.cid.toString(),
      bootstrapSource: init.bootstrapSource,
      syncState: peers.length === 0 && dialed
        ? 'offline'
        : isStalled() ? 'stalled' : (peers.length === 0 || backlogBig || behind ? 'syncing' : 'synced'),
      lastNewHeadAtMs,
      stallWindowMs: stallWindowMs(),
      headProbes,
      peers,
      verifiedHeight: sync.head.header.height,
      headCid: sync.head.cid.toString(),
      headTimestamp: sync.head.header.timestamp,
      bestKnownHeight: sync.bestKnownHeight,
      backlog: sync.backlog,
      lastRejection,
      lastNetworkError,
      recent: recent.map(r => ({ ...r, messageCount: messageCounts.get(r.cid) })),
      nodes: nodes.summaries(),
      stats: { headersVerified: sync.headersVerified, verifyMs: sync.verifyMs, firstVerifiedAtMs, startedAtMs, startup: [...startup.marks], startupOriginMs: startup.originMs },
      consensus: expected ? 'expected' : 'single',
      headBlocks: sync.headTipSet.blocks.length,
      reorgs: { count: sync.reorgs.count, deepest: sync.reorgs.deepest, last: lastReorg },
      finality: finality?.status() ?? null
    }
  }

  function scheduleStatus (): void {
    if (!assembled || statusTimer !== undefined || stopped) return
    statusTimer = setTimeout(() => { statusTimer = undefined; init.onStatus(status()) }, init.statusIntervalMs ?? 50)
  }

  const hello = await runHello(libp2p, {
    genesisCid: genesis.header.cid,
    head: () => sync.head,
    // the whole head tipset, as Lotus says hello; its weight as the blocks above it will carry it is not known here,
    // so the head's own ParentWeight (a lower bound: a node that holds this head never fetches for it)
    headTipSet: () => ({ key: sync.headTipSet.key, weight: sync.head.header.parentWeight }),
    onHello: (peer, hello) => {
      startup.mark('first hello')
      const id = peer.toString()
      // a dropped node's word is not taken again, whatever it says
      if (nodes.isDropped(id)) { libp2p.hangUp(peer).catch(() => {}); return }
      chainPeers.add(id)
      const headCid = hello.heaviestTipSet[0]
      if (headCid !== undefined) {
        nodes.hello(id, { height: hello.heaviestTipSetHeight, cid: headCid.toString() }, sync.head.header.height, libp2p.getConnections(peer)[0]?.remoteAddr.toString() ?? null)
        void judgeNodes().then(() => { if (nodes.state(id) === 'agreeing' && !nodes.summaries().some(n => n.id === id && n.crossChecks > 0)) void crossCheck() })
      }
      // a connection's first hello starts (or restarts, after being offline) the gossip clock; the answer
      // to our own question does not, or every probe would look like gossip
      if (!asked.delete(peer.toString()) && !providerPeers.has(peer.toString())) gossipClockMs = Math.max(gossipClockMs ?? 0, nowMs())
      const cid = hello.heaviestTipSet[0]
      // a node's hello may bring certificates this tab lacks (during a pass, one more follows that asks it too)
      if (tabFinality !== null) void tabFinality.syncNow().catch((err: Error) => { lastNetworkError = `finality: ${err.message}`; scheduleStatus() })
      if (cid !== undefined) {
        if (sync instanceof EcHeaderSync) sync.offerHead(peer.toString(), hello.heaviestTipSet, hello.heaviestTipSetHeight, hello.heaviestTipSetWeight)
        else sync.offer({ peer: peer.toString(), cid, height: hello.heaviestTipSetHeight })
      }
    },
    onError: (peer, err) => {
      if (isRuleViolation(err)) reject(peer.toString(), err)
      else if (err instanceof TruncatedMessageError) onNetworkError(peer.toString(), err)
    },
    clockNs: () => BigInt(nowMs()) * 1_000_000n
  })

  // other tabs: this one serves them the headers it verified and, through relays and WebRTC, finds a few to sync from
  if (init.tabPeers === true) {
    await serveVerifiedChain(libp2p, store)
    await serveState(libp2p, async (req) => {
      const blocks = provenState.get(req)
      return blocks === undefined ? { ok: false, error: 'this tab holds no checked proof of that read', blocks: [] } : { ok: true, blocks }
    })
    tabs = startTabPeers({
      libp2p,
      network: genesis.state.network,
      isDropped: (p) => nodes.isDropped(p),
      onChange: () => { scheduleStatus() },
      onError: (peer, err) => { lastNetworkError = `tab ${peer.slice(-8)}: ${err.message}`; scheduleStatus() }
    })
  }

  // Header gossip is judged before it is taken or relayed (issue 9). The peer that handed a message over
  // is often only a relay: a refusal is scored on it by gossipsub (Reject), but we hang up only on the
  // author, whom gossipsub's StrictSign envelope names and proves, and only when it sent the message itself.
  const topic = blocksTopic(genesis.state.network)
  const nowSecs = (): number => Math.floor(nowMs() / 1000)
  gossip.listen<SealedHeader>(topic, (m) => {
    const v = judgeBlock(m.data, { genesis: genesis.state, head: () => sync.head, nowSecs, ...(sync instanceof EcHeaderSync ? { verifiedBeacon: sync.verifiedBeacon } : {}) })
    if (v.verdict === 'accept' && sync instanceof EcHeaderSync) {
      // under Expected Consensus a block is checked in full only once its miner's state is read: the tab takes it
      // here and relays none (a full node would blame the tab for a block that fails there; Lotus light clients
      // relay no blocks either)
      noteGossipHead()
      sync.offerBlock(m.source, v.value)
      return { verdict: 'ignore' }
    }
    if (v.verdict === 'reject') {
      const author = m.author ?? m.source
      reject(author, v.error, author === m.source)
    }
    return v
  }, (m, h) => {
    // delivered only after the validator accepted it: the header decodes, is signed by the producer and
    // was above our head. The relay serves its ancestors if there is a gap.
    noteGossipHead()
    // the node that relayed it first holds it: its head, judged once the header is verified here (single producer only:
    // under Expected Consensus the validator above takes blocks, and a node relays blocks of forks it does not follow)
    nodes.seen(m.source, { height: h.header.height, cid: h.cid.toString() }, sync.head.header.height)
    if (sync instanceof HeaderSync) sync.offer({ peer: m.source, cid: h.cid, height: h.header.height, header: h })
  })
  libp2p.addEventListener('peer:connect', (evt) => {
    cutOff.delete(evt.detail.toString())
    // a dropped node is not used again this session: hung up on however the connection came about
    if (nodes.isDropped(evt.detail.toString())) libp2p.hangUp(evt.detail).catch(() => {})
    scheduleStatus()
  })
  libp2p.addEventListener('peer:disconnect', (evt) => { nodes.disconnected(evt.detail.toString()); chainPeers.delete(evt.detail.toString()); asked.delete(evt.detail.toString()); sync.forgetPeer(evt.detail.toString()); scheduleStatus() })

  // Ask announcements (ask-gossip.ts): each verified against the miner's record at our verified head before
  // it is kept or relayed; the provider list refreshes on them.
  const asks = subscribeAsks(libp2p, genesis.state.network, {
    minerInfoOf: async (miner) => (await state.miner(miner)).value,
    // the verified miner list, read once per head: an announcement naming any other miner costs a set lookup,
    // not a state round trip; each listed miner's record is likewise read once per head
    minersOf: async () => await state.miners(),
    headKey: () => sync.head.cid.toString(),
    epoch: () => sync.head.header.height,
    nowMs,
    onAsk: (a) => { providerPeers.add(a.peer); for (const l of askListeners) l(a) },
    onRefused: (err, author, relay) => {
      // the author is hung up on only for what is its own fault on any state (a signature or identity not its
      // own); a relay is scored by gossipsub alone, and a miner we cannot read yet is nobody's fault
      if (author !== undefined && author === relay && (err.name === 'AskPeerMismatchError' || err.name === 'AskSignerMismatchError')) reject(author, err)
    }
  })

  // a node's addresses are dialled together: libp2p tries those a transport of ours can dial (a node may list
  // WebRTC-Direct beside WebSockets), one at a time, WebSockets first, each for at most its own timeout, and keeps
  // the first that connects. A transport that connected is tried alone first the next time, so one that is blocked
  // (a network dropping WebSockets, or UDP) costs its timeout once, not at every redial.
  const byPeer = new Map<string, Multiaddr[]>()
  for (const p of init.bootstrap.peers) {
    const key = peerIdOfAddr(p) ?? p
    byPeer.set(key, [...(byPeer.get(key) ?? []), multiaddr(p)])
  }
  const connectedBy = new Map<string, string>()
  const dialNode = async (id: string, addrs: Multiaddr[]): Promise<void> => {
    const dial = async (a: Multiaddr[]): Promise<void> => {
      const conn = await libp2p.dial(a.length === 1 ? a[0]! : a, { signal: AbortSignal.timeout(ADDRESS_DIAL_TIMEOUT_MS * a.length) })
      connectedBy.set(id, transportName(conn.remoteAddr))
    }
    const known = connectedBy.get(id)
    const first = addrs.filter(a => transportName(a) === known)
    if (first.length > 0 && first.length < addrs.length) {
      try { await dial(first); return } catch { /* then all of them, as the first time */ }
    }
    await dial(addrs)
  }
  const dialAll = async (): Promise<void> => {
    // a node dropped this session is not dialled again
    await Promise.allSettled([...byPeer].filter(([id]) => !nodes.isDropped(id)).map(async ([id, a]) => {
      try {
        await dialNode(id, a)
        startup.mark('first node connected') // (the first of each phase counts: a cold start's dial, before its hello)
        // certificates are asked for on the connection, not after the node's hello (0.47 s later in the f3-cold bench):
        // they are checked from our genesis whoever serves them, so the hello adds nothing to trust them by (when it
        // comes during this pass, one more pass follows: finality-service.ts syncNow)
        if (tabFinality !== null) void tabFinality.syncNow().catch((err: Error) => { lastNetworkError = `finality: ${err.message}`; scheduleStatus() })
      } catch (err) {
        lastNetworkError = `dial ${a.map(String).join(' or ')}: ${(err as Error).message}`
      }
    }))
    dialed = true
    scheduleStatus()
    // headers verified in an earlier session get their message counts once a peer can give them
    if (nodeConnections().length > 0 && recent.some(r => !messageCounts.has(r.cid))) {
      // (the store may close under it: a tab stopped right after it dialled)
      void store.recent(RECENT).then(async hs => { await countMessages(hs.filter(h => !messageCounts.has(h.cid.toString()))) }).catch(() => {})
    }
  }
  // redial whenever we have no peer: the devnet may come back while the tab stays open
  const redial = setInterval(() => {
    if (nodeConnections().length === 0) void dialAll()
  }, init.redialMs ?? 5_000)

  /**
   * Asks every connected full node for its head by saying hello again on the connection we have (see
   * runHello): its answering hello goes to sync, which fetches what we missed by chain exchange. Nothing is
   * hung up: reconnecting cut in-flight state reads (quotes, escrow, deal lookups), cost the node one of its
   * few inbound connections a second per host (many tabs share one NAT), and cured nothing, since gossipsub
   * keeps a peer's score (retainScore, 6 h) and backoff across reconnects.
   */
  function askForHeads (): void {
    headProbes++
    fruitlessProbes++
    nextProbeAtMs = nowMs() + stallWindowMs() * Math.min(2 ** (fruitlessProbes - 1), MAX_PROBE_BACKOFF)
    for (const c of chainConnections()) {
      const peer = c.remotePeer.toString()
      asked.add(peer)
      hello.askHead(c.remotePeer).catch((err: Error) => { asked.delete(peer); lastNetworkError = `${peer.slice(-8)}: ask head: ${err.message}` })
    }
    scheduleStatus()
  }
  // checked a few times per block time: a stall is seen within a fraction of a block time of the window
  const stallWatch = setInterval(() => {
    const now = isStalled()
    if (now !== stalled) { stalled = now; scheduleStatus() }
    // fruitlessProbes is reset only by a gossiped head, so the first probe of a stall goes out at once and
    // later ones back off while gossip stays silent, whatever the probes themselves bring
    if (stalled && (fruitlessProbes === 0 || nowMs() >= nextProbeAtMs)) askForHeads()
  }, Math.max(100, Math.min(1000, blockDelayMs / 4)))
  startup.mark('running')
  assembled = true
  init.onStatus(status())
  void dialAll()

  return {
    status,
    sync,
    libp2p,
    gossip,
    dialer: libp2p,
    store,
    state,
    genesis,
    onVerified: (listener) => {
      verifiedListeners.push(listener)
      return () => { const i = verifiedListeners.indexOf(listener); if (i >= 0) verifiedListeners.splice(i, 1) }
    },
    nodes,
    asks,
    onAsk: (listener) => {
      askListeners.push(listener)
      return () => { const i = askListeners.indexOf(listener); if (i >= 0) askListeners.splice(i, 1) }
    },
    noteProviderPeers: (ids) => { for (const id of ids) providerPeers.add(id); scheduleStatus() },
    backfill: async (height) => finality === null ? 0 : await finality.backfill(height),
    stop: async () => {
      stopped = true
      clearInterval(redial)
      clearInterval(stallWatch)
      clearTimeout(statusTimer)
      sync.stop()
      tabs?.stop()
      await libp2p.stop()
      await sync.settled()
      store.close()
      tabFinality?.close()
      certs?.close()
    }
  }
}
