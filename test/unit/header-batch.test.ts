import { describe, it, expect } from 'vitest'
import { bls12_381 } from '@noble/curves/bls12-381.js'
import { randomBytes } from '@noble/hashes/utils.js'
import {
  verifyOneSignerBatch, validateHeaderRun, createGenesis, produceHeader, idAddressBytes, blsPublicKey, sealHeader,
  type SealedHeader
} from '../../src/core'

const bls = bls12_381.longSignatures
const key = bls.keygen().secretKey
const pk = blsPublicKey(key)
const msg = (i: number): Uint8Array => new TextEncoder().encode(`message ${i}`)
const sign = (m: Uint8Array): Uint8Array => bls.sign(bls.hash(m), key).toBytes(true)

describe('verifyOneSignerBatch', () => {
  const items = [0, 1, 2, 3].map(i => ({ message: msg(i), signature: sign(msg(i)) }))

  it('accepts valid signatures', () => {
    expect(verifyOneSignerBatch(pk, items, randomBytes)).toBe(true)
  })
  it('rejects one wrong signature', () => {
    const bad = items.map((it, i) => i === 2 ? { ...it, signature: items[1]!.signature } : it)
    expect(verifyOneSignerBatch(pk, bad, randomBytes)).toBe(false)
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
    expect(verifyOneSignerBatch(pk, crafted, randomBytes)).toBe(false)
  })
  it('rejects garbage bytes and a wrong key without throwing', () => {
    expect(verifyOneSignerBatch(pk, [{ message: msg(0), signature: new Uint8Array(96) }], randomBytes)).toBe(false)
    expect(verifyOneSignerBatch(pk, [{ message: msg(0), signature: new Uint8Array(5) }], randomBytes)).toBe(false)
    expect(verifyOneSignerBatch(blsPublicKey(bls.keygen().secretKey), items, randomBytes)).toBe(false)
  })
})

describe('validateHeaderRun', () => {
  const genesis = createGenesis({ network: 'batch', producer: idAddressBytes(1000), producerKey: pk, blockDelaySecs: 1 }, 1_800_000_000)
  const chain: SealedHeader[] = []
  let p = genesis.header
  for (let i = 0; i < 6; i++) { p = produceHeader(p, genesis, key, p.header.timestamp + 1); chain.push(p) }
  const now = 1_900_000_000

  it('accepts an honest run', () => {
    expect(() => validateHeaderRun(chain, genesis.header, genesis.state, now, randomBytes)).not.toThrow()
  })
  it('names the header whose signature is bad', () => {
    const last = chain[5]!
    const data = last.header.blockSig!.data.slice(); data[20] = data[20]! ^ 4
    const run = [...chain.slice(0, 5), sealHeader({ ...last.header, blockSig: { type: 2, data } })]
    let err: unknown
    try { validateHeaderRun(run, genesis.header, genesis.state, now, randomBytes) } catch (e) { err = e }
    expect((err as Error).name).toBe('BadSignatureError')
    expect((err as { height?: number }).height).toBe(6)
  })
  it('reports a bad signature below a broken link first, as one-by-one checking would', () => {
    const forged = produceHeader(genesis.header, genesis, bls.keygen().secretKey, genesis.header.header.timestamp + 1)
    const broken = produceHeader(forged, genesis, key, now + 3600) // in the future
    let err: unknown
    try { validateHeaderRun([forged, broken], genesis.header, genesis.state, now, randomBytes) } catch (e) { err = e }
    expect((err as Error).name).toBe('BadSignatureError')
    expect((err as { height?: number }).height).toBe(1)
  })
  it('checks links before any pairing', () => {
    let err: unknown
    try { validateHeaderRun([chain[0]!, chain[2]!], genesis.header, genesis.state, now, randomBytes) } catch (e) { err = e }
    expect((err as Error).name).toBe('UnknownParentError')
  })
})
