// Adapts a worker thread's parentPort to the piece worker's scope, so Node providers run the browser's code.
import { parentPort } from 'node:worker_threads'
import { runPieceWorker } from '../../workers/piece-worker'
import type { PoolToWorker } from '../../workers/piece-protocol'

const port = parentPort!
runPieceWorker({
  postMessage: (msg, transfer) => { port.postMessage(msg, (transfer ?? []) as ArrayBuffer[]) },
  addEventListener: (_type, listener) => { port.on('message', (data: PoolToWorker) => { listener({ data } as MessageEvent<PoolToWorker>) }) }
})
