import { describe, it, expect, beforeAll } from 'vitest'
import { bls12_381 } from '@noble/curves/bls12-381.js'
import { randomBytes } from '@noble/hashes/utils.js'
import {
  verifyOneSignerBatch, validateHeaderRun, createGenesis, produceHeader, idAddressBytes, blsPublicKey, sealHeader, blsSign, headerSigningBytes,
  signBeaconRound, verifyBeaconBatch, beaconPublicKey,
  type SealedHeader, type OneSignerBatchVerifier
} from '../../src/core'
import { mclOneSignerBatch } from '../../src/core/finality/mcl-bls'
import { TEST_BEACON, testBeaconEntries } from '../helpers/test-beacon'

const bls = bls12_381.longSignatures
const key = bls.keygen().secretKey
const pk = blsPublicKey(key)
const msg = (i: number): Uint8Array => new TextEncoder().encode(`message ${i}`)
const sign = (m: Uint8Array): Uint8Array => bls.sign(bls.hash(m), key).toBytes(true)

// one suite, two executors (STYLE habit 4): core's noble batch, and the tab's mcl-wasm one for block signatures
const EXECUTORS: Array<[string, () => Promise<OneSignerBatchVerifier>]> = [['noble', async () => verifyOneSignerBatch], ['mcl-wasm', mclOneSignerBatch]]
describe.each(EXECUTORS)('verifyOneSignerBatch (%s)', (_name, make) => {
  let verify: OneSignerBatchVerifier = verifyOneSignerBatch
  beforeAll(async () => { verify = await make() })
  const items = [0, 1, 2, 3].map(i => ({ message: msg(i), signature: sign(msg(i)) }))

  it('accepts valid signatures', () => {
    expect(verify(pk, items, randomBytes)).toBe(true)
  })
  it('rejects one wrong signature', () => {
    const bad = items.map((it, i) => i === 2 ? { ...it, signature: items[1]!.signature } : it)
    expect(verify(pk, bad, randomBytes)).toBe(false)
  })
  it('rejects two invalid signatures crafted to cancel out (the reason for random weights)', () => {
    const delta = bls.hash(new TextEncoder().encode('delta'))
    const s0 = bls.Signature.fromBytes(items[0]!.signature).add(delta).toBytes(true)
    const s1 = bls.Signature.fromBytes(items[1]!.signature).subtract(delta).toBytes(true)
    const crafted = [{ ...items[0]!, signature: s0 }, { ...items[1]!, signature: s1 }]
    // an unweighted aggregate check is fooled…
    const agg = bls.aggregateSignatures(crafted.map(c => c.signature))
    expect(bls.verifyBatch(agg, crafted.map(c => ({ message: bls.hash(c.message), publicKey: pk })))).toBe(true)
    // …the weighted batch is not
    expect(verify(pk, crafted, randomBytes)).toBe(false)
  })
  it('accepts none and rejects a signature of another message', () => {
    expect(verify(pk, [], randomBytes)).toBe(true)
    expect(verify(pk, [{ message: msg(7), signature: items[0]!.signature }], randomBytes)).toBe(false)
  })
  it('rejects garbage bytes and a wrong key without throwing', () => {
    expect(verify(pk, [{ message: msg(0), signature: new Uint8Array(96) }], randomBytes)).toBe(false)
    expect(verify(pk, [{ message: msg(0), signature: new Uint8Array(5) }], randomBytes)).toBe(false)
    expect(verify(blsPublicKey(bls.keygen().secretKey), items, randomBytes)).toBe(false)
  })
})

describe('validateHeaderRun', () => {
  const genesis = createGenesis({ beacon: TEST_BEACON, network: 'batch', producer: idAddressBytes(1000), producerKey: pk, blockDelaySecs: 1 }, 1_800_000_000)
  const chain: SealedHeader[] = []
  let p = genesis.header
  for (let i = 0; i < 6; i++) { p = produceHeader(p, genesis, key, p.header.timestamp + 1, testBeaconEntries(p, genesis)); chain.push(p) }
  const now = 1_900_000_000

  it('accepts an honest run', () => {
    expect(() => validateHeaderRun(chain, genesis.header, genesis, now, randomBytes)).not.toThrow()
  })
  it('names the header whose signature is bad', () => {
    const last = chain[5]!
    const data = last.header.blockSig!.data.slice(); data[20] = data[20]! ^ 4
    const run = [...chain.slice(0, 5), sealHeader({ ...last.header, blockSig: { type: 2, data } })]
    let err: unknown
    try { validateHeaderRun(run, genesis.header, genesis, now, randomBytes) } catch (e) { err = e }
    expect((err as Error).name).toBe('BadSignatureError')
    expect((err as { height?: number }).height).toBe(6)
  })
  it('reports a bad signature below a broken link first, as one-by-one checking would', () => {
    const forged = produceHeader(genesis.header, genesis, bls.keygen().secretKey, genesis.header.header.timestamp + 1, testBeaconEntries(genesis.header, genesis))
    const broken = produceHeader(forged, genesis, key, now + 3600, testBeaconEntries(forged, genesis)) // in the future
    let err: unknown
    try { validateHeaderRun([forged, broken], genesis.header, genesis, now, randomBytes) } catch (e) { err = e }
    expect((err as Error).name).toBe('BadSignatureError')
    expect((err as { height?: number }).height).toBe(1)
  })
  it('names the header whose beacon entry is forged, even when its block signature is good (the producer re-signed it)', () => {
    const third = chain[2]!
    const round = third.header.beaconEntries[0]!.round
    const unsigned = { ...third.header, beaconEntries: [{ round, data: signBeaconRound(new Uint8Array(32).fill(5), round) }], blockSig: null }
    const forgedEntry = sealHeader({ ...unsigned, blockSig: { type: 2, data: blsSign(key, headerSigningBytes(unsigned)).data } })
    // its children name it as their parent: the run stays linked, so only the beacon batch can fail
    let parent = forgedEntry
    const above = chain.slice(3).map(h => (parent = produceHeader(parent, genesis, key, h.header.timestamp, testBeaconEntries(parent, genesis))))
    expect(() => validateHeaderRun([...chain.slice(0, 2), forgedEntry, ...above], genesis.header, genesis, now, randomBytes))
      .toThrow(expect.objectContaining({ name: 'BadBeaconSignatureError', round }))
  })
  it('the beacon batch refuses one bad entry among many, and a malformed one', () => {
    const entries = chain.flatMap(h => h.header.beaconEntries)
    expect(verifyBeaconBatch(TEST_BEACON.publicKey, entries, randomBytes)).toBe(true)
    const swapped = entries.map((e, i) => i === 3 ? { round: e.round, data: entries[4]!.data } : e)
    expect(verifyBeaconBatch(TEST_BEACON.publicKey, swapped, randomBytes)).toBe(false)
    expect(verifyBeaconBatch(TEST_BEACON.publicKey, [...entries, { round: 1, data: new Uint8Array(48) }], randomBytes)).toBe(false)
    expect(verifyBeaconBatch(beaconPublicKey(new Uint8Array(32).fill(5)), entries, randomBytes)).toBe(false)
  })
  it('checks links before any pairing', () => {
    let err: unknown
    try { validateHeaderRun([chain[0]!, chain[2]!], genesis.header, genesis, now, randomBytes) } catch (e) { err = e }
    expect((err as Error).name).toBe('UnknownParentError')
  })
})
