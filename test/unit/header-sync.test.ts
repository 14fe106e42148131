// The sync engine against scripted peers: every kind of lie is rejected with its named error, the peer
// is dropped, and the IndexedDB store (fake-indexeddb here, idb code as in the browser) is left as it was.
import { describe, it, expect } from 'vitest'
import { bls12_381 } from '@noble/curves/bls12-381.js'
import { randomBytes } from '@noble/hashes/utils.js'
import {
  createGenesis, produceHeader, idAddressBytes, blsPublicKey, sealHeader, blsSign, headerSigningBytes, signBeaconRound,
  decodeExchangeResponse, encodeExchangeResponse, ExchangeStatus, MAX_EXCHANGE_RESPONSE_BYTES,
  type Genesis, type SealedHeader, type ExchangeResponse, type BlockHeader
} from '../../src/core'
import { HeaderSync, openHeaderStore, type HeaderStore } from '../../src/light'
import { TEST_BEACON, testBeaconEntries } from '../helpers/test-beacon'

const key = bls12_381.longSignatures.keygen().secretKey
const T0 = 1_800_000_000
let n = 0

function chainOn (genesis: Genesis, parent: SealedHeader, length: number, signer = key): SealedHeader[] {
  const out: SealedHeader[] = []
  for (let i = 0; i < length; i++) {
    parent = produceHeader(parent, genesis, signer, parent.header.timestamp + 1, testBeaconEntries(parent, genesis))
    out.push(parent)
  }
  return out
}

function resign (h: BlockHeader): SealedHeader {
  const unsigned = { ...h, blockSig: null }
  return sealHeader({ ...unsigned, blockSig: blsSign(key, headerSigningBytes(unsigned)) })
}

/** A peer that answers chain exchange from `served` (any list of headers, honest or not). */
function servesFrom (served: SealedHeader[]) {
  return (cid: SealedHeader['cid'], length: number): ExchangeResponse => {
    const at = served.findIndex(h => h.cid.equals(cid))
    if (at < 0) return { status: ExchangeStatus.NotFound, errorMessage: 'unknown', chain: [] }
    const slice = served.slice(Math.max(0, at - length + 1), at + 1).reverse()
    // through the real wire codec, as a remote peer's bytes would arrive
    return decodeExchangeResponse(encodeExchangeResponse({ status: ExchangeStatus.Ok, errorMessage: '', chain: slice.map(h => [h]) }))
  }
}

async function setup (answer: (cid: SealedHeader['cid'], length: number) => ExchangeResponse) {
  const genesis = createGenesis({ beacon: TEST_BEACON, network: `sync-test-${n++}`, producer: idAddressBytes(1000), producerKey: blsPublicKey(key), blockDelaySecs: 1 }, T0)
  const store: HeaderStore = await openHeaderStore(genesis.header.cid.toString())
  await store.append([genesis.header])
  const rejected: Array<{ peer: string, name: string }> = []
  const sync = new HeaderSync({
    genesis, store, head: genesis.header,
    nowSecs: () => T0 + 10_000, nowMs: () => performance.now(), randomBytes,
    net: { fetchChain: async (_peer, cid, length) => answer(cid, length) },
    onAppend: () => {}, onRejection: (peer, err) => { rejected.push({ peer, name: err.name }) }, onNetworkError: () => {}, onChange: () => {}
  })
  return { genesis, store, sync, rejected }
}

async function expectUntouched (store: HeaderStore, genesis: Genesis, forged: SealedHeader[]): Promise<void> {
  expect((await store.head())!.cid.equals(genesis.header.cid)).toBe(true)
  for (const h of forged) expect(await store.has(h.cid.toString())).toBe(false)
}

describe('HeaderSync', () => {
  it('syncs an honest chain and stores it', async () => {
    let served: SealedHeader[] = []
    const t = await setup((cid, len) => servesFrom(served)(cid, len))
    served = chainOn(t.genesis, t.genesis.header, 10)
    t.sync.offer({ peer: 'honest', cid: served[9]!.cid, height: 10 })
    await t.sync.settled()
    expect((await t.store.head())!.cid.equals(served[9]!.cid)).toBe(true)
    expect(t.sync.headersVerified).toBe(10)
    expect(t.rejected).toEqual([])
  })

  const lies: Array<[string, string, (g: Genesis) => { served: SealedHeader[], announce: SealedHeader, raw?: () => ExchangeResponse }]> = [
    ['a header that does not hash to the CID asked for', 'CidMismatchError', (g) => {
      const honest = chainOn(g, g.header, 5)
      const swapped = [...honest.slice(0, 4), resign({ ...honest[4]!.header, forkSignaling: 1 })]
      return { served: swapped, announce: honest[4]!, raw: () => servesFrom(swapped)(swapped[4]!.cid, 5) }
    }],
    ['a chain that does not link to our head', 'UnknownParentError', (g) => {
      const other = createGenesis({ ...g.state, network: `${g.state.network}-fork` }, T0)
      const served = chainOn(g, other.header, 5)
      return { served, announce: served[4]! }
    }],
    ['a bad signature', 'BadSignatureError', (g) => {
      const served = chainOn(g, g.header, 5, bls12_381.longSignatures.keygen().secretKey)
      return { served, announce: served[4]! }
    }],
    ['an honest prefix with one bad signature on top', 'BadSignatureError', (g) => {
      const honest = chainOn(g, g.header, 4)
      const served = [...honest, ...chainOn(g, honest[3]!, 1, bls12_381.longSignatures.keygen().secretKey)]
      return { served, announce: served[4]! }
    }],
    // the producer signs these itself: only the beacon entries are wrong
    ['an honest prefix, then a header whose beacon entry another key signed', 'BadBeaconSignatureError', (g) => {
      const honest = chainOn(g, g.header, 4)
      const next = chainOn(g, honest[3]!, 1)[0]!
      const round = next.header.beaconEntries[0]!.round
      const forged = resign({ ...next.header, beaconEntries: [{ round, data: signBeaconRound(new Uint8Array(32).fill(5), round) }] })
      return { served: [...honest, forged], announce: forged }
    }],
    ['a header without its beacon entry', 'MissingBeaconEntriesError', (g) => {
      const h1 = chainOn(g, g.header, 1)[0]!
      const bare = resign({ ...chainOn(g, h1, 1)[0]!.header, beaconEntries: [] })
      return { served: [h1, bare], announce: bare }
    }],
    ['a header carrying its parent\'s beacon round again', 'WrongBeaconRoundError', (g) => {
      const h1 = chainOn(g, g.header, 1)[0]!
      const again = resign({ ...chainOn(g, h1, 1)[0]!.header, beaconEntries: h1.header.beaconEntries })
      return { served: [h1, again], announce: again }
    }],
    ['a height gap', 'HeightGapError', (g) => {
      const h1 = chainOn(g, g.header, 1)[0]!
      const h3 = resign({ ...chainOn(g, h1, 1)[0]!.header, height: 3 })
      return { served: [h1, h3], announce: h3 }
    }],
    ['malformed CBOR', 'MalformedMessageError', (g) => {
      const served = chainOn(g, g.header, 2)
      return { served, announce: served[1]!, raw: () => decodeExchangeResponse(Uint8Array.of(0x9f, 0x00, 0x60, 0x80, 0xff)) } // an indefinite-length list: no DAG-CBOR (cut short, [0, ""] would be a TruncatedMessageError)
    }],
    ['an oversized response', 'OversizedMessageError', (g) => {
      const served = chainOn(g, g.header, 2)
      return { served, announce: served[1]!, raw: () => decodeExchangeResponse(new Uint8Array(MAX_EXCHANGE_RESPONSE_BYTES + 1)) }
    }],
    ['a peer that cannot serve the head it announced', 'MalformedMessageError', (g) => {
      const served = chainOn(g, g.header, 2)
      return { served: [], announce: served[1]! }
    }]
  ]

  for (const [what, expected, make] of lies) {
    it(`rejects ${what} (${expected}), drops the peer, stores nothing`, async () => {
      let scenario: ReturnType<typeof make> | undefined
      const t = await setup((cid, len) => scenario!.raw?.() ?? servesFrom(scenario!.served)(cid, len))
      scenario = make(t.genesis)
      t.sync.offer({ peer: 'liar', cid: scenario.announce.cid, height: scenario.announce.header.height })
      await t.sync.settled()
      expect(t.rejected).toEqual([{ peer: 'liar', name: expected }])
      expect(t.sync.bestKnownHeight).toBe(0) // the liar's claim no longer counts
      await expectUntouched(t.store, t.genesis, scenario.served)
    })
  }

  /** A store already holding an honest chain of 3, and a peer whose served headers the test swaps. */
  async function syncedToThree () {
    let served: SealedHeader[] = []
    const t = await setup((cid, len) => servesFrom(served)(cid, len))
    const honest = chainOn(t.genesis, t.genesis.header, 3)
    served = honest
    t.sync.offer({ peer: 'honest', cid: honest[2]!.cid, height: 3 })
    await t.sync.settled()
    return { t, honest, serve: (headers: SealedHeader[]) => { served = headers } }
  }

  it('names the real fault of a fork that branches below our head (forged signatures)', async () => {
    const { t, honest, serve } = await syncedToThree()
    const forged = chainOn(t.genesis, t.genesis.header, 6, bls12_381.longSignatures.keygen().secretKey)
    serve(forged)
    t.sync.offer({ peer: 'liar', cid: forged[5]!.cid, height: 6 })
    await t.sync.settled()
    expect(t.rejected).toEqual([{ peer: 'liar', name: 'BadSignatureError' }])
    expect((await t.store.head())!.cid.equals(honest[2]!.cid)).toBe(true)
    for (const h of forged) expect(await t.store.has(h.cid.toString())).toBe(false)
  })

  it('refuses a validly signed fork (the producer equivocating) as an unknown parent', async () => {
    const { t, honest, serve } = await syncedToThree()
    const fork = chainOn(t.genesis, honest[0]!, 4).map(h => resign({ ...h.header, forkSignaling: 1 }))
    // re-link the re-signed fork
    const relinked: SealedHeader[] = []
    let p = honest[0]!
    for (const h of fork) { const r = resign({ ...h.header, parents: [p.cid] }); relinked.push(r); p = r }
    serve([honest[0]!, ...relinked])
    t.sync.offer({ peer: 'equivocator', cid: relinked[3]!.cid, height: 5 })
    await t.sync.settled()
    expect(t.rejected).toEqual([{ peer: 'equivocator', name: 'UnknownParentError' }])
    expect((await t.store.head())!.cid.equals(honest[2]!.cid)).toBe(true)
  })

  it('a store append is one transaction: a failing write leaves the old head', async () => {
    const t = await setup(() => { throw new Error('unused') })
    const chain = chainOn(t.genesis, t.genesis.header, 3)
    await t.store.append([chain[0]!])
    // a header IndexedDB cannot store (its bytes are no value it can clone) part-way through the batch
    const clash = { ...chain[2]!, bytes: (() => {}) as unknown as Uint8Array }
    await expect(t.store.append([chain[1]!, clash])).rejects.toThrow()
    expect((await t.store.head())!.cid.equals(chain[0]!.cid)).toBe(true)
    expect(await t.store.has(chain[1]!.cid.toString())).toBe(false)
  })
})
