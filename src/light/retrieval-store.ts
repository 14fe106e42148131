// The tab's record of its downloads and payment channels, in IndexedDB, one database per genesis (beside
// deal-store.ts, never inside it). A download record is rewritten whole at each step and awaited before the
// next one (a voucher is never sent before the lane's new total is on disk), so a closed tab finds every
// download at its last verified offset and every lane at its last voucher. The File System Access handle a
// download writes to is kept too (handles are structured-cloneable into IndexedDB), so a reopened tab can
// ask for permission again and go on writing the same file.
import { openDB, type IDBPDatabase, type DBSchema } from 'idb'
import type { WireError } from '../core'
import type { StoredChannel, PaychStore } from './paych-client'
import type { DownloadState } from './retrieval-session'

/**
 * quoting: providers are being found and priced; paying: a channel is being created or funded (a message on
 * chain); fetching: blocks are streaming in; paused / cancelled: the user said so; done / failed: the end.
 */
export type DownloadStage = 'quoting' | 'paying' | 'fetching' | 'paused' | 'done' | 'failed' | 'cancelled'

/** Stages a download is running in: a reopened tab resumes these, never a paused or cancelled one. */
export const RUNNING_STAGES: readonly DownloadStage[] = ['quoting', 'paying', 'fetching']

/** Where the verified bytes go: a file the user picked (File System Access API), or OPFS then a download link. */
export type SinkKind = 'picked' | 'opfs'

export interface DownloadRecord {
  id: string
  /** The payload root CID (the deals' label). */
  root: string
  name: string
  /** The file's size as the link or the upload record says it; the walk checks it against the DAG. */
  size: number
  /** [from, to) file offsets; the whole file when absent. */
  range?: { from: number, to: number }
  /** The deals whose providers may serve it (each checked by a verified read before use). */
  dealIds: number[]
  sink: SinkKind
  /** The OPFS file's name (sink 'opfs', and the journal of a 'picked' sink). */
  opfsName: string
  /**
   * The retrieval session's state (retrieval-session.ts): the verified offset (every byte before it verified and
   * durably written: a resume asks from there), each provider's lane, what it was paid and why it was dropped.
   */
  state: DownloadState
  /** The payload CAR's size when this tab stored the file: the bytes a quote prices. */
  carBytes?: number
  /** The quote the user accepted (attoFIL, decimal, the whole file): providers asking more by now are not used. */
  quoted?: { price: string }
  stage: DownloadStage
  /** The provider serving now, while fetching. */
  serving?: string
  /** The picked file's permission was lost with the tab: a click must grant it again. */
  needsPermission?: boolean
  /** Why a running download waits (the wallet is locked and a priced provider must be paid), when it does. */
  waiting?: string
  createdAtMs: number
  updatedAtMs: number
  doneAtMs?: number
  error?: WireError
}

interface RetrievalSchema extends DBSchema {
  downloads: { key: string, value: DownloadRecord }
  channels: { key: string, value: StoredChannel }
  /** FileSystemFileHandle by download id (kept apart from the record, which is posted to the page as is). */
  handles: { key: string, value: FileSystemFileHandle }
}

export interface RetrievalStore {
  downloads: () => Promise<DownloadRecord[]>
  putDownload: (d: DownloadRecord) => Promise<void>
  /** The payment-channel client's records (paych-client.ts), each put awaited before a voucher leaves. */
  paych: PaychStore
  handle: (id: string) => Promise<FileSystemFileHandle | undefined>
  putHandle: (id: string, h: FileSystemFileHandle) => Promise<void>
  removeHandle: (id: string) => Promise<void>
  close: () => void
}

export const RETRIEVAL_DB_VERSION = 1

export async function openRetrievalStore (genesisCid: string): Promise<RetrievalStore> {
  const db: IDBPDatabase<RetrievalSchema> = await openDB<RetrievalSchema>(`coffer-retrievals-${genesisCid}`, RETRIEVAL_DB_VERSION, {
    upgrade (db, oldVersion) {
      if (oldVersion < 1) {
        db.createObjectStore('downloads', { keyPath: 'id' })
        db.createObjectStore('channels', { keyPath: 'key' })
        db.createObjectStore('handles')
      }
    }
  })
  return {
    downloads: async () => await db.getAll('downloads'),
    putDownload: async (d) => { await db.put('downloads', d) },
    paych: {
      list: async () => await db.getAll('channels'),
      // strict: complete fires once the OS was told to flush to disk, not when the write reaches its buffer (the
      // default is relaxed in Chrome since 121, as in Firefox and Safari): this put is a voucher's write-ahead record
      put: async (c) => {
        const tx = db.transaction('channels', 'readwrite', { durability: 'strict' })
        await Promise.all([tx.store.put(c), tx.done])
      }
    },
    handle: async (id) => await db.get('handles', id),
    putHandle: async (id, h) => { await db.put('handles', h, id) },
    removeHandle: async (id) => { await db.delete('handles', id) },
    close: () => { db.close() }
  }
}
