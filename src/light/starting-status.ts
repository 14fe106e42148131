// The status a light node shows from its own storage while it starts (issue 14: reload to a verified head in well
// under a second): the head and the finality an earlier session verified and stored, before libp2p exists or any
// node has answered. Every figure in it was checked when it was stored; 'syncing' says nothing newer is known yet.
// Imported by the worker's entry before anything heavy (run-worker.ts): modules by path, not the packages' barrels.
import { addressToString } from '../core/address'
import { makeTipSet } from '../core/tipset'
import { tipSetKeyCids } from '../core/finality/ec-chain'
import type { Genesis, SealedHeader, Epoch, FinalityState } from '../core'
import { genesisOf, parseBootstrap } from '../net/bootstrap'
import { openHeaderStore, type HeaderStore } from './header-store'
import { openF3CertStore, type F3CertStore } from './f3-cert-store'
import { loadSavedBootstrap } from './bootstrap-cache'
import type { FinalityStatus } from './finality-service'
import { FINALITY_SESSION_START, type HeaderSummary, type LightClientStatus } from './status'

/**
 * What a stored finality state says before this session has checked anything: the last certificate an earlier session
 * verified and how far `headHeight` is beyond its tipset. The service's own status adds this session's counts to it.
 */
export function storedFinalityStatus (s: FinalityState | null, headHeight: Epoch, lowestHeight: Epoch): FinalityStatus {
  const f = s?.finalized
  return {
    instance: (s?.nextInstance ?? 0) - 1,
    finalizedEpoch: f?.epoch ?? 0,
    finalizedCid: f === undefined ? null : String(tipSetKeyCids(f.key)[0]),
    headBeyond: Math.max(0, headHeight - (f?.epoch ?? 0)),
    lowestHeight,
    ...FINALITY_SESSION_START
  }
}

/**
 * Block times without a new head before the client calls itself stalled. One producer signs every epoch,
 * so even two missed heads in a row means gossip is not reaching us; five leaves room for a producer held
 * up for a couple of epochs (issue 9 saw 3 s gaps under floods) without reconnecting for nothing.
 */
export const STALL_BLOCK_TIMES = 5

/** Tipsets the Chain view lists. */
export const RECENT = 20

/** When each step of a start ended, in ms on the node's clock since its worker began: what a slow start spent. */
export interface StartupMark { phase: string, atMs: number }

export interface StartupClock {
  marks: readonly StartupMark[]
  /** The clock's zero as Unix ms (the worker's performance.timeOrigin): a page puts the marks on its own clock by it. */
  originMs: number
  /** Notes that `phase` ended now, or at `atMs` on this clock (the first time only: a restarted step keeps its first figure). */
  mark: (phase: string, atMs?: number) => void
}

export function startupClock (nowMs: () => number = () => performance.now(), originMs = performance.timeOrigin): StartupClock {
  const marks: StartupMark[] = []
  return {
    marks,
    originMs,
    mark: (phase, atMs) => { if (!marks.some(m => m.phase === phase)) marks.push({ phase, atMs: Math.round(atMs ?? nowMs()) }) }
  }
}

export function summarize (h: SealedHeader): HeaderSummary {
  let miner: string
  try { miner = addressToString(h.header.miner) } catch { miner = '(unreadable)' }
  return {
    cid: h.cid.toString(),
    height: h.header.height,
    timestamp: h.header.timestamp,
    miner,
    parent: h.header.parents[0]?.toString() ?? null,
    sizeBytes: h.bytes.length,
    ...(h.header.electionProof === null ? {} : { winCount: h.header.electionProof.winCount })
  }
}

export interface StoredStatusInit {
  peerId: string
  genesis: Genesis
  /** This genesis's stores (its CID names them). */
  store: HeaderStore
  /** Its certificate store, on a chain with F3. */
  certs: F3CertStore | null
  bootstrapSource: 'network' | 'stored'
  startedAtMs: number
  stallWindowMs: number
  startup: StartupClock
}

/** What the stores hold, as a status: the stored head (genesis when none), its recent tipsets, the stored finality. */
export async function readStoredStatus (s: StoredStatusInit): Promise<LightClientStatus> {
  // each its own read, all at once: IndexedDB answers them side by side, where one after another each waits its turn
  const [stored, recentHeaders, certState, floor] = await Promise.all([
    s.store.headTipSet(), s.store.recent(RECENT), s.certs?.state() ?? null, s.certs === null ? 0 : s.store.floor()
  ])
  const headTipSet = stored ?? makeTipSet([s.genesis.header])
  const head = headTipSet.blocks[0]!
  const recent = recentHeaders.map(summarize)
  const finality = s.certs === null ? null : storedFinalityStatus(certState, headTipSet.height, floor)
  s.startup.mark('stored status')
  return {
    peerId: s.peerId,
    network: s.genesis.state.network,
    provingPeriod: s.genesis.state.market.provingPeriod,
    genesisCid: s.genesis.header.cid.toString(),
    bootstrapSource: s.bootstrapSource,
    syncState: 'syncing',
    lastNewHeadAtMs: s.startedAtMs,
    stallWindowMs: s.stallWindowMs,
    headProbes: 0,
    peers: [],
    verifiedHeight: head.header.height,
    headCid: head.cid.toString(),
    headTimestamp: head.header.timestamp,
    bestKnownHeight: head.header.height,
    backlog: null,
    lastRejection: null,
    lastNetworkError: null,
    recent,
    nodes: [],
    stats: { headersVerified: 0, verifyMs: 0, firstVerifiedAtMs: null, startedAtMs: s.startedAtMs, startup: [...s.startup.marks], startupOriginMs: s.startup.originMs },
    consensus: s.genesis.state.consensus === 'expected' ? 'expected' : 'single',
    headBlocks: headTipSet.blocks.length,
    reorgs: { count: 0, deepest: 0, last: null },
    finality
  }
}

/**
 * The chain of the bootstrap document kept from the last online start, as a status (null when none is kept): what a
 * worker shows while the document is fetched again, so a reload does not wait on the network to show its head (a
 * page shows its saved status before even this: src/app/status-snapshot.ts). The node's own statuses replace it.
 */
export async function readSavedChainStatus (peerId: string, startup: StartupClock, startedAtMs: number): Promise<LightClientStatus | null> {
  const saved = await loadSavedBootstrap()
  if (saved === undefined) return null
  const genesis = genesisOf(parseBootstrap(saved))
  const withF3 = genesis.state.consensus === 'expected' && genesis.state.f3 !== undefined
  const [opened, openedCerts] = await Promise.allSettled([openHeaderStore(genesis.header.cid.toString()), withF3 ? openF3CertStore(genesis.header.cid.toString()) : null])
  if (opened.status === 'rejected' || openedCerts.status === 'rejected') {
    if (opened.status === 'fulfilled') opened.value.close()
    if (openedCerts.status === 'fulfilled') openedCerts.value?.close()
    throw opened.status === 'rejected' ? opened.reason : (openedCerts as PromiseRejectedResult).reason
  }
  const store = opened.value
  const certs: F3CertStore | null = openedCerts.value
  try {
    return await readStoredStatus({
      peerId, genesis, store, certs, bootstrapSource: 'stored', startedAtMs, stallWindowMs: STALL_BLOCK_TIMES * genesis.state.blockDelaySecs * 1000, startup
    })
  } finally {
    store.close()
    certs?.close()
  }
}
