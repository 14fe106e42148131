// Piece-pool workers in this thread, for Node tests: runPieceWorker (the code a real hashing worker runs) on
// the far end of a MessageChannel, with ways to make it die as a crashed worker does.
import { readFileSync } from 'node:fs'
import type { WorkerLike } from '../../workers/piece-pool'
import { runPieceWorker } from '../../workers/piece-worker'
import type { PoolToWorker, WorkerToPool } from '../../workers/piece-protocol'
import { PIECE_WASM_PATH } from './wasm'

export async function pieceWasmModule (): Promise<WebAssembly.Module> {
  return await WebAssembly.compile(readFileSync(PIECE_WASM_PATH))
}

/** A worker in this thread; `dieOnJob` makes it fail (as a crashed worker does) on its first n jobs. */
export function inProcessWorker (dieOnJob = 0, failStart = false): WorkerLike {
  const { port1, port2 } = new MessageChannel()
  const errorListeners: Array<(e: Event) => void> = []
  let deaths = dieOnJob
  runPieceWorker({
    postMessage: (m: WorkerToPool, t?: Transferable[]) => { port2.postMessage(m, t ?? []) },
    addEventListener: (_type, listener) => {
      port2.addEventListener('message', (evt) => {
        const msg = (evt as MessageEvent<PoolToWorker>).data
        if (msg.type === 'init' && failStart) { setTimeout(() => { for (const l of errorListeners) l(new Event('error')) }, 1); return }
        if (msg.type !== 'init' && deaths > 0) { deaths--; for (const l of errorListeners) l(new Event('error')); return }
        listener(evt as MessageEvent<PoolToWorker>)
      })
    }
  })
  port2.start()
  return {
    postMessage: (m, t) => { port1.postMessage(m, t) },
    addEventListener: ((type: string, listener: (evt: never) => void) => {
      if (type === 'error') errorListeners.push(listener as (e: Event) => void)
      else { port1.addEventListener('message', listener as (evt: Event) => void); port1.start() }
    }) as WorkerLike['addEventListener'],
    terminate: () => { port1.close(); port2.close() }
  }
}
