// The provider's cache of a stored payload's piece tree: its segment roots (32 bytes per 2^17 leaves, 8 KiB for
// a 1 GiB piece), kept beside the file as `<file>.segroots`, so a proof of possession hashes only the challenged
// segments instead of the whole payload each period (as Lotus keeps tree_r_last beside a sealed sector).
import { readFile, stat, rm } from 'node:fs/promises'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { SEGMENT_HEIGHT } from '../../core'
import { writeFileDurably } from './durable-write'

/** What the file says it is; a file of another format or version under the name is treated as absent. */
export const PIECE_TREE_FORMAT = 'coffer/piece-segment-roots'
export const PIECE_TREE_VERSION = 1

export const pieceTreePath = (file: string): string => `${file}.segroots`

/** The piece a cache is for: the proof set's piece CID (v1) and the payload's length. */
export interface PieceTreeKey { pieceCid: CID, payloadBytes: number }

export interface FileStamp { size: number, mtimeNs: bigint }

/**
 * The payload file's identity as the cache records it: size and modification time to the nanosecond (as the CAR
 * index does). Any write to the payload changes its mtime, so a cache whose stamp differs is stale and is built
 * again from the bytes, which then must hash to the piece: a payload rewritten in place (`coffer provider
 * corrupt`) is caught at the next proof wherever the change lies, not only when a challenge lands on it.
 * A rename keeps the mtime, so the stamp taken of a staged file holds for it once moved into pieces/.
 */
export async function fileStamp (file: string): Promise<FileStamp> {
  const s = await stat(file, { bigint: true })
  return { size: Number(s.size), mtimeNs: s.mtimeNs }
}

export type PieceTreeRead =
  | { segmentRoots: Uint8Array[] }
  | { missing: 'absent' | 'unreadable' | 'other-piece' | 'stale' }

/** The cached segment roots of `file` if the cache is whole, for `key`, and built from the file as it is now. */
export async function readPieceTree (file: string, key: PieceTreeKey): Promise<PieceTreeRead> {
  let bytes: Uint8Array
  try { bytes = await readFile(pieceTreePath(file)) } catch { return { missing: 'absent' } }
  const stamp = await fileStamp(file) // the payload's own ENOENT goes to the caller: a deleted payload is not a cache miss
  let m: Record<string, unknown>
  try { m = dagCbor.decode(bytes) } catch { return { missing: 'unreadable' } } // torn or foreign: only a cache, build again
  if (m === null || typeof m !== 'object' || m.format !== PIECE_TREE_FORMAT || m.version !== PIECE_TREE_VERSION || m.segmentHeight !== SEGMENT_HEIGHT ||
      !(m.roots instanceof Uint8Array) || m.roots.length % 32 !== 0 || typeof m.fileMtimeNs !== 'string' || !/^[0-9]{1,30}$/.test(m.fileMtimeNs)) {
    return { missing: 'unreadable' }
  }
  const cid = CID.asCID(m.pieceCid)
  if (cid === null || !cid.equals(key.pieceCid) || m.payloadBytes !== key.payloadBytes) return { missing: 'other-piece' }
  if (m.fileBytes !== stamp.size || BigInt(m.fileMtimeNs) !== stamp.mtimeNs) return { missing: 'stale' }
  const roots = m.roots
  return { segmentRoots: Array.from({ length: roots.length / 32 }, (_, i) => roots.slice(i * 32, i * 32 + 32)) }
}

/**
 * Records `segmentRoots` as the tree of `file` whose identity was `stamp` when the roots were computed (take it
 * before hashing: a write meanwhile then leaves the cache stale rather than trusted). Written durably: a crash
 * leaves the old cache or the new one. The mtime goes as a decimal string: DAG-CBOR integers past 2^53 would
 * come back as bigint or lose digits depending on the decoder.
 */
export async function writePieceTree (file: string, stamp: FileStamp, key: PieceTreeKey, segmentRoots: Uint8Array[]): Promise<void> {
  const roots = new Uint8Array(segmentRoots.length * 32)
  segmentRoots.forEach((r, i) => { if (r.length !== 32) throw new RangeError(`segment root ${i} is ${r.length} bytes, not 32`); roots.set(r, i * 32) })
  await writeFileDurably(pieceTreePath(file), dagCbor.encode({
    format: PIECE_TREE_FORMAT,
    version: PIECE_TREE_VERSION,
    pieceCid: key.pieceCid,
    payloadBytes: key.payloadBytes,
    segmentHeight: SEGMENT_HEIGHT,
    fileBytes: stamp.size,
    fileMtimeNs: stamp.mtimeNs.toString(),
    roots
  }))
}

export async function removePieceTree (file: string): Promise<void> {
  await rm(pieceTreePath(file), { force: true })
}
