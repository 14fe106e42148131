// Why a full node refuses a block (every one is the block's fault), and the one that only waits (a block dated
// after our clock). Sync and gossip tell them apart: a rejection blames the peer, a future block is offered again.
import type { Epoch } from '../core'

/**
 * Why a follower refused a block. Every one is the block's fault (any node executing it finds the same),
 * so the peer that handed it over broke a rule; `height` is the refused block's.
 */
export class BlockRejectedError extends Error {
  static override name = 'BlockRejectedError'
  override name = 'BlockRejectedError'
  constructor (message: string, readonly height: Epoch) { super(message) }
}

/** The block does not extend our head (one producer means one chain; forks are issue 13's). */
export class ParentMismatchError extends BlockRejectedError {
  static override name = 'ParentMismatchError'
  override name = 'ParentMismatchError'
  readonly code = 'PARENT_MISMATCH'
  constructor (readonly head: string, readonly parents: string, height: Epoch) {
    super(`block at height ${height} has parents ${parents || '(none)'}, not our head ${head}`, height)
  }
}

/** Executing the parent's messages on the parent's state does not give the header's ParentStateRoot. */
export class StateRootMismatchError extends BlockRejectedError {
  static override name = 'StateRootMismatchError'
  override name = 'StateRootMismatchError'
  readonly code = 'STATE_ROOT_MISMATCH'
  constructor (readonly expected: string, readonly claimed: string, height: Epoch) {
    super(`block at height ${height} claims state root ${claimed}; executing its parent gives ${expected}`, height)
  }
}

/** Executing the parent's messages does not give the header's ParentMessageReceipts. */
export class ReceiptsRootMismatchError extends BlockRejectedError {
  static override name = 'ReceiptsRootMismatchError'
  override name = 'ReceiptsRootMismatchError'
  readonly code = 'RECEIPTS_ROOT_MISMATCH'
  constructor (readonly expected: string, readonly claimed: string, height: Epoch) {
    super(`block at height ${height} claims receipts root ${claimed}; executing its parent gives ${expected}`, height)
  }
}

/** The messages handed over with a block do not build the TxMeta its header's Messages names. */
export class MessagesMismatchError extends BlockRejectedError {
  static override name = 'MessagesMismatchError'
  override name = 'MessagesMismatchError'
  readonly code = 'MESSAGES_MISMATCH'
  constructor (readonly expected: string, readonly built: string, height: Epoch) {
    super(`messages sent for block at height ${height} build TxMeta ${built}, not its Messages ${expected}`, height)
  }
}

/**
 * The header's ParentBaseFee is not the base fee of its parent tipset (Lotus CommonBlkChecks baseFeeCheck:
 * ComputeBaseFee(baseTs) == h.ParentBaseFee). Coffer keeps the base fee at BASE_FEE (no congestion pricing yet).
 */
export class BaseFeeMismatchError extends BlockRejectedError {
  static override name = 'BaseFeeMismatchError'
  override name = 'BaseFeeMismatchError'
  readonly code = 'BASE_FEE_MISMATCH'
  constructor (readonly expected: bigint, readonly claimed: bigint, height: Epoch) {
    super(`block at height ${height} claims parent base fee ${claimed}; its parent's is ${expected}`, height)
  }
}

/** The block breaks a header rule (link, timestamp, producer, signature) or its messages' rules (gas, signatures). */
export class InvalidBlockError extends BlockRejectedError {
  static override name = 'InvalidBlockError'
  override name = 'InvalidBlockError'
  readonly code = 'INVALID_BLOCK'
  constructor (override readonly cause: Error, height: Epoch) { super(`block at height ${height} is invalid: ${cause.name}: ${cause.message}`, height) }
}

/**
 * A block dated past our clock (beyond the allowed drift): not stored, and no rule broken that its sender is to blame
 * for (Lotus wraps FutureBlock in ErrTemporal and keeps such a block out of its bad-block cache). Not a
 * BlockRejectedError: sync and gossip take it as not applicable yet, and it is offered again later.
 */
export class BlockNotYetDueError extends Error {
  static override name = 'BlockNotYetDueError'
  override name = 'BlockNotYetDueError'
  readonly code = 'NOT_YET_DUE'
  constructor (readonly height: Epoch, readonly timestamp: number, readonly now: number) { super(`block at height ${height} is dated ${timestamp}, after our clock's ${now}: taken once it is due`) }
}
