// The fork tree (src/core/chain-sync/fork-tree.ts): blocks grouped into tipsets as Lotus forms them, the
// heaviest tipset by Lotus's weight (filcns Weight, via consensus tipsetWeight) and tie-break (breakWeightTie),
// common ancestors and reorganisation paths (store.go ReorgOps), pruning at finality, and the size bound.
import { describe, it, expect } from 'vitest'
import { sealHeader, chainCid, makeTipSet, type SealedHeader, type TipSet } from '../../src/core'
import { tipsetWeight, breakWeightTie } from '../../src/core/consensus'
import { ForkTree, tipSetKeyString, type TipSetNode } from '../../src/core/chain-sync'

const POWER = 1n << 40n // log2(P) = 40: each tipset adds 40·256 plus 40·256·ΣwinCount/10
const STUB = chainCid(new Uint8Array([0]))
const weigh = (ts: TipSet, parent: TipSetNode): bigint => tipsetWeight(parent.weight, POWER, ts.blocks.map(b => b.header.electionProof!.winCount))
const tieBreak = (a: TipSet, b: TipSet): boolean => breakWeightTie(a.blocks.map(x => x.header.ticket!), b.blocks.map(x => x.header.ticket!))

function header (parents: TipSet | null, height: number, miner: number, winCount = 1, salt = 0): SealedHeader {
  return sealHeader({
    miner: new Uint8Array([0, miner]),
    ticket: new Uint8Array([miner, height, winCount, salt]),
    electionProof: parents === null ? null : { winCount, vrfProof: new Uint8Array(96) },
    beaconEntries: [],
    winPoStProof: [],
    parents: parents?.key ?? [],
    parentWeight: 0n,
    height,
    parentStateRoot: STUB,
    parentMessageReceipts: STUB,
    messages: STUB,
    blsAggregate: null,
    timestamp: 1_800_000_000 + height,
    blockSig: null,
    forkSignaling: 0,
    parentBaseFee: 100n
  })
}

const genesis = makeTipSet([header(null, 0, 0)])
const one = (b: SealedHeader): TipSet => makeTipSet([b])
const keyOf = (...blocks: SealedHeader[]): string => tipSetKeyString(blocks.map(b => b.cid))
const newTree = (maxTipsets = 100): ForkTree => new ForkTree({ root: genesis, rootWeight: 0n, weigh, tieBreak, maxTipsets })

describe('ForkTree: blocks into tipsets', () => {
  it('groups blocks of one height with the same parents into one tipset, keyed by all their CIDs', () => {
    const tree = newTree()
    const a = header(genesis, 1, 1)
    const b = header(genesis, 1, 2)
    const c = header(genesis, 1, 3)
    tree.insertBlock(a)
    tree.insertBlock(b)
    const abc = tree.insertBlock(c)
    expect(abc.key).toBe(keyOf(a, b, c))
    expect(abc.tipset.key.map(String)).toEqual(makeTipSet([c, a, b]).key.map(String)) // Lotus's ticket order
    expect(abc.weight).toBe(tipsetWeight(0n, POWER, [1, 1, 1]))
    // the smaller candidates {a} and {a,b} had no children: the larger key replaced them
    expect(tree.get(keyOf(a))).toBeUndefined()
    expect(tree.get(keyOf(a, b))).toBeUndefined()
    expect(tree.size).toBe(2)
    expect(tree.heaviest().key).toBe(abc.key)
  })

  it('keeps blocks with other parents apart, and keeps a smaller tipset a child was built on', () => {
    const tree = newTree()
    const a = header(genesis, 1, 1)
    tree.insertBlock(a)
    const onA = header(one(a), 2, 1)
    tree.insertBlock(onA)
    const b = header(genesis, 1, 2) // arrives late: {a,b} is a new key beside {a}
    const ab = tree.insertBlock(b)
    expect(ab.key).toBe(keyOf(a, b))
    expect(tree.get(keyOf(a))).toBeDefined()
    expect(tree.children(genesis.blocks[0]!.cid.toString()).map(n => n.key).sort()).toEqual([keyOf(a), keyOf(a, b)].sort())
    // same height, other parents (a null round below): its own tipset
    const late = header(one(a), 3, 4)
    const other = header(genesis, 3, 5)
    expect(tree.insertBlock(late).key).toBe(keyOf(late))
    expect(tree.insertBlock(other).key).toBe(keyOf(other))
    expect(tree.size).toBe(6)
  })

  it('forms a subset tipset a child names as its parents', () => {
    const tree = newTree()
    const a = header(genesis, 1, 1)
    const b = header(genesis, 1, 2)
    tree.insertBlock(a)
    tree.insertBlock(b)
    const child = header(one(b), 2, 3) // its miner saw only b
    const node = tree.insertBlock(child)
    expect(node.parent).toBe(keyOf(b))
    expect(tree.get(keyOf(b))?.weight).toBe(tipsetWeight(0n, POWER, [1]))
  })

  it('refuses a block whose parent is not in the tree, or that is not above its parent', () => {
    const tree = newTree()
    const stranger = header(one(header(genesis, 1, 9)), 2, 1)
    expect(() => tree.insertBlock(stranger)).toThrow(expect.objectContaining({ name: 'ParentNotInTreeError' }))
    const a = header(genesis, 1, 1)
    tree.insertBlock(a)
    const flat = header(one(a), 1, 2)
    expect(() => tree.insertBlock(flat)).toThrow(expect.objectContaining({ name: 'NotAChildError' }))
  })
})

describe('ForkTree: the heaviest tipset', () => {
  // chain X: x1 (win count 1), x2 (1): 2·10240 + 2·1024 = 22528; chain Y: y2 (12) after a null round: 10240 + 12288 = 22528
  const x1 = header(genesis, 1, 1)
  const x2 = header(one(x1), 2, 1)
  const y2 = header(genesis, 2, 2, 12)
  const smaller = breakWeightTie([x2.header.ticket!], [y2.header.ticket!]) ? x2 : y2

  it('picks the larger weight, not the larger height', () => {
    const tree = newTree()
    tree.insertBlock(header(genesis, 2, 7, 30)) // after a null round, win count 30: 10240 + 30720 = 40960
    for (const b of [x1, x2, header(one(x2), 3, 1)]) tree.insertBlock(b) // 3 · 11264 = 33792
    expect(tree.heaviest().height).toBe(2)
  })

  it('breaks an equal weight by the smaller ticket, in either order of arrival', () => {
    for (const order of [[x1, x2, y2], [y2, x1, x2]]) {
      const tree = newTree()
      for (const b of order) tree.insertBlock(b)
      expect(tree.get(keyOf(x2))!.weight).toBe(tree.get(keyOf(y2))!.weight)
      expect(tree.heaviest().key).toBe(keyOf(smaller))
    }
  })

  it('keeps the current heaviest when the tie-break cannot decide (Lotus keeps the second)', () => {
    const tree = new ForkTree({ root: genesis, rootWeight: 0n, weigh, tieBreak: () => false, maxTipsets: 10 })
    tree.insertBlock(y2)
    tree.insertBlock(x1)
    tree.insertBlock(x2)
    expect(tree.heaviest().key).toBe(keyOf(y2))
  })
})

describe('ForkTree: common ancestor, reorganisation path, pruning, bound', () => {
  // g ← a1 ← a2 ← a3 and a1 ← b3 ← b5 ← b6 (null rounds at 2 and 4 on the b side)
  const a1 = header(genesis, 1, 1)
  const a2 = header(one(a1), 2, 1)
  const a3 = header(one(a2), 3, 1)
  const b3 = header(one(a1), 3, 2)
  const b5 = header(one(b3), 5, 2)
  const b6 = header(one(b5), 6, 2)
  const build = (max = 100): ForkTree => {
    const tree = newTree(max)
    for (const b of [a1, a2, a3, b3, b5, b6]) tree.insertBlock(b)
    return tree
  }
  const node = (tree: ForkTree, b: SealedHeader): TipSetNode => tree.get(keyOf(b))!

  it('finds the common ancestor and the tipsets to revert (newest first) and apply (oldest first)', () => {
    const tree = build()
    expect(tree.commonAncestor(node(tree, a3), node(tree, b6)).key).toBe(keyOf(a1))
    const path = tree.reorgPath(node(tree, a3), node(tree, b6))
    expect(path.reverted.map(n => n.key)).toEqual([keyOf(a3), keyOf(a2)])
    expect(path.applied.map(n => n.key)).toEqual([keyOf(b3), keyOf(b5), keyOf(b6)])
    const back = tree.reorgPath(node(tree, b6), node(tree, a2))
    expect(back.reverted.map(n => n.key)).toEqual([keyOf(b6), keyOf(b5), keyOf(b3)])
    expect(back.applied.map(n => n.key)).toEqual([keyOf(a2)])
    expect(tree.reorgPath(node(tree, a1), node(tree, a3)).reverted).toEqual([])
  })

  it('prunes everything that does not descend from the finalized tipset', () => {
    const tree = build()
    const dropped = tree.prune(keyOf(b3))
    expect(tree.root.key).toBe(keyOf(b3))
    expect(tree.size).toBe(3)
    expect(dropped.sort()).toEqual([genesis.blocks[0]!, a1, a2, a3].map(b => String(b.cid)).sort())
    expect(tree.hasBlock(a2.cid)).toBe(false)
    expect(tree.heaviest().key).toBe(keyOf(b6))
    expect(() => tree.insertBlock(header(one(a3), 4, 3))).toThrow(expect.objectContaining({ name: 'ParentNotInTreeError' }))
    // the heaviest moves into the finalized side when the pruned side was heavier
    const t2 = build()
    t2.insertBlock(header(one(a3), 4, 1, 30))
    expect(t2.heaviest().height).toBe(4)
    t2.prune(keyOf(b3))
    expect(t2.heaviest().key).toBe(keyOf(b6))
  })

  it('refuses a tipset beyond maxTipsets by name, but a block may still grow a childless tipset', () => {
    const tree = newTree(3)
    tree.insertBlock(a1)
    tree.insertBlock(a2)
    expect(() => tree.insertBlock(b3)).toThrow(expect.objectContaining({ name: 'ForkTreeFullError', limit: 3 }))
    expect(tree.size).toBe(3)
    const a2b = header(one(a1), 2, 5)
    expect(tree.insertBlock(a2b).key).toBe(keyOf(a2, a2b))
    expect(tree.size).toBe(3)
  })
})

// Lotus chain/store/store_test.go TestEquivocations (b835fab7) walks the same steps: a second block of a miner
// at a height takes both of its blocks out of the tipset formed there, honest blocks of that height still form
// one, and the head falls back (to a lighter tipset of that height, or below) when it held one of them.
describe('ForkTree: equivocation (two blocks of one miner at one height)', () => {
  const refusal = (fn: () => unknown): Record<string, unknown> => {
    try { fn() } catch (err) { return { ...(err as object), name: (err as Error).name } }
    throw new Error('no refusal')
  }

  it('leaves both blocks of the miner out of the tipset of that height; the honest blocks still form theirs', () => {
    const tree = newTree()
    const a = header(genesis, 1, 1)
    const b = header(genesis, 1, 2)
    const c = header(genesis, 1, 3)
    for (const x of [a, b, c]) tree.insertBlock(x)
    expect(tree.heaviest().key).toBe(keyOf(a, b, c))
    const a2 = header(genesis, 1, 1, 1, 7) // miner 1 again, other contents
    expect(refusal(() => tree.insertBlock(a2))).toEqual({ name: 'EquivocationError', miner: 't01', height: 1, first: String(a.cid), second: String(a2.cid) })
    expect(tree.heaviest().key).toBe(keyOf(b, c)) // the head shrank, as Lotus's RefreshHeaviestTipSet
    expect(tree.get(keyOf(a, b, c))).toBeUndefined() // nothing was built on it
    expect(tree.isEquivocated(a.cid) && tree.isEquivocated(a2.cid)).toBe(true)
    expect(tree.isEquivocated(b.cid)).toBe(false)
    // a late honest block joins the honest ones; the equivocator's stay out, in whatever order they come again
    const d = header(genesis, 1, 4)
    expect(tree.insertBlock(d).key).toBe(keyOf(b, c, d))
    expect(refusal(() => tree.insertBlock(a))).toMatchObject({ name: 'EquivocationError', first: String(a2.cid), second: String(a.cid) })
    const a3 = header(genesis, 1, 1, 1, 8)
    expect(refusal(() => tree.insertBlock(a3))).toMatchObject({ name: 'EquivocationError', first: String(a.cid), second: String(a3.cid) })
    expect(tree.hasBlock(a3.cid)).toBe(false) // a third block is refused without being held
    expect(tree.heaviest().key).toBe(keyOf(b, c, d))
  })

  it('counts blocks at one height whatever their parents, and falls back a height when no honest block is left', () => {
    const tree = newTree()
    const x1 = header(genesis, 1, 1)
    const x2 = header(one(x1), 2, 5)
    tree.insertBlock(x1)
    tree.insertBlock(x2)
    expect(tree.heaviest().key).toBe(keyOf(x2))
    const y2 = header(genesis, 2, 5, 30) // miner 5 at height 2 again, on other parents (a null round at 1), heavier
    expect(refusal(() => tree.insertBlock(y2))).toMatchObject({ name: 'EquivocationError', height: 2, first: String(x2.cid), second: String(y2.cid) })
    expect(tree.heaviest().key).toBe(keyOf(x1)) // Lotus: "switch to a previous epoch entirely"
    expect(tree.get(keyOf(x2))).toBeUndefined()
    // a child naming {y2} makes the tree form it (as the sync machine asks before validating the child): not the head
    expect(tree.resolve(keyOf(y2))?.weight).toBeGreaterThan(tree.get(keyOf(x1))!.weight)
    expect(tree.heaviest().key).toBe(keyOf(x1))
  })

  it('keeps the honest chain built on a tipset that held the first block as the head', () => {
    const tree = newTree()
    const a = header(genesis, 1, 1)
    const b = header(genesis, 1, 2)
    tree.insertBlock(a)
    tree.insertBlock(b)
    const t1 = makeTipSet([a, b])
    const c2 = header(t1, 2, 3)
    const c3 = header(one(c2), 3, 3)
    tree.insertBlock(c2)
    tree.insertBlock(c3)
    const a2 = header(genesis, 1, 1, 1, 7)
    expect(refusal(() => tree.insertBlock(a2)).name).toBe('EquivocationError')
    expect(tree.heaviest().key).toBe(keyOf(c3)) // Lotus forms a height from that height's miners only
    expect(tree.get(keyOf(a, b))).toBeDefined() // its children keep it in the tree
    expect(tree.get(keyOf(b))).toBeDefined() // and {b} is formed beside it
    expect(tree.heaviestFrom(keyOf(a, b)).key).toBe(keyOf(c3))
    // a child that names the second block as its parent is taken, as Lotus accepts it
    const onA2 = header(one(a2), 2, 4, 30)
    expect(tree.insertBlock(onA2).parent).toBe(keyOf(a2))
    expect(tree.heaviest().key).toBe(keyOf(onA2))
  })

  it('never makes a tipset holding an equivocated block the head, even one kept for its children', () => {
    const tree = newTree()
    const a = header(genesis, 1, 1)
    const b = header(genesis, 1, 2)
    tree.insertBlock(a)
    tree.insertBlock(b)
    const t1 = makeTipSet([a, b])
    const c = header(t1, 2, 3)
    const d = header(one(c), 3, 4)
    tree.insertBlock(c)
    tree.insertBlock(d)
    for (const twin of [header(t1, 2, 3, 1, 7), header(one(c), 3, 4, 1, 7)]) expect(refusal(() => tree.insertBlock(twin)).name).toBe('EquivocationError')
    // {c} stays (its child {d} was built on it) but is not formable; nothing honest is left at 2 or 3
    expect(tree.get(keyOf(c))).toBeDefined()
    expect(tree.heaviest().key).toBe(keyOf(a, b))
    // now the head itself is equivocated: it stays for its child {c}, and {b} takes its place
    expect(refusal(() => tree.insertBlock(header(genesis, 1, 1, 1, 7))).name).toBe('EquivocationError')
    expect(tree.get(keyOf(a, b))).toBeDefined()
    expect(tree.heaviest().key).toBe(keyOf(b))
    expect(tree.heaviestFrom(keyOf(c)).key).toBe(keyOf(c)) // nothing formable below {c}: Lotus keeps what it has
  })

  it('prunes the records at or below the finalized height, and keeps an equivocated block above it', () => {
    const tree = newTree()
    const a = header(genesis, 1, 1)
    const b = header(genesis, 1, 2)
    tree.insertBlock(a)
    tree.insertBlock(b)
    const t1 = makeTipSet([a, b])
    const c = header(t1, 2, 3)
    tree.insertBlock(c)
    const a2 = header(genesis, 1, 1, 1, 7)
    const c2 = header(t1, 2, 3, 1, 7)
    for (const twin of [a2, c2]) expect(refusal(() => tree.insertBlock(twin)).name).toBe('EquivocationError')
    tree.prune(keyOf(a, b))
    expect(tree.isEquivocated(a.cid)).toBe(false) // height 1 is final: nothing joins there any more
    expect(tree.hasBlock(a2.cid)).toBe(false)
    expect(tree.isEquivocated(c2.cid) && tree.hasBlock(c2.cid)).toBe(true) // a child may still name it
    expect(refusal(() => tree.insertBlock(header(t1, 2, 3, 1, 8)))).toMatchObject({ name: 'EquivocationError', height: 2 })
    expect(tree.heaviest().key).toBe(keyOf(a, b))
  })

  it('refuses an equivocation whose re-formed tipset does not fit, changing nothing', () => {
    const tree = newTree(3)
    const a = header(genesis, 1, 1)
    const b = header(genesis, 1, 2)
    tree.insertBlock(a)
    tree.insertBlock(b)
    tree.insertBlock(header(makeTipSet([a, b]), 2, 3)) // {a,b} has a child: {b} would be a fourth tipset
    const a2 = header(genesis, 1, 1, 1, 7)
    expect(refusal(() => tree.insertBlock(a2))).toMatchObject({ name: 'ForkTreeFullError' })
    expect(tree.isEquivocated(a.cid)).toBe(false)
    expect(tree.hasBlock(a2.cid)).toBe(false)
  })
})

describe('ForkTree: bad tipsets', () => {
  it('a tipset marked bad (its execution failed) and everything built on it leave the head choice; peek adds nothing', () => {
    const tree = newTree()
    const a1 = header(genesis, 1, 1)
    const a2 = header(one(a1), 2, 1)
    const a3 = header(one(a2), 3, 1)
    const b1 = header(genesis, 1, 2)
    for (const b of [a1, a2, a3, b1]) tree.insertBlock(b)
    expect(tree.heaviest().key).toBe(keyOf(a3))
    tree.markBad(keyOf(a2))
    expect(tree.isBad(keyOf(a3))).toBe(true) // built on a bad tipset
    expect(tree.isBad(keyOf(a1))).toBe(false)
    // the heaviest of the rest (b1 joined a1 at height 1: {a1, b1}), never a2 or a3
    const rest = (): void => {
      expect(tree.isBad(tree.heaviest().key)).toBe(false)
      expect([keyOf(a2), keyOf(a3)]).not.toContain(tree.heaviest().key)
    }
    rest()
    expect(tree.heaviest().key).toBe(keyOf(a1, b1))
    // a child of the bad chain is not formable either
    const a4 = header(one(a3), 4, 1)
    tree.insertBlock(a4)
    rest()
    expect(tree.heaviest().key).not.toBe(keyOf(a4))
    expect(() => tree.markBad(tree.root.key)).toThrow(RangeError)
    // peek forms a subset tipset without taking it in
    const c1 = header(genesis, 1, 3)
    tree.insertBlock(c1) // {a1, b1, c1}
    const size = tree.size
    const subset = keyOf(b1, c1)
    expect(tree.get(subset)).toBeUndefined()
    expect(tree.peek(subset)?.key).toBe(subset)
    expect(tree.size).toBe(size)
  })
})

describe('ForkTree: F3 finality (issue 14)', () => {
  it('keeps the head on the finalized tipset\'s line whatever a fork beside it weighs, and takes what is built on it', () => {
    const tree = newTree()
    const x1 = header(genesis, 1, 1)
    const x2 = header(one(x1), 2, 1)
    const heavy = header(genesis, 2, 7, 30) // after a null round, win count 30: heavier than x1, x2 together
    for (const b of [x1, x2, heavy]) tree.insertBlock(b)
    expect(tree.heaviest().key).toBe(keyOf(heavy))
    tree.setFinalized(keyOf(x1))
    expect(tree.heaviest().key).toBe(keyOf(x2))
    // the fork grows heavier still: it never becomes the head; a block on the finalized line does
    tree.insertBlock(header(one(heavy), 3, 7, 30))
    expect(tree.heaviest().key).toBe(keyOf(x2))
    const x3 = header(one(x2), 3, 1)
    tree.insertBlock(x3)
    expect(tree.heaviest().key).toBe(keyOf(x3))
    // a finalized tipset's ancestors stay eligible (the head may fall back to one after an equivocation)
    expect(() => { tree.setFinalized('not-a-key') }).toThrow()
  })
})
