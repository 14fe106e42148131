// Keeps the last bootstrap document fetched online, so a tab opened offline still knows its chain.
import { openDB } from 'idb'
import type { BootstrapDocument } from '../net'

const DB = 'coffer'
const STORE = 'settings'

async function settings () {
  return await openDB(DB, 1, { upgrade (db) { db.createObjectStore(STORE) } })
}

export async function saveBootstrap (doc: BootstrapDocument): Promise<void> {
  const db = await settings()
  try { await db.put(STORE, doc, 'bootstrap') } finally { db.close() }
}

export async function loadSavedBootstrap (): Promise<BootstrapDocument | undefined> {
  const db = await settings()
  try { return await db.get(STORE, 'bootstrap') as BootstrapDocument | undefined } finally { db.close() }
}
