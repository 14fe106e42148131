// The piece WASM module as `npm run build:wasm` leaves it, for Node tests and the bench.
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { instantiatePieceWasm, type PieceWasm } from '../../workers/wasm/piece-wasm'

export const PIECE_WASM_PATH = fileURLToPath(new URL('../../workers/wasm/build/piece.wasm', import.meta.url))

export async function loadPieceWasm (): Promise<PieceWasm> {
  if (!existsSync(PIECE_WASM_PATH)) throw new Error(`${PIECE_WASM_PATH} is missing: run \`npm run build:wasm\` (npm test does)`)
  return await instantiatePieceWasm(readFileSync(PIECE_WASM_PATH))
}
