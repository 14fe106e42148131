// The provider's signed ask: Filecoin's eight StorageAsk fields first, Coffer's free space, collateral and
// retrieval terms after, all under the worker's signature; strict decoding and the retrieval quote.
import { describe, it, expect } from 'vitest'
import * as dagCbor from '@ipld/dag-cbor'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import {
  secpAddressBytes, secpPublicKey, idAddressBytes, encodeBigInt, parseFil, signStorageAsk, encodeSignedStorageAsk, decodeSignedStorageAsk,
  verifyStorageAsk, retrievalPrice, InvalidAskError, GIB, type StorageAsk
} from '../../src/core'
import { devnetAsk } from '../../src/node/provider/devnet-providers'

const workerKey = secp256k1.utils.randomSecretKey()
const worker = secpAddressBytes(secpPublicKey(workerKey))

const ask = (over: Partial<StorageAsk> = {}): StorageAsk => ({
  pricePerGiBEpoch: 1_000_000_000n, verifiedPricePerGiBEpoch: 1_000_000_000n, minPieceSize: 128, maxPieceSize: 2 ** 34, miner: idAddressBytes(1001),
  timestamp: 10, expiry: 610, seqNo: 3, freeBytes: 2 ** 30, collateralPerGiB: parseFil('0.1'),
  retrievalPricePerGiB: parseFil('0.02'), paymentInterval: 2 ** 20, paymentIntervalIncrease: 2 ** 20, ...over
})

/** The signed ask's CBOR with its tuple changed by `edit` (the signature left as it was). */
function edited (edit: (t: unknown[]) => unknown[]): Uint8Array {
  const [t, sig] = dagCbor.decode(encodeSignedStorageAsk(signStorageAsk(workerKey, worker, ask()))) as [unknown[], Uint8Array]
  return dagCbor.encode([edit([...t]), sig])
}
const at = (i: number, v: unknown) => (t: unknown[]): unknown[] => { t[i] = v; return t }

describe('signed storage ask', () => {
  it('is 14 fields, Filecoin’s StorageAsk first, the retrieval terms and the gateway URL last, and round-trips', () => {
    const signed = signStorageAsk(workerKey, worker, ask())
    const bytes = encodeSignedStorageAsk(signed)
    const [t] = dagCbor.decode(bytes) as [unknown[]]
    expect(t).toHaveLength(14)
    // go-fil-markets StorageAsk order: Price, VerifiedPrice, MinPieceSize, MaxPieceSize, Miner, Timestamp, Expiry, SeqNo
    expect(t.slice(0, 8)).toEqual([encodeBigInt(1_000_000_000n), encodeBigInt(1_000_000_000n), 128, 2 ** 34, idAddressBytes(1001), 10, 610, 3])
    expect(t.slice(10)).toEqual([encodeBigInt(parseFil('0.02')), 2 ** 20, 2 ** 20, ''])
    const back = decodeSignedStorageAsk(bytes)
    expect(back).toEqual(signed)
    expect(() => verifyStorageAsk(back, worker, 600)).not.toThrow()
  })

  it('a free retrieval (price 0) and a zero interval increase round-trip', () => {
    const signed = signStorageAsk(workerKey, worker, ask({ retrievalPricePerGiB: 0n, paymentIntervalIncrease: 0 }))
    expect(decodeSignedStorageAsk(encodeSignedStorageAsk(signed)).ask).toMatchObject({ retrievalPricePerGiB: 0n, paymentIntervalIncrease: 0 })
  })

  it('a gateway URL round-trips, signed; no gateway is the empty string (one encoding per ask)', () => {
    const signed = signStorageAsk(workerKey, worker, ask({ gatewayUrl: 'http://127.0.0.1:8080' }))
    const bytes = encodeSignedStorageAsk(signed)
    expect((dagCbor.decode(bytes) as [unknown[]])[0][13]).toBe('http://127.0.0.1:8080')
    const back = decodeSignedStorageAsk(bytes)
    expect(back.ask.gatewayUrl).toBe('http://127.0.0.1:8080')
    expect(() => verifyStorageAsk(back, worker, 600)).not.toThrow()
    expect(decodeSignedStorageAsk(encodeSignedStorageAsk(signStorageAsk(workerKey, worker, ask()))).ask).not.toHaveProperty('gatewayUrl')
    // a provider never signs an ask its readers would refuse
    expect(() => signStorageAsk(workerKey, worker, ask({ gatewayUrl: 'ftp://x' }))).toThrow(InvalidAskError)
  })

  it('the signature covers the retrieval terms and the gateway URL: a relay cannot change them', () => {
    for (const [i, v] of [[10, encodeBigInt(1n)], [11, 2 ** 10], [12, 0], [13, 'http://evil.example']] as Array<[number, unknown]>) {
      const s = decodeSignedStorageAsk(edited(at(i, v)))
      expect(() => verifyStorageAsk(s, worker, 600)).toThrow(InvalidAskError)
    }
  })

  const refused: Array<[string, Uint8Array, RegExp]> = [
    ['the old 10-field ask', edited(t => t.slice(0, 10)), /14 fields/],
    ['the 13-field ask without a gateway field', edited(t => t.slice(0, 13)), /14 fields/],
    ['a 15th field', edited(t => [...t, 0]), /14 fields/],
    ['a gateway URL that is not a string', edited(at(13, 5)), /gatewayUrl is not a string/],
    ['a gateway URL that is not http(s)', edited(at(13, 'javascript:alert(1)')), /not an http\(s\) origin/],
    ['a gateway URL with a path', edited(at(13, 'http://127.0.0.1:8080/ipfs')), /not an http\(s\) origin/],
    ['a gateway URL with credentials', edited(at(13, 'http://u:p@127.0.0.1:8080')), /not an http\(s\) origin/],
    ['a gateway URL that does not parse', edited(at(13, 'http://')), /not a URL/],
    ['a gateway URL too long', edited(at(13, `http://${'a'.repeat(600)}.example`)), /longer than/],
    ['a retrieval price that is not a big int', edited(at(10, 5)), /not a big int/],
    ['a negative retrieval price', edited(at(10, encodeBigInt(-1n))), /negative/],
    ['a retrieval price with a padded magnitude', edited(at(10, Uint8Array.of(0, 0, 1))), /leading zero/],
    ['a zero payment interval', edited(at(11, 0)), /paymentInterval is zero/],
    ['a negative payment interval', edited(at(11, -1)), /wrong types/],
    ['a fractional payment interval', edited(at(11, 1.5)), /wrong types/],
    ['an unsafe payment interval', edited(at(11, 2 ** 53)), /wrong types/],
    ['a payment interval increase as text', edited(at(12, '1048576')), /wrong types/],
    ['a negative payment interval increase', edited(at(12, -5)), /wrong types/]
  ]
  for (const [name, bytes, message] of refused) {
    it(`refuses ${name} (InvalidAskError)`, () => {
      expect(() => decodeSignedStorageAsk(bytes)).toThrow(InvalidAskError)
      expect(() => decodeSignedStorageAsk(bytes)).toThrow(message)
    })
  }
})

describe('retrievalPrice', () => {
  it('is ceil(bytes × price / 2^30)', () => {
    expect(retrievalPrice({ retrievalPricePerGiB: 1n }, 1)).toBe(1n) // rounded up, never down to free
    expect(retrievalPrice({ retrievalPricePerGiB: 1n }, GIB)).toBe(1n)
    expect(retrievalPrice({ retrievalPricePerGiB: 1n }, GIB + 1)).toBe(2n)
    expect(retrievalPrice({ retrievalPricePerGiB: 3n * BigInt(GIB) }, 10)).toBe(30n)
    expect(retrievalPrice({ retrievalPricePerGiB: parseFil('0.01') }, 10 * 2 ** 20)).toBe((parseFil('0.01') * 10n * 2n ** 20n + 2n ** 30n - 1n) / 2n ** 30n)
    expect(retrievalPrice({ retrievalPricePerGiB: 0n }, 123_456_789)).toBe(0n)
    expect(retrievalPrice({ retrievalPricePerGiB: 5n }, 0)).toBe(0n)
  })

  it('refuses a byte count that is not a non-negative integer (RangeError)', () => {
    for (const b of [-1, 1.5, Number.NaN, 2 ** 53]) expect(() => retrievalPrice({ retrievalPricePerGiB: 1n }, b)).toThrow(RangeError)
  })
})

describe('devnet asks', () => {
  it('differ in retrieval price, provider 1 retrieves for free, intervals are Filecoin’s 1 MiB defaults', () => {
    const prices = [0, 1, 2, 3].map(i => devnetAsk(i).retrievalPricePerGiB)
    expect(prices[1]).toBe(0n)
    expect(new Set(prices).size).toBe(4)
    for (const i of [0, 1, 2, 3]) expect(devnetAsk(i)).toMatchObject({ paymentInterval: 2 ** 20, paymentIntervalIncrease: 2 ** 20 })
  })
})
