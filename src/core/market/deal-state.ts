// A deal's on-chain state. The first three fields are Filecoin's DealState (v8: SectorStartEpoch,
// LastUpdatedEpoch, SlashEpoch); Coffer appends what proving needs: an AMT of proof records, one per
// proving period of the deal (index 0 is the deal's first period), and the count of consecutive faults.
import { CID } from 'multiformats/cid'
import { MalformedStateError } from '../hamt'
import { encodeBigInt } from '../token'
import { bigIntField } from './market-state'
import type { AttoFil, Epoch } from '../units'
import type { DealProposal } from './deal-proposal'

export interface DealState {
  sectorStartEpoch: Epoch
  /** The last period boundary at which the deal was settled, -1 before the first. */
  lastUpdatedEpoch: Epoch
  /** When faults terminated the deal, -1 while it has not been. */
  slashEpoch: Epoch
  proofs: CID
  consecutiveFaults: number
}

/**
 * One proving period of one deal: the proof (when one was accepted: the epoch it executed in and the
 * link to its bytes) and, once the period is settled, what moved: the period's storage fee to the provider
 * when proven, or the provider's penalty to the client when not.
 */
export interface ProofRecord {
  submittedEpoch: Epoch
  proof: CID | null
  settled: boolean
  paid: AttoFil
  penalty: AttoFil
}

export type DealStatus = 'published' | 'active' | 'expired' | 'slashed'

export const encodeDealState = (s: DealState): unknown[] => [s.sectorStartEpoch, s.lastUpdatedEpoch, s.slashEpoch, s.proofs, s.consecutiveFaults]

export function decodeDealState (raw: unknown): DealState {
  if (!Array.isArray(raw) || raw.length !== 5) throw new MalformedStateError('deal state is not a 5-field tuple')
  const [start, updated, slash, proofs, faults] = raw as unknown[]
  const epoch = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= -1
  const cid = CID.asCID(proofs)
  if (!epoch(start) || !epoch(updated) || !epoch(slash) || cid === null || typeof faults !== 'number' || !Number.isSafeInteger(faults) || faults < 0) {
    throw new MalformedStateError('deal state fields have the wrong types')
  }
  return { sectorStartEpoch: start, lastUpdatedEpoch: updated, slashEpoch: slash, proofs: cid, consecutiveFaults: faults }
}

export const encodeProofRecord = (r: ProofRecord): unknown[] => [r.submittedEpoch, r.proof, r.settled, encodeBigInt(r.paid), encodeBigInt(r.penalty)]

export function decodeProofRecord (raw: unknown): ProofRecord {
  if (!Array.isArray(raw) || raw.length !== 5) throw new MalformedStateError('proof record is not a 5-field tuple')
  const [epoch, proof, settled, paid, penalty] = raw as unknown[]
  const cid = proof === null ? null : CID.asCID(proof)
  if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch) || epoch < -1 || (proof !== null && cid === null) || typeof settled !== 'boolean') {
    throw new MalformedStateError('proof record fields have the wrong types')
  }
  return { submittedEpoch: epoch, proof: cid, settled, paid: bigIntField(paid, 'proof record Paid'), penalty: bigIntField(penalty, 'proof record Penalty') }
}

/** The deal's status as of `epoch` (the epoch whose state this is). */
export function dealStatus (p: DealProposal, s: DealState, epoch: Epoch): DealStatus {
  if (s.slashEpoch >= 0) return 'slashed'
  if (s.lastUpdatedEpoch >= p.endEpoch) return 'expired'
  return epoch >= p.startEpoch ? 'active' : 'published'
}
