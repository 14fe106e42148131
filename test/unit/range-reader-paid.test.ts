// The range reader's paid reads when a media element asks for several ranges at once: one session's priced fetches go
// one at a time (they share one lane per provider, whose vouchers are cumulative), the allowance holds however many
// reads race, and each read reports what it paid itself; an allowance of the quoted price reads the whole file once,
// whichever copy serves; a read is assembled even when the cache is smaller than it. retrieveFile is replaced by a fake
// that pays per block byte (the range's and, when set, a root node's sent again on every fetch).
import { describe, it, expect, vi, beforeEach } from 'vitest'
import type { Libp2p } from '@libp2p/interface'
import type { RetrieveFileOptions } from '../../src/light/retrieval-session'
import { createRangeReader, nodesAbove, CHUNK_BYTES, type RangeReader, type RangeFile } from '../../src/light/range-reader'
import { priceOfBytes } from '../../src/net'
import type { Found } from '../../src/light/retrieval-providers'

const FILE_SIZE = 8 * CHUNK_BYTES
const PRICE = 2n ** 30n // 1 attoFIL per byte
const INTERVAL = 1024

const fake = vi.hoisted(() => ({ active: 0, maxActive: 0, gates: [] as Array<() => void>, size: 0, nodeBytes: 0, auto: false, serveLast: false }))

vi.mock('../../src/light/retrieval-session', async (importOriginal) => {
  const real = { ...await importOriginal<typeof import('../../src/light/retrieval-session')>(), ...await import('../../src/net/retrieval-protocol') }
  return {
    ...real,
    // pays the range's bytes (and nodeBytes of DAG above them) at the serving copy's price on its lane 0, cumulative as
    // a real lane is, once released by the test (or at once when `auto`); the first copy serves, or the last (the
    // dearest: the cheap ones failed) when `serveLast`
    retrieveFile: async (o: RetrieveFileOptions) => {
      fake.active++
      fake.maxActive = Math.max(fake.maxActive, fake.active)
      try {
        if (!fake.auto) await new Promise<void>(resolve => { fake.gates.push(resolve) })
        const { from, to } = o.range!
        const by = fake.serveLast ? o.providers.at(-1)! : o.providers[0]!
        const blockBytes = to - from + fake.nodeBytes
        const p = o.state.providers[by.address]
        const paid = BigInt(p?.paid ?? '0') + real.priceOfBytes(blockBytes, by.terms.pricePerGiB)
        o.state.providers[by.address] = { channel: `t2${by.address}`, lane: 0, paid: String(paid), verifiedBlockBytes: blockBytes, failure: null }
        for (let at = from; at < to; at += CHUNK_BYTES) await o.sink.write(at, new Uint8Array(Math.min(to, at + CHUNK_BYTES) - at).fill(at / CHUNK_BYTES))
        o.state.fileSize = fake.size
        return { bytes: to - from, fileSize: fake.size, provider: by.address, lanes: {} }
      } finally { fake.active-- }
    }
  }
})

/** Copies at these prices, cheapest first as findRetrievalProviders lists them. */
const foundAt = (...prices: bigint[]): Found => ({
  candidates: prices.map((pricePerGiB, i) => ({ provider: { address: `p${i + 1}`, peerId: 'x', addrs: [], terms: { pricePerGiB, paymentInterval: INTERVAL, paymentIntervalIncrease: 0 }, worker: new Uint8Array(21) } })) as unknown as Found['candidates'],
  refused: []
})

const reader = (found = foundAt(PRICE), cacheBytes?: number): RangeReader => createRangeReader({
  libp2p: {} as unknown as Libp2p,
  find: async () => found,
  payer: async () => ({}) as never,
  ...(cacheBytes === undefined ? {} : { cacheBytes })
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

beforeEach(() => { Object.assign(fake, { active: 0, maxActive: 0, gates: [], size: FILE_SIZE, nodeBytes: 0, auto: false, serveLast: false }) })

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
    // room for one chunk's read (its bytes plus the most DAG nodes above it), not two
    const maxPaid = priceOfBytes(CHUNK_BYTES + nodesAbove({ size: FILE_SIZE }, 1), PRICE) + 10n
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

describe('range reader, the quoted allowance', () => {
  // 13 leaves (the last one short), a root of 700 bytes sent again with every fetch, 40 bytes of CAR framing a block
  const size = 12 * CHUNK_BYTES + 1000
  const ROOT = 700
  const file: RangeFile = { root: 'bafkqaaa', size, dealIds: [1], carBytes: size + ROOT + 14 * 40 + 60 }

  /** Opens without an allowance, then with the price it quoted; reads [0, 64 KiB) and then 1 MiB after 1 MiB to the end, as a media element does. */
  async function playThrough (r: RangeReader): Promise<{ maxPaid: bigint, paid: bigint, reads: number }> {
    fake.size = size
    const ask = await r.open(file)
    if (ask.session !== null) throw new Error('opened without an allowance')
    const maxPaid = BigInt(ask.needsPayment.maxPrice)
    const o = await r.open(file, { maxPaid })
    if (o.session === null) throw new Error('no session')
    let last = await r.read(o.session, 0, 64 * 1024)
    let reads = 1
    for (let at = 0; at < size; at += 2 ** 20) {
      last = await r.read(o.session, at, Math.min(size, at + 2 ** 20))
      expect(last.bytes[0]).toBe(Math.floor(at / CHUNK_BYTES))
      expect(last.bytes.at(-1)).toBe(Math.floor((Math.min(size, at + 2 ** 20) - 1) / CHUNK_BYTES))
      reads++
    }
    return { maxPaid, paid: BigInt(last.sessionPaid), reads }
  }

  it('reads the whole file once within the quote when the one copy re-sends the root with every fetch', async () => {
    fake.auto = true
    fake.nodeBytes = ROOT
    const { maxPaid, paid, reads } = await playThrough(reader())
    expect(reads).toBe(5)
    // 13 leaves, each paid once, and the root once per fetch (5: the head, then the rest of each MiB): within the quote, and the quote stays near the cost
    expect(paid).toBe(BigInt(size + 5 * ROOT))
    expect(paid).toBeLessThanOrEqual(maxPaid)
    expect(maxPaid).toBeLessThan(BigInt(size) * 101n / 100n)
  })

  it('reads the whole file once within the quote when the dearest copy serves every read', async () => {
    fake.auto = true
    fake.nodeBytes = ROOT
    fake.serveLast = true
    const { maxPaid, paid } = await playThrough(reader(foundAt(PRICE, 3n * PRICE)))
    expect(paid).toBe(3n * BigInt(size + 5 * ROOT))
    expect(paid).toBeLessThanOrEqual(maxPaid)
  })

  it('still refuses a read the quote did not cover: the file read twice over, its chunks dropped from a small cache', async () => {
    fake.auto = true
    fake.nodeBytes = ROOT
    const r = reader(foundAt(PRICE), 4 * CHUNK_BYTES)
    const { maxPaid } = await playThrough(r)
    const o = await r.open(file, { maxPaid })
    if (o.session === null) throw new Error('no session')
    const again = async (): Promise<string> => {
      for (let at = 0; at < size; at += 2 ** 20) await r.read(o.session!, at, Math.min(size, at + 2 ** 20))
      return 'read'
    }
    // a new session has its own allowance: one pass fits, a second does not
    expect(await again()).toBe('read')
    expect(await again().catch((e: Error) => e.name)).toBe('PreviewBudgetError')
  })

  it('assembles a read longer than the whole cache: the read holds its own chunks until it is done', async () => {
    fake.auto = true
    const r = reader(foundAt(PRICE), CHUNK_BYTES)
    const o = await r.open({ root: 'bafkqaaa', size: FILE_SIZE, dealIds: [1] }, { maxPaid: 10n ** 18n })
    if (o.session === null) throw new Error('no session')
    const got = await r.read(o.session, 10, 3 * CHUNK_BYTES + 10)
    expect(got.chunks).toBe(4)
    expect([got.bytes[0], got.bytes[CHUNK_BYTES], got.bytes[2 * CHUNK_BYTES], got.bytes.at(-1)]).toEqual([0, 1, 2, 3])
    expect(r.cachedBytes()).toBeLessThanOrEqual(CHUNK_BYTES)
  })
})
