// CommP of a file on disk. With the WASM module built: the piece pool over worker threads, reading the
// file as a Blob one segment at a time. Without it: one streaming pass with OpenSSL's SHA-256. Either way
// memory stays flat whatever the file's size. pieceWriter is the same, for bytes as they arrive (a provider's
// transfer), on the process's shared pool. Both also give the piece's segment roots (see PieceResult), which a
// provider keeps to prove possession by hashing only the challenged segments; pieceTreeOfFile rebuilds them.
import { createReadStream, existsSync } from 'node:fs'
import { stat, open, type FileHandle } from 'node:fs/promises'
import type { PieceSource, PieceStream } from '../../workers/piece-pool'
import { PieceHasher, pieceCidV1, pieceCidV2, combineSegments, SEGMENT_HEIGHT, SEGMENT_PAYLOAD_BYTES, type PieceDigest, type NodeHasher } from '../core'
import type { CID } from '../core'
import { nodeCryptoHasher } from './node-hasher'
import { createNodePiecePool, sharedNodePiecePool } from './piece-pool-node'
import { PIECE_WASM_OUT } from './build-wasm'

export interface FilePiece {
  digest: PieceDigest
  v1: CID
  v2: CID
  hasher: 'wasm-pool' | 'node:crypto'
  /** Each segment's root at SEGMENT_HEIGHT, when the payload spans more than one segment (PieceResult's). */
  segmentRoots?: Uint8Array[]
}

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
  return await pieceOfFileOnThisThread(path, opts)
}

/** One streaming pass with OpenSSL's SHA-256 on this thread: where the WASM module is not built. */
async function pieceOfFileOnThisThread (path: string, opts: { signal?: AbortSignal, onProgress?: (bytes: number) => void }): Promise<FilePiece> {
  const hasher = new SegmentedHasher(nodeCryptoHasher)
  let read = 0
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20, signal: opts.signal })) {
    const bytes = chunk as Buffer
    hasher.write(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length))
    read += bytes.length
    opts.onProgress?.(read)
  }
  return hasher.finish()
}

/**
 * The piece and segment roots of a file on the process's shared pool (off this thread), as a provider rebuilds
 * a piece's tree cache; without the WASM module, one pass on this thread.
 */
export async function pieceTreeOfFile (path: string, opts: { signal?: AbortSignal } = {}): Promise<FilePiece> {
  const info = await stat(path)
  if (!info.isFile()) throw new Error(`${path} is not a file`)
  const pool = await sharedNodePiecePool()
  if (pool === null) return await pieceOfFileOnThisThread(path, opts)
  const file = await open(path)
  try {
    return { ...await pool.pieceOf(fileSource(file, info.size), { signal: opts.signal }), hasher: 'wasm-pool' }
  } finally {
    await file.close()
  }
}

/**
 * A piece hashed one segment at a time on this thread, so its segment roots come out of the same single pass
 * (one PieceHasher per segment, combined as the pool combines them; one segment or less is the plain digest).
 */
export class SegmentedHasher {
  private readonly roots: Uint8Array[] = []
  private current: PieceHasher
  private inSegment = 0
  private total = 0

  constructor (private readonly hasher: NodeHasher) { this.current = new PieceHasher(hasher) }

  write (bytes: Uint8Array): void {
    let at = 0
    while (at < bytes.length) {
      if (this.inSegment === SEGMENT_PAYLOAD_BYTES) {
        this.roots.push(this.current.rootAt(SEGMENT_HEIGHT))
        this.current = new PieceHasher(this.hasher)
        this.inSegment = 0
      }
      const n = Math.min(bytes.length - at, SEGMENT_PAYLOAD_BYTES - this.inSegment)
      this.current.write(bytes.subarray(at, at + n))
      at += n
      this.inSegment += n
      this.total += n
    }
  }

  finish (): FilePiece {
    if (this.total <= SEGMENT_PAYLOAD_BYTES) {
      const digest = this.current.digest()
      return { digest, v1: pieceCidV1(digest.root), v2: pieceCidV2(digest), hasher: 'node:crypto' }
    }
    const segmentRoots = [...this.roots, this.current.rootAt(SEGMENT_HEIGHT)]
    const digest = combineSegments(segmentRoots, this.total, this.hasher)
    return { digest, v1: pieceCidV1(digest.root), v2: pieceCidV2(digest), hasher: 'node:crypto', segmentRoots }
  }
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
  const hasher = new SegmentedHasher(nodeCryptoHasher)
  return {
    write: async (bytes) => { ctl.signal.throwIfAborted(); hasher.write(bytes) },
    finish: async () => {
      ctl.signal.throwIfAborted()
      return hasher.finish()
    },
    abort: () => { ctl.abort() }
  }
}
