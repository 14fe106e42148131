// The page's side of the one typed interface to the light-client worker.
import type { PageToWorker, WorkerToPage } from '../light/worker-protocol'

export interface LightClientConnection { stop: () => void }

export function connectLightClient (onMessage: (msg: WorkerToPage) => void): LightClientConnection {
  const worker = new Worker(new URL('../../workers/light-client.worker.ts', import.meta.url), { type: 'module', name: 'coffer-light-client' })
  const send = (msg: PageToWorker): void => { worker.postMessage(msg) }
  worker.addEventListener('message', (evt: MessageEvent<WorkerToPage>) => { onMessage(evt.data) })
  worker.addEventListener('error', (evt) => { onMessage({ type: 'fatal', error: { name: 'WorkerError', message: evt.message || 'the light-client worker failed to start' } }) })
  send({ type: 'start', bootstrapUrl: '/bootstrap.json' })
  return { stop: () => { send({ type: 'stop' }); setTimeout(() => { worker.terminate() }, 2000) } }
}
