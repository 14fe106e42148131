// CommP of a file on disk, read as a stream: memory stays at the hasher's batch buffer and one read
// buffer, whatever the file's size.
import { createReadStream, existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { PieceHasher, pieceCidV1, pieceCidV2, type PieceDigest, type NodeHasher } from '../core'
import type { CID } from '../core'
import { nodeCryptoHasher } from './node-hasher'
import { instantiatePieceWasm } from '../../workers/wasm/piece-wasm'

export interface FilePiece { digest: PieceDigest, v1: CID, v2: CID, hasher: 'wasm-simd' | 'node:crypto' }

const WASM = fileURLToPath(new URL('../../workers/wasm/build/piece.wasm', import.meta.url))

/** The WASM SIMD node hash when `npm run build` has built it (5–6× faster here), else OpenSSL's. */
async function bestHasher (): Promise<{ hasher: NodeHasher, name: FilePiece['hasher'] }> {
  if (!existsSync(WASM)) return { hasher: nodeCryptoHasher, name: 'node:crypto' }
  return { hasher: (await instantiatePieceWasm(await readFile(WASM))).simd, name: 'wasm-simd' }
}

export async function pieceOfFile (path: string, opts: { signal?: AbortSignal, onProgress?: (bytes: number) => void } = {}): Promise<FilePiece> {
  const best = await bestHasher()
  const hasher = new PieceHasher(best.hasher)
  let read = 0
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20, signal: opts.signal })) {
    const bytes = chunk as Buffer
    hasher.write(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length))
    read += bytes.length
    opts.onProgress?.(read)
  }
  const digest = hasher.digest()
  return { digest, v1: pieceCidV1(digest.root), v2: pieceCidV2(digest), hasher: best.name }
}
