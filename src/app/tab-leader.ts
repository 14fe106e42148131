// One light node for every tab where the browser has no SharedWorker (Chrome on Android): the tabs elect a leader
// with a Web Lock; the leader runs the node in its own dedicated worker and serves every other tab's session
// through it, each bridged over a BroadcastChannel to a port of the worker (its `connect` message). A follower's
// messages carry what structured clone carries (a File to upload, a picked file's handle), not ports, so the
// leader's worker hashes and writes files itself. When the leader closes, the next tab in the lock's queue takes
// over and says so; the others start their sessions again with it (its views are replayed to them) and a call
// that was waiting on the old leader fails with LeaderGoneError.
import type { PageToWorker, WorkerToPage, MethodName, ParamsOf, ResultOf, WorkerMethods } from '../light/worker-protocol'
import { createPortCaller, type CallerPort, type PortCaller } from '../light/port-caller'
import { tabLockName, watchTabLock } from '../light/tab-lock'

type Specs = { [M in MethodName]: { params: ParamsOf<M>, result: ResultOf<M>, progress: WorkerMethods[M]['progress'] } }

const CHANNEL = 'coffer-light-node'
const LEADER_LOCK = 'coffer-node-leader'

/** The tab that ran the node closed while this call waited on it. */
export class LeaderGoneError extends Error {
  static override name = 'LeaderGoneError'
  override name = 'LeaderGoneError'
  constructor () { super('the tab that ran the light node closed; another tab runs it now: try again') }
}

type Envelope =
  | { kind: 'to-leader', from: string, msg: unknown }
  | { kind: 'to-tab', to: string, msg: unknown }
  | { kind: 'leader', tab: string }

export interface LeaderConnection {
  caller: () => PortCaller<Specs>
  stop: () => void
}

export function connectViaLeader (onMessage: (msg: WorkerToPage) => void, onKind: (kind: 'leader' | 'follower') => void): LeaderConnection {
  const tab = crypto.randomUUID()
  const bc = new BroadcastChannel(CHANNEL)
  const other = (msg: unknown): void => { onMessage(msg as WorkerToPage) }
  const start: PageToWorker = { type: 'start', bootstrapUrl: '/bootstrap.json', tab }
  let stopped = false
  let endLocks = (): void => {}
  const ended = new Promise<void>(resolve => { endLocks = resolve })
  // held before anyone can hear of this tab: a leader that could take it first would think the tab gone
  const held = new Promise<void>(resolve => { void navigator.locks.request(tabLockName(tab), async () => { resolve(); await ended }) })

  // a follower's session: its messages go to the leader over the channel, the leader's replies come back addressed to it
  let deliver: ((evt: MessageEvent) => void) | undefined
  const followerCaller = (): PortCaller<Specs> => createPortCaller<Specs>({
    postMessage: (msg) => { bc.postMessage({ kind: 'to-leader', from: tab, msg } satisfies Envelope) },
    addEventListener: (_type, l) => { deliver = l }
  }, other)
  let caller = followerCaller()
  let worker: Worker | undefined
  const bridges = new Map<string, MessagePort>()

  const bridge = (from: string): MessagePort => {
    let port = bridges.get(from)
    if (port !== undefined) return port
    const ch = new MessageChannel()
    worker!.postMessage({ type: 'connect', port: ch.port2 } satisfies PageToWorker, [ch.port2])
    ch.port1.onmessage = (e) => { bc.postMessage({ kind: 'to-tab', to: from, msg: e.data } satisfies Envelope) }
    bridges.set(from, ch.port1)
    // that tab closed: its session ends in the worker (its calls aborted) and the bridge goes
    watchTabLock(from, () => { ch.port1.postMessage({ type: 'stop' } satisfies PageToWorker); ch.port1.close(); bridges.delete(from) })
    port = ch.port1
    return port
  }

  bc.onmessage = (e: MessageEvent<Envelope>) => {
    const env = e.data
    if (stopped) return
    if (env.kind === 'leader' && env.tab !== tab && worker === undefined) {
      // a new leader: calls waiting on the old one fail, and this tab's session starts again with the new one
      caller.fail(new LeaderGoneError())
      caller = followerCaller()
      bc.postMessage({ kind: 'to-leader', from: tab, msg: start } satisfies Envelope)
    } else if (env.kind === 'to-tab' && env.to === tab) {
      deliver?.(new MessageEvent('message', { data: env.msg }))
    } else if (env.kind === 'to-leader' && worker !== undefined) {
      bridge(env.from).postMessage(env.msg)
    }
  }

  void held.then(() => {
    if (stopped) return
    onKind('follower')
    bc.postMessage({ kind: 'to-leader', from: tab, msg: start } satisfies Envelope)
  })
  void navigator.locks.request(LEADER_LOCK, async () => {
    await held
    if (stopped) return
    caller.fail(new LeaderGoneError())
    worker = new Worker(new URL('../../workers/light-client.worker.ts', import.meta.url), { type: 'module', name: 'coffer-light-client' })
    worker.addEventListener('error', (evt) => { onMessage({ type: 'fatal', error: { name: 'WorkerError', message: evt.message || 'the light-client worker failed to start' } }) })
    caller = createPortCaller<Specs>(worker as unknown as CallerPort, other)
    worker.postMessage(start)
    onKind('leader')
    bc.postMessage({ kind: 'leader', tab } satisfies Envelope)
    await ended // held while this tab is open
  })

  return {
    caller: () => caller,
    stop: () => {
      stopped = true
      if (worker !== undefined) {
        const w = worker
        w.postMessage({ type: 'stop' } satisfies PageToWorker)
        setTimeout(() => { w.terminate() }, 2000)
      } else {
        bc.postMessage({ kind: 'to-leader', from: tab, msg: { type: 'stop' } } satisfies Envelope)
      }
      endLocks()
      bc.close()
    }
  }
}
