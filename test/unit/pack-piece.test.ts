// Packing and hashing in one pass (the tab's upload): the streamed piece is the piece of the CAR as staged,
// header root patch included; without a pool, or with one whose worker dies, the CAR is still staged whole
// and the piece is left to the second pass.
import { describe, it, expect, beforeAll } from 'vitest'
import { CarBufferReader } from '@ipld/car/buffer-reader'
import { pieceDigest, pieceCidV2, bytesEqual, SEGMENT_PAYLOAD_BYTES } from '../../src/core'
import { createPiecePool } from '../../workers/piece-pool'
import { packAndHash, hashingSink } from '../../src/light/pack-piece'
import { inProcessWorker, pieceWasmModule } from '../helpers/piece-worker'

let module: WebAssembly.Module
beforeAll(async () => { module = await pieceWasmModule() })

/** Bytes that do not repeat (UnixFS would store a repeated block once). */
const fileOf = (n: number): Uint8Array => {
  const b = new Uint8Array(n)
  const v = new DataView(b.buffer)
  for (let i = 0; i + 4 <= n; i += 4) v.setUint32(i, Math.imul(i + 1, 2654435761))
  return b
}

/** A staging file in memory, written as OPFS staging is: appends, and rewrites in place. */
function memoryStaging (): { sink: { write: (b: Uint8Array) => Promise<void>, writeAt: (o: number, b: Uint8Array) => Promise<void> }, bytes: () => Uint8Array<ArrayBuffer> } {
  let buf = new Uint8Array(1 << 20)
  let size = 0
  return {
    sink: {
      write: async (b) => {
        if (size + b.length > buf.length) { const next = new Uint8Array(Math.max(2 * buf.length, size + b.length)); next.set(buf.subarray(0, size)); buf = next }
        buf.set(b, size)
        size += b.length
      },
      writeAt: async (o, b) => { buf.set(b, o) }
    },
    bytes: () => buf.slice(0, size)
  }
}

describe('pack and hash in one pass', { timeout: 300_000 }, () => {
  it('gives the piece of the staged CAR, whose header names the root, for files over and under one segment', async () => {
    const pool = createPiecePool({ size: 2, module, spawn: () => inProcessWorker() })
    try {
      for (const n of [3 * SEGMENT_PAYLOAD_BYTES + 777, 300_000]) {
        const file = fileOf(n)
        const staged = memoryStaging()
        const hashed: number[] = []
        const packedAt: number[] = []
        const r = await packAndHash([file.subarray(0, 1_234_567), file.subarray(1_234_567)], hashingSink(staged.sink, pool, { onHashed: p => hashed.push(p.bytesHashed) }), {
          onPacked: n => packedAt.push(n)
        })
        const car = staged.bytes()
        expect(r.car.carBytes).toBe(car.length)
        expect(CarBufferReader.fromBytes(car).getRoots().map(String)).toEqual([r.car.root.toString()])
        expect(r.piece).not.toBeNull()
        expect(String(r.piece!.v2)).toBe(String((await pool.pieceOf(new Blob([car]))).v2))
        expect(hashed[hashed.length - 1]).toBe(car.length)
        expect(packedAt[packedAt.length - 1]).toBe(n)
      }
      // the patched header counts: the same CAR with the placeholder root has another piece
      const small = fileOf(100_000)
      const staged = memoryStaging()
      const r = await packAndHash([small], hashingSink(staged.sink, pool))
      const car = staged.bytes()
      expect(String(r.piece!.v2)).toBe(String(pieceCidV2(pieceDigest(car))))
      const placeholder = car.slice()
      placeholder.set(new Uint8Array(36), car.indexOf(0x70, 10) - 2) // spoil the root's bytes
      expect(String(pieceCidV2(pieceDigest(placeholder)))).not.toBe(String(r.piece!.v2))
    } finally { pool.close() }
  })

  it('without a pool, or when a hashing worker dies, stages the whole CAR and leaves the piece to the second pass', async () => {
    const file = fileOf(2 * SEGMENT_PAYLOAD_BYTES + 5)
    const plain = memoryStaging()
    const a = await packAndHash([file], hashingSink(plain.sink, null))
    expect(a.piece).toBeNull()
    let spawned = 0
    const dying = createPiecePool({ size: 1, module, spawn: () => inProcessWorker(spawned++ === 0 ? 1 : 0) })
    try {
      const staged = memoryStaging()
      const b = await packAndHash([file], hashingSink(staged.sink, dying))
      expect(b.piece).toBeNull()
      expect(b.car.root.toString()).toBe(a.car.root.toString())
      expect(bytesEqual(staged.bytes(), plain.bytes())).toBe(true) // (toEqual walks 8 MiB element by element: minutes)
      // the second pass over the staged CAR gives the piece
      expect(String((await dying.pieceOf(new Blob([staged.bytes()]))).v2)).toBe(String(pieceCidV2(pieceDigest(staged.bytes()))))
    } finally { dying.close() }
  })

  it('a staging sink that fails part-way (a full quota) fails packing with its error, and does not hang', async () => {
    class StagingFullError extends Error { override name = 'StagingFullError' }
    let written = 0
    const sink = {
      write: async (b: Uint8Array) => { if (written + b.length > 3 << 20) throw new StagingFullError('the browser\'s storage quota is full'); written += b.length },
      writeAt: async () => {}
    }
    const file = fileOf(12 << 20)
    const chunks = function * (): Iterable<Uint8Array> { for (let at = 0; at < file.length; at += 1 << 20) yield file.subarray(at, at + (1 << 20)) }
    const err = await Promise.race([
      packAndHash(chunks(), hashingSink(sink, null)).then(() => null, (e: Error) => e),
      new Promise(resolve => setTimeout(() => { resolve('hung') }, 20_000))
    ])
    expect(err).toBeInstanceOf(StagingFullError)
  })
})

