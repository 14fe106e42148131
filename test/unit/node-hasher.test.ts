// One suite, every implementation of the piece tree's node hash: the @noble/hashes reference, Node's
// OpenSSL, and the WASM module's scalar and SIMD paths. Each must give the reference's bytes for any input
// and any batch size, and build the same CommP as the data-segment package.
import { describe, it, expect, beforeAll } from 'vitest'
import fc from 'fast-check'
import { Piece } from '@web3-storage/data-segment'
import { nobleNodeHasher, pieceDigest, fr32Pad, type NodeHasher } from '../../src/core'
import { nodeCryptoHasher } from '../../src/node/node-hasher'
import { loadPieceWasm } from '../helpers/wasm'
import type { PieceWasm } from '../../workers/wasm/piece-wasm'

let wasm: PieceWasm
beforeAll(async () => { wasm = await loadPieceWasm() })

const implementations: Array<[string, () => NodeHasher]> = [
  ['node:crypto', () => nodeCryptoHasher],
  ['WASM scalar', () => wasm.scalar],
  ['WASM SIMD ×4', () => wasm.simd]
]

describe.each(implementations)('NodeHasher %s', (_, get) => {
  it('matches the reference on any inputs, for every batch size', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 37 }).chain(pairs => fc.uint8Array({ minLength: pairs * 64, maxLength: pairs * 64 })), (input) => {
      const pairs = input.length / 64
      const want = new Uint8Array(pairs * 32)
      const got = new Uint8Array(pairs * 32)
      nobleNodeHasher.hashPairs(input, want, pairs)
      get().hashPairs(input, got, pairs)
      expect(Buffer.from(got).toString('hex')).toBe(Buffer.from(want).toString('hex'))
    }), { numRuns: 60 })
  })

  it.each([127, 4_000, 32_512, 100_001, 1 << 20])('builds the data-segment CommP of %i bytes', (n) => {
    const payload = new Uint8Array(n).map((_, i) => (i * 131 + (i >> 9)) & 0xff)
    expect(Buffer.from(pieceDigest(payload, get()).root).toString('hex')).toBe(Buffer.from(Piece.fromPayload(payload).root).toString('hex'))
  })
})

describe('WASM subtree (FR32 and every level in one call)', () => {
  it.each([1, 2, 8, 256, 4096])('the root of %i chunks equals the reference piece root of the same bytes', (chunks) => {
    const payload = new Uint8Array(chunks * 127).map((_, i) => (i * 7 + chunks) & 0xff)
    expect(wasm.simd.subtreeRoot!(payload, chunks)).toEqual(pieceDigest(payload, nobleNodeHasher).root)
  })
  it('refuses a chunk count that is not a power of two', () => {
    expect(() => wasm.simd.subtreeRoot!(new Uint8Array(3 * 127), 3)).toThrow(RangeError)
  })
})

describe('WASM FR32', () => {
  it('pads exactly as the TypeScript reference', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 9 }).chain(chunks => fc.uint8Array({ minLength: chunks * 127, maxLength: chunks * 127 })), (input) => {
      const chunks = input.length / 127
      const want = new Uint8Array(chunks * 128)
      const got = new Uint8Array(chunks * 128)
      fr32Pad(input, 0, want, 0, chunks)
      wasm.fr32Pad(input, got, chunks)
      expect(got).toEqual(want)
    }), { numRuns: 40 })
  })
})
