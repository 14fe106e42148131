// The proofs a tab keeps to serve other tabs (verified-state-cache.ts): found by the same request, bounded in bytes
// with the least recently used dropped first, and an answer bigger than the whole budget not kept at all.
import { describe, it, expect } from 'vitest'
import { createVerifiedStateCache } from '../../src/light/verified-state-cache'
import { CID } from '../../src/core'
import { sha256 } from 'multiformats/hashes/sha2'

const cidOf = async (n: number): Promise<CID> => CID.createV1(0x71, await sha256.digest(new Uint8Array([n])))

describe('verified state cache', () => {
  it('keeps answers by request, within its budget, least recently used out first', async () => {
    const cache = createVerifiedStateCache(300)
    const req = async (n: number) => ({ kind: 'miners' as const, at: await cidOf(n) })
    cache.put(await req(1), [new Uint8Array(100)])
    cache.put(await req(2), [new Uint8Array(100)])
    cache.put(await req(3), [new Uint8Array(100)])
    expect(cache.get(await req(1))).toHaveLength(1) // used: now the newest
    cache.put(await req(4), [new Uint8Array(100)])
    expect(cache.get(await req(2))).toBeUndefined() // the least recently used went
    expect(cache.get(await req(1))).toHaveLength(1)
    expect(cache.get(await req(4))).toHaveLength(1)
    expect(cache.bytes()).toBeLessThanOrEqual(300)
    cache.put(await req(5), [new Uint8Array(301)]) // over the whole budget: not kept, nothing else dropped for it
    expect(cache.get(await req(5))).toBeUndefined()
    expect(cache.get(await req(4))).toHaveLength(1)
    // another read at the same root is another request
    expect(cache.get({ kind: 'escrow', address: new Uint8Array([0, 1]), at: await cidOf(1) })).toBeUndefined()
  })
})
