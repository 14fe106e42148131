// MemoryBlockStore keeps blocks for as long as the node runs: a block that arrived as a view into a larger buffer
// (decoded out of a chain-exchange answer or a CAR) must not keep that buffer alive with it.
import { describe, it, expect } from 'vitest'
import * as dagCbor from '@ipld/dag-cbor'
import { MemoryBlockStore, chainCid } from '../../src/core'

describe('MemoryBlockStore', () => {
  it('copies a block that is a view into a larger buffer, keeps an exact one as it is, and reports its footprint', () => {
    const block = dagCbor.encode({ hello: 'world', n: 7 })
    const big = new Uint8Array(1 << 20)
    big.set(block, 4096)
    const view = big.subarray(4096, 4096 + block.length)
    const s = new MemoryBlockStore()
    const cid = s.put(view)
    expect(cid.equals(chainCid(block))).toBe(true)
    expect(s.get(cid)!.buffer).not.toBe(big.buffer)
    expect(s.get(cid)!.buffer.byteLength).toBe(block.length)
    const exact = Uint8Array.from(dagCbor.encode({ other: true }))
    const cid2 = s.put(exact)
    expect(s.get(cid2)).toBe(exact)
    expect(s.footprint()).toEqual({ blocks: 2, bytes: block.length + exact.length, bufferBytes: block.length + exact.length })
    // a Node Buffer view (what cborg's encoder returns for a mid-sized block, out of Node's shared pool): its
    // slice() is another view, so the store must copy by other means
    const pooled = Buffer.from(dagCbor.encode({ pooled: 'x'.repeat(150) }))
    const pool = Buffer.allocUnsafe(8192)
    pooled.copy(pool, 100)
    const cid3 = s.put(pool.subarray(100, 100 + pooled.length))
    expect(s.get(cid3)!.buffer.byteLength).toBe(pooled.length)
    // what a caller must still write is the kept copy, not the view
    expect(s.unpersisted().get(cid.toString())!.buffer.byteLength).toBe(block.length)
  })
})
