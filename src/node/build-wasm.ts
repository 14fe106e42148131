// Compiles the WASM modules from their AssemblyScript sources: `npm run build` and `npm start` both call this, so
// the flags live in one place. The piece kernel (CommP, proofs) and ChaCha20-Poly1305 (the browser's noise).
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
export const PIECE_WASM_SOURCE = path.join(root, 'workers/wasm/assembly/piece.ts')
export const PIECE_WASM_OUT = path.join(root, 'workers/wasm/build/piece.wasm')
export const AEAD_WASM_SOURCE = path.join(root, 'workers/wasm/assembly/chacha20poly1305.ts')
export const AEAD_WASM_OUT = path.join(root, 'workers/wasm/build/chacha20poly1305.wasm')

export async function buildWasm (): Promise<void> {
  const asc = await import('assemblyscript/asc')
  for (const [source, out] of [[PIECE_WASM_SOURCE, PIECE_WASM_OUT], [AEAD_WASM_SOURCE, AEAD_WASM_OUT]] as const) {
    // -O3, no runtime (nothing is allocated after start), SIMD for the four lanes
    const { error, stderr } = await asc.main([source, '--outFile', out, '-O3', '--runtime', 'stub', '--noAssert', '--enable', 'simd'])
    if (error !== null) throw new Error(`AssemblyScript build of ${path.basename(source)} failed: ${error.message}\n${stderr.toString()}`)
  }
}
