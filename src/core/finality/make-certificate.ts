// Building a certificate from participants' signatures (what go-f3's NewFinalityCertificate does with
// a DECIDE justification): the supplemental data names the next power table, the delta leads there
// from the current one, the signers are an RLE+ bitfield of table indexes, the signature their BDN
// aggregate. Pure: the participants' signing and the agreement on what to sign happen elsewhere.
import { encodeRlePlus } from '../rle-plus'
import { bdnAggregateSignatures } from './bdn'
import { certificateSigningPayload, type FinalityCertificate, type SupplementalData } from './certificate'
import { type EcChain } from './ec-chain'
import { makePowerTableDelta, powerTableCid, type PowerEntry } from './power-table'

export interface CertificateProposal {
  readonly network: string
  readonly instance: number
  readonly ecChain: EcChain
  /** The power table that validates this instance (the signers index it). */
  readonly powerTable: readonly PowerEntry[]
  /** The power table of the next instance, sorted as go-f3 sorts it. */
  readonly nextPowerTable: readonly PowerEntry[]
}

export function proposalSupplementalData (p: CertificateProposal): SupplementalData {
  return { commitments: new Uint8Array(32), powerTable: powerTableCid(p.nextPowerTable) }
}

/** The bytes each participant signs for this proposal. */
export function proposalSigningPayload (p: CertificateProposal): Uint8Array {
  return certificateSigningPayload(p.network, p.instance, proposalSupplementalData(p), p.ecChain)
}

/** The certificate of `p` signed by the table entries at `signatures`' keys (index → 96-byte signature). */
export function assembleCertificate (p: CertificateProposal, signatures: ReadonlyMap<number, Uint8Array>): FinalityCertificate {
  const signers = [...signatures.keys()].sort((a, b) => a - b)
  return {
    instance: p.instance,
    ecChain: p.ecChain,
    supplementalData: proposalSupplementalData(p),
    signers: encodeRlePlus(signers),
    signature: bdnAggregateSignatures(p.powerTable.map(e => e.pubKey), signers, signers.map(i => signatures.get(i)!)),
    powerTableDelta: makePowerTableDelta(p.powerTable, p.nextPowerTable)
  }
}
