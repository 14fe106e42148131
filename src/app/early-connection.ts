// The page asks for its light node before React has loaded (issue 14: a reload shows its verified head in well under
// a second). index.html's first script (boot.ts) calls `connectEarly`: the node's worker script is fetched and run
// while the page's own, larger script is still loading, and the snapshots it sends meanwhile are kept (the latest of
// each kind, every fatal or refused message) for the hook, which takes the connection over with `takeConnection`.
// Before any worker has loaded, it reads the status the node saved for the next load (status-snapshot.ts: one
// IndexedDB record) and hands it on as the first status, unless the node has spoken first.
import type { WorkerToPage } from '../light/worker-protocol'
import type { LightClientStatus } from '../light/status'
import { readStatusSnapshot } from '../light/status-snapshot'
import { connectLightClient, type LightClientConnection, type NodeKind } from './light-client-port'

type OnMessage = (msg: WorkerToPage) => void
type OnKind = (kind: NodeKind) => void

interface Early {
  connection: LightClientConnection
  attach: (onMessage: OnMessage, onKind: OnKind) => void
}

let early: Early | null = null

type Connect = (onMessage: OnMessage, onKind: OnKind) => LightClientConnection

/**
 * Starts the page's connection to its node now (by `connect`: a test's stands in for the browser's) and reads the
 * saved status (by `readSaved`); the first `takeConnection` gets both.
 */
export function connectEarly (connect: Connect = connectLightClient, readSaved: () => Promise<LightClientStatus | null> = async () => await readStatusSnapshot(Date.now())): void {
  if (early !== null) return
  /** Snapshots replace each other (the latest is the state); the others are each news once. */
  const snapshots = new Map<WorkerToPage['type'], WorkerToPage>()
  const events: WorkerToPage[] = []
  let kind: NodeKind | null = null
  let forward: { onMessage: OnMessage, onKind: OnKind } | null = null
  let nodeSpoke = false
  const deliver = (msg: WorkerToPage): void => {
    // the page's side of a start, on its clock (the bench reads it beside boot.ts's and the node's own marks)
    if (msg.type === 'status' && !performance.getEntriesByName('coffer: first status').length) performance.mark('coffer: first status')
    if (forward !== null) forward.onMessage(msg)
    else if (msg.type === 'status' || msg.type === 'wallet' || msg.type === 'deals' || msg.type === 'retrievals') snapshots.set(msg.type, msg)
    else events.push(msg)
  }
  void readSaved().then((status) => {
    // a status the node sent is newer than any saved one
    if (status === null || nodeSpoke) return
    performance.mark('coffer: saved status read')
    deliver({ type: 'status', status })
  }, () => {})
  const connection = connect((msg) => {
    if (msg.type === 'status') nodeSpoke = true
    deliver(msg)
  }, (k) => {
    if (forward !== null) forward.onKind(k)
    else kind = k
  })
  early = {
    connection,
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
 * The connection `connectEarly` started, now delivering to `onMessage` (what came before first), or a new one when
 * there is none (it was taken already: a component mounted again after stopping it).
 */
export function takeConnection (onMessage: OnMessage, onKind: OnKind, connect: Connect = connectLightClient): LightClientConnection {
  const e = early
  early = null
  if (e === null) return connect(onMessage, onKind)
  performance.mark('coffer: app took the connection')
  e.attach(onMessage, onKind)
  return e.connection
}
