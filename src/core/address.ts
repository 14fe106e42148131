// Filecoin addresses: protocol byte + payload on the wire; `<net><protocol><payload>` as text, where ID
// payloads are decimal and key payloads are base32 (RFC 4648, lowercase, unpadded) of payload ‖ blake2b-4
// checksum over protocol ‖ payload. Delegated (f4) addresses put the namespace (decimal) and an `f`
// before the base32 part. The devnet is a test network, so its addresses print with `t`.
import { blake2b } from '@noble/hashes/blake2.js'
import { base32 } from 'multiformats/bases/base32'

export type Network = 'f' | 't'
export const enum Protocol { ID = 0, SECP256K1 = 1, ACTOR = 2, BLS = 3, DELEGATED = 4 }

export type InvalidAddressCode = 'NETWORK' | 'PROTOCOL' | 'PAYLOAD' | 'CHECKSUM'

export class InvalidAddressError extends Error {
  static override name = 'InvalidAddressError'
  override name = 'InvalidAddressError'
  constructor (readonly code: InvalidAddressCode, message: string) { super(message) }
}

/** Payload lengths fixed by protocol; the delegated sub-address may be up to 54 bytes (FIP-0048). */
const PAYLOAD_BYTES: Record<number, number> = { [Protocol.SECP256K1]: 20, [Protocol.ACTOR]: 20, [Protocol.BLS]: 48 }
const MAX_SUBADDRESS_BYTES = 54
const MAX_ID = BigInt('0x7fffffffffffffff') // actor IDs are int64 in Filecoin

export interface Address { network: Network, bytes: Uint8Array }

/** f1 address of an uncompressed secp256k1 key: blake2b-160 of the 65-byte key. */
export function secpAddressBytes (publicKey: Uint8Array): Uint8Array {
  if (publicKey.length !== 65) throw new RangeError('secp256k1 address needs the 65-byte uncompressed key')
  return Uint8Array.of(Protocol.SECP256K1, ...blake2b(publicKey, { dkLen: 20 }))
}

/** f3 address: the 48-byte BLS public key itself. */
export function blsAddressBytes (publicKey: Uint8Array): Uint8Array {
  if (publicKey.length !== 48) throw new RangeError('BLS address needs the 48-byte G1 key')
  return Uint8Array.of(Protocol.BLS, ...publicKey)
}

export function bytesEqual (a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i])
}

/** The actor ID of an f0 address, or null for any other protocol. */
/** f1 and f3: addresses that are a key, which can sign and own an account. */
export const isKeyAddress = (a: Uint8Array): boolean => a[0] === Protocol.SECP256K1 || a[0] === Protocol.BLS

export function idOf (bytes: Uint8Array): bigint | null {
  return bytes[0] === Protocol.ID ? readUvarint(bytes.subarray(1))[0] : null
}

export function idAddressBytes (id: bigint | number): Uint8Array {
  const n = BigInt(id)
  if (n < 0n || n > MAX_ID) throw new RangeError('actor id must be in 0..2^63-1')
  return Uint8Array.of(Protocol.ID, ...uvarint(n))
}

function uvarint (n: bigint): number[] {
  const out: number[] = []
  do {
    let b = Number(n & 0x7fn)
    n >>= 7n
    if (n > 0n) b |= 0x80
    out.push(b)
  } while (n > 0n)
  return out
}

function readUvarint (bytes: Uint8Array): [bigint, number] {
  let n = 0n
  for (let i = 0; i < bytes.length && i < 10; i++) {
    n |= BigInt(bytes[i]! & 0x7f) << BigInt(7 * i)
    if ((bytes[i]! & 0x80) === 0) {
      if (i > 0 && bytes[i] === 0) throw new InvalidAddressError('PAYLOAD', 'non-minimal varint')
      return [n, i + 1]
    }
  }
  throw new InvalidAddressError('PAYLOAD', 'truncated varint')
}

function checksum (bytes: Uint8Array): Uint8Array {
  return blake2b(bytes, { dkLen: 4 })
}

/** Checks that `bytes` is a well-formed address of a known protocol; returns it unchanged. */
export function validateAddressBytes (bytes: Uint8Array): Uint8Array {
  const protocol = bytes[0]
  const payload = bytes.subarray(1)
  if (protocol === Protocol.ID) {
    const [id, read] = readUvarint(payload)
    if (read !== payload.length || id > MAX_ID) throw new InvalidAddressError('PAYLOAD', 'bad ID address payload')
  } else if (protocol === Protocol.DELEGATED) {
    const [namespace, read] = readUvarint(payload)
    if (namespace > MAX_ID) throw new InvalidAddressError('PAYLOAD', 'delegated namespace must be in 0..2^63-1')
    if (payload.length - read > MAX_SUBADDRESS_BYTES) throw new InvalidAddressError('PAYLOAD', 'delegated sub-address too long')
  } else if (protocol !== undefined && PAYLOAD_BYTES[protocol] !== undefined) {
    if (payload.length !== PAYLOAD_BYTES[protocol]) throw new InvalidAddressError('PAYLOAD', `protocol ${protocol} payload must be ${PAYLOAD_BYTES[protocol]} bytes`)
  } else {
    throw new InvalidAddressError('PROTOCOL', `unknown address protocol ${String(protocol)}`)
  }
  return bytes
}

export function addressToString (bytes: Uint8Array, network: Network = 't'): string {
  validateAddressBytes(bytes)
  const protocol = bytes[0]!
  const payload = bytes.subarray(1)
  if (protocol === Protocol.ID) return `${network}0${readUvarint(payload)[0]}`
  const withChecksum = (data: Uint8Array): string => {
    const body = new Uint8Array(data.length + 4)
    body.set(data)
    body.set(checksum(bytes), data.length)
    return base32.baseEncode(body)
  }
  if (protocol === Protocol.DELEGATED) {
    const [namespace, read] = readUvarint(payload)
    return `${network}4${namespace}f${withChecksum(payload.subarray(read))}`
  }
  return `${network}${protocol}${withChecksum(payload)}`
}

/** Parses address text; with `expected`, an address of the other network is refused (NETWORK). */
export function parseAddress (text: string, expected?: Network): Address {
  const network = text[0]
  if (network !== 'f' && network !== 't') throw new InvalidAddressError('NETWORK', `address must start with f or t: ${text}`)
  if (expected !== undefined && network !== expected) throw new InvalidAddressError('NETWORK', `${text} is for the ${network === 'f' ? 'main' : 'test'} network`)
  const protocol = Number(text[1])
  const rest = text.slice(2)
  if (protocol === Protocol.ID) {
    if (!/^(0|[1-9][0-9]{0,18})$/.test(rest)) throw new InvalidAddressError('PAYLOAD', `bad actor id in ${text}`)
    if (BigInt(rest) > MAX_ID) throw new InvalidAddressError('PAYLOAD', `actor id out of range in ${text}`)
    return { network, bytes: idAddressBytes(BigInt(rest)) }
  }
  let prefix: Uint8Array
  let encoded: string
  if (protocol === Protocol.DELEGATED) {
    const m = /^(0|[1-9][0-9]{0,18})f([a-z2-7]+)$/.exec(rest)
    if (m === null) throw new InvalidAddressError('PAYLOAD', `bad delegated address ${text}`)
    prefix = Uint8Array.of(Protocol.DELEGATED, ...uvarint(BigInt(m[1]!)))
    encoded = m[2]!
  } else if (PAYLOAD_BYTES[protocol] !== undefined) {
    prefix = Uint8Array.of(protocol)
    encoded = rest
  } else {
    throw new InvalidAddressError('PROTOCOL', `unknown address protocol in ${text}`)
  }
  if (!/^[a-z2-7]+$/.test(encoded)) throw new InvalidAddressError('PAYLOAD', `address payload is not base32: ${text}`)
  let body: Uint8Array
  try { body = base32.baseDecode(encoded) } catch { throw new InvalidAddressError('PAYLOAD', `address payload is not base32: ${text}`) }
  // only the checksum is required here: an f4 sub-address may be empty (go-address); the other protocols'
  // payload lengths are checked by validateAddressBytes below
  if (body.length < 4) throw new InvalidAddressError('PAYLOAD', `address payload too short: ${text}`)
  const bytes = new Uint8Array(prefix.length + body.length - 4)
  bytes.set(prefix)
  bytes.set(body.subarray(0, body.length - 4), prefix.length)
  validateAddressBytes(bytes)
  const sum = checksum(bytes)
  if (!sum.every((b, i) => b === body[body.length - 4 + i])) throw new InvalidAddressError('CHECKSUM', `wrong checksum in ${text}`)
  return { network, bytes }
}
