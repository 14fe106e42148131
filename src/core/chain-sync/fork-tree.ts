// The tree of validated tipsets a node follows: blocks grouped into tipsets as Lotus forms them, the
// heaviest-chain rule with the consensus module's weight and tie-break, common ancestors and reorganisation
// paths as Lotus's ReorgOps, pruning at a finalized tipset, and a bound on what is kept. A miner with two
// blocks at one height has both left out of the tipsets formed there, as Lotus's FormHeaviestTipSetForHeight.
import type { CID } from '../cid'
import type { SealedHeader } from '../block-header'
import { makeTipSet, type TipSet } from '../tipset'
import type { ChainWeight } from '../consensus/weight'
import type { Epoch } from '../units'
import { addressToString } from '../address'
import { EquivocationError, ForkTreeFullError, NotAChildError, ParentNotInTreeError, UnknownTipSetError } from './errors'

/**
 * A TipSetKey as a map key: its block CIDs as a set. Lotus compares keys order-free (chain/types/blockheader.go
 * CidArrsEqual, used by TipSet.IsChildOf) and LoadTipSet re-sorts whatever order a header lists its parents in.
 */
export type TipSetKeyString = string

export function tipSetKeyString (key: readonly CID[]): TipSetKeyString {
  return key.map(String).sort().join(',')
}

export interface TipSetNode {
  readonly tipset: TipSet
  readonly key: TipSetKeyString
  /** The key of the parent tipset (its blocks' Parents); not in the tree for the root. */
  readonly parent: TipSetKeyString
  readonly height: Epoch
  readonly weight: ChainWeight
}

export interface ForkTreeInit {
  /** The trusted start: genesis, or a finalized tipset (a finality certificate's). */
  root: TipSet
  rootWeight: ChainWeight
  /** A tipset's weight from its parent's: the consensus module's rule (Lotus filcns Weight). */
  weigh: (tipset: TipSet, parent: TipSetNode) => ChainWeight
  /** True when `a` beats `b` at equal weight (Lotus store.go breakWeightTie(a, b); false keeps `b`). */
  tieBreak: (a: TipSet, b: TipSet) => boolean
  /** Most tipsets kept; one more is refused with ForkTreeFullError. */
  maxTipsets: number
}

export interface ReorgPath {
  ancestor: TipSetNode
  /** Tipsets left behind, newest first (the order to undo them). */
  reverted: TipSetNode[]
  /** Tipsets taken on, oldest first (the order to apply them). */
  applied: TipSetNode[]
}

const groupOf = (height: Epoch, parent: TipSetKeyString): string => `${height}|${parent}`
const hex = (bytes: Uint8Array): string => Array.from(bytes, b => b.toString(16).padStart(2, '0')).join('')
/** One miner at one height: Lotus's tracker looks for a repeated miner among all blocks of a height, whatever their parents. */
const minerAt = (block: SealedHeader): string => `${block.header.height}|${hex(block.header.miner)}`
const heightOf = (minerKey: string): Epoch => Number(minerKey.slice(0, minerKey.indexOf('|')))

function minerName (miner: Uint8Array): string {
  try { return addressToString(miner) } catch { return `0x${hex(miner)}` }
}

export class ForkTree {
  private readonly nodes = new Map<TipSetKeyString, TipSetNode>()
  private readonly childKeys = new Map<TipSetKeyString, Set<TipSetKeyString>>()
  /** Every block of every tipset in the tree, by CID. */
  private readonly blocks = new Map<string, SealedHeader>()
  /**
   * The largest tipset formed so far for each (height, parents): Lotus FormHeaviestTipSetForHeight groups
   * every valid block of a height by its parent key, so a later block of the group makes a new, larger key.
   */
  private readonly groups = new Map<string, TipSetKeyString>()
  /** The first validated block of each miner at each height (Lotus store.go AddToTipSetTracker's cs.tipsets, by miner). */
  private readonly minerFirst = new Map<string, string>()
  /** Miners found with two blocks at a height, with the two CIDs (the first pair is the evidence kept). */
  private readonly equivocations = new Map<string, EquivocationError>()
  /** Blocks of equivocating miners, by CID: no tipset formed at their height holds them. */
  private readonly excluded = new Map<string, string>()
  /** Tipsets whose execution failed (Lotus's syncer marks them bad): never the head, nor anything built on them. */
  private readonly bad = new Set<TipSetKeyString>()
  private rootNode: TipSetNode
  private best: TipSetNode
  /** The tipset a finality certificate finalized (issue 14), and it with its ancestors in the tree: the head descends from it. */
  private finalizedNode: TipSetNode | null = null
  private finalizedLine = new Set<TipSetKeyString>()

  constructor (private readonly init: ForkTreeInit) {
    if (!(init.maxTipsets >= 1)) throw new RangeError('maxTipsets must be at least 1')
    const root = init.root
    this.rootNode = { tipset: root, key: tipSetKeyString(root.key), parent: tipSetKeyString(root.blocks[0]!.header.parents), height: root.height, weight: init.rootWeight }
    this.nodes.set(this.rootNode.key, this.rootNode)
    this.childKeys.set(this.rootNode.key, new Set())
    for (const b of root.blocks) this.blocks.set(String(b.cid), b)
    this.best = this.rootNode
  }

  get root (): TipSetNode { return this.rootNode }
  get size (): number { return this.nodes.size }

  get (key: TipSetKeyString): TipSetNode | undefined { return this.nodes.get(key) }
  hasBlock (cid: CID | string): boolean { return this.blocks.has(String(cid)) }

  children (key: TipSetKeyString): TipSetNode[] {
    return [...this.childKeys.get(key) ?? []].map(k => this.nodes.get(k)!)
  }

  /**
   * The heaviest tipset that holds no block of a miner that equivocated at its height. Weights grow along a
   * chain, so it is a leaf unless equivocation took its children out (then Lotus's head shrinks too).
   */
  heaviest (): TipSetNode { return this.best }

  /**
   * Marks a tipset bad (its execution failed: Lotus's syncer marks such a tipset and never takes it): it and every
   * tipset built on it are left out of the head choice, which falls back to the heaviest of the rest.
   */
  markBad (key: TipSetKeyString): void {
    if (key === this.rootNode.key) throw new RangeError('the root is trusted as given: it cannot be marked bad')
    this.bad.add(key)
    this.best = this.heaviestFrom(this.rootNode.key)
  }

  /**
   * F3 finality: `key` (a tipset in the tree) was finalized by certificate, so the head must be it or descend from
   * it, whatever the weight of a fork beside it — a finalized tipset is never reverted. Tipsets that are neither its
   * ancestors nor its descendants leave the head choice.
   */
  setFinalized (key: TipSetKeyString): void {
    const node = this.nodes.get(key)
    if (node === undefined) throw new UnknownTipSetError(`tipset ${key} is not in the tree`)
    this.finalizedNode = node
    this.finalizedLine = new Set()
    for (let n: TipSetNode | undefined = node; n !== undefined; n = n === this.rootNode ? undefined : this.nodes.get(n.parent)) this.finalizedLine.add(n.key)
    this.best = this.heaviestFrom(this.rootNode.key)
  }

  /** True when the tipset may be the head as far as finality goes: on the finalized tipset's line, or above it. */
  private respectsFinality (node: TipSetNode): boolean {
    const f = this.finalizedNode
    if (f === null || this.finalizedLine.has(node.key)) return true
    for (let n: TipSetNode | undefined = node; n !== undefined && n.height > f.height; n = this.nodes.get(n.parent)) {
      if (n.parent === f.key) return true
    }
    return false
  }

  /** True when the tipset or one below it was marked bad. */
  isBad (key: TipSetKeyString): boolean {
    for (let node = this.nodes.get(key); node !== undefined && node !== this.rootNode; node = this.nodes.get(node.parent)) {
      if (this.bad.has(node.key)) return true
    }
    return false
  }

  /** True when the block is one of an equivocating miner's blocks at its height (left out of tipset formation). */
  isEquivocated (cid: CID | string): boolean { return this.excluded.has(String(cid)) }

  /**
   * The tipset with this key, formed from blocks already in the tree when no node has it yet: a child may
   * name any subset of a height's blocks as its parents (the miner saw only those). Undefined when some block
   * is missing or they do not make one tipset.
   */
  resolve (key: TipSetKeyString): TipSetNode | undefined {
    const node = this.peek(key)
    if (node === undefined || this.nodes.has(node.key)) return node
    if (this.nodes.size >= this.init.maxTipsets) throw new ForkTreeFullError(this.init.maxTipsets)
    return this.add(node.tipset, this.nodes.get(node.parent)!)
  }

  /**
   * The tipset with this key as resolve finds it, without taking it in: a node the tree has, or one formed from
   * blocks it holds and weighed, but not added (so a key named by a block not yet validated cannot grow the tree).
   */
  peek (key: TipSetKeyString): TipSetNode | undefined {
    const known = this.nodes.get(key)
    if (known !== undefined) return known
    if (key === '') return undefined
    const cids = key.split(',')
    if (new Set(cids).size !== cids.length) return undefined
    const blocks = cids.map(c => this.blocks.get(c))
    if (blocks.some(b => b === undefined)) return undefined
    let tipset: TipSet
    try { tipset = makeTipSet(blocks as SealedHeader[]) } catch { return undefined }
    const parent = this.nodes.get(tipSetKeyString(tipset.blocks[0]!.header.parents))
    if (parent === undefined) return undefined
    return { tipset, key: tipSetKeyString(tipset.key), parent: parent.key, height: tipset.height, weight: this.init.weigh(tipset, parent) }
  }

  /**
   * Adds a validated block: it joins the other blocks of its height with the same parents, and that larger
   * tipset gets its own key. The smaller one it replaces stays only if some child was built on it.
   * Returns the tipset the block now belongs to.
   *
   * A block whose miner already has another validated block at this height is an equivocation (Lotus
   * store.go FormHeaviestTipSetForHeight): EquivocationError is thrown after the tree has taken it in. Both
   * blocks are left out of every tipset formed at that height from then on: the tipset that held the first one
   * is formed again without it (the old one stays only if a child was built on it, and is never the heaviest
   * itself), and the head may fall back to a lighter tipset, as Lotus's RefreshHeaviestTipSet does. The second
   * block is held so that a child naming it as a parent still finds it (Lotus stores and accepts such
   * children: only formation at the equivocated height leaves it out); a third or later block of the same
   * miner and height is refused the same way but not held, so one miner cannot fill the tree.
   */
  insertBlock (block: SealedHeader): TipSetNode {
    const h = block.header
    const cid = String(block.cid)
    const parentKey = tipSetKeyString(h.parents)
    const group = groupOf(h.height, parentKey)
    const known = this.excluded.get(cid)
    if (known !== undefined) throw this.refusal(known, cid)
    if (this.blocks.has(cid)) {
      const key = this.groups.get(group)
      const node = key === undefined ? undefined : this.nodes.get(key)
      if (node !== undefined) return node
    }
    const parent = this.resolve(parentKey)
    if (parent === undefined) throw new ParentNotInTreeError(`parent tipset of block ${String(block.cid)} at height ${h.height} is not in the tree`)
    if (h.height <= parent.height) throw new NotAChildError(h.height, parent.height)
    const minerKey = minerAt(block)
    const first = this.minerFirst.get(minerKey)
    if (first !== undefined && first !== cid) this.equivocate(block, minerKey, first) // throws
    const prevKey = this.groups.get(group)
    const prev = prevKey === undefined ? undefined : this.nodes.get(prevKey)
    const replaces = prev !== undefined && prev !== this.rootNode && (this.childKeys.get(prev.key)?.size ?? 0) === 0
    if (!replaces && this.nodes.size >= this.init.maxTipsets) throw new ForkTreeFullError(this.init.maxTipsets)
    const tipset = makeTipSet([...prev?.tipset.blocks ?? [], block])
    this.blocks.set(String(block.cid), block)
    const node = this.nodes.get(tipSetKeyString(tipset.key)) ?? this.add(tipset, parent)
    this.groups.set(group, node.key)
    this.minerFirst.set(minerKey, cid)
    if (replaces && prev.key !== node.key) this.remove(prev)
    return node
  }

  /** Takes in an equivocating block (see insertBlock) and throws its EquivocationError. */
  private equivocate (block: SealedHeader, minerKey: string, first: string): never {
    const cid = String(block.cid)
    if (this.equivocations.has(minerKey)) throw this.refusal(minerKey, cid) // a third block or more: not held
    const error = new EquivocationError(minerName(block.header.miner), block.header.height, first, cid)
    // the tipset formed from the first block's group, formed again without it; checked for room before any change
    const firstBlock = this.blocks.get(first)
    const group = firstBlock === undefined ? undefined : groupOf(firstBlock.header.height, tipSetKeyString(firstBlock.header.parents))
    const prevKey = group === undefined ? undefined : this.groups.get(group)
    const prev = prevKey === undefined ? undefined : this.nodes.get(prevKey)
    const holds = prev !== undefined && prev.tipset.key.some(c => String(c) === first)
    const rest = holds ? prev.tipset.blocks.filter(b => String(b.cid) !== first) : []
    const restKey = rest.length > 0 ? tipSetKeyString(rest.map(b => b.cid)) : undefined
    const frees = holds && prev !== this.rootNode && (this.childKeys.get(prev.key)?.size ?? 0) === 0
    const adds = restKey !== undefined && !this.nodes.has(restKey)
    if (this.nodes.size - (frees ? 1 : 0) + (adds ? 1 : 0) > this.init.maxTipsets) throw new ForkTreeFullError(this.init.maxTipsets)
    this.equivocations.set(minerKey, error)
    this.excluded.set(first, minerKey)
    this.excluded.set(cid, minerKey)
    this.blocks.set(cid, block)
    if (holds) {
      const reformed = restKey === undefined ? undefined : this.nodes.get(restKey) ?? this.add(makeTipSet(rest), this.parentOf(prev))
      if (reformed === undefined) this.groups.delete(group!)
      else this.groups.set(group!, reformed.key)
      if (frees && prev.key !== reformed?.key) this.remove(prev)
    }
    // Lotus RefreshHeaviestTipSet: "heaviest tipset's weight SHRANK ... due to equivocation", a new head at once
    this.best = this.heaviestFrom(this.rootNode.key)
    throw error
  }

  /** The refusal of a block of a miner already known to equivocate at its height: the evidence kept, this block named. */
  private refusal (minerKey: string, cid: string): EquivocationError {
    const known = this.equivocations.get(minerKey)!
    const other = known.first === cid ? known.second : known.first
    return new EquivocationError(known.miner, known.height, other, cid)
  }

  /** Lotus ReorgOps's walk: step back the higher side (the right one on equal heights) until both meet. */
  commonAncestor (a: TipSetNode, b: TipSetNode): TipSetNode {
    return this.reorgPath(a, b).ancestor
  }

  /** What a head move from `from` to `to` reverts and applies (Lotus chain/store/store.go ReorgOps). */
  reorgPath (from: TipSetNode, to: TipSetNode): ReorgPath {
    const reverted: TipSetNode[] = []
    const applied: TipSetNode[] = []
    let left = from
    let right = to
    while (left.key !== right.key) {
      if (left.height > right.height) {
        reverted.push(left)
        left = this.parentOf(left)
      } else {
        applied.push(right)
        right = this.parentOf(right)
      }
    }
    return { ancestor: left, reverted, applied: applied.reverse() }
  }

  /**
   * The heaviest of `key` and its descendants, by the same rule as heaviest(); `key` itself when every one of
   * them holds an equivocated block (Lotus then stays on the head it has).
   */
  heaviestFrom (key: TipSetKeyString): TipSetNode {
    const nodes = this.subtree(key)
    let best: TipSetNode | undefined
    for (const node of nodes) if (this.formable(node) && (best === undefined || this.heavier(node, best))) best = node
    return best ?? nodes[0]!
  }

  /**
   * Finality: the finalized tipset becomes the root and everything that does not descend from it goes
   * (below its height, and the forks beside it). Returns the CIDs of blocks no longer held.
   */
  prune (finalized: TipSetKeyString): string[] {
    const keep = new Set(this.subtree(finalized).map(n => n.key))
    const keptBlocks = new Set<string>()
    for (const k of keep) for (const c of this.nodes.get(k)!.tipset.key) keptBlocks.add(String(c))
    const rootHeight = this.nodes.get(finalized)!.height
    // an equivocated block above the new root stays while its parent tipset does: a child may still name it
    for (const c of this.excluded.keys()) {
      const b = this.blocks.get(c)
      if (b !== undefined && b.header.height > rootHeight && keep.has(tipSetKeyString(b.header.parents))) keptBlocks.add(c)
    }
    // nothing joins the tree at or below the root any more: the per-height records there go (Lotus keeps ChainFinality of them)
    for (const m of [this.minerFirst, this.equivocations]) for (const k of m.keys()) if (heightOf(k) <= rootHeight) m.delete(k)
    for (const [c, k] of this.excluded) if (heightOf(k) <= rootHeight) this.excluded.delete(c)
    for (const [k] of this.nodes) {
      if (!keep.has(k)) { this.nodes.delete(k); this.childKeys.delete(k) }
    }
    for (const [g, k] of this.groups) if (!keep.has(k)) this.groups.delete(g)
    const dropped = [...this.blocks.keys()].filter(c => !keptBlocks.has(c))
    for (const c of dropped) this.blocks.delete(c)
    this.rootNode = this.nodes.get(finalized)!
    // a certificate's tipset below the new root: every tipset left descends from it
    if (this.finalizedNode !== null && !this.nodes.has(this.finalizedNode.key)) { this.finalizedNode = null; this.finalizedLine = new Set() }
    if (this.finalizedNode !== null) this.finalizedLine = new Set([...this.finalizedLine].filter(k => this.nodes.has(k)))
    this.best = this.heaviestFrom(finalized)
    return dropped
  }

  private subtree (key: TipSetKeyString): TipSetNode[] {
    const start = this.nodes.get(key)
    if (start === undefined) throw new UnknownTipSetError(`tipset ${key} is not in the tree`)
    const out = [start]
    for (let i = 0; i < out.length; i++) out.push(...this.children(out[i]!.key))
    return out
  }

  private parentOf (node: TipSetNode): TipSetNode {
    const parent = this.nodes.get(node.parent)
    if (parent === undefined) throw new UnknownTipSetError(`parent of tipset at height ${node.height} is not in the tree (pruned, or a different root)`)
    return parent
  }

  /**
   * Lotus forms tipsets only from blocks of miners that made one block at the height; a node that holds an
   * equivocated block stays in the tree for its children but is never the head. The root is trusted as given.
   */
  private formable (node: TipSetNode): boolean {
    return node === this.rootNode || (!node.tipset.key.some(c => this.excluded.has(String(c))) && (this.bad.size === 0 || !this.isBad(node.key)) && this.respectsFinality(node))
  }

  /** Lotus's rule: heavier weight wins; on equal weight the tie-break decides, and a full tie keeps `b`. */
  private heavier (a: TipSetNode, b: TipSetNode): boolean {
    return a.weight > b.weight || (a.weight === b.weight && this.init.tieBreak(a.tipset, b.tipset))
  }

  private add (tipset: TipSet, parent: TipSetNode): TipSetNode {
    const node: TipSetNode = { tipset, key: tipSetKeyString(tipset.key), parent: parent.key, height: tipset.height, weight: this.init.weigh(tipset, parent) }
    this.nodes.set(node.key, node)
    this.childKeys.set(node.key, new Set())
    this.childKeys.get(parent.key)!.add(node.key)
    if (this.formable(node) && this.heavier(node, this.best)) this.best = node
    return node
  }

  private remove (node: TipSetNode): void {
    this.nodes.delete(node.key)
    this.childKeys.delete(node.key)
    this.childKeys.get(node.parent)?.delete(node.key)
    if (this.best === node) this.best = this.heaviestFrom(this.rootNode.key)
  }
}
