// The page's side of the one typed interface to the light-client worker: `call(method, params, opts)` is
// checked against WorkerMethods, so a call's params and result need no casts; `opts.signal` cancels it in
// the worker and `opts.onProgress` receives its progress events.
import type { PageToWorker, WorkerToPage, MethodName, ParamsOf, ResultOf, CallOptions } from '../light/worker-protocol'
import type { WireError } from '../core/errors'

export type Call = <M extends MethodName>(method: M, params: ParamsOf<M>, opts?: CallOptions<M>) => Promise<ResultOf<M>>

export interface LightClientConnection {
  /** One request to the worker; rejects with the worker's error (name and message kept). */
  call: Call
  stop: () => void
}

export class WorkerCallError extends Error {
  constructor (readonly wire: WireError) {
    super(wire.message)
    this.name = wire.name
  }
}

interface Waiting { resolve: (v: unknown) => void, reject: (e: Error) => void, onProgress?: (p: unknown) => void }

export function connectLightClient (onMessage: (msg: WorkerToPage) => void): LightClientConnection {
  const worker = new Worker(new URL('../../workers/light-client.worker.ts', import.meta.url), { type: 'module', name: 'coffer-light-client' })
  const send = (msg: PageToWorker): void => { worker.postMessage(msg) }
  const waiting = new Map<number, Waiting>()
  let nextId = 1
  worker.addEventListener('message', (evt: MessageEvent<WorkerToPage>) => {
    const msg = evt.data
    if (msg.type === 'progress') { waiting.get(msg.id)?.onProgress?.(msg.progress); return }
    if (msg.type === 'reply') {
      const w = waiting.get(msg.id)
      waiting.delete(msg.id)
      if (msg.ok) w?.resolve(msg.value)
      else w?.reject(new WorkerCallError(msg.error))
      return
    }
    onMessage(msg)
  })
  worker.addEventListener('error', (evt) => { onMessage({ type: 'fatal', error: { name: 'WorkerError', message: evt.message || 'the light-client worker failed to start' } }) })
  send({ type: 'start', bootstrapUrl: '/bootstrap.json' })
  const call: Call = async (method, params, opts = {}) => await new Promise((resolve, reject) => {
    const id = nextId++
    opts.signal?.throwIfAborted()
    opts.signal?.addEventListener('abort', () => { send({ type: 'cancel', id }) }, { once: true })
    waiting.set(id, { resolve: resolve as (v: unknown) => void, reject, onProgress: opts.onProgress as ((p: unknown) => void) | undefined })
    send({ type: 'call', id, method, params })
  })
  return {
    call,
    stop: () => { send({ type: 'stop' }); setTimeout(() => { worker.terminate() }, 2000) }
  }
}
