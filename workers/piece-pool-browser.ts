// The browser's piece pool: one WASM module compiled once and shared, a hashing worker per core. The page
// (Piece view) and the light-client worker (uploads, proof checks; nested workers) each start one.
import wasmUrl from './wasm/build/piece.wasm?url'
import { createPiecePool, type PiecePool } from './piece-pool'

let pool: Promise<PiecePool> | undefined

export async function piecePool (): Promise<PiecePool> {
  // a failed start (offline before the module was cached, say) is not kept: the next file tries again
  pool ??= (async () => {
    const module = await WebAssembly.compileStreaming(fetch(wasmUrl))
    return createPiecePool({
      size: navigator.hardwareConcurrency > 0 ? navigator.hardwareConcurrency : 2,
      module,
      spawn: () => new Worker(new URL('./piece-hasher.worker.ts', import.meta.url), { type: 'module', name: 'coffer-piece-hasher' })
    })
  })()
  pool.catch(() => { pool = undefined })
  return await pool
}
