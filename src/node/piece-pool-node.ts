// The piece pool on Node: the same pool and worker code as the browser's, over worker_threads, one thread
// per core. Providers use it for CommP of large files: one shared pool per process hashes every transfer.
import { Worker } from 'node:worker_threads'
import { availableParallelism } from 'node:os'
import { readFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { createPiecePool, type PiecePool, type WorkerLike } from '../../workers/piece-pool'
import type { PoolToWorker, WorkerToPool } from '../../workers/piece-protocol'
import { PIECE_WASM_OUT } from './build-wasm'

function threadWorker (unref = false): WorkerLike {
  const w = new Worker(new URL('./piece-thread.mjs', import.meta.url))
  // a shared pool outlives any one caller: its idle threads must not keep the process alive
  if (unref) w.unref()
  return {
    postMessage: (msg: PoolToWorker, transfer: Transferable[]) => { w.postMessage(msg, transfer as ArrayBuffer[]) },
    addEventListener: ((type: 'message' | 'error', listener: (evt: never) => void) => {
      if (type === 'message') w.on('message', (data: WorkerToPool) => { (listener as (e: MessageEvent<WorkerToPool>) => void)({ data } as MessageEvent<WorkerToPool>) })
      else {
        // a thread that exits without an error event has died just the same
        w.on('error', () => { (listener as (e: Event) => void)(new Event('error')) })
        w.on('exit', () => { (listener as (e: Event) => void)(new Event('error')) })
      }
    }) as WorkerLike['addEventListener'],
    terminate: () => { void w.terminate() }
  }
}

export async function createNodePiecePool (size = availableParallelism()): Promise<PiecePool> {
  const module = await WebAssembly.compile(await readFile(PIECE_WASM_OUT))
  return createPiecePool({ size, module, spawn: threadWorker })
}

let shared: Promise<PiecePool | null> | undefined

/**
 * The process's shared pool, started on first use (each thread loads tsx and the WASM module: seconds on a
 * loaded machine, too slow to pay per transfer), or null where the WASM module is not built. Its threads are
 * unref'd, so it is never closed; a failed start is not kept, the next caller tries again.
 */
export async function sharedNodePiecePool (): Promise<PiecePool | null> {
  shared ??= (async () => {
    if (!existsSync(PIECE_WASM_OUT)) return null
    const module = await WebAssembly.compile(await readFile(PIECE_WASM_OUT))
    return createPiecePool({ size: availableParallelism(), module, spawn: () => threadWorker(true) })
  })()
  shared.catch(() => { shared = undefined })
  return await shared
}
