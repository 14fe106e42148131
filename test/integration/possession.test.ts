// Proof of possession end to end: pieces written to disk, a proof made by streaming them once, and the
// proof checked by the TypeScript verifier and by the WASM node hash. Every kind of tampering fails, by name.
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import fc from 'fast-check'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import {
  pieceDigest, pieceCidV1, pieceCidV2, deriveChallenges, verifyPossession, decodePossessionProof, encodePossessionProof,
  encodeProofSet, decodeProofSet, type ProofSet
} from '../../src/core'
import { provePossession } from '../../src/node/prove-possession'
import { loadPieceWasm } from '../helpers/wasm'
import type { PieceWasm } from '../../workers/wasm/piece-wasm'

let dir: string
let files: string[]
let set: ProofSet
let wasm: PieceWasm
const SEED = new Uint8Array(32).map((_, i) => i * 13 + 1)
const COUNT = 5

beforeAll(async () => {
  wasm = await loadPieceWasm()
  dir = await mkdtemp(path.join(tmpdir(), 'coffer-pdp-'))
  const sizes = [300_000, 65, 1_000_003, 40_000]
  files = []
  const pieces = []
  for (const [i, n] of sizes.entries()) {
    const payload = new Uint8Array(n).map((_, j) => (j * (i + 3) + (j >> 11)) & 0xff)
    const file = path.join(dir, `piece-${i}.bin`)
    await writeFile(file, payload)
    files.push(file)
    const d = pieceDigest(payload)
    pieces.push({ pieceCid: pieceCidV1(d.root), paddedBytes: d.paddedBytes })
    expect(String(pieceCidV2(d))).toMatch(/^bafkzcib/)
  }
  set = { pieces }
})
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

describe('proof of possession', () => {
  it('proves from disk and verifies, with the TypeScript and the WASM verifier', async () => {
    const proof = await provePossession(set, files, SEED, COUNT, wasm.simd)
    expect(() => verifyPossession(set, SEED, COUNT, proof)).not.toThrow()
    expect(() => verifyPossession(set, SEED, COUNT, proof, wasm.verifyMerklePath)).not.toThrow()
    expect(decodePossessionProof(proof).map(p => [p.piece, p.leaf])).toEqual(deriveChallenges(SEED, set, COUNT).map(c => [c.piece, c.leaf]))
    // the proof set itself round-trips as Filecoin PieceInfo tuples
    expect(decodeProofSet(encodeProofSet(set)).pieces.map(p => String(p.pieceCid))).toEqual(set.pieces.map(p => String(p.pieceCid)))
  })

  it('weights challenges by piece size', () => {
    const many = deriveChallenges(SEED, set, 1000)
    const share = (i: number): number => many.filter(c => c.piece === i).length / many.length
    const total = set.pieces.reduce((n, p) => n + p.paddedBytes, 0)
    for (const [i, p] of set.pieces.entries()) expect(Math.abs(share(i) - p.paddedBytes / total)).toBeLessThan(0.06)
  })

  it('fails on any changed byte: leaf, path node, index or root', async () => {
    const proof = await provePossession(set, files, SEED, COUNT)
    const answers = decodePossessionProof(proof)
    const tampered = (mutate: (a: typeof answers) => void): Uint8Array => {
      const copy = answers.map(a => ({ ...a, value: a.value.slice(), path: a.path.map(p => p.slice()) }))
      mutate(copy)
      return encodePossessionProof(copy)
    }
    for (const check of [undefined, wasm.verifyMerklePath]) {
      expect(() => verifyPossession(set, SEED, COUNT, tampered(a => { a[0]!.value[7]! ^= 1 }), check)).toThrow(expect.objectContaining({ code: 'BAD_PATH' }))
      expect(() => verifyPossession(set, SEED, COUNT, tampered(a => { a[2]!.path[3]![0]! ^= 0x80 }), check)).toThrow(expect.objectContaining({ code: 'BAD_PATH' }))
    }
    expect(() => verifyPossession(set, SEED, COUNT, tampered(a => { a[1]!.leaf += 1 }))).toThrow(expect.objectContaining({ code: 'WRONG_CHALLENGE' }))
    expect(() => verifyPossession(set, SEED, COUNT, tampered(a => { a.pop() }))).toThrow(expect.objectContaining({ code: 'WRONG_CHALLENGE' }))
    const otherRoot = { pieces: set.pieces.map((p, i) => i === answers[0]!.piece ? { ...p, pieceCid: set.pieces[(i + 1) % set.pieces.length]!.pieceCid } : p) }
    expect(() => verifyPossession(otherRoot, SEED, COUNT, proof)).toThrow(expect.objectContaining({ name: 'PossessionProofError' }))
    expect(() => verifyPossession(set, new Uint8Array(32), COUNT, proof)).toThrow(expect.objectContaining({ code: 'WRONG_CHALLENGE' }))
    // any single byte of the encoded proof
    fc.assert(fc.property(fc.integer({ min: 0, max: proof.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, x) => {
      const bad = proof.slice()
      bad[at]! ^= x
      expect(() => verifyPossession(set, SEED, COUNT, bad)).toThrow(expect.objectContaining({ name: 'PossessionProofError' }))
      expect(() => verifyPossession(set, SEED, COUNT, bad, wasm.verifyMerklePath)).toThrow(expect.objectContaining({ name: 'PossessionProofError' }))
    }), { numRuns: 200 })
  })

  it('names truncated proofs, out-of-range indexes and files that changed on disk', async () => {
    const proof = await provePossession(set, files, SEED, COUNT)
    for (const cut of [1, 10, proof.length - 1]) {
      expect(() => verifyPossession(set, SEED, COUNT, proof.subarray(0, cut))).toThrow(expect.objectContaining({ code: 'MALFORMED' }))
    }
    const answers = decodePossessionProof(proof)
    const huge = encodePossessionProof(answers.map((a, i) => i === 0 ? { ...a, leaf: 2 ** 40 } : a))
    expect(() => verifyPossession(set, SEED, COUNT, huge)).toThrow(expect.objectContaining({ code: 'WRONG_CHALLENGE' }))
    expect(() => deriveChallenges(SEED, { pieces: [] }, 1)).toThrow(expect.objectContaining({ code: 'EMPTY_SET' }))
    // a count of nothing, a fraction or a billion is refused at once, not verified or derived
    const none = encodePossessionProof([])
    for (const count of [0, -5, 2.5, Number.NaN, 1e9]) {
      expect(() => verifyPossession(set, SEED, count, none)).toThrow(expect.objectContaining({ code: 'MALFORMED' }))
    }
    const changed = challengedFile()
    await writeFile(files[changed]!, new Uint8Array(300_000))
    await expect(provePossession(set, files, SEED, COUNT)).rejects.toMatchObject({ name: 'PossessionProofError', message: expect.stringMatching(/no longer hashes/) })
  })
})

function challengedFile (): number {
  return deriveChallenges(SEED, set, COUNT)[0]!.piece
}
