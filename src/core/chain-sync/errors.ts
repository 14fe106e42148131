// Named failures of the fork tree and the header sync machine. Faults (a peer broke a rule) extend
// SyncFaultError and carry the peer; the others are the caller's misuse or a full bound.
import type { Epoch } from '../units'

/** A peer sent something that proves it is not serving a valid chain; the caller drops it. */
export class SyncFaultError extends Error {
  static override name = 'SyncFaultError'
  override name = 'SyncFaultError'
  constructor (readonly peer: string, message: string) { super(`peer ${peer}: ${message}`) }
}

/** A chain-exchange answer that is not what was asked: empty, longer than asked, or headed by another tipset (Lotus client.go processResponse). */
export class MismatchedAnswerError extends SyncFaultError {
  static override name = 'MismatchedAnswerError'
  override name = 'MismatchedAnswerError'
}

/** Headers that do not form a chain: a tipset whose blocks differ in height or parents, or one that is not its successor's parent (Lotus TipSet.IsChildOf). */
export class UnlinkedHeadersError extends SyncFaultError {
  static override name = 'UnlinkedHeadersError'
  override name = 'UnlinkedHeadersError'
}

/** The peer's chain holds a block that failed validation (or descends from one): Lotus's bad-block cache. */
export class RejectedChainError extends SyncFaultError {
  static override name = 'RejectedChainError'
  override name = 'RejectedChainError'
  constructor (peer: string, readonly block: string, readonly reason: string) {
    super(peer, `chain contains rejected block ${block} (${reason})`)
  }
}

/** The peer's chain leaves ours at or below the finalized tipset (Lotus refuses forks past finality). */
export class ForkBelowFinalityError extends SyncFaultError {
  static override name = 'ForkBelowFinalityError'
  override name = 'ForkBelowFinalityError'
  constructor (peer: string, readonly height: Epoch, readonly finalized: Epoch) {
    super(peer, `chain holds another tipset at height ${height}, at or below the finalized height ${finalized}`)
  }
}

/** A request had no answer within the machine's timeout (tick); a network condition, not a fault. */
export class RequestTimeoutError extends Error {
  static override name = 'RequestTimeoutError'
  override name = 'RequestTimeoutError'
}

/** The fork tree holds as many tipsets as it may; prune at a finalized tipset first. */
export class ForkTreeFullError extends RangeError {
  static override name = 'ForkTreeFullError'
  override name = 'ForkTreeFullError'
  constructor (readonly limit: number) { super(`fork tree holds its limit of ${limit} tipsets`) }
}

/** A block whose parent tipset is not in the tree (or cannot be formed from its blocks). */
export class ParentNotInTreeError extends Error {
  static override name = 'ParentNotInTreeError'
  override name = 'ParentNotInTreeError'
}

/** A block no higher than its parent tipset: heights grow along a chain (null rounds leave gaps). */
export class NotAChildError extends Error {
  static override name = 'NotAChildError'
  override name = 'NotAChildError'
  constructor (readonly height: Epoch, readonly parentHeight: Epoch) { super(`block at height ${height} is not above its parent at ${parentHeight}`) }
}

/** A tipset key that names nothing in the tree (never added, or pruned). */
export class UnknownTipSetError extends Error {
  static override name = 'UnknownTipSetError'
  override name = 'UnknownTipSetError'
}

/**
 * One miner's second validated block at a height (a "double-fork mining" consensus fault). As Lotus's
 * FormHeaviestTipSetForHeight (chain/store/store.go), every block of that miner at that height is left out of
 * the tipsets formed there. Not a SyncFaultError: Lotus accepts such a block on gossip and does not blame the
 * peer that relayed it; the evidence (both CIDs) is for a consensus-fault report, which Coffer has no message for yet.
 */
export class EquivocationError extends Error {
  static override name = 'EquivocationError'
  override name = 'EquivocationError'
  constructor (readonly miner: string, readonly height: Epoch, readonly first: string, readonly second: string) {
    super(`miner ${miner} made two blocks at height ${height}: ${first} and ${second}`)
  }
}
