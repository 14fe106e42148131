// CommP of a file on disk. With the WASM module built: the piece pool over worker threads, reading the
// file as a Blob one segment at a time. Without it: one streaming pass with OpenSSL's SHA-256. Either way
// memory stays flat whatever the file's size. pieceWriter is the same, for bytes as they arrive (a provider's
// transfer), on the process's shared pool.
import { createReadStream, existsSync } from 'node:fs'
import { stat, open, type FileHandle } from 'node:fs/promises'
import type { PieceSource, PieceStream } from '../../workers/piece-pool'
import { PieceHasher, pieceCidV1, pieceCidV2, type PieceDigest } from '../core'
import type { CID } from '../core'
import { nodeCryptoHasher } from './node-hasher'
import { createNodePiecePool, sharedNodePiecePool } from './piece-pool-node'
import { PIECE_WASM_OUT } from './build-wasm'

export interface FilePiece { digest: PieceDigest, v1: CID, v2: CID, hasher: 'wasm-pool' | 'node:crypto' }

export async function pieceOfFile (path: string, opts: { signal?: AbortSignal, onProgress?: (bytes: number) => void } = {}): Promise<FilePiece> {
  const info = await stat(path)
  if (!info.isFile()) throw new Error(`${path} is not a file`)
  if (existsSync(PIECE_WASM_OUT)) {
    const pool = await createNodePiecePool()
    const file = await open(path).catch((err: Error) => { pool.close(); throw err })
    try {
      const r = await pool.pieceOf(fileSource(file, info.size), { signal: opts.signal, onProgress: p => opts.onProgress?.(p.bytesHashed) })
      return { ...r, hasher: 'wasm-pool' }
    } finally {
      pool.close()
      await file.close()
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

/**
 * The file as the pool reads it, by position. Not fs.openAsBlob: on Node 20 its size wraps at 4 GiB (a 4 GiB
 * file reports 0 bytes, measured), which would give a wrong piece for large files.
 */
function fileSource (file: FileHandle, size: number, start = 0, end = size): PieceSource {
  const read = async (): Promise<ArrayBuffer> => {
    const buf = new Uint8Array(end - start)
    let at = 0
    while (at < buf.length) {
      const { bytesRead } = await file.read(buf, at, buf.length - at, start + at)
      if (bytesRead === 0) throw new Error('the file got shorter while it was being read')
      at += bytesRead
    }
    return buf.buffer
  }
  return { size: end - start, slice: (a, b) => fileSource(file, size, start + a, Math.min(end, start + b)), arrayBuffer: read }
}

/** A piece computed from bytes written in order (see PieceStream); `abort` drops what is queued. */
export interface PieceWriter {
  write: (bytes: Uint8Array) => Promise<void>
  /**
   * Rewrites bytes already written, inside the first segment only (a CAR header staged with a placeholder
   * root); absent where the hasher cannot (node:crypto hashes as it goes).
   */
  writeAt?: (offset: number, bytes: Uint8Array) => Promise<void>
  finish: () => Promise<FilePiece>
  abort: () => void
}

/**
 * The shared WASM pool's piece stream, or, without the WASM module, OpenSSL's SHA-256 on this thread (as
 * pieceOfFile falls back). Both give what pieceOfFile gives for the same bytes.
 */
export async function pieceWriter (): Promise<PieceWriter> {
  const pool = await sharedNodePiecePool()
  const ctl = new AbortController()
  if (pool !== null) {
    const s: PieceStream = pool.pieceStream({ signal: ctl.signal })
    return {
      write: async (bytes) => { await s.write(bytes) },
      writeAt: async (offset, bytes) => { await s.writeAt(offset, bytes) },
      finish: async () => ({ ...await s.finish(), hasher: 'wasm-pool' }),
      abort: () => { ctl.abort() }
    }
  }
  const hasher = new PieceHasher(nodeCryptoHasher)
  return {
    write: async (bytes) => { ctl.signal.throwIfAborted(); hasher.write(bytes) },
    finish: async () => {
      ctl.signal.throwIfAborted()
      const digest = hasher.digest()
      return { digest, v1: pieceCidV1(digest.root), v2: pieceCidV2(digest), hasher: 'node:crypto' }
    },
    abort: () => { ctl.abort() }
  }
}
