// Filecoin's SignedVoucher (builtin-actors actors/paych/src/types.rs, go-state-types paych): the 11-field
// tuple [ChannelAddr, TimeLockMin, TimeLockMax, SecretHash, Extra, Lane, Nonce, Amount, MinSettleHeight,
// Merges, Signature], Extra [Actor, Method, Data] or null, Merges [[Lane, Nonce]…]. The channel's From
// signs the same tuple with Signature = null, as Lotus's paychmgr does (secp256k1 over its blake2b-256,
// BLS over the bytes), so a voucher written here is one `lotus paych voucher check` reads.
import * as dagCbor from '@ipld/dag-cbor'
import { encodeBigInt, decodeBigInt } from '../token'
import { validateAddressBytes } from '../address'
import { encodeSignature, decodeSignature, SIG_TYPE_BLS, SIG_TYPE_SECP256K1, type Signature } from '../signature'
import { signAs, signedBy } from '../signer'
import type { AttoFil, Epoch } from '../units'

/** builtin-actors ModVerifyParams: an actor method that must accept `data` before the voucher redeems. */
export interface ModVerifyParams { actor: Uint8Array, method: number, data: Uint8Array }
/** Lanes merged into the voucher's lane, each at a nonce above the one it holds. */
export interface Merge { lane: number, nonce: number }

export interface SignedVoucher {
  /** The channel, by its f0 or f2 address. */
  channelAddr: Uint8Array
  /** Earliest epoch at which it redeems. */
  timeLockMin: Epoch
  /** Last epoch at which it redeems; 0 = no limit. */
  timeLockMax: Epoch
  /** blake2b-256 of a secret the redeemer must show (Filecoin's SecretHash / secret_pre_image); empty = none. */
  secretHash: Uint8Array
  extra: ModVerifyParams | null
  lane: number
  nonce: number
  /** Cumulative: the lane's total, not an increment. */
  amount: AttoFil
  minSettleHeight: Epoch
  merges: Merge[]
  signature: Signature | null
}

/** Vouchers arrive from peers: a voucher that large is no honest one (a merge is ~10 bytes). */
export const MAX_VOUCHER_BYTES = 4096

export type MalformedVoucherCode = 'FORMAT' | 'RANGE'

/**
 * Bytes that are not a SignedVoucher. 'RANGE': a well-formed integer beyond what Coffer holds (lanes and
 * nonces are JS numbers, so at most 2^53 − 1, where Filecoin takes u64); 'FORMAT': anything else.
 */
export class MalformedVoucherError extends Error {
  static override name = 'MalformedVoucherError'
  override name = 'MalformedVoucherError'
  constructor (readonly code: MalformedVoucherCode, readonly field: string, message: string) { super(`voucher ${field}: ${message}`) }
}

function tuple (v: SignedVoucher, signature: Uint8Array | null): unknown[] {
  return [
    v.channelAddr, v.timeLockMin, v.timeLockMax, v.secretHash,
    v.extra === null ? null : [v.extra.actor, v.extra.method, v.extra.data],
    v.lane, v.nonce, encodeBigInt(v.amount), v.minSettleHeight,
    v.merges.map(m => [m.lane, m.nonce]), signature
  ]
}

/** The voucher as the CBOR tuple it is inside other structures (UpdateChannelStateParams). */
export const signedVoucherTuple = (v: SignedVoucher): unknown[] => tuple(v, v.signature === null ? null : encodeSignature(v.signature))

export const encodeSignedVoucher = (v: SignedVoucher): Uint8Array => dagCbor.encode(signedVoucherTuple(v))

/** What From signs: the tuple with Signature = null (builtin-actors SignedVoucher::signing_bytes). */
export const voucherSigningBytes = (v: SignedVoucher): Uint8Array => dagCbor.encode(tuple(v, null))

const bad = (field: string, message: string): never => { throw new MalformedVoucherError('FORMAT', field, message) }

function int (v: unknown, field: string, unsigned: boolean): number {
  if (typeof v === 'bigint') {
    if (unsigned && v < 0n) bad(field, 'is negative')
    throw new MalformedVoucherError('RANGE', field, `${v} is beyond ${Number.MAX_SAFE_INTEGER}, the largest Coffer handles`)
  }
  if (typeof v !== 'number' || !Number.isInteger(v)) return bad(field, 'is not an integer')
  if (unsigned && v < 0) bad(field, 'is negative')
  return v
}

function addr (v: unknown, field: string): Uint8Array {
  if (!(v instanceof Uint8Array)) return bad(field, 'is not bytes')
  try { return validateAddressBytes(v) } catch (err) { return bad(field, (err as Error).message) }
}

export function signedVoucherFromTuple (raw: unknown): SignedVoucher {
  if (!Array.isArray(raw) || raw.length !== 11) return bad('', 'is not an 11-field tuple')
  const [channel, tlMin, tlMax, secret, extra, lane, nonce, amount, msh, merges, sig] = raw as unknown[]
  if (!(secret instanceof Uint8Array)) bad('SecretHash', 'is not bytes')
  let ex: ModVerifyParams | null = null
  if (extra !== null) {
    if (!Array.isArray(extra) || extra.length !== 3 || !(extra[2] instanceof Uint8Array)) return bad('Extra', 'is not [Actor, Method, Data] or null')
    ex = { actor: addr(extra[0], 'Extra.Actor'), method: int(extra[1], 'Extra.Method', true), data: extra[2] }
  }
  if (!(amount instanceof Uint8Array)) bad('Amount', 'is not a big int')
  let value: bigint
  try { value = decodeBigInt(amount as Uint8Array) } catch (err) { return bad('Amount', (err as Error).message) }
  if (!Array.isArray(merges)) bad('Merges', 'is not a list')
  const ms = (merges as unknown[]).map((m, i): Merge => {
    if (!Array.isArray(m) || m.length !== 2) return bad(`Merges[${i}]`, 'is not [Lane, Nonce]')
    return { lane: int(m[0], `Merges[${i}].Lane`, true), nonce: int(m[1], `Merges[${i}].Nonce`, true) }
  })
  let signature: Signature | null = null
  if (sig !== null) {
    if (!(sig instanceof Uint8Array) || sig.length < 1) return bad('Signature', 'is not a signature')
    signature = decodeSignature(sig)
    if (signature.type !== SIG_TYPE_SECP256K1 && signature.type !== SIG_TYPE_BLS) bad('Signature', `has unknown type ${signature.type}`)
  }
  return {
    channelAddr: addr(channel, 'ChannelAddr'),
    timeLockMin: int(tlMin, 'TimeLockMin', false),
    timeLockMax: int(tlMax, 'TimeLockMax', false),
    secretHash: secret as Uint8Array,
    extra: ex,
    lane: int(lane, 'Lane', true),
    nonce: int(nonce, 'Nonce', true),
    amount: value,
    minSettleHeight: int(msh, 'MinSettleHeight', false),
    merges: ms,
    signature
  }
}

/**
 * Decodes a SignedVoucher strictly: exactly its canonical encoding (what `encodeSignedVoucher` writes back),
 * so one voucher never travels under two byte strings. Throws MalformedVoucherError.
 */
export function decodeSignedVoucher (bytes: Uint8Array): SignedVoucher {
  if (bytes.length > MAX_VOUCHER_BYTES) bad('', `is ${bytes.length} bytes, more than ${MAX_VOUCHER_BYTES}`)
  let raw: unknown
  try { raw = dagCbor.decode(bytes) } catch (err) { return bad('', `is not DAG-CBOR: ${(err as Error).message}`) }
  const v = signedVoucherFromTuple(raw)
  const again = encodeSignedVoucher(v)
  if (again.length !== bytes.length || again.some((b, i) => b !== bytes[i])) bad('', 'is not in canonical form')
  return v
}

/** Signs `voucher` as `fromAddress` (the channel's From, f1 or f3) whose key is `privateKey`. */
export function signVoucher (privateKey: Uint8Array, fromAddress: Uint8Array, voucher: SignedVoucher): SignedVoucher {
  return { ...voucher, signature: signAs(privateKey, fromAddress, voucherSigningBytes(voucher)) }
}

/** True only when the voucher carries `signer`'s signature over its signing bytes (never throws). */
export function verifyVoucherSignature (voucher: SignedVoucher, signer: Uint8Array): boolean {
  return voucher.signature !== null && signedBy(signer, voucherSigningBytes(voucher), voucher.signature)
}
