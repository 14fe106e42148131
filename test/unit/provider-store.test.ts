// ProviderStore's JSON files under concurrent changes: a provider finishing many deals at once (the load run saw
// "ENOENT: rename pending.json.tmp" refuse a deal) must record every one, and the files must read back whole.
import { describe, it, expect } from 'vitest'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { ProviderStore } from '../../src/node/provider/provider-store'

describe('ProviderStore under concurrent writes', () => {
  it('50 pending publications added at once and half removed at once: no error, and the folder reopens with exactly the rest', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'coffer-provider-store-'))
    try {
      const s = await ProviderStore.open(dir)
      const cids = Array.from({ length: 50 }, (_, i) => `bafy-proposal-${i}`)
      await Promise.all(cids.map(async (c) => { await s.addPending({ proposalCid: c } as unknown as Parameters<ProviderStore['addPending']>[0]) }))
      await Promise.all(cids.filter((_, i) => i % 2 === 0).map(async (c) => { await s.removePending(c) }))
      const kept = cids.filter((_, i) => i % 2 === 1)
      expect(s.pendingAll().map(p => p.proposalCid).sort()).toEqual([...kept].sort())
      const onDisk = JSON.parse(await readFile(path.join(dir, 'pending.json'), 'utf8')) as Array<{ proposalCid: string }>
      expect(onDisk.map(p => p.proposalCid).sort()).toEqual([...kept].sort())
      const reopened = await ProviderStore.open(dir)
      expect(reopened.pendingAll().map(p => p.proposalCid).sort()).toEqual([...kept].sort())
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
