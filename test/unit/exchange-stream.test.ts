// The streamed chain-exchange answer is byte for byte the whole-response encoding, and the request
// limiter bounds answers per peer and in all.
import { describe, it, expect } from 'vitest'
import { bls12_381 } from '@noble/curves/bls12-381.js'
import {
  createGenesis, produceHeader, idAddressBytes, blsPublicKey, encodeExchangeResponse, decodeExchangeResponse,
  encodeExchangeResponseStart, encodeExchangeTipsets, ExchangeStatus, type SealedHeader
} from '../../src/core'
import { RequestLimiter } from '../../src/net'
import { HeaderSync, openHeaderStore } from '../../src/light'
import { TEST_BEACON, testBeaconEntries } from '../helpers/test-beacon'

const key = bls12_381.longSignatures.keygen().secretKey
const genesis = createGenesis({ beacon: TEST_BEACON, network: 'exchange-stream', producer: idAddressBytes(1000), producerKey: blsPublicKey(key), blockDelaySecs: 1 }, 1_800_000_000)
const headers: SealedHeader[] = []
for (let h = genesis.header; headers.length < 300; headers.push(h)) h = produceHeader(h, genesis, key, h.header.timestamp + 1, testBeaconEntries(h, genesis))

describe('streamed exchange response', () => {
  // CBOR lengths change form at 24, 256 and 65536: cover each side of the first two (900 fits in two bytes)
  for (const count of [0, 1, 23, 24, 255, 256, 300]) {
    it(`${count} tipsets, sent in batches, encode as encodeExchangeResponse does`, () => {
      const run = headers.slice(0, count)
      const whole = encodeExchangeResponse({ status: ExchangeStatus.Ok, errorMessage: '', chain: run.map(h => [h]) })
      const parts = [encodeExchangeResponseStart(ExchangeStatus.Ok, '', count)]
      for (let i = 0; i < count; i += 64) parts.push(encodeExchangeTipsets(run.slice(i, i + 64).map(h => [h.bytes])))
      const streamed = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
      let at = 0
      for (const p of parts) { streamed.set(p, at); at += p.length }
      expect(streamed).toEqual(whole)
      expect(decodeExchangeResponse(streamed).chain.map(ts => ts[0]!.cid.toString())).toEqual(run.map(h => h.cid.toString()))
    })
  }

  it('tipsets of several blocks (up to 30: the block count\'s CBOR head changes form at 24) encode as encodeExchangeResponse does', () => {
    const sizes = [1, 2, 3, 23, 24, 30, 5]
    const chain: SealedHeader[][] = []
    let at = 0
    for (const n of sizes) { chain.push(headers.slice(at, at + n)); at += n }
    const whole = encodeExchangeResponse({ status: ExchangeStatus.Partial, errorMessage: '', chain })
    const start = encodeExchangeResponseStart(ExchangeStatus.Partial, '', chain.length)
    const body = encodeExchangeTipsets(chain.map(ts => ts.map(h => h.bytes)))
    const streamed = new Uint8Array([...start, ...body])
    expect(streamed).toEqual(whole)
    expect(decodeExchangeResponse(streamed).chain.map(ts => ts.length)).toEqual(sizes)
    expect(() => encodeExchangeTipsets([[]])).toThrow(/at least one block/)
  })

  it('statuses and messages of every length form', () => {
    for (const status of [ExchangeStatus.Partial, ExchangeStatus.GoAway, ExchangeStatus.BadRequest]) {
      for (const errorMessage of ['', 'x'.repeat(23), 'é'.repeat(20), 'y'.repeat(300)]) {
        expect(encodeExchangeResponseStart(status, errorMessage, 0)).toEqual(encodeExchangeResponse({ status, errorMessage, chain: [] }))
      }
    }
  })
})

describe('RequestLimiter', () => {
  it('refuses a peer over its share and everyone over the total, until slots are released', () => {
    const limiter = new RequestLimiter(3, 2)
    const a1 = limiter.tryAcquire('a')
    const a2 = limiter.tryAcquire('a')
    expect(limiter.tryAcquire('a')).toEqual({ busy: 'peer' })
    const b1 = limiter.tryAcquire('b')
    expect(limiter.tryAcquire('c')).toEqual({ busy: 'node' })
    expect(limiter.inProgress).toBe(3)
    if (!('release' in a1) || !('release' in a2) || !('release' in b1)) throw new Error('expected slots')
    a1.release()
    a1.release() // a second release of the same slot frees nothing more
    expect(limiter.inProgress).toBe(2)
    expect('release' in limiter.tryAcquire('c')).toBe(true)
    expect(limiter.tryAcquire('a')).toEqual({ busy: 'node' })
    a2.release()
    b1.release()
    expect('release' in limiter.tryAcquire('a')).toBe(true)
  })
})

describe('a light client told GoAway', () => {
  it('treats it as a busy peer to ask again, not a broken rule', async () => {
    const store = await openHeaderStore(`${genesis.header.cid.toString()}-goaway`)
    await store.append([genesis.header])
    const rejected: string[] = []
    const networkErrors: string[] = []
    let busy = true
    const sync = new HeaderSync({
      genesis, store, head: genesis.header, nowSecs: () => 1_800_000_000 + 10_000, nowMs: () => performance.now(),
      randomBytes: (n) => new Uint8Array(n).map((_, i) => i + 1),
      net: {
        fetchChain: async (_peer, cid, length) => {
          if (busy) return decodeExchangeResponse(encodeExchangeResponse({ status: ExchangeStatus.GoAway, errorMessage: 'busy', chain: [] }))
          const at = headers.findIndex(h => h.cid.equals(cid))
          return decodeExchangeResponse(encodeExchangeResponse({ status: ExchangeStatus.Ok, errorMessage: '', chain: headers.slice(Math.max(0, at - length + 1), at + 1).reverse().map(h => [h]) }))
        }
      },
      onAppend: () => {}, onRejection: (_peer, err) => { rejected.push(err.name) }, onNetworkError: (_peer, err) => { networkErrors.push(err.name) }, onChange: () => {}
    })
    sync.offer({ peer: 'node', cid: headers[9]!.cid, height: 10 })
    await sync.settled()
    expect(networkErrors).toEqual(['PeerBusyError'])
    expect(rejected).toEqual([])
    // the peer was not forgotten: its next claim is fetched and synced
    busy = false
    sync.offer({ peer: 'node', cid: headers[10]!.cid, height: 11 })
    await sync.settled()
    expect((await store.head())!.cid.equals(headers[10]!.cid)).toBe(true)
  })
})
