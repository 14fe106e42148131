// CommP of a file on disk, read as a stream: memory stays at the hasher's batch buffer and one read
// buffer, whatever the file's size.
import { createReadStream } from 'node:fs'
import { PieceHasher, pieceCidV1, pieceCidV2, type PieceDigest } from '../core'
import type { CID } from '../core'
import { nodeCryptoHasher } from './node-hasher'

export interface FilePiece { digest: PieceDigest, v1: CID, v2: CID }

export async function pieceOfFile (path: string, opts: { signal?: AbortSignal, onProgress?: (bytes: number) => void } = {}): Promise<FilePiece> {
  const hasher = new PieceHasher(nodeCryptoHasher)
  let read = 0
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20, signal: opts.signal })) {
    const bytes = chunk as Buffer
    hasher.write(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length))
    read += bytes.length
    opts.onProgress?.(read)
  }
  const digest = hasher.digest()
  return { digest, v1: pieceCidV1(digest.root), v2: pieceCidV2(digest) }
}
