// Proofs of possession from payload files and their kept segment roots (`<file>.segroots`): the same bytes as the
// full pass over the file; the cache built on the shared pool where absent and kept; a file written since the
// cache (stale stamp) hashed again and refused when it no longer makes the piece; an edited cache rebuilt; bit
// rot under an unchanged stamp caught in the segment a challenge reads.
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { mkdtemp, rm, writeFile, readFile, open } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import * as dagCbor from '@ipld/dag-cbor'
import {
  pieceCidV1, pieceDigest, verifyPossession, deriveChallenges, SEGMENT_PAYLOAD_BYTES, SEGMENT_HEIGHT, type ProofSet
} from '../../src/core'
import { pieceOfFile, pieceWriter, SegmentedHasher } from '../../src/node/piece-file'
import { nodeCryptoHasher } from '../../src/node/node-hasher'
import { provePossession, provePossessionFromFiles } from '../../src/node/prove-possession'
import { pieceTreePath, readPieceTree, writePieceTree, fileStamp } from '../../src/node/provider/piece-tree-cache'

const SEG = SEGMENT_PAYLOAD_BYTES
const N = 9 * 2 ** 20 // 9 MiB: three segments, the last short; 2^19 leaves, so a quarter of the tree is zeros
const seeds = [5, 6, 7].map(k => new Uint8Array(32).map((_, i) => (i * 17 + k * 41) & 0xff))
let dir: string
let file: string
let payload: Uint8Array
let set: ProofSet

function bytes (n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n)
  let x = seed >>> 0 || 1
  for (let i = 0; i < n; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; out[i] = x & 0xff }
  return out
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'coffer-prove-tree-'))
  file = path.join(dir, 'payload.car')
  payload = bytes(N, 99)
  await writeFile(file, payload)
  const piece = await pieceOfFile(file)
  set = { pieces: [{ pieceCid: pieceCidV1(piece.digest.root), paddedBytes: piece.digest.paddedBytes }] }
}, 60_000)
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

const segmentOf = (leaf: number): number => Math.floor(leaf / 2 ** SEGMENT_HEIGHT)

describe('proofs from a payload file and its kept segment roots', () => {
  it('the pool and the streamed writer give the segment roots of the piece', async () => {
    const piece = await pieceOfFile(file)
    expect(piece.segmentRoots).toHaveLength(3)
    const w = await pieceWriter()
    for (let at = 0; at < N; at += 1 << 20) await w.write(payload.subarray(at, at + (1 << 20)))
    const streamed = await w.finish()
    expect(streamed.segmentRoots).toEqual(piece.segmentRoots)
    expect(streamed.v1.equals(piece.v1)).toBe(true)
    // and so does the node:crypto fallback on this thread (where the WASM module is not built), in one pass
    const onThread = new SegmentedHasher(nodeCryptoHasher)
    for (let at = 0; at < N; at += 3_000_001) onThread.write(payload.subarray(at, at + 3_000_001))
    const fallback = onThread.finish()
    expect(fallback.segmentRoots).toEqual(piece.segmentRoots)
    expect(fallback.digest).toEqual(piece.digest)
    const one = new SegmentedHasher(nodeCryptoHasher)
    one.write(payload.subarray(0, SEG))
    const single = one.finish()
    expect(single.digest).toEqual(pieceDigest(payload.subarray(0, SEG)))
    expect(single.segmentRoots).toBeUndefined()
    // a payload of one segment or less has no segment roots: it is proved by a full pass
    const small = path.join(dir, 'small.bin')
    await writeFile(small, payload.subarray(0, SEG))
    expect((await pieceOfFile(small)).segmentRoots).toBeUndefined()
  }, 60_000)

  it('builds the cache on first use, keeps it, and proves the full pass\'s bytes from it', async () => {
    expect(existsSync(pieceTreePath(file))).toBe(false)
    const log: string[] = []
    for (const [i, seed] of seeds.entries()) {
      const proof = await provePossessionFromFiles(set, [{ file, payloadBytes: N }], seed, 5, { log: (l) => log.push(l) })
      expect(proof).toEqual(await provePossession(set, [file], seed, 5))
      verifyPossession(set, seed, 5, proof)
      // built once, at the first proof
      expect(log.filter(l => l.includes('tree cache absent'))).toHaveLength(1)
      if (i === 0) expect(existsSync(pieceTreePath(file))).toBe(true)
    }
    const kept = await readPieceTree(file, { pieceCid: set.pieces[0]!.pieceCid, payloadBytes: N })
    expect(kept).toEqual({ segmentRoots: (await pieceOfFile(file)).segmentRoots })
    // and it says what it is
    expect(dagCbor.decode(await readFile(pieceTreePath(file)))).toMatchObject({ format: 'coffer/piece-segment-roots', version: 1, segmentHeight: 17, payloadBytes: N })
  }, 120_000)

  it('rebuilds a cache whose roots were edited (stamp unchanged) and still proves', async () => {
    await provePossessionFromFiles(set, [{ file, payloadBytes: N }], seeds[0]!, 5)
    const m = dagCbor.decode<Record<string, unknown> & { roots: Uint8Array }>(await readFile(pieceTreePath(file)))
    const roots = m.roots.slice() as Uint8Array
    roots[40]! ^= 1
    await writeFile(pieceTreePath(file), dagCbor.encode({ ...m, roots }))
    const log: string[] = []
    const proof = await provePossessionFromFiles(set, [{ file, payloadBytes: N }], seeds[1]!, 5, { log: (l) => log.push(l) })
    verifyPossession(set, seeds[1]!, 5, proof)
    expect(log.join('\n')).toMatch(/SegmentRootsMismatchError|combine to another piece/)
    expect((dagCbor.decode(await readFile(pieceTreePath(file))) as { roots: Uint8Array }).roots[40]).toBe(m.roots[40])
  }, 120_000)

  it('refuses a payload rewritten in place, wherever the byte lies (the stamp changed, so it is hashed whole again)', async () => {
    const copy = path.join(dir, 'rewritten.car')
    await writeFile(copy, payload)
    await provePossessionFromFiles(set, [{ file: copy, payloadBytes: N }], seeds[0]!, 5)
    // a byte in a segment none of seed 0's challenges reads: the cache alone would not see it
    const unread = [0, 1, 2].find(s => !deriveChallenges(seeds[0]!, set, 5).some(c => segmentOf(c.leaf) === s))!
    expect(unread).toBeDefined()
    const fh = await open(copy, 'r+')
    await fh.write(new Uint8Array([payload[unread * SEG + 10]! ^ 0xff]), 0, 1, unread * SEG + 10)
    await fh.close()
    await expect(provePossessionFromFiles(set, [{ file: copy, payloadBytes: N }], seeds[0]!, 5))
      .rejects.toMatchObject({ name: 'PossessionProofError', code: 'BAD_PATH', message: expect.stringMatching(/no longer hashes to its root/) })
  }, 120_000)

  it('catches a changed segment under an unchanged stamp (bit rot) when a challenge reads it', async () => {
    const copy = path.join(dir, 'rotten.car')
    await writeFile(copy, payload)
    await provePossessionFromFiles(set, [{ file: copy, payloadBytes: N }], seeds[0]!, 5)
    const hit = segmentOf(deriveChallenges(seeds[0]!, set, 5).find(c => segmentOf(c.leaf) < 3)!.leaf)
    const key = { pieceCid: set.pieces[0]!.pieceCid, payloadBytes: N }
    const kept = await readPieceTree(copy, key)
    if (!('segmentRoots' in kept)) throw new Error('the cache should be kept')
    const fh = await open(copy, 'r+')
    await fh.write(new Uint8Array([payload[hit * SEG + 3]! ^ 0x01]), 0, 1, hit * SEG + 3)
    await fh.close()
    // the roots of the old bytes under the file's new stamp: what a change that leaves the mtime alone looks like
    await writePieceTree(copy, await fileStamp(copy), key, kept.segmentRoots)
    await expect(provePossessionFromFiles(set, [{ file: copy, payloadBytes: N }], seeds[0]!, 5))
      .rejects.toMatchObject({ name: 'PossessionProofError', code: 'BAD_PATH', message: expect.stringContaining(`segment ${hit}`) })
  }, 120_000)

  it('a deleted payload is ENOENT, as before', async () => {
    const gone = path.join(dir, 'gone.car')
    await writeFile(gone, payload)
    await provePossessionFromFiles(set, [{ file: gone, payloadBytes: N }], seeds[0]!, 5)
    await rm(gone)
    await expect(provePossessionFromFiles(set, [{ file: gone, payloadBytes: N }], seeds[0]!, 5)).rejects.toMatchObject({ code: 'ENOENT' })
  }, 60_000)
})
