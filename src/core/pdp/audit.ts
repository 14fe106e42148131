// Spot audits (`/coffer/audit/1.0.0`): the client names leaves of a deal's piece it drew with its own randomness
// and a nonce; the provider answers with a proof of possession for exactly those leaves (the chain's format,
// possession-proof.ts, every answer for piece 0), echoing the nonce. Pure wire codec, leaf drawing and checks.
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { decodePossessionProof, MAX_PATH_LENGTH, type PathCheck } from './possession-proof'
import { pieceRoot } from './proof-set'
import { verifyMerklePath } from './merkle-path'
import { bytesEqual } from '../address'
import { shownValue } from '../errors'

/** Coffer's own protocol: Filecoin has no client-triggered possession check (its proofs are on chain only). */
export const AUDIT_PROTOCOL = '/coffer/audit/1.0.0'
/**
 * Leaves one audit may name. Each costs the provider a segment read (≤ 4 MiB) and hash at worst, so 16 bounds an
 * answer to ~64 MiB of reading; the chance an audit of n leaves misses a 1 % loss of the payload is 0.99^n, so 16
 * already catches it 15 % of the time per audit, and a tab audits many times.
 */
export const MAX_AUDIT_LEAVES = 16
/** Leaves the tab draws per audit unless told otherwise. */
export const DEFAULT_AUDIT_LEAVES = 8
/**
 * A nonce is 16 random bytes, never repeated by chance: an answer must echo it, which ties the answer to this request
 * in the client's bookkeeping. It proves nothing by itself (a provider can copy it onto an old answer); what stops a
 * replayed answer is the leaves, drawn fresh at random for each request, which an old proof does not cover.
 */
export const AUDIT_NONCE_BYTES = 16
/** A request is [dealId, pieceCid, leaves, nonce]: well under 1 KiB for 16 leaves. */
export const MAX_AUDIT_REQUEST_BYTES = 1024
/** An answer of 16 leaves with 40-level paths is ~21 KiB; more than 64 KiB is not an answer. */
export const MAX_AUDIT_REPLY_BYTES = 64 * 1024

export interface AuditRequest {
  dealId: number
  /** The deal's piece CID (v1), as the client's verified deal record names it. */
  pieceCid: CID
  /** Leaf indexes of the piece (32-byte leaves of the padded piece), in the order the answer must follow. */
  leaves: number[]
  nonce: Uint8Array
}

/** Why a provider refused an audit (or, for MALFORMED, why a frame was not the protocol). */
export type AuditRejectCode =
  | 'NOT_FOUND' // no such deal, or the deal is not for that piece
  | 'RANGE' // a leaf outside the piece, or too many leaves
  | 'MALFORMED' // the request (or answer) does not decode
  | 'BUSY' // over the per-peer rate or the provider's concurrency
  | 'LOST' // the provider holds the deal but its bytes no longer prove it
  | 'INTERNAL'

const REJECT_CODES = new Set<string>(['NOT_FOUND', 'RANGE', 'MALFORMED', 'BUSY', 'LOST', 'INTERNAL'])

export type AuditReply =
  | { kind: 'proof', nonce: Uint8Array, proof: Uint8Array }
  | { kind: 'rejected', code: AuditRejectCode, message: string }

/** A provider refused an audit (or a frame broke the protocol: code MALFORMED), with its reason. */
export class AuditRejectedError extends Error {
  static override name = 'AuditRejectedError'
  override name = 'AuditRejectedError'
  constructor (readonly code: AuditRejectCode, message: string) { super(message) }
}

/** Why an answer failed its check: each is the provider's fault, never the network's. */
export type AuditFailure =
  | 'BAD_PATH' // a leaf and its path do not hash to the deal's piece CID
  | 'WRONG_LEAVES' // answers for other leaves than asked, or another count
  | 'WRONG_NONCE' // an answer made for another request (a replayed old answer)
  | 'MALFORMED' // the answer does not decode as the proof format

export class AuditFailedError extends Error {
  static override name = 'AuditFailedError'
  override name = 'AuditFailedError'
  constructor (readonly code: AuditFailure, message: string) { super(message) }
}

const uint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0

/**
 * Strict DAG-CBOR: a value that does not re-encode to the same bytes (non-canonical lengths, map order, floats for
 * integers) is refused, so one request or answer has exactly one encoding.
 */
function strictDecode (bytes: Uint8Array, what: string): unknown {
  let raw: unknown
  try { raw = dagCbor.decode(bytes) } catch (err) { throw new AuditRejectedError('MALFORMED', `${what} is not DAG-CBOR: ${(err as Error).message}`) }
  let again: Uint8Array
  try { again = dagCbor.encode(raw) } catch { throw new AuditRejectedError('MALFORMED', `${what} holds values DAG-CBOR cannot encode`) }
  if (!bytesEqual(again, bytes)) throw new AuditRejectedError('MALFORMED', `${what} is not canonical DAG-CBOR`)
  return raw
}

/** Checks a request's shape and bounds (not whether the leaves fit the piece: only the piece's size says that). */
function checkRequest (r: AuditRequest): void {
  if (!uint(r.dealId)) throw new AuditRejectedError('MALFORMED', `deal ID ${shownValue(r.dealId)} is not an unsigned integer`)
  if (r.nonce.length !== AUDIT_NONCE_BYTES) throw new AuditRejectedError('MALFORMED', `the nonce is ${r.nonce.length} bytes, not ${AUDIT_NONCE_BYTES}`)
  if (r.leaves.length === 0 || r.leaves.length > MAX_AUDIT_LEAVES) throw new AuditRejectedError('RANGE', `an audit names 1..${MAX_AUDIT_LEAVES} leaves, not ${r.leaves.length}`)
  // a leaf index beyond 2^40 cannot be in any piece a path of MAX_PATH_LENGTH reaches
  if (!r.leaves.every(l => uint(l) && l < 2 ** MAX_PATH_LENGTH)) throw new AuditRejectedError('RANGE', 'a leaf index is not an unsigned integer below 2^40')
}

export function encodeAuditRequest (r: AuditRequest): Uint8Array {
  checkRequest(r)
  return dagCbor.encode([r.dealId, r.pieceCid, r.leaves, r.nonce])
}

export function decodeAuditRequest (bytes: Uint8Array): AuditRequest {
  if (bytes.length > MAX_AUDIT_REQUEST_BYTES) throw new AuditRejectedError('MALFORMED', `a request of ${bytes.length} bytes is over ${MAX_AUDIT_REQUEST_BYTES}`)
  const raw = strictDecode(bytes, 'the audit request')
  const [dealId, cid, leaves, nonce] = Array.isArray(raw) && raw.length === 4 ? raw as unknown[] : []
  const pieceCid = CID.asCID(cid)
  if (!uint(dealId) || pieceCid === null || !Array.isArray(leaves) || !(nonce instanceof Uint8Array)) {
    throw new AuditRejectedError('MALFORMED', 'an audit request is [dealId, pieceCid, [leaf…], nonce]')
  }
  if (!leaves.every(uint)) throw new AuditRejectedError('MALFORMED', 'leaves are unsigned integers')
  const r = { dealId, pieceCid, leaves, nonce }
  checkRequest(r)
  return r
}

export function encodeAuditReply (r: AuditReply): Uint8Array {
  return r.kind === 'proof' ? dagCbor.encode(['proof', r.nonce, r.proof]) : dagCbor.encode(['rejected', r.code, r.message.slice(0, 500)])
}

export function decodeAuditReply (bytes: Uint8Array): AuditReply {
  if (bytes.length > MAX_AUDIT_REPLY_BYTES) throw new AuditRejectedError('MALFORMED', `an answer of ${bytes.length} bytes is over ${MAX_AUDIT_REPLY_BYTES}`)
  const raw = strictDecode(bytes, 'the audit answer')
  const [kind, a, b] = Array.isArray(raw) && raw.length === 3 ? raw as unknown[] : []
  if (kind === 'proof' && a instanceof Uint8Array && b instanceof Uint8Array) return { kind, nonce: a, proof: b }
  if (kind === 'rejected' && typeof a === 'string' && REJECT_CODES.has(a) && typeof b === 'string' && b.length <= 500) return { kind, code: a as AuditRejectCode, message: b }
  throw new AuditRejectedError('MALFORMED', 'an audit answer is [\'proof\', nonce, proof] or [\'rejected\', code, message]')
}

/**
 * Leaves of a piece's payload holding the client's bytes: FR32 turns each 127 payload bytes into 128 (four leaves),
 * and what follows is zero padding, which tests nothing (anyone can answer for it), so audits draw only below this.
 */
export function payloadLeafCount (payloadBytes: number, paddedBytes: number): number {
  if (!uint(payloadBytes) || payloadBytes === 0) throw new RangeError('a payload has at least one byte')
  return Math.min(paddedBytes / 32, Math.ceil(payloadBytes / 127) * 4)
}

/** Random bytes drawAuditLeaves needs for `count` leaves. */
export const auditRandomBytes = (count: number): number => 8 * count

/**
 * `count` leaf indexes below `leafCount`, from `random` (auditRandomBytes(count) bytes the caller drew: the tab's
 * crypto.getRandomValues, a test's chosen bytes). Each is a big-endian u64 mod leafCount: with leafCount ≤ 2^40 the
 * modulo bias is below 2^-24, nothing a provider can use.
 */
export function drawAuditLeaves (random: Uint8Array, leafCount: number, count: number): number[] {
  if (!uint(count) || count < 1 || count > MAX_AUDIT_LEAVES) throw new RangeError(`an audit draws 1..${MAX_AUDIT_LEAVES} leaves, not ${count}`)
  if (!uint(leafCount) || leafCount < 1 || leafCount > 2 ** MAX_PATH_LENGTH) throw new RangeError(`a piece of ${leafCount} leaves cannot be audited`)
  if (random.length < auditRandomBytes(count)) throw new RangeError(`${count} leaves need ${auditRandomBytes(count)} random bytes, got ${random.length}`)
  const view = new DataView(random.buffer, random.byteOffset, random.byteLength)
  return Array.from({ length: count }, (_, i) => Number(view.getBigUint64(8 * i) % BigInt(leafCount)))
}

/** The answer was made for this request: its nonce is the request's. Checked before any hashing. */
export function checkAuditNonce (req: AuditRequest, answerNonce: Uint8Array): void {
  if (!bytesEqual(req.nonce, answerNonce)) throw new AuditFailedError('WRONG_NONCE', 'the answer carries another request\'s nonce (a replayed or misrouted answer)')
}

/**
 * Throws AuditFailedError unless `proofBytes` (the chain's proof format) answers exactly `leaves`, in order, for
 * piece 0, each leaf's path hashing to `pieceCid`'s root in a tree of `paddedBytes`. `pieceCid` and `paddedBytes`
 * must come from the client's verified deal record, never from the provider. `check` is the WASM verifier's in the tab.
 */
export function verifyAuditProof (pieceCid: CID, paddedBytes: number, leaves: number[], proofBytes: Uint8Array, check: PathCheck = verifyMerklePath): void {
  const root = pieceRoot({ pieceCid, paddedBytes })
  let answers
  try { answers = decodePossessionProof(proofBytes) } catch (err) { throw new AuditFailedError('MALFORMED', (err as Error).message) }
  if (answers.length !== leaves.length) throw new AuditFailedError('WRONG_LEAVES', `${answers.length} answers for ${leaves.length} leaves`)
  const height = Math.log2(paddedBytes / 32)
  answers.forEach((a, i) => {
    if (a.piece !== 0 || a.leaf !== leaves[i]) throw new AuditFailedError('WRONG_LEAVES', `answer ${i} is for piece ${a.piece} leaf ${a.leaf}; leaf ${leaves[i]!} of piece 0 was asked`)
    if (a.path.length !== height) throw new AuditFailedError('BAD_PATH', `answer ${i}: a path of ${a.path.length} levels for a tree of ${height}`)
    if (!check(root, a.leaf, a.value, a.path)) throw new AuditFailedError('BAD_PATH', `answer ${i}: leaf ${a.leaf} and its path do not hash to the deal's piece ${String(pieceCid)}`)
  })
}
