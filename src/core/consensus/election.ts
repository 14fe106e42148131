// Winning an epoch: the election VRF (the worker's BLS signature over randomness drawn from the beacon for this
// height and miner) and its win count, produced as Lotus's chain/gen/gen.go IsRoundWinner does and checked as
// chain/consensus/filcns/filecoin.go ValidateBlock's winnerCheck does.
import * as dagCbor from '@ipld/dag-cbor'
import { drawRandomness } from '../market/randomness'
import { blsVerify, nobleBlsSigner, SIG_TYPE_BLS, type BlsSigner } from '../signature'
import type { ElectionProof } from '../block-header'
import type { StoragePower } from '../power'
import type { Epoch } from '../units'
import { DomainSeparationTag } from './domain-separation'
import { computeWinCount } from './win-count'
import { ElectionProofError, NotAWinnerError, WinCountError } from './consensus-errors'

export interface ElectionInit {
  /**
   * The beacon entry's data: the last entry the block carries, or when it carries none the latest entry on
   * its parent chain (Lotus ValidateBlock `rBeacon`, miner.go `rbase`).
   */
  beaconData: Uint8Array
  height: Epoch
  /** The miner's address bytes (an ID address in Filecoin's headers). */
  miner: Uint8Array
  /** The miner's and the network's quality-adjusted power, read from the lookback state (see lookback.ts). */
  minerPower: StoragePower
  totalPower: StoragePower
}

export interface ElectionCheck extends ElectionInit {
  /** The worker's 48-byte BLS public key, read from the lookback state (Lotus GetMinerWorkerRaw(lbst)). */
  workerKey: Uint8Array
  electionProof: ElectionProof
}

/**
 * What the worker signs to make its election VRF: DrawRandomness(beacon, ElectionProofProduction, height,
 * CBOR(miner)), the miner's address CBOR-encoded as a byte string as Go's Address.MarshalCBOR writes it.
 */
export function electionProofBase (beaconData: Uint8Array, height: Epoch, miner: Uint8Array): Uint8Array {
  return drawRandomness(beaconData, DomainSeparationTag.ElectionProofProduction, height, dagCbor.encode(miner))
}

/** The producer's side (Lotus IsRoundWinner): the ElectionProof when the VRF wins at least once, else null. */
export function runElection (workerSecretKey: Uint8Array, init: ElectionInit, sign: BlsSigner = nobleBlsSigner): ElectionProof | null {
  const vrfProof = sign(workerSecretKey, electionProofBase(init.beaconData, init.height, init.miner))
  const winCount = computeWinCount(vrfProof, init.minerPower, init.totalPower)
  return winCount < 1 ? null : { winCount, vrfProof }
}

/**
 * Lotus ValidateBlock's winner check, in its order: a claim of at least one win (NotAWinnerError), the VRF
 * verifying under the worker key (ElectionProofError), then the claimed count equal to ComputeWinCount over
 * the lookback power (WinCountError). Eligibility (minimum power, slashing) needs state and is not here.
 */
export function verifyElectionProof (check: ElectionCheck): void {
  const { electionProof, height, miner } = check
  if (electionProof.winCount < 1) throw new NotAWinnerError(height, miner, electionProof.winCount)
  const base = electionProofBase(check.beaconData, height, miner)
  if (!blsVerify(check.workerKey, base, { type: SIG_TYPE_BLS, data: electionProof.vrfProof })) throw new ElectionProofError(height, miner)
  const computed = computeWinCount(electionProof.vrfProof, check.minerPower, check.totalPower)
  if (electionProof.winCount !== computed) throw new WinCountError(height, miner, electionProof.winCount, computed)
}
