// drand's `bls-unchained-g1-rfc9380` scheme, quicknet's: each round's signature is a 48-byte G1 point over
// sha256(round as 8 big-endian bytes), checked against a 96-byte G2 group key. Also quicknet's published constants.
// Read from drand/drand crypto/schemes.go, NewPedersenBLSUnchainedG1 (commit f45e7e0435299e45a7ea5c321e2963cd2c81605f).
import { bls12_381 } from '@noble/curves/bls12-381.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { hexToBytes } from '@noble/hashes/utils.js'
import type { BeaconEntry } from '../block-header'
import type { UnixSeconds } from '../units'
import { BadBeaconSignatureError, MalformedBeaconEntryError, MalformedBeaconKeyError } from './beacon-errors'

/** A drand round number: round 1 is produced at the beacon's genesis time, then one per period. */
export type BeaconRound = number

export const BEACON_SCHEME_ID = 'bls-unchained-g1-rfc9380'
/**
 * Hash-to-G1 domain separation tag, as schemes.go passes it to NewBLS12381SuiteWithDST for this scheme (the
 * RFC 9380 G1 tag). drand's deprecated `bls-unchained-on-g1` used the G2 tag here by mistake; passing it
 * explicitly keeps us on the right one whatever @noble/curves defaults to (v2.4.0 defaults to this one too).
 */
export const BEACON_DST = 'BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_'
export const BEACON_SIGNATURE_BYTES = 48
export const BEACON_PUBLIC_KEY_BYTES = 96

const short = bls12_381.shortSignatures
type G2Point = ReturnType<typeof short.getPublicKey>

/** What a drand chain publishes at /info, in our units. */
export interface DrandChainInfo {
  schemeId: string
  beaconId: string
  publicKey: Uint8Array
  periodSecs: number
  genesisTime: UnixSeconds
  chainHash: string
  groupHash: string
}

/**
 * drand quicknet, the beacon Filecoin mainnet follows since nv22 (FIP-0063). Copied from Lotus
 * build/buildconstants/drand.go, DrandConfigs[DrandQuicknet].ChainInfoJSON (commit b835fab702ebce57abd7e6d0c3326bbd1e18c008),
 * the same as drand/drand common/chain/info_test.go and https://api.drand.sh/52db9ba7…e971/info.
 */
export const DRAND_QUICKNET: DrandChainInfo = {
  schemeId: BEACON_SCHEME_ID,
  beaconId: 'quicknet',
  publicKey: hexToBytes('83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a'),
  periodSecs: 3,
  genesisTime: 1692803367,
  chainHash: '52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971',
  groupHash: 'f477d5c89f21a17c863a7f937c6a6d15859414d2be09cd448d4279af331c5d3e'
}

/** The 32 bytes a round's signature signs: drand's unchained DigestBeacon, sha256 of the round as a big-endian uint64. */
export function beaconMessage (round: BeaconRound): Uint8Array {
  if (!Number.isSafeInteger(round) || round < 0) throw new RangeError(`beacon round ${round} is not a uint64 we can hold`)
  const bytes = new Uint8Array(8)
  new DataView(bytes.buffer).setBigUint64(0, BigInt(round))
  return sha256(bytes)
}

/** The 96-byte compressed G2 public key of a beacon secret key (the devnet's beacon puts this in genesis). */
export function beaconPublicKey (secretKey: Uint8Array): Uint8Array {
  return short.getPublicKey(secretKey).toBytes(true)
}

/** The devnet beacon's entry data for `round`: a 48-byte compressed G1 signature, as a quicknet node makes it. */
export function signBeaconRound (secretKey: Uint8Array, round: BeaconRound): Uint8Array {
  return short.Signature.toBytes(short.sign(short.hash(beaconMessage(round), BEACON_DST), secretKey))
}

// Decoded afresh on every call: decompressing the G2 key is about 3 ms of a 24 ms verify (measured, noble
// 2.4, Node 20), not worth a cache's hidden state in core.
export function decodeBeaconPublicKey (bytes: Uint8Array): G2Point {
  if (bytes.length !== BEACON_PUBLIC_KEY_BYTES) throw new MalformedBeaconKeyError(`${bytes.length} bytes, expected ${BEACON_PUBLIC_KEY_BYTES}`)
  let point: G2Point
  try {
    point = bls12_381.G2.Point.fromBytes(bytes)
  } catch (err) {
    throw new MalformedBeaconKeyError(`not a compressed G2 point of the prime-order subgroup (${(err as Error).message})`)
  }
  if (point.is0()) throw new MalformedBeaconKeyError('the point at infinity')
  return point
}

/**
 * Throws unless `entry.data` is the beacon's signature of `entry.round` under `publicKey`: a
 * MalformedBeaconEntryError for bytes that are not a signature at all, a BadBeaconSignatureError for a
 * well-formed one that does not verify, a MalformedBeaconKeyError for a bad key. Never anything else.
 */
export function verifyBeaconEntry (publicKey: Uint8Array, entry: BeaconEntry): void {
  const { round, data } = entry
  if (!Number.isSafeInteger(round) || round < 0) throw new MalformedBeaconEntryError(undefined, `round ${round} is not a uint64`)
  const key = decodeBeaconPublicKey(publicKey)
  if (data.length !== BEACON_SIGNATURE_BYTES) {
    throw new MalformedBeaconEntryError(round, `signature is ${data.length} bytes, expected ${BEACON_SIGNATURE_BYTES}`)
  }
  let sig: ReturnType<typeof short.Signature.fromBytes>
  try {
    sig = short.Signature.fromBytes(data)
  } catch (err) {
    throw new MalformedBeaconEntryError(round, `signature is not a compressed G1 point of the prime-order subgroup (${(err as Error).message})`)
  }
  if (sig.is0()) throw new MalformedBeaconEntryError(round, 'signature is the point at infinity')
  let ok: boolean
  try {
    ok = short.verify(sig, short.hash(beaconMessage(round), BEACON_DST), key)
  } catch {
    ok = false
  }
  if (!ok) throw new BadBeaconSignatureError(round)
}

/**
 * All of `entries` verified at once, for one beacon key: with random 64-bit weights rᵢ,
 *   e(Σ rᵢ·σᵢ, G2) = e(Σ rᵢ·H(mᵢ), pk)
 * holds when every signature is valid and fails except with probability ≈ 2⁻⁶³ when any is not (the
 * weights stop two bad signatures from cancelling). One signer, so two pairings for the whole batch where
 * verifyBeaconEntry costs two each; the hash to G1 stays per entry. False for anything malformed (a caller
 * then checks one by one with verifyBeaconEntry to name the entry). `randomBytes` is the caller's: core reads no randomness.
 */
export function verifyBeaconBatch (publicKey: Uint8Array, entries: readonly BeaconEntry[], randomBytes: (n: number) => Uint8Array): boolean {
  if (entries.length === 0) return true
  try {
    const key = decodeBeaconPublicKey(publicKey)
    const weights = randomBytes(8 * entries.length)
    let sigSum = bls12_381.G1.Point.ZERO
    let msgSum = bls12_381.G1.Point.ZERO
    for (const [i, { round, data }] of entries.entries()) {
      if (data.length !== BEACON_SIGNATURE_BYTES) return false
      let r = 0n
      for (let b = 0; b < 8; b++) r = (r << 8n) | BigInt(weights[i * 8 + b]!)
      r = r | 1n // never zero
      const sig = short.Signature.fromBytes(data)
      sig.assertValidity() // the argument needs the prime-order subgroup
      if (sig.is0()) return false
      sigSum = sigSum.add(sig.multiplyUnsafe(r))
      msgSum = msgSum.add(short.hash(beaconMessage(round), BEACON_DST).multiplyUnsafe(r))
    }
    const gt = bls12_381.pairingBatch([{ g1: sigSum, g2: bls12_381.G2.Point.BASE.negate() }, { g1: msgSum, g2: key }])
    return bls12_381.fields.Fp12.eql(gt, bls12_381.fields.Fp12.ONE)
  } catch {
    return false
  }
}
