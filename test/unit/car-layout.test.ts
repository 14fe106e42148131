// The leaf → file-bytes map (core/piece/car-layout.ts) against a real packed CAR: for every leaf of the
// piece, the CAR bytes the map names equal the FR32-unpadded bits of that leaf, and where it says "file bytes
// a..b" the file holds exactly those bytes; framing and the header land where @ipld/car's reader puts them.
import { describe, it, expect } from 'vitest'
import { CarBufferReader } from '@ipld/car/buffer-reader'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { writeUnixfsCar, SINK_WRITE_BYTES } from '../../src/light/unixfs-car'
import { fr32Pad, paddedPieceSize, bytesEqual } from '../../src/core'
import { concatBytes } from '@noble/hashes/utils.js'
import { locateLeaf, leafPayloadRange, carParts, CarLayoutRecorder, type CarLayout } from '../../src/core/piece/car-layout'

/** Bytes that do not repeat, but with a repeated 256 KiB chunk in the middle (stored once in the CAR). */
const fileOf = (n: number): Uint8Array => {
  const b = new Uint8Array(n)
  const v = new DataView(b.buffer)
  for (let i = 0; i + 4 <= n; i += 4) v.setUint32(i, Math.imul(i + 1, 2654435761))
  return b
}

async function pack (file: Uint8Array, chunks: Uint8Array[]): Promise<{ car: Uint8Array, layout: CarLayout }> {
  const parts: Uint8Array[] = []
  let size = 0
  const r = await writeUnixfsCar(chunks, {
    write: async (b) => { parts.push(b.slice()); size += b.length },
    writeAt: async (o, b) => { parts[0]!.set(b, o) } // the header is the first chunk written
  })
  const car = new Uint8Array(size)
  let at = 0
  for (const p of parts) { car.set(p, at); at += p.length }
  expect(r.fileBytes).toBe(file.length)
  return { car, layout: r.layout }
}

/** The payload bits a padded leaf carries, read back out of the padded piece (the inverse of fr32Pad for one leaf). */
function padded (car: Uint8Array): Uint8Array {
  const quads = Math.ceil(car.length / 127)
  const input = new Uint8Array(quads * 127)
  input.set(car)
  const out = new Uint8Array(paddedPieceSize(car.length))
  fr32Pad(input, 0, out, 0, quads)
  return out
}

describe('where a leaf sits in the file', () => {
  it('payload ranges tile each 127-byte quad: 32 or 33 bytes per leaf, overlapping by the byte FR32 splits', () => {
    expect([0, 1, 2, 3, 4].map(leafPayloadRange)).toEqual([
      { start: 0, end: 32 }, { start: 31, end: 64 }, { start: 63, end: 96 }, { start: 95, end: 127 }, { start: 127, end: 159 }
    ])
  })

  it('maps every leaf of a real packed CAR to the header, framing, file bytes or padding, exactly', async () => {
    const n = 900_000
    const file = fileOf(n)
    // a repeated chunk: UnixFS stores it once, at its first file offset
    file.set(file.subarray(0, 262144), 262144 * 2)
    const { car, layout } = await pack(file, [file.subarray(0, 77_777), file.subarray(77_777)])
    expect(layout.carBytes).toBe(car.length)
    expect(layout.fileBytes).toBe(n)
    // a few KiB at most: raw leaves in runs
    expect(JSON.stringify(layout).length).toBeLessThan(2048)
    // the sections are where @ipld/car reads them
    const reader = CarBufferReader.fromBytes(car)
    const blocks = reader.blocks()
    const sectionsAt: number[] = []
    for (const r of layout.runs) for (let k = 0; k < r.count; k++) sectionsAt.push(r.at + k * (r.prefix + r.data))
    expect(sectionsAt.length).toBe(blocks.length)
    blocks.forEach((b, i) => {
      const at = sectionsAt[i]!
      const parts = carParts(layout, at, at + 1)
      expect(parts[0]!.kind).toBe('framing')
      // the block's data ends where the next section starts
      const dataAt = car.length === at ? at : at + (layout.runs.find(r => r.at <= at && at < r.at + r.count * (r.prefix + r.data))!.prefix)
      expect(car.subarray(dataAt, dataAt + b.bytes.length)).toEqual(b.bytes)
    })
    const piece = padded(car)
    const leaves = piece.length / 32
    const kinds = new Set<string>()
    let fileLeaves = 0
    for (let leaf = 0; leaf < leaves; leaf++) {
      const place = locateLeaf(layout, leaf)
      expect(place.paddedOffset).toBe(leaf * 32)
      // the parts tile the leaf's payload range
      expect(place.parts[0]!.start).toBe(place.payloadStart)
      expect(place.parts[place.parts.length - 1]!.end).toBe(place.payloadEnd)
      place.parts.forEach((p, i) => { if (i > 0) expect(p.start).toBe(place.parts[i - 1]!.end) })
      for (const p of place.parts) {
        kinds.add(p.kind)
        if (p.kind === 'file') {
          fileLeaves++
          expect(car.subarray(p.start, p.end)).toEqual(file.subarray(p.fileStart, p.fileEnd))
        }
        if (p.kind === 'padding') expect(p.start).toBeGreaterThanOrEqual(car.length)
        if (p.kind === 'header') expect(p.end).toBeLessThanOrEqual(layout.headerBytes)
      }
      // the leaf's bits are those payload bytes (re-pad the range's quad and compare the leaf)
      if (leaf % 97 === 0) {
        const q = Math.floor(leaf / 4)
        const quad = new Uint8Array(127)
        quad.set(car.subarray(q * 127, Math.min(car.length, q * 127 + 127)))
        const out = new Uint8Array(128)
        fr32Pad(quad, 0, out, 0, 1)
        expect(out.subarray((leaf % 4) * 32, (leaf % 4) * 32 + 32)).toEqual(piece.subarray(leaf * 32, leaf * 32 + 32))
      }
    }
    expect([...kinds].sort()).toEqual(['file', 'framing', 'header', 'node', 'padding'])
    expect(fileLeaves).toBeGreaterThan((n - 262144) / 32) // the repeated chunk's second copy is not in the CAR
  })

  it('stays a few KiB: 64 MiB of 256 KiB chunks is a handful of runs between the DAG nodes', async () => {
    const size = 4 * 2 ** 20
    const chunks = Array.from({ length: 16 }, (_, c) => {
      const b = new Uint8Array(size)
      const v = new DataView(b.buffer)
      for (let i = 0; i < size; i += 4) v.setUint32(i, Math.imul(c * size + i + 1, 2654435761))
      return b
    })
    const r = await writeUnixfsCar(chunks, { write: async () => {}, writeAt: async () => {} })
    const json = JSON.stringify(r.layout).length
    // measured: 64 MiB → 5 runs, 671 bytes; 1 GiB → 49 runs, 5,979 bytes (5.8 KiB per GiB)
    console.log(`CAR layout of a 64 MiB file: ${r.layout.runs.length} runs, ${json} bytes as JSON`)
    expect(r.layout.runs.length).toBeLessThanOrEqual(6)
    expect(json).toBeLessThan(1024)
  })

  it('a wrong map is caught: a file offset off by one byte no longer matches the file', async () => {
    const file = fileOf(300_000)
    const { car, layout } = await pack(file, [file])
    const run = layout.runs.find(r => r.fileOffset !== null)!
    const shifted: CarLayout = { ...layout, runs: layout.runs.map(r => r === run ? { ...r, fileOffset: r.fileOffset! + 1 } : r) }
    const p = carParts(shifted, run.at + run.prefix + 1000, run.at + run.prefix + 1032)[0]!
    expect(p.kind).toBe('file')
    if (p.kind === 'file') expect(car.subarray(p.start, p.end)).not.toEqual(file.subarray(p.fileStart, p.fileEnd))
  })

  it('a DAG node missing from the CAR is a named error', async () => {
    const rec = new CarLayoutRecorder()
    const root = CID.createV1(0x70, await sha256.digest(new Uint8Array(1)))
    expect(() => rec.finish(root, 10)).toThrow(expect.objectContaining({ name: 'CarLayoutError' }))
  })
})

describe('the CAR as the sink receives it', () => {
  it('comes in runs of exactly SINK_WRITE_BYTES (the last shorter), which together are the whole CAR', async () => {
    const file = fileOf(3 * 2 ** 20 + 12_345)
    const sizes: number[] = []
    const parts: Uint8Array[] = []
    const r = await writeUnixfsCar([file.subarray(0, 1_000_000), file.subarray(1_000_000)], {
      write: async (b) => { sizes.push(b.length); parts.push(b.slice()) },
      writeAt: async (o, b) => { parts[0]!.set(b, o) }
    })
    // a block's length, CID and bytes used to be three writes each: 3 MiB of 256 KiB leaves made over 40
    expect(sizes.slice(0, -1).every(n => n === SINK_WRITE_BYTES)).toBe(true)
    expect(sizes.at(-1)).toBeLessThanOrEqual(SINK_WRITE_BYTES)
    expect(sizes.length).toBe(Math.ceil(r.carBytes / SINK_WRITE_BYTES))
    const car = new Uint8Array(r.carBytes)
    let at = 0
    for (const p of parts) { car.set(p, at); at += p.length }
    expect(at).toBe(r.carBytes)
    const reader = CarBufferReader.fromBytes(car)
    expect(reader.getRoots().map(String)).toEqual([r.root.toString()])
    expect(reader.blocks().reduce((n, b) => n + (b.cid.code === 0x55 ? b.bytes.length : 0), 0)).toBe(file.length)
  })

  it('is handed over: a sink that moves each write\'s buffer away (to another worker) gets the same CAR, and the same layout', async () => {
    const file = fileOf(2 * 2 ** 20 + 777)
    const kept: Uint8Array[] = []
    const plain = await writeUnixfsCar([file], { write: async (b) => { kept.push(b.slice()) }, writeAt: async (o, b) => { kept[0]!.set(b, o) } })
    const moved: Uint8Array[] = []
    // as postMessage with a transfer list leaves them: empty here
    const away = (b: Uint8Array): Uint8Array => { const { byteOffset, length } = b; return new Uint8Array(structuredClone(b.buffer, { transfer: [b.buffer as ArrayBuffer] }), byteOffset, length) }
    const r = await writeUnixfsCar([file], { write: async (b) => { moved.push(away(b)) }, writeAt: async (o, b) => { moved[0]!.set(away(b), o) } })
    expect(r.carBytes).toBe(plain.carBytes)
    expect(r.layout).toEqual(plain.layout)
    expect(bytesEqual(concatBytes(...moved), concatBytes(...kept))).toBe(true)
  })
})

describe('the packer while the sink writes', () => {
  it('goes on reading and hashing the file while a write is outstanding, and only so far', async () => {
    const file = fileOf(24 * 2 ** 20)
    let read = 0
    const chunks = async function * (): AsyncIterable<Uint8Array> {
      for (let at = 0; at < file.length; at += 2 ** 18) { read = at + 2 ** 18; yield file.subarray(at, at + 2 ** 18) }
    }
    let release: () => void = () => {}
    const gate = new Promise<void>(resolve => { release = resolve })
    const parts: Uint8Array[] = []
    const done = writeUnixfsCar(chunks(), {
      // the first write lands only once the test lets it: a tab's worker busy for a while
      write: async (b) => { if (parts.length === 0) { parts.push(b); await gate } else parts.push(b) },
      writeAt: async (o, b) => { parts[0]!.set(b, o) }
    })
    // waiting on the first write, a packer used to stop at 2.5 MiB read (the importer's own buffering)
    const until = Date.now() + 20_000
    while (read < 4 * 2 ** 20 && Date.now() < until) await new Promise(resolve => setTimeout(resolve, 20))
    expect(read).toBeGreaterThanOrEqual(4 * 2 ** 20)
    // and it stops there (5 MiB read here: SINK_WRITES_AHEAD runs out and what the importer buffers), far short of
    // the whole file: what the packer holds while its sink is slow is bounded
    await new Promise(resolve => setTimeout(resolve, 500))
    expect(read).toBeLessThanOrEqual(file.length / 2)
    expect(parts.length).toBe(1) // one write at a time: the others wait their turn
    release()
    const r = await done
    expect(parts.reduce((n, p) => n + p.length, 0)).toBe(r.carBytes)
    expect(r.fileBytes).toBe(file.length)
  })
})
