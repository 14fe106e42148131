// The page's side of the one typed interface to the light-client worker.
import type { PageToWorker, WorkerToPage, WorkerCall, CallResult } from '../light/worker-protocol'
import type { WireError } from '../core/errors'

export interface LightClientConnection {
  /** One request to the worker; rejects with the worker's error (name and message kept). */
  call: (c: WorkerCall) => Promise<CallResult>
  stop: () => void
}

export class WorkerCallError extends Error {
  constructor (readonly wire: WireError) {
    super(wire.message)
    this.name = wire.name
  }
}

export function connectLightClient (onMessage: (msg: WorkerToPage) => void): LightClientConnection {
  const worker = new Worker(new URL('../../workers/light-client.worker.ts', import.meta.url), { type: 'module', name: 'coffer-light-client' })
  const send = (msg: PageToWorker): void => { worker.postMessage(msg) }
  const waiting = new Map<number, { resolve: (v: CallResult) => void, reject: (e: Error) => void }>()
  let nextId = 1
  worker.addEventListener('message', (evt: MessageEvent<WorkerToPage>) => {
    const msg = evt.data
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
  return {
    call: async (call) => await new Promise<CallResult>((resolve, reject) => {
      const id = nextId++
      waiting.set(id, { resolve, reject })
      send({ type: 'call', id, call })
    }),
    stop: () => { send({ type: 'stop' }); setTimeout(() => { worker.terminate() }, 2000) }
  }
}
