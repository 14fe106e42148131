// The bench's page (built only by `npm run bench`, never shipped): CommP in Chromium, the reference package
// (Rust→WASM, on the page's thread) against our WASM pool with one worker and with one per core.
import * as Reference from 'fr32-sha2-256-trunc254-padded-binary-tree-multihash'
import wasmUrl from '../../../workers/wasm/build/piece.wasm?url'
import { createPiecePool } from '../../../workers/piece-pool'
import { PieceHasher, nobleNodeHasher } from '../../../src/core'

const chunk = new Uint8Array(1 << 20).map((_, i) => (i * 2654435761) >>> 24)
const seconds = (t: number): number => (performance.now() - t) / 1000

const bench = {
  cores: navigator.hardwareConcurrency,
  reference (mib: number): number {
    const t = performance.now()
    const h = Reference.create()
    for (let i = 0; i < mib; i++) h.write(chunk)
    const out = new Uint8Array(h.multihashByteLength())
    h.digestInto(out, 0, true)
    h.free()
    return mib / seconds(t)
  },
  noble (mib: number): number {
    const t = performance.now()
    const h = new PieceHasher(nobleNodeHasher)
    for (let i = 0; i < mib; i++) h.write(chunk)
    h.digest()
    return mib / seconds(t)
  },
  /** Our pool over the file chosen in the page's file input (a big Blob made in the page cannot be read back). */
  async pool (size: number): Promise<{ rate: number, v2: string }> {
    const file = (document.getElementById('file') as HTMLInputElement).files![0]!
    const module = await WebAssembly.compileStreaming(fetch(wasmUrl))
    const pool = createPiecePool({ size, module, spawn: () => new Worker(new URL('../../../workers/piece-hasher.worker.ts', import.meta.url), { type: 'module' }) })
    const t = performance.now()
    const r = await pool.pieceOf(file)
    const rate = file.size / 2 ** 20 / seconds(t)
    pool.close()
    return { rate, v2: String(r.v2) }
  }
}

Object.assign(window, { bench })
document.getElementById('state')!.textContent = 'ready'
