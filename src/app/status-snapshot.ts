// The node's last status, kept for the page's next load (issue 14: reload to a verified head in ≤ 0.5 s). The page
// writes it as its node publishes (every new head or certificate); the page's first script reads it and shows it
// until its node speaks. Before, the page waited for a worker of ~250 KB to load, read the bootstrap, decode the
// genesis and the stored headers: 0.9 s into a reload on this machine. It is one localStorage item, read in the same
// task that starts the page: kept in IndexedDB (written by the node), its read took 80–500 ms of a reload on this
// machine, the page's first paint and React's load meanwhile (scratch harness, four reloads).
// Every figure in it was verified by the node that wrote it, on this device; it is shown as 'syncing' (nothing newer
// is known yet) and replaced by the node's own first status. A snapshot from another build is not read: the page
// reading it may expect a status of another shape. Every page of this origin writes the one item (each tab, an old
// build's page during an update): the last write wins, which at worst shows a head a moment older, or none, until the
// node speaks. The page's first script loads this (and light/status.ts: types and one constant).
import { FINALITY_SESSION_START, type LightClientStatus } from '../light/status'

declare const __COFFER_BUILD__: string | undefined
/** This build's id (vite.config.ts defines it); where no bundler ran (Node's tests and tools) there is no snapshot to share. */
export const BUILD_ID: string = typeof __COFFER_BUILD__ === 'string' ? __COFFER_BUILD__ : 'unbuilt'

const ITEM = 'coffer-status-snapshot'

interface Snapshot { build: string, status: LightClientStatus }

/** The page's localStorage, or none (a worker, Node, a browser that refuses it: the getter itself may throw). */
function pageStorage (): Storage | null {
  try { return globalThis.localStorage ?? null } catch { return null }
}

/**
 * What a page shows from the snapshot before its node speaks: the verified head, its recent tipsets and finality as
 * stored, as a start that has checked nothing yet (no peers, this session's counts at zero). The peer ID is the next
 * session's, unknown here ('').
 */
export function startingStatusOf (s: LightClientStatus, nowMs: number): LightClientStatus {
  return {
    ...s,
    peerId: '',
    bootstrapSource: 'stored',
    syncState: 'syncing',
    lastNewHeadAtMs: nowMs,
    headProbes: 0,
    peers: [],
    bestKnownHeight: s.verifiedHeight,
    backlog: null,
    lastRejection: null,
    lastNetworkError: null,
    nodes: [],
    stats: { headersVerified: 0, verifyMs: 0, firstVerifiedAtMs: null, startedAtMs: nowMs, startup: [], startupOriginMs: s.stats.startupOriginMs },
    reorgs: { count: 0, deepest: 0, last: null },
    finality: s.finality === null
      ? null
      : { ...s.finality, ...FINALITY_SESSION_START }
  }
}

/** The snapshot this build's page wrote last, as a starting status; null when there is none (or the storage fails). */
export function readStatusSnapshot (nowMs: number, storage: Storage | null = pageStorage()): LightClientStatus | null {
  try {
    const text = storage?.getItem(ITEM) ?? null
    if (text === null) return null
    const got = JSON.parse(text) as Partial<Snapshot>
    return got.build === BUILD_ID && got.status !== undefined ? startingStatusOf(got.status, nowMs) : null
  } catch { return null } // a page without its snapshot waits for its node, as a first visit does
}

/**
 * The page's writer: `save(status)` keeps a status of a new head, certificate, recent list or lowest header (a
 * head a second costs a write a second: some kilobytes of JSON). Failures (a full quota, storage refused) are
 * dropped: the snapshot only saves the next load some waiting.
 */
export function statusSnapshotWriter (storage: Storage | null = pageStorage()): { save: (status: LightClientStatus) => void } {
  let lastKey = ''
  return {
    save: (status) => {
      if (storage === null) return
      // the head and the certificate are what a reload shows first; other changes (peers, counts) wait for the next
      // (the head's status may come before its recent list is read, and a backfill moves the lowest header held)
      const key = `${status.genesisCid} ${status.headCid} ${status.recent[0]?.cid ?? ''} ${status.finality?.instance ?? ''} ${status.finality?.finalizedEpoch ?? ''} ${status.finality?.lowestHeight ?? ''}`
      if (key === lastKey) return
      try {
        storage.setItem(ITEM, JSON.stringify({ build: BUILD_ID, status } satisfies Snapshot))
        lastKey = key // (a refused write is tried again with the next status, even of the same head)
      } catch {}
    }
  }
}
