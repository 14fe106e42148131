// The node's saved status for the page's next load (issue 14: a reload shows its verified head in ≤ 0.5 s): written on
// a new head or certificate only, read back as a start that has checked nothing yet, and not read by a page of another
// build; a storage that fails loses only the snapshot. (localStorage's interface, over a Map: Node has none.)
import { describe, it, expect, beforeEach } from 'vitest'
import { readStatusSnapshot as readSnapshot, statusSnapshotWriter as makeWriter, startingStatusOf } from '../../src/app/status-snapshot'
import type { LightClientStatus } from '../../src/light/status'
import type { FinalityStatus } from '../../src/light/finality-service'

const finality: FinalityStatus = {
  instance: 4, finalizedEpoch: 400, finalizedCid: 'bafyfinal', headBeyond: 12, behind: true, knownInstances: 9, verified: 5, verifyMs: 20, verifier: 'mcl-wasm',
  verifyThreads: 2, jumpedFromEpoch: 0, lowestHeight: 300, certificateBytes: 1000, headerBytes: 2000
}
const status = (height: number, extra: Partial<LightClientStatus> = {}): LightClientStatus => ({
  peerId: '12D3KooWpeer', network: 'coffer-test', provingPeriod: 20, genesisCid: 'bafygenesis', bootstrapSource: 'network', syncState: 'synced',
  lastNewHeadAtMs: 1, stallWindowMs: 5000, headProbes: 3, peers: [{ id: 'p', addr: '/ip4/127.0.0.1' }], verifiedHeight: height, headCid: `bafyhead${height}`,
  headTimestamp: 1_800_000_000 + height, bestKnownHeight: height + 1, backlog: { total: 1, fetched: 1, verified: 0 }, lastRejection: null, lastNetworkError: 'x',
  recent: [], nodes: [], stats: { headersVerified: 50, verifyMs: 9, firstVerifiedAtMs: 2, startedAtMs: 1, startup: [{ phase: 'running', atMs: 5 }], startupOriginMs: 1000 },
  consensus: 'expected', headBlocks: 2, reorgs: { count: 1, deepest: 1, last: null }, finality, ...extra
})

/** localStorage's interface over a Map; `full` makes every write throw as a full quota does. */
class MapStorage implements Storage {
  items = new Map<string, string>()
  full = false
  get length (): number { return this.items.size }
  clear (): void { this.items.clear() }
  getItem (k: string): string | null { return this.items.get(k) ?? null }
  key (i: number): string | null { return [...this.items.keys()][i] ?? null }
  removeItem (k: string): void { this.items.delete(k) }
  setItem (k: string, v: string): void {
    if (this.full) throw new DOMException('the quota is full', 'QuotaExceededError')
    this.items.set(k, v)
  }
}

describe('status snapshot', () => {
  let storage: MapStorage
  beforeEach(() => { storage = new MapStorage() })
  const readStatusSnapshot = (nowMs: number): LightClientStatus | null => readSnapshot(nowMs, storage)
  const statusSnapshotWriter = (): ReturnType<typeof makeWriter> => makeWriter(storage)

  it('reads back the last head written, as a start: syncing, no peers, this session\'s counts at zero, the head and finality kept', () => {
    expect(readStatusSnapshot(50)).toBe(null)
    const w = statusSnapshotWriter()
    w.save(status(10))
    w.save(status(11))
    const got = readStatusSnapshot(50)
    expect(got).toEqual(startingStatusOf(status(11), 50))
    expect(got).toMatchObject({ verifiedHeight: 11, headCid: 'bafyhead11', bestKnownHeight: 11, syncState: 'syncing', peerId: '', peers: [], backlog: null, lastNetworkError: null, headProbes: 0 })
    expect(got?.finality).toMatchObject({ instance: 4, finalizedEpoch: 400, finalizedCid: 'bafyfinal', headBeyond: 12, lowestHeight: 300, behind: false, verified: 0, certificateBytes: 0 })
    expect(got?.stats).toMatchObject({ headersVerified: 0, startup: [], startedAtMs: 50 })
  })

  it('writes only when the head or the certificate changes', () => {
    const w = statusSnapshotWriter()
    w.save(status(10))
    w.save(status(10, { network: 'changed', peers: [] })) // the same head, recent list and finality: not written
    expect((readStatusSnapshot(0))?.network).toBe('coffer-test')
    w.save(status(10, { finality: { ...finality, lowestHeight: 100 } })) // a backfill moved the lowest header: written
    expect((readStatusSnapshot(0))?.finality?.lowestHeight).toBe(100)
    w.save(status(10, { finality: { ...finality, instance: 5 }, stats: { ...status(10).stats, startupOriginMs: 2000 } }))
    for (let h = 12; h < 40; h++) w.save(status(h))
    expect((readStatusSnapshot(0))?.verifiedHeight).toBe(39)
  })

  it('is not read by another build (its status may have another shape) nor from bad JSON; a full or missing storage loses only the snapshot', () => {
    storage.setItem('coffer-status-snapshot', JSON.stringify({ build: 'another', status: status(10) }))
    expect(readStatusSnapshot(0)).toBe(null)
    storage.setItem('coffer-status-snapshot', '{"build":')
    expect(readStatusSnapshot(0)).toBe(null)
    const w = statusSnapshotWriter()
    w.save(status(10))
    expect(readStatusSnapshot(0)?.verifiedHeight).toBe(10)
    storage.full = true
    w.save(status(11)) // refused: the last one stays
    expect(readStatusSnapshot(0)?.verifiedHeight).toBe(10)
    storage.full = false
    w.save(status(11)) // and the same head is tried again
    expect(readStatusSnapshot(0)?.verifiedHeight).toBe(11)
    expect(readSnapshot(0, null)).toBe(null)
    makeWriter(null).save(status(12)) // nowhere to write: nothing thrown
  })
})
