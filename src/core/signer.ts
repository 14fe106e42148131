// Signing as an address and checking a signature against an address, as Filecoin does for anything a key
// address signs (messages, deal proposals, vouchers): f1 by recovering the secp256k1 key and comparing its
// address, f3 by BLS verification with the key the address is.
import { Protocol, secpAddressBytes, blsAddressBytes, bytesEqual } from './address'
import {
  secpSign, secpRecover, secpPublicKey, blsSign, blsVerify, blsPublicKey, SIG_TYPE_BLS, SIG_TYPE_SECP256K1, type Signature
} from './signature'

/** Signs `data` with `secretKey`, which must be the key of `address` (f1 or f3); else a RangeError. */
export function signAs (secretKey: Uint8Array, address: Uint8Array, data: Uint8Array): Signature {
  if (address[0] === Protocol.SECP256K1) {
    if (!bytesEqual(secpAddressBytes(secpPublicKey(secretKey)), address)) throw new RangeError('key does not match the signing address')
    return secpSign(secretKey, data)
  }
  if (address[0] === Protocol.BLS) {
    if (!bytesEqual(blsAddressBytes(blsPublicKey(secretKey)), address)) throw new RangeError('key does not match the signing address')
    return blsSign(secretKey, data)
  }
  throw new RangeError('only f1 and f3 addresses can sign')
}

/** True only when `sig` is `address`'s key signing `data` (never throws on malformed input). */
export function signedBy (address: Uint8Array, data: Uint8Array, sig: Signature): boolean {
  if (address[0] === Protocol.SECP256K1 && sig.type === SIG_TYPE_SECP256K1) {
    const key = secpRecover(data, sig)
    return key !== null && bytesEqual(secpAddressBytes(key), address)
  }
  if (address[0] === Protocol.BLS && sig.type === SIG_TYPE_BLS) return blsVerify(address.subarray(1), data, sig)
  return false
}
