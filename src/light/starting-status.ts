// The status a light node shows from its own storage while it starts (issue 14: reload to a verified head in well
// under a second): the head and the finality an earlier session verified and stored, before libp2p exists or any
// node has answered. Every figure in it was checked when it was stored; 'syncing' says nothing newer is known yet.
import type { Genesis, TipSet } from '../core'
import type { FinalityStatus } from './finality-service'
import type { HeaderSummary, LightClientStatus } from './status'

/** When each step of a start ended, in ms on the node's clock since its worker began: what a slow start spent. */
export interface StartupMark { phase: string, atMs: number }

export interface StartupClock {
  marks: readonly StartupMark[]
  /** Notes that `phase` ended now (the first time only: a restarted step keeps its first figure). */
  mark: (phase: string) => void
}

export function startupClock (nowMs: () => number = () => performance.now()): StartupClock {
  const marks: StartupMark[] = []
  return {
    marks,
    mark: (phase) => { if (!marks.some(m => m.phase === phase)) marks.push({ phase, atMs: Math.round(nowMs()) }) }
  }
}

export interface StartingStatusInit {
  peerId: string
  genesis: Genesis
  bootstrapSource: 'network' | 'stored'
  head: TipSet
  recent: HeaderSummary[]
  finality: FinalityStatus | null
  startedAtMs: number
  stallWindowMs: number
  startup: readonly StartupMark[]
}

export function startingStatus (s: StartingStatusInit): LightClientStatus {
  const head = s.head.blocks[0]!
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
    recent: s.recent,
    nodes: [],
    stats: { headersVerified: 0, verifyMs: 0, firstVerifiedAtMs: null, startedAtMs: s.startedAtMs, startup: [...s.startup] },
    consensus: s.genesis.state.consensus === 'expected' ? 'expected' : 'single',
    headBlocks: s.head.blocks.length,
    reorgs: { count: 0, deepest: 0, last: null },
    finality: s.finality
  }
}
