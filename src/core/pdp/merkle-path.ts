// Checks a leaf against a piece root through its Merkle path: the naive TypeScript verifier (the WASM one
// must agree with it).
import { nobleNodeHasher, truncatedNode, type NodeHasher } from '../piece/node-hash'

/** True when hashing `value` up through `path` (siblings from the leaf level) at `leaf` gives `root`. */
export function verifyMerklePath (root: Uint8Array, leaf: number, value: Uint8Array, path: Uint8Array[], hasher: NodeHasher = nobleNodeHasher): boolean {
  if (value.length !== 32 || root.length !== 32 || leaf < 0 || !Number.isSafeInteger(leaf) || leaf >= 2 ** path.length) return false
  let node = value
  let index = leaf
  for (const sibling of path) {
    if (sibling.length !== 32) return false
    node = index % 2 === 0 ? truncatedNode(node, sibling, hasher) : truncatedNode(sibling, node, hasher)
    index = Math.floor(index / 2)
  }
  return node.every((b, i) => b === root[i])
}
