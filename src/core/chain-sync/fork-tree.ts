// The tree of validated tipsets a node follows: blocks grouped into tipsets as Lotus forms them, the
// heaviest-chain rule with the consensus module's weight and tie-break, common ancestors and reorganisation
// paths as Lotus's ReorgOps, pruning at a finalized tipset, and a bound on what is kept.
import type { CID } from '../cid'
import type { SealedHeader } from '../block-header'
import { makeTipSet, type TipSet } from '../tipset'
import type { ChainWeight } from '../consensus/weight'
import type { Epoch } from '../units'
import { ForkTreeFullError, NotAChildError, ParentNotInTreeError, UnknownTipSetError } from './errors'

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
  private rootNode: TipSetNode
  private best: TipSetNode

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

  /** The heaviest tipset; weights grow along a chain, so it is a leaf. */
  heaviest (): TipSetNode { return this.best }

  /**
   * The tipset with this key, formed from blocks already in the tree when no node has it yet: a child may
   * name any subset of a height's blocks as its parents (the miner saw only those). Undefined when some block
   * is missing or they do not make one tipset.
   */
  resolve (key: TipSetKeyString): TipSetNode | undefined {
    const known = this.nodes.get(key)
    if (known !== undefined) return known
    if (key === '') return undefined
    const cids = key.split(',')
    if (new Set(cids).size !== cids.length) return undefined // a tipset's blocks are distinct
    const blocks = cids.map(c => this.blocks.get(c))
    if (blocks.some(b => b === undefined)) return undefined
    let tipset: TipSet
    try { tipset = makeTipSet(blocks as SealedHeader[]) } catch { return undefined }
    const parent = this.nodes.get(tipSetKeyString(tipset.blocks[0]!.header.parents))
    if (parent === undefined) return undefined // the blocks' parent was pruned
    if (this.nodes.size >= this.init.maxTipsets) throw new ForkTreeFullError(this.init.maxTipsets)
    return this.add(tipset, parent)
  }

  /**
   * Adds a validated block: it joins the other blocks of its height with the same parents, and that larger
   * tipset gets its own key. The smaller one it replaces stays only if some child was built on it.
   * Returns the tipset the block now belongs to.
   */
  insertBlock (block: SealedHeader): TipSetNode {
    const h = block.header
    const parentKey = tipSetKeyString(h.parents)
    const group = groupOf(h.height, parentKey)
    if (this.blocks.has(String(block.cid))) {
      const key = this.groups.get(group)
      const node = key === undefined ? undefined : this.nodes.get(key)
      if (node !== undefined) return node
    }
    const parent = this.resolve(parentKey)
    if (parent === undefined) throw new ParentNotInTreeError(`parent tipset of block ${String(block.cid)} at height ${h.height} is not in the tree`)
    if (h.height <= parent.height) throw new NotAChildError(h.height, parent.height)
    const prevKey = this.groups.get(group)
    const prev = prevKey === undefined ? undefined : this.nodes.get(prevKey)
    const replaces = prev !== undefined && prev !== this.rootNode && (this.childKeys.get(prev.key)?.size ?? 0) === 0
    if (!replaces && this.nodes.size >= this.init.maxTipsets) throw new ForkTreeFullError(this.init.maxTipsets)
    const tipset = makeTipSet([...prev?.tipset.blocks ?? [], block])
    this.blocks.set(String(block.cid), block)
    const node = this.nodes.get(tipSetKeyString(tipset.key)) ?? this.add(tipset, parent)
    this.groups.set(group, node.key)
    if (replaces && prev.key !== node.key) this.remove(prev)
    return node
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

  /** The heaviest of `key` and its descendants, by the same rule as heaviest(). */
  heaviestFrom (key: TipSetKeyString): TipSetNode {
    let best: TipSetNode | undefined
    for (const node of this.subtree(key)) if (best === undefined || this.heavier(node, best)) best = node
    return best!
  }

  /**
   * Finality: the finalized tipset becomes the root and everything that does not descend from it goes
   * (below its height, and the forks beside it). Returns the CIDs of blocks no longer held.
   */
  prune (finalized: TipSetKeyString): string[] {
    const keep = new Set(this.subtree(finalized).map(n => n.key))
    const keptBlocks = new Set<string>()
    for (const k of keep) for (const c of this.nodes.get(k)!.tipset.key) keptBlocks.add(String(c))
    for (const [k] of this.nodes) {
      if (!keep.has(k)) { this.nodes.delete(k); this.childKeys.delete(k) }
    }
    for (const [g, k] of this.groups) if (!keep.has(k)) this.groups.delete(g)
    const dropped = [...this.blocks.keys()].filter(c => !keptBlocks.has(c))
    for (const c of dropped) this.blocks.delete(c)
    this.rootNode = this.nodes.get(finalized)!
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

  /** Lotus's rule: heavier weight wins; on equal weight the tie-break decides, and a full tie keeps `b`. */
  private heavier (a: TipSetNode, b: TipSetNode): boolean {
    return a.weight > b.weight || (a.weight === b.weight && this.init.tieBreak(a.tipset, b.tipset))
  }

  private add (tipset: TipSet, parent: TipSetNode): TipSetNode {
    const node: TipSetNode = { tipset, key: tipSetKeyString(tipset.key), parent: parent.key, height: tipset.height, weight: this.init.weigh(tipset, parent) }
    this.nodes.set(node.key, node)
    this.childKeys.set(node.key, new Set())
    this.childKeys.get(parent.key)!.add(node.key)
    if (this.heavier(node, this.best)) this.best = node
    return node
  }

  private remove (node: TipSetNode): void {
    this.nodes.delete(node.key)
    this.childKeys.delete(node.key)
    this.childKeys.get(node.parent)?.delete(node.key)
    if (this.best === node) this.best = this.heaviestFrom(this.rootNode.key)
  }
}
