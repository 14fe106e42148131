// Deal proposals in the market actor's layout: round trips, the DealLabel union, client signatures (f1 and
// f3) and the stateless validity rules, each refusal by code.
import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import * as dagCbor from '@ipld/dag-cbor'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { bls12_381 } from '@noble/curves/bls12-381.js'
import {
  pieceDigest, pieceCidV1, pieceCidV2, secpAddressBytes, secpPublicKey, blsAddressBytes, blsPublicKey, idAddressBytes, parseFil,
  encodeDealProposal, decodeDealProposal, dealProposalCid, signDealProposal, verifyClientDealProposal, encodeClientDealProposal,
  decodeClientDealProposal, validateDealProposal, type DealProposal
} from '../../src/core'

const secpKey = secp256k1.utils.randomSecretKey()
const blsKey = bls12_381.longSignatures.keygen().secretKey
const piece = pieceDigest(new Uint8Array(10_000).map((_, i) => i))

const proposal = (over: Partial<DealProposal> = {}): DealProposal => ({
  pieceCid: pieceCidV1(piece.root), pieceSize: piece.paddedBytes, verifiedDeal: false,
  client: secpAddressBytes(secpPublicKey(secpKey)), provider: idAddressBytes(1001), label: 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi',
  startEpoch: 100, endEpoch: 100 + 2880, storagePricePerEpoch: 1000n, providerCollateral: parseFil('0.1'), clientCollateral: 0n, ...over
})

describe('DealProposal', () => {
  it('is the market actor’s 11-field tuple and round-trips', () => {
    const bytes = encodeDealProposal(proposal())
    expect(bytes[0]).toBe(0x8b) // CBOR array of 11
    expect((dagCbor.decode(bytes) as unknown[])[2]).toBe(false) // VerifiedDeal third, as in go-state-types
    expect(decodeDealProposal(bytes)).toEqual(proposal())
    expect(String(dealProposalCid(proposal()))).toMatch(/^bafy2bza/)
    fc.assert(fc.property(fc.record({
      verifiedDeal: fc.boolean(), startEpoch: fc.integer({ min: 0, max: 1e9 }), duration: fc.integer({ min: 1, max: 1e7 }),
      price: fc.bigInt({ min: 0n, max: 10n ** 24n }), label: fc.oneof(fc.string({ maxLength: 60 }), fc.uint8Array({ maxLength: 60 }))
    }), (r) => {
      const p = proposal({ verifiedDeal: r.verifiedDeal, startEpoch: r.startEpoch, endEpoch: r.startEpoch + r.duration, storagePricePerEpoch: r.price, label: r.label })
      expect(decodeDealProposal(encodeDealProposal(p))).toEqual(p)
    }), { numRuns: 100 })
  })

  it('writes DealLabel as a CBOR string or byte string (FIP-0027); the empty label is 0x60', () => {
    expect(dagCbor.encode('')).toEqual(Uint8Array.of(0x60))
    const asBytes = dagCbor.decode(encodeDealProposal(proposal({ label: Uint8Array.of(66, 250) }))) as unknown[]
    expect(asBytes[5]).toEqual(Uint8Array.of(66, 250))
  })

  it('is signed by its client (f1 or f3); another key, or any changed byte, is refused', () => {
    for (const [key, client] of [[secpKey, secpAddressBytes(secpPublicKey(secpKey))], [blsKey, blsAddressBytes(blsPublicKey(blsKey))]] as const) {
      const signed = signDealProposal(key, proposal({ client }))
      expect(() => verifyClientDealProposal(decodeClientDealProposal(encodeClientDealProposal(signed)))).not.toThrow()
      const bytes = encodeClientDealProposal(signed)
      fc.assert(fc.property(fc.integer({ min: 0, max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, x) => {
        const bad = bytes.slice()
        bad[at]! ^= x
        expect(() => verifyClientDealProposal(decodeClientDealProposal(bad))).toThrow()
      }), { numRuns: 80 })
    }
    expect(() => signDealProposal(blsKey, proposal())).toThrow(RangeError)
    const forged = { ...signDealProposal(secpKey, proposal()), proposal: proposal({ storagePricePerEpoch: 1n }) }
    expect(() => verifyClientDealProposal(forged)).toThrow(expect.objectContaining({ name: 'DealProposalError', code: 'SIGNATURE' }))
  })

  it('applies the market actor’s stateless rules, each by code', () => {
    const code = (over: Partial<DealProposal>): string | undefined => { try { validateDealProposal(proposal(over)); return undefined } catch (e) { return (e as { code: string }).code } }
    expect(code({})).toBeUndefined()
    expect(code({ pieceCid: pieceCidV2(piece) })).toBe('PIECE')
    expect(code({ pieceSize: 100 })).toBe('PIECE')
    expect(code({ endEpoch: 100 })).toBe('EPOCHS')
    expect(code({ storagePricePerEpoch: -1n })).toBe('AMOUNT')
    expect(code({ providerCollateral: parseFil('2000000000') + 1n })).toBe('AMOUNT')
    expect(code({ label: 'x'.repeat(257) })).toBe('LABEL')
    expect(() => decodeDealProposal(encodeDealProposal(proposal()).subarray(0, 20))).toThrow(expect.objectContaining({ code: 'MALFORMED' }))
  })
})
