// The provider's CAR index over real payload CARs written by writeUnixfsCar: every block found and read back
// as the CAR holds it, the index kept beside the file and reused, rebuilt when stale or torn, and each kind of
// broken CAR refused by name with nothing left under the index's name.
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { mkdtemp, rm, open, readFile, writeFile, stat, utimes, truncate, access } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import * as dagCbor from '@ipld/dag-cbor'
import { CarBufferReader } from '@ipld/car/buffer-reader'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { varint } from 'multiformats'
import { writeUnixfsCar } from '../../src/light/unixfs-car'
import {
  openCarBlocks, carIndexPath, removeCarIndex, StoredCarFormatError, StoredCarTruncatedError, BlockNotInCarError, StoredCarClosedError
} from '../../src/node/provider/car-index'

let dir: string
beforeAll(async () => { dir = await mkdtemp(path.join(tmpdir(), 'coffer-car-index-')) })
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

/** Deterministic bytes that do not repeat, so no two leaves share a CID. */
function content (n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n)
  const dv = new DataView(out.buffer)
  for (let i = 0; i + 4 <= n; i += 4) dv.setUint32(i, Math.imul(i + seed, 2654435761))
  return out
}

/** A payload CAR as the client uploads it, written to `name` in the temp folder through a file sink. */
async function carFile (name: string, bytes: Uint8Array): Promise<{ file: string, root: CID, car: Uint8Array }> {
  const file = path.join(dir, name)
  const fh = await open(file, 'w')
  let at = 0
  const r = await writeUnixfsCar([bytes.subarray(0, bytes.length >> 1), bytes.subarray(bytes.length >> 1)], {
    write: async (b) => { await fh.write(b, 0, b.length, at); at += b.length },
    writeAt: async (offset, b) => { await fh.write(b, 0, b.length, offset) }
  })
  await fh.close()
  return { file, root: r.root, car: new Uint8Array(await readFile(file)) }
}

/** Byte equality without vitest's element-by-element diff, which takes seconds on a 256 KiB block. */
const same = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i])

const exists = async (f: string): Promise<boolean> => await access(f).then(() => true, () => false)

async function rejection (p: Promise<unknown>): Promise<Error> {
  const err = await p.then(() => undefined, (e: Error) => e)
  expect(err).toBeInstanceOf(Error)
  return err!
}

describe('CAR index', () => {
  it('finds and reads every block of a multi-MiB payload CAR, each hashing to its CID', async () => {
    const { file, root, car } = await carFile('big.car', content(6 * 2 ** 20 + 123, 1))
    const expected = CarBufferReader.fromBytes(car).blocks()
    expect(expected.length).toBeGreaterThan(20) // 256 KiB leaves and the DAG nodes above them
    const c = await openCarBlocks(file)
    try {
      expect(c.built).toBe(true)
      expect(c.roots.map(String)).toEqual([root.toString()])
      expect(c.blockCount).toBe(expected.length)
      for (const b of expected) {
        expect(c.has(b.cid)).toBe(true)
        expect(c.blockLength(b.cid)).toBe(b.bytes.length)
        const got = await c.read(b.cid)
        expect(same(got, b.bytes)).toBe(true)
        expect((await sha256.digest(got)).digest).toEqual(b.cid.multihash.digest)
      }
      const absent = CID.createV1(0x55, await sha256.digest(Uint8Array.of(1, 2, 3)))
      expect(c.has(absent)).toBe(false)
      expect(c.blockLength(absent)).toBeUndefined()
      const err = await rejection(c.read(absent))
      expect(err).toBeInstanceOf(BlockNotInCarError)
      expect((err as BlockNotInCarError).cid.equals(absent)).toBe(true)
    } finally { await c.close() }
    expect(await exists(carIndexPath(file))).toBe(true)
    expect(await exists(`${carIndexPath(file)}.tmp`)).toBe(false)
  })

  it('a one-block payload (raw root) indexes too', async () => {
    const { file, root } = await carFile('small.car', content(1000, 2))
    const c = await openCarBlocks(file)
    expect(c.roots[0]!.equals(root)).toBe(true)
    expect(c.blockCount).toBe(1)
    expect(same(await c.read(root), content(1000, 2))).toBe(true)
    await c.close()
  })

  it('reuses the stored index on the next open, and rebuilds it when the file changes', async () => {
    const { file, car } = await carFile('reuse.car', content(3 * 2 ** 20, 3))
    const first = await openCarBlocks(file)
    await first.close()
    expect(first.built).toBe(true)
    const idx = await stat(carIndexPath(file), { bigint: true })

    const second = await openCarBlocks(file)
    expect(second.built).toBe(false)
    expect(second.blockCount).toBe(first.blockCount)
    const some = CarBufferReader.fromBytes(car).blocks()[3]!
    expect(same(await second.read(some.cid), some.bytes)).toBe(true)
    await second.close()
    expect((await stat(carIndexPath(file), { bigint: true })).mtimeNs).toBe(idx.mtimeNs) // not rewritten

    // the same bytes, written again (a newer mtime): the index no longer vouches for them
    const later = new Date(Date.now() + 5_000)
    await utimes(file, later, later)
    const third = await openCarBlocks(file)
    expect(third.built).toBe(true)
    await third.close()
    const again = await openCarBlocks(file)
    await again.close()
    expect(again.built).toBe(false)
  })

  it('rebuilds an index that is torn, foreign, or out of bounds for the file', async () => {
    const { file, car } = await carFile('torn.car', content(2 * 2 ** 20, 4))
    await (await openCarBlocks(file)).close()
    const good = await readFile(carIndexPath(file))
    const m = dagCbor.decode(good) as Record<string, unknown>
    const variants: Array<[string, Uint8Array]> = [
      ['half an index', good.subarray(0, good.length >> 1)],
      ['not CBOR at all', new TextEncoder().encode('hello')],
      ['another version', dagCbor.encode({ ...m, version: 2 })],
      ['another file size', dagCbor.encode({ ...m, fileBytes: (m.fileBytes as number) + 1 })],
      ['a block past the file end', dagCbor.encode({ ...m, blocks: [[(m.blocks as unknown[][])[0]![0], car.length - 10, 11]] })],
      ['a block row that is not a row', dagCbor.encode({ ...m, blocks: [5] })]
    ]
    for (const [name, bytes] of variants) {
      await writeFile(carIndexPath(file), bytes)
      const c = await openCarBlocks(file)
      expect([name, c.built]).toEqual([name, true])
      const b = CarBufferReader.fromBytes(car).blocks()[1]!
      expect(same(await c.read(b.cid), b.bytes)).toBe(true)
      await c.close()
      expect(await readFile(carIndexPath(file))).toEqual(good) // rebuilt to the same index
    }
  })

  it('two opens of a new file at once build one index and both read', async () => {
    const { file, car } = await carFile('twice.car', content(2 * 2 ** 20, 5))
    const [a, b] = await Promise.all([openCarBlocks(file), openCarBlocks(file)])
    const blk = CarBufferReader.fromBytes(car).blocks()[2]!
    expect(same(await a.read(blk.cid), blk.bytes)).toBe(true)
    expect(same(await b.read(blk.cid), blk.bytes)).toBe(true)
    await a.close()
    await b.close()
    const again = await openCarBlocks(file)
    await again.close()
    expect(again.built).toBe(false)
  })

  it('a read after close is StoredCarClosedError; a file cut short under an open index is StoredCarTruncatedError', async () => {
    const { file, car } = await carFile('shrinks.car', content(2 * 2 ** 20, 6))
    const blocks = CarBufferReader.fromBytes(car).blocks()
    const c = await openCarBlocks(file)
    const last = blocks.at(-1)! // the root, written last: its bytes end the file
    await truncate(file, car.length - 10)
    const err = await rejection(c.read(last.cid))
    expect(err).toBeInstanceOf(StoredCarTruncatedError)
    await c.close()
    expect(await rejection(c.read(blocks[0]!.cid))).toBeInstanceOf(StoredCarClosedError)
    await c.close() // twice is fine
  })

  it('removeCarIndex removes the index beside the file', async () => {
    const { file } = await carFile('removed.car', content(1000, 7))
    await (await openCarBlocks(file)).close()
    await removeCarIndex(file)
    expect(await exists(carIndexPath(file))).toBe(false)
    await removeCarIndex(file) // absent is fine
  })

  describe('refuses a CAR that does not parse, by name, and writes no index', () => {
    let car: Uint8Array
    let headerEnd: number
    let firstBlockEnd: number
    let sectionVarint: number
    beforeAll(async () => {
      car = (await carFile('source.car', content(2 * 2 ** 20, 8))).car
      const headerLength = varint.decode(car)
      headerEnd = headerLength[0] + headerLength[1]
      const section = varint.decode(car, headerEnd)
      sectionVarint = section[1]
      firstBlockEnd = headerEnd + section[1] + section[0]
    })

    const header = (h: unknown): Uint8Array => { const b = dagCbor.encode(h); return Uint8Array.of(...varint.encodeTo(b.length, new Uint8Array(varint.encodingLength(b.length))), ...b) }
    const cases: Array<[string, () => Uint8Array, typeof StoredCarFormatError | typeof StoredCarTruncatedError, RegExp]> = [
      ['an empty file', () => new Uint8Array(0), StoredCarTruncatedError, /inside the header/],
      ['a file cut inside its header', () => car.subarray(0, headerEnd - 5), StoredCarTruncatedError, /at byte \d+: /],
      ['a file cut inside a section head', () => car.subarray(0, headerEnd + 3), StoredCarTruncatedError, /at byte \d+/],
      ['a file cut inside a block', () => car.subarray(0, firstBlockEnd - 100), StoredCarTruncatedError, /runs past the end of the file/],
      ['a file cut inside the last block', () => car.subarray(0, car.length - 1), StoredCarTruncatedError, /runs past the end of the file/],
      ['a header that is not DAG-CBOR', () => Uint8Array.of(3, 0xff, 0xff, 0xff), StoredCarFormatError, /header/],
      ['a header of zero length', () => Uint8Array.of(0), StoredCarFormatError, /zero length/],
      ['a CAR v2 pragma', () => header({ version: 2 }), StoredCarFormatError, /version: 2/],
      ['a header of another shape', () => header({ version: 1, roots: 'none' }), StoredCarFormatError, /header/],
      ['a header naming no root', () => header({ version: 1, roots: [] }), StoredCarFormatError, /names no root/],
      ['a header claiming 2 MiB', () => { const b = new Uint8Array(2 ** 21 + 10); varint.encodeTo(2 ** 21, b); return b }, StoredCarFormatError, /beyond any CAR/],
      ['a section of zero length', () => Uint8Array.of(...car.subarray(0, headerEnd), 0), StoredCarFormatError, /zero length/],
      ['a section shorter than its CID', () => Uint8Array.of(...car.subarray(0, headerEnd), 5, ...car.subarray(headerEnd + sectionVarint, headerEnd + sectionVarint + 60)), StoredCarFormatError, /shorter than its CID/],
      ['a section whose CID is no CID', () => Uint8Array.of(...car.subarray(0, headerEnd), 40, 7, ...new Uint8Array(39)), StoredCarFormatError, /section/]
    ]
    for (const [name, bytes, type, message] of cases) {
      it(name, async () => {
        const file = path.join(dir, `bad-${name.replace(/\W+/g, '-')}.car`)
        await writeFile(file, bytes())
        const err = await rejection(openCarBlocks(file))
        expect(err).toBeInstanceOf(type)
        expect(err.name).toBe(type.name)
        expect(err.message).toMatch(message)
        expect((err as StoredCarFormatError).file).toBe(file)
        expect(await exists(carIndexPath(file))).toBe(false)
      })
    }
  })
})
