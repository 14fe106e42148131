// The consensus interface: what the rest of Coffer asks of a consensus (is this block valid on that parent, how
// heavy is a tipset, which of two heads wins, which tipset's execution a block's state root is), so header sync,
// the store and the light client do not depend on how blocks are won. Implementations: expectedConsensus
// (ec-validate.ts, Filecoin's) and singleProducerConsensus (single-producer.ts, the one-key chain until now).
import type { BlockHeader, SealedHeader } from '../block-header'
import type { CID } from '../cid'
import type { TipSet } from '../tipset'
import { breakWeightTie, type ChainWeight } from './weight'

/** A tipset with the weight its consensus gave it (what its children carry as ParentWeight). */
export interface WeighedTipSet { tipset: TipSet, weight: ChainWeight }

/**
 * `Ctx` is what validating a block needs besides the block and its parent (the clock, state read by the caller);
 * `WeightCtx` what weighing a tipset needs. Both are values or synchronous callbacks: a consensus does no I/O.
 */
export interface Consensus<Ctx, WeightCtx = void> {
  /** Throws a named error unless `block` may extend `parent`, the tipset its Parents name. */
  validateBlock: (block: SealedHeader, parent: TipSet, ctx: Ctx) => void
  /** The weight of `tipset`: what every block built on it must carry as ParentWeight. */
  weight: (tipset: TipSet, ctx: WeightCtx) => ChainWeight
  /** Fork choice: true when `a` should replace `b` as the head. */
  isHeavier: (a: WeighedTipSet, b: WeighedTipSet) => boolean
  /**
   * The key of the tipset whose execution gives `block`'s ParentStateRoot and ParentMessageReceipts. In
   * Filecoin (Lotus CommonBlkChecks: TipSetState(baseTs)) and in Coffer's single-producer chain alike, the
   * parent tipset: its messages applied on its own ParentStateRoot.
   */
  executedTipSet: (block: BlockHeader) => CID[]
}

/** A tipset's tickets in its block order; a block without one (a genesis made before Expected Consensus) counts as empty. */
export function tipSetTickets (tipset: TipSet): Uint8Array[] {
  return tipset.blocks.map(b => b.header.ticket ?? new Uint8Array(0))
}

/**
 * Lotus's fork choice (chain/store/store.go MaybeTakeHeavierTipSet): the greater weight, and on equal weights
 * breakWeightTie over the tickets in tipset order; a tie left unbroken keeps `b` (Lotus keeps its second).
 */
export function isHeavierTipSet (a: WeighedTipSet, b: WeighedTipSet): boolean {
  if (a.weight !== b.weight) return a.weight > b.weight
  return breakWeightTie(tipSetTickets(a.tipset), tipSetTickets(b.tipset))
}
