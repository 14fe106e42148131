// The wallet's record of what this tab sent and which addresses it watches, per chain (one IndexedDB
// database per genesis, like the header store), so pending messages are still followed after a reload.
import { openDB, type IDBPDatabase } from 'idb'
import type { HistoryEntry } from './wallet-service'

export const HISTORY_DB_VERSION = 1
export const historyDbName = (genesisCid: string): string => `coffer-wallet-history-${genesisCid}`

export interface HistoryStore {
  entries: () => Promise<HistoryEntry[]>
  put: (entry: HistoryEntry) => Promise<void>
  watched: () => Promise<string[]>
  watch: (address: string) => Promise<void>
  close: () => void
}

export async function openHistoryStore (genesisCid: string): Promise<HistoryStore> {
  const db: IDBPDatabase = await openDB(historyDbName(genesisCid), HISTORY_DB_VERSION, {
    upgrade (d) {
      d.createObjectStore('history', { keyPath: 'cid' }).createIndex('sentAtMs', 'sentAtMs')
      d.createObjectStore('watched')
    }
  })
  return {
    entries: async () => await db.getAllFromIndex('history', 'sentAtMs') as HistoryEntry[],
    put: async (entry) => { await db.put('history', { ...entry }) },
    watched: async () => await db.getAllKeys('watched') as string[],
    watch: async (address) => { await db.put('watched', true, address) },
    close: () => { db.close() }
  }
}
