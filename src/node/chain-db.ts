// The provider node's chain and keys in LevelDB (classic-level): an embedded database with atomic batches
// and an exclusive lock, so a second process on the same data folder is refused instead of corrupting it.
import { ClassicLevel } from 'classic-level'
import { CID, unsealHeader, type SealedHeader, type Epoch } from '../core'

export class DataDirInUseError extends Error {
  static override name = 'DataDirInUseError'
  override name = 'DataDirInUseError'
  constructor (readonly dir: string) {
    super(`data folder ${dir} is in use by another Coffer process (stop it first, or pass --data DIR)`)
  }
}

const heightKey = (h: Epoch): string => `h/${h.toString().padStart(12, '0')}`
const cidKey = (cid: CID): string => `c/${cid.toString()}`

export class ChainDb {
  private constructor (private readonly db: ClassicLevel<string, Uint8Array>) {}

  static async open (dir: string): Promise<ChainDb> {
    const db = new ClassicLevel<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' })
    try {
      await db.open()
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause
      if (cause?.code === 'LEVEL_LOCKED') throw new DataDirInUseError(dir)
      throw err
    }
    return new ChainDb(db)
  }

  async close (): Promise<void> { await this.db.close() }

  async getBytes (key: string): Promise<Uint8Array | undefined> { return await this.db.get(key) }

  async putAll (entries: Record<string, Uint8Array>): Promise<void> {
    await this.db.batch(Object.entries(entries).map(([key, value]) => ({ type: 'put' as const, key, value })))
  }

  async headerAt (height: Epoch): Promise<SealedHeader | undefined> {
    const bytes = await this.db.get(heightKey(height))
    return bytes === undefined ? undefined : unsealHeader(bytes)
  }

  async headHeight (): Promise<Epoch | undefined> {
    const v = await this.db.get('meta/head')
    return v === undefined ? undefined : Number(new TextDecoder().decode(v))
  }

  /**
   * Header, CID index, head pointer, the IPLD blocks the header links (state, messages, receipts) and
   * the message index, in one batch: a crash leaves either all or none of them.
   */
  async append (h: SealedHeader, blocks: Map<string, Uint8Array> = new Map(), messages: Array<{ cid: CID, index: number }> = []): Promise<void> {
    const text = (v: string): Uint8Array => new TextEncoder().encode(v)
    await this.db.batch([
      ...[...blocks].map(([cid, value]) => ({ type: 'put' as const, key: `b/${cid}`, value })),
      ...messages.map(m => ({ type: 'put' as const, key: `m/${m.cid.toString()}`, value: text(`${h.header.height}:${m.index}`) })),
      { type: 'put', key: heightKey(h.header.height), value: h.bytes },
      { type: 'put', key: cidKey(h.cid), value: text(String(h.header.height)) },
      { type: 'put', key: 'meta/head', value: text(String(h.header.height)) }
    ])
  }

  async putBlocks (blocks: Map<string, Uint8Array>): Promise<void> {
    await this.db.batch([...blocks].map(([cid, value]) => ({ type: 'put' as const, key: `b/${cid}`, value })))
  }

  /** Every stored IPLD block, keyed by CID text (the devnet's state is small enough to hold in memory). */
  async * allBlocks (): AsyncGenerator<[string, Uint8Array]> {
    for await (const [key, value] of this.db.iterator({ gte: 'b/', lt: 'b0' })) yield [key.slice(2), value]
  }

  /** Height of the block that included a message and its position in that block's execution order. */
  async messageIndex (cid: CID): Promise<{ height: Epoch, index: number } | undefined> {
    const v = await this.db.get(`m/${cid.toString()}`)
    if (v === undefined) return undefined
    const [height, index] = new TextDecoder().decode(v).split(':').map(Number)
    return { height: height!, index: index! }
  }

  async heightOf (cid: CID): Promise<Epoch | undefined> {
    const v = await this.db.get(cidKey(cid))
    return v === undefined ? undefined : Number(new TextDecoder().decode(v))
  }

  /**
   * Up to `length` headers from `head` down as their stored bytes (one chain, so the parent of height h is
   * the header at h-1), read in batches from one reverse range scan as the caller consumes them. Chain
   * exchange serves these without holding, decoding or re-encoding all 900 of an answer; each batch is an
   * await on LevelDB's own threads, so the event loop stays free for block production between batches.
   */
  async headerRun (head: CID, length: number, batchSize = 64): Promise<{ count: number, batches: AsyncIterable<Uint8Array[]> } | null> {
    const top = await this.heightOf(head)
    if (top === undefined) return null
    const count = Math.min(length, top + 1)
    const db = this.db
    return {
      count,
      batches: (async function * () {
        // LevelDB iterators read from an implicit snapshot: headers appended meanwhile do not shift the range
        const values = db.values({ gte: heightKey(top - count + 1), lte: heightKey(top), reverse: true })
        try {
          for (;;) {
            const batch = await values.nextv(batchSize)
            if (batch.length === 0) return
            yield batch
          }
        } finally {
          await values.close()
        }
      })()
    }
  }
}
