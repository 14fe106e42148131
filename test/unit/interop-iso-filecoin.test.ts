// iso-filecoin 7.4.7 (an independent TypeScript Filecoin library, on noble-curves 1.x) as an oracle, both
// ways: address text ↔ bytes, message bytes and CIDs, and secp256k1 / BLS message signatures made by one
// library and checked by the other. BLS keys are big-endian on both sides here; Lotus exports them
// little-endian (iso's lotusBlsPrivateKeyToBytes reverses them, as our tests do).
import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import * as IsoAddress from 'iso-filecoin/address'
import { Message as IsoMessage, type MessageObj } from 'iso-filecoin/message'
import { Signature as IsoSignature } from 'iso-filecoin/signature'
import * as IsoWallet from 'iso-filecoin/wallet'
import signingVectors from '../fixtures/filecoin-serialization-vectors-message-signing.json'
import {
  addressToString, parseAddress, idAddressBytes, encodeMessage, messageCid, signMessage, verifyMessageSignature,
  secpPublicKey, secpAddressBytes, blsPublicKey, blsAddressBytes, SIG_TYPE_BLS, SIG_TYPE_SECP256K1,
  type Message, type Network
} from '../../src/core'

const SECP_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n
const BLS_R = 0x73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001n
const INT64_MAX = 2n ** 63n - 1n
const be32 = (n: bigint): Uint8Array => Uint8Array.from(n.toString(16).padStart(64, '0').match(/../g)!, b => parseInt(b, 16))
const base64 = (b: Uint8Array): string => btoa(String.fromCharCode(...b))
const isoNetwork = (n: Network): 'mainnet' | 'testnet' => n === 'f' ? 'mainnet' : 'testnet'
const fixed = (n: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: n, maxLength: n })

// iso-filecoin supports f4 only in the EAM namespace (10) and with a non-empty sub-address
const addressArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.bigInt({ min: 0n, max: INT64_MAX }).map(id => idAddressBytes(id)),
  fixed(20).map(p => Uint8Array.of(1, ...p)),
  fixed(20).map(p => Uint8Array.of(2, ...p)),
  fixed(48).map(p => Uint8Array.of(3, ...p)),
  fc.uint8Array({ minLength: 1, maxLength: 54 }).map(p => Uint8Array.of(4, 10, ...p))
)
const networkArb = fc.constantFrom<Network>('f', 't')
const secpKeyArb = fc.bigInt({ min: 1n, max: SECP_N - 1n }).map(be32)
const blsKeyArb = fc.bigInt({ min: 1n, max: BLS_R - 1n }).map(be32)

const messageArb = (from: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Message> => fc.record({
  version: fc.constant(0),
  to: addressArb,
  from,
  nonce: fc.maxSafeNat(),
  value: fc.bigInt({ min: 0n, max: 2n ** 128n }),
  gasLimit: fc.maxSafeNat(),
  gasFeeCap: fc.bigInt({ min: -(2n ** 100n), max: 2n ** 100n }),
  gasPremium: fc.bigInt({ min: -(2n ** 100n), max: 2n ** 100n }),
  method: fc.maxSafeNat(),
  params: fc.uint8Array({ maxLength: 64 })
})

/** The same message as iso-filecoin's constructor takes it (addresses as text, amounts as decimal strings). */
const toIso = (m: Message): IsoMessage => new IsoMessage({
  version: 0,
  to: addressToString(m.to, 'f'),
  from: addressToString(m.from, 'f'),
  nonce: m.nonce,
  value: m.value.toString(),
  gasLimit: m.gasLimit,
  gasFeeCap: m.gasFeeCap.toString(),
  gasPremium: m.gasPremium.toString(),
  method: m.method,
  params: base64(m.params)
})
/** iso-filecoin's signMessage takes the plain object form. */
const objOf = (iso: IsoMessage): MessageObj => ({
  version: 0, to: iso.to, from: iso.from, nonce: iso.nonce, value: iso.value, gasLimit: iso.gasLimit,
  gasFeeCap: iso.gasFeeCap, gasPremium: iso.gasPremium, method: iso.method, params: iso.params
})
const isoObj = (m: Message): MessageObj => objOf(toIso(m))

describe('addresses', () => {
  it('our bytes → iso text = our text, and iso text → our bytes (f0, f1, f2, f3, f4)', () => {
    fc.assert(fc.property(addressArb, networkArb, (bytes, net) => {
      const ours = addressToString(bytes, net)
      const iso = IsoAddress.fromBytes(bytes, isoNetwork(net))
      expect(iso.toString()).toBe(ours)
      expect(IsoAddress.fromString(ours).toBytes()).toEqual(bytes)
      expect(parseAddress(iso.toString(), net).bytes).toEqual(bytes)
    }), { numRuns: 400 })
  })

  it('keys give the same f1 and f3 addresses', () => {
    fc.assert(fc.property(secpKeyArb, key => {
      expect(IsoWallet.accountFromPrivateKey(key, 'SECP256K1', 'mainnet').address.toString())
        .toBe(addressToString(secpAddressBytes(secpPublicKey(key)), 'f'))
    }), { numRuns: 30 })
    fc.assert(fc.property(blsKeyArb, key => {
      expect(IsoWallet.accountFromPrivateKey(key, 'BLS', 'testnet').address.toString())
        .toBe(addressToString(blsAddressBytes(blsPublicKey(key)), 't'))
    }), { numRuns: 10 })
  })
})

describe('messages', () => {
  it('serialisation bytes and CIDs agree for random messages', () => {
    fc.assert(fc.property(messageArb(addressArb), m => {
      const iso = toIso(m)
      expect(iso.serialize()).toEqual(encodeMessage(m))
      expect(iso.cidBytes()).toEqual(messageCid(m).bytes)
    }), { numRuns: 300 })
  })

  for (const v of signingVectors) {
    it(`iso-filecoin agrees with the serialization-vectors BLS vector ${v.Cid.slice(0, 16)}…`, () => {
      const iso = IsoMessage.fromLotus({ ...v.Unsigned, Version: 0, Params: v.Unsigned.Params ?? '' })
      const key = IsoWallet.lotusBlsPrivateKeyToBytes(v.PrivateKey)
      expect(base64(IsoWallet.signMessage(key, 'BLS', objOf(iso)).data)).toBe(v.Signature.Data)
      const ours = signMessage(key, {
        version: 0, to: parseAddress(v.Unsigned.To).bytes, from: parseAddress(v.Unsigned.From).bytes, nonce: v.Unsigned.Nonce,
        value: BigInt(v.Unsigned.Value), gasLimit: v.Unsigned.GasLimit, gasFeeCap: BigInt(v.Unsigned.GasFeeCap),
        gasPremium: BigInt(v.Unsigned.GasPremium), method: v.Unsigned.Method, params: new Uint8Array(0)
      })
      expect(iso.cidBytes()).toEqual(messageCid(ours.message).bytes)
      expect(base64(ours.signature.data)).toBe(v.Signature.Data)
    })
  }
})

describe('signatures, both ways', () => {
  const withSender = (key: Uint8Array, address: (k: Uint8Array) => Uint8Array): fc.Arbitrary<[Uint8Array, Message]> =>
    messageArb(fc.constant(address(key))).map(m => [key, m])

  it('secp256k1: iso-signed verifies here; ours verifies and recovers in iso-filecoin', () => {
    const secp = secpKeyArb.chain(k => withSender(k, key => secpAddressBytes(secpPublicKey(key))))
    fc.assert(fc.property(secp, ([key, m]) => {
      const isoSig = IsoWallet.signMessage(key, 'SECP256K1', isoObj(m))
      expect(isoSig.code).toBe(SIG_TYPE_SECP256K1)
      expect(() => verifyMessageSignature({ message: m, signature: { type: isoSig.code, data: isoSig.data } })).not.toThrow()

      const ours = signMessage(key, m)
      const asIso = new IsoSignature({ type: 'SECP256K1', data: ours.signature.data })
      const cid = messageCid(m).bytes
      expect(IsoWallet.verify(asIso, cid, secpPublicKey(key))).toBe(true)
      expect(IsoWallet.recoverAddress(asIso, cid, 'mainnet').toString()).toBe(addressToString(m.from, 'f'))
      // both sign deterministically (RFC 6979) and low-S, so the signatures are the same bytes
      expect(ours.signature.data).toEqual(isoSig.data)
    }), { numRuns: 30 })
  })

  it('BLS: iso-signed verifies here; ours verifies in iso-filecoin', () => {
    const bls = blsKeyArb.chain(k => withSender(k, key => blsAddressBytes(blsPublicKey(key))))
    fc.assert(fc.property(bls, ([key, m]) => {
      const isoSig = IsoWallet.signMessage(key, 'BLS', isoObj(m))
      expect(isoSig.code).toBe(SIG_TYPE_BLS)
      expect(() => verifyMessageSignature({ message: m, signature: { type: isoSig.code, data: isoSig.data } })).not.toThrow()

      const ours = signMessage(key, m)
      expect(IsoWallet.verify(new IsoSignature({ type: 'BLS', data: ours.signature.data }), messageCid(m).bytes, blsPublicKey(key))).toBe(true)
      expect(ours.signature.data).toEqual(isoSig.data) // BLS signatures are deterministic
    }), { numRuns: 6 })
  })

  it('a signature over another message verifies in neither library', () => {
    const key = new Uint8Array(32).fill(3)
    const from = secpAddressBytes(secpPublicKey(key))
    const m: Message = { version: 0, to: idAddressBytes(1), from, nonce: 0, value: 1n, gasLimit: 1, gasFeeCap: 1n, gasPremium: 1n, method: 0, params: new Uint8Array(0) }
    const other = { ...m, nonce: 1 }
    const sig = signMessage(key, other).signature
    expect(() => verifyMessageSignature({ message: m, signature: sig })).toThrow(expect.objectContaining({ name: 'MessageSignatureError' }))
    expect(IsoWallet.verify(new IsoSignature({ type: 'SECP256K1', data: sig.data }), messageCid(m).bytes, secpPublicKey(key))).toBe(false)
  })
})
