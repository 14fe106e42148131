// go-f3's FinalityCertificate (certs/certs.go) in its CBOR layout (certs/cbor_gen.go), and the bytes
// its signers sign (gpbft Payload.MarshalForSigning for the DECIDE phase of round 0). Coffer writes
// and reads these bytes exactly as go-f3 does, so a certificate from Filecoin decodes here and one
// from Coffer decodes in Lotus.
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from '../cid'
import { encodeBigInt } from '../token'
import { decodeF3TipSet, ecChainKey, encodeF3TipSetFields, padTo32, type EcChain } from './ec-chain'
import { CertificateError } from './finality-errors'
import { decodeBigIntOrThrow, MAX_POWER_TABLE_ENTRIES, MAX_PUBKEY_BYTES, type PowerTableDelta } from './power-table'

/** gpbft SupplementalData: commitments (32 bytes, zero today) and the CID of the next instance's power table. */
export interface SupplementalData {
  readonly commitments: Uint8Array
  readonly powerTable: CID
}

export interface FinalityCertificate {
  readonly instance: number
  readonly ecChain: EcChain
  readonly supplementalData: SupplementalData
  /** The signers' indexes in the power table that validates this certificate, as RLE+ bytes. */
  readonly signers: Uint8Array
  /** The signers' BDN-aggregated BLS signature (96 bytes, G2). */
  readonly signature: Uint8Array
  /** What turns this certificate's power table into the next one's, sorted by participant. */
  readonly powerTableDelta: readonly PowerTableDelta[]
}

/** cbor-gen's limits for the certificate's fields, and a bound on the whole for what a peer may send. */
export const MAX_SIGNATURE_BYTES = 2_097_152
export const MAX_CERTIFICATE_BYTES = 4 * 1024 * 1024

/** gpbft's phases; a certificate is a DECIDE (5) of round 0. */
export const DECIDE_PHASE = 5
/** gpbft.DomainSeparationTag, the first bytes of everything a participant signs. */
export const GPBFT_DOMAIN = 'GPBFT'

export function encodeCertificate (c: FinalityCertificate): Uint8Array {
  return dagCbor.encode([
    c.instance,
    c.ecChain.map(encodeF3TipSetFields),
    [c.supplementalData.commitments, c.supplementalData.powerTable],
    c.signers,
    c.signature,
    c.powerTableDelta.map(d => [d.participantId, encodeBigInt(d.powerDelta), d.signingKey])
  ])
}

export function decodeCertificate (bytes: Uint8Array): FinalityCertificate {
  if (bytes.length > MAX_CERTIFICATE_BYTES) throw new CertificateError('OVERSIZED', undefined, `${bytes.length} bytes, more than ${MAX_CERTIFICATE_BYTES}`)
  let raw: unknown
  try { raw = dagCbor.decode(bytes) } catch (e) { throw new CertificateError('MALFORMED', undefined, `not CBOR: ${(e as Error).message}`) }
  return certificateFromCbor(raw)
}

/** A certificate from its decoded CBOR value (also what the exchange protocol carries inside its response). */
export function certificateFromCbor (raw: unknown): FinalityCertificate {
  if (!Array.isArray(raw) || raw.length !== 6) throw new CertificateError('MALFORMED', undefined, 'not a 6-field FinalityCertificate')
  const [instance, chain, supplemental, signers, signature, deltas] = raw as unknown[]
  if (typeof instance !== 'number' || !Number.isSafeInteger(instance) || instance < 0) throw new CertificateError('MALFORMED', undefined, 'GPBFTInstance is not an integer')
  const bad = (reason: string): CertificateError => new CertificateError('MALFORMED', instance, reason)
  if (chain !== null && !Array.isArray(chain)) throw bad('ECChain is not an array')
  if (Array.isArray(chain) && chain.length > 8192) throw new CertificateError('OVERSIZED', instance, `ECChain of ${chain.length} tipsets`)
  if (!Array.isArray(supplemental) || supplemental.length !== 2) throw bad('SupplementalData is not [Commitments, PowerTable]')
  const [commitments, powerTable] = supplemental as unknown[]
  const ptCid = CID.asCID(powerTable)
  if (!(commitments instanceof Uint8Array) || commitments.length > 32 || ptCid === null) throw bad('SupplementalData has no 32-byte commitments or no power-table CID')
  if (!(signers instanceof Uint8Array)) throw bad('Signers is not a bitfield')
  if (!(signature instanceof Uint8Array)) throw bad('Signature is not bytes')
  if (signature.length > MAX_SIGNATURE_BYTES) throw new CertificateError('OVERSIZED', instance, `a ${signature.length}-byte signature`)
  if (!Array.isArray(deltas)) throw bad('PowerTableDelta is not an array')
  if (deltas.length > MAX_POWER_TABLE_ENTRIES) throw new CertificateError('OVERSIZED', instance, `a power-table delta of ${deltas.length} entries`)
  return {
    instance,
    ecChain: (chain ?? []).map((t: unknown) => decodeF3TipSet(t, instance)),
    supplementalData: { commitments: padTo32(commitments), powerTable: ptCid },
    signers,
    signature,
    powerTableDelta: deltas.map((d: unknown, i: number) => decodeDelta(d, i, instance))
  }
}

function decodeDelta (d: unknown, i: number, instance: number): PowerTableDelta {
  if (!Array.isArray(d) || d.length !== 3) throw new CertificateError('MALFORMED', instance, `power delta ${i} is not [ParticipantID, PowerDelta, SigningKey]`)
  const [id, delta, key] = d as unknown[]
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) throw new CertificateError('MALFORMED', instance, `power delta ${i} has no participant ID`)
  if (!(delta instanceof Uint8Array) || !(key instanceof Uint8Array)) throw new CertificateError('MALFORMED', instance, `power delta ${i} has a delta or key that is not bytes`)
  if (key.length > MAX_PUBKEY_BYTES) throw new CertificateError('OVERSIZED', instance, `power delta ${i} has a ${key.length}-byte key`)
  return { participantId: id, powerDelta: decodeBigIntOrThrow(delta, `power delta ${i}`, instance), signingKey: key }
}

/**
 * The bytes a certificate's signers signed (go-f3 Payload.MarshalForSigning, DECIDE phase, round 0):
 * "GPBFT:" network ":" ‖ phase (1 byte) ‖ round (u64 BE) ‖ instance (u64 BE) ‖ commitments ‖ chain key ‖ power-table CID.
 * The network name is inside, so a certificate of another network never verifies here.
 */
export function certificateSigningPayload (networkName: string, instance: number, supplemental: SupplementalData, chain: EcChain): Uint8Array {
  const prefix = new TextEncoder().encode(`${GPBFT_DOMAIN}:${networkName}:`)
  const key = ecChainKey(chain)
  const pt = supplemental.powerTable.bytes
  const out = new Uint8Array(prefix.length + 1 + 8 + 8 + 32 + 32 + pt.length)
  const view = new DataView(out.buffer)
  let at = 0
  out.set(prefix, at); at += prefix.length
  out[at] = DECIDE_PHASE; at += 1
  view.setBigUint64(at, 0n); at += 8 // round 0: a decision is always certified at round 0
  view.setBigUint64(at, BigInt(instance)); at += 8
  out.set(supplemental.commitments, at); at += 32
  out.set(key, at); at += 32
  out.set(pt, at)
  return out
}
