// The tab's finality certificates in IndexedDB (issue 14): one database per genesis, `certs` by instance (go-f3's
// CBOR) and `meta` the state the last one left (next instance, finalized tipset, power table). A batch of
// certificates and the state after it are one transaction, so a reload starts from the last certificate it
// verified and never from a state that names a certificate it does not hold.
import { commitAll } from './idb-commit'
import { openDB, type IDBPDatabase, type DBSchema } from 'idb'
// modules by path, not core's barrel (as header-store.ts)
import { encodeCertificate, decodeCertificate, type FinalityCertificate } from '../core/finality/certificate'
import { encodeFinalityState, decodeFinalityState, type FinalityState } from '../core/finality/finality-state'

interface F3Schema extends DBSchema {
  certs: { key: number, value: Uint8Array }
  meta: { key: string, value: Uint8Array }
}

export const f3DbName = (genesisCid: string): string => `coffer-f3-${genesisCid}`

export interface F3CertStore {
  state: () => Promise<FinalityState | null>
  /** Stores `certs` (consecutive, verified) and the state after the last, atomically. */
  accept: (certs: readonly FinalityCertificate[], after: FinalityState) => Promise<void>
  certificate: (instance: number) => Promise<FinalityCertificate | null>
  close: () => void
}

export async function openF3CertStore (genesisCid: string): Promise<F3CertStore> {
  const db: IDBPDatabase<F3Schema> = await openDB<F3Schema>(f3DbName(genesisCid), 1, {
    upgrade (raw) {
      raw.createObjectStore('certs')
      raw.createObjectStore('meta')
    }
  })
  return {
    state: async () => {
      const b = await db.get('meta', 'state')
      return b === undefined ? null : decodeFinalityState(b)
    },
    accept: async (certs, after) => {
      const tx = db.transaction(['certs', 'meta'], 'readwrite')
      const writes: Array<Promise<unknown>> = certs.map(async c => await tx.objectStore('certs').put(encodeCertificate(c), c.instance))
      writes.push(tx.objectStore('meta').put(encodeFinalityState(after), 'state'))
      await commitAll(tx, writes)
    },
    certificate: async (instance) => {
      const b = await db.get('certs', instance)
      return b === undefined ? null : decodeCertificate(b)
    },
    close: () => { db.close() }
  }
}
