// The tab's header store (fake-indexeddb here, the same idb code the browser runs): headers by CID on any fork, the
// heaviest chain's tipsets by height, the head as a TipSetKey moved atomically through a reorganisation, null rounds
// holding no tipset, and a v1 database (one header per height) carried over when it is opened.
import { describe, it, expect } from 'vitest'
import { openDB } from 'idb'
import { createGenesis, produceHeader, idAddressBytes, blsPublicKey, makeTipSet, sealHeader, type Genesis, type SealedHeader } from '../../src/core'
import { openHeaderStore, chainDbName } from '../../src/light'
import { TEST_BEACON, testBeaconEntries } from '../helpers/test-beacon'

const key = new Uint8Array(32).fill(9)
const T0 = 1_800_000_000
let n = 0
const newGenesis = (): Genesis => createGenesis({ beacon: TEST_BEACON, network: `store-test-${n++}`, producer: idAddressBytes(1000), producerKey: blsPublicKey(key), blockDelaySecs: 1 }, T0)

function chainOn (genesis: Genesis, parent: SealedHeader, length: number, skew = 1): SealedHeader[] {
  const out: SealedHeader[] = []
  for (let i = 0; i < length; i++) {
    parent = produceHeader(parent, genesis, key, parent.header.timestamp + skew, testBeaconEntries(parent, genesis))
    out.push(parent)
  }
  return out
}

describe('header store v2', () => {
  it('keeps a fork\'s headers by CID and moves the head and the height index through a reorganisation in one step', async () => {
    const genesis = newGenesis()
    const store = await openHeaderStore(genesis.header.cid.toString())
    const main = chainOn(genesis, genesis.header, 4)
    await store.append([genesis.header, ...main])
    expect((await store.head())!.cid.equals(main[3]!.cid)).toBe(true)
    // a fork from height 2 (timestamps differ, so other CIDs)
    const fork = chainOn(genesis, main[1]!, 3, 2)
    expect(fork[0]!.header.height).toBe(3)
    const forkTipSets = fork.map(h => makeTipSet([h]))
    await store.moveHead({
      to: forkTipSets[2]!,
      reverted: main.slice(2).reverse().map(h => makeTipSet([h])),
      applied: forkTipSets,
      blocks: fork
    })
    expect((await store.headTipSet())!.key.map(String)).toEqual([String(fork[2]!.cid)])
    for (let h = 3; h <= 5; h++) expect(String((await store.byHeight(h))!.cid)).toBe(String(fork[h - 3]!.cid))
    // the old chain's headers are still there by CID, though not on the heaviest chain
    expect(await store.has(String(main[3]!.cid))).toBe(true)
    expect(String((await store.get(String(main[2]!.cid)))!.cid)).toBe(String(main[2]!.cid))
    expect((await store.recent(3)).map(h => h.header.height)).toEqual([5, 4, 3])
    store.close()
  })

  it('a reorganisation onto a chain with a null round leaves no tipset at that height', async () => {
    const genesis = newGenesis()
    const store = await openHeaderStore(genesis.header.cid.toString())
    const main = chainOn(genesis, genesis.header, 3)
    await store.append([genesis.header, ...main])
    // height 2 and 3 replaced by a tipset at 3 alone (a null round at 2)
    const [next] = chainOn(genesis, main[0]!, 1, 2)
    const jump = sealHeader({ ...next!.header, height: 3 }) // the store checks nothing: it keeps what sync verified
    const ts = makeTipSet([jump])
    expect(ts.height).toBe(3)
    await store.moveHead({ to: ts, reverted: [main[2]!, main[1]!].map(h => makeTipSet([h])), applied: [ts], blocks: [jump] })
    expect(await store.tipSetAt(2)).toBeNull()
    expect(String((await store.tipSetAtOrAbove(2, 3))!.key[0])).toBe(String(jump.cid))
    expect(String((await store.byHeight(1))!.cid)).toBe(String(main[0]!.cid))
    store.close()
  })

  it('carries a v1 database over: every header, the height index and the head', async () => {
    const genesis = newGenesis()
    const headers = [genesis.header, ...chainOn(genesis, genesis.header, 5)]
    const v1 = await openDB(chainDbName(genesis.header.cid.toString()), 1, {
      upgrade (db) {
        const s = db.createObjectStore('headers', { keyPath: 'height' })
        s.createIndex('cid', 'cid', { unique: true })
        db.createObjectStore('meta')
      }
    })
    for (const h of headers) await v1.put('headers', { height: h.header.height, cid: String(h.cid), bytes: h.bytes })
    await v1.put('meta', { height: 5, cid: String(headers[5]!.cid) }, 'head')
    v1.close()

    const store = await openHeaderStore(genesis.header.cid.toString())
    expect(String((await store.head())!.cid)).toBe(String(headers[5]!.cid))
    for (const h of headers) {
      expect(String((await store.byHeight(h.header.height))!.cid)).toBe(String(h.cid))
      expect(await store.has(String(h.cid))).toBe(true)
    }
    store.close()
  })
})

describe('header store: a jump to a finalized tipset (issue 14)', () => {
  it('stores the run as the chain, keeps a floor, answers nothing below it from above it, and prepends below it', async () => {
    const genesis = newGenesis()
    const store = await openHeaderStore(genesis.header.cid.toString())
    const chain = chainOn(genesis, genesis.header, 20)
    await store.append([genesis.header, ...chain.slice(0, 3)]) // the tab had heights 0..3
    // a jump: heights 12..20 (12 the bottom of the run), the head at 20
    await store.jump(chain.slice(11).map(h => makeTipSet([h])))
    expect(await store.floor()).toBe(12)
    expect((await store.head())!.cid.equals(chain[19]!.cid)).toBe(true)
    expect((await store.byHeight(15))!.cid.equals(chain[14]!.cid)).toBe(true)
    // heights 4..11 are a gap, not null rounds: a search starting there does not answer with height 12
    expect(await store.tipSetAtOrAbove(5, 20)).toBeNull()
    expect((await store.tipSetAtOrAbove(2, 20))!.height).toBe(2) // from the old chain, below the gap
    expect((await store.tipSetAtOrAbove(12, 20))!.height).toBe(12)
    // the run below the floor, by hash link: the floor drops and the gap closes
    await store.prepend(chain.slice(3, 11).map(h => makeTipSet([h])))
    expect(await store.floor()).toBe(4)
    expect((await store.tipSetAtOrAbove(5, 20))!.height).toBe(5)
    store.close()
  })

  it('writes a run longer than one chunk of puts whole, in one transaction', async () => {
    const genesis = newGenesis()
    const store = await openHeaderStore(genesis.header.cid.toString())
    const chain = chainOn(genesis, genesis.header, 260)
    await store.append([genesis.header])
    await store.jump(chain.slice(9).map(h => makeTipSet([h]))) // heights 10..260: 251 tipsets, three chunks
    expect(await store.floor()).toBe(10)
    expect((await store.head())!.cid.equals(chain[259]!.cid)).toBe(true)
    for (const h of [10, 109, 110, 111, 210, 260]) expect((await store.byHeight(h))!.cid.equals(chain[h - 1]!.cid)).toBe(true)
    store.close()
  })
})
