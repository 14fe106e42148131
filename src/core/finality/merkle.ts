// go-f3's merkle tree (merkle/merkle.go): keccak-256 with a 0x01 prefix on leaves and 0x00 on inner
// nodes, split at the largest power of two below the count, the empty tree the zero digest. An
// ECChain's key, which is what participants sign, is the root of its tipsets' signing bytes.
import { keccak_256 } from '@noble/hashes/sha3.js'

export const ZERO_DIGEST = new Uint8Array(32)

export function merkleRoot (values: readonly Uint8Array[]): Uint8Array {
  if (values.length === 0) return ZERO_DIGEST
  return build(depthOf(values.length), values)
}

function depthOf (count: number): number {
  return count <= 1 ? 0 : (count - 1).toString(2).length // Go's bits.Len(count - 1)
}

function build (depth: number, values: readonly Uint8Array[]): Uint8Array {
  if (values.length === 0) return ZERO_DIGEST
  if (depth === 0) return hash(LEAF, values[0]!)
  const split = Math.min(2 ** (depth - 1), values.length)
  const left = build(depth - 1, values.slice(0, split))
  const right = build(depth - 1, values.slice(split))
  return hash(INNER, left, right)
}

const LEAF = Uint8Array.of(1)
const INNER = Uint8Array.of(0)

function hash (...parts: Uint8Array[]): Uint8Array {
  const h = keccak_256.create()
  for (const p of parts) h.update(p)
  return h.digest()
}
