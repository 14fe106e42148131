// The node's last status, kept for the page's next load (issue 14: reload to a verified head in ≤ 0.5 s). The node
// writes it as it publishes (every new head or certificate); the page's first script reads it (one IndexedDB record,
// no worker and no decoding) and shows it until its node speaks. Before, the page waited for a worker of ~250 KB to
// load, read the bootstrap, decode the genesis and the stored headers: 0.9 s into a reload on this machine.
// Every figure in it was verified by the node that wrote it, on this device; it is shown as 'syncing' (nothing newer
// is known yet) and replaced by the node's own first status. A snapshot from another build is not read: the page
// reading it may expect a status of another shape. Every node of this origin writes the one record (tabs with nodes
// of their own, an old build's shared node during an update): the last write wins, which at worst shows a head a
// moment older, or none, until the node speaks. The page's first script loads this: `idb` (~1 KB) and types only.
import { openDB, type IDBPDatabase } from 'idb'
import type { LightClientStatus } from './status'

declare const __COFFER_BUILD__: string | undefined
/** This build's id (vite.config.ts defines it); where no bundler ran (Node's tests and tools) there is no snapshot to share. */
export const BUILD_ID: string = typeof __COFFER_BUILD__ === 'string' ? __COFFER_BUILD__ : 'unbuilt'

const DB = 'coffer-status-snapshot'
const STORE = 'snapshot'
const KEY = 'last'

interface Snapshot { build: string, status: LightClientStatus }

async function open (): Promise<IDBPDatabase> {
  // a later build's upgrade is not held up by a running node: it closes, and its next write opens anew
  return await openDB(DB, 1, { upgrade (db) { db.createObjectStore(STORE) }, blocking (_now, _next, event) { (event.target as IDBDatabase).close() } })
}

/** A finality status's counts of this session at zero: what a start shows before it has checked anything. */
export const FINALITY_SESSION_START = {
  behind: false, knownInstances: 0, verified: 0, verifyMs: 0, verifier: null, verifyThreads: 0, jumpedFromEpoch: null, certificateBytes: 0, headerBytes: 0
} as const

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

/** The snapshot this build's node wrote last, as a starting status; null when there is none (or IndexedDB fails). */
export async function readStatusSnapshot (nowMs: number): Promise<LightClientStatus | null> {
  if (globalThis.indexedDB === undefined) return null
  try {
    const d = await open()
    try {
      const got = await d.get(STORE, KEY) as Snapshot | undefined
      return got?.build === BUILD_ID && got.status !== undefined ? startingStatusOf(got.status, nowMs) : null
    } finally { d.close() }
  } catch { return null } // a page without its snapshot waits for its node, as a first visit does
}

/**
 * The node's writer: `save(status)` keeps the latest status of a new head, certificate, recent list or lowest header.
 * One write at a time, and a status that arrives during one is written after it (the last one only): a head a
 * second costs a put a second. Failures (quota, a closed database) are dropped: the snapshot only saves the next load
 * some waiting.
 */
export function statusSnapshotWriter (): { save: (status: LightClientStatus) => void, idle: () => Promise<void> } {
  let conn: Promise<IDBPDatabase> | null = null
  let pending: LightClientStatus | null = null
  let writing: Promise<void> | null = null
  let lastKey = ''
  const drain = async (): Promise<void> => {
    while (pending !== null) {
      const next = pending
      pending = null
      try {
        conn ??= open()
        await (await conn).put(STORE, { build: BUILD_ID, status: next } satisfies Snapshot, KEY)
      } catch {
        // closed and reopened next time (a database closed under us, or a full disk: no connection left behind)
        const was = conn
        conn = null
        void was?.then(d => { d.close() }, () => {})
      }
    }
    writing = null
  }
  return {
    save: (status) => {
      // the head and the certificate are what a reload shows first; other changes (peers, counts) wait for the next
      // (the head's status may come before its recent list is read, and a backfill moves the lowest header held)
      const key = `${status.genesisCid} ${status.headCid} ${status.recent[0]?.cid ?? ''} ${status.finality?.instance ?? ''} ${status.finality?.finalizedEpoch ?? ''} ${status.finality?.lowestHeight ?? ''}`
      if (key === lastKey || globalThis.indexedDB === undefined) return
      lastKey = key
      pending = status
      writing ??= drain()
    },
    idle: async () => { await writing }
  }
}
