// The piece tree's node hash, sha2-256-trunc254: SHA-256 of the two 32-byte children with the top two bits
// of the last byte cleared, so every node stays a field element. `NodeHasher` is the one interface the
// tree builder uses, so a WASM (or node:crypto) implementation can stand in for this reference one.
import { sha256 } from '@noble/hashes/sha2.js'

export const NODE_BYTES = 32

export interface NodeHasher {
  /** Hashes `pairs` consecutive 64-byte (left ‖ right) inputs from `input` into `pairs` 32-byte nodes in `output`. */
  hashPairs: (input: Uint8Array, output: Uint8Array, pairs: number) => void
  /**
   * Optional fast path: the root of the subtree over `chunks` (a power of two) 127-byte payload chunks,
   * FR32 and every level done in one call.
   */
  subtreeRoot?: (payload: Uint8Array, chunks: number) => Uint8Array
}

export function truncatedNode (left: Uint8Array, right: Uint8Array, hasher: NodeHasher = nobleNodeHasher): Uint8Array {
  const input = new Uint8Array(64)
  input.set(left)
  input.set(right, 32)
  const out = new Uint8Array(32)
  hasher.hashPairs(input, out, 1)
  return out
}

/** The naive reference: @noble/hashes one pair at a time. */
export const nobleNodeHasher: NodeHasher = {
  hashPairs (input, output, pairs) {
    for (let p = 0; p < pairs; p++) {
      const h = sha256(input.subarray(p * 64, p * 64 + 64))
      h[31]! &= 0x3f
      output.set(h, p * 32)
    }
  }
}
