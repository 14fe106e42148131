// Named refusals of Expected Consensus checks (Lotus chain/consensus/filcns/filecoin.go ValidateBlock's winner
// and ticket checks, Weight), each carrying the height and miner so a caller can drop the block and its sender.
import { addressToString } from '../address'
import type { Epoch } from '../units'

export type ConsensusRejectCode = 'NOT_A_WINNER' | 'ELECTION_PROOF' | 'WIN_COUNT' | 'TICKET' | 'NO_POWER' | 'LOOKBACK'

function minerName (miner: Uint8Array): string {
  try { return addressToString(miner) } catch { return `0x${Array.from(miner, b => b.toString(16).padStart(2, '0')).join('')}` }
}

/** A block broke an Expected Consensus rule. Callers branch on `.name` or `.code`. */
export class ConsensusError extends Error {
  static override name = 'ConsensusError'
  override name = 'ConsensusError'
  constructor (readonly code: ConsensusRejectCode, message: string, readonly height?: Epoch, readonly miner?: Uint8Array) {
    super(message)
  }
}

/** The block claims no win (ElectionProof.WinCount < 1): Lotus's "block is not claiming to be a winner". */
export class NotAWinnerError extends ConsensusError {
  static override name = 'NotAWinnerError'
  override name = 'NotAWinnerError'
  constructor (height: Epoch, miner: Uint8Array, readonly winCount: number) {
    super('NOT_A_WINNER', `block of ${minerName(miner)} at height ${height} claims ${winCount} wins`, height, miner)
  }
}

/** The election VRF is not the worker's BLS signature over the election base for this height and miner. */
export class ElectionProofError extends ConsensusError {
  static override name = 'ElectionProofError'
  override name = 'ElectionProofError'
  constructor (height: Epoch, miner: Uint8Array) {
    super('ELECTION_PROOF', `election proof of ${minerName(miner)} at height ${height} is not its worker's VRF`, height, miner)
  }
}

/** The claimed WinCount differs from ComputeWinCount over the VRF and the lookback power. */
export class WinCountError extends ConsensusError {
  static override name = 'WinCountError'
  override name = 'WinCountError'
  constructor (height: Epoch, miner: Uint8Array, readonly claimed: number, readonly computed: number) {
    super('WIN_COUNT', `${minerName(miner)} claims ${claimed} wins at height ${height}, computed ${computed}`, height, miner)
  }
}

/** The ticket is missing or is not the worker's VRF over the ticket base chained from the parent min ticket. */
export class TicketError extends ConsensusError {
  static override name = 'TicketError'
  override name = 'TicketError'
  constructor (height: Epoch, miner: Uint8Array, reason: string) {
    super('TICKET', `ticket of ${minerName(miner)} at height ${height}: ${reason}`, height, miner)
  }
}

/** No power in the network: Lotus's Weight refuses ("All power in the net is gone"). */
export class NoPowerError extends ConsensusError {
  static override name = 'NoPowerError'
  override name = 'NoPowerError'
  constructor (readonly totalPower: bigint) {
    super('NO_POWER', `total power ${totalPower} leaves no weight to compute`)
  }
}

/** The lookback round is at or after the parent's height with a parent that is not genesis (Lotus refuses it). */
export class LookbackError extends ConsensusError {
  static override name = 'LookbackError'
  override name = 'LookbackError'
  constructor (height: Epoch, readonly lookbackRound: Epoch, readonly parentHeight: Epoch) {
    super('LOOKBACK', `lookback round ${lookbackRound} of height ${height} is at or after base height ${parentHeight}`, height)
  }
}
