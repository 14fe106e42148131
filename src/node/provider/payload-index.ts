// Which stored payloads a retrieval can be served from: an index of payload root CID → the deal files whose CAR
// names it, and of every block's CID → the files holding it (built from each published deal's CAR index, refreshed
// as deals come and go), and the opening of one for a request: for the libp2p path its root block read, checked to
// be a UnixFS file, and the requested range checked against it; for the HTTP gateway the file holding any block.
import {
  CID, UnixfsWalk, RetrievalRejectedError, RetrievalVerifyError, RangeNotSatisfiableError, DEFAULT_MAX_BLOCK_BYTES, type RetrievalRequest
} from '../../core'
import { openCarBlocks, type CarBlocks } from './car-index'
import type { ProviderStore } from './provider-store'

/** A payload opened for one request: its blocks, the walk that already took the root, and the file's size. */
export interface OpenedPayload { blocks: CarBlocks, walk: UnixfsWalk, rootBytes: Uint8Array, size: number }

/** What one indexed file gave: its roots and its blocks' CIDs (null: not a CAR, nothing to serve from it). */
interface IndexedFile { roots: string[], blocks: string[] }

/**
 * One in-memory map for a provider's retrieval paths (libp2p and HTTP), as Boost's local index directory (LID) maps
 * multihashes to pieces. It costs about 150 bytes per stored block (a CID string and a map entry): ~0.6 MiB per GiB
 * stored in 256 KiB blocks, fine for a devnet provider; one with terabytes would keep this map on disk as LID does.
 */
export class PayloadIndex {
  /** Payload roots → the deal files (relative) whose CAR names them. */
  private readonly roots = new Map<string, Set<string>>()
  /** Block CIDs (every block, roots too) → the file holding it, or the files when several do (the same payload in two deals). */
  private readonly blocks = new Map<string, string | string[]>()
  private readonly indexed = new Map<string, IndexedFile | null>()
  private refreshing: Promise<void> = Promise.resolve()

  constructor (private readonly store: ProviderStore, private readonly log: (line: string) => void) {}

  /** The stored payload the request names, opened, its root block read and the range checked against the file. */
  async open (req: RetrievalRequest): Promise<OpenedPayload> {
    await this.refresh()
    const root = req.root.toString()
    for (const file of this.roots.get(root) ?? []) {
      let blocks: CarBlocks
      try {
        blocks = await openCarBlocks(this.store.absolute(file))
      } catch (err) {
        // removed or damaged since it was indexed: another copy may do
        this.log(`payload ${file}: ${(err as Error).name}: ${(err as Error).message}`)
        continue
      }
      try {
        if (!blocks.has(req.root)) throw new RetrievalRejectedError('NOT_FOUND', `the payload CAR names ${root} as its root but does not hold that block`)
        const walk = new UnixfsWalk(req.root, req.range === undefined ? {} : { range: req.range })
        const rootBytes = await readBounded(blocks, req.root)
        try {
          walk.accept(req.root, rootBytes)
        } catch (err) {
          if (err instanceof RangeNotSatisfiableError) throw new RetrievalRejectedError('RANGE', `range [${err.from}, ${err.to}) is outside the file of ${err.fileSize} bytes`)
          // a client may have stored any CAR: one whose root is not a UnixFS file holds no file to retrieve
          if (err instanceof RetrievalVerifyError) throw new RetrievalRejectedError('NOT_FOUND', `${root} is not a UnixFS file this provider can serve: ${err.message}`)
          throw err
        }
        return { blocks, walk, rootBytes, size: walk.fileSize! }
      } catch (err) {
        await blocks.close()
        if (err instanceof RetrievalRejectedError) throw err
        throw new RetrievalRejectedError('INTERNAL', `the stored payload ${root} cannot be read: ${(err as Error).name}: ${(err as Error).message}`)
      }
    }
    throw new RetrievalRejectedError('NOT_FOUND', `this provider holds no payload with root ${root}`)
  }

  /**
   * The stored CAR holding block `cid` (any block, not only a root: `format=raw` and CARs of sub-DAGs name inner
   * blocks), opened (the caller closes it), or null when no stored file holds it. One map lookup and one open, not a
   * scan of every deal's CAR index: an unpaid request costs the provider no more than that before it is priced.
   */
  async openBlock (cid: CID): Promise<CarBlocks | null> {
    await this.refresh()
    const key = cid.toString()
    const held = this.blocks.get(key)
    for (const file of held === undefined ? [] : typeof held === 'string' ? [held] : [...held]) {
      let blocks: CarBlocks
      try {
        blocks = await openCarBlocks(this.store.absolute(file))
      } catch (err) {
        // removed or damaged since it was indexed: another copy may do
        this.log(`payload ${file}: ${(err as Error).name}: ${(err as Error).message}`)
        continue
      }
      if (blocks.has(cid)) return blocks
      await blocks.close() // rewritten since it was indexed (a new index was built on open): not there any more
    }
    return null
  }

  /**
   * Root → files, from each published deal's CAR index (built on first use and kept beside the file). Deals
   * published since the last request are indexed; deals no longer in the store are forgotten.
   */
  private async refresh (): Promise<void> {
    const run = this.refreshing.then(async () => {
      const files = new Set(this.store.all().map(d => d.file))
      for (const [file, entry] of this.indexed) {
        if (files.has(file)) continue
        for (const r of entry?.roots ?? []) {
          const set = this.roots.get(r)
          set?.delete(file)
          if (set?.size === 0) this.roots.delete(r)
        }
        for (const b of entry?.blocks ?? []) this.unmapBlock(b, file)
        this.indexed.delete(file)
      }
      for (const file of files) {
        if (this.indexed.has(file)) continue
        let entry: IndexedFile | null
        try {
          const blocks = await openCarBlocks(this.store.absolute(file))
          entry = { roots: blocks.roots.map(r => r.toString()), blocks: [...blocks.cids()] }
          await blocks.close()
        } catch (err) {
          // gone from disk: not indexed, so a file put back is found next time
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue
          // bytes that are not a CAR (any client may store any bytes): nothing there to retrieve, said once
          this.log(`payload ${file} is not servable: ${(err as Error).name}: ${(err as Error).message}`)
          entry = null
        }
        this.indexed.set(file, entry)
        for (const r of entry?.roots ?? []) {
          let set = this.roots.get(r)
          if (set === undefined) this.roots.set(r, set = new Set())
          set.add(file)
        }
        for (const b of entry?.blocks ?? []) this.mapBlock(b, file)
      }
    })
    this.refreshing = run.catch(() => {})
    await run
  }

  private mapBlock (cid: string, file: string): void {
    const held = this.blocks.get(cid)
    if (held === undefined) this.blocks.set(cid, file)
    else if (typeof held === 'string') { if (held !== file) this.blocks.set(cid, [held, file]) } else if (!held.includes(file)) held.push(file)
  }

  private unmapBlock (cid: string, file: string): void {
    const held = this.blocks.get(cid)
    if (held === file) this.blocks.delete(cid)
    else if (Array.isArray(held)) {
      const rest = held.filter(f => f !== file)
      if (rest.length === 1) this.blocks.set(cid, rest[0]!)
      else this.blocks.set(cid, rest)
    }
  }
}

/**
 * A stored block, refused before it is read when it is larger than any walk accepts: a client may have stored
 * any CAR, and a block claiming 1.5 GiB read into memory by a few retrievals at once would take the provider
 * down before the walk's own size check ever saw it.
 */
export async function readBounded (blocks: CarBlocks, cid: CID): Promise<Uint8Array> {
  const length = blocks.blockLength(cid)
  if (length !== undefined && length > DEFAULT_MAX_BLOCK_BYTES) throw new RetrievalRejectedError('INTERNAL', `stored block ${cid.toString()} is ${length} bytes, above the ${DEFAULT_MAX_BLOCK_BYTES}-byte limit of a retrieval`)
  return await blocks.read(cid)
}
