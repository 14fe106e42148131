// The tab's quote for a download reports each check as it starts and ends (the page shows a quote at work on a
// slow machine, and where a stuck one waits), reads a link's deals side by side (one slow full node answer does
// not hold the others back), and lists refusals in deal order whichever read came back first.
import { describe, it, expect, afterEach } from 'vitest'
import { createRetrievalService, type QuoteProgress, type RetrievalServiceInit } from '../../src/light/retrieval-service'
import { openRetrievalStore, type RetrievalStore } from '../../src/light/retrieval-store'
import { CID } from '../../src/core'

const ROOT = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
const OTHER = 'bafkreidzqnyx5u3hnhkvzd6fhjm3wxyqz3mm4vnn5wsk6zrawqvjrqe6se'
const PIECE = CID.parse('baga6ea4seaqao7s73y24kcutaosvacpdjgfe5pw76ooefnyqw4ynr3d2y6x2mpq')

let dbs = 0
const stores: RetrievalStore[] = []
afterEach(() => { for (const s of stores.splice(0)) s.close() })

/** A deal record as a verified read gives it: provider f0100N, labelled `label`, live from epoch 10. */
const deal = (dealId: number, provider: number, label: string, slashEpoch = -1): unknown => ({
  dealId,
  proposal: {
    pieceCid: PIECE, pieceSize: 2048, verifiedDeal: false, client: Uint8Array.of(0, 100), provider: Uint8Array.of(0, provider), label,
    startEpoch: 10, endEpoch: 1000, storagePricePerEpoch: 0n, providerCollateral: 0n, clientCollateral: 0n
  },
  state: { sectorStartEpoch: 10, lastUpdatedEpoch: 10, slashEpoch, proofs: PIECE, consecutiveFaults: 0 },
  periods: []
})

/** A tab's service whose full node answers deal reads with `answer` (a bootstrap list that names no provider: no ask is made). */
async function service (answer: (dealId: number) => Promise<unknown>): Promise<Awaited<ReturnType<typeof createRetrievalService>>> {
  const genesis = `quote-test-${dbs++}`
  stores.push(await openRetrievalStore(genesis))
  const init = {
    client: {
      genesis: { header: { cid: { toString: () => genesis } } },
      state: { deal: async (id: number) => ({ value: await answer(id) }) },
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

describe('download quote', () => {
  it('reports each deal read as it starts and ends, with its time', async () => {
    const s = await service(async (id) => id === 1 ? deal(1, 1, ROOT) : id === 2 ? deal(2, 2, OTHER) : null)
    const seen: QuoteProgress[] = []
    const q = await s.quote({ root: ROOT, size: 100, dealIds: [1, 2, 3] }, undefined, p => seen.push(p))
    for (const id of [1, 2, 3]) {
      const of = seen.filter(p => p.dealId === id)
      expect(of.map(p => p.state)).toEqual(['running', id === 1 ? 'done' : 'refused'])
      expect(of.every(p => p.key === `deal ${id}` && p.kind === 'deal')).toBe(true)
      expect(of[1]!.tookMs).toBeGreaterThanOrEqual(0)
      expect(of[1]!.atMs).toBeGreaterThanOrEqual(of[0]!.atMs)
    }
    // deal 1 checks out, but this network's bootstrap list cannot reach its provider: refused, with deals 2 and 3
    expect(q.providers).toEqual([])
    expect(q.refused.map(r => r.dealId)).toEqual([1, 2, 3])
  })

  it('reads the deals side by side: a slow answer does not hold the others back, and refusals stay in deal order', async () => {
    let release = (): void => {}
    const slow = new Promise<void>(resolve => { release = resolve })
    const s = await service(async (id) => {
      if (id === 1) await slow // deal 1's full node answer is slow
      return deal(id, id, OTHER)
    })
    const seen: QuoteProgress[] = []
    const q = s.quote({ root: ROOT, size: 100, dealIds: [1, 2, 3] }, undefined, p => seen.push(p))
    // deals 2 and 3 end while deal 1 is still being read (one after another, nothing would be reported past deal 1)
    await expect.poll(() => seen.filter(p => p.state !== 'running').map(p => p.dealId).sort()).toEqual([2, 3])
    expect(seen.find(p => p.dealId === 1)?.state).toBe('running')
    release()
    const done = await q
    expect(done.refused.map(r => r.dealId)).toEqual([1, 2, 3])
    expect(seen.filter(p => p.dealId === 1).map(p => p.state)).toEqual(['running', 'refused'])
  })

  it('a deal slashed on chain is refused, named', async () => {
    const s = await service(async (id) => deal(id, 1, ROOT, 50))
    const q = await s.quote({ root: ROOT, size: 100, dealIds: [7] })
    expect(q.refused).toEqual([{ dealId: 7, provider: 't01', reason: 'the deal is slashed' }])
  })
})
