// Throughput of the retrieval CarVerifier on a 64 MiB file (256 KiB raw leaves, DFS CAR cut into 1 MiB
// frames as the wire does), with @noble/hashes sha2-256 vs node:crypto passed in. Run: npx tsx <this file>
import { createHash } from 'node:crypto'
import { CarReader } from '@ipld/car'
import { writeUnixfsCar } from '../../src/light/unixfs-car'
import { CarVerifier, UnixfsWalk, carHeader, carSection, type MultihashFn } from '../../src/core/retrieval'

const MiB = 1024 * 1024
const size = Number(process.env.VERIFY_BENCH_MIB ?? 64) * MiB
const content = new Uint8Array(size)
for (let i = 0; i < size; i += 4096) content[i] = (i / 4096) & 0xff

const parts: Uint8Array[] = []
const { root } = await writeUnixfsCar([content], {
  write: async (b) => { parts.push(b.slice()) },
  writeAt: async (offset, b) => { if (offset !== 0) throw new Error('header only'); parts[0]!.set(b, 0) }
})
const reader = await CarReader.fromBytes(Buffer.concat(parts))

// the provider's DFS stream, prepared once, cut into 1 MiB frames
const walk = new UnixfsWalk(root)
const out: Uint8Array[] = [carHeader(root)]
for (let cid = walk.next(); cid !== null; cid = walk.next()) {
  const { bytes } = (await reader.get(cid))!
  out.push(carSection(cid, bytes))
  walk.accept(cid, bytes)
}
const stream = new Uint8Array(Buffer.concat(out))
const frames: Uint8Array[] = []
for (let at = 0; at < stream.length; at += MiB) frames.push(stream.subarray(at, at + MiB))

const nodeCrypto: MultihashFn = (code, bytes) => code === 0x12 ? new Uint8Array(createHash('sha256').update(bytes).digest()) : undefined

function run (label: string, hash?: MultihashFn): number {
  const v = new CarVerifier(root, { hash })
  const t0 = performance.now()
  let fileBytes = 0
  for (const f of frames) for (const b of v.push(f)) fileBytes += b.slice?.bytes.length ?? 0
  v.end()
  const ms = performance.now() - t0
  if (fileBytes !== size) throw new Error('wrong size')
  const rate = size / MiB / (ms / 1000)
  console.log(`${label.padEnd(12)} ${(size / MiB).toFixed(0)} MiB in ${ms.toFixed(0)} ms = ${rate.toFixed(0)} MiB/s`)
  return rate
}

// sha-256 alone over the same leaves, to show the verifier's overhead beyond hashing
function hashOnly (label: string, h: (b: Uint8Array) => unknown): void {
  const t0 = performance.now()
  for (let at = 0; at < size; at += 256 * 1024) h(content.subarray(at, at + 256 * 1024))
  const ms = performance.now() - t0
  console.log(`${label.padEnd(12)} ${(size / MiB / (ms / 1000)).toFixed(0)} MiB/s (hash only)`)
}

const { sha256 } = await import('@noble/hashes/sha2.js')
for (let round = 0; round < 2; round++) {
  console.log(`round ${round + 1} (stream ${(stream.length / MiB).toFixed(2)} MiB, ${frames.length} frames)`)
  const noble = run('noble')
  const node = run('node:crypto', nodeCrypto)
  console.log(`node:crypto / noble = ${(node / noble).toFixed(2)}x`)
  hashOnly('noble', b => sha256(b))
  hashOnly('node:crypto', b => createHash('sha256').update(b).digest())
}

// the verifier's own cost (parse, walk, copies) with hashing taken out: the "hash" hands back the digests of
// the DFS order, one per call, as an honest stream would need them
{
  const order: Uint8Array[] = []
  const w = new UnixfsWalk(root)
  for (let cid = w.next(); cid !== null; cid = w.next()) { order.push(cid.multihash.digest); w.accept(cid, (await reader.get(cid))!.bytes) }
  let n = 0
  const v = new CarVerifier(root, { hash: () => order[n++] })
  const t0 = performance.now()
  for (const f of frames) v.push(f)
  v.end()
  console.log(`no hashing   ${(size / MiB / ((performance.now() - t0) / 1000)).toFixed(0)} MiB/s (parse + walk + copies only)`)
}
