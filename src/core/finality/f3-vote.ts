// One participant's signature of an instance's value, as Coffer's providers gossip it (the DECIDE message
// of go-f3's GPBFT, reduced to what a certificate needs): who signed, the instance, the chain, the
// supplemental data, and the participant's BLS signature over go-f3's signing payload. A tally of these
// per instance yields the certificate once one value holds a strong quorum.
import * as dagCbor from '@ipld/dag-cbor'
import { bytesToHex } from '@noble/hashes/utils.js'
import { CID } from '../cid'
import { certificateSigningPayload, type FinalityCertificate, type SupplementalData } from './certificate'
import { decodeF3TipSet, encodeF3TipSetFields, padTo32, EC_CHAIN_MAX_LENGTH, type EcChain } from './ec-chain'
import { CertificateError } from './finality-errors'
import { BadPublicKeyError, bdnAggregateSignatures, NobleBdnVerifier, type F3Bls } from './bdn'
import { encodeRlePlus } from '../rle-plus'
import { isStrongQuorum, makePowerTableDelta, scalePowerTable, type PowerEntry } from './power-table'
import { validateEcChain } from './ec-chain'

export interface F3Vote {
  /** The signer's miner actor ID. */
  readonly sender: number
  readonly instance: number
  readonly ecChain: EcChain
  readonly supplementalData: SupplementalData
  readonly signature: Uint8Array
}

/** A vote is a few hundred bytes; a chain of the most tipsets go-f3 allows stays under this. */
export const MAX_F3_VOTE_BYTES = 128 * 1024

export function encodeF3Vote (v: F3Vote): Uint8Array {
  return dagCbor.encode([v.sender, v.instance, v.ecChain.map(encodeF3TipSetFields), [v.supplementalData.commitments, v.supplementalData.powerTable], v.signature])
}

export function decodeF3Vote (bytes: Uint8Array): F3Vote {
  if (bytes.length > MAX_F3_VOTE_BYTES) throw new CertificateError('OVERSIZED', undefined, `a ${bytes.length}-byte vote`)
  let raw: unknown
  try { raw = dagCbor.decode(bytes) } catch (e) { throw new CertificateError('MALFORMED', undefined, `vote is not CBOR: ${(e as Error).message}`) }
  if (!Array.isArray(raw) || raw.length !== 5) throw new CertificateError('MALFORMED', undefined, 'a vote is not [Sender, Instance, ECChain, SupplementalData, Signature]')
  const [sender, instance, chain, supplemental, signature] = raw as unknown[]
  if (typeof sender !== 'number' || !Number.isSafeInteger(sender) || sender < 0 || typeof instance !== 'number' || !Number.isSafeInteger(instance) || instance < 0) {
    throw new CertificateError('MALFORMED', undefined, 'a vote\'s sender or instance is not an integer')
  }
  if (!Array.isArray(chain) || chain.length > EC_CHAIN_MAX_LENGTH) throw new CertificateError('MALFORMED', instance, 'a vote\'s chain is not a list of at most 128 tipsets')
  const [commitments, powerTable] = Array.isArray(supplemental) ? supplemental as unknown[] : []
  const pt = CID.asCID(powerTable)
  if (!(commitments instanceof Uint8Array) || commitments.length > 32 || pt === null) throw new CertificateError('MALFORMED', instance, 'a vote\'s supplemental data is not [Commitments, PowerTable]')
  if (!(signature instanceof Uint8Array) || signature.length !== 96) throw new CertificateError('MALFORMED', instance, 'a vote\'s signature is not 96 bytes')
  return { sender, instance, ecChain: chain.map(t => decodeF3TipSet(t, instance)), supplementalData: { commitments: padTo32(commitments), powerTable: pt }, signature }
}

/**
 * The votes of one instance, against the power table that validates it. `add` checks a vote (a sender of
 * the table, a signature of this network's payload) and returns the certificate once one value's signers
 * hold a strong quorum. A sender's first vote counts; a second one for another value is an equivocation,
 * reported and not counted.
 */
export class F3VoteTally {
  private readonly scaled: readonly number[]
  private readonly total: number
  private readonly indexOf = new Map<number, number>()
  private readonly votedFor = new Map<number, string>()
  private readonly values = new Map<string, { vote: F3Vote, signatures: Map<number, Uint8Array>, power: number }>()
  private done: FinalityCertificate | null = null

  constructor (
    readonly network: string,
    readonly instance: number,
    readonly powerTable: readonly PowerEntry[],
    /** The next instance's table for a value, so the certificate carries its delta; null when the value names a table this node cannot read. */
    private readonly nextTableOf: (supplemental: SupplementalData, chain: EcChain) => readonly PowerEntry[] | null,
    /** The BLS library that checks votes and sums their signatures: noble's unless the node loaded a faster one. */
    private readonly bls: F3Bls = new NobleBdnVerifier()
  ) {
    const s = scalePowerTable(powerTable)
    this.scaled = s.scaled
    this.total = s.total
    powerTable.forEach((e, i) => this.indexOf.set(e.id, i))
  }

  get certificate (): FinalityCertificate | null { return this.done }

  /** Checks and counts `v`; the certificate when this vote completed a quorum, else null. Throws CertificateError for a bad vote. */
  add (v: F3Vote): FinalityCertificate | null {
    if (v.instance !== this.instance) throw new CertificateError('WRONG_INSTANCE', v.instance, `this tally counts instance ${this.instance}`)
    const index = this.indexOf.get(v.sender)
    if (index === undefined || this.scaled[index] === 0) throw new CertificateError('BAD_SIGNER', v.instance, `f0${v.sender} holds no power in this instance's table`)
    validateEcChain(v.ecChain, v.instance)
    if (v.ecChain.length === 0) throw new CertificateError('EMPTY_CHAIN', v.instance, 'a vote for no tipset')
    const payload = certificateSigningPayload(this.network, v.instance, v.supplementalData, v.ecChain)
    let ok: boolean
    try {
      ok = this.bls.verifyOne(this.powerTable[index]!.pubKey, payload, v.signature)
    } catch (e) {
      if (e instanceof BadPublicKeyError) throw new CertificateError('BAD_SIGNER', v.instance, e.message)
      ok = false
    }
    if (!ok) throw new CertificateError('BAD_SIGNATURE', v.instance, `f0${v.sender}'s vote does not verify`)
    const key = bytesToHex(payload)
    const earlier = this.votedFor.get(v.sender)
    if (earlier !== undefined && earlier !== key) throw new F3EquivocationError(v.sender, v.instance)
    if (earlier === key || this.done !== null) return null
    this.votedFor.set(v.sender, key)
    let value = this.values.get(key)
    if (value === undefined) { value = { vote: v, signatures: new Map(), power: 0 }; this.values.set(key, value) }
    value.signatures.set(index, v.signature)
    value.power += this.scaled[index]!
    if (!isStrongQuorum(value.power, this.total)) return null
    const next = this.nextTableOf(v.supplementalData, v.ecChain)
    if (next === null) return null
    const signers = [...value.signatures.keys()].sort((a, b) => a - b)
    this.done = {
      instance: this.instance,
      ecChain: value.vote.ecChain,
      supplementalData: value.vote.supplementalData,
      signers: encodeRlePlus(signers),
      signature: bdnAggregateSignatures(this.powerTable.map(e => e.pubKey), signers, signers.map(i => value.signatures.get(i)!), this.bls),
      powerTableDelta: makePowerTableDelta(this.powerTable, next)
    }
    return this.done
  }
}

/** A participant signed two different values in one instance: what GPBFT's safety bound counts against. */
export class F3EquivocationError extends Error {
  static override name = 'F3EquivocationError'
  override name = 'F3EquivocationError'
  constructor (readonly sender: number, readonly instance: number) { super(`f0${sender} signed two different values for instance ${instance}`) }
}
