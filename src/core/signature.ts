// Filecoin's Signature on the wire is one byte string: a type byte (1 secp256k1, 2 BLS) then the data.
// BLS is Filecoin's min-pk scheme: 48-byte G1 public keys, 96-byte G2 signatures, hash-to-G2 with the
// `..._NUL_` DST that @noble/curves uses by default for longSignatures.
// secp256k1 is Filecoin's (go-crypto / Lotus sigs/secp): ECDSA over blake2b-256 of the signed bytes,
// 65 bytes r ‖ s ‖ recovery id, checked by recovering the key and comparing its f1 address.
import { bls12_381 } from '@noble/curves/bls12-381.js'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { blake2b } from '@noble/hashes/blake2.js'

export const SIG_TYPE_SECP256K1 = 1
export const SIG_TYPE_BLS = 2

export interface Signature { type: number, data: Uint8Array }

const bls = bls12_381.longSignatures

export function encodeSignature (sig: Signature): Uint8Array {
  const out = new Uint8Array(1 + sig.data.length)
  out[0] = sig.type
  out.set(sig.data, 1)
  return out
}

/** Signature bytes with no type byte. A RangeError still, as callers have long caught it. */
export class EmptySignatureError extends RangeError {
  static override name = 'EmptySignatureError'
  override name = 'EmptySignatureError'
}

export function decodeSignature (bytes: Uint8Array): Signature {
  if (bytes.length < 1) throw new EmptySignatureError('empty signature')
  return { type: bytes[0]!, data: bytes.slice(1) }
}

export function blsPublicKey (secretKey: Uint8Array): Uint8Array {
  return bls.getPublicKey(secretKey).toBytes(true)
}

export function blsSign (secretKey: Uint8Array, message: Uint8Array): Signature {
  return { type: SIG_TYPE_BLS, data: bls.sign(bls.hash(message), secretKey).toBytes(true) }
}

/**
 * Makes a BLS signature's 96 bytes (Filecoin's scheme: the same bytes for the same key and message, whoever makes
 * them). A miner signs three a block it wins and one each epoch it tries; a node may pass a faster one than noble's
 * (core/finality/mcl-bls.ts mclBlsSigner).
 */
export type BlsSigner = (secretKey: Uint8Array, message: Uint8Array) => Uint8Array

/** noble's: the signer core uses when given none. */
export const nobleBlsSigner: BlsSigner = (secretKey, message) => blsSign(secretKey, message).data

/** False (never a throw) for any malformed key or signature: callers turn it into their own named error. */
export function blsVerify (publicKey: Uint8Array, message: Uint8Array, sig: Signature): boolean {
  if (sig.type !== SIG_TYPE_BLS || sig.data.length !== 96 || publicKey.length !== 48) return false
  try {
    return bls.verify(sig.data, bls.hash(message), publicKey)
  } catch {
    return false
  }
}

export function blsAggregate (sigs: Signature[]): Signature {
  return { type: SIG_TYPE_BLS, data: bls.aggregateSignatures(sigs.map(s => s.data)).toBytes(true) }
}

/**
 * True when `sig` is the aggregate of each key signing its own message (Filecoin's BLSAggregate check).
 * Repeated messages are refused, as filecoin-ffi's bls-signatures `verify` refuses them (the IETF draft's
 * rogue-key countermeasure); noble's verifyBatch alone would accept a block listing one message twice.
 */
export function blsVerifyAggregate (publicKeys: Uint8Array[], messages: Uint8Array[], sig: Signature): boolean {
  if (sig.type !== SIG_TYPE_BLS || sig.data.length !== 96 || publicKeys.length !== messages.length) return false
  if (new Set(messages.map(m => m.join())).size !== messages.length) return false
  try {
    return bls.verifyBatch(sig.data, messages.map((m, i) => ({ message: bls.hash(m), publicKey: publicKeys[i]! })))
  } catch {
    return false
  }
}

/** Uncompressed (65-byte) public key: Filecoin hashes this form into f1 addresses. */
export function secpPublicKey (secretKey: Uint8Array): Uint8Array {
  return secp256k1.getPublicKey(secretKey, false)
}

export function secpSign (secretKey: Uint8Array, message: Uint8Array): Signature {
  // noble's 'recovered' layout is v ‖ r ‖ s; Filecoin's is r ‖ s ‖ v
  const rec = secp256k1.sign(blake2b(message, { dkLen: 32 }), secretKey, { prehash: false, format: 'recovered' })
  const data = new Uint8Array(65)
  data.set(rec.subarray(1), 0)
  data[64] = rec[0]!
  return { type: SIG_TYPE_SECP256K1, data }
}

/** The uncompressed key that produced `sig` over `message`, or null if there is none. */
export function secpRecover (message: Uint8Array, sig: Signature): Uint8Array | null {
  if (sig.type !== SIG_TYPE_SECP256K1 || sig.data.length !== 65 || sig.data[64]! > 3) return null
  const rec = new Uint8Array(65)
  rec[0] = sig.data[64]!
  rec.set(sig.data.subarray(0, 64), 1)
  try {
    return secp256k1.Signature.fromBytes(rec, 'recovered').recoverPublicKey(blake2b(message, { dkLen: 32 })).toBytes(false)
  } catch {
    return null
  }
}

const SECP_HALF_ORDER = secp256k1.Point.CURVE().n >> 1n

/**
 * Whether a secp256k1 signature is in low-S form. Filecoin's consensus accepts both forms, so anyone
 * relaying a message can flip s to n − s and give it a second CID; pools refuse the high form.
 */
export function isLowS (sig: Signature): boolean {
  if (sig.type !== SIG_TYPE_SECP256K1 || sig.data.length !== 65) return false
  let s = 0n
  for (let i = 32; i < 64; i++) s = (s << 8n) | BigInt(sig.data[i]!)
  return s <= SECP_HALF_ORDER
}
