// Proves possession from payload files on disk: provePossession streams each challenged payload whole (core's
// full pass); provePossessionFromFiles reads only the challenged segments, the rest of the tree coming from the
// segment roots cached beside each file (piece-tree-cache), built once on the shared pool where missing.
import { createReadStream, existsSync } from 'node:fs'
import { open, readFile } from 'node:fs/promises'
import {
  provePossession as prove, proveChallengesFromSegments, deriveChallenges, pieceRoot, PossessionProofError, SEGMENT_PAYLOAD_BYTES,
  type ProofSet, type NodeHasher, type SegmentedPayload, type Challenge
} from '../core'
import { instantiatePieceWasm } from '../../workers/wasm/piece-wasm'
import { PIECE_WASM_OUT } from './build-wasm'
import { nodeCryptoHasher } from './node-hasher'
import { pieceTreeOfFile } from './piece-file'
import { fileStamp, readPieceTree, removePieceTree, writePieceTree, type PieceTreeKey } from './provider/piece-tree-cache'

/** A file's bytes from `offset` as Uint8Array chunks of 1 MiB (never Buffer, which core code does not expect). */
export async function * fileChunks (file: string, offset = 0): AsyncIterable<Uint8Array> {
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20, start: offset })) {
    const b = chunk as Buffer
    yield new Uint8Array(b.buffer, b.byteOffset, b.length)
  }
}

export async function provePossession (set: ProofSet, payloadFiles: string[], seed: Uint8Array, count: number, hasher?: NodeHasher): Promise<Uint8Array> {
  if (payloadFiles.length !== set.pieces.length) throw new RangeError(`${payloadFiles.length} files for ${set.pieces.length} pieces`)
  return await prove(set, (i) => fileChunks(payloadFiles[i]!), seed, count, hasher)
}

/** A piece's payload on disk: the file and the length stored (the deal's payloadBytes). */
export interface StoredPayload { file: string, payloadBytes: number }

export interface ProveFromFilesOptions {
  /** Hashes the challenged segments on this thread; default: the WASM module's SIMD hash, else OpenSSL's. */
  hasher?: NodeHasher
  /** Says when a piece's tree cache was (re)built and why. */
  log?: (line: string) => void
  /**
   * Stops the proof between segments (each is a disk read and a hash of up to 4 MiB): an audit whose client's
   * deadline passed is answered to no one, and would hold one of the provider's few audit slots to its end.
   */
  signal?: AbortSignal
}

/**
 * The proof provePossession gives, from the challenged segments only. A payload of more than one segment
 * without a usable cache (absent, stale: the file was written since, or wrong) has its segment roots computed
 * once on the shared pool (off this thread) and kept; a payload that no longer hashes to its piece is
 * PossessionProofError BAD_PATH, as is a challenged segment whose bytes changed since the cache was built.
 */
export async function provePossessionFromFiles (set: ProofSet, payloads: StoredPayload[], seed: Uint8Array, count: number, opts: ProveFromFilesOptions = {}): Promise<Uint8Array> {
  return await proveChallengesFromFiles(set, payloads, deriveChallenges(seed, set, count), opts)
}

/** provePossessionFromFiles for challenges the caller names (a spot audit's leaves) instead of a seed's. */
export async function proveChallengesFromFiles (set: ProofSet, payloads: StoredPayload[], challenges: Challenge[], opts: ProveFromFilesOptions = {}): Promise<Uint8Array> {
  if (payloads.length !== set.pieces.length) throw new RangeError(`${payloads.length} files for ${set.pieces.length} pieces`)
  const hasher = opts.hasher ?? await mainThreadHasher()
  const handles = new Map<number, Awaited<ReturnType<typeof open>>>()
  const signal = opts.signal
  signal?.throwIfAborted()
  const source = async (piece: number, forceRebuild: boolean): Promise<SegmentedPayload> => {
    signal?.throwIfAborted()
    const { file, payloadBytes } = payloads[piece]!
    let segmentRoots: Uint8Array[] | undefined
    if (payloadBytes > SEGMENT_PAYLOAD_BYTES) {
      segmentRoots = await segmentRootsOf(set, piece, payloads[piece]!, forceRebuild, opts.log)
    }
    let fh = handles.get(piece)
    if (fh === undefined) { fh = await open(file, 'r'); handles.set(piece, fh) }
    const handle = fh
    return {
      payloadBytes,
      segmentRoots,
      readSegment: async (s) => {
        signal?.throwIfAborted()
        return await readRange(handle, s * SEGMENT_PAYLOAD_BYTES, Math.min(payloadBytes, (s + 1) * SEGMENT_PAYLOAD_BYTES))
      }
    }
  }
  try {
    try {
      return await proveChallengesFromSegments(set, async (i) => await source(i, false), challenges, hasher)
    } catch (err) {
      // the cache matched the file's stamp and still names another piece (edited, or written by a bug): it is
      // only a cache, so build it again from the bytes, once, and prove from that
      if ((err as Error).name !== 'SegmentRootsMismatchError') throw err
      const piece = (err as { piece: number }).piece
      opts.log?.(`piece ${piece}: ${(err as Error).message}; rebuilding its tree cache`)
      await removePieceTree(payloads[piece]!.file)
      return await proveChallengesFromSegments(set, async (i) => await source(i, i === piece), challenges, hasher)
    }
  } finally {
    for (const fh of handles.values()) await fh.close().catch(() => {})
  }
}

/** The piece's cached segment roots, or computed now on the shared pool (and kept when they make the piece). */
async function segmentRootsOf (set: ProofSet, piece: number, payload: StoredPayload, forceRebuild: boolean, log?: (line: string) => void): Promise<Uint8Array[]> {
  const info = set.pieces[piece]!
  const key: PieceTreeKey = { pieceCid: info.pieceCid, payloadBytes: payload.payloadBytes }
  if (!forceRebuild) {
    const cached = await readPieceTree(payload.file, key)
    if ('segmentRoots' in cached) return cached.segmentRoots
    log?.(`piece ${String(info.pieceCid)}: tree cache ${cached.missing}; hashing ${payload.file} once on the pool`)
  }
  const stamp = await fileStamp(payload.file) // before hashing: a write meanwhile leaves the cache stale, not trusted
  const built = await pieceTreeOfFile(payload.file)
  const root = pieceRoot(info)
  if (built.digest.paddedBytes !== info.paddedBytes || built.digest.payloadBytes !== payload.payloadBytes || !built.digest.root.every((b, i) => b === root[i]) || built.segmentRoots === undefined) {
    throw new PossessionProofError('BAD_PATH', `piece ${piece}'s payload no longer hashes to its root (${payload.file} hashes to ${String(built.v1)}, ${built.digest.payloadBytes} bytes)`)
  }
  await writePieceTree(payload.file, stamp, key, built.segmentRoots)
  return built.segmentRoots
}

/** Bytes [start, end) of a file; fewer where the file ends sooner (the prover reports that segment as changed). */
async function readRange (fh: Awaited<ReturnType<typeof open>>, start: number, end: number): Promise<Uint8Array> {
  const out = new Uint8Array(end - start)
  let at = 0
  while (at < out.length) {
    const { bytesRead } = await fh.read(out, at, out.length - at, start + at)
    if (bytesRead === 0) return out.slice(0, at)
    at += bytesRead
  }
  return out
}

let hasherOnThisThread: Promise<NodeHasher> | undefined

/**
 * The node hash for challenged segments, on this thread: the WASM module's SIMD lanes where it is built (four
 * pairs a call), else OpenSSL's SHA-256 (one pair a call; faster than @noble/hashes, NOTES.md).
 */
export async function mainThreadHasher (): Promise<NodeHasher> {
  hasherOnThisThread ??= (async () => {
    if (!existsSync(PIECE_WASM_OUT)) return nodeCryptoHasher
    try { return (await instantiatePieceWasm(await readFile(PIECE_WASM_OUT))).simd } catch { return nodeCryptoHasher }
  })()
  return await hasherOnThisThread
}
