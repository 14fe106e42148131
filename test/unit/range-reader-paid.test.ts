// The range reader's paid reads when a media element asks for several ranges at once: one session's priced fetches go
// one at a time (they share one lane per provider, whose vouchers are cumulative), the allowance holds however many
// reads race, and each read reports what it paid itself. retrieveFile is replaced by a fake that pays per byte.
import { describe, it, expect, vi, beforeEach } from 'vitest'
import type { Libp2p } from '@libp2p/interface'
import type { RetrieveFileOptions } from '../../src/light/retrieval-session'
import { createRangeReader, CHUNK_BYTES, type RangeReader } from '../../src/light/range-reader'
import { priceOfBytes } from '../../src/net'
import type { Found } from '../../src/light/retrieval-providers'

const FILE_SIZE = 8 * CHUNK_BYTES
const PRICE = 2n ** 30n // 1 attoFIL per byte
const INTERVAL = 1024

const fake = vi.hoisted(() => ({ active: 0, maxActive: 0, gates: [] as Array<() => void> }))

vi.mock('../../src/light/retrieval-session', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/light/retrieval-session')>()
  return {
    ...real,
    // pays the range's bytes on lane 0 of one channel, cumulative as a real lane is, once released by the test
    retrieveFile: async (o: RetrieveFileOptions) => {
      fake.active++
      fake.maxActive = Math.max(fake.maxActive, fake.active)
      try {
        await new Promise<void>(resolve => { fake.gates.push(resolve) })
        const { from, to } = o.range!
        const p = o.state.providers.p1
        o.state.providers.p1 = { channel: 't2x', lane: 0, paid: String(BigInt(p?.paid ?? '0') + BigInt(to - from)), verifiedBlockBytes: to - from, failure: null }
        await o.sink.write(from, new Uint8Array(to - from).fill(from / CHUNK_BYTES))
        o.state.fileSize = FILE_SIZE
        return { bytes: to - from, fileSize: FILE_SIZE, provider: 'p1', lanes: {} }
      } finally { fake.active-- }
    }
  }
})

const found: Found = {
  candidates: [{ provider: { address: 'p1', peerId: 'x', addrs: [], terms: { pricePerGiB: PRICE, paymentInterval: INTERVAL, paymentIntervalIncrease: 0 }, worker: new Uint8Array(21) } }] as unknown as Found['candidates'],
  refused: []
}

const reader = (): RangeReader => createRangeReader({
  libp2p: {} as unknown as Libp2p,
  find: async () => found,
  payer: async () => ({}) as never
})

/** Releases the fakes' retrievals as they come until `done` settles. */
async function pump (done: Promise<unknown>): Promise<void> {
  let settled = false
  void done.finally(() => { settled = true }).catch(() => {})
  while (!settled) {
    fake.gates.shift()?.()
    await new Promise(resolve => setTimeout(resolve, 0))
  }
}

beforeEach(() => { fake.active = 0; fake.maxActive = 0; fake.gates = [] })

describe('range reader, priced reads at once', () => {
  it('runs one priced fetch of a session at a time, and each read says what it paid', async () => {
    const r = reader()
    const o = await r.open({ root: 'bafkqaaa', size: FILE_SIZE, dealIds: [1] }, { maxPaid: 10n ** 18n })
    if (o.session === null) throw new Error('no session')
    const reads = Promise.all([r.read(o.session, 0, CHUNK_BYTES), r.read(o.session, 4 * CHUNK_BYTES, 6 * CHUNK_BYTES)])
    await pump(reads)
    const [a, b] = await reads
    expect(fake.maxActive).toBe(1)
    expect([a.paid, b.paid]).toEqual([String(CHUNK_BYTES), String(2 * CHUNK_BYTES)])
    expect(b.sessionPaid).toBe(String(3 * CHUNK_BYTES))
    expect(b.bytes[0]).toBe(4)
  })

  it('keeps racing reads within the allowance: the second is refused, not paid', async () => {
    const r = reader()
    // room for one chunk's read (its bytes plus one interval of nodes above), not two
    const maxPaid = priceOfBytes(CHUNK_BYTES + INTERVAL, PRICE) + 10n
    const o = await r.open({ root: 'bafkqaaa', size: FILE_SIZE, dealIds: [1] }, { maxPaid })
    if (o.session === null) throw new Error('no session')
    const reads = Promise.allSettled([r.read(o.session, 0, CHUNK_BYTES), r.read(o.session, 4 * CHUNK_BYTES, 5 * CHUNK_BYTES)])
    await pump(reads)
    const [a, b] = await reads
    expect(a.status).toBe('fulfilled')
    expect(b.status === 'rejected' ? (b.reason as Error).name : b.status).toBe('PreviewBudgetError')
    expect(fake.maxActive).toBe(1)
  })
})
