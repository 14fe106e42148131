// Which stored payloads a retrieval can be served from: an index of payload root CID → the deal files whose CAR
// names it (built from each published deal's CAR index, refreshed as deals come and go), and the opening of one
// for a request: its root block read, checked to be a UnixFS file, and the requested range checked against it.
import {
  CID, UnixfsWalk, RetrievalRejectedError, RetrievalVerifyError, RangeNotSatisfiableError, DEFAULT_MAX_BLOCK_BYTES, type RetrievalRequest
} from '../../core'
import { openCarBlocks, type CarBlocks } from './car-index'
import type { ProviderStore } from './provider-store'

/** A payload opened for one request: its blocks, the walk that already took the root, and the file's size. */
export interface OpenedPayload { blocks: CarBlocks, walk: UnixfsWalk, rootBytes: Uint8Array, size: number }

export class PayloadIndex {
  /** Payload roots → the deal files (relative) whose CAR names them; and each indexed file's roots (null: not a CAR). */
  private readonly roots = new Map<string, Set<string>>()
  private readonly indexed = new Map<string, string[] | null>()
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
   * Root → files, from each published deal's CAR index (built on first use and kept beside the file). Deals
   * published since the last request are indexed; deals no longer in the store are forgotten.
   */
  private async refresh (): Promise<void> {
    const run = this.refreshing.then(async () => {
      const files = new Set(this.store.all().map(d => d.file))
      for (const [file, roots] of this.indexed) {
        if (files.has(file)) continue
        for (const r of roots ?? []) {
          const set = this.roots.get(r)
          set?.delete(file)
          if (set?.size === 0) this.roots.delete(r)
        }
        this.indexed.delete(file)
      }
      for (const file of files) {
        if (this.indexed.has(file)) continue
        let roots: string[] | null
        try {
          const blocks = await openCarBlocks(this.store.absolute(file))
          roots = blocks.roots.map(r => r.toString())
          await blocks.close()
        } catch (err) {
          // gone from disk: not indexed, so a file put back is found next time
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue
          // bytes that are not a CAR (any client may store any bytes): nothing there to retrieve, said once
          this.log(`payload ${file} is not servable: ${(err as Error).name}: ${(err as Error).message}`)
          roots = null
        }
        this.indexed.set(file, roots)
        for (const r of roots ?? []) {
          let set = this.roots.get(r)
          if (set === undefined) this.roots.set(r, set = new Set())
          set.add(file)
        }
      }
    })
    this.refreshing = run.catch(() => {})
    await run
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
