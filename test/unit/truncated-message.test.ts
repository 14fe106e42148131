// An answer cut short is told from a malformed one: every proper prefix of a real hello, chain-exchange response
// (with messages), state response and certificate-exchange response is a TruncatedMessageError (a cut link, not a
// lie), while bytes no message starts with stay MalformedMessageError (or a certificate's MALFORMED). This also pins
// the words of cborg's decoder that ranOutOfBytes reads: an upgrade that changes them fails here.
import { describe, it, expect } from 'vitest'
import { bls12_381 } from '@noble/curves/bls12-381.js'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import mainnetCertsJson from '../fixtures/f3-mainnet-certificates-0-9.json'
import {
  createGenesis, idAddressBytes, blsPublicKey, secpPublicKey, secpAddressBytes, signMessage, encodeExchangeResponse, decodeExchangeResponse,
  compactBlockMessages, encodeHello, decodeHello, encodeStateResponse, decodeStateResponse, ExchangeStatus, MalformedMessageError,
  TruncatedMessageError, CertificateError, parseFil, TRANSFER_GAS_LIMIT, TRANSFER_GAS_FEE_CAP, TRANSFER_GAS_PREMIUM, METHOD_SEND
} from '../../src/core'
import { encodeCertificate, certificateFromLotusJson, type LotusCertificateJson } from '../../src/core/finality'
import { encodeCertExchangeHeader, decodeCertExchangeResponse } from '../../src/net/cert-exchange'
import { TEST_BEACON } from '../helpers/test-beacon'

const producer = bls12_381.longSignatures.keygen().secretKey
const genesis = createGenesis({ beacon: TEST_BEACON, network: 'cut-test', producer: idAddressBytes(1000), producerKey: blsPublicKey(producer), blockDelaySecs: 1 }, 1_000_000,
  [{ address: idAddressBytes(1001), balance: parseFil('5') }])

const thrown = (fn: () => unknown): Error | null => { try { fn(); return null } catch (err) { return err as Error } }

/** Every proper prefix of `whole` (the empty answer too) must be refused as cut short, and `whole` itself taken. */
function everyPrefixIsTruncated (whole: Uint8Array, decode: (b: Uint8Array) => unknown): void {
  expect(thrown(() => decode(whole))).toBeNull()
  const wrong: string[] = []
  for (let n = 0; n < whole.length; n++) {
    const err = thrown(() => decode(whole.subarray(0, n)))
    if (!(err instanceof TruncatedMessageError)) wrong.push(`${n} of ${whole.length}: ${err === null ? 'decoded' : `${err.name}: ${err.message}`}`)
  }
  expect(wrong.slice(0, 5)).toEqual([])
}

describe('an answer cut short', () => {
  it('is a TruncatedMessageError at every length, for hello, chain exchange, state and certificates', () => {
    everyPrefixIsTruncated(encodeHello({ heaviestTipSet: [genesis.header.cid], heaviestTipSetHeight: 7, heaviestTipSetWeight: 123456789n, genesisHash: genesis.header.cid }), decodeHello)

    const key = secp256k1.utils.randomSecretKey()
    const from = secpAddressBytes(secpPublicKey(key))
    const secp = Array.from({ length: 2 }, (_, nonce) => signMessage(key, {
      version: 0, to: idAddressBytes(1001), from, nonce, value: 1n, gasLimit: TRANSFER_GAS_LIMIT, gasFeeCap: TRANSFER_GAS_FEE_CAP, gasPremium: TRANSFER_GAS_PREMIUM, method: METHOD_SEND, params: new Uint8Array(0)
    }))
    const exchange = encodeExchangeResponse({ status: ExchangeStatus.Ok, errorMessage: '', chain: [[genesis.header]], messages: [compactBlockMessages({ bls: [], secp })] })
    everyPrefixIsTruncated(exchange, b => decodeExchangeResponse(b))

    everyPrefixIsTruncated(encodeStateResponse({ ok: true, blocks: [new Uint8Array(40).fill(7), new Uint8Array(300).fill(9)] }), decodeStateResponse)

    const certs = (mainnetCertsJson as unknown as LotusCertificateJson[]).slice(0, 2).map(certificateFromLotusJson)
    const response = new Uint8Array([...encodeCertExchangeHeader(2, null), ...certs.flatMap(c => [...encodeCertificate(c)])])
    // a response may end after any whole certificate (fewer were sent): only prefixes inside one are cut short
    const ends = new Set<number>()
    let at = encodeCertExchangeHeader(2, null).length
    ends.add(at)
    for (const c of certs) { at += encodeCertificate(c).length; ends.add(at) }
    for (let n = 0; n < response.length; n++) {
      const err = thrown(() => decodeCertExchangeResponse(response.subarray(0, n)))
      if (ends.has(n)) expect(err).toBeNull()
      else expect(err, `${n} of ${response.length}`).toBeInstanceOf(TruncatedMessageError)
    }
  })

  it('stays malformed when no message starts so (a lie, not a cut)', () => {
    const junk = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7919) & 0xff)
    for (const decode of [decodeHello, (b: Uint8Array) => decodeExchangeResponse(b), decodeStateResponse]) {
      expect(thrown(() => decode(junk))).toBeInstanceOf(MalformedMessageError)
      // an indefinite-length item, which DAG-CBOR forbids, however long the answer
      expect(thrown(() => decode(new Uint8Array([0x9f, 0x01, 0x02])))).toBeInstanceOf(MalformedMessageError)
    }
    expect(thrown(() => decodeCertExchangeResponse(junk))).toBeInstanceOf(CertificateError)
  })
})
