// Filecoin's Signature on the wire is one byte string: a type byte (1 secp256k1, 2 BLS) then the data.
// Only BLS exists here so far (block signatures); secp256k1 arrives with messages (issue 3).
// BLS is Filecoin's min-pk scheme: 48-byte G1 public keys, 96-byte G2 signatures, hash-to-G2 with the
// `..._NUL_` DST that @noble/curves uses by default for longSignatures.
import { bls12_381 } from '@noble/curves/bls12-381.js'

export const SIG_TYPE_BLS = 2

export interface Signature { type: number, data: Uint8Array }

const bls = bls12_381.longSignatures

export function encodeSignature (sig: Signature): Uint8Array {
  const out = new Uint8Array(1 + sig.data.length)
  out[0] = sig.type
  out.set(sig.data, 1)
  return out
}

export function decodeSignature (bytes: Uint8Array): Signature {
  if (bytes.length < 1) throw new RangeError('empty signature')
  return { type: bytes[0]!, data: bytes.slice(1) }
}

export function blsPublicKey (secretKey: Uint8Array): Uint8Array {
  return bls.getPublicKey(secretKey).toBytes(true)
}

export function blsSign (secretKey: Uint8Array, message: Uint8Array): Signature {
  return { type: SIG_TYPE_BLS, data: bls.sign(bls.hash(message), secretKey).toBytes(true) }
}

/** False (never a throw) for any malformed key or signature: callers turn it into their own named error. */
export function blsVerify (publicKey: Uint8Array, message: Uint8Array, sig: Signature): boolean {
  if (sig.type !== SIG_TYPE_BLS || sig.data.length !== 96 || publicKey.length !== 48) return false
  try {
    return bls.verify(sig.data, bls.hash(message), publicKey)
  } catch {
    return false
  }
}
