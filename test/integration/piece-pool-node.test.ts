// The provider's piece pool: the browser's pool and worker code on worker_threads, over a file-backed Blob.
import { describe, it, expect } from 'vitest'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { openAsBlob } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Piece } from '@web3-storage/data-segment'
import { SEGMENT_PAYLOAD_BYTES } from '../../src/core'
import { createNodePiecePool } from '../../src/node/piece-pool-node'
import { pieceOfFile } from '../../src/node/piece-file'

describe('piece pool on worker threads', () => {
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
})
