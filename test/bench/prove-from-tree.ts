// Proving one piece (256 MiB by default) the old way (a full pass over the payload on the provider's thread)
// and from kept segment roots (only the challenged segments), in the same run. Run: npx tsx <this file>
// PROVE_BENCH_MIB sets the size.
import { mkdtemp, rm, open } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pieceCidV1, verifyPossession, type ProofSet } from '../../src/core'
import { pieceOfFile } from '../../src/node/piece-file'
import { provePossession, provePossessionFromFiles, mainThreadHasher } from '../../src/node/prove-possession'
import { removePieceTree } from '../../src/node/provider/piece-tree-cache'
import { nodeCryptoHasher } from '../../src/node/node-hasher'

const MiB = 2 ** 20
const size = Number(process.env.PROVE_BENCH_MIB ?? 256) * MiB
const COUNT = 5 // the devnet's challenges per period
const dir = await mkdtemp(path.join(tmpdir(), 'coffer-prove-bench-'))
try {
  const file = path.join(dir, 'payload.car')
  const fh = await open(file, 'w')
  const chunk = new Uint8Array(4 * MiB)
  for (let at = 0; at < size; at += chunk.length) {
    for (let i = 0; i < chunk.length; i += 4) new DataView(chunk.buffer).setUint32(i, Math.imul(at + i + 1, 2654435761))
    await fh.write(chunk, 0, Math.min(chunk.length, size - at))
  }
  await fh.close()
  const piece = await pieceOfFile(file)
  const set: ProofSet = { pieces: [{ pieceCid: pieceCidV1(piece.digest.root), paddedBytes: piece.digest.paddedBytes }] }
  const seed = (k: number): Uint8Array => new Uint8Array(32).map((_, i) => (i * 7 + k) & 0xff)
  const wasm = await mainThreadHasher()
  const time = async (label: string, fn: () => Promise<Uint8Array>, k: number): Promise<number> => {
    const t0 = performance.now()
    const proof = await fn()
    const ms = performance.now() - t0
    verifyPossession(set, seed(k), COUNT, proof)
    console.log(`${label.padEnd(62)} ${ms.toFixed(0).padStart(8)} ms`)
    return ms
  }
  console.log(`proving one ${size / MiB} MiB piece, ${COUNT} challenges`)
  const before = await time('before: full pass, @noble/hashes (proveOne\'s default)', async () => await provePossession(set, [file], seed(1), COUNT), 1)
  await time('before: full pass, node:crypto', async () => await provePossession(set, [file], seed(2), COUNT, nodeCryptoHasher), 2)
  await time('before: full pass, WASM SIMD on this thread', async () => await provePossession(set, [file], seed(3), COUNT, wasm), 3)
  await removePieceTree(file)
  await time('after, cache absent: roots built on the pool, then proved', async () => await provePossessionFromFiles(set, [{ file, payloadBytes: size }], seed(4), COUNT), 4)
  let warm = 0
  for (let k = 5; k < 10; k++) warm += await time(`after, cache kept (seed ${k})`, async () => await provePossessionFromFiles(set, [{ file, payloadBytes: size }], seed(k), COUNT), k)
  console.log(`after/before (kept cache, mean of 5 vs the old default): ${(warm / 5 / before).toFixed(4)}`)
} finally {
  await rm(dir, { recursive: true, force: true })
}
