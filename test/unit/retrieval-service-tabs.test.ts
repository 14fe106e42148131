// The tab's download service when two tabs share one IndexedDB database: a tab's copy of a download, read when it
// opened, must never be written back over what another tab recorded since (it would set the verified offset back
// while the lanes' paid totals stay current: every byte in between fetched and paid for again).
import { describe, it, expect, afterEach, vi } from 'vitest'
import { createRetrievalService, DownloadInOtherTabError, type RetrievalService, type RetrievalServiceInit } from '../../src/light/retrieval-service'
import { openRetrievalStore, type DownloadRecord, type RetrievalStore } from '../../src/light/retrieval-store'
import { newDownloadState } from '../../src/light/retrieval-session'
import { until } from '../helpers/until'

const ROOT = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
const MiB = 2 ** 20

/** Web Locks as the browser grants them across tabs: one holder per name, a FIFO queue, `ifAvailable` answered with null. */
function fakeLocks (): { request: (name: string, opts: { ifAvailable?: boolean }, cb: (lock: unknown) => Promise<void>) => Promise<void> } {
  const held = new Set<string>()
  const queues = new Map<string, Array<() => void>>()
  return {
    request: async (name, opts, cb) => {
      if (held.has(name)) {
        if (opts.ifAvailable === true) { await cb(null); return }
        await new Promise<void>(resolve => { queues.set(name, [...(queues.get(name) ?? []), resolve]) })
      }
      held.add(name)
      try { await cb({ name }) } finally {
        const next = queues.get(name)?.shift()
        if (next !== undefined) next() // handed to the next in line, never free in between
        else held.delete(name)
      }
    }
  }
}

let dbs = 0
const stores: RetrievalStore[] = []
afterEach(() => { for (const s of stores.splice(0)) s.close(); vi.unstubAllGlobals() })

/** A tab's service over the shared database; no full node answers (every run waits for one), no wallet key. */
async function tab (genesis: string): Promise<RetrievalService> {
  const noNode = Object.assign(new Error('no full node connected'), { name: 'NoPeerError' })
  const init = {
    client: {
      genesis: { header: { cid: { toString: () => genesis } } },
      state: { deal: async () => { throw noNode } },
      sync: { head: { header: { height: 100 } } },
      onVerified: () => () => {},
      libp2p: {}
    },
    wallet: {},
    keystore: { list: async () => [], isUnlocked: () => false },
    bootstrap: { providers: [] },
    files: { remove: async () => {} },
    onChange: () => {}
  } as unknown as RetrievalServiceInit
  return await createRetrievalService(init)
}

async function setup (rec: Partial<DownloadRecord>): Promise<{ genesis: string, store: RetrievalStore, id: string }> {
  const genesis = `tabs-test-${dbs++}`
  const store = await openRetrievalStore(genesis)
  stores.push(store)
  const id = 'dl-1'
  await store.putDownload({
    id, root: ROOT, name: 'f.bin', size: 16 * MiB, dealIds: [1], sink: 'opfs', opfsName: `${id}.bin`,
    state: newDownloadState(ROOT), stage: 'paused', createdAtMs: 1, updatedAtMs: 1, ...rec
  })
  return { genesis, store, id }
}

/** The record as another tab moved it on: further along, its lane paid up to there. */
const movedOn = (d: DownloadRecord, offset: number, stage: DownloadRecord['stage']): DownloadRecord => ({
  ...d,
  stage,
  state: { ...d.state, verifiedOffset: offset, fileSize: 16 * MiB, providers: { t01001: { channel: 't2abc', lane: 0, paid: String(offset), verifiedBlockBytes: offset, failure: null } } }
})

const record = async (store: RetrievalStore, id: string): Promise<DownloadRecord> => (await store.downloads()).find(d => d.id === id)!

describe('retrieval service across tabs', () => {
  it('pause and resume in a tab with a stale copy keep the other tab\'s verified offset', async () => {
    const { genesis, store, id } = await setup({})
    const a = await tab(genesis)
    const b = await tab(genesis) // both read the record at offset 0
    expect(a.view().downloads[0]!.verifiedBytes).toBe(0)
    // tab A resumed it, got 3 MiB in, and was closed mid-download (as its last save left it)
    await store.putDownload(movedOn(await record(store, id), 3 * MiB, 'fetching'))
    // B still shows its copy (paused at 0); its pause must not write that copy back
    await b.pause(id)
    let d = await record(store, id)
    expect(d.stage).toBe('paused')
    expect(d.state.verifiedOffset).toBe(3 * MiB)
    expect(d.state.providers.t01001!.paid).toBe(String(3 * MiB))
    // and its resume starts from A's offset: it waits for a full node there, the record untouched
    await b.resume(id)
    d = await until(async () => { const r = await record(store, id); return r.waiting !== undefined && r })
    expect(d.stage).toBe('quoting')
    expect(d.state.verifiedOffset).toBe(3 * MiB)
    expect(b.view().downloads[0]!.verifiedBytes).toBe(3 * MiB)
  })

  it('the reviewer\'s case: B opens while A downloads, A is closed, B\'s Pause and Resume go on from A\'s offset', async () => {
    const locks = fakeLocks()
    vi.stubGlobal('navigator', { locks })
    const { genesis, store, id } = await setup({ stage: 'fetching' })
    let closeA!: () => void
    await new Promise<void>(resolve => { void locks.request(`coffer-download-${id}`, {}, async () => { resolve(); await new Promise<void>(r => { closeA = r }) }) })
    const b = await tab(genesis) // its copy: 'fetching' at 0
    await store.putDownload(movedOn(await record(store, id), 3 * MiB, 'fetching'))
    closeA()
    // B takes the lock over (it waits for a full node here); whatever it shows, Pause then Resume keep A's offset
    await until(async () => { const r = await record(store, id); return r.waiting !== undefined && !/another tab/.test(r.waiting) && r })
    await b.pause(id)
    expect((await record(store, id)).state.verifiedOffset).toBe(3 * MiB)
    await b.resume(id)
    const d = await until(async () => { const r = await record(store, id); return r.stage === 'quoting' && r.waiting !== undefined && r })
    expect(d.state.verifiedOffset).toBe(3 * MiB)
    expect(d.state.providers.t01001!.paid).toBe(String(3 * MiB))
  })

  it('a tab opened while another runs the download queues for it and takes over from that tab\'s record', async () => {
    const locks = fakeLocks()
    vi.stubGlobal('navigator', { locks })
    const { genesis, store, id } = await setup({ stage: 'fetching' })
    // tab A runs the download: it holds the download's lock
    let closeA!: () => void
    const aHolds = new Promise<void>(resolve => { void locks.request(`coffer-download-${id}`, {}, async () => { resolve(); await new Promise<void>(r => { closeA = r }) }) })
    await aHolds
    const b = await tab(genesis)
    const waiting = await until(() => b.view().downloads[0]?.waiting)
    expect(waiting).toMatch(/running in another tab/)
    await expect(b.pause(id)).rejects.toBeInstanceOf(DownloadInOtherTabError)
    await expect(b.cancel(id)).rejects.toBeInstanceOf(DownloadInOtherTabError)
    expect((await record(store, id)).stage).toBe('fetching') // B wrote nothing
    // A gets to 5 MiB and is closed: B goes on from there
    await store.putDownload(movedOn(await record(store, id), 5 * MiB, 'fetching'))
    closeA()
    const d = await until(async () => { const r = await record(store, id); return r.waiting !== undefined && !/another tab/.test(r.waiting) && r })
    expect(d.waiting).toMatch(/no full node/)
    expect(d.state.verifiedOffset).toBe(5 * MiB)
    expect(b.view().downloads[0]!.verifiedBytes).toBe(5 * MiB)
  })

  it('a tab whose copy says paused pauses nothing while another tab runs it', async () => {
    const locks = fakeLocks()
    vi.stubGlobal('navigator', { locks })
    const { genesis, store, id } = await setup({ stage: 'paused' })
    const b = await tab(genesis)
    // A resumed it after B opened, and holds its lock
    await store.putDownload(movedOn(await record(store, id), 2 * MiB, 'fetching'))
    let closeA!: () => void
    await new Promise<void>(resolve => { void locks.request(`coffer-download-${id}`, {}, async () => { resolve(); await new Promise<void>(r => { closeA = r }) }) })
    await expect(b.pause(id)).rejects.toBeInstanceOf(DownloadInOtherTabError)
    expect((await record(store, id)).state.verifiedOffset).toBe(2 * MiB)
    closeA()
  })

  it('downloading a file again whose download failed resumes that one (its verified bytes are not paid twice)', async () => {
    const { genesis, store, id } = await setup({ stage: 'failed', error: { name: 'AllProvidersFailedError', message: 'x' } as DownloadRecord['error'] })
    await store.putDownload(movedOn(await record(store, id), 4 * MiB, 'failed'))
    const b = await tab(genesis)
    const again = await b.download({ root: ROOT, name: 'f.bin', size: 16 * MiB, dealIds: [1], maxPrice: '123' })
    expect(again).toBe(id)
    expect(await store.downloads()).toHaveLength(1)
    const d = await until(async () => { const r = await record(store, id); return r.waiting !== undefined && r })
    expect(d.state.verifiedOffset).toBe(4 * MiB)
    expect(d.quoted).toEqual({ price: '123' })
  })
})
