// The gateway's CAR planning and streaming over an in-memory CarBlocks: the plan (blocks, block bytes, CAR length)
// matches the bytes streamed, dups=n sends a repeated leaf once, entity-bytes trims to the blocks needed, scopes on
// a non-file, a missing or oversized stored block refused before any byte; a plan reading more DAG nodes or walking
// more blocks than its limits refused (PlanTooLargeError), the same file paged with entity-bytes planned.
import { describe, it, expect } from 'vitest'
import * as dagCbor from '@ipld/dag-cbor'
import { sha256 } from 'multiformats/hashes/sha2'
import { CID } from 'multiformats/cid'
import { CarBlockParser, CarVerifier } from '../../src/core'
import { writeUnixfsCar } from '../../src/light/unixfs-car'
import type { CarBlocks } from '../../src/node/provider/car-index'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { planCar, carChunks, MissingBlockError, BlockTooLargeToServeError, UnsupportedDagError, PlanTooLargeError } from '../../src/node/provider/http-gateway'

const KiB = 1024
const LEAF = 256 * KiB

/** Blocks by CID in memory, as a stored CAR's index would give them. */
function memoryBlocks (blocks: Map<string, Uint8Array>, lengths: Map<string, number> = new Map()): CarBlocks & { reads: string[] } {
  const reads: string[] = []
  return {
    roots: [], blockCount: blocks.size, built: false, reads,
    has: (cid) => blocks.has(cid.toString()),
    cids: () => blocks.keys(),
    blockLength: (cid) => lengths.get(cid.toString()) ?? blocks.get(cid.toString())?.length,
    read: async (cid) => { reads.push(cid.toString()); return blocks.get(cid.toString())! },
    close: async () => {}
  }
}

async function fileBlocks (file: Uint8Array): Promise<{ root: CID, blocks: Map<string, Uint8Array> }> {
  const parts: Uint8Array[] = []
  const r = await writeUnixfsCar([file], { write: async (b) => { parts.push(b.slice()) }, writeAt: async (o, b) => { parts[0]!.set(b, o) } })
  const p = new CarBlockParser()
  for (const part of parts) p.push(part)
  const blocks = new Map<string, Uint8Array>()
  for (let b = p.next(); b !== null; b = p.next()) blocks.set(b.cid.toString(), b.bytes)
  return { root: r.root, blocks }
}

const collect = async (it: AsyncIterable<Uint8Array>): Promise<Uint8Array> => {
  const parts: Uint8Array[] = []
  for await (const p of it) parts.push(p.slice())
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}

/** 4 leaves, the first two the same bytes: the DAG links one block twice. */
const file = new Uint8Array(3 * LEAF + 1000).map((_, i) => (i % LEAF) * 7 + (i < 2 * LEAF ? 0 : i >> 8))

describe('planCar / carChunks', () => {
  it('the plan is what streams: blocks, block bytes and CAR length; dups=y verifies in the walk order', async () => {
    const { root, blocks } = await fileBlocks(file)
    const store = memoryBlocks(blocks)
    const plan = await planCar(store, root, { scope: 'all', dups: true })
    // planning reads the dag-pb root only: a raw leaf's length comes from the index
    expect(store.reads).toEqual([root.toString(), root.toString()])
    const car = await collect(carChunks(store, plan))
    expect(car.length).toBe(plan.carBytes)
    const v = new CarVerifier(root)
    let got = 0
    for (const b of v.push(car)) got += b.slice?.bytes.length ?? 0
    v.end()
    expect(got).toBe(file.length)
    expect(v.stats.blockBytesVerified).toBe(plan.blockBytes)
    expect(v.stats.blocksVerified).toBe(plan.blocks)
  })

  it('dups=n sends the twice-linked leaf once', async () => {
    const { root, blocks } = await fileBlocks(file)
    const y = await planCar(memoryBlocks(blocks), root, { scope: 'all', dups: true })
    const n = await planCar(memoryBlocks(blocks), root, { scope: 'all', dups: false })
    expect(n.blocks).toBe(y.blocks - 1)
    expect(n.blockBytes).toBe(y.blockBytes - LEAF)
    const p = new CarBlockParser()
    p.push(await collect(carChunks(memoryBlocks(blocks), n)))
    const seen = new Set<string>()
    for (let b = p.next(); b !== null; b = p.next()) {
      expect(seen.has(b.cid.toString())).toBe(false)
      seen.add(b.cid.toString())
    }
    expect(seen.size).toBe(n.blocks)
  })

  it('entity-bytes plans only the leaves the range touches; a range resolving to nothing is the root block alone', async () => {
    const { root, blocks } = await fileBlocks(file)
    const plan = await planCar(memoryBlocks(blocks), root, { scope: 'all', dups: true, entityBytes: { from: 2 * LEAF + 10, to: 2 * LEAF + 20 } })
    expect(plan.blocks).toBe(2) // root + the third leaf
    expect(plan.walk).toEqual({ range: { from: 2 * LEAF + 10, to: 2 * LEAF + 21 } })
    const none = await planCar(memoryBlocks(blocks), root, { scope: 'all', dups: true, entityBytes: { from: 100, to: -file.length } })
    expect(none.walk).toBeNull()
    expect(none.blocks).toBe(1)
  })

  it('a block that is no UnixFS file: entity is the block (the spec), all is refused (501), block is the block', async () => {
    const bytes = dagCbor.encode({ hello: 'world' })
    const cid = CID.createV1(dagCbor.code, await sha256.digest(bytes))
    const store = memoryBlocks(new Map([[cid.toString(), bytes]]))
    expect((await planCar(store, cid, { scope: 'entity', dups: false })).blocks).toBe(1)
    expect((await planCar(store, cid, { scope: 'block', dups: false })).blocks).toBe(1)
    await expect(planCar(store, cid, { scope: 'all', dups: false })).rejects.toBeInstanceOf(UnsupportedDagError)
  })

  it('a leaf the stored CAR lacks, or one above 2 MiB, is refused while planning (nothing sent)', async () => {
    const { root, blocks } = await fileBlocks(file)
    const leaf = [...blocks.keys()].find(k => k !== root.toString())!
    const lacking = new Map(blocks)
    lacking.delete(leaf)
    await expect(planCar(memoryBlocks(lacking), root, { scope: 'all', dups: true })).rejects.toBeInstanceOf(MissingBlockError)
    await expect(planCar(memoryBlocks(blocks, new Map([[leaf, 3 * 2 ** 20]])), root, { scope: 'all', dups: true })).rejects.toBeInstanceOf(BlockTooLargeToServeError)
  })

  it('a plan over its limits is refused before payment (node bytes read, blocks walked); entity-bytes pages fit', async () => {
    // dag-pb leaves (a file's bytes inside UnixFS nodes, as `ipfs add` without raw leaves makes): planning reads them all
    const LEAF_PB = 64 * KiB
    const blocks = new Map<string, Uint8Array>()
    const links: dagPb.PBLink[] = []
    const unixfs = new UnixFS({ type: 'file' })
    for (let i = 0; i < 4; i++) {
      const bytes = dagPb.encode({ Data: new UnixFS({ type: 'file', data: new Uint8Array(LEAF_PB).fill(i + 1) }).marshal(), Links: [] })
      const cid = CID.createV1(dagPb.code, await sha256.digest(bytes))
      blocks.set(cid.toString(), bytes)
      links.push({ Hash: cid, Tsize: bytes.length })
      unixfs.addBlockSize(BigInt(LEAF_PB))
    }
    const rootBytes = dagPb.encode({ Data: unixfs.marshal(), Links: links })
    const root = CID.createV1(dagPb.code, await sha256.digest(rootBytes))
    blocks.set(root.toString(), rootBytes)
    const limits = { maxReadBytes: 2 * LEAF_PB + 1000, maxBlocks: 100 }
    const store = memoryBlocks(blocks)
    const refused = planCar(store, root, { scope: 'all', dups: true, limits })
    await expect(refused).rejects.toBeInstanceOf(PlanTooLargeError)
    await expect(refused).rejects.toMatchObject({ status: 422, limit: limits.maxReadBytes, unit: 'node bytes read' })
    // it stopped at the limit: the third leaf (which would pass it) was never read
    expect(store.reads.filter(r => r !== root.toString()).length).toBe(2)
    // the whole file within a larger limit, and a page of it within this one
    expect((await planCar(memoryBlocks(blocks), root, { scope: 'all', dups: true, limits: { maxReadBytes: 5 * LEAF_PB, maxBlocks: 100 } })).blocks).toBe(5)
    const page = await planCar(memoryBlocks(blocks), root, { scope: 'all', dups: true, limits, entityBytes: { from: 0, to: 2 * LEAF_PB - 1 } })
    expect(page.blocks).toBe(3)
    // blocks walked: raw leaves cost no read, but a walk of many is refused too
    const raw = await fileBlocks(file)
    await expect(planCar(memoryBlocks(raw.blocks), raw.root, { scope: 'all', dups: true, limits: { maxReadBytes: 1 << 20, maxBlocks: 3 } }))
      .rejects.toMatchObject({ name: 'PlanTooLargeError', limit: 3, unit: 'blocks' })
    expect((await planCar(memoryBlocks(raw.blocks), raw.root, { scope: 'all', dups: true, limits: { maxReadBytes: 1 << 20, maxBlocks: 3 }, entityBytes: { from: 0, to: 10 } })).blocks).toBe(2)
  })
})
