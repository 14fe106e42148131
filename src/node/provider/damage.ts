// `coffer provider corrupt|delete`: damages a stored deal's bytes on disk, so anyone can watch the
// chain catch it: the provider can no longer prove the deal, the period faults, and the provider pays.
import { open, rm, readdir } from 'node:fs/promises'
import path from 'node:path'
import { ProviderStore, type StoredDeal } from './provider-store'

export class DealNotStoredError extends Error {
  static override name = 'DealNotStoredError'
  override name = 'DealNotStoredError'
}

/** Finds a deal (by deal ID or piece CID) in any provider folder under `dataDir`/providers. */
export async function findStoredDeal (dataDir: string, which: string, provider?: string): Promise<{ store: ProviderStore, deal: StoredDeal }> {
  const root = path.join(dataDir, 'providers')
  let names: string[]
  try { names = await readdir(root) } catch { throw new DealNotStoredError(`no providers under ${dataDir}`) }
  for (const name of names.sort()) {
    if (provider !== undefined && provider.replace(/^[ft]0/, '') !== name) continue
    const store = await ProviderStore.open(path.join(root, name))
    const deal = store.all().find(d => String(d.dealId) === which || d.pieceCid === which)
    if (deal !== undefined) return { store, deal }
  }
  throw new DealNotStoredError(`no provider${provider === undefined ? '' : ` ${provider}`} under ${dataDir} stores deal or piece ${which}`)
}

/** Flips every bit of one byte in the middle of the deal's payload; returns the byte's offset. */
export async function corruptDeal (store: ProviderStore, deal: StoredDeal): Promise<number> {
  const file = await open(store.absolute(deal.file), 'r+')
  try {
    const offset = Math.floor(deal.payloadBytes / 2)
    const byte = new Uint8Array(1)
    await file.read(byte, 0, 1, offset)
    byte[0] = byte[0]! ^ 0xff
    await file.write(byte, 0, 1, offset)
    return offset
  } finally { await file.close() }
}

export async function deleteDeal (store: ProviderStore, deal: StoredDeal): Promise<void> {
  await rm(store.absolute(deal.file))
}
