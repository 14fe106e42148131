// go-f3's ValidateFinalityCertificates (certs/certs.go), one certificate at a time: the instance that
// follows, a chain that is valid, not empty and starts where the last one ended, signers holding a
// strong quorum (≥ 2/3) of the scaled power of the table in force, their BDN aggregate signature over
// the DECIDE payload of this network, and a power-table delta that yields exactly the table the
// certificate names. A caller keeps the state a certificate returns and feeds it the next one, so a
// chain that turns bad part-way keeps every certificate accepted before it.
import { decodeRlePlus, RlePlusError } from '../rle-plus'
import { BadPublicKeyError, bdnCoefficients, NobleBdnVerifier, type AggregateCheck, type BdnVerifier } from './bdn'
import { certificateSigningPayload, type FinalityCertificate } from './certificate'
import { f3TipSetsEqual, validateEcChain } from './ec-chain'
import { CertificateError } from './finality-errors'
import type { FinalityState } from './finality-state'
import { applyPowerTableDelta, isStrongQuorum, powerTableCid, scalePowerTable, type PowerEntry } from './power-table'

export interface ValidateCertificateOptions {
  /** Who checks the aggregate signature; noble's (with its decoded-key cache shared between calls) when left out. */
  readonly verifier?: BdnVerifier
}

const sharedVerifier = new NobleBdnVerifier()

/** The state after `cert`, or a CertificateError saying by code which rule it broke. */
export function validateFinalityCertificate (state: FinalityState, cert: FinalityCertificate, opts: ValidateCertificateOptions = {}): FinalityState {
  const check = checkBeforeSignature(state, cert)
  verifyCheck(cert.instance, check, opts.verifier ?? sharedVerifier)
  return stateAfter(state, cert)
}

/** go-f3's rules up to the signature: the instance, the chain, its link, the signers and their quorum. */
function checkBeforeSignature (state: FinalityState, cert: FinalityCertificate): AggregateCheck {
  const instance = cert.instance
  if (instance !== state.nextInstance) throw new CertificateError('WRONG_INSTANCE', instance, `expected instance ${state.nextInstance}`)
  validateEcChain(cert.ecChain, instance)
  if (cert.ecChain.length === 0) throw new CertificateError('EMPTY_CHAIN', instance, 'it finalizes no tipset')
  if (state.finalized !== undefined && !f3TipSetsEqual(state.finalized, cert.ecChain[0]!)) {
    throw new CertificateError('UNLINKED', instance, `its chain starts at epoch ${cert.ecChain[0]!.epoch}, not at the tipset of epoch ${state.finalized.epoch} the previous certificate finalized`)
  }
  return signatureCheck(state, cert)
}

/** go-f3's rules after the signature: the power-table delta yields the table the certificate names. */
function stateAfter (state: FinalityState, cert: FinalityCertificate): FinalityState {
  const instance = cert.instance
  const next = applyPowerTableDelta(state.powerTable, cert.powerTableDelta, instance)
  const cid = powerTableCid(next)
  const named = cert.supplementalData.powerTable.toString()
  if (cid.toString() !== named) {
    throw new CertificateError('POWER_TABLE_MISMATCH', instance, `its delta gives power table ${cid.toString()}, it names ${named}`)
  }
  return { network: state.network, nextInstance: instance + 1, powerTable: next, finalized: cert.ecChain[cert.ecChain.length - 1]! }
}

export interface BatchValidation {
  /** The state after the last certificate accepted (the given one when none was). */
  readonly state: FinalityState
  /** How many of the certificates, from the first, were accepted. */
  readonly accepted: number
  /** Why the certificate after them was refused; null when all were accepted. */
  readonly error: CertificateError | null
}

/**
 * Certificates checked by every rule but their signatures, in order: the signature checks to make (one per
 * certificate up to the first that breaks a rule before its signature, that one excluded; a certificate that breaks
 * one after its signature is included, as go-f3 checks its signature first), the state after each certificate whose
 * rules all hold, and the first rule broken (null: none).
 */
export interface PreparedCertificates {
  readonly checks: readonly AggregateCheck[]
  readonly states: readonly FinalityState[]
  readonly error: CertificateError | null
  /** The last check's certificate broke a rule after its signature (its state is not among `states`). */
  readonly failedAfterSignature: boolean
}

/**
 * The power tables are known before any signature is checked (each is the last one with a delta applied), so every
 * check of a run of certificates can be gathered first and checked together, or in parts side by side.
 */
export function prepareCertificateChecks (state: FinalityState, certs: readonly FinalityCertificate[]): PreparedCertificates {
  const checks: AggregateCheck[] = []
  const states: FinalityState[] = []
  let s = state
  for (const cert of certs) {
    try {
      checks.push(checkBeforeSignature(s, cert))
    } catch (e) {
      if (!(e instanceof CertificateError)) throw e
      return { checks, states, error: e, failedAfterSignature: false }
    }
    try {
      s = stateAfter(s, cert)
      states.push(s)
    } catch (e) {
      if (!(e instanceof CertificateError)) throw e
      return { checks, states, error: e, failedAfterSignature: true }
    }
  }
  return { checks, states, error: null, failedAfterSignature: false }
}

/**
 * What `prepared` comes to once its signatures were checked together: `signaturesHold` is the batch's verdict
 * (BdnVerifier.verifyBatch over `prepared.checks`, here or elsewhere). When it is false the checks are redone one at
 * a time by `verifier` to name the first bad one, so a lying peer costs at most a second pass over what it sent.
 */
export function settleCertificateChecks (state: FinalityState, certs: readonly FinalityCertificate[], prepared: PreparedCertificates, signaturesHold: boolean, verifier: BdnVerifier): BatchValidation {
  const { checks, states, error, failedAfterSignature } = prepared
  if (checks.length === 0) return { state, accepted: 0, error }
  if (!signaturesHold) {
    for (const [i, check] of checks.entries()) {
      try { verifyCheck(certs[i]!.instance, check, verifier) } catch (e) {
        return { state: i === 0 ? state : states[i - 1]!, accepted: i, error: e as CertificateError }
      }
    }
  }
  const accepted = failedAfterSignature ? checks.length - 1 : checks.length
  return { state: accepted === 0 ? state : states[accepted - 1]!, accepted, error }
}

/** A batch's signatures together; a key that is no key fails the batch (named by the one-at-a-time pass). */
export function verifyCertificateChecks (checks: readonly AggregateCheck[], verifier: BdnVerifier, weights: readonly bigint[]): boolean {
  if (checks.length === 0) return true
  try { return verifier.verifyBatch(checks, weights) } catch (e) {
    if (!(e instanceof BadPublicKeyError)) throw e
    return false
  }
}

/**
 * The certificates in order, their signatures checked together (BdnVerifier.verifyBatch: one final exponentiation
 * for the lot, about half the cost of one at a time), with what validateFinalityCertificate one at a time would give:
 * the valid prefix and the first certificate's error by go-f3's order of rules. `randomWeights(n)` gives n random
 * 64-bit (or wider) numbers, drawn now.
 */
export function validateFinalityCertificateBatch (state: FinalityState, certs: readonly FinalityCertificate[], verifier: BdnVerifier, randomWeights: (n: number) => bigint[]): BatchValidation {
  const prepared = prepareCertificateChecks(state, certs)
  const hold = prepared.checks.length === 0 || verifyCertificateChecks(prepared.checks, verifier, randomWeights(prepared.checks.length))
  return settleCertificateChecks(state, certs, prepared, hold, verifier)
}

/** Every certificate in turn; the first that breaks a rule throws (use the one-at-a-time form to keep a valid prefix). */
export function validateFinalityCertificates (state: FinalityState, certs: readonly FinalityCertificate[], opts: ValidateCertificateOptions = {}): FinalityState {
  let s = state
  for (const c of certs) s = validateFinalityCertificate(s, c, opts)
  return s
}

/** BDN weights by table: a chain of certificates mostly keeps one table, whose weights (BLAKE2Xs over every key) are drawn once. */
const weights = new WeakMap<readonly PowerEntry[], bigint[]>()
/** The table's keys, one list per table: a batch groups checks of one signer set by it (sameSignerGroups). */
const keyLists = new WeakMap<readonly PowerEntry[], Uint8Array[]>()
function keysOf (table: readonly PowerEntry[]): Uint8Array[] {
  let k = keyLists.get(table)
  if (k === undefined) { k = table.map(e => e.pubKey); keyLists.set(table, k) }
  return k
}
function coefficientsOf (table: readonly PowerEntry[]): bigint[] {
  let c = weights.get(table)
  if (c === undefined) { c = bdnCoefficients(table.map(e => e.pubKey)); weights.set(table, c) }
  return c
}

/** go-f3's verifyFinalityCertificateSignature: quorum of scaled power, then the aggregate signature. */
export function verifyCertificateSignature (state: FinalityState, cert: FinalityCertificate, verifier: BdnVerifier): void {
  verifyCheck(cert.instance, signatureCheck(state, cert), verifier)
}

/** The signers (each in the table, with power once scaled) holding a strong quorum, and what their signature must verify. */
function signatureCheck (state: FinalityState, cert: FinalityCertificate): AggregateCheck {
  const instance = cert.instance
  const table = state.powerTable
  const { scaled, total } = scalePowerTable(table)
  let signers: number[]
  try {
    signers = decodeRlePlus(cert.signers, table.length + 1)
  } catch (e) {
    if (e instanceof RlePlusError) throw new CertificateError(e.message.includes('more than') ? 'BAD_SIGNER' : 'MALFORMED', instance, `signers: ${e.message}`)
    throw e
  }
  let signerPower = 0
  for (const i of signers) {
    if (i >= table.length) throw new CertificateError('BAD_SIGNER', instance, `signer ${i} is not in the power table of ${table.length} entries`)
    if (scaled[i] === 0) throw new CertificateError('BAD_SIGNER', instance, `signer ${table[i]!.id} has no power once scaled`)
    signerPower += scaled[i]!
  }
  if (!isStrongQuorum(signerPower, total)) {
    throw new CertificateError('INSUFFICIENT_POWER', instance, `its signers hold ${signerPower} of ${total} scaled power, less than 2/3`)
  }
  return {
    publicKeys: keysOf(table),
    signers,
    coefficients: coefficientsOf(table),
    message: certificateSigningPayload(state.network, instance, cert.supplementalData, cert.ecChain),
    signature: cert.signature
  }
}

function verifyCheck (instance: number, c: AggregateCheck, verifier: BdnVerifier): void {
  let ok: boolean
  try {
    ok = verifier.verifyAggregate(c.publicKeys, c.signers, c.coefficients, c.message, c.signature)
  } catch (e) {
    if (e instanceof BadPublicKeyError) throw new CertificateError('BAD_SIGNER', instance, `a signer's key: ${e.message}`)
    throw e
  }
  if (!ok) {
    throw new CertificateError('BAD_SIGNATURE', instance, 'the aggregate signature does not verify for its signers on this network')
  }
}
