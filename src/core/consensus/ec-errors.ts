// Named refusals of a block by validateEcBlock for what the election math (consensus-errors.ts) and the beacon
// rules (beacon-errors.ts) do not already name: Lotus chain/consensus/filcns/filecoin.go ValidateBlock's other
// checks, each carrying the height and miner so a caller can drop the block and its sender.
import { addressToString } from '../address'
import type { BeaconEntryError } from '../beacon'
import type { Epoch } from '../units'
import type { StoragePower } from '../power'
import type { ChainWeight } from './weight'

export type EcBlockRejectCode =
  | 'MALFORMED' // Lotus blockSanityChecks: a field Expected Consensus needs is missing, or the miner is not an ID address
  | 'PARENTS' // the block's Parents are not the key of the parent tipset it was checked against
  | 'HEIGHT' // not above the parent tipset
  | 'TIMESTAMP' // not the parent's timestamp plus one block delay per epoch since it
  | 'FUTURE' // later than the verifier's clock plus the allowed drift (Lotus ErrTemporal: it may be valid later)
  | 'UNKNOWN_MINER' // no power claim in the parent state: not a miner, or slashed
  | 'INELIGIBLE' // Lotus MinerEligibleToMine says no (see IneligibleReason)
  | 'PARENT_WEIGHT' // ParentWeight is not the weight of the parent tipset
  | 'BLOCK_SIGNATURE' // BlockSig is not the worker's BLS signature over the header's signing bytes
  | 'BEACON' // the beacon entries break the beacon rules (the BeaconEntryError is `cause`)

function minerName (miner: Uint8Array): string {
  try { return addressToString(miner) } catch { return `0x${Array.from(miner, b => b.toString(16).padStart(2, '0')).join('')}` }
}

/** A block broke a rule of validateEcBlock. Callers branch on `.name` or `.code`. */
export class EcBlockError extends Error {
  static override name = 'EcBlockError'
  override name = 'EcBlockError'
  constructor (readonly code: EcBlockRejectCode, readonly height: Epoch, readonly miner: Uint8Array, reason: string, options?: { cause?: unknown }) {
    super(`block of ${minerName(miner)} at height ${height}: ${reason}`, options)
  }
}

export class MalformedEcBlockError extends EcBlockError {
  static override name = 'MalformedEcBlockError'
  override name = 'MalformedEcBlockError'
  constructor (height: Epoch, miner: Uint8Array, reason: string) { super('MALFORMED', height, miner, reason) }
}

export class ParentTipSetError extends EcBlockError {
  static override name = 'ParentTipSetError'
  override name = 'ParentTipSetError'
  constructor (height: Epoch, miner: Uint8Array, readonly parents: string[], readonly expected: string[]) {
    super('PARENTS', height, miner, `parents ${parents.join(',') || '(none)'} are not the parent tipset ${expected.join(',')}`)
  }
}

export class NotAboveParentError extends EcBlockError {
  static override name = 'NotAboveParentError'
  override name = 'NotAboveParentError'
  constructor (height: Epoch, miner: Uint8Array, readonly parentHeight: Epoch) {
    super('HEIGHT', height, miner, `height is not above the parent tipset's ${parentHeight}`)
  }
}

export class OffScheduleTimestampError extends EcBlockError {
  static override name = 'OffScheduleTimestampError'
  override name = 'OffScheduleTimestampError'
  constructor (height: Epoch, miner: Uint8Array, readonly timestamp: number, readonly expected: number) {
    super('TIMESTAMP', height, miner, `timestamp ${timestamp} is not ${expected} (the parent's plus one block delay per epoch)`)
  }
}

/** Temporal, as Lotus's ErrTemporal: the same block may be valid once the verifier's clock has caught up. */
export class FutureBlockError extends EcBlockError {
  static override name = 'FutureBlockError'
  override name = 'FutureBlockError'
  constructor (height: Epoch, miner: Uint8Array, readonly timestamp: number, readonly now: number) {
    super('FUTURE', height, miner, `timestamp ${timestamp} is in the future (now ${now})`)
  }
}

/** Lotus minerIsValid ("miner isn't valid") and GetMinerSlashed ("slashed or invalid miner"): no claim in the parent state. */
export class UnknownMinerError extends EcBlockError {
  static override name = 'UnknownMinerError'
  override name = 'UnknownMinerError'
  constructor (height: Epoch, miner: Uint8Array) {
    super('UNKNOWN_MINER', height, miner, 'no power claim in the parent state (not a miner, or slashed)')
  }
}

/**
 * Why Lotus stmgr.MinerEligibleToMine refuses a miner:
 * - BELOW_MIN_POWER: the power actor's miner_nominal_power_meets_consensus_minimum is false at the lookback
 * - NO_POWER: the claim in the parent state has no quality-adjusted power
 * - FEE_DEBT: the miner owes fees in the parent state
 * - CONSENSUS_FAULT: the parent's height is not past the miner's ConsensusFaultElapsed
 * - NO_NETWORK_POWER: the network has no power at the lookback, so no election can be won (Lotus would fail
 *   dividing by it in ComputeWinCount)
 */
export type IneligibleReason = 'BELOW_MIN_POWER' | 'NO_POWER' | 'FEE_DEBT' | 'CONSENSUS_FAULT' | 'NO_NETWORK_POWER'

export class IneligibleMinerError extends EcBlockError {
  static override name = 'IneligibleMinerError'
  override name = 'IneligibleMinerError'
  constructor (height: Epoch, miner: Uint8Array, readonly reason: IneligibleReason) {
    super('INELIGIBLE', height, miner, `miner is not eligible to mine (${reason})`)
  }
}

export class ParentWeightError extends EcBlockError {
  static override name = 'ParentWeightError'
  override name = 'ParentWeightError'
  constructor (height: Epoch, miner: Uint8Array, readonly claimed: ChainWeight, readonly computed: ChainWeight, readonly parentTotalPower: StoragePower) {
    super('PARENT_WEIGHT', height, miner, `ParentWeight ${claimed} is not the parent tipset's weight ${computed}`)
  }
}

export class BlockSignatureError extends EcBlockError {
  static override name = 'BlockSignatureError'
  override name = 'BlockSignatureError'
  constructor (height: Epoch, miner: Uint8Array) {
    super('BLOCK_SIGNATURE', height, miner, 'BlockSig is not the worker\'s BLS signature over the header')
  }
}

/** The block's beacon entries were refused; `cause` is the beacon's own named error (BadBeaconSignatureError, …). */
export class BlockBeaconError extends EcBlockError {
  static override name = 'BlockBeaconError'
  override name = 'BlockBeaconError'
  constructor (height: Epoch, miner: Uint8Array, override readonly cause: BeaconEntryError | Error) {
    super('BEACON', height, miner, cause.message, { cause })
  }
}
