// Per-level verdicts on a proof's Merkle paths (core/pdp/path-steps.ts): an honest path is right at every
// level; a tampered sibling is wrong at its own level and every level above, right below where something
// known vouches for it, and unknown where nothing does; the WASM kernel's per-step word is the same.
import { describe, it, expect, beforeAll } from 'vitest'
import { fr32Pad, truncatedNode, zeroComm } from '../../src/core'
import { judgePath, knownNodes, pathNodes } from '../../src/core/pdp/path-steps'
import { instantiatePieceWasm, type PieceWasm } from '../../workers/wasm/piece-wasm'
import { pieceWasmModule, inProcessWorker } from '../helpers/piece-worker'
import { createPiecePool } from '../../workers/piece-pool'

let wasm: PieceWasm
beforeAll(async () => { wasm = await instantiatePieceWasm(await pieceWasmModule()) })

/** Every level of the tree of a piece whose first `payload` bytes are not zero (levels[0] = leaves). */
function tree (quads: number, payloadQuads: number): Uint8Array[][] {
  const input = new Uint8Array(quads * 127)
  for (let i = 0; i < payloadQuads * 127; i++) input[i] = (i * 7 + 3) & 0xff
  const padded = new Uint8Array(quads * 128)
  fr32Pad(input, 0, padded, 0, quads)
  const levels: Uint8Array[][] = [[]]
  for (let i = 0; i < padded.length; i += 32) levels[0]!.push(padded.slice(i, i + 32))
  while (levels[levels.length - 1]!.length > 1) {
    const below = levels[levels.length - 1]!
    const up: Uint8Array[] = []
    for (let i = 0; i < below.length; i += 2) up.push(truncatedNode(below[i]!, below[i + 1]!))
    levels.push(up)
  }
  return levels
}
const pathOf = (levels: Uint8Array[][], leaf: number): Uint8Array[] => levels.slice(0, -1).map((l, j) => l[Math.floor(leaf / 2 ** j) ^ 1]!)

/** The WASM verifier's word on each step: the leaf hashes through path[0..k] to nodes[k + 1]. */
const wasmSteps = (leaf: number, value: Uint8Array, path: Uint8Array[], nodes: Uint8Array[]): boolean[] =>
  path.map((_, k) => wasm.verifyMerklePath(nodes[k + 1]!, leaf % 2 ** (k + 1), value, path.slice(0, k + 1)))

describe('per-step verdicts on a Merkle path', () => {
  const levels = tree(64, 64) // 256 leaves, 8 levels, all payload
  const root = levels[levels.length - 1]![0]!
  const L = levels.length - 1

  it('an honest path is right at every level, in TypeScript and in WASM', () => {
    for (const leaf of [0, 1, 77, 255]) {
      const path = pathOf(levels, leaf)
      const r = judgePath(root, leaf, levels[0]![leaf]!, path, knownNodes(root, L, null, []))
      expect(r.reachesRoot).toBe(true)
      expect(r.steps).toEqual(Array(L).fill('ok'))
      expect(r.nodes.map((n, j) => Buffer.from(n).equals(Buffer.from(levels[j]![Math.floor(leaf / 2 ** j)]!)))).toEqual(Array(L + 1).fill(true))
      expect(wasmSteps(leaf, levels[0]![leaf]!, path, r.nodes)).toEqual(Array(L).fill(true))
    }
  })

  it('a tampered sibling fails at its level and above; below, a path that reached the root vouches for the nodes', () => {
    const leaf = 100
    const honest = { leaf: leaf ^ 1, nodes: pathNodes(levels[0]![leaf ^ 1]!, leaf ^ 1, pathOf(levels, leaf ^ 1)), path: pathOf(levels, leaf ^ 1) }
    const known = knownNodes(root, L, null, [honest])
    for (const k of [1, 3, 6]) {
      const path = pathOf(levels, leaf).map((s, j) => { if (j !== k) return s; const t = s.slice(); t[0]! ^= 1; return t })
      const r = judgePath(root, leaf, levels[0]![leaf]!, path, known)
      expect(r.reachesRoot).toBe(false)
      expect(r.steps).toEqual(Array.from({ length: L }, (_, j) => j < k ? 'ok' : 'bad'))
      expect(r.breakAt).toEqual({ lowestBad: k, highestOk: k - 1 })
      // the WASM kernel agrees step by step with the TypeScript nodes, tampered or not: the break is the sibling's
      expect(wasmSteps(leaf, levels[0]![leaf]!, path, r.nodes)).toEqual(Array(L).fill(true))
    }
  })

  it('with only the root known, a failing path is wrong at the top and unknown below', () => {
    const leaf = 9
    const path = pathOf(levels, leaf)
    path[2] = new Uint8Array(32)
    const r = judgePath(root, leaf, levels[0]![leaf]!, path, knownNodes(root, L, null, []))
    expect(r.steps).toEqual([...Array(L - 1).fill('unknown'), 'bad'])
  })

  it('a sibling in the zero padding is pinned by zeroComm; a wrong leaf condemns every step', () => {
    const padded = tree(64, 10) // payload in the first 10 quads (40 leaves), zeros after
    const proot = padded[padded.length - 1]![0]!
    const known = knownNodes(proot, L, 10 * 128, [])
    expect(known(6, 1)).toEqual(zeroComm(6))
    expect(known(5, 1)).toBeUndefined() // leaves 32..63 reach into the payload (1280 bytes)
    expect(known(5, 0)).toBeUndefined()
    const leaf = 3
    const path = pathOf(padded, leaf)
    const t = path[6]!.slice(); t[1]! ^= 0x10; path[6] = t
    const r = judgePath(proot, leaf, padded[0]![leaf]!, path, known)
    expect(r.steps.slice(6)).toEqual(['bad', 'bad'])
    expect(r.steps[5]).toBe('unknown')
    const wrongLeaf = judgePath(proot, 200, new Uint8Array(32).fill(1), pathOf(padded, 200), known)
    expect(wrongLeaf.steps).toEqual(Array(L).fill('bad'))
  })

  it('a step the WASM kernel refuses is bad even when the TypeScript nodes reach the root', () => {
    const leaf = 5
    const path = pathOf(levels, leaf)
    const checks = Array(L).fill(true)
    checks[4] = false
    const r = judgePath(root, leaf, levels[0]![leaf]!, path, knownNodes(root, L, null, []), checks)
    expect(r.reachesRoot).toBe(false)
    expect(r.steps.slice(4)).toEqual(Array(L - 4).fill('bad'))
  })

  it("the piece pool's workers re-hash each step in WASM: a node the TypeScript got wrong is refused at the step that makes it", async () => {
    const pool = createPiecePool({ size: 1, module: await pieceWasmModule(), spawn: () => inProcessWorker() })
    try {
      const leaf = 42
      const path = pathOf(levels, leaf)
      const nodes = pathNodes(levels[0]![leaf]!, leaf, path)
      expect(await pool.pathSteps(leaf, levels[0]![leaf]!, path, nodes)).toEqual(Array(L).fill(true))
      const wrong = nodes.slice()
      wrong[3] = new Uint8Array(32)
      // the node at level 3 is what step 2 makes: that step is refused; the steps above hash from the true node, so they agree
      expect(await pool.pathSteps(leaf, levels[0]![leaf]!, path, wrong)).toEqual(Array.from({ length: L }, (_, k) => k !== 2))
    } finally { pool.close() }
  })
})
