// The Chain view scrolled back below a jump (issue 14, part 3): older tipsets come from the store where the tab holds
// them and are fetched by hash link below the floor where it does not, kept once fetched, refused from a node whose
// run does not link (the next node asked), and the page stops at genesis.
import { describe, it, expect } from 'vitest'
import { createGenesis, produceHeader, idAddressBytes, blsPublicKey, makeTipSet, ExchangeStatus, type Genesis, type SealedHeader, type CID, type ExchangeResponse } from '../../src/core'
import { openHeaderStore } from '../../src/light'
import { olderTipSets, backfillBelowFloor } from '../../src/light/chain-page'
import { TEST_BEACON, testBeaconEntries } from '../helpers/test-beacon'

const key = new Uint8Array(32).fill(5)
const genesis: Genesis = createGenesis({ beacon: TEST_BEACON, network: 'chain-page-test', producer: idAddressBytes(1000), producerKey: blsPublicKey(key), blockDelaySecs: 1 }, 1_800_000_000)
const chain: SealedHeader[] = [genesis.header] // chain[h] is height h
for (let i = 0; i < 30; i++) chain.push(produceHeader(chain[i]!, genesis, key, chain[i]!.header.timestamp + 1, testBeaconEntries(chain[i]!, genesis)))
const fork = produceHeader(chain[9]!, genesis, key, chain[9]!.header.timestamp + 2, testBeaconEntries(chain[9]!, genesis))

/** Serves `chain` down from the CID asked for; the liar swaps in another block at height 10. */
const serve = (lie: boolean) => async (want: CID[], length: number): Promise<ExchangeResponse> => {
  const at = chain.findIndex(h => h.cid.equals(want[0]!))
  const out: SealedHeader[][] = []
  for (let i = at; i >= 0 && out.length < length; i--) out.push([lie && i === 10 ? fork : chain[i]!])
  return { status: ExchangeStatus.Ok, errorMessage: '', chain: out }
}

describe('older tipsets below a jump', () => {
  it('reads held tipsets from the store, fetches and keeps those below the floor by hash link, and stops at genesis', async () => {
    const store = await openHeaderStore(genesis.header.cid.toString())
    await store.append([genesis.header])
    await store.jump(chain.slice(15).map(h => makeTipSet([h]))) // a tab that jumped: heights 15..30 held
    const refused: string[] = []
    let asked = 0
    const link = {
      peers: () => ['liar', 'honest'],
      fetchChain: async (peer: string, want: CID[], length: number) => { asked++; return await serve(peer === 'liar')(want, length) },
      onRejection: (peer: string, err: Error) => { refused.push(`${peer}:${err.name}`) },
      onNetworkError: () => {}
    }
    const backfill = async (h: number): Promise<number> => await backfillBelowFloor(store, link, h)

    const held = await olderTipSets(store, backfill, 19, 3)
    expect([held.blocks.map(b => b.header.height), held.fetched, asked]).toEqual([[18, 17, 16], 0, 0])

    const page = await olderTipSets(store, backfill, 17, 5)
    expect(page.blocks.map(b => b.header.height)).toEqual([16, 15, 14, 13, 12])
    expect(page.blocks.every(b => b.cid.equals(chain[b.header.height]!.cid))).toBe(true)
    expect(page.fetched).toBe(3)
    expect(await store.floor()).toBe(12)
    expect(refused).toEqual([]) // the liar's block at 10 was not in this run

    const rest = await olderTipSets(store, backfill, 12, 100)
    expect(rest.blocks.map(b => b.header.height)).toEqual([11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0])
    expect(rest.blocks.every(b => b.cid.equals(chain[b.header.height]!.cid))).toBe(true)
    expect(rest.reachedGenesis).toBe(true)
    expect(refused).toEqual(['liar:UnlinkedRunError'])
    expect(await store.floor()).toBe(0)
    // kept: asked again, nothing is fetched
    asked = 0
    expect((await olderTipSets(store, backfill, 12, 4)).fetched).toBe(0)
    expect(asked).toBe(0)
    store.close()
  })

  it('says so when no node serves a linked run, keeping what it had', async () => {
    const store = await openHeaderStore(`${genesis.header.cid.toString()}-2`)
    await store.append([genesis.header])
    await store.jump(chain.slice(15).map(h => makeTipSet([h])))
    const link = { peers: () => ['liar'], fetchChain: async (_p: string, want: CID[], length: number) => await serve(true)(want, length), onRejection: () => {}, onNetworkError: () => {} }
    await expect(olderTipSets(store, async h => await backfillBelowFloor(store, link, h), 15, 10)).rejects.toThrow(/do not link/)
    expect(await store.floor()).toBe(15)
    store.close()
  })
})
