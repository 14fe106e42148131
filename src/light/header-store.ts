// Verified headers of one chain in IndexedDB (idb). One database per genesis, so a reset devnet never
// mixes with the old chain. Schema v2 (issue 13, as the node's ChainDb v2): `blocks` holds every verified
// header by CID, on any fork; `tipsets` the heaviest chain's tipsets by height as their keys (a null round
// has none); `meta` the head as a TipSetKey. A head move writes its blocks, its height index and the new head
// in one transaction, so an interrupted tab leaves either the old head or the new one, never a head pointing
// at a missing header. A v1 database (one header per height, the head by CID) is carried over on opening.
import { commitAll } from './idb-commit'
import { openDB, type IDBPDatabase, type DBSchema, type IDBPTransaction, type StoreNames } from 'idb'
// modules by path, not core's barrel: the worker's entry reads the stored chain with this before anything heavy loads
import { unsealHeader, type SealedHeader } from '../core/block-header'
import { makeTipSet, type TipSet } from '../core/tipset'
import type { CID, Epoch } from '../core'

interface ChainSchema extends DBSchema {
  blocks: { key: string, value: { cid: string, height: number, bytes: Uint8Array } }
  tipsets: { key: number, value: { height: number, key: string[] } }
  meta: { key: string, value: { height: number, key: string[] } }
}

/** The v1 layout, read only while upgrading. */
interface V1Schema extends DBSchema {
  headers: { key: number, value: { height: number, cid: string, bytes: Uint8Array }, indexes: { cid: string } }
  meta: { key: string, value: { height: number, cid: string } }
}

export const CHAIN_DB_VERSION = 2
export const chainDbName = (genesisCid: string): string => `coffer-chain-${genesisCid}`

/** A head move: `to` becomes the head; the heights of `reverted` lose their tipsets unless `applied` gives them new ones. */
export interface HeadMove {
  to: TipSet
  reverted: TipSet[]
  applied: TipSet[]
  /** Verified headers to keep by CID: the applied tipsets' blocks and any validated on other forks. */
  blocks: SealedHeader[]
}

export interface HeaderStore {
  /** The head tipset's first block (every block of a tipset names the same parents and state root). */
  head: () => Promise<SealedHeader | null>
  headTipSet: () => Promise<TipSet | null>
  /** Appends already-verified headers (ascending, contiguous, one block a tipset) and moves the head, atomically. */
  append: (headers: SealedHeader[]) => Promise<void>
  /** Moves the head (a reorganisation when `reverted` is not empty), atomically. */
  moveHead: (move: HeadMove) => Promise<void>
  /** The blocks of the `n` highest tipsets, highest first. */
  recent: (n: number) => Promise<SealedHeader[]>
  /** The `n` highest tipsets of the heaviest chain, highest first. */
  recentTipSets: (n: number) => Promise<TipSet[]>
  has: (cid: string) => Promise<boolean>
  /** A verified header by CID, on the heaviest chain or a fork. */
  get: (cid: string) => Promise<SealedHeader | null>
  /** The first block of the heaviest chain's tipset at `height` (null: not synced that far, or a null round). */
  byHeight: (height: Epoch) => Promise<SealedHeader | null>
  /** The heaviest chain's tipset at `height`, or null. */
  tipSetAt: (height: Epoch) => Promise<TipSet | null>
  /** The tipset of these verified blocks (any fork), or null when one of them is not stored. */
  tipSet: (key: ReadonlyArray<CID | string>) => Promise<TipSet | null>
  /** The heaviest chain's first tipset at or above `height` and at or below `max`, or null. */
  tipSetAtOrAbove: (height: Epoch, max: Epoch) => Promise<TipSet | null>
  /**
   * The lowest height from which the stored chain is linked, tipset by parent, up to the head: 0 for a chain synced
   * from genesis; after a jump to a finalized tipset (issue 14), the bottom of the run fetched below it. Heights
   * below it are unknown here (not null rounds) until `prepend` brings them.
   */
  floor: () => Promise<Epoch>
  /**
   * Makes `run` (ascending, each tipset the parent of the next, the last one finalized by a certificate) the chain
   * and its last tipset the head, in one transaction: heights in the run without a tipset are null rounds, heights
   * above it are dropped, and the floor is the run's first height.
   */
  jump: (run: TipSet[]) => Promise<void>
  /** Adds `run` (ascending, its last tipset the parent of the tipset at the floor) below the floor, and lowers the floor to its first height. */
  prepend: (run: TipSet[]) => Promise<void>
  close: () => void
}

type UpgradeTx = IDBPTransaction<unknown, Array<StoreNames<unknown>>, 'versionchange'>

/** v1 → v2: every header into `blocks` and `tipsets` (one block a tipset then), the head as a key. */
async function upgradeFromV1 (db: IDBPDatabase<unknown>, tx: UpgradeTx): Promise<void> {
  const old = tx as unknown as IDBPTransaction<V1Schema, Array<StoreNames<V1Schema>>, 'versionchange'>
  const next = tx as unknown as IDBPTransaction<ChainSchema, Array<StoreNames<ChainSchema>>, 'versionchange'>
  let cursor = await old.objectStore('headers').openCursor()
  while (cursor !== null) {
    const { height, cid, bytes } = cursor.value
    await next.objectStore('blocks').put({ cid, height, bytes })
    await next.objectStore('tipsets').put({ height, key: [cid] })
    cursor = await cursor.continue()
  }
  const head = await old.objectStore('meta').get('head')
  await old.objectStore('meta').delete('head')
  if (head !== undefined) await next.objectStore('meta').put({ height: head.height, key: [head.cid] }, 'head')
  ;(db as unknown as IDBPDatabase<V1Schema>).deleteObjectStore('headers')
}

/** Tipsets whose puts a run's write issues before it waits for them to land (writeRun). */
const RUN_WRITE_CHUNK = 100

export async function openHeaderStore (genesisCid: string): Promise<HeaderStore> {
  const db: IDBPDatabase<ChainSchema> = await openDB<ChainSchema>(chainDbName(genesisCid), CHAIN_DB_VERSION, {
    upgrade (raw, oldVersion, _newVersion, tx) {
      const any = raw as unknown as IDBPDatabase<unknown>
      if (oldVersion < 1) any.createObjectStore('meta')
      any.createObjectStore('blocks', { keyPath: 'cid' })
      any.createObjectStore('tipsets', { keyPath: 'height' })
      // the versionchange transaction stays open while these requests run: the database opens once they are done
      if (oldVersion === 1) void upgradeFromV1(any, tx as unknown as UpgradeTx)
    }
  })
  const block = async (cid: string): Promise<SealedHeader | null> => {
    const row = await db.get('blocks', cid)
    return row === undefined ? null : unsealHeader(row.bytes)
  }
  const tipSetOf = async (key: ReadonlyArray<CID | string>): Promise<TipSet | null> => {
    const blocks = await Promise.all(key.map(async c => await block(String(c))))
    return blocks.some(b => b === null) ? null : makeTipSet(blocks as SealedHeader[])
  }
  const tipSetAt = async (height: Epoch): Promise<TipSet | null> => {
    const row = await db.get('tipsets', height)
    return row === undefined ? null : await tipSetOf(row.key)
  }
  const recentTipSets = async (n: number): Promise<TipSet[]> => {
    const keys: string[][] = []
    let cursor = await db.transaction('tipsets').store.openCursor(null, 'prev')
    while (cursor !== null && keys.length < n) {
      keys.push(cursor.value.key)
      cursor = await cursor.continue()
    }
    return (await Promise.all(keys.map(tipSetOf))).filter((t): t is TipSet => t !== null)
  }
  const write = async (move: HeadMove): Promise<void> => {
    const tx = db.transaction(['blocks', 'tipsets', 'meta'], 'readwrite')
    const writes: Array<Promise<unknown>> = move.blocks.map(async h => await tx.objectStore('blocks').put({ cid: h.cid.toString(), height: h.header.height, bytes: h.bytes }))
    const appliedHeights = new Set(move.applied.map(t => t.height))
    for (const t of move.reverted) if (!appliedHeights.has(t.height)) writes.push(tx.objectStore('tipsets').delete(t.height))
    for (const t of move.applied) writes.push(tx.objectStore('tipsets').put({ height: t.height, key: t.key.map(String) }))
    writes.push(tx.objectStore('meta').put({ height: move.to.height, key: move.to.key.map(String) }, 'head'))
    await commitAll(tx, writes)
  }
  const floor = async (): Promise<Epoch> => (await db.get('meta', 'floor'))?.height ?? 0
  /** Writes `run` as the chain from its first height to `top` (null rounds where it has no tipset), and the new floor. */
  const writeRun = async (run: TipSet[], top: Epoch, head: TipSet | null): Promise<void> => {
    if (run.length === 0) return
    const tx = db.transaction(['blocks', 'tipsets', 'meta'], 'readwrite')
    const low = run[0]!.height
    const writes: Array<Promise<unknown>> = []
    const have = new Set(run.map(t => t.height))
    // heights the run covers without a tipset are null rounds; with a head, everything above it goes too
    writes.push((async () => {
      let cursor = await tx.objectStore('tipsets').openCursor(IDBKeyRange.lowerBound(low))
      while (cursor !== null) {
        if (cursor.value.height > top ? head !== null : !have.has(cursor.value.height)) await cursor.delete()
        else if (cursor.value.height > top) break
        cursor = await cursor.continue()
      }
    })())
    // in chunks, each started once the one before it is written: the puts of a 901-tipset jump held the worker's thread
    // for most of a second in one go (each put clones its value there), and the page heard nothing meanwhile — not even
    // the new head, which reanchor shows while this runs. A request's success keeps the transaction open for the next.
    try {
      for (let at = 0; at < run.length; at += RUN_WRITE_CHUNK) {
        if (at > 0) await writes[writes.length - 1]
        for (const t of run.slice(at, at + RUN_WRITE_CHUNK)) {
          for (const b of t.blocks) writes.push(tx.objectStore('blocks').put({ cid: b.cid.toString(), height: b.header.height, bytes: b.bytes }))
          writes.push(tx.objectStore('tipsets').put({ height: t.height, key: t.key.map(String) }))
        }
      }
      writes.push(tx.objectStore('meta').put({ height: low, key: [] }, 'floor'))
      if (head !== null) writes.push(tx.objectStore('meta').put({ height: head.height, key: head.key.map(String) }, 'head'))
    } catch (err) {
      // a put refused (quota) or the transaction gone: what commitAll says of it is the error to report
      writes.push(Promise.reject(err))
    }
    await commitAll(tx, writes)
  }
  return {
    floor,
    jump: async (run) => { await writeRun(run, run[run.length - 1]!.height, run[run.length - 1]!) },
    prepend: async (run) => { await writeRun(run, (await floor()) - 1, null) },
    byHeight: async (height) => (await tipSetAt(height))?.blocks[0] ?? null,
    tipSet: tipSetOf,
    tipSetAt,
    tipSetAtOrAbove: async (height, max) => {
      // below the floor the chain may have a gap (what a jump skipped): an answer from above it would be wrong, so
      // a search that starts below the floor looks only below it, and none there is unknown, not a null round
      const f = height < 1 ? 0 : await floor()
      const top = height < f ? Math.min(max, f - 1) : max
      if (top < height) return null
      const row = await db.transaction('tipsets').store.openCursor(IDBKeyRange.bound(height, top))
      return row === null ? null : await tipSetOf(row.value.key)
    },
    headTipSet: async () => {
      const meta = await db.get('meta', 'head')
      return meta === undefined ? null : await tipSetOf(meta.key)
    },
    head: async () => {
      const meta = await db.get('meta', 'head')
      return meta === undefined ? null : (await tipSetOf(meta.key))?.blocks[0] ?? null
    },
    append: async (headers) => {
      if (headers.length === 0) return
      const applied = headers.map(h => makeTipSet([h]))
      await write({ to: applied[applied.length - 1]!, reverted: [], applied, blocks: headers })
    },
    moveHead: write,
    recent: async (n) => (await recentTipSets(n)).flatMap(t => t.blocks),
    recentTipSets,
    has: async (cid) => (await db.getKey('blocks', cid)) !== undefined,
    get: block,
    close: () => { db.close() }
  }
}
