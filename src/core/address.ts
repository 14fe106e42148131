// Filecoin addresses: protocol byte + payload on the wire; `<net><protocol><payload>` as text, where ID
// payloads are decimal and key payloads are base32 (RFC 4648, lowercase, unpadded) of payload ‖ blake2b-4
// checksum over protocol ‖ payload. The devnet is a test network, so its addresses print with `t`.
import { blake2b } from '@noble/hashes/blake2.js'
import { base32 } from 'multiformats/bases/base32'
import { varint } from 'multiformats'

export type Network = 'f' | 't'
export const enum Protocol { ID = 0, SECP256K1 = 1, ACTOR = 2, BLS = 3 }

export class InvalidAddressError extends Error {
  static override name = 'InvalidAddressError'
  override name = 'InvalidAddressError'
}

export function idAddressBytes (id: bigint | number): Uint8Array {
  const n = Number(id)
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError('actor id must be a non-negative safe integer')
  const v = varint.encodeTo(n, new Uint8Array(varint.encodingLength(n)))
  return Uint8Array.of(Protocol.ID, ...v)
}

function checksum (bytes: Uint8Array): Uint8Array {
  return blake2b(bytes, { dkLen: 4 })
}

export function addressToString (bytes: Uint8Array, network: Network = 't'): string {
  const protocol = bytes[0]
  const payload = bytes.subarray(1)
  if (protocol === Protocol.ID) {
    const [id, read] = varint.decode(payload)
    if (read !== payload.length) throw new InvalidAddressError('trailing bytes after ID address')
    return `${network}0${id}`
  }
  if (protocol === Protocol.SECP256K1 || protocol === Protocol.ACTOR || protocol === Protocol.BLS) {
    const body = new Uint8Array(payload.length + 4)
    body.set(payload)
    body.set(checksum(bytes), payload.length)
    return `${network}${protocol}${base32.baseEncode(body)}`
  }
  throw new InvalidAddressError(`unknown address protocol ${protocol}`)
}
