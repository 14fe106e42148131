// The depth-first walk over a UnixFS file DAG that both sides of a retrieval drive: the provider asks it which
// block to send next, the client which block must arrive next. It decodes each block it is given, checks the
// sizes the DAG claims, and says which file bytes (trimmed to the requested range) the block carries.
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import type { CID } from 'multiformats/cid'
import {
  BlockSizeMismatchError, BlockTooLargeError, DagTooDeepError, FileSizeMismatchError, FileTooLargeError,
  LinkCountMismatchError, MalformedBlockError, NotAFileError, RangeNotSatisfiableError, TooManyLinksError,
  UnexpectedBlockError, UnsupportedCodecError
} from './errors'

export const DAG_PB_CODE = 0x70
export const RAW_CODE = 0x55
export const IDENTITY_HASH_CODE = 0x00

/**
 * 2 MiB: the largest block IPFS peers exchange over bitswap, and go-car's note that "IPLD blocks should be
 * under 2 MiB". The importer's default leaves are 256 KiB, so an honest DAG never comes near.
 */
export const DEFAULT_MAX_BLOCK_BYTES = 2 * 1024 * 1024
/**
 * The balanced layout (174 links a node) reaches 2^53 bytes of 256 KiB leaves within 6 levels; a trickle
 * DAG is deeper. 64 leaves room for both while bounding the walk's stack (depth × links entries).
 */
export const DEFAULT_MAX_DEPTH = 64
/** A 2 MiB dag-pb node holds at most ~50 000 links of ~40 bytes; importers use 174 (js and go default). */
export const DEFAULT_MAX_LINKS = 8192

/** File bytes a block carries: `bytes` are the file's bytes at [offset, offset + bytes.length). */
export interface FileSlice {
  offset: number
  bytes: Uint8Array
}

/** A byte range of the file, `to` exclusive; `to` absent means to the end of the file. */
export interface FileRange {
  from: number
  to?: number
}

export interface UnixfsWalkInit {
  /** Only blocks whose bytes overlap this range are visited, and only their bytes inside it are returned. */
  range?: FileRange
  maxBlockBytes?: number
  maxDepth?: number
  maxLinks?: number
}

interface Pending {
  cid: CID
  /** File offset of the first byte of this subtree. */
  start: number
  /** The blocksize the parent declared for this subtree; undefined for the root. */
  size: number | undefined
  depth: number
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

/**
 * The walk, as a state machine with no I/O (smoldot style: it says what it wants, it is told what arrived).
 * `next()` names the block wanted; `accept()` consumes it. Blocks are visited in depth-first pre-order from
 * the root (the order of IPIP-0412's `order=dfs`), every visit counted: a leaf that occurs twice in the
 * file is wanted twice (`dups=y`), so the receiver needs no block cache and memory stays one block.
 *
 * Only UnixFS files are walked (a raw-leaf root is a one-block file). A directory root is refused: a
 * retrieval here asks for one file's bytes, ranges are offsets in that file, and a directory would need path
 * resolution and a listing the protocol has no place for (Coffer's payloads are single files, see
 * src/light/unixfs-car.ts).
 *
 * Identity CIDs (the block is the digest) are never wanted from the wire: the walk resolves them itself when
 * they come up and adds their bytes to the slice returned by the `accept()` that uncovered them. An identity
 * root's bytes are in `initialSlice`.
 */
export class UnixfsWalk {
  private readonly stack: Pending[] = []
  private readonly maxBlockBytes: number
  private readonly maxDepth: number
  private readonly maxLinks: number
  private readonly requested: FileRange | undefined
  private from = 0
  private to = 0
  private size: number | undefined
  private visited = 0
  /** File bytes resolved from an identity root before any block arrived (null if none). */
  readonly initialSlice: FileSlice | null

  constructor (readonly root: CID, init: UnixfsWalkInit = {}) {
    const { range } = init
    if (range !== undefined) {
      if (!Number.isSafeInteger(range.from) || range.from < 0) throw new RangeError(`range start ${range.from} is not a byte offset`)
      if (range.to !== undefined && (!Number.isSafeInteger(range.to) || range.to < range.from)) throw new RangeError(`range end ${range.to} is not an offset at or after ${range.from}`)
    }
    this.requested = range
    this.maxBlockBytes = init.maxBlockBytes ?? DEFAULT_MAX_BLOCK_BYTES
    this.maxDepth = init.maxDepth ?? DEFAULT_MAX_DEPTH
    this.maxLinks = init.maxLinks ?? DEFAULT_MAX_LINKS
    this.stack.push({ cid: root, start: 0, size: undefined, depth: 0 })
    this.initialSlice = this.resolveInline()
  }

  /** The block wanted next, or null when the walk is complete. Never an identity CID. */
  next (): CID | null {
    return this.stack.at(-1)?.cid ?? null
  }

  get done (): boolean { return this.stack.length === 0 }

  /** The file's total size in bytes, known once the root is decoded. */
  get fileSize (): number | undefined { return this.size }

  /** The range being walked, once the file size is known ([0, fileSize) when none was asked). */
  get range (): { from: number, to: number } | undefined {
    return this.size === undefined ? undefined : { from: this.from, to: this.to }
  }

  /** Blocks accepted so far (identity blocks resolved inline not counted). */
  get blocksVisited (): number { return this.visited }

  /**
   * Consumes the block `next()` named: decodes it, checks its sizes against what its parent declared,
   * queues its children that overlap the range, and returns the file bytes it carries inside the range
   * (followed by those of any identity blocks that came next), or null if it carries none.
   * The caller must already have checked that `bytes` hash to `cid`.
   */
  accept (cid: CID, bytes: Uint8Array): FileSlice | null {
    const top = this.stack.at(-1)
    if (top === undefined || !top.cid.equals(cid)) throw new UnexpectedBlockError(top?.cid ?? null, cid)
    this.stack.pop()
    this.visited++
    const own = this.visit(top, bytes)
    const inline = this.resolveInline()
    return join(own, inline)
  }

  /** Visits identity blocks at the top of the stack; their bytes are their digest. */
  private resolveInline (): FileSlice | null {
    let out: FileSlice | null = null
    for (let top = this.stack.at(-1); top !== undefined && top.cid.multihash.code === IDENTITY_HASH_CODE; top = this.stack.at(-1)) {
      this.stack.pop()
      out = join(out, this.visit(top, top.cid.multihash.digest))
    }
    return out
  }

  private visit (p: Pending, bytes: Uint8Array): FileSlice | null {
    if (bytes.length > this.maxBlockBytes) throw new BlockTooLargeError(p.cid, bytes.length, this.maxBlockBytes)
    if (p.cid.code === RAW_CODE) {
      this.sized(p, BigInt(bytes.length))
      return this.slice(p.start, bytes)
    }
    if (p.cid.code !== DAG_PB_CODE) throw new UnsupportedCodecError(p.cid)

    let node: dagPb.PBNode
    let file: UnixFS
    try {
      node = dagPb.decode(bytes)
    } catch (err) {
      throw new MalformedBlockError(p.cid, `not dag-pb (${(err as Error).message})`)
    }
    if (node.Data === undefined) throw new MalformedBlockError(p.cid, 'dag-pb node without UnixFS Data')
    try {
      file = UnixFS.unmarshal(node.Data)
    } catch (err) {
      throw new MalformedBlockError(p.cid, `UnixFS Data does not decode (${(err as Error).message})`)
    }
    // 'raw' is the deprecated Raw DataType, which the UnixFS spec says readers MAY accept inside files
    if (file.type !== 'file' && file.type !== 'raw') throw new NotAFileError(p.cid, file.type, p.depth === 0)
    if (node.Links.length !== file.blockSizes.length) throw new LinkCountMismatchError(p.cid, node.Links.length, file.blockSizes.length)
    if (node.Links.length > this.maxLinks) throw new TooManyLinksError(p.cid, node.Links.length, this.maxLinks)

    const data = file.data ?? new Uint8Array(0)
    let computed = BigInt(data.length)
    for (const s of file.blockSizes) computed += s
    // ipfs-unixfs's unmarshal drops the stored filesize (its fileSize() recomputes it), so read field 3
    // from the protobuf: the spec says an absent filesize means 0 and a present one MUST equal the sum.
    const declared = fileSizeField(p.cid, node.Data) ?? 0n
    if (declared !== computed) throw new FileSizeMismatchError(p.cid, declared, computed)
    this.sized(p, computed)

    if (node.Links.length > 0 && p.depth + 1 > this.maxDepth) throw new DagTooDeepError(p.cid, this.maxDepth)
    // children in file order, then pushed in reverse so the first child is on top of the stack
    const children: Pending[] = []
    let at = p.start + data.length
    for (let i = 0; i < node.Links.length; i++) {
      const link = node.Links[i]!
      // the spec: a non-empty Name inside a file MUST be rejected (an empty string is treated as absent)
      if (link.Name !== undefined && link.Name !== '') throw new MalformedBlockError(p.cid, `file link ${i} has a name`)
      const size = Number(file.blockSizes[i]!)
      if (this.wanted(at, size)) children.push({ cid: link.Hash, start: at, size, depth: p.depth + 1 })
      at += size
    }
    for (let i = children.length - 1; i >= 0; i--) this.stack.push(children[i]!)
    return this.slice(p.start, data)
  }

  /** Checks a decoded subtree's size against its parent's word for it; at the root, learns the file size. */
  private sized (p: Pending, size: bigint): void {
    if (size > MAX_SAFE) throw new FileTooLargeError(p.cid, size)
    const n = Number(size)
    if (p.size !== undefined) {
      if (n !== p.size) throw new BlockSizeMismatchError(p.cid, p.size, n)
      return
    }
    this.size = n
    this.from = this.requested?.from ?? 0
    this.to = this.requested?.to ?? n
    if (this.from > n || this.to > n) throw new RangeNotSatisfiableError(this.from, this.to, n)
  }

  /**
   * Without a range every block is visited (the whole DAG, as a full CAR export has it); with one, only
   * subtrees holding at least one byte of it (so an empty child is never wanted by a range).
   */
  private wanted (start: number, size: number): boolean {
    if (this.requested === undefined) return true
    return start < this.to && start + size > this.from && this.from < this.to // an empty range wants no child
  }

  private slice (start: number, bytes: Uint8Array): FileSlice | null {
    const lo = Math.max(start, this.from)
    const hi = Math.min(start + bytes.length, this.to)
    return hi > lo ? { offset: lo, bytes: bytes.subarray(lo - start, hi - start) } : null
  }
}

/** Slices come in file order and, trimmed to one range, are contiguous: joining is concatenation. */
function join (a: FileSlice | null, b: FileSlice | null): FileSlice | null {
  if (a === null) return b
  if (b === null) return a
  const bytes = new Uint8Array(a.bytes.length + b.bytes.length)
  bytes.set(a.bytes)
  bytes.set(b.bytes, a.bytes.length)
  return { offset: a.offset, bytes }
}

/**
 * The UnixFS Data message's `filesize` (field 3, varint), or undefined when absent. The message already
 * decoded through ipfs-unixfs, so only the field walk is needed here.
 */
function fileSizeField (cid: CID, data: Uint8Array): bigint | undefined {
  let found: bigint | undefined
  let i = 0
  const varint = (): bigint => {
    let v = 0n
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (i >= data.length) throw new MalformedBlockError(cid, 'UnixFS Data ends inside a varint')
      const b = data[i++]!
      v |= BigInt(b & 0x7f) << shift
      if (b < 0x80) return v
    }
    throw new MalformedBlockError(cid, 'UnixFS Data varint longer than 10 bytes')
  }
  while (i < data.length) {
    const key = varint()
    const field = key >> 3n
    switch (Number(key & 7n)) {
      case 0: { const v = varint(); if (field === 3n) found = v; break }
      case 1: i += 8; break
      case 2: { const length = Number(varint()); i += length; break } // not `i += varint()`: that reads i first
      case 5: i += 4; break
      default: throw new MalformedBlockError(cid, `UnixFS Data has wire type ${key & 7n}`)
    }
  }
  if (i !== data.length) throw new MalformedBlockError(cid, 'UnixFS Data ends inside a field')
  return found
}
