// Lotus's key export format (`lotus wallet export` / `lotus wallet import`) and the secret-key rules the
// wallet enforces: hex of the JSON KeyInfo {"Type","PrivateKey": std base64, padded}, 32-byte scalars.
// Secrets are held big-endian, as src/core (noble) takes them; Lotus's little-endian BLS form exists only here.
import { bls12_381 } from '@noble/curves/bls12-381.js'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { secpPublicKey, secpAddressBytes, blsPublicKey, blsAddressBytes } from '../core'

export type WalletKeyType = 'secp256k1' | 'bls'

export type InvalidKeyExportCode = 'HEX' | 'JSON' | 'TYPE' | 'BASE64' | 'LENGTH' | 'SCALAR'

/**
 * A Lotus export that cannot be a key. Messages name what is wrong and never quote the input, because
 * the input is the secret (V8's own JSON.parse message would echo it, so it is never passed through).
 */
export class InvalidKeyExportError extends Error {
  static override name = 'InvalidKeyExportError'
  override name = 'InvalidKeyExportError'
  constructor (readonly code: InvalidKeyExportCode, message: string) { super(`invalid Lotus key export: ${message}`) }
}

export const SECRET_KEY_BYTES = 32

const ORDER: Record<WalletKeyType, bigint> = {
  secp256k1: secp256k1.Point.Fn.ORDER,
  bls: bls12_381.fields.Fr.ORDER
}

function bigEndian (bytes: Uint8Array): bigint {
  let n = 0n
  for (const b of bytes) n = (n << 8n) | BigInt(b)
  return n
}

/**
 * True for a canonical scalar 1..order-1. Checked here rather than left to noble because noble 2.4's BLS
 * getPublicKey accepts a secret >= r (reducing it, measured), which Lotus's bls-signatures refuses.
 */
export function isValidSecretKey (type: WalletKeyType, secret: Uint8Array): boolean {
  if (secret.length !== SECRET_KEY_BYTES) return false
  const n = bigEndian(secret)
  return n > 0n && n < ORDER[type]
}

/**
 * A uniformly random valid secret by rejection sampling: about 1 draw in 2^128 is refused for secp256k1,
 * and for BLS (r is about 0.45 * 2^256) about half, so the expected cost is ~2.2 draws of 32 bytes.
 */
export function randomSecretKey (type: WalletKeyType, randomBytes: (n: number) => Uint8Array): Uint8Array {
  for (;;) {
    const secret = randomBytes(SECRET_KEY_BYTES)
    if (isValidSecretKey(type, secret)) return secret
    secret.fill(0)
  }
}

/** The key's address bytes (f1 / f3 protocol byte first); the secret must already be valid. */
export function keyAddressBytes (type: WalletKeyType, secret: Uint8Array): Uint8Array {
  return type === 'secp256k1' ? secpAddressBytes(secpPublicKey(secret)) : blsAddressBytes(blsPublicKey(secret))
}

export interface LotusKey { type: WalletKeyType, secret: Uint8Array }

const HEX = /^(?:[0-9a-fA-F]{2})+$/
// Go's encoding/json decodes []byte with base64.StdEncoding: standard alphabet, padding required
const STD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

function hexToBytes (hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16)
  return out
}

function bytesToHex (bytes: Uint8Array): string {
  let s = ''
  for (const b of bytes) s += b.toString(16).padStart(2, '0')
  return s
}

function base64ToBytes (text: string): Uint8Array {
  const bin = atob(text)
  const out = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i)
  return out
}

function bytesToBase64 (bytes: Uint8Array): string {
  let bin = ''
  for (const b of bytes) bin += String.fromCharCode(b)
  return btoa(bin)
}

/**
 * Reads `lotus wallet export` output. Surrounding whitespace is ignored (the CLI prints a newline and
 * users paste it); unknown JSON fields are ignored as Go ignores them. The returned secret is big-endian.
 */
export function parseLotusExport (text: string): LotusKey {
  if (typeof text !== 'string') throw new TypeError('a Lotus key export is a hex string')
  const hex = text.trim()
  if (!HEX.test(hex)) throw new InvalidKeyExportError('HEX', 'not an even-length hex string')
  let info: unknown
  try {
    info = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(hexToBytes(hex)))
  } catch {
    throw new InvalidKeyExportError('JSON', 'hex does not decode to UTF-8 JSON')
  }
  if (typeof info !== 'object' || info === null || Array.isArray(info)) throw new InvalidKeyExportError('JSON', 'expected a JSON object {"Type","PrivateKey"}')
  const { Type: type, PrivateKey: privateKey } = info as { Type?: unknown, PrivateKey?: unknown }
  if (type !== 'secp256k1' && type !== 'bls') {
    // the Type is not secret; a short quote helps someone who exported a 'delegated' or ledger key
    const shown = typeof type === 'string' ? JSON.stringify(type.slice(0, 32)) : typeof type
    throw new InvalidKeyExportError('TYPE', `key type ${shown} is not supported (secp256k1 or bls)`)
  }
  if (typeof privateKey !== 'string' || !STD_BASE64.test(privateKey)) throw new InvalidKeyExportError('BASE64', 'PrivateKey is not padded standard base64')
  const raw = base64ToBytes(privateKey)
  if (raw.length !== SECRET_KEY_BYTES) {
    const length = raw.length
    raw.fill(0)
    throw new InvalidKeyExportError('LENGTH', `PrivateKey is ${length} bytes, expected ${SECRET_KEY_BYTES}`)
  }
  // Lotus serialises BLS secrets little-endian (bls-signatures' Scalar::to_bytes); noble reads big-endian
  const secret = type === 'bls' ? raw.reverse() : raw
  if (!isValidSecretKey(type, secret)) {
    secret.fill(0)
    throw new InvalidKeyExportError('SCALAR', `PrivateKey is not a valid ${type} secret (must be 1..order-1)`)
  }
  return { type, secret }
}

/** Writes the form `lotus wallet import` reads: hex of {"Type","PrivateKey"} in Lotus's field order. */
export function formatLotusExport (key: LotusKey): string {
  const bytes = key.type === 'bls' ? key.secret.slice().reverse() : key.secret
  const json = JSON.stringify({ Type: key.type, PrivateKey: bytesToBase64(bytes) })
  if (bytes !== key.secret) bytes.fill(0)
  return bytesToHex(new TextEncoder().encode(json))
}
