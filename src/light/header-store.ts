// Verified headers of one chain in IndexedDB (idb). One database per genesis, so a reset devnet never
// mixes with the old chain. Schema v1: `headers` keyed by height (unique `cid` index) and `meta` holding
// the head; every append writes its headers and the new head in one transaction, so an interrupted tab
// leaves either the old head or the new one, never a head pointing at a missing header.
import { openDB, type IDBPDatabase, type DBSchema } from 'idb'
import { unsealHeader, type SealedHeader, type Epoch } from '../core'

interface ChainSchema extends DBSchema {
  headers: { key: number, value: { height: number, cid: string, bytes: Uint8Array }, indexes: { cid: string } }
  meta: { key: string, value: { height: number, cid: string } }
}

export const CHAIN_DB_VERSION = 1
export const chainDbName = (genesisCid: string): string => `coffer-chain-${genesisCid}`

export interface HeaderStore {
  head: () => Promise<SealedHeader | null>
  /** Appends already-verified headers (ascending, contiguous) and moves the head, atomically. */
  append: (headers: SealedHeader[]) => Promise<void>
  /** The `n` highest headers, highest first. */
  recent: (n: number) => Promise<SealedHeader[]>
  has: (cid: string) => Promise<boolean>
  get: (cid: string) => Promise<SealedHeader | null>
  /** The verified header at `height`, if synced that far. */
  byHeight: (height: Epoch) => Promise<SealedHeader | null>
  close: () => void
}

export async function openHeaderStore (genesisCid: string): Promise<HeaderStore> {
  const db: IDBPDatabase<ChainSchema> = await openDB<ChainSchema>(chainDbName(genesisCid), CHAIN_DB_VERSION, {
    upgrade (db) {
      const headers = db.createObjectStore('headers', { keyPath: 'height' })
      headers.createIndex('cid', 'cid', { unique: true })
      db.createObjectStore('meta')
    }
  })
  const at = async (height: Epoch): Promise<SealedHeader | null> => {
    const row = await db.get('headers', height)
    return row === undefined ? null : unsealHeader(row.bytes)
  }
  return {
    byHeight: at,
    head: async () => {
      const meta = await db.get('meta', 'head')
      return meta === undefined ? null : await at(meta.height)
    },
    append: async (headers) => {
      if (headers.length === 0) return
      const tx = db.transaction(['headers', 'meta'], 'readwrite')
      const writes: Array<Promise<unknown>> = headers.map(async h => await tx.objectStore('headers').put({ height: h.header.height, cid: h.cid.toString(), bytes: h.bytes }))
      const top = headers[headers.length - 1]!
      writes.push(tx.objectStore('meta').put({ height: top.header.height, cid: top.cid.toString() }, 'head'))
      await Promise.all([...writes, tx.done])
    },
    recent: async (n) => {
      const out: SealedHeader[] = []
      let cursor = await db.transaction('headers').store.openCursor(null, 'prev')
      while (cursor !== null && out.length < n) {
        out.push(unsealHeader(cursor.value.bytes))
        cursor = await cursor.continue()
      }
      return out
    },
    has: async (cid) => (await db.getKeyFromIndex('headers', 'cid', cid)) !== undefined,
    get: async (cid) => {
      const row = await db.getFromIndex('headers', 'cid', cid)
      return row === undefined ? null : unsealHeader(row.bytes)
    },
    close: () => { db.close() }
  }
}
