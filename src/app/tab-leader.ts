// One light node for every tab where the browser has no SharedWorker (Chrome on Android): the tabs elect a leader
// with a Web Lock; the leader runs the node in its own dedicated worker and serves every other tab's session
// through it, each bridged over a BroadcastChannel to a port of the worker (its `connect` message). A follower's
// messages carry what structured clone carries (a File to upload, a picked file's handle), not ports, so the
// leader's worker hashes and writes files itself.
//
// A follower sends nothing until it knows a leader (it asks `who` once its tab lock is held; a leader answers, and
// announces itself when elected). When the leader closes, the next tab in the lock's queue takes over and says so;
// each follower starts a new session with it (its views are replayed) and a call that waited on the old leader
// fails with LeaderGoneError. Sessions are numbered (`from` is tab/generation) and the leader ends a tab's older
// session when a newer one speaks, so call ids, which count from 1 in each session, never meet an old session's.
import type { PageToWorker, WorkerToPage, WorkerCallSpecs } from '../light/worker-protocol'
import { createPortCaller, type CallerPort, type PortCaller } from '../light/port-caller'
import { tabLockName, watchTabLock } from '../light/tab-lock'
import { startOwnNodeWorker } from './own-node-worker'
import { transportsAsked } from './node-options'
import { lendRtc } from './rtc-lend'

const CHANNEL = 'coffer-light-node'
const LEADER_LOCK = 'coffer-node-leader'

/** The tab that ran the light node closed while this call waited on it: whether it was carried out is not known. */
export class LeaderGoneError extends Error {
  static override name = 'LeaderGoneError'
  override name = 'LeaderGoneError'
  constructor () { super('the tab that ran the light node closed while this waited on it, so whether it was done is not known: check (the history, a balance) before doing it again') }
}

type Envelope =
  | { kind: 'to-leader', from: string, msg: unknown }
  | { kind: 'to-tab', to: string, msg: unknown }
  | { kind: 'who' }
  | { kind: 'leader', tab: string }
  /** The leader's node failed: its followers say so too, rather than wait on it. */
  | { kind: 'fatal', message: string }

export interface LeaderConnection {
  caller: () => PortCaller<WorkerCallSpecs>
  stop: () => void
}

export function connectViaLeader (onMessage: (msg: WorkerToPage) => void, onKind: (kind: 'leader' | 'follower') => void): LeaderConnection {
  const tab = crypto.randomUUID()
  const bc = new BroadcastChannel(CHANNEL)
  const send = (env: Envelope): void => { bc.postMessage(env) }
  const other = (msg: unknown): void => { onMessage(msg as WorkerToPage) }
  const start: PageToWorker = { type: 'start', bootstrapUrl: '/bootstrap.json', tab, ...transportsAsked() }
  let stopped = false
  let endLocks = (): void => {}
  const ended = new Promise<void>(resolve => { endLocks = resolve })
  // held before any leader hears of this tab: a leader that could take it first would think the tab gone
  const held = new Promise<void>(resolve => { void navigator.locks.request(tabLockName(tab), async () => { resolve(); await ended }) })

  // ---- follower ----
  let leader: string | undefined
  let knowLeader = (): void => {}
  const leaderKnown = new Promise<void>(resolve => { knowLeader = resolve })
  let generation = 0
  let deliver: ((msg: unknown) => void) | undefined
  /** A new session with the leader: its messages wait until a leader is known, its replies come addressed to it. */
  const session = (): PortCaller<WorkerCallSpecs> => {
    const from = `${tab}/${++generation}`
    const port: CallerPort = {
      postMessage: (msg) => { void leaderKnown.then(() => { if (!stopped) send({ kind: 'to-leader', from, msg }) }) },
      addEventListener: (_type, l) => { deliver = (msg) => { l(new MessageEvent('message', { data: msg })) } }
    }
    const c = createPortCaller<WorkerCallSpecs>(port, other)
    port.postMessage(start, [])
    return { ...c, deliverTo: from } as PortCaller<WorkerCallSpecs> & { deliverTo: string }
  }
  let caller: PortCaller<WorkerCallSpecs> & { deliverTo?: string } = session()

  const follow = (l: string): void => {
    if (leader === l || worker !== undefined) return
    const first = leader === undefined
    leader = l
    onKind('follower')
    if (first) { knowLeader(); return } // the session waiting for a leader goes to this one
    caller.fail(new LeaderGoneError())
    caller = session()
  }

  // ---- leader ----
  let worker: Worker | undefined
  let rtcHost: { close: () => void } | undefined
  const bridges = new Map<string, MessagePort>()
  const watched = new Set<string>()
  const closeBridge = (from: string): void => {
    const port = bridges.get(from)
    if (port === undefined) return
    port.postMessage({ type: 'stop' } satisfies PageToWorker) // its session ends in the worker, its calls aborted
    port.close()
    bridges.delete(from)
  }
  const bridge = (from: string): MessagePort => {
    const known = bridges.get(from)
    if (known !== undefined) return known
    const follower = from.split('/')[0]!
    for (const f of [...bridges.keys()]) if (f.split('/')[0] === follower) closeBridge(f) // a newer session ends the older
    const ch = new MessageChannel()
    worker!.postMessage({ type: 'connect', port: ch.port2 } satisfies PageToWorker, [ch.port2])
    ch.port1.onmessage = (e) => { send({ kind: 'to-tab', to: from, msg: e.data }) }
    bridges.set(from, ch.port1)
    if (!watched.has(follower)) {
      watched.add(follower)
      watchTabLock(follower, () => { watched.delete(follower); for (const f of [...bridges.keys()]) if (f.split('/')[0] === follower) closeBridge(f) })
    }
    return ch.port1
  }

  bc.onmessage = (e: MessageEvent<Envelope>) => {
    const env = e.data
    if (stopped) return
    if (env.kind === 'leader' && env.tab !== tab) follow(env.tab)
    else if (env.kind === 'to-tab' && env.to === caller.deliverTo) deliver?.(env.msg)
    else if (env.kind === 'who' && worker !== undefined) send({ kind: 'leader', tab })
    else if (env.kind === 'to-leader' && worker !== undefined) bridge(env.from).postMessage(env.msg)
    else if (env.kind === 'fatal' && worker === undefined) onMessage({ type: 'fatal', error: { name: 'WorkerError', message: `the tab running the light node: ${env.message}` } })
  }
  void held.then(() => { if (!stopped) send({ kind: 'who' }) })

  void navigator.locks.request(LEADER_LOCK, async () => {
    await held
    if (stopped) return
    // calls this tab made as a follower (to an old leader, or waiting for one) cannot be answered now
    caller.fail(new LeaderGoneError())
    const w = startOwnNodeWorker((message) => {
      onMessage({ type: 'fatal', error: { name: 'WorkerError', message } })
      send({ kind: 'fatal', message })
    })
    worker = w
    caller = createPortCaller<WorkerCallSpecs>(w as unknown as CallerPort, other)
    // the leader's page makes the node's WebRTC connections: they end with it, as its worker does
    rtcHost = lendRtc((msg, transfer) => { w.postMessage(msg, transfer) })
    w.postMessage(start)
    onKind('leader')
    send({ kind: 'leader', tab })
    await ended // held while this tab is open
  })

  return {
    caller: () => caller,
    stop: () => {
      if (stopped) return
      const w = worker
      // a follower's session ends at the leader now, rather than when the leader takes its lock
      if (w === undefined && leader !== undefined && caller.deliverTo !== undefined) send({ kind: 'to-leader', from: caller.deliverTo, msg: { type: 'stop' } })
      stopped = true
      bc.close()
      if (w === undefined) { endLocks(); return }
      // the next leader may start its node only once this one is stopped: both would open the same IndexedDB and OPFS files
      const done = new Promise<void>(resolve => {
        w.addEventListener('message', (e: MessageEvent<WorkerToPage>) => { if (e.data?.type === 'stopped') resolve() })
        setTimeout(resolve, 2000)
      })
      w.postMessage({ type: 'stop' } satisfies PageToWorker)
      void done.then(() => { rtcHost?.close(); w.terminate(); endLocks() })
    }
  }
}
