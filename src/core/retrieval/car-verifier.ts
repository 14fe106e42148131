// The client's check of a retrieval stream: CAR bytes in (any chunking), verified blocks out. A block is
// yielded only once it is the very block the UnixFS walk needs next and its bytes hash to its CID.
import { sha256 } from '@noble/hashes/sha2.js'
import { concatBytes } from '@noble/hashes/utils.js'
import type { CID } from 'multiformats/cid'
import { CarBlockParser, DEFAULT_MAX_HEADER_BYTES, MAX_CID_BYTES } from './car-stream'
import {
  CarRootMismatchError, ExcessDataError, HashMismatchError, IncompleteDagError, UnexpectedBlockError, UnsupportedHashError
} from './errors'
import { DEFAULT_MAX_BLOCK_BYTES, RAW_CODE, UnixfsWalk, type FileSlice, type UnixfsWalkInit } from './unixfs-walk'

export const SHA2_256_CODE = 0x12

/**
 * Computes the digest of `bytes` for multihash `code`, or undefined if it does not know that hash. Sync, so
 * Node can pass node:crypto (≈7× @noble/hashes on bulk SHA-256, NOTES.md) and a browser a WASM hasher.
 */
export type MultihashFn = (code: number, bytes: Uint8Array) => Uint8Array | undefined

/**
 * A multihash computed asynchronously (WebCrypto's digest): the digest, or undefined for a code it does not know.
 * The verifier hashes a chunk's whole sections side by side with it (pushAsync).
 */
export type AsyncMultihashFn = (code: number, bytes: Uint8Array) => Promise<Uint8Array | undefined>

/** @noble/hashes sha2-256: the one hash every verifier supports, and the one Coffer's DAGs use. */
export const nobleMultihash: MultihashFn = (code, bytes) => code === SHA2_256_CODE ? sha256(bytes) : undefined

export interface VerifiedBlock {
  cid: CID
  bytes: Uint8Array
  /** The file bytes this block carries inside the requested range, or null (an inner node without data). */
  slice: FileSlice | null
}

export interface CarVerifierInit extends UnixfsWalkInit {
  hash?: MultihashFn
  maxHeaderBytes?: number
}

export interface CarVerifierStats {
  /** Every byte pushed, framing included. */
  carBytes: number
  /** Block payload bytes of whole sections parsed (what a provider charges for), verified or not. */
  blockBytesReceived: number
  /** Block payload bytes of sections that verified (what the client pays for). */
  blockBytesVerified: number
  /** File bytes yielded. */
  fileBytesVerified: number
  /** The file offset the next verified file byte will have: where a resumed retrieval starts. */
  nextFileOffset: number
  blocksVerified: number
}

/**
 * Streams a retrieval's CAR through the checks, in order: the header must name exactly the requested root;
 * each section's CID must be the walk's `next()` (else UnexpectedBlockError, before any hashing); its bytes
 * must hash to the CID's multihash; then the walk decodes it and checks the DAG's sizes. Bytes after the
 * walk is complete are ExcessDataError, and `end()` on an incomplete walk is IncompleteDagError (or
 * CarTruncatedError mid-section).
 *
 * `push()` returns every block verified from the chunk. A fault found after some of them is not allowed to
 * take them down with it (they are paid for and kept): it is then thrown by the next `push()` or `end()`,
 * and `failure` shows it at once. Once failed, the verifier stays failed.
 *
 * `pushAsync()` is push with an asynchronous hash: it hashes the chunk's whole sections side by side before the
 * checks run in the same order (so a section's bytes are hashed before its CID is compared with the walk's; at
 * most one chunk's worth, as the chunk is bounded by its protocol's frame).
 */
export class CarVerifier {
  private readonly parser: CarBlockParser
  private readonly walk: UnixfsWalk
  private readonly hash: MultihashFn
  private headerChecked = false
  private failed: Error | undefined
  private readonly counters: CarVerifierStats
  /** Sections parsed and hashed ahead by pushAsync, with their digests: drain takes these before the parser's. */
  private ahead: Array<{ cid: CID, bytes: Uint8Array, framed: number, digest: Uint8Array | undefined }> = []
  /** The CAR bytes of the sections still ahead, framing included (they count as excess once the walk is done). */
  private aheadBytes = 0
  /** While pushAsync drains: only the sections ahead are checked (the parser stopped where it did, at a fault too). */
  private aheadOnly = false

  constructor (readonly root: CID, init: CarVerifierInit = {}) {
    this.walk = new UnixfsWalk(root, init)
    this.hash = init.hash ?? nobleMultihash
    this.parser = new CarBlockParser({
      maxHeaderBytes: init.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES,
      maxSectionBytes: (init.maxBlockBytes ?? DEFAULT_MAX_BLOCK_BYTES) + MAX_CID_BYTES
    })
    this.counters = {
      carBytes: 0,
      blockBytesReceived: 0,
      blockBytesVerified: 0,
      fileBytesVerified: 0,
      nextFileOffset: init.range?.from ?? 0,
      blocksVerified: 0
    }
  }

  get done (): boolean { return this.walk.done }
  get failure (): Error | undefined { return this.failed }
  get stats (): Readonly<CarVerifierStats> { return this.counters }
  /** The file's size, once the root block has verified. */
  get fileSize (): number | undefined { return this.walk.fileSize }
  /** The block the stream must carry next (null once complete). */
  get expected (): CID | null { return this.walk.next() }
  /** CAR bytes pushed that are not yet a whole section: the parser keeps them as views of the chunks pushed. */
  get heldBytes (): number { return this.parser.bufferedBytes }

  push (chunk: Uint8Array): VerifiedBlock[] {
    if (this.failed !== undefined) throw this.failed
    this.counters.carBytes += chunk.length
    const out: VerifiedBlock[] = []
    try {
      this.parser.push(chunk)
      this.drain(out)
    } catch (err) {
      this.failed = err as Error
      if (out.length === 0) throw err
    }
    return out
  }

  /**
   * As push, the sections' hashes computed by `hash` side by side before they are checked (see the class). Await
   * each call before the next push or pushAsync: the chunk's sections wait in between.
   */
  async pushAsync (chunk: Uint8Array, hash: AsyncMultihashFn): Promise<VerifiedBlock[]> {
    if (this.failed !== undefined) throw this.failed
    this.counters.carBytes += chunk.length
    const out: VerifiedBlock[] = []
    // a section the parser refuses is a fault after the ones before it, which are checked (and kept) first
    let parseFault: Error | undefined
    const sections: Array<{ cid: CID, bytes: Uint8Array, framed: number }> = []
    try {
      this.parser.push(chunk)
      for (;;) {
        const before = this.parser.bufferedBytes
        const section = this.parser.next()
        if (section === null) break
        sections.push({ ...section, framed: before - this.parser.bufferedBytes })
      }
    } catch (err) { parseFault = err as Error }
    try {
      const digests = await Promise.all(sections.map(async x => await hash(x.cid.multihash.code, x.bytes)))
      this.ahead = sections.map((x, i) => ({ ...x, digest: digests[i] }))
      this.aheadBytes = sections.reduce((n, x) => n + x.framed, 0)
      this.aheadOnly = true
      this.drain(out)
      if (parseFault !== undefined) throw parseFault
    } catch (err) {
      this.failed = err as Error
      if (out.length === 0) throw err
    } finally {
      this.ahead = []
      this.aheadBytes = 0
      this.aheadOnly = false
    }
    return out
  }

  /** The stream has ended: throws unless it ended cleanly after the walk's last block. */
  end (): void {
    if (this.failed !== undefined) throw this.failed
    try {
      this.parser.end()
      const next = this.walk.next()
      if (next !== null) throw new IncompleteDagError(next, this.counters.nextFileOffset)
    } catch (err) {
      this.failed = err as Error
      throw err
    }
  }

  private drain (out: VerifiedBlock[]): void {
    for (;;) {
      if (this.walk.done && this.headerChecked) {
        if (this.parser.bufferedBytes + this.aheadBytes > 0) throw new ExcessDataError(this.parser.bufferedBytes + this.aheadBytes)
        return
      }
      const early = this.ahead.shift()
      if (early !== undefined) this.aheadBytes -= early.framed
      // (pushAsync's sections end where its parsing stopped: past a fault the parser must not be asked again, as a
      // section refused after its body was read would be skipped and the next one taken)
      const section = early ?? (this.aheadOnly ? null : this.parser.next())
      if (!this.headerChecked && this.parser.header !== undefined) {
        const { roots } = this.parser.header
        if (roots.length !== 1 || !roots[0]!.equals(this.root)) throw new CarRootMismatchError(this.root, roots)
        this.headerChecked = true
        // an identity root carries its bytes in its CID: nothing to wait for
        if (this.walk.initialSlice !== null) out.push(this.verified(this.root, this.root.multihash.digest, this.walk.initialSlice))
      }
      if (section === null) return
      const { cid, bytes } = section
      this.counters.blockBytesReceived += bytes.length
      const expected = this.walk.next()
      if (expected === null) throw new ExcessDataError(this.parser.bufferedBytes + this.aheadBytes + bytes.length)
      if (!expected.equals(cid)) throw new UnexpectedBlockError(expected, cid)
      const digest = early !== undefined ? early.digest : this.hash(cid.multihash.code, bytes)
      if (digest === undefined) throw new UnsupportedHashError(cid, cid.multihash.code)
      if (!sameBytes(digest, cid.multihash.digest)) throw new HashMismatchError(cid)
      const slice = this.walk.accept(cid, bytes)
      this.counters.blockBytesVerified += bytes.length
      this.counters.blocksVerified++
      out.push(this.verified(cid, bytes, slice))
    }
  }

  private verified (cid: CID, bytes: Uint8Array, slice: FileSlice | null): VerifiedBlock {
    if (slice !== null) {
      this.counters.fileBytesVerified += slice.bytes.length
      this.counters.nextFileOffset = slice.offset + slice.bytes.length
    }
    return { cid, bytes, slice }
  }
}

function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/**
 * The file bytes of `blocks` as runs of adjacent offsets, each one array (copied together when a run has more than
 * one slice): a sink whose every write is a round trip (a shared node's download, written by the tab) takes a
 * received chunk's leaves in one write instead of one per 256 KiB leaf.
 */
export function fileRuns (blocks: readonly VerifiedBlock[]): FileSlice[] {
  const runs: FileSlice[][] = []
  for (const b of blocks) {
    if (b.slice === null || b.slice.bytes.length === 0) continue
    const last = runs.at(-1)?.at(-1)
    if (last !== undefined && last.offset + last.bytes.length === b.slice.offset) runs.at(-1)!.push(b.slice)
    else runs.push([b.slice])
  }
  return runs.map(run => run.length === 1 ? run[0]! : { offset: run[0]!.offset, bytes: concatBytes(...run.map(x => x.bytes)) })
}

/**
 * The file bytes of `blocks`, which `verifier` just verified from `chunk`, as one run moved to the front of `chunk`
 * (over the sections' framing, in place) when nothing is lost by it: every block is a raw leaf whose file bytes lie in
 * the chunk and follow one another, the verifier holds no view of the chunk (none of it is a section yet), and it has
 * not failed (a fault's error names a CID that may lie in the chunk). Else null: fileRuns then. A raw leaf's section
 * is read by nobody once verified (the walk keeps only dag-pb nodes' links), so its framing and the blocks' `bytes`
 * and `cid` may be overwritten; the run's writer gets a view, not a copy into new memory (fileRuns joins a chunk's
 * leaves into a new array: 1.6 s of the shared node's 10.8 s, a 256 MiB download profiled in Chromium).
 */
export function runInPlace (chunk: Uint8Array, blocks: readonly VerifiedBlock[], verifier: CarVerifier): FileSlice | null {
  if (verifier.heldBytes !== 0 || verifier.failure !== undefined || blocks.length === 0) return null
  const start = blocks[0]!.slice?.offset
  let length = 0
  for (const b of blocks) {
    const s = b.slice
    if (b.cid.code !== RAW_CODE || s === null || s.offset !== start! + length) return null
    const at = s.bytes.byteOffset - chunk.byteOffset
    if (s.bytes.buffer !== chunk.buffer || at < 0 || at + s.bytes.length > chunk.length) return null
    length += s.bytes.length
  }
  let to = 0
  for (const b of blocks) {
    const s = b.slice!.bytes
    const at = s.byteOffset - chunk.byteOffset
    // (to ≤ at: each leaf's framing came before it, so bytes move towards the front and none is read after it is overwritten)
    chunk.copyWithin(to, at, at + s.length)
    to += s.length
  }
  return { offset: start!, bytes: chunk.subarray(0, length) }
}
