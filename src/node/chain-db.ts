// The node's chain and keys in LevelDB (classic-level): an embedded database with atomic batches and an
// exclusive lock, so a second process on the same data folder is refused instead of corrupting it.
//
// Layout, as Lotus's chain store keeps it (blocks by CID, the head as a TipSetKey, a height index of the
// heaviest chain):
//   c/<cid>        a header's bytes: every header this node stored, on any fork
//   t/<height>     the TipSetKey (CID bytes concatenated, core/tipset.ts) of the heaviest chain's tipset there;
//                  a null round has no entry
//   meta/head      the heaviest chain's head TipSetKey
//   b/<cid>        IPLD blocks (state, messages, receipts)
//   m/<cid>        where the heaviest chain executed a message: "<height>:<index>", its tipset's height and
//                  its place in that tipset's execution order; rewritten when the heaviest chain changes
//   x/<height>/<cid>  the same index by height, to drop a reverted tipset's entries
import { ClassicLevel } from 'classic-level'
import { CID, unsealHeader, encodeTipSetKey, decodeTipSetKey, makeTipSet, type SealedHeader, type TipSet, type Epoch } from '../core'

export class DataDirInUseError extends Error {
  static override name = 'DataDirInUseError'
  override name = 'DataDirInUseError'
  constructor (readonly dir: string) {
    super(`data folder ${dir} is in use by another Coffer process (stop it first, or pass --data DIR)`)
  }
}

export const encodeRules = (v: number): Uint8Array => new TextEncoder().encode(String(v))
/** The rules version a folder records (`genesis/rules`); none recorded is 1 (folders from before the record). */
export const rulesOf = (bytes: Uint8Array | undefined): number => bytes === undefined ? 1 : Number(new TextDecoder().decode(bytes))

/**
 * A folder holding a chain under other rules (core CHAIN_RULES_VERSION) or in an older layout: its stored
 * state roots are not what this version computes, or its records are not where this version reads them.
 */
export class OldDataDirError extends Error {
  static override name = 'OldDataDirError'
  override name = 'OldDataDirError'
  constructor (dir: string, how = 'start with --reset') { super(`data folder ${dir} holds a chain in an older Coffer format that this version cannot read; ${how}`) }
}

/** A head change names a tipset whose headers this database does not hold (they must be stored first). */
export class MissingTipSetError extends Error {
  static override name = 'MissingTipSetError'
  override name = 'MissingTipSetError'
  constructor (readonly key: string) { super(`tipset ${key} is not stored`) }
}

const heightKey = (h: Epoch): string => `t/${h.toString().padStart(12, '0')}`
const cidKey = (cid: CID): string => `c/${cid.toString()}`
/** The message index by height (`x/<height>/<cid>`), so a reverted tipset's entries are found without a scan of all. */
const executedKey = (h: Epoch, cid: string): string => `x/${h.toString().padStart(12, '0')}/${cid}`
const text = (v: string): Uint8Array => new TextEncoder().encode(v)
const keyText = (key: readonly CID[]): string => key.map(String).join(',')

/** A message the heaviest chain executed: its CID and its place in its tipset's execution order. */
export interface ExecutedMessage { cid: CID, index: number }

/** One tipset the heaviest chain gains: its blocks, and the messages it executes (for the message index). */
export interface CanonicalTipSet { tipset: TipSet, messages: ExecutedMessage[] }

type Op = { type: 'put', key: string, value: Uint8Array } | { type: 'del', key: string }

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

  /** Writes `entries` in one batch; `sync` waits for the disk (what must survive a power cut before anyone hears of it). */
  async putAll (entries: Record<string, Uint8Array>, opts: { sync?: boolean } = {}): Promise<void> {
    await this.db.batch(Object.entries(entries).map(([key, value]) => ({ type: 'put' as const, key, value })), { sync: opts.sync === true })
  }

  /** The values stored under `keys`, in order (undefined where none). */
  async getManyBytes (keys: readonly string[]): Promise<Array<Uint8Array | undefined>> { return await this.db.getMany([...keys]) }

  /** A stored header by CID, on any fork. */
  async header (cid: CID): Promise<SealedHeader | undefined> {
    const bytes = await this.db.get(cidKey(cid))
    return bytes === undefined ? undefined : unsealHeader(bytes)
  }

  /** A stored tipset by its key (every block stored), or undefined. */
  async tipSet (key: readonly CID[]): Promise<TipSet | undefined> {
    if (key.length === 0) return undefined
    const all = await this.db.getMany(key.map(cidKey))
    if (all.some(b => b === undefined)) return undefined
    return makeTipSet(all.map(b => unsealHeader(b!)))
  }

  /** The heaviest chain's TipSetKey at `height`; undefined for a null round or above the head. */
  async canonicalKey (height: Epoch): Promise<CID[] | undefined> {
    const v = await this.db.get(heightKey(height))
    return v === undefined ? undefined : decodeTipSetKey(v)
  }

  /** The heaviest chain's tipset at `height`, or undefined (a null round, above the head). */
  async tipSetAt (height: Epoch): Promise<TipSet | undefined> {
    const key = await this.canonicalKey(height)
    return key === undefined ? undefined : await this.tipSet(key)
  }

  /**
   * The first block (in Lotus's tipset order) of the heaviest chain's tipset at `height`. Its blocks share
   * parents, ParentStateRoot and ParentMessageReceipts, so a reader of state or receipts may take any of them.
   */
  async headerAt (height: Epoch): Promise<SealedHeader | undefined> {
    const key = await this.canonicalKey(height)
    return key === undefined ? undefined : await this.header(key[0]!)
  }

  /**
   * headerAt of the first height from `height` to `max` that is not a null round: the block that carries a null
   * round's beacon entry (beaconEntryForEpoch), or undefined when the chain has no tipset there yet.
   */
  async headerAtOrAbove (height: Epoch, max: Epoch): Promise<SealedHeader | undefined> {
    for await (const v of this.db.values({ gte: heightKey(height), lte: heightKey(max), limit: 1 })) return await this.header(decodeTipSetKey(v)[0]!)
    return undefined
  }

  /** headerAt of the highest height at or below `height` that is not a null round (Lotus GetTipsetByHeight, prev). */
  async headerAtOrBelow (height: Epoch): Promise<SealedHeader | undefined> {
    for await (const v of this.db.values({ gte: heightKey(0), lte: heightKey(height), reverse: true, limit: 1 })) return await this.header(decodeTipSetKey(v)[0]!)
    return undefined
  }

  async headKey (): Promise<CID[] | undefined> {
    const v = await this.db.get('meta/head')
    return v === undefined ? undefined : decodeTipSetKey(v)
  }

  async headHeight (): Promise<Epoch | undefined> {
    const key = await this.headKey()
    return key === undefined ? undefined : (await this.header(key[0]!))?.header.height
  }

  /** Stores headers (off the heaviest chain, or before a head change names them) and the IPLD blocks they bring. */
  async putHeaders (headers: readonly SealedHeader[], blocks: Map<string, Uint8Array> = new Map()): Promise<void> {
    await this.db.batch([...this.blockOps(blocks), ...headers.map(h => ({ type: 'put' as const, key: cidKey(h.cid), value: h.bytes }))])
  }

  /**
   * `h` as the heaviest chain's next tipset, a tipset of one block on the head: header, height index, head
   * pointer, the IPLD blocks it brings (state, messages, receipts) and its message index, in one batch, so a
   * crash leaves either all or none of them.
   */
  async append (h: SealedHeader, blocks: Map<string, Uint8Array> = new Map(), messages: ExecutedMessage[] = []): Promise<void> {
    await this.setHead([], [{ tipset: makeTipSet([h]), messages }], blocks)
  }

  /**
   * Moves the heaviest chain: `reverted` (head first) leave it, `applied` (lowest first) join it, in one
   * batch with `blocks` and the headers of the applied tipsets. The height index drops the reverted heights
   * and the message index the reverted tipsets' messages (those the applied ones execute again are written
   * back), then both take the applied tipsets; the head becomes the last applied tipset (or, with none
   * applied, the parent of the lowest reverted one).
   */
  async setHead (reverted: readonly TipSet[], applied: readonly CanonicalTipSet[], blocks: Map<string, Uint8Array> = new Map()): Promise<void> {
    const ops: Op[] = [...this.blockOps(blocks)]
    for (const ts of reverted) {
      ops.push({ type: 'del', key: heightKey(ts.height) })
      for await (const key of this.db.keys({ gte: executedKey(ts.height, ''), lt: executedKey(ts.height, '~') })) {
        ops.push({ type: 'del', key }, { type: 'del', key: `m/${key.slice(executedKey(ts.height, '').length)}` })
      }
    }
    for (const { tipset, messages } of applied) {
      for (const b of tipset.blocks) ops.push({ type: 'put', key: cidKey(b.cid), value: b.bytes })
      ops.push({ type: 'put', key: heightKey(tipset.height), value: encodeTipSetKey(tipset.key) })
      for (const m of messages) {
        ops.push({ type: 'put', key: `m/${m.cid.toString()}`, value: text(`${tipset.height}:${m.index}`) })
        ops.push({ type: 'put', key: executedKey(tipset.height, m.cid.toString()), value: new Uint8Array(0) })
      }
    }
    const head = applied.at(-1)?.tipset.key ?? reverted.at(-1)?.blocks[0]!.header.parents
    if (head === undefined) throw new RangeError('a head change reverts or applies at least one tipset')
    if (applied.length === 0 && (await this.tipSet(head)) === undefined) throw new MissingTipSetError(keyText(head))
    ops.push({ type: 'put', key: 'meta/head', value: encodeTipSetKey(head) })
    await this.db.batch(ops)
  }

  private blockOps (blocks: Map<string, Uint8Array>): Op[] {
    return [...blocks].map(([cid, value]) => ({ type: 'put' as const, key: `b/${cid}`, value }))
  }

  async putBlocks (blocks: Map<string, Uint8Array>): Promise<void> {
    await this.db.batch(this.blockOps(blocks))
  }

  /** Every stored IPLD block, keyed by CID text (the devnet's state is small enough to hold in memory). */
  async * allBlocks (): AsyncGenerator<[string, Uint8Array]> {
    for await (const [key, value] of this.db.iterator({ gte: 'b/', lt: 'b0' })) yield [key.slice(2), value]
  }

  /** Height of the heaviest chain's tipset that executed a message and its position in that tipset's execution order. */
  async messageIndex (cid: CID): Promise<{ height: Epoch, index: number } | undefined> {
    const v = await this.db.get(`m/${cid.toString()}`)
    if (v === undefined) return undefined
    const [height, index] = new TextDecoder().decode(v).split(':').map(Number)
    return { height: height!, index: index! }
  }

  /** Height of a stored header, on any fork. */
  async heightOf (cid: CID): Promise<Epoch | undefined> {
    return (await this.header(cid))?.header.height
  }

  /**
   * Up to `length` tipsets from the tipset `head` names down, each as its blocks' stored bytes (Lotus's
   * order), read in batches as the caller consumes them. `head` may be on any fork: its tipsets are found by
   * their parents until one is on the heaviest chain, and from there by one reverse scan of the height index
   * (null rounds have no entry, so each step is the parent), its keys read before the run is returned and the
   * headers read together, a batch at a time. Chain exchange serves these without decoding and re-encoding all
   * 900 of an answer; each batch is an await on LevelDB's own threads, so the event loop stays free for block
   * production between batches.
   */
  async headerRun (head: readonly CID[], length: number, batchSize = 64): Promise<{ count: number, batches: AsyncIterable<Uint8Array[][]> } | null> {
    let top = await this.tipSet(head)
    if (top === undefined) return null
    // off the heaviest chain: walk parents until a tipset on it (or the run's length) is reached; from there, the
    // canonical keys in one scan of the height index (one LevelDB snapshot, and every reorganisation is one batch:
    // a linked chain), read before the answer starts. The scan must begin with that tipset: the heaviest chain may
    // have moved since it was checked (under Expected Consensus a late block joins the head's tipset: the index then
    // names {A, B} where {A} was asked, and the asker refuses an answer headed by a tipset it did not ask for). Then
    // it is walked past by its parent like a fork's, and the next one tried.
    const fork: TipSet[] = []
    let keys: CID[][] = []
    while (top !== undefined && fork.length < length) {
      if (keyText((await this.canonicalKey(top.height)) ?? []) === keyText(top.key)) {
        keys = (await this.db.values({ gte: heightKey(0), lte: heightKey(top.height), reverse: true, limit: length - fork.length }).all()).map(decodeTipSetKey)
        if (keyText(keys[0] ?? []) === keyText(top.key)) break
        keys = []
      }
      fork.push(top)
      top = top.height === 0 ? undefined : await this.tipSet(top.blocks[0]!.header.parents)
    }
    // (a parent this node does not hold ends the run there: it serves what it has)
    const count = fork.length + keys.length
    const db = this.db
    return {
      count,
      batches: (async function * () {
        for (let i = 0; i < fork.length; i += batchSize) yield fork.slice(i, i + batchSize).map(ts => ts.blocks.map(b => b.bytes))
        for (let i = 0; i < keys.length; i += batchSize) {
          const cids = keys.slice(i, i + batchSize)
          const headers = await db.getMany(cids.flat().map(cidKey))
          const missing = headers.findIndex(h => h === undefined)
          if (missing >= 0) throw new MissingTipSetError(`of block ${String(cids.flat()[missing])}`)
          let at = 0
          yield cids.map(k => { const blocks = headers.slice(at, at + k.length) as Uint8Array[]; at += k.length; return blocks })
        }
      })()
    }
  }
}
