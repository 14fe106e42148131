// The tab's record of its uploads and of its own checks of every proof, in IndexedDB, one database per
// genesis. An upload record is rewritten whole at each step, so a closed tab finds each upload at its last
// completed step; verdicts are keyed by deal and period and never change once written.
import { openDB, type IDBPDatabase, type DBSchema } from 'idb'
import type { WireError } from '../core'
import type { AuditRecord } from './audit-store'
import type { CarLayout } from '../core/piece/car-layout'

export type UploadStage = 'packing' | 'hashing' | 'proposing' | 'sending' | 'done' | 'failed' | 'duplicate'

export interface CopyRecord {
  provider: string
  peerId: string
  addrs: string[]
  /** ClientDealProposal, DAG-CBOR, signed by the wallet. */
  signed: Uint8Array
  state: 'sending' | 'published' | 'failed'
  held: number
  dealId?: number
  message?: string
  /** false: the provider said it published `dealId`, the chain has not shown it to us yet. */
  confirmed?: boolean
  error?: WireError
  /** The transfer rate measured from the provider's acknowledgements (bytes a second). */
  bytesPerSec?: number
  /** Times the start was moved later (a newly signed proposal for the same piece), and the last one. */
  replans?: number
  lastReplan?: { reason: 'slow' | 'refused', startEpoch: number, bytesPerSec: number, held: number }
}

export interface UploadRecord {
  id: string
  name: string
  fileBytes: number
  createdAtMs: number
  stage: UploadStage
  client: string
  copies: number
  periods: number
  chosen?: string[]
  staging: string
  packedBytes?: number
  hashedBytes?: number
  root?: string
  carBytes?: number
  /** The CAR's layout as packed (absent on uploads packed before it was recorded): where a proof's leaf sits in the file. */
  layout?: CarLayout
  pieceCid?: string
  paddedBytes?: number
  escrowMessage?: string
  /** An AddBalance sent for this upload whose receipt was not yet seen. */
  pendingEscrow?: string
  /** Why the upload waits (the wallet is locked), when it does. */
  waiting?: string
  /** The highest ask price (attoFIL per GiB per epoch) the user accepted. */
  maxPrice?: string
  proposals?: CopyRecord[]
  /** Each copy's stage (bytes sent while packing, under a random transfer ID, hex): its proposal names it. */
  stages?: Array<{ provider: string, transfer: string }>
  /** With stages: the CAR's first bytes as finally written (hex), which the provider writes over its staged placeholder. */
  head?: string
  /** Bytes each staged provider (by address) acknowledged holding from its stage, as the acks came. */
  staged?: Record<string, number>
  duplicateOf?: string
  error?: WireError
}

export interface Verdict { key: string, dealId: number, period: number, ok: boolean, checkedAtMs: number, error?: string, checkMs: number }

interface DealsSchema extends DBSchema {
  uploads: { key: string, value: UploadRecord }
  verdicts: { key: string, value: Verdict }
  /** Since version 2: spot audits (audit-service.ts), by key `${dealId}/${startedAtMs}`, indexed by deal. */
  audits: { key: string, value: AuditRecord, indexes: { dealId: number } }
  /** Since version 2: the tab's storage settings (the audit schedule), by name. */
  settings: { key: string, value: { name: string, value: unknown } }
}

export interface DealStore {
  uploads: () => Promise<UploadRecord[]>
  putUpload: (u: UploadRecord) => Promise<void>
  verdicts: () => Promise<Verdict[]>
  putVerdict: (v: Verdict) => Promise<void>
  audits: () => Promise<AuditRecord[]>
  putAudit: (a: AuditRecord) => Promise<void>
  setting: (name: string) => Promise<unknown>
  putSetting: (name: string, value: unknown) => Promise<void>
  close: () => void
}

export const DEALS_DB_VERSION = 2
export const dealsDbName = (genesisCid: string): string => `coffer-deals-${genesisCid}`

export async function openDealStore (genesisCid: string): Promise<DealStore> {
  // version 2 adds the audit stores beside version 1's, which the upgrade leaves as they are (a tab that stored
  // deals before audits existed keeps every upload and verdict); one versionchange transaction does it all or nothing
  const db: IDBPDatabase<DealsSchema> = await openDB<DealsSchema>(dealsDbName(genesisCid), DEALS_DB_VERSION, {
    upgrade (db, oldVersion) {
      if (oldVersion < 1) {
        db.createObjectStore('uploads', { keyPath: 'id' })
        db.createObjectStore('verdicts', { keyPath: 'key' })
      }
      if (oldVersion < 2) {
        db.createObjectStore('audits', { keyPath: 'key' }).createIndex('dealId', 'dealId')
        db.createObjectStore('settings', { keyPath: 'name' })
      }
    }
  })
  return {
    uploads: async () => await db.getAll('uploads'),
    putUpload: async (u) => { await db.put('uploads', u) },
    verdicts: async () => await db.getAll('verdicts'),
    putVerdict: async (v) => { await db.put('verdicts', v) },
    audits: async () => await db.getAll('audits'),
    putAudit: async (a) => { await db.put('audits', a) },
    setting: async (name) => (await db.get('settings', name))?.value,
    putSetting: async (name, value) => { await db.put('settings', { name, value }) },
    close: () => { db.close() }
  }
}
