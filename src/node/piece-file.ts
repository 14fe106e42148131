// CommP of a file on disk. With the WASM module built: the piece pool over worker threads, reading the
// file as a Blob one segment at a time. Without it: one streaming pass with OpenSSL's SHA-256. Either way
// memory stays flat whatever the file's size.
import { createReadStream, existsSync, openAsBlob } from 'node:fs'
import { stat } from 'node:fs/promises'
import { PieceHasher, pieceCidV1, pieceCidV2, type PieceDigest } from '../core'
import type { CID } from '../core'
import { nodeCryptoHasher } from './node-hasher'
import { createNodePiecePool } from './piece-pool-node'
import { PIECE_WASM_OUT } from './build-wasm'

export interface FilePiece { digest: PieceDigest, v1: CID, v2: CID, hasher: 'wasm-pool' | 'node:crypto' }

export async function pieceOfFile (path: string, opts: { signal?: AbortSignal, onProgress?: (bytes: number) => void } = {}): Promise<FilePiece> {
  // stat first: openAsBlob's own error does not say what is wrong ("Unable to open file as blob")
  if (!(await stat(path)).isFile()) throw new Error(`${path} is not a file`)
  if (existsSync(PIECE_WASM_OUT)) {
    const blob = await openAsBlob(path)
    const pool = await createNodePiecePool()
    try {
      const r = await pool.pieceOf(blob, { signal: opts.signal, onProgress: p => opts.onProgress?.(p.bytesHashed) })
      return { ...r, hasher: 'wasm-pool' }
    } finally {
      pool.close()
    }
  }
  const hasher = new PieceHasher(nodeCryptoHasher)
  let read = 0
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20, signal: opts.signal })) {
    const bytes = chunk as Buffer
    hasher.write(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length))
    read += bytes.length
    opts.onProgress?.(read)
  }
  const digest = hasher.digest()
  return { digest, v1: pieceCidV1(digest.root), v2: pieceCidV2(digest), hasher: 'node:crypto' }
}
