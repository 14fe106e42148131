// A bounded least-recently-used cache of verified file chunks, shared by a worker's preview sessions (range-reader.ts).
// It only ever holds bytes already checked against their CIDs; dropping one costs a re-fetch (and a re-payment), never trust.

export interface ChunkCache {
  /** The chunk's bytes, marked as just used; undefined when not held. */
  get: (key: string) => Uint8Array | undefined
  has: (key: string) => boolean
  /** Keeps a verified chunk, then drops the least recently used until the bound holds again (possibly this one, if it alone is larger). */
  put: (key: string, bytes: Uint8Array) => void
  /** Bytes held now. */
  bytes: () => number
}

export function createChunkCache (capacity: number): ChunkCache {
  if (!Number.isSafeInteger(capacity) || capacity < 0) throw new RangeError(`a cache bound must be a non-negative byte count, not ${capacity}`)
  // a Map keeps insertion order, so re-inserting on use makes its first entry the least recently used
  const cache = new Map<string, Uint8Array>()
  let held = 0
  return {
    get: (key) => {
      const b = cache.get(key)
      if (b !== undefined) { cache.delete(key); cache.set(key, b) }
      return b
    },
    has: (key) => cache.has(key),
    put: (key, bytes) => {
      const old = cache.get(key)
      if (old !== undefined) { held -= old.length; cache.delete(key) }
      cache.set(key, bytes)
      held += bytes.length
      for (const [k, v] of cache) {
        if (held <= capacity) break
        cache.delete(k)
        held -= v.length
      }
    },
    bytes: () => held
  }
}
