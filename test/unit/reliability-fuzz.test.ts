// The short form of `npm run reliability`'s decoder fuzzing (issue 16 part 3): every decoder that reads what
// someone else wrote, on random bytes, random DAG-CBOR and mutated valid inputs, returns or throws a named error.
import { describe, it, expect } from 'vitest'
import * as dagCbor from '@ipld/dag-cbor'
import { decodeRetrievalReply, decodeClientControl, decodeRetrievalRequest, RetrievalProtocolError, decodeSignature, decodeBigInt } from '../../src/core'
import { fuzzDecoders, isNamedError, targetsWithoutSeeds } from '../reliability/fuzz-decoders'
import { DECODER_TARGETS } from '../reliability/decoder-targets'

describe('fuzzing every decoder (short form)', () => {
  it('no decoder throws an engine error or stalls on 300 inputs of each kind', () => {
    const stats = new Map<string, { ok: number, named: number }>()
    const row = fuzzDecoders({ casesPerTarget: 300, stats })
    expect(row.failures).toEqual([])
    expect(row.crashes).toBe(0)
    expect(row.tries).toBe(300 * DECODER_TARGETS.length)
    // every decoder was handed inputs it took, not only ones its first check refuses
    expect(DECODER_TARGETS.filter(t => (stats.get(t.name)?.ok ?? 0) === 0).map(t => t.name)).toEqual([])
  })

  it('every decoder has a valid seed to mutate, so the fuzzing reaches its deeper checks', () => {
    expect(targetsWithoutSeeds()).toEqual([])
  })

  it('what it found stays fixed: a kind that is a big int, an empty signature, a bad big int sign are named', () => {
    const kindBig = dagCbor.encode({ kind: 2n ** 60n })
    for (const decode of [decodeRetrievalReply, decodeClientControl, decodeRetrievalRequest]) {
      expect(() => decode(kindBig)).toThrow(RetrievalProtocolError)
    }
    expect(() => decodeSignature(new Uint8Array(0))).toThrow(expect.objectContaining({ name: 'EmptySignatureError' }))
    expect(() => decodeBigInt(Uint8Array.of(7, 1))).toThrow(expect.objectContaining({ name: 'InvalidBigIntError' }))
    expect(() => decodeBigInt(Uint8Array.of(0))).toThrow(RangeError)
  })

  it('counts an engine error as a crash and a named one as an answer', () => {
    class NamedError extends Error { override name = 'NamedError' }
    expect(isNamedError(new NamedError('x'))).toBe(true)
    expect(isNamedError(new TypeError('x'))).toBe(false)
    expect(isNamedError(new Error('x'))).toBe(false)
    expect(isNamedError('a string')).toBe(false)
  })
})
