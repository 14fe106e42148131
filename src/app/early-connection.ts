// The page asks for its light node before React has loaded (issue 14: a reload shows its verified head in well under
// a second). index.html's first script (boot.ts) calls `connectEarly`: the node's worker script is fetched and run
// while the page's own, larger script is still loading, and the snapshots it sends meanwhile are kept (the latest of
// each kind, every fatal or refused message) for the hook, which takes the connection over with `takeConnection`.
// Before any worker has loaded, it reads the status saved for the next load (status-snapshot.ts: one localStorage
// item, read at once) and hands it on as the first status; every status the node sends after is saved for the next.
// When there is a saved status (a reload), the node is asked for only once the app takes the connection, after its
// first paint: the saved head is on screen before the node's workers start (measured over raw CDP, five reloads
// each way: head shown at a median ~225 ms after navigation, ~300 ms when the workers' start ran beside React's).
import type { WorkerToPage } from '../light/worker-protocol'
import type { LightClientStatus } from '../light/status'
import { readStatusSnapshot, statusSnapshotWriter } from './status-snapshot'
import { connectLightClient, type LightClientConnection, type NodeKind } from './light-client-port'

type OnMessage = (msg: WorkerToPage) => void
type OnKind = (kind: NodeKind) => void

interface Early {
  /** The connection, started now if it was left for the app to start. */
  connection: () => LightClientConnection
  attach: (onMessage: OnMessage, onKind: OnKind) => void
  /** The latest status come so far (the saved one, or the node's), not yet handed on. */
  status: () => LightClientStatus | null
}

let early: Early | null = null

/** This page's writer of the saved status (status-snapshot.ts), made on first use (not in Node's tests that pass their own). */
let writer: ReturnType<typeof statusSnapshotWriter> | null = null
const saveStatus = (status: LightClientStatus): void => { (writer ??= statusSnapshotWriter()).save(status) }

type Connect = (onMessage: OnMessage, onKind: OnKind) => LightClientConnection

/**
 * Reads the saved status (by `readSaved`) and starts the page's connection to its node (by `connect`: a test's stands
 * in for the browser's): now when nothing is saved, else when the app first takes it (`takeConnection`, after the
 * app's first paint). Saves the node's status (by `save`).
 */
export function connectEarly (
  connect: Connect = connectLightClient,
  readSaved: () => LightClientStatus | null = () => readStatusSnapshot(Date.now()),
  save: (status: LightClientStatus) => void = saveStatus
): void {
  if (early !== null) return
  /** Snapshots replace each other (the latest is the state); the others are each news once. */
  const snapshots = new Map<WorkerToPage['type'], WorkerToPage>()
  const events: WorkerToPage[] = []
  let kind: NodeKind | null = null
  let forward: { onMessage: OnMessage, onKind: OnKind } | null = null
  const deliver = (msg: WorkerToPage): void => {
    // the page's side of a start, on its clock (the bench reads it beside boot.ts's and the node's own marks)
    if (msg.type === 'status' && !performance.getEntriesByName('coffer: first status').length) performance.mark('coffer: first status')
    if (forward !== null) forward.onMessage(msg)
    else if (msg.type === 'status' || msg.type === 'wallet' || msg.type === 'deals' || msg.type === 'retrievals') snapshots.set(msg.type, msg)
    else events.push(msg)
  }
  const saved = readSaved()
  if (saved !== null) {
    performance.mark('coffer: saved status read')
    deliver({ type: 'status', status: saved })
  }
  const start = (): LightClientConnection => connect((msg) => {
    if (msg.type === 'status') save(msg.status) // (only a new head or certificate is written: status-snapshot.ts)
    deliver(msg)
  }, (k) => {
    if (forward !== null) forward.onKind(k)
    else kind = k
  })
  // a first load has nothing to paint until its node speaks: its worker loads beside the app's script
  let connection = saved === null ? start() : null
  early = {
    connection: () => (connection ??= start()),
    status: () => {
      const s = snapshots.get('status')
      return s?.type === 'status' ? s.status : null
    },
    attach: (onMessage, onKind) => {
      forward = { onMessage, onKind }
      if (kind !== null) onKind(kind)
      for (const msg of [...snapshots.values(), ...events]) onMessage(msg)
      snapshots.clear()
      events.length = 0
    }
  }
}

/**
 * The status the early connection holds for the app (the saved one, or the node's own if it spoke first): the app's
 * first render shows it, rather than a "starting" page painted first and the head only after the connection is taken
 * (an effect, after that paint). Null when none came yet, or the connection was taken.
 */
export function earlyStatus (): LightClientStatus | null {
  return early?.status() ?? null
}

/**
 * The connection `connectEarly` started, now delivering to `onMessage` (what came before first), or a new one when
 * there is none (it was taken already: a component mounted again after stopping it).
 */
export function takeConnection (onMessage: OnMessage, onKind: OnKind, connect: Connect = connectLightClient): LightClientConnection {
  const e = early
  early = null
  if (e === null) return connect((msg) => { if (msg.type === 'status') saveStatus(msg.status); onMessage(msg) }, onKind)
  performance.mark('coffer: app took the connection')
  e.attach(onMessage, onKind)
  return e.connection()
}
