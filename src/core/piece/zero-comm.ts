// Roots of all-zero subtrees by height (0 = a zero leaf): the padding that fills a piece up to a power of
// two is zeros, so its subtrees are known and never hashed (go-commp-utils zerocomm).
import { truncatedNode, type NodeHasher, nobleNodeHasher } from './node-hash'

export const MAX_PIECE_HEIGHT = 64

const cache = new Map<NodeHasher, Uint8Array[]>()

export function zeroComm (height: number, hasher: NodeHasher = nobleNodeHasher): Uint8Array {
  let levels = cache.get(hasher)
  if (levels === undefined) { levels = [new Uint8Array(32)]; cache.set(hasher, levels) }
  while (levels.length <= height) {
    const below = levels[levels.length - 1]!
    levels.push(truncatedNode(below, below, hasher))
  }
  return levels[height]!
}

/** A subtree root of height `from` whose right neighbours are all zeros, as the root of height `to`. */
export function liftRoot (root: Uint8Array, from: number, to: number, hasher: NodeHasher = nobleNodeHasher): Uint8Array {
  let node = root
  for (let h = from; h < to; h++) node = truncatedNode(node, zeroComm(h, hasher), hasher)
  return node
}
