// Proofs of possession from cached segment roots: byte for byte the full-pass proof (provePossession) over
// sizes around the segment boundaries and several seeds, accepted by the chain's verifier; a changed byte in
// a challenged segment is BAD_PATH naming the segment; a wrong cache is SegmentRootsMismatchError.
import { describe, it, expect, beforeAll } from 'vitest'
import fc from 'fast-check'
import {
  PieceHasher, pieceDigest, pieceCidV1, combineSegments, deriveChallenges, verifyPossession, provePossession,
  provePossessionFromSegments, SEGMENT_PAYLOAD_BYTES, SEGMENT_HEIGHT, nobleNodeHasher,
  type NodeHasher, type ProofSet, type SegmentedPayload
} from '../../src/core'
import { loadPieceWasm } from '../helpers/wasm'

const SEG = SEGMENT_PAYLOAD_BYTES
let fast: NodeHasher

beforeAll(async () => { fast = (await loadPieceWasm()).simd })

/** Deterministic bytes (xorshift), so a failure names a reproducible size. */
function bytes (n: number, seed = n): Uint8Array {
  const out = new Uint8Array(n)
  let x = (seed * 2654435761) >>> 0 || 1
  for (let i = 0; i < n; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; out[i] = x & 0xff }
  return out
}

/** Segment roots as the pool computes them: each segment hashed alone, a short last one lifted. */
function segmentRoots (payload: Uint8Array, hasher: NodeHasher): Uint8Array[] {
  const roots: Uint8Array[] = []
  for (let at = 0; at < payload.length; at += SEG) {
    const h = new PieceHasher(hasher)
    h.write(payload.subarray(at, at + SEG))
    roots.push(h.rootAt(SEGMENT_HEIGHT))
  }
  return roots
}

function setOf (payload: Uint8Array, hasher: NodeHasher): ProofSet {
  const d = pieceDigest(payload, hasher)
  return { pieces: [{ pieceCid: pieceCidV1(d.root), paddedBytes: d.paddedBytes }] }
}

function source (payload: Uint8Array, roots: Uint8Array[] | undefined, reads: number[] = []): SegmentedPayload {
  return {
    payloadBytes: payload.length,
    segmentRoots: roots,
    readSegment: async (s) => { reads.push(s); return payload.slice(s * SEG, Math.min(payload.length, (s + 1) * SEG)) }
  }
}

const seeds = [1, 2, 3].map(k => new Uint8Array(32).map((_, i) => (i * 31 + k * 97) & 0xff))
// the chain's count is 5; more challenges reach more segments, the zero padding included
const COUNTS = [5, 64]

describe('proof of possession from cached segment roots', () => {
  // one segment exactly; one segment + 1 byte; a few segments + an odd tail; 5 segments (8 slots: 3 of zeros)
  for (const n of [SEG, SEG + 1, 3 * SEG + 12_345, 4 * SEG + 777]) {
    it(`gives the full pass's proof bytes for ${n} payload bytes`, async () => {
      const payload = bytes(n)
      const set = setOf(payload, fast)
      const roots = segmentRoots(payload, fast)
      if (n > SEG) expect(combineSegments(roots, n, fast).root).toEqual(set.pieces[0]!.pieceCid.multihash.digest)
      for (const seed of seeds) {
        for (const count of COUNTS) {
          const reads: number[] = []
          const proof = await provePossessionFromSegments(set, () => source(payload, n > SEG ? roots : undefined, reads), seed, count, fast)
          expect(proof).toEqual(await provePossession(set, () => [payload], seed, count, fast))
          expect(() => { verifyPossession(set, seed, count, proof) }).not.toThrow()
          // only the challenged segments (those holding payload) were read
          const challenged = new Set(deriveChallenges(seed, set, count).map(c => Math.floor(c.leaf / 2 ** SEGMENT_HEIGHT)).filter(s => s * SEG < n))
          expect(new Set(reads)).toEqual(n > SEG ? challenged : new Set([0]))
        }
      }
    }, 120_000)
  }

  it('gives the full pass\'s proof bytes for random multi-segment sizes and seeds', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: SEG + 1, max: 6 * SEG }), fc.uint8Array({ minLength: 32, maxLength: 32 }), async (n, seed) => {
      const payload = bytes(n)
      const set = setOf(payload, fast)
      const proof = await provePossessionFromSegments(set, () => source(payload, segmentRoots(payload, fast)), seed, 32, fast)
      expect(proof).toEqual(await provePossession(set, () => [payload], seed, 32, fast))
      verifyPossession(set, seed, 32, proof)
    }), { numRuns: 6 })
  }, 240_000)

  it('makes the same bytes with the TypeScript node hash as with the WASM one', async () => {
    const payload = bytes(SEG + 4_000)
    const set = setOf(payload, fast)
    const roots = segmentRoots(payload, fast)
    expect(await provePossessionFromSegments(set, () => source(payload, roots), seeds[0]!, 3, nobleNodeHasher))
      .toEqual(await provePossessionFromSegments(set, () => source(payload, roots), seeds[0]!, 3, fast))
  }, 120_000)

  it('refuses with BAD_PATH, naming the piece and segment, when a challenged segment\'s bytes changed', async () => {
    const payload = bytes(3 * SEG + 99)
    const set = setOf(payload, fast)
    const roots = segmentRoots(payload, fast)
    const seed = seeds[1]!
    const hit = Math.floor(deriveChallenges(seed, set, 5)[0]!.leaf / 2 ** SEGMENT_HEIGHT)
    const damaged = payload.slice()
    damaged[Math.min(hit * SEG + 1000, payload.length - 1)]! ^= 0x01
    await expect(provePossessionFromSegments(set, () => source(damaged, roots), seed, 5, fast))
      .rejects.toMatchObject({ name: 'PossessionProofError', code: 'BAD_PATH', message: expect.stringContaining(`piece 0 (${String(set.pieces[0]!.pieceCid)}) segment ${hit}`) })
    // a short read (the file lost its tail) is the same refusal, not a proof over fewer bytes
    const last = Math.ceil(payload.length / SEG) - 1
    const short: SegmentedPayload = { ...source(payload, roots), readSegment: async (s) => payload.slice(s * SEG, Math.min(payload.length - 1, (s + 1) * SEG)) }
    const seedLast = seeds.find(sd => deriveChallenges(sd, set, 64).some(c => Math.floor(c.leaf / 2 ** SEGMENT_HEIGHT) === last))!
    await expect(provePossessionFromSegments(set, () => short, seedLast, 64, fast)).rejects.toMatchObject({ name: 'PossessionProofError', code: 'BAD_PATH' })
    // the same damage in a segment no challenge reads goes unseen this period: PDP samples, it does not scan
    const unread = [0, 1, 2, 3].find(s => !deriveChallenges(seed, set, 5).some(c => Math.floor(c.leaf / 2 ** SEGMENT_HEIGHT) === s))
    if (unread !== undefined && unread * SEG < payload.length) {
      const elsewhere = payload.slice()
      elsewhere[unread * SEG + 5]! ^= 0x01
      verifyPossession(set, seed, 5, await provePossessionFromSegments(set, () => source(elsewhere, roots), seed, 5, fast))
    }
  }, 120_000)

  it('refuses a wrong cache by name before it reads any segment', async () => {
    const payload = bytes(2 * SEG + 5)
    const set = setOf(payload, fast)
    const roots = segmentRoots(payload, fast)
    const cid = String(set.pieces[0]!.pieceCid)
    const wrong = roots.map(r => r.slice())
    wrong[2]![0]! ^= 0x01 // a root no challenge's segment is: the check is on the whole cache
    const reads: number[] = []
    for (const bad of [wrong, roots.slice(0, 2), [...roots, roots[0]!], undefined]) {
      await expect(provePossessionFromSegments(set, () => source(payload, bad, reads), seeds[0]!, 5, fast))
        .rejects.toMatchObject({ name: 'SegmentRootsMismatchError', piece: 0, pieceCid: cid })
    }
    expect(reads).toEqual([])
    // the right roots for the wrong length (a payload of the same piece with its zero tail trimmed) are refused too
    await expect(provePossessionFromSegments(set, () => ({ ...source(payload, roots), payloadBytes: 3 * SEG + 1 }), seeds[0]!, 5, fast))
      .rejects.toMatchObject({ name: 'SegmentRootsMismatchError' })
  }, 120_000)
})
