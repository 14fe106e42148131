// The provider's piece pool: the browser's pool and worker code on worker_threads, over a file-backed Blob.
import { describe, it, expect } from 'vitest'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { openAsBlob } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Piece } from '@web3-storage/data-segment'
import { SEGMENT_PAYLOAD_BYTES } from '../../src/core'
import { createNodePiecePool, sharedNodePiecePool } from '../../src/node/piece-pool-node'
import { pieceOfFile, pieceWriter } from '../../src/node/piece-file'

describe('piece pool on worker threads', { timeout: 300_000 }, () => {
  it('computes the piece of a file across threads, as data-segment does', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'coffer-pool-'))
    const pool = await createNodePiecePool(2)
    try {
      const bytes = new Uint8Array(3 * SEGMENT_PAYLOAD_BYTES + 100).map((_, i) => (i * 40503) >>> 8)
      const file = path.join(dir, 'f.bin')
      await writeFile(file, bytes)
      const got = await pool.pieceOf(await openAsBlob(file))
      expect(String(got.v2)).toBe(String(Piece.toLink(Piece.fromPayload(bytes))))
      // what `coffer piece` runs: the same pool reading the file by position
      const viaFile = await pieceOfFile(file)
      expect(viaFile.hasher).toBe('wasm-pool')
      expect(String(viaFile.v2)).toBe(String(got.v2))
      await writeFile(file, new Uint8Array(30))
      await expect(pool.pieceOf(await openAsBlob(file))).rejects.toMatchObject({ name: 'PieceTooSmallError' })
      await expect(pieceOfFile(dir)).rejects.toThrow(/is not a file/)
    } finally {
      pool.close()
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('hashes frames as they arrive on the shared pool (a provider\'s transfer): the same piece as pieceOfFile', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'coffer-pool-'))
    try {
      expect(await sharedNodePiecePool()).toBe(await sharedNodePiecePool()) // one pool per process
      const bytes = new Uint8Array(2 * SEGMENT_PAYLOAD_BYTES + 4321).map((_, i) => (i * 48271) >>> 9)
      const file = path.join(dir, 'f.bin')
      await writeFile(file, bytes)
      const w = await pieceWriter()
      for (let at = 0; at < bytes.length; at += 1 << 20) await w.write(bytes.subarray(at, at + (1 << 20))) // deal frames are 1 MiB
      const got = await w.finish()
      expect(got.hasher).toBe('wasm-pool')
      expect(String(got.v2)).toBe(String((await pieceOfFile(file)).v2))
      // one byte different is another piece
      const other = await pieceWriter()
      await other.write(bytes.subarray(0, bytes.length - 1))
      await other.write(new Uint8Array([bytes[bytes.length - 1]! ^ 1]))
      expect(String((await other.finish()).v2)).not.toBe(String(got.v2))
      // an aborted writer refuses what comes after
      const dropped = await pieceWriter()
      dropped.abort()
      await expect(dropped.write(bytes.subarray(0, 100))).rejects.toMatchObject({ name: 'AbortError' })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
