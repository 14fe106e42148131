// The light node's block hash (hash-wasm's SHA-256): the same digests as @noble/hashes, for SHA-256 only.
import { describe, it, expect } from 'vitest'
import { sha256 } from '@noble/hashes/sha2.js'
import { wasmBlockHash } from '../../src/light/block-hash'
import { SHA2_256_CODE } from '../../src/core'

describe('the light node\'s block hash', () => {
  it('gives SHA-256 as noble does, for empty, small and block-sized bytes, and nothing for another hash', async () => {
    const hash = (await wasmBlockHash())!
    expect(hash).toBeTypeOf('function')
    for (const n of [0, 1, 55, 56, 64, 1000, 262_144, 1_048_576 + 3]) {
      const bytes = new Uint8Array(n).map((_, i) => Math.imul(i + n, 2654435761) >>> 24)
      expect(Buffer.from(hash(SHA2_256_CODE, bytes)!).toString('hex')).toBe(Buffer.from(sha256(bytes)).toString('hex'))
    }
    expect(hash(0x13, new Uint8Array(10))).toBeUndefined() // sha2-512: not this hasher's
    // one hasher reused: a digest does not carry state into the next
    expect(Buffer.from(hash(SHA2_256_CODE, new Uint8Array([1]))!)).toEqual(Buffer.from(sha256(new Uint8Array([1]))))
  })
})
