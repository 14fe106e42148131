// CommP and piece CIDs against two independent implementations, run in the same test on the same bytes:
// @web3-storage/data-segment (JS) and fr32-sha2-256-trunc254-padded-binary-tree-multihash (Rust → WASM).
// Sizes cover the smallest legal piece, one below / at / above each power of two of 127-byte chunks, and
// the 1,024-leaf batch boundary of our streaming hasher.
import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { Piece } from '@web3-storage/data-segment'
import * as RustHasher from 'fr32-sha2-256-trunc254-padded-binary-tree-multihash'
import { CID } from 'multiformats/cid'
import {
  PieceHasher, pieceDigest, pieceCidV1, pieceCidV2, parsePieceCidV2, fr32Pad, zeroComm,
  MIN_PIECE_PAYLOAD_BYTES, FR32_IN_BYTES, SEGMENT_PAYLOAD_BYTES, SEGMENT_HEIGHT, combineSegments, nobleNodeHasher
} from '../../src/core'

const wasmLess = nobleNodeHasher

/** Deterministic bytes (xorshift), so a failure names a reproducible size. */
function bytes (n: number, seed = n): Uint8Array {
  const out = new Uint8Array(n)
  let x = (seed * 2654435761) >>> 0 || 1
  for (let i = 0; i < n; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; out[i] = x & 0xff }
  return out
}

function rustMultihash (payload: Uint8Array): Uint8Array {
  const h = RustHasher.create()
  h.write(payload)
  const out = new Uint8Array(h.multihashByteLength())
  h.digestInto(out, 0, true)
  h.free()
  return out
}

const SIZES = [
  MIN_PIECE_PAYLOAD_BYTES, 66, 100, 126, 127, 128, 200, 253, 254, 255,
  ...[2, 3, 4, 5, 8, 9, 10, 12].flatMap(k => [127 * 2 ** k - 1, 127 * 2 ** k, 127 * 2 ** k + 1]),
  256 * 127 - 1, 256 * 127, 256 * 127 + 1, 2 * 256 * 127, 5 * 256 * 127 + 77, 1 << 20
]

describe('CommP and piece CIDs', () => {
  it.each(SIZES)('%i payload bytes: same root, height, padding and CIDs as both references', (n) => {
    const payload = bytes(n)
    const ours = pieceDigest(payload)
    const theirs = Piece.fromPayload(payload)
    expect(Buffer.from(ours.root).toString('hex')).toBe(Buffer.from(theirs.root).toString('hex'))
    expect(ours.height).toBe(theirs.height)
    expect(BigInt(ours.padding)).toBe(BigInt(theirs.padding))
    expect(ours.paddedBytes).toBe(Number(Piece.toInfo(theirs).size))
    expect(String(pieceCidV2(ours))).toBe(String(Piece.toLink(theirs)))
    expect(String(pieceCidV1(ours.root))).toBe(String(Piece.toInfo(theirs).link))
    expect(Buffer.from(pieceCidV2(ours).multihash.bytes).toString('hex')).toBe(Buffer.from(rustMultihash(payload)).toString('hex'))
  })

  it('gives the same digest however the stream is cut into chunks', () => {
    fc.assert(fc.property(fc.integer({ min: MIN_PIECE_PAYLOAD_BYTES, max: 80_000 }), fc.array(fc.integer({ min: 1, max: 40_000 }), { maxLength: 8 }), (n, cuts) => {
      const payload = bytes(n, 7)
      const h = new PieceHasher()
      let at = 0
      for (const c of cuts) { h.write(payload.subarray(at, Math.min(n, at + c))); at = Math.min(n, at + c) }
      h.write(payload.subarray(at))
      expect(String(pieceCidV2(h.digest()))).toBe(String(pieceCidV2(pieceDigest(payload))))
    }), { numRuns: 25 })
  })

  it('refuses payloads too small to be a piece, by name', () => {
    for (const n of [0, 1, 64]) expect(() => pieceDigest(new Uint8Array(n))).toThrow(expect.objectContaining({ name: 'PieceTooSmallError' }))
  })

  it('all-zero payloads give the zero-commitment roots', () => {
    // 127·2^k zero bytes fill 4·2^k zero leaves exactly: the root is the zero subtree of height k + 2
    for (const k of [0, 3, 9]) expect(pieceDigest(new Uint8Array(127 * 2 ** k)).root).toEqual(zeroComm(k + 2))
  })

  it('reads v2 piece CIDs back, and refuses other CIDs', () => {
    const d = pieceDigest(bytes(5000))
    expect(parsePieceCidV2(pieceCidV2(d))).toEqual({ root: d.root, height: d.height, padding: d.padding })
    expect(() => parsePieceCidV2(pieceCidV1(d.root))).toThrow(expect.objectContaining({ name: 'InvalidPieceCidError' }))
    expect(() => parsePieceCidV2(CID.parse('bafkqaaa'))).toThrow(expect.objectContaining({ name: 'InvalidPieceCidError' }))
  })
})

describe('FR32', () => {
  /** The inverse, bit by bit: the 4 × 254 bits of each 128-byte quad, back to 127 bytes. */
  function unpad (padded: Uint8Array): Uint8Array {
    const out = new Uint8Array(padded.length / 128 * 127)
    let bit = 0
    for (let q = 0; q < padded.length / 32; q++) {
      for (let b = 0; b < 254; b++, bit++) {
        if ((padded[q * 32 + (b >> 3)]! >> (b & 7)) & 1) out[bit >> 3]! |= 1 << (bit & 7)
      }
    }
    return out
  }

  it('keeps every bit, and clears the top two bits of each 32-byte leaf', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: FR32_IN_BYTES * 3, maxLength: FR32_IN_BYTES * 3 }), (input) => {
      const out = new Uint8Array(128 * 3)
      fr32Pad(input, 0, out, 0, 3)
      for (let l = 0; l < out.length / 32; l++) expect(out[l * 32 + 31]! & 0xc0).toBe(0)
      expect(unpad(out)).toEqual(input)
    }), { numRuns: 50 })
  })
})

describe('segmented CommP (the worker pool’s split)', () => {
  it.each([SEGMENT_PAYLOAD_BYTES + 1, 2 * SEGMENT_PAYLOAD_BYTES, 3 * SEGMENT_PAYLOAD_BYTES - 5000])('segments of %i bytes combine to the whole piece’s digest', (n) => {
    const payload = bytes(n, 3)
    const roots: Uint8Array[] = []
    for (let at = 0; at < n; at += SEGMENT_PAYLOAD_BYTES) {
      const seg = payload.subarray(at, Math.min(n, at + SEGMENT_PAYLOAD_BYTES))
      const h = new PieceHasher(wasmLess)
      h.write(seg)
      roots.push(h.rootAt(SEGMENT_HEIGHT))
    }
    const whole = pieceDigest(payload)
    expect(combineSegments(roots, n)).toEqual(whole)
  })
})
