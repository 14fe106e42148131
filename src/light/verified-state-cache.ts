// The state proofs this tab checked, kept to serve other tabs (issue 15 part 2): a tab that reaches no node asks a
// tab for the same reads (a block's Expected Consensus checks at the same state roots, the genesis power table) and
// checks the answer itself, as it would a node's. Only answers that verified here are kept, keyed by the request's
// wire bytes (its state roots or header CIDs name exactly what it reads), the least recently used dropped first.
import { encodeStateRequest, type StateRequest } from '../core'

/** Bytes of proofs kept: a block's EC proof is a few KiB, so some thousands of blocks' worth. */
export const VERIFIED_STATE_CACHE_BYTES = 32 * 1024 * 1024

export interface VerifiedStateCache {
  put: (req: StateRequest, blocks: Uint8Array[]) => void
  get: (req: StateRequest) => Uint8Array[] | undefined
  bytes: () => number
}

export function createVerifiedStateCache (maxBytes = VERIFIED_STATE_CACHE_BYTES): VerifiedStateCache {
  const entries = new Map<string, { blocks: Uint8Array[], bytes: number }>()
  let total = 0
  const keyOf = (req: StateRequest): string => {
    let s = ''
    for (const b of encodeStateRequest(req)) s += String.fromCharCode(b)
    return s
  }
  return {
    put: (req, blocks) => {
      const key = keyOf(req)
      const bytes = blocks.reduce((n, b) => n + b.length, 0)
      if (bytes > maxBytes || entries.has(key)) return
      entries.set(key, { blocks, bytes })
      total += bytes
      for (const [k, e] of entries) {
        if (total <= maxBytes) break
        entries.delete(k)
        total -= e.bytes
      }
    },
    get: (req) => {
      const key = keyOf(req)
      const e = entries.get(key)
      if (e === undefined) return undefined
      entries.delete(key)
      entries.set(key, e) // most recently used last
      return e.blocks
    },
    bytes: () => total
  }
}
