// The page's side of the one typed interface to the light node: `call(method, params, opts)` is checked against
// WorkerMethods, so a call's params and result need no casts; `opts.signal` cancels it in the worker and
// `opts.onProgress` receives its progress events (port-caller.ts).
//
// Where the browser has SharedWorker, every tab of the app shares one node (one set of connections, one sync,
// one wallet unlock: src/light/shared-node.ts); the tab holds a Web Lock while it is open, so the node learns when
// it closes, and lends the node a dedicated worker of its own for hashing and OPFS writes, which a SharedWorker
// cannot do. Without SharedWorker (Chrome on Android), or with `?node=leader`, the tabs elect one of them to run
// the node for all (tab-leader.ts). With `?node=tab`, or without Web Locks, the tab runs its own node.
import type { PageToWorker, WorkerToPage, MethodName, ParamsOf, ResultOf, CallOptions, WorkerCallSpecs } from '../light/worker-protocol'
import { createPortCaller, RemoteCallError, type CallerPort } from '../light/port-caller'
import type { TabWorkerRequest } from '../light/platform-protocol'
import { tabLockName } from '../light/tab-lock'
import { connectViaLeader } from './tab-leader'
import { startOwnNodeWorker } from './own-node-worker'
import { lendRtc } from './rtc-lend'
import { nodeMode, transportsAsked } from './node-options'

export type Call = <M extends MethodName>(method: M, params: ParamsOf<M>, opts?: CallOptions<M>) => Promise<ResultOf<M>>

export interface LightClientConnection {
  /** One request to the worker; rejects with the worker's error (name and message kept). */
  call: Call
  stop: () => void
  /** 'shared': one node for every tab; 'tab': this tab's own. Under leader election it is told through `onKind`. */
  kind: NodeKind
}

/** Which node this tab talks to: the SharedWorker's, its own, or (leader election) the one it runs or another tab's. */
export type NodeKind = 'shared' | 'tab' | 'leader' | 'follower'

/** The worker's error, with its name (and code) kept. */
export const WorkerCallError = RemoteCallError

export function connectLightClient (onMessage: (msg: WorkerToPage) => void, onKind: (kind: NodeKind) => void = () => {}): LightClientConnection {
  const other = (msg: unknown): void => { onMessage(msg as WorkerToPage) }
  const fatal = (message: string): void => { onMessage({ type: 'fatal', error: { name: 'WorkerError', message } }) }
  const mode = nodeMode()
  if (mode === 'leader') {
    const c = connectViaLeader(onMessage, onKind)
    const call: Call = async (method, params, opts) => await c.caller().call(method, params, opts)
    return { kind: 'follower', call, stop: c.stop }
  }
  if (mode === 'tab') {
    const worker = startOwnNodeWorker(fatal)
    const caller = createPortCaller<WorkerCallSpecs>(worker as unknown as CallerPort, other)
    const send = (msg: PageToWorker): void => { worker.postMessage(msg) }
    const rtc = lendRtc((msg, transfer) => { worker.postMessage(msg, transfer) })
    send({ type: 'start', bootstrapUrl: '/bootstrap.json', ...transportsAsked() })
    return {
      kind: 'tab',
      call: caller.call as Call,
      stop: () => { send({ type: 'stop' }); setTimeout(() => { rtc.close(); worker.terminate() }, 2000) }
    }
  }

  const tab = crypto.randomUUID()
  const helper = new Worker(new URL('../../workers/tab-platform.worker.ts', import.meta.url), { type: 'module', name: 'coffer-tab-platform' })
  // without it this tab cannot hash or write files for the node: said, rather than left to hang
  helper.addEventListener('error', (evt) => { fatal(`this tab's file worker failed: ${evt.message || 'it did not start'}`) })
  const node = new SharedWorker(new URL('../../workers/light-node.shared-worker.ts', import.meta.url), { type: 'module', name: 'coffer-light-node' })
  node.addEventListener('error', () => { fatal('the shared light-node worker failed to start') })
  const port = node.port
  // the lock is held before the node hears of this tab: a node that could take it first would think the tab gone
  let releaseLock = (): void => {}
  const held = new Promise<void>((resolve) => {
    void navigator.locks.request(tabLockName(tab), async () => {
      resolve()
      await new Promise<void>(release => { releaseLock = release })
    })
  })
  // everything is sent in order once the lock is held
  let queue: Promise<void> = held
  // a message that cannot be sent (DataCloneError) fails alone: the queue goes on for the ones after it
  const post = (msg: unknown, transfer: Transferable[] = []): void => {
    queue = queue.then(() => { port.postMessage(msg, transfer) }).catch((err: unknown) => { console.error('coffer: a message to the light node could not be sent', err) })
  }
  const caller = createPortCaller<WorkerCallSpecs>({ postMessage: post, addEventListener: (type, l) => { port.addEventListener(type, l) } }, other)
  port.start()
  const lent = new MessageChannel()
  helper.postMessage({ type: 'serve', port: lent.port1 } satisfies TabWorkerRequest, [lent.port1])
  post({ type: 'lend', tab, port: lent.port2 } satisfies PageToWorker, [lent.port2])
  const rtc = lendRtc(post, tab)
  post({ type: 'start', bootstrapUrl: '/bootstrap.json', tab, ...transportsAsked() } satisfies PageToWorker)
  return {
    kind: 'shared',
    call: caller.call as Call,
    // the node goes on for the other tabs: this tab's session ends, and its lock and helper go
    stop: () => { post({ type: 'stop' } satisfies PageToWorker); void queue.then(() => { releaseLock(); helper.terminate(); rtc.close() }) }
  }
}
