// The provider's index of a stored payload CAR: where each block's bytes lie in the file, so a retrieval reads
// one block with one positioned read instead of scanning. Built once by walking the section heads (never the
// block bytes: memory stays at a few KiB plus the index itself), kept beside the file as `<file>.idx`.
// go-car's CARv2 index (MultihashIndexSorted, 0x0401) keeps only each section's offset by multihash, so a read
// first parses the section head; this one keeps the block's own offset and length by its exact CID (the CID the
// DAG links to and the client verifies against), so a read is a single `pread`.
import { open, stat, writeFile, rename, readFile, rm, type FileHandle } from 'node:fs/promises'
import * as dagCbor from '@ipld/dag-cbor'
import { readHeader, readBlockHead } from '@ipld/car/decoder'
import { CID } from 'multiformats/cid'

// The errors are named StoredCar… to keep them apart from the client verifier's Car…Error (src/core/retrieval):
// there the peer sent bad bytes; here the provider's own file is bad.

/** The file is not a CAR v1 (bad header, a section that does not parse, a CID that is not one). */
export class StoredCarFormatError extends Error {
  static override name = 'StoredCarFormatError'
  override name = 'StoredCarFormatError'
  /** Byte offset in the file where parsing failed. */
  constructor (readonly file: string, readonly offset: number, message: string) { super(`${file} at byte ${offset}: ${message}`) }
}

/** The file ends inside a section, or is shorter than its index says (changed under us). */
export class StoredCarTruncatedError extends Error {
  static override name = 'StoredCarTruncatedError'
  override name = 'StoredCarTruncatedError'
  constructor (readonly file: string, readonly offset: number, message: string) { super(`${file} at byte ${offset}: ${message}`) }
}

/** A read of a CID the CAR does not hold. */
export class BlockNotInCarError extends Error {
  static override name = 'BlockNotInCarError'
  override name = 'BlockNotInCarError'
  constructor (readonly file: string, readonly cid: CID) { super(`${file} holds no block ${cid.toString()}`) }
}

/** A read after close(). */
export class StoredCarClosedError extends Error {
  static override name = 'StoredCarClosedError'
  override name = 'StoredCarClosedError'
}

export interface CarBlocks {
  /** The roots the CAR's header names. */
  readonly roots: CID[]
  /** Blocks in the file (duplicate sections counted once). */
  readonly blockCount: number
  /** True when this open built the index (it was missing, unreadable or stale), false when it reused it. */
  readonly built: boolean
  has: (cid: CID) => boolean
  /** Every block's CID as a string (the index's keys), each once: what PayloadIndex maps to this file. */
  cids: () => Iterable<string>
  /** The block's length in bytes (what sending it costs), undefined if the CAR does not hold it. */
  blockLength: (cid: CID) => number | undefined
  /** The block's bytes, read from the file (not checked against the CID here). BlockNotInCarError if absent. */
  read: (cid: CID) => Promise<Uint8Array>
  close: () => Promise<void>
}

export interface OpenCarInit { signal?: AbortSignal }

/** Where the index of `file` is kept. */
export const carIndexPath = (file: string): string => `${file}.idx`

const INDEX_VERSION = 1
/**
 * The largest single read while scanning (a header, a section's length and CID): a CAR v1 header with one root is
 * ~60 bytes and a CID under 100, so anything near this is a broken or hostile file, not one to buffer.
 */
const MAX_HEAD_READ = 1 << 20
/** Bytes read at once while scanning: section heads of small blocks then come several to one read. */
const SCAN_WINDOW = 4096

interface IndexEntry { offset: number, length: number }
interface CarIndex { roots: CID[], blocks: Map<string, IndexEntry> }

/** Builds in flight in this process, by file: two retrievals opening the same new file build its index once. */
const building = new Map<string, Promise<CarIndex>>()

/** Opens a stored payload CAR for block reads, building its index first if it has none that fits the file. */
export async function openCarBlocks (file: string, init: OpenCarInit = {}): Promise<CarBlocks> {
  let index = await loadIndex(file)
  const built = index === null
  if (index === null) {
    let p = building.get(file)
    if (p === undefined) {
      p = buildIndex(file, init.signal).finally(() => building.delete(file))
      building.set(file, p)
    }
    index = await p
  }
  const fh = await open(file, 'r')
  let closed = false
  const { roots, blocks } = index
  const entry = (cid: CID): IndexEntry | undefined => blocks.get(cid.toString())
  return {
    roots,
    blockCount: blocks.size,
    built,
    has: (cid) => entry(cid) !== undefined,
    cids: () => blocks.keys(),
    blockLength: (cid) => entry(cid)?.length,
    read: async (cid) => {
      if (closed) throw new StoredCarClosedError(`${file} is closed`)
      const e = entry(cid)
      if (e === undefined) throw new BlockNotInCarError(file, cid)
      const out = new Uint8Array(e.length)
      let at = 0
      // a positioned read may return less than asked (it does near a file's end): read on until all is in
      while (at < e.length) {
        const { bytesRead } = await fh.read(out, at, e.length - at, e.offset + at)
        if (bytesRead === 0) throw new StoredCarTruncatedError(file, e.offset + at, `block ${cid.toString()} ends past the end of the file`)
        at += bytesRead
      }
      return out
    },
    close: async () => {
      if (closed) return
      closed = true
      await fh.close()
    }
  }
}

/** Removes a file's index (when its payload file is removed or moved). */
export async function removeCarIndex (file: string): Promise<void> {
  await rm(carIndexPath(file), { force: true })
}

// ---- the index on disk ----

/**
 * The file's identity as the index records it: its size and modification time to the nanosecond. Any write
 * to the file changes its mtime, so an index whose recorded pair differs is stale, whatever the index file's
 * own mtime says (a payload restored from a copy may carry an old mtime; comparing the two files' mtimes
 * would then trust an index of other bytes).
 */
async function fileStamp (file: string): Promise<{ size: number, mtimeNs: bigint }> {
  const s = await stat(file, { bigint: true })
  return { size: Number(s.size), mtimeNs: s.mtimeNs }
}

/** The stored index if it is whole and was built from the file as it is now; null otherwise (rebuild). */
async function loadIndex (file: string): Promise<CarIndex | null> {
  let bytes: Uint8Array
  try { bytes = await readFile(carIndexPath(file)) } catch { return null }
  const stamp = await fileStamp(file)
  try {
    const m = dagCbor.decode(bytes) as Record<string, unknown>
    if (m?.version !== INDEX_VERSION || m.fileBytes !== stamp.size || BigInt(m.fileMtimeNs as number | bigint) !== stamp.mtimeNs) return null
    if (!Array.isArray(m.roots) || !Array.isArray(m.blocks)) return null
    const roots = m.roots.map(r => CID.asCID(r))
    if (roots.some(r => r === null)) return null
    const blocks = new Map<string, IndexEntry>()
    for (const b of m.blocks as unknown[]) {
      const [cidBytes, offset, length] = Array.isArray(b) ? b as unknown[] : []
      if (!(cidBytes instanceof Uint8Array) || !isUint(offset) || !isUint(length) || offset + length > stamp.size) return null
      blocks.set(CID.decode(cidBytes).toString(), { offset, length })
    }
    return { roots: roots as CID[], blocks }
  } catch {
    // a torn or foreign file where the index should be: it is only a cache of the CAR, so build it again
    return null
  }
}

const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0

async function buildIndex (file: string, signal?: AbortSignal): Promise<CarIndex> {
  const stamp = await fileStamp(file)
  const fh = await open(file, 'r')
  let index: CarIndex
  const rows: Array<[Uint8Array, number, number]> = []
  try {
    index = await scan(file, fh, stamp.size, rows, signal)
  } finally {
    await fh.close()
  }
  // written whole, then renamed over the old one: a crash leaves the old index, the new one or a stray .tmp
  // (overwritten by the next build), never half an index under the real name
  const tmp = `${carIndexPath(file)}.tmp`
  await writeFile(tmp, dagCbor.encode({ version: INDEX_VERSION, fileBytes: stamp.size, fileMtimeNs: stamp.mtimeNs, roots: index.roots, blocks: rows }))
  await rename(tmp, carIndexPath(file))
  return index
}

async function scan (file: string, fh: FileHandle, size: number, rows: Array<[Uint8Array, number, number]>, signal?: AbortSignal): Promise<CarIndex> {
  const reader = new FileBytesReader(file, fh, size)
  let header: Awaited<ReturnType<typeof readHeader>>
  try {
    header = await readHeader(reader, 1)
  } catch (err) {
    throw named(err, file, reader.pos, 'header')
  }
  // go-car refuses a v1 header without roots ("empty car, no root"); a payload is retrieved by its root
  if (header.roots.length === 0) throw new StoredCarFormatError(file, 0, 'the CAR header names no root')
  // the decoder's CIDs view its read buffer: copy them, or each kept CID would pin a whole scan window
  const roots = header.roots.map(r => CID.decode(r.bytes.slice()))
  const blocks = new Map<string, IndexEntry>()
  while (reader.pos < size) {
    signal?.throwIfAborted()
    const start = reader.pos
    let head: Awaited<ReturnType<typeof readBlockHead>>
    try {
      head = await readBlockHead(reader)
    } catch (err) {
      throw named(err, file, start, 'section')
    }
    // the section length counts the CID: one shorter than its own CID would move the scan backwards
    if (head.blockLength < 0) throw new StoredCarFormatError(file, start, `section of ${head.length} bytes is shorter than its CID`)
    const offset = reader.pos
    if (offset + head.blockLength > size) throw new StoredCarTruncatedError(file, start, `section of ${head.length} bytes runs past the end of the file (${size} bytes)`)
    reader.seek(head.blockLength)
    const key = head.cid.toString()
    // a CAR may repeat a block (go-car writes duplicates unless told not to): the first copy serves them all
    if (!blocks.has(key)) {
      blocks.set(key, { offset, length: head.blockLength })
      rows.push([head.cid.bytes.slice(), offset, head.blockLength])
    }
  }
  return { roots, blocks }
}

/** The decoder's plain Errors, named: a read past the end is truncation, anything else a format error. */
function named (err: unknown, file: string, offset: number, what: string): Error {
  if (err instanceof StoredCarFormatError || err instanceof StoredCarTruncatedError) return err
  const message = (err as Error).message
  if (/Unexpected end of data/.test(message)) return new StoredCarTruncatedError(file, offset, `the file ends inside the ${what}`)
  return new StoredCarFormatError(file, offset, `${what}: ${message}`)
}

/**
 * @ipld/car's BytesReader over a file by positioned reads: a small window around the position, and seek()
 * moves without reading, so the scan touches only section heads.
 */
class FileBytesReader {
  pos = 0
  private window = new Uint8Array(0)
  private windowAt = 0

  constructor (private readonly file: string, private readonly fh: FileHandle, private readonly size: number) {}

  private async fill (length: number): Promise<void> {
    if (length > MAX_HEAD_READ) throw new StoredCarFormatError(this.file, this.pos, `a ${length}-byte header or CID is beyond any CAR's (at most ${MAX_HEAD_READ})`)
    const want = Math.min(length, this.size - this.pos)
    if (this.pos >= this.windowAt && this.pos + want <= this.windowAt + this.window.length) return
    const n = Math.min(Math.max(want, SCAN_WINDOW), this.size - this.pos)
    const buf = new Uint8Array(n)
    let at = 0
    while (at < n) {
      const { bytesRead } = await this.fh.read(buf, at, n - at, this.pos + at)
      if (bytesRead === 0) throw new StoredCarTruncatedError(this.file, this.pos + at, 'the file shrank while it was indexed')
      at += bytesRead
    }
    this.window = buf
    this.windowAt = this.pos
  }

  private view (length: number): Uint8Array {
    const from = this.pos - this.windowAt
    return this.window.subarray(from, from + Math.min(length, this.size - this.pos))
  }

  async upTo (length: number): Promise<Uint8Array> {
    await this.fill(length)
    return this.view(length)
  }

  async exactly (length: number, seek = false): Promise<Uint8Array> {
    if (length > MAX_HEAD_READ) throw new StoredCarFormatError(this.file, this.pos, `a ${length}-byte header or CID is beyond any CAR's (at most ${MAX_HEAD_READ})`)
    if (length > this.size - this.pos) throw new StoredCarTruncatedError(this.file, this.pos, `${length} bytes wanted, ${this.size - this.pos} left`)
    await this.fill(length)
    const out = this.view(length)
    if (seek) this.pos += length
    return out
  }

  seek (length: number): void { this.pos += length }
}
