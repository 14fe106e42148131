// What the light client reports to the page: one plain, structured-cloneable snapshot.
import type { Epoch, UnixSeconds } from '../core'
import type { NodeSummary } from './node-checks'

/**
 * 'stalled': peers are connected but no head has come by gossip for the stall window (gossip is not reaching
 * us, or the chain stopped); the client asks its peers for their heads, less often while gossip stays
 * silent, and may still advance by what they answer.
 */
export type SyncState = 'syncing' | 'synced' | 'stalled' | 'offline'

export interface HeaderSummary {
  cid: string
  height: Epoch
  timestamp: UnixSeconds
  miner: string
  parent: string | null
  sizeBytes: number
  /** Messages the block carries, counted from its message arrays after checking them against the header. */
  messageCount?: number
  /** Under Expected Consensus: the wins its election proof claims (checked against the miner's power). */
  winCount?: number
}

export interface Rejection {
  peer: string
  name: string
  code: string
  message: string
  height?: Epoch
  atMs: number
}

export interface PeerSummary { id: string, addr: string }

import type { FinalityStatus } from './finality-service'
import type { StartupMark } from './starting-status'

export interface LightClientStatus {
  /** This light node's own libp2p peer ID (one for every tab when they share the node). */
  peerId: string
  network: string
  /** Epochs per proving period (from the genesis parameters). */
  provingPeriod: number
  genesisCid: string
  /** Where the bootstrap document came from: fetched now, or the copy kept from the last online start. */
  bootstrapSource: 'network' | 'stored'
  syncState: SyncState
  /** When the verified head last advanced (or the client started), by the client's clock. */
  lastNewHeadAtMs: number
  /**
   * How long gossip may stay silent before the state is 'stalled': the larger of the configured floor and
   * twice the largest recent gap between gossiped heads.
   */
  stallWindowMs: number
  /** Times the client asked its peers for their heads (a repeated hello) because gossip went silent. */
  headProbes: number
  peers: PeerSummary[]
  verifiedHeight: Epoch
  headCid: string
  headTimestamp: UnixSeconds
  /** Highest head any peer has told us about. */
  bestKnownHeight: Epoch
  backlog: { total: number, fetched: number, verified: number } | null
  lastRejection: Rejection | null
  lastNetworkError: string | null
  recent: HeaderSummary[]
  /** The nodes this tab talks to, each cross-checked against the verified chain (dropped ones with the reason). */
  nodes: NodeSummary[]
  /**
   * `startup`: when each step of this node's start ended (starting-status.ts), for the Chain view's footnote and the
   * bench, in ms since `startupOriginMs` (Unix ms: the worker's time origin).
   */
  stats: { headersVerified: number, verifyMs: number, firstVerifiedAtMs: number | null, startedAtMs: number, startup: StartupMark[], startupOriginMs: number }
  /** How blocks are made: by the genesis's single producer, or won by storage power (Expected Consensus). */
  consensus: 'single' | 'expected'
  /** Blocks in the head tipset. */
  headBlocks: number
  /** Head moves that left tipsets behind for a heavier fork; the last one's height and how many tipsets it reverted. */
  reorgs: { count: number, deepest: number, last: { atMs: number, height: Epoch, depth: number } | null }
  /** F3 finality (issue 14): the last certificate's instance and finalized tipset; null on a chain without F3. */
  finality: FinalityStatus | null
}

/** A finality status's counts of this session at zero: what a start shows before it has checked anything. */
export const FINALITY_SESSION_START = {
  behind: false, knownInstances: 0, verified: 0, verifyMs: 0, verifier: null, verifyThreads: 0, jumpedFromEpoch: null, certificateBytes: 0, headerBytes: 0
} as const
