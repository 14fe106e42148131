// Compiles the piece WASM module from its AssemblyScript source: `npm run build` and `npm start` both call
// this, so the flags live in one place.
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
export const PIECE_WASM_SOURCE = path.join(root, 'workers/wasm/assembly/piece.ts')
export const PIECE_WASM_OUT = path.join(root, 'workers/wasm/build/piece.wasm')

export async function buildPieceWasm (): Promise<void> {
  const asc = await import('assemblyscript/asc')
  // -O3, no runtime (nothing is allocated after start), SIMD for the four-lane hash
  const { error, stderr } = await asc.main([PIECE_WASM_SOURCE, '--outFile', PIECE_WASM_OUT, '-O3', '--runtime', 'stub', '--noAssert', '--enable', 'simd'])
  if (error !== null) throw new Error(`AssemblyScript build failed: ${error.message}\n${stderr.toString()}`)
}
