// Per-level verdicts on a Merkle path, for drawing a proof: which steps are right, which are wrong, where a
// failing path breaks. The root alone only says a path fails; a level is pinned by values known independently:
// subtrees wholly in the zero padding past the payload (zeroComm), and nodes of paths in the same proof that
// reached the root. A computed node equal to a known one vouches for every step below it; one that differs
// (or a sibling that differs) condemns its step and all above (sha256's collision resistance, both ways).
import { truncatedNode, nobleNodeHasher, type NodeHasher } from '../piece/node-hash'
import { zeroComm } from '../piece/zero-comm'
import { bytesEqual } from '../address'

export type StepState = 'ok' | 'bad' | 'unknown'

/** True values of tree nodes by (level, index); level 0 are leaves. */
export type KnownNodes = (level: number, index: number) => Uint8Array | undefined

export interface PathSteps {
  /** nodes[0] is the leaf, nodes[k + 1] = H(nodes[k], path[k]) in the leaf's order; nodes[L] should be the root. */
  nodes: Uint8Array[]
  /** steps[k]: the hash from level k to level k + 1. */
  steps: StepState[]
  reachesRoot: boolean
  /** When the path fails: the lowest step known wrong (bad), and the highest known right below it (or -1). */
  breakAt: { lowestBad: number, highestOk: number } | null
}


export function pathNodes (value: Uint8Array, leaf: number, path: Uint8Array[], hasher: NodeHasher = nobleNodeHasher): Uint8Array[] {
  const nodes = [value]
  let index = leaf
  for (const sibling of path) {
    const node = nodes[nodes.length - 1]!
    nodes.push(index % 2 === 0 ? truncatedNode(node, sibling, hasher) : truncatedNode(sibling, node, hasher))
    index = Math.floor(index / 2)
  }
  return nodes
}

/**
 * Judges each step of one path. `stepChecks[k]` (when given) is an independent kernel's word (the WASM
 * verifier's) that nodes[k + 1] is what the leaf hashes to through path[0..k]: a step it refuses is bad.
 */
export function judgePath (root: Uint8Array, leaf: number, value: Uint8Array, path: Uint8Array[], known: KnownNodes, stepChecks?: boolean[], hasher: NodeHasher = nobleNodeHasher): PathSteps {
  const L = path.length
  const nodes = pathNodes(value, leaf, path, hasher)
  const reachesRoot = bytesEqual(nodes[L]!, root) && (stepChecks?.every(Boolean) ?? true)
  if (reachesRoot) return { nodes, steps: path.map(() => 'ok'), reachesRoot, breakAt: null }
  // lowest level whose node is known wrong; the root is always known
  let bad = bytesEqual(nodes[L]!, root) ? L + 1 : L
  let ok = -1
  for (let j = 0; j <= L; j++) {
    const k = known(j, Math.floor(leaf / 2 ** j))
    if (k === undefined) continue
    if (bytesEqual(k, nodes[j]!)) { if (j < bad) ok = Math.max(ok, j) } else { bad = Math.min(bad, j); break }
  }
  for (let j = 0; j < L; j++) {
    const k = known(j, Math.floor(leaf / 2 ** j) ^ 1)
    if (k !== undefined && !bytesEqual(k, path[j]!)) { bad = Math.min(bad, j + 1); break }
  }
  stepChecks?.forEach((c, j) => { if (!c) bad = Math.min(bad, j + 1) })
  ok = Math.min(ok, bad - 1)
  // a wrong leaf (level 0 known wrong) condemns every step; step k yields nodes[k + 1]
  const steps: StepState[] = path.map((_, k) => k + 1 <= ok ? 'ok' : k + 1 >= bad ? 'bad' : 'unknown')
  return { nodes, steps, reachesRoot, breakAt: { lowestBad: Math.max(0, bad - 1), highestOk: ok - 1 } }
}

/**
 * What the tab knows of a piece's tree without the piece: its root, the zero subtrees past the padded payload
 * (`paddedPayloadBytes` null when unknown), and every node and sibling of the given paths that reached the root.
 */
export function knownNodes (root: Uint8Array, height: number, paddedPayloadBytes: number | null, verified: Array<{ leaf: number, nodes: Uint8Array[], path: Uint8Array[] }>, hasher: NodeHasher = nobleNodeHasher): KnownNodes {
  const map = new Map<string, Uint8Array>()
  map.set(`${height}/0`, root)
  for (const v of verified) {
    v.nodes.forEach((n, j) => { map.set(`${j}/${Math.floor(v.leaf / 2 ** j)}`, n) })
    v.path.forEach((s, j) => { map.set(`${j}/${Math.floor(v.leaf / 2 ** j) ^ 1}`, s) })
  }
  return (level, index) => {
    const got = map.get(`${level}/${index}`)
    if (got !== undefined) return got
    // FR32 of zero bytes is zero bytes, and the piece is zero past its payload
    if (paddedPayloadBytes !== null && index * 32 * 2 ** level >= paddedPayloadBytes) return zeroComm(level, hasher)
    return undefined
  }
}
