// Property tests of the protocol core: every format round-trips, whatever decodes re-encodes to the very
// same bytes (one value, one byte string, so one CID), and any single-byte change to signed or proven
// bytes is refused. numRuns are sized so the file runs in a few seconds (BLS pairings dominate).
import { describe, it, expect, beforeAll } from 'vitest'
import fc from 'fast-check'
import * as dagCbor from '@ipld/dag-cbor'
import { base32 } from 'multiformats/bases/base32'
import { blake2b } from '@noble/hashes/blake2.js'
import {
  encodeMessage, decodeMessage, encodeSignedMessage, decodeSignedMessage, signMessage, verifyMessageSignature,
  signedMessageCid, encodeHeader, decodeHeader, unsealHeader, sealHeaderTuple, validateHeader, createGenesis, produceHeader,
  encodeActor, decodeActor, parseFil, formatFil, encodeBigInt, decodeBigInt, addressToString, parseAddress,
  validateAddressBytes, idAddressBytes, secpPublicKey, secpAddressBytes, blsPublicKey, blsAddressBytes, chainCid,
  MemoryBlockStore, createStateTree, setActor, newAccountActor, proveActor, verifyActorProof, TOTAL_FIL_ATTO,
  MessageRejectedError, HeaderRejectedError, BeaconEntryError,
  type Message, type SignedMessage, type BlockHeader, type Actor, type Genesis, type SealedHeader, type CID
} from '../../src/core'
import { TEST_BEACON, testBeaconEntries } from '../helpers/test-beacon'

const INT64_MAX = 2n ** 63n - 1n
const bytes = (max: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength: max })
const fixed = (n: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: n, maxLength: n })
/** The namespace's uvarint is the same as an ID payload's, so idAddressBytes supplies it. */
const uvarint = (n: bigint): Uint8Array => idAddressBytes(n).subarray(1)

const addressArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.bigInt({ min: 0n, max: INT64_MAX }).map(id => idAddressBytes(id)),
  fixed(20).map(p => Uint8Array.of(1, ...p)),
  fixed(20).map(p => Uint8Array.of(2, ...p)),
  fixed(48).map(p => Uint8Array.of(3, ...p)),
  fc.tuple(fc.bigInt({ min: 0n, max: INT64_MAX }), bytes(54)).map(([ns, sub]) => Uint8Array.of(4, ...uvarint(ns), ...sub))
)
const bigArb = fc.bigInt({ min: -(2n ** 300n), max: 2n ** 300n })
/** Header weights and fees: non-negative (decodeHeader refuses a negative ParentWeight or ParentBaseFee). */
const natArb = fc.bigInt({ min: 0n, max: 2n ** 300n })
const cidArb: fc.Arbitrary<CID> = fc.uint8Array({ minLength: 1, maxLength: 16 }).map(chainCid)
const sigArb = fc.record({ type: fc.constantFrom(1, 2), data: bytes(96) })

const messageArb: fc.Arbitrary<Message> = fc.record({
  version: fc.constant(0),
  to: addressArb,
  from: addressArb,
  nonce: fc.maxSafeNat(),
  value: bigArb,
  gasLimit: fc.maxSafeInteger(),
  gasFeeCap: bigArb,
  gasPremium: bigArb,
  method: fc.maxSafeNat(),
  params: bytes(64)
})

const headerArb: fc.Arbitrary<BlockHeader> = fc.record({
  miner: addressArb,
  ticket: fc.option(bytes(96), { nil: null }),
  electionProof: fc.option(fc.record({ winCount: fc.maxSafeInteger(), vrfProof: bytes(96) }), { nil: null }),
  beaconEntries: fc.array(fc.record({ round: fc.maxSafeNat(), data: bytes(96) }), { maxLength: 3 }),
  winPoStProof: fc.array(fc.record({ postProof: fc.maxSafeInteger(), proofBytes: bytes(192) }), { maxLength: 2 }),
  parents: fc.array(cidArb, { maxLength: 3 }),
  parentWeight: natArb,
  height: fc.maxSafeNat(),
  parentStateRoot: cidArb,
  parentMessageReceipts: cidArb,
  messages: cidArb,
  blsAggregate: fc.option(sigArb, { nil: null }),
  timestamp: fc.maxSafeNat(),
  blockSig: fc.option(sigArb, { nil: null }),
  forkSignaling: fc.maxSafeNat(),
  parentBaseFee: natArb
})

const actorArb: fc.Arbitrary<Actor> = fc.record({
  code: cidArb,
  head: cidArb,
  nonce: fc.maxSafeNat(),
  balance: fc.bigInt({ min: 0n, max: 2n ** 300n }),
  delegatedAddress: fc.option(addressArb, { nil: null })
})

/** A copy of `b` with byte `at` (taken modulo the length) XORed with a non-zero `delta`. */
const mutate = (b: Uint8Array, at: number, delta: number): Uint8Array => {
  const out = b.slice()
  out[at % out.length]! ^= delta
  return out
}
const mutationArb = fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 }))

/** The error `fn` throws, or undefined. */
function thrown (fn: () => unknown): unknown {
  try { fn() } catch (err) { return err }
  return undefined
}

describe('round trips', () => {
  it('Message: decode(encode(m)) = m, and re-encoding gives the same bytes', () => {
    fc.assert(fc.property(messageArb, m => {
      const b = encodeMessage(m)
      const back = decodeMessage(b)
      expect(back).toEqual(m)
      expect(encodeMessage(back)).toEqual(b)
    }), { numRuns: 300 })
  })

  it('SignedMessage', () => {
    fc.assert(fc.property(messageArb, sigArb, (message, signature) => {
      const sm: SignedMessage = { message, signature }
      const b = encodeSignedMessage(sm)
      expect(decodeSignedMessage(b)).toEqual(sm)
      expect(encodeSignedMessage(decodeSignedMessage(b))).toEqual(b)
    }), { numRuns: 200 })
  })

  it('BlockHeader', () => {
    fc.assert(fc.property(headerArb, h => {
      const b = encodeHeader(h)
      const back = decodeHeader(b)
      expect(back).toEqual(h)
      expect(encodeHeader(back)).toEqual(b)
      expect(unsealHeader(b).cid.equals(chainCid(b))).toBe(true)
    }), { numRuns: 200 })
  })

  it('Actor', () => {
    fc.assert(fc.property(actorArb, a => {
      const b = dagCbor.encode(encodeActor(a))
      const back = decodeActor(dagCbor.decode(b))
      expect(back).toEqual(a)
      expect(dagCbor.encode(encodeActor(back))).toEqual(b)
    }), { numRuns: 300 })
  })

  it('BigInt wire form, any size and sign', () => {
    fc.assert(fc.property(bigArb, v => { expect(decodeBigInt(encodeBigInt(v))).toBe(v) }), { numRuns: 500 })
  })

  it('FIL amounts: parseFil(formatFil(x)) = x within total supply, and "x attoFIL" parses to x', () => {
    fc.assert(fc.property(fc.bigInt({ min: -TOTAL_FIL_ATTO, max: TOTAL_FIL_ATTO }), x => {
      expect(parseFil(formatFil(x))).toBe(x)
      expect(parseFil(`${x} attoFIL`)).toBe(x)
    }), { numRuns: 500 })
  })

  it('addresses: parseAddress(addressToString(a, net), net) = a on both networks, for f0-f4', () => {
    fc.assert(fc.property(addressArb, fc.constantFrom('f' as const, 't' as const), (a, net) => {
      const text = addressToString(a, net)
      expect(text.startsWith(`${net}${a[0]}`)).toBe(true)
      expect(parseAddress(text, net)).toEqual({ network: net, bytes: a })
    }), { numRuns: 500 })
  })

  it('addresses at the edges: an f4 with an empty sub-address; namespaces and IDs beyond int64 are refused (go-address)', () => {
    const empty = Uint8Array.of(4, 10)
    expect(parseAddress(addressToString(empty, 'f')).bytes).toEqual(empty)
    const two63 = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01] // uvarint(2^63)
    const sub = Uint8Array.of(0xaa, 0xbb)
    const f4 = Uint8Array.of(4, ...two63, ...sub)
    for (const bad of [f4, Uint8Array.of(0, ...two63)]) {
      expect(thrown(() => validateAddressBytes(bad))).toMatchObject({ name: 'InvalidAddressError', code: 'PAYLOAD' })
    }
    // the text form with a correct checksum, so only the namespace range can refuse it
    const text = `f4${2n ** 63n}f${base32.baseEncode(Uint8Array.of(...sub, ...blake2b(f4, { dkLen: 4 })))}`
    expect(thrown(() => parseAddress(text))).toMatchObject({ name: 'InvalidAddressError', code: 'PAYLOAD' })
  })
})

describe('one value, one byte string', () => {
  it('a big int with a leading zero byte in its magnitude is refused (Lotus never writes one)', () => {
    fc.assert(fc.property(fc.bigInt({ min: 1n, max: 2n ** 200n }), fc.boolean(), fc.integer({ min: 1, max: 3 }), (v, negative, zeros) => {
      const canonical = encodeBigInt(negative ? -v : v)
      const padded = Uint8Array.of(canonical[0]!, ...new Uint8Array(zeros), ...canonical.subarray(1))
      expect(thrown(() => decodeBigInt(padded))).toBeInstanceOf(RangeError)
    }), { numRuns: 200 })
    expect(thrown(() => decodeBigInt(Uint8Array.of(1, 0)))).toBeInstanceOf(RangeError) // "negative zero"
  })

  it('whatever bytes decode as a message re-encode to exactly those bytes', () => {
    fc.assert(fc.property(messageArb, mutationArb, (m, [at, delta]) => {
      const b = mutate(encodeMessage(m), at, delta)
      let back: Message
      try { back = decodeMessage(b) } catch (err) { expect(err).toBeInstanceOf(MessageRejectedError); return }
      expect(encodeMessage(back)).toEqual(b)
    }), { numRuns: 500 })
  })

  it('whatever bytes decode as a header re-encode to exactly those bytes', () => {
    fc.assert(fc.property(headerArb, mutationArb, (h, [at, delta]) => {
      const b = mutate(encodeHeader(h), at, delta)
      let back: BlockHeader
      try { back = decodeHeader(b) } catch (err) { expect(err).toBeInstanceOf(HeaderRejectedError); return }
      expect(encodeHeader(back)).toEqual(b)
    }), { numRuns: 300 })
  })
})

describe('a header inside a message (a chain exchange answer)', () => {
  /** What `fn` gives: its sealed header's CID and bytes, or the name of what it threw. */
  const outcome = (fn: () => SealedHeader): string => {
    try { const h = fn(); return `${h.cid.toString()} ${Buffer.from(h.bytes).toString('hex')}` } catch (err) { return `threw ${(err as Error).name}` }
  }

  it('seals as unsealHeader of its tuple re-encoded, whatever the tuple (sealHeaderTuple: one decode fewer)', () => {
    let sealed = 0
    fc.assert(fc.property(headerArb, fc.option(mutationArb, { nil: undefined }), (h, mutation) => {
      const b = mutation === undefined ? encodeHeader(h) : mutate(encodeHeader(h), mutation[0], mutation[1])
      let raw: unknown
      try { raw = dagCbor.decode(b) } catch { return }
      const direct = outcome(() => sealHeaderTuple(raw))
      expect(direct).toBe(outcome(() => unsealHeader(dagCbor.encode(raw))))
      if (!direct.startsWith('threw')) sealed++
    }), { numRuns: 800 })
    expect(sealed).toBeGreaterThan(100) // (the comparison ran on headers that seal, not only on refusals)
  })

  it('a parent named by a tag-42 CID with version byte 0 gives what the re-encoding gave', () => {
    const bytes = encodeHeader(fc.sample(headerArb, { numRuns: 1, seed: 42 })[0]!)
    const hex = Buffer.from(bytes).toString('hex')
    const parent = hex.indexOf('d82a5827000171')
    expect(parent).toBeGreaterThan(0)
    const raw = dagCbor.decode(Buffer.from(hex.slice(0, parent) + 'd82a5827000071' + hex.slice(parent + 14), 'hex'))
    expect(outcome(() => sealHeaderTuple(raw))).toBe(outcome(() => unsealHeader(dagCbor.encode(raw))))
  })
})

describe('single-byte changes are refused', () => {
  const secpKey = new Uint8Array(32).fill(1)
  const blsKey = new Uint8Array(32).fill(2)
  let signed: SignedMessage[]
  let genesis: Genesis
  let header: SealedHeader
  const T0 = 1_800_000_000
  const producerKey = new Uint8Array(32).fill(7)

  beforeAll(() => {
    const base = (from: Uint8Array): Message => ({
      version: 0, to: idAddressBytes(1001), from, nonce: 3, value: 12_345_678_901_234_567_890n, gasLimit: 1_500_000,
      gasFeeCap: 250n, gasPremium: 150n, method: 0, params: Uint8Array.of(1, 2, 3)
    })
    signed = [
      signMessage(secpKey, base(secpAddressBytes(secpPublicKey(secpKey)))),
      signMessage(blsKey, base(blsAddressBytes(blsPublicKey(blsKey))))
    ]
    genesis = createGenesis({ beacon: TEST_BEACON, network: 'test', producer: idAddressBytes(1000), producerKey: blsPublicKey(producerKey), blockDelaySecs: 1 }, T0)
    header = produceHeader(genesis.header, genesis, producerKey, T0 + 1, testBeaconEntries(genesis.header, genesis))
  })

  // "Refused" means: decoding throws a MessageRejectedError, or the decoded message fails
  // verifyMessageSignature with MessageSignatureError. A secp message's CID changes as well; a BLS
  // message keeps its CID when only the signature changed (BLS messages are addressed unsigned).
  const refusesMessageChanges = (which: number, numRuns: number): void => {
    fc.assert(fc.property(mutationArb, ([at, delta]) => {
      const original = signed[which]!
      const b = mutate(encodeSignedMessage(original), at, delta)
      let sm: SignedMessage
      try { sm = decodeSignedMessage(b) } catch (err) { expect(err).toBeInstanceOf(MessageRejectedError); return }
      expect(thrown(() => verifyMessageSignature(sm))).toMatchObject({ name: 'MessageSignatureError', code: 'BAD_SIGNATURE' })
      if (original.signature.type === 1) expect(signedMessageCid(sm).equals(signedMessageCid(original))).toBe(false)
    }), { numRuns })
  }
  it('secp256k1 signed message', () => { refusesMessageChanges(0, 250) })
  it('BLS signed message', () => { refusesMessageChanges(1, 40) })

  // "Refused" means unsealHeader throws a HeaderRejectedError (malformed or oversized) or validateHeader
  // against the true parent throws one (link, producer or signature), or a BeaconEntryError (a changed beacon entry).
  it('signed block header', () => {
    fc.assert(fc.property(mutationArb, ([at, delta]) => {
      const b = mutate(header.bytes, at, delta)
      const err = thrown(() => validateHeader(unsealHeader(b), genesis.header, genesis, T0 + 100))
      expect(err instanceof HeaderRejectedError || err instanceof BeaconEntryError, String(err)).toBe(true)
    }), { numRuns: 40 })
  })

  it('a signed header whose big ints are padded with zero bytes is refused, not accepted under a second CID', () => {
    const raw = dagCbor.decode(header.bytes) as unknown[]
    for (const field of [6, 15]) { // ParentWeight, ParentBaseFee
      const padded = [...raw]
      const v = raw[field] as Uint8Array
      padded[field] = Uint8Array.of(v[0]!, 0, ...v.subarray(1))
      const b = dagCbor.encode(padded)
      expect(thrown(() => validateHeader(unsealHeader(b), genesis.header, genesis, T0 + 100))).toMatchObject({ name: 'MalformedHeaderError' })
    }
  })

  it('a header naming its parent by a tag-42 CID with version byte 0 is refused, not decoded as a CIDv0', () => {
    const hex = Array.from(header.bytes, b => b.toString(16).padStart(2, '0')).join('')
    const parent = hex.indexOf('d82a5827000171') // the first CID of a header is Parents[0]
    expect(parent).toBeGreaterThan(0)
    const odd = hex.slice(0, parent) + 'd82a5827000071' + hex.slice(parent + 14)
    const b = Uint8Array.from(odd.match(/../g)!, x => parseInt(x, 16))
    expect(thrown(() => unsealHeader(b))).toMatchObject({ name: 'MalformedHeaderError' })
  })

  it('any block of an actor proof: verifyActorProof throws', () => {
    const store = new MemoryBlockStore()
    let root = createStateTree(store, store.put(dagCbor.encode({})))
    const addresses = Array.from({ length: 160 }, (_, i) => idAddressBytes(1000 + i))
    for (const a of addresses.slice(0, 120)) root = setActor(store, root, a, newAccountActor(store, a, 5n))
    // three present, three absent: absence proofs must be as tamper-proof as presence proofs
    const proofs = [0, 60, 119, 120, 140, 159].map(i => proveActor(store, root, addresses[i]!))
    fc.assert(fc.property(fc.nat(proofs.length - 1), fc.nat(), mutationArb, (p, block, [at, delta]) => {
      const proof = proofs[p]!
      const blocks = proof.blocks.map((blk, i) => i === block % proof.blocks.length ? mutate(blk, at, delta) : blk)
      expect(thrown(() => verifyActorProof(root, proof.address, blocks))).toMatchObject({ name: 'ProofIncompleteError' })
    }), { numRuns: 300 })
  })
})
