// The retrieval core against real UnixFS DAGs: a reference provider drives UnixfsWalk over a CAR written by
// writeUnixfsCar (or the importer with small chunks), the CarVerifier checks its DFS stream in random
// chunkings, ipfs-unixfs-exporter is the oracle for file bytes, and every lie must be caught by name.
import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { createHash } from 'node:crypto'
import { CarReader } from '@ipld/car'
import { CarWriter } from '@ipld/car/writer'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { importer, type ImporterOptions } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { exporter } from 'ipfs-unixfs-exporter'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { sha512 } from 'multiformats/hashes/sha2'
import { sha512 as nobleSha512 } from '@noble/hashes/sha2.js'
import { identity } from 'multiformats/hashes/identity'
import { varint } from 'multiformats'
import { writeUnixfsCar } from '../../src/light/unixfs-car'
import {
  CarBlockParser, CarVerifier, UnixfsWalk, carHeader, carSection, fileRuns, runInPlace, type AsyncMultihashFn, type FileRange, type MultihashFn, type VerifiedBlock
} from '../../src/core/retrieval'

const KiB = 1024
const LEAF = 256 * KiB

// ---------- fixtures ----------

/**
 * Byte equality as one number: vitest's toEqual walks a typed array element by element (seconds for
 * 256 KiB) and diffs it on failure; the first differing index (-1 = equal) says the same thing at once.
 */
function firstDiff (a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i
  return a.length === b.length ? -1 : n
}
const expectBytes = (actual: Uint8Array, expected: Uint8Array, label?: string): void => {
  expect(firstDiff(actual, expected), `${label ?? 'bytes'}: first difference (actual ${actual.length} bytes, expected ${expected.length})`).toBe(-1)
}

/** Deterministic bytes (xorshift), so a failing case can be reproduced. */
function pseudoRandom (n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n)
  let x = seed >>> 0 || 1
  for (let i = 0; i < n; i++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; out[i] = x & 0xff }
  return out
}

function concat (parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}

interface Dag { root: CID, car: Uint8Array, reader: CarReader, content: Uint8Array }

/** The application's own writer: writeUnixfsCar into an in-memory CarSink. */
async function unixfsCar (content: Uint8Array): Promise<Dag> {
  const parts: Uint8Array[] = []
  let length = 0
  const { root } = await writeUnixfsCar([content], {
    write: async (b) => { parts.push(b.slice()); length += b.length },
    writeAt: async (offset, b) => { const all = concat(parts); all.set(b, offset); parts.length = 0; parts.push(all) }
  })
  const car = concat(parts)
  expect(car.length).toBe(length)
  return { root, car, reader: await CarReader.fromBytes(car), content }
}

/** The importer with other options (small chunks, narrow nodes, dag-pb leaves), written the same way: children first, once each. */
async function importedCar (content: Uint8Array, options: ImporterOptions): Promise<Dag> {
  const blocks = new Map<string, { cid: CID, bytes: Uint8Array }>()
  let root: CID | undefined
  for await (const entry of importer([{ content: [content] }], {
    put: async (cid, bytes) => { const c = CID.asCID(cid)!; blocks.set(c.toString(), { cid: c, bytes: bytes as Uint8Array }); return cid }
  }, { cidVersion: 1, rawLeaves: true, ...options })) root = CID.asCID(entry.cid)!
  const { writer, out } = CarWriter.create([root!])
  const chunks: Uint8Array[] = []
  const pump = (async () => { for await (const c of out) chunks.push(c) })()
  for (const b of blocks.values()) await writer.put(b)
  await writer.close()
  await pump
  const car = concat(chunks)
  return { root: root!, car, reader: await CarReader.fromBytes(car), content }
}

/** A CAR of hand-made blocks (for DAGs no importer would write). */
async function handCar (root: CID, blocks: Array<{ cid: CID, bytes: Uint8Array }>, content: Uint8Array): Promise<Dag> {
  const car = concat([carHeader(root), ...blocks.map(b => carSection(b.cid, b.bytes))])
  return { root, car, reader: await CarReader.fromBytes(car), content }
}

async function rawBlock (bytes: Uint8Array): Promise<{ cid: CID, bytes: Uint8Array }> {
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
}

async function fileNode (opts: { data?: Uint8Array, blockSizes: bigint[], links: CID[], fileSize?: bigint, type?: 'file' | 'directory' }): Promise<{ cid: CID, bytes: Uint8Array }> {
  const unixfs = new UnixFS({ type: opts.type ?? 'file', data: opts.data, blockSizes: opts.blockSizes })
  let data = unixfs.marshal()
  if (opts.fileSize !== undefined) {
    // ipfs-unixfs always writes filesize = data + blocksizes; a lying node rewrites field 3 by hand
    data = withFileSize(data, opts.fileSize)
  }
  const bytes = dagPb.encode({ Data: data, Links: opts.links.map(Hash => ({ Hash, Tsize: 0 })) })
  return { cid: CID.createV1(dagPb.code, await sha256.digest(bytes)), bytes }
}

/** Replaces field 3 (filesize) of a UnixFS Data message. */
function withFileSize (data: Uint8Array, size: bigint): Uint8Array {
  const out: number[] = []
  let i = 0
  const readVarint = (): bigint => { let v = 0n; let s = 0n; for (;;) { const b = data[i++]!; v |= BigInt(b & 0x7f) << s; s += 7n; if (b < 0x80) return v } }
  const pushVarint = (v: bigint): void => { while (v >= 0x80n) { out.push(Number(v & 0x7fn) | 0x80); v >>= 7n } out.push(Number(v)) }
  while (i < data.length) {
    const start = i
    const key = readVarint()
    const wire = Number(key & 7n)
    if (wire === 0) { const v = readVarint(); if (key >> 3n === 3n) { pushVarint(key); pushVarint(size) } else { out.push(...data.subarray(start, i)); void v } } else if (wire === 2) { const len = Number(readVarint()); i += len; out.push(...data.subarray(start, i)) } else throw new Error('unexpected wire type')
  }
  return new Uint8Array(out)
}

// ---------- the reference provider and client ----------

interface Sent { cid: CID, bytes: Uint8Array }

/** What a provider sends: the header, then the walk's blocks read by CID from its CAR, in DFS order. */
async function provide (dag: Dag, range?: FileRange, opts: { root?: CID } = {}): Promise<{ header: Uint8Array, blocks: Sent[] }> {
  const walk = new UnixfsWalk(dag.root, { range })
  const blocks: Sent[] = []
  for (let cid = walk.next(); cid !== null; cid = walk.next()) {
    const block = await dag.reader.get(cid)
    if (block === undefined) throw new Error(`provider misses ${cid.toString()}`)
    blocks.push({ cid, bytes: block.bytes })
    walk.accept(cid, block.bytes)
  }
  return { header: carHeader(opts.root ?? dag.root), blocks }
}

const stream = (s: { header: Uint8Array, blocks: Sent[] }): Uint8Array =>
  concat([s.header, ...s.blocks.map(b => carSection(b.cid, b.bytes))])

/** Cuts `bytes` at the given points (sorted, deduplicated, inside the stream). */
function cut (bytes: Uint8Array, points: number[]): Uint8Array[] {
  const at = [...new Set(points.map(p => p % (bytes.length + 1)))].sort((a, b) => a - b)
  const out: Uint8Array[] = []
  let prev = 0
  for (const p of [...at, bytes.length]) { out.push(bytes.subarray(prev, p)); prev = p }
  return out
}

interface Received { bytes: Uint8Array, blocks: VerifiedBlock[], verifier: CarVerifier }

/** The client: every chunk through the verifier; the slices must be contiguous from the range's start. */
function receive (root: CID, chunks: Uint8Array[], init: ConstructorParameters<typeof CarVerifier>[1] = {}): Received {
  const verifier = new CarVerifier(root, init)
  const blocks: VerifiedBlock[] = []
  const slices: Uint8Array[] = []
  let offset = init.range?.from ?? 0
  for (const chunk of chunks) {
    for (const b of verifier.push(chunk)) {
      blocks.push(b)
      if (b.slice !== null) {
        expect(b.slice.offset).toBe(offset)
        offset += b.slice.bytes.length
        slices.push(b.slice.bytes)
      }
    }
  }
  verifier.end()
  expect(verifier.done).toBe(true)
  return { bytes: concat(slices), blocks, verifier }
}

/** ipfs-unixfs-exporter over the same CAR: the oracle for file bytes. */
async function exported (dag: Dag, range?: { from: number, to: number }): Promise<Uint8Array> {
  const entry = await exporter(dag.root, { get: async function * (cid: CID) { const b = await dag.reader.get(cid); if (b === undefined) throw new Error('missing'); yield b.bytes } } as any)
  if (entry.type !== 'file' && entry.type !== 'raw') throw new Error(`the exporter sees a ${entry.type}`)
  const parts: Uint8Array[] = []
  for await (const p of entry.content(range === undefined ? {} : { offset: range.from, length: range.to - range.from })) parts.push(p)
  return concat(parts)
}

function expectThrowsNamed (fn: () => unknown, name: string): any {
  try {
    fn()
  } catch (err) {
    expect((err as Error).name).toBe(name)
    return err
  }
  throw new Error(`expected ${name}, nothing was thrown`)
}

/** Runs the whole stream (in one chunk) through a verifier and returns the error it ends with. */
function failure (root: CID, bytes: Uint8Array, name: string, init: ConstructorParameters<typeof CarVerifier>[1] = {}): any {
  const v = new CarVerifier(root, init)
  return expectThrowsNamed(() => { v.push(bytes); v.end() }, name)
}

const nodeCryptoHash: MultihashFn = (code, bytes) => code === 0x12 ? new Uint8Array(createHash('sha256').update(bytes).digest()) : undefined

// ---------- shapes ----------

const shapes: Array<{ name: string, make: () => Promise<Dag>, blocks: number }> = [
  { name: 'empty', make: async () => await unixfsCar(new Uint8Array(0)), blocks: 1 },
  { name: '1 byte', make: async () => await unixfsCar(Uint8Array.of(7)), blocks: 1 },
  { name: 'exactly one leaf (256 KiB)', make: async () => await unixfsCar(pseudoRandom(LEAF, 2)), blocks: 1 },
  { name: 'many leaves (10 leaves + 5 bytes)', make: async () => await unixfsCar(pseudoRandom(10 * LEAF + 5, 3)), blocks: 1 + 11 },
  { name: 'repeated leaves (4 identical 256 KiB + tail)', make: async () => await unixfsCar(concat([...Array(4)].map(() => pseudoRandom(LEAF, 4)).concat([Uint8Array.of(1, 2, 3)]))), blocks: 1 + 5 },
  // 176 leaves of 64 bytes: the default 174 links a node, so two levels (root → 2 inner → leaves)
  { name: 'two levels at the default width (176 × 64 B leaves)', make: async () => await importedCar(pseudoRandom(176 * 64, 5), { chunker: fixedSize({ chunkSize: 64 }) }), blocks: 1 + 2 + 176 },
  // 100 leaves of 1 KiB, 8 links a node: three levels
  { name: 'three levels (100 × 1 KiB, 8 links a node)', make: async () => await importedCar(pseudoRandom(100 * KiB, 6), { chunker: fixedSize({ chunkSize: KiB }), layout: balanced({ maxChildrenPerNode: 8 }) }), blocks: 1 + 2 + 13 + 100 },
  // all zeros: identical leaves and identical inner nodes, each sent at every visit
  { name: 'repeated subtrees (64 KiB of zeros, 1 KiB leaves, 4 links a node)', make: async () => await importedCar(new Uint8Array(64 * KiB), { chunker: fixedSize({ chunkSize: KiB }), layout: balanced({ maxChildrenPerNode: 4 }) }), blocks: 1 + 4 + 16 + 64 },
  // legacy dag-pb leaves (UnixFS 'raw' DataType with data), as old go-ipfs wrote them
  { name: 'dag-pb leaves with data', make: async () => await importedCar(pseudoRandom(5 * KiB + 1, 7), { rawLeaves: false, chunker: fixedSize({ chunkSize: KiB }) }), blocks: 1 + 6 }
]

describe('UnixfsWalk + CarVerifier over real DAGs', () => {
  for (const shape of shapes) {
    describe(shape.name, () => {
      it('the DFS stream verifies in any chunking and reproduces the file, as the exporter does', async () => {
        const dag = await shape.make()
        const sent = await provide(dag)
        expect(sent.blocks.length).toBe(shape.blocks)
        const whole = stream(sent)
        const oracle = await exported(dag)
        expectBytes(oracle, dag.content)
        const once = receive(dag.root, [whole])
        expectBytes(once.bytes, dag.content)
        expect(once.verifier.fileSize).toBe(dag.content.length)
        expect(once.verifier.stats).toMatchObject({
          carBytes: whole.length,
          blockBytesReceived: sent.blocks.reduce((n, b) => n + b.bytes.length, 0),
          blockBytesVerified: sent.blocks.reduce((n, b) => n + b.bytes.length, 0),
          fileBytesVerified: dag.content.length,
          nextFileOffset: dag.content.length,
          blocksVerified: shape.blocks
        })
        await fc.assert(fc.property(fc.array(fc.nat(), { maxLength: 40 }), (points) => {
          expectBytes(receive(dag.root, cut(whole, points)).bytes, dag.content)
        }), { numRuns: 15 })
        // node:crypto passed in gives the same answer
        expectBytes(receive(dag.root, [whole], { hash: nodeCryptoHash }).bytes, dag.content)
      })

      it('any range gives exactly those bytes, the exporter\'s, in any chunking', async () => {
        const dag = await shape.make()
        const n = dag.content.length
        await fc.assert(fc.asyncProperty(fc.nat(n), fc.nat(n), fc.array(fc.nat(), { maxLength: 8 }), async (a, b, points) => {
          const range = { from: Math.min(a, b), to: Math.max(a, b) }
          const got = receive(dag.root, cut(stream(await provide(dag, range)), points), { range })
          expectBytes(got.bytes, dag.content.subarray(range.from, range.to))
          expect(got.verifier.stats.nextFileOffset).toBe(range.to)
          if (range.to > range.from) expectBytes(got.bytes, await exported(dag, range), 'exporter')
        }), { numRuns: 10 })
      })
    })
  }

  it('the CAR the provider emits starts with the header @ipld/car (and writeUnixfsCar) wrote', async () => {
    const dag = await unixfsCar(pseudoRandom(3 * LEAF, 9))
    const header = carHeader(dag.root)
    expectBytes(dag.car.subarray(0, header.length), header)
    // and a CarReader reads the provider's DFS stream, duplicates and all
    const reread = await CarReader.fromBytes(stream(await provide(dag)))
    expect((await reread.getRoots())[0]!.equals(dag.root)).toBe(true)
  })

  it('a walk of the whole file visits every block of the DAG, duplicates at every visit', async () => {
    const dag = await unixfsCar(concat([pseudoRandom(LEAF, 4), pseudoRandom(LEAF, 4), pseudoRandom(LEAF, 8), pseudoRandom(LEAF, 4)]))
    const sent = await provide(dag)
    const ids = sent.blocks.map(b => b.cid.toString())
    expect(ids).toHaveLength(5)
    expect(ids[1]).toBe(ids[2]); expect(ids[1]).toBe(ids[4]); expect(ids[3]).not.toBe(ids[1])
    expect(new Set(ids).size).toBe(3) // the CAR holds them once
  })
})

describe('ranges fetch only the blocks on their path', () => {
  it('one level (10 leaves of 256 KiB + 5 bytes): root plus the leaves the range touches', async () => {
    const dag = await unixfsCar(pseudoRandom(10 * LEAF + 5, 3))
    const n = dag.content.length
    const cases: Array<[string, FileRange, number]> = [
      ['start', { from: 0, to: 100 }, 2],
      ['middle of one leaf', { from: 3 * LEAF + 10, to: 3 * LEAF + 20 }, 2],
      ['end', { from: n - 3, to: n }, 2],
      ['end, open-ended', { from: n - 3 }, 2],
      ['one byte', { from: 5 * LEAF, to: 5 * LEAF + 1 }, 2],
      ['the last byte of a leaf', { from: 5 * LEAF - 1, to: 5 * LEAF }, 2],
      ['crossing one leaf boundary', { from: 2 * LEAF - 5, to: 2 * LEAF + 5 }, 3],
      ['spanning four leaves', { from: 2 * LEAF - 5, to: 4 * LEAF + 5 }, 5],
      ['everything', { from: 0, to: n }, 12],
      ['empty (only the root, to learn the size)', { from: 7, to: 7 }, 1],
      ['empty at the very end', { from: n }, 1]
    ]
    for (const [label, range, blocks] of cases) {
      const sent = await provide(dag, range)
      expect(sent.blocks.length, label).toBe(blocks)
      const got = receive(dag.root, [stream(sent)], { range })
      expectBytes(got.bytes, dag.content.subarray(range.from, range.to ?? n), label)
      expect(got.verifier.stats.blocksVerified, label).toBe(blocks)
    }
  })

  it('three levels (1 KiB leaves, 8 links a node): root, one inner node per level, the leaves', async () => {
    const dag = await importedCar(pseudoRandom(100 * KiB, 6), { chunker: fixedSize({ chunkSize: KiB }), layout: balanced({ maxChildrenPerNode: 8 }) })
    // 100 leaves → 13 nodes of ≤ 8 → 2 nodes of ≤ 8 → root; leaf i lies under inner i>>3 under top i>>6
    expect((await provide(dag, { from: 10, to: 11 })).blocks.length).toBe(4)
    expect((await provide(dag, { from: 8 * KiB - 1, to: 8 * KiB + 1 })).blocks.length).toBe(1 + 1 + 2 + 2) // two inner nodes, same top
    expect((await provide(dag, { from: 64 * KiB - 1, to: 64 * KiB + 1 })).blocks.length).toBe(1 + 2 + 2 + 2) // crosses the top split
    expect((await provide(dag, { from: 99 * KiB, to: 100 * KiB })).blocks.length).toBe(4)
  })
})

describe('lies are caught by name', () => {
  async function many (): Promise<{ dag: Dag, sent: { header: Uint8Array, blocks: Sent[] } }> {
    const dag = await unixfsCar(pseudoRandom(6 * LEAF + 100, 11))
    return { dag, sent: await provide(dag) }
  }
  const flip = (b: Uint8Array, at: number): Uint8Array => { const c = b.slice(); c[at]! ^= 0x01; return c }

  it('one flipped byte in a leaf: HashMismatchError at that leaf, nothing from it yielded', async () => {
    const { dag, sent } = await many()
    sent.blocks[3] = { ...sent.blocks[3]!, bytes: flip(sent.blocks[3]!.bytes, 1000) }
    const v = new CarVerifier(dag.root)
    const sections = [sent.header, ...sent.blocks.map(b => carSection(b.cid, b.bytes))]
    const yielded: VerifiedBlock[] = []
    const err = expectThrowsNamed(() => { for (const s of sections) yielded.push(...v.push(s)) }, 'HashMismatchError')
    expect(err.cid.equals(sent.blocks[3]!.cid)).toBe(true)
    expect(yielded.length).toBe(3)
    expect(v.stats.nextFileOffset).toBe(2 * LEAF)
    expect(v.stats.blockBytesVerified).toBe(sent.blocks.slice(0, 3).reduce((n, b) => n + b.bytes.length, 0))
    expect(v.failure?.name).toBe('HashMismatchError')
    expectThrowsNamed(() => v.push(new Uint8Array(1)), 'HashMismatchError') // it stays failed
  })

  it('one flipped byte in an inner node (the root): HashMismatchError before any file byte', async () => {
    const { dag, sent } = await many()
    sent.blocks[0] = { ...sent.blocks[0]!, bytes: flip(sent.blocks[0]!.bytes, 20) }
    const err = failure(dag.root, stream(sent), 'HashMismatchError')
    expect(err.cid.equals(dag.root)).toBe(true)
  })

  it('a flipped byte in an inner node of a deeper DAG', async () => {
    const dag = await importedCar(pseudoRandom(100 * KiB, 6), { chunker: fixedSize({ chunkSize: KiB }), layout: balanced({ maxChildrenPerNode: 8 }) })
    const sent = await provide(dag)
    expect(sent.blocks[1]!.cid.code).toBe(dagPb.code)
    sent.blocks[1] = { ...sent.blocks[1]!, bytes: flip(sent.blocks[1]!.bytes, 5) }
    failure(dag.root, stream(sent), 'HashMismatchError')
  })

  it('a block out of order: UnexpectedBlockError naming both CIDs', async () => {
    const { dag, sent } = await many()
    const [a, b] = [sent.blocks[2]!, sent.blocks[3]!]
    sent.blocks[2] = b; sent.blocks[3] = a
    const err = failure(dag.root, stream(sent), 'UnexpectedBlockError')
    expect(err.expected.equals(a.cid)).toBe(true)
    expect(err.actual.equals(b.cid)).toBe(true)
  })

  it('a block the DAG never asked for (valid hash): UnexpectedBlockError', async () => {
    const { dag, sent } = await many()
    const stranger = await rawBlock(pseudoRandom(100, 99))
    sent.blocks.splice(2, 0, stranger)
    const err = failure(dag.root, stream(sent), 'UnexpectedBlockError')
    expect(err.actual.equals(stranger.cid)).toBe(true)
  })

  it('a range stream that sends a leaf outside the range: UnexpectedBlockError', async () => {
    const { dag, sent } = await many()
    const range = { from: LEAF + 10, to: LEAF + 20 }
    const ranged = await provide(dag, range)
    expect(ranged.blocks.map(b => b.cid.toString())).toEqual([sent.blocks[0]!, sent.blocks[2]!].map(b => b.cid.toString()))
    ranged.blocks.splice(1, 0, sent.blocks[1]!) // leaf 0, outside the range, before leaf 1
    const err = failure(dag.root, stream(ranged), 'UnexpectedBlockError', { range })
    expect(err.expected.equals(sent.blocks[2]!.cid)).toBe(true)
    // and one more block after a range is complete is excess
    failure(dag.root, stream({ ...ranged, blocks: [sent.blocks[0]!, sent.blocks[2]!, sent.blocks[3]!] }), 'ExcessDataError', { range })
  })

  it('an extra block after the end: ExcessDataError, the blocks before it kept', async () => {
    const { dag, sent } = await many()
    const extra = concat([stream(sent), carSection(sent.blocks[1]!.cid, sent.blocks[1]!.bytes)])
    const v = new CarVerifier(dag.root)
    const got = v.push(extra)
    expect(got.length).toBe(sent.blocks.length) // verified blocks are not dropped with the fault…
    expect(v.done).toBe(true)
    expect(v.failure?.name).toBe('ExcessDataError') // …which shows at once
    expectThrowsNamed(() => v.end(), 'ExcessDataError')
    // and one stray byte after completion, in its own chunk
    const w = new CarVerifier(dag.root)
    w.push(stream(sent))
    expectThrowsNamed(() => w.push(Uint8Array.of(0)), 'ExcessDataError')
  })

  it('a truncated stream: CarTruncatedError inside a section, IncompleteDagError between sections', async () => {
    const { dag, sent } = await many()
    const whole = stream(sent)
    const v = new CarVerifier(dag.root)
    v.push(whole.subarray(0, whole.length - 10))
    expectThrowsNamed(() => v.end(), 'CarTruncatedError')
    const upToLast = concat([sent.header, ...sent.blocks.slice(0, -1).map(b => carSection(b.cid, b.bytes))])
    const err = failure(dag.root, upToLast, 'IncompleteDagError')
    expect(err.next.equals(sent.blocks.at(-1)!.cid)).toBe(true)
    expect(err.nextFileOffset).toBe(6 * LEAF)
    failure(dag.root, sent.header.subarray(0, 5), 'CarTruncatedError')
    failure(dag.root, new Uint8Array(0), 'CarTruncatedError')
  })

  it('a header naming another root: CarRootMismatchError, before any block', async () => {
    const { dag, sent } = await many()
    const other = (await rawBlock(Uint8Array.of(1))).cid
    const bytes = stream({ ...sent, header: carHeader(other) })
    const v = new CarVerifier(dag.root)
    expectThrowsNamed(() => v.push(bytes), 'CarRootMismatchError')
    expect(v.stats.blocksVerified).toBe(0)
    failure(dag.root, stream({ ...sent, header: carHeader([dag.root, other]) }), 'CarRootMismatchError')
  })

  it('a leaf whose length differs from its parent\'s blocksize: BlockSizeMismatchError at that leaf', async () => {
    const a = await rawBlock(pseudoRandom(10, 1))
    const b = await rawBlock(pseudoRandom(11, 2)) // the parent says 10
    const root = await fileNode({ blockSizes: [10n, 10n], links: [a.cid, b.cid] })
    const dag = await handCar(root.cid, [a, b, root], new Uint8Array(0))
    const s = await provide({ ...dag, root: root.cid }, undefined).catch(e => e)
    expect(s.name).toBe('BlockSizeMismatchError') // the provider's own walk refuses it too
    const bytes = concat([carHeader(root.cid), carSection(root.cid, root.bytes), carSection(a.cid, a.bytes), carSection(b.cid, b.bytes)])
    const v = new CarVerifier(root.cid)
    const got = v.push(bytes)
    expect(got.map(x => x.cid.toString())).toEqual([root.cid.toString(), a.cid.toString()]) // the honest leaf is kept
    const err = expectThrowsNamed(() => v.end(), 'BlockSizeMismatchError')
    expect([err.expected, err.actual]).toEqual([10, 11])
    expect(v.stats.blockBytesVerified).toBe(root.bytes.length + 10)
  })

  it('a node whose filesize is not its data plus blocksizes: FileSizeMismatchError', async () => {
    const a = await rawBlock(pseudoRandom(10, 1))
    const root = await fileNode({ blockSizes: [10n], links: [a.cid], fileSize: 12n })
    const err = failure(root.cid, concat([carHeader(root.cid), carSection(root.cid, root.bytes)]), 'FileSizeMismatchError')
    expect([err.declared, err.computed]).toEqual([12n, 10n])
  })

  it('links and blocksizes of different lengths: LinkCountMismatchError', async () => {
    const a = await rawBlock(pseudoRandom(10, 1))
    const root = await fileNode({ blockSizes: [10n, 5n], links: [a.cid] })
    failure(root.cid, concat([carHeader(root.cid), carSection(root.cid, root.bytes)]), 'LinkCountMismatchError')
  })

  it('an oversized section length: CarSectionTooLargeError from the prefix alone', async () => {
    const { dag, sent } = await many()
    const prefix = new Uint8Array(varint.encodingLength(100 << 20))
    varint.encodeTo(100 << 20, prefix, 0)
    const v = new CarVerifier(dag.root)
    expect(v.push(sent.header)).toEqual([])
    const err = expectThrowsNamed(() => v.push(prefix), 'CarSectionTooLargeError')
    expect(err.length).toBe(100 << 20)
    // a block above maxBlockBytes, whole and hashing right, is refused by the section limit too
    const big = await rawBlock(pseudoRandom(4096, 5))
    failure(big.cid, concat([carHeader(big.cid), carSection(big.cid, big.bytes)]), 'CarSectionTooLargeError', { maxBlockBytes: 1024 })
  })

  it('bad headers: CarHeaderError, CarVersionError, CarHeaderTooLargeError', async () => {
    const { dag } = await many()
    const body = (v: Uint8Array): Uint8Array => { const p = new Uint8Array(varint.encodingLength(v.length)); varint.encodeTo(v.length, p, 0); return concat([p, v]) }
    const { encode } = await import('@ipld/dag-cbor')
    failure(dag.root, body(encode({ version: 2, roots: [dag.root] })), 'CarVersionError')
    failure(dag.root, body(encode({ version: 1 })), 'CarHeaderError')
    failure(dag.root, body(encode({ version: 1, roots: ['x'] })), 'CarHeaderError')
    failure(dag.root, body(Uint8Array.of(0xff, 0xff)), 'CarHeaderError')
    failure(dag.root, Uint8Array.of(0), 'CarHeaderError')
    failure(dag.root, body(encode({ version: 1, roots: [dag.root], pad: new Uint8Array(100) })), 'CarHeaderTooLargeError', { maxHeaderBytes: 64 })
  })

  it('malformed sections: zero length, a non-minimal varint, no CID', async () => {
    const { dag, sent } = await many()
    failure(dag.root, concat([sent.header, Uint8Array.of(0)]), 'CarSectionError')
    failure(dag.root, concat([sent.header, Uint8Array.of(0x85, 0x00), new Uint8Array(5)]), 'CarSectionError')
    failure(dag.root, concat([sent.header, Uint8Array.of(3, 0xff, 0xff, 0xff)]), 'CarSectionError')
  })

  it('a hash the verifier cannot compute: UnsupportedHashError (sha2-512 by default, accepted when passed in)', async () => {
    const bytes = pseudoRandom(100, 3)
    const cid = CID.createV1(raw.code, await sha512.digest(bytes))
    const car = concat([carHeader(cid), carSection(cid, bytes)])
    failure(cid, car, 'UnsupportedHashError')
    const withSha512: MultihashFn = (code, b) => code === sha512.code ? nobleSha512(b) : undefined
    expectBytes(receive(cid, [car], { hash: withSha512 }).bytes, bytes)
  })

  it('a directory root is refused (NotAFileError), and so is a directory inside a file', async () => {
    const dir = await fileNode({ type: 'directory', blockSizes: [], links: [] })
    const err = failure(dir.cid, concat([carHeader(dir.cid), carSection(dir.cid, dir.bytes)]), 'NotAFileError')
    expect(err.isRoot).toBe(true)
    const root = await fileNode({ blockSizes: [0n], links: [dir.cid] })
    const e2 = failure(root.cid, concat([carHeader(root.cid), carSection(root.cid, root.bytes), carSection(dir.cid, dir.bytes)]), 'NotAFileError')
    expect(e2.isRoot).toBe(false)
  })

  it('a codec that is not dag-pb or raw: UnsupportedCodecError', async () => {
    const bytes = Uint8Array.of(0xa0)
    const cid = CID.createV1(0x71, await sha256.digest(bytes))
    failure(cid, concat([carHeader(cid), carSection(cid, bytes)]), 'UnsupportedCodecError')
  })

  it('limits: a block above maxBlockBytes, a DAG deeper than maxDepth, more links than maxLinks', async () => {
    const dag = await importedCar(pseudoRandom(100 * KiB, 6), { chunker: fixedSize({ chunkSize: KiB }), layout: balanced({ maxChildrenPerNode: 8 }) })
    const whole = stream(await provide(dag))
    failure(dag.root, whole, 'DagTooDeepError', { maxDepth: 2 })
    expectBytes(receive(dag.root, [whole], { maxDepth: 3 }).bytes, dag.content)
    failure(dag.root, whole, 'TooManyLinksError', { maxLinks: 7 })
    const walk = new UnixfsWalk(dag.root, { maxBlockBytes: 100 })
    const root = (await dag.reader.get(dag.root))!
    expectThrowsNamed(() => walk.accept(dag.root, root.bytes), 'BlockTooLargeError')
  })

  it('a range past the end of the file: RangeNotSatisfiableError once the root is known; a malformed range is a RangeError', async () => {
    const { dag, sent } = await many()
    const n = dag.content.length
    const err = failure(dag.root, stream(sent), 'RangeNotSatisfiableError', { range: { from: 0, to: n + 1 } })
    expect(err.fileSize).toBe(n)
    failure(dag.root, stream(sent), 'RangeNotSatisfiableError', { range: { from: n + 1 } })
    expect(() => new UnixfsWalk(dag.root, { range: { from: 5, to: 4 } })).toThrow(RangeError)
    expect(() => new UnixfsWalk(dag.root, { range: { from: -1 } })).toThrow(RangeError)
  })

  it('a named link inside a file: MalformedBlockError; a dag-pb block that is not UnixFS likewise', async () => {
    const a = await rawBlock(pseudoRandom(10, 1))
    const data = new UnixFS({ type: 'file', blockSizes: [10n] }).marshal()
    const bytes = dagPb.encode({ Data: data, Links: [{ Hash: a.cid, Name: 'x', Tsize: 10 }] })
    const cid = CID.createV1(dagPb.code, await sha256.digest(bytes))
    failure(cid, concat([carHeader(cid), carSection(cid, bytes)]), 'MalformedBlockError')
    const bare = dagPb.encode({ Links: [] })
    const bareCid = CID.createV1(dagPb.code, await sha256.digest(bare))
    failure(bareCid, concat([carHeader(bareCid), carSection(bareCid, bare)]), 'MalformedBlockError')
  })
})

describe('identity CIDs are resolved inline, never asked of the wire', () => {
  it('identity leaves inside a file, and an identity root', async () => {
    const tiny = Uint8Array.of(1, 2, 3)
    const inl = CID.createV1(raw.code, identity.digest(tiny))
    const leaf = await rawBlock(pseudoRandom(20, 3))
    const root = await fileNode({ blockSizes: [3n, 20n, 3n], links: [inl, leaf.cid, inl] })
    const content = concat([tiny, leaf.bytes, tiny])
    const car = concat([carHeader(root.cid), carSection(root.cid, root.bytes), carSection(leaf.cid, leaf.bytes)])
    const got = receive(root.cid, [car])
    expectBytes(got.bytes, content)
    expect(got.blocks.length).toBe(2) // the root (carrying the first inline bytes) and the leaf (carrying the last)
    expectBytes(receive(root.cid, [car], { range: { from: 1, to: 25 } }).bytes, content.subarray(1, 25))

    const idRoot = CID.createV1(raw.code, identity.digest(tiny))
    const only = receive(idRoot, [carHeader(idRoot)])
    expectBytes(only.bytes, tiny)
    expect(new UnixfsWalk(idRoot).next()).toBeNull()
  })
})

describe('CarBlockParser', () => {
  it('yields what @ipld/car reads, in any chunking, without copying sections that lie in one chunk', async () => {
    const dag = await unixfsCar(pseudoRandom(3 * LEAF + 7, 12))
    const reader = await CarReader.fromBytes(dag.car)
    const expected: string[] = []
    for await (const b of reader.blocks()) expected.push(`${b.cid.toString()}:${b.bytes.length}`)
    fc.assert(fc.property(fc.array(fc.nat(), { maxLength: 30 }), (points) => {
      const p = new CarBlockParser()
      const got: string[] = []
      for (const c of cut(dag.car, points)) {
        p.push(c)
        for (let b = p.next(); b !== null; b = p.next()) got.push(`${b.cid.toString()}:${b.bytes.length}`)
        expect(p.bufferedBytes).toBeLessThanOrEqual(LEAF + 64 + c.length)
      }
      p.end()
      expect(got).toEqual(expected)
      expect(p.header?.roots[0]?.equals(dag.root)).toBe(true)
    }), { numRuns: 20 })
    const p = new CarBlockParser()
    p.push(dag.car)
    p.next()
    const second = p.next()!
    expect(second.bytes.buffer).toBe(dag.car.buffer)
  })
})

describe('pushAsync (an async hash; a chunk\'s sections hashed side by side)', () => {
  // node:crypto behind a promise that settles after a random few ticks: the digests come back out of order
  const asyncHash = (delays: number[]): AsyncMultihashFn => {
    let i = 0
    return async (code, bytes) => {
      const d = delays.length === 0 ? 0 : delays[i++ % delays.length]! % 4
      for (let k = 0; k < d; k++) await Promise.resolve()
      return nodeCryptoHash(code, bytes)
    }
  }
  /** What a run yields and how it ends, the same whether pushed or pushed async. */
  const run = async (root: CID, chunks: Uint8Array[], init: ConstructorParameters<typeof CarVerifier>[1], hash?: AsyncMultihashFn): Promise<unknown> => {
    const v = new CarVerifier(root, init)
    const got: string[] = []
    let ended = 'clean'
    try {
      for (const c of chunks) {
        for (const b of hash === undefined ? v.push(c) : await v.pushAsync(c, hash)) got.push(`${b.cid.toString()}@${b.slice?.offset ?? '-'}+${b.slice?.bytes.length ?? 0}`)
      }
      v.end()
    } catch (err) {
      const e = err as Error & { bytes?: number }
      ended = `${e.name}${e.bytes === undefined ? '' : ` ${e.bytes}`}`
    }
    return { got, ended, failure: v.failure?.name, stats: { ...v.stats } }
  }

  it('yields the same blocks, stats and fault as push, in any chunking, for honest streams and every kind of lie', async () => {
    const dag = await unixfsCar(pseudoRandom(6 * LEAF + 100, 11))
    const sent = await provide(dag)
    const flip = (b: Uint8Array, at: number): Uint8Array => { const c = b.slice(); c[at]! ^= 0x01; return c }
    const sections = (blocks: Sent[]): Uint8Array[] => blocks.map(b => carSection(b.cid, b.bytes))
    const stranger = await rawBlock(pseudoRandom(100, 99))
    const headerBody = (v: Uint8Array): Uint8Array => { const p = new Uint8Array(varint.encodingLength(v.length)); varint.encodeTo(v.length, p, 0); return concat([p, v]) }
    const dagCbor = await import('@ipld/dag-cbor')
    const streams: Record<string, Uint8Array> = {
      honest: stream(sent),
      'flipped leaf': concat([sent.header, ...sections(sent.blocks.map((b, i) => i === 3 ? { ...b, bytes: flip(b.bytes, 1000) } : b))]),
      'flipped root': concat([sent.header, ...sections(sent.blocks.map((b, i) => i === 0 ? { ...b, bytes: flip(b.bytes, 3) } : b))]),
      'out of order': concat([sent.header, ...sections([sent.blocks[0]!, sent.blocks[2]!, sent.blocks[1]!, ...sent.blocks.slice(3)])]),
      stranger: concat([sent.header, ...sections([...sent.blocks.slice(0, 2), stranger, ...sent.blocks.slice(2)])]),
      'extra block': concat([stream(sent), carSection(sent.blocks[1]!.cid, sent.blocks[1]!.bytes)]),
      'a stray byte after the end': concat([stream(sent), Uint8Array.of(0)]),
      truncated: stream(sent).subarray(0, stream(sent).length - 10),
      'a zero-length section': concat([sent.header, ...sections(sent.blocks.slice(0, 2)), Uint8Array.of(0), ...sections(sent.blocks.slice(2))]),
      'another root': stream({ ...sent, header: carHeader(stranger.cid) }),
      // a section whose body was read and refused (no CID), with good sections after it: neither verifier goes on past it
      'a section without a CID': concat([sent.header, ...sections(sent.blocks.slice(0, 2)), Uint8Array.of(3, 0xff, 0xff, 0xff), ...sections(sent.blocks.slice(2))]),
      'a version 2 header': concat([headerBody(dagCbor.encode({ version: 2, roots: [dag.root] })), ...sections(sent.blocks)])
    }
    for (const [name, bytes] of Object.entries(streams)) {
      await fc.assert(fc.asyncProperty(fc.array(fc.nat(), { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 8 }), async (points, delays) => {
        const chunks = cut(bytes, points)
        const sync = await run(dag.root, chunks, {})
        expect(await run(dag.root, chunks, {}, asyncHash(delays)), name).toEqual(sync)
      }), { numRuns: 12 })
    }
    // and a range, with an unsupported hash refused by name either way
    const range = { from: LEAF + 10, to: 3 * LEAF }
    const ranged = cut(stream(await provide(dag, range)), [1000, 300000, 600000])
    expect(await run(dag.root, ranged, { range }, asyncHash([1, 3]))).toEqual(await run(dag.root, ranged, { range }))
    expect(await run(dag.root, ranged, { range }, async () => undefined)).toMatchObject({ got: [], ended: 'UnsupportedHashError' })
  })
})

describe('fileRuns', () => {
  it('writes each chunk\'s adjacent leaves as one run: in any chunking and range, the runs rebuild exactly the bytes, and no two runs of a chunk touch', async () => {
    const dag = await unixfsCar(pseudoRandom(5 * LEAF + 1234, 7))
    const n = dag.content.length
    await fc.assert(fc.asyncProperty(fc.nat(n), fc.nat(n), fc.array(fc.nat(), { maxLength: 8 }), async (a, b, points) => {
      const range = { from: Math.min(a, b), to: Math.max(a, b) }
      const verifier = new CarVerifier(dag.root, { range })
      const out = new Uint8Array(n)
      let written = 0
      for (const chunk of cut(stream(await provide(dag, range)), points)) {
        const runs = fileRuns(verifier.push(chunk))
        for (const [i, r] of runs.entries()) {
          if (i > 0) expect(runs[i - 1]!.offset + runs[i - 1]!.bytes.length).not.toBe(r.offset)
          out.set(r.bytes, r.offset)
          written += r.bytes.length
        }
      }
      verifier.end()
      expect(written).toBe(range.to - range.from)
      expectBytes(out.subarray(range.from, range.to), dag.content.subarray(range.from, range.to))
    }), { numRuns: 25 })
    // the whole CAR in one chunk: one write of the whole file, not one per leaf
    const verifier = new CarVerifier(dag.root)
    const runs = fileRuns(verifier.push(stream(await provide(dag))))
    expect(runs.map(r => [r.offset, r.bytes.length])).toEqual([[0, n]])
  })
  it('runInPlace: a chunk of whole leaf sections in a buffer of its own is written from that buffer; in any chunking and range, pushed or pushed async, it and fileRuns (where it declines) rebuild exactly the bytes', async () => {
    const dag = await unixfsCar(pseudoRandom(5 * LEAF + 1234, 9))
    const n = dag.content.length
    let movedInPlace = 0
    await fc.assert(fc.asyncProperty(fc.nat(n), fc.nat(n), fc.array(fc.nat(), { maxLength: 8 }), fc.boolean(), fc.boolean(), async (a, b, points, atSections, pushAsync) => {
      const range = { from: Math.min(a, b), to: Math.max(a, b) }
      const sent = await provide(dag, range)
      // cut where a provider cuts frames (between sections), or anywhere
      const ends = sent.blocks.reduce((acc, x) => [...acc, acc.at(-1)! + carSection(x.cid, x.bytes).length], [sent.header.length])
      const verifier = new CarVerifier(dag.root, { range })
      const out = new Uint8Array(n)
      let written = 0
      for (const piece of cut(stream(sent), atSections ? points.map(p => ends[p % ends.length]!) : points)) {
        // a frame as the reader joins it: its kind's byte, then the CAR bytes, in memory of its own
        const frame = new Uint8Array(piece.length + 1)
        frame.set(piece, 1)
        const chunk = frame.subarray(1)
        const blocks = pushAsync ? await verifier.pushAsync(chunk, async (code, bytes) => nodeCryptoHash(code, bytes)) : verifier.push(chunk)
        const inPlace = runInPlace(chunk, blocks, verifier)
        if (inPlace !== null) {
          movedInPlace++
          expect([inPlace.bytes.buffer === frame.buffer, inPlace.bytes.byteOffset]).toEqual([true, 1])
        }
        for (const r of inPlace === null ? fileRuns(blocks) : [inPlace]) { out.set(r.bytes, r.offset); written += r.bytes.length }
      }
      verifier.end()
      expect(written).toBe(range.to - range.from)
      expectBytes(out.subarray(range.from, range.to), dag.content.subarray(range.from, range.to))
    }), { numRuns: 40 })
    expect(movedInPlace).toBeGreaterThan(0)

    // a frame whose last section fails after good leaves: the leaves are written, but not in place (the fault's error
    // names a CID in the frame)
    const whole = await provide(dag)
    const bad = { ...whole.blocks[3]!, bytes: whole.blocks[3]!.bytes.slice() }
    bad.bytes[0]! ^= 1
    const faulty = new CarVerifier(dag.root)
    faulty.push(concat([whole.header, carSection(whole.blocks[0]!.cid, whole.blocks[0]!.bytes)]))
    const frame = concat([...whole.blocks.slice(1, 3), bad].map(x => carSection(x.cid, x.bytes)))
    const good = faulty.push(frame)
    expect([good.length, faulty.failure?.name, runInPlace(frame, good, faulty)]).toEqual([2, 'HashMismatchError', null])

    // sections as a provider frames them: the header and the root together, then two leaves a frame, then one cut short
    const sent = await provide(dag)
    const sections = sent.blocks.map(x => carSection(x.cid, x.bytes))
    const frames = [concat([sent.header, sections[0]!]), concat(sections.slice(1, 3)), concat(sections.slice(3, 5)), concat(sections.slice(5)).subarray(0, 1000), concat(sections.slice(5)).subarray(1000)]
    const verifier = new CarVerifier(dag.root)
    const got = frames.map(f => {
      const chunk = f.slice()
      const blocks = verifier.push(chunk)
      const r = runInPlace(chunk, blocks, verifier)
      return r === null ? null : { offset: r.offset, length: r.bytes.length, front: r.bytes.byteOffset === 0 && r.bytes.buffer === chunk.buffer, same: firstDiff(r.bytes, dag.content.subarray(r.offset, r.offset + r.bytes.length)) }
    })
    verifier.end()
    expect(sections.length).toBe(7) // the root and six leaves
    // the root's frame declines (the walk keeps its links), as does a frame the parser keeps part of (it holds a view),
    // and the next one (the section it completes was joined into new memory)
    expect(got).toEqual([null, { offset: 0, length: 2 * LEAF, front: true, same: -1 }, { offset: 2 * LEAF, length: 2 * LEAF, front: true, same: -1 }, null, null])
  })
})
