// BDN multi-signatures as go-f3 aggregates them (kyber's sign/bdn over BLS12-381, keys on G1,
// signatures on G2, Filecoin's hash-to-G2 DST). The rogue-key defence: each key of the power table
// is weighted by cᵢ + 1, where the cᵢ are 128-bit numbers read (little-endian, 16 bytes each) from
// BLAKE2Xs over every key of the table in order; the aggregate key is Σ (cᵢ+1)·pkᵢ over the signers,
// the aggregate signature Σ (cᵢ+1)·σᵢ. A key chosen to cancel others cannot know its weight before
// the table is fixed, so it cannot forge (Boneh–Drijvers–Neven 2018). Coffer uses it, not proofs of
// possession, because it is what go-f3 verifies: a certificate must verify in Lotus and here alike.
import { bls12_381 } from '@noble/curves/bls12-381.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { pippenger } from '@noble/curves/abstract/curve.js'
import { blake2xs } from './blake2xs'

const bls = bls12_381.longSignatures
type G1Point = ReturnType<typeof bls12_381.G1.Point.fromBytes>
type G2Point = ReturnType<typeof bls12_381.G2.Point.fromBytes>

/** The BDN weights cᵢ + 1 of a table's keys (kyber's hashPointToR, plus the 1 its Mask adds). */
export function bdnCoefficients (publicKeys: readonly Uint8Array[]): bigint[] {
  const all = new Uint8Array(publicKeys.reduce((n, k) => n + k.length, 0))
  let at = 0
  for (const k of publicKeys) { all.set(k, at); at += k.length }
  const out = blake2xs(all, 16 * publicKeys.length)
  const coefficients: bigint[] = []
  for (let i = 0; i < publicKeys.length; i++) {
    let c = 0n
    for (let j = 15; j >= 0; j--) c = (c << 8n) | BigInt(out[i * 16 + j]!)
    coefficients.push(c + 1n)
  }
  return coefficients
}

/** Thrown by `decodeKey` for bytes that are not a usable BLS public key; callers turn it into their own error. */
export class BadPublicKeyError extends Error {
  static override name = 'BadPublicKeyError'
  override name = 'BadPublicKeyError'
}

/** Decoded G1 keys, kept because decoding (a square root and a subgroup check) is most of a key's cost. */
export class PublicKeyCache {
  private readonly points = new Map<string, G1Point>()
  constructor (private readonly max = 10_000) {}

  decode (key: Uint8Array): G1Point {
    if (key.length !== 48) throw new BadPublicKeyError(`a ${key.length}-byte BLS public key (48 expected)`)
    const id = bytesToHex(key)
    const hit = this.points.get(id)
    if (hit !== undefined) return hit
    let p: G1Point
    try {
      p = bls12_381.G1.Point.fromBytes(key)
      p.assertValidity()
    } catch (e) { throw new BadPublicKeyError(`not a BLS public key: ${(e as Error).message}`) }
    if (p.is0()) throw new BadPublicKeyError('the BLS public key is the point at infinity')
    // go-f3 starts over when its cache passes 10,000 keys; so does this one
    if (this.points.size >= this.max) this.points.clear()
    this.points.set(id, p)
    return p
  }
}

/** Σ (cᵢ+1)·pkᵢ over the signers (indexes into `publicKeys`), by one multi-scalar multiplication. */
export function bdnAggregatePublicKey (publicKeys: readonly Uint8Array[], signers: readonly number[], cache: PublicKeyCache, coefficients = bdnCoefficients(publicKeys)): G1Point {
  const points = signers.map(i => cache.decode(publicKeys[i]!))
  const scalars = signers.map(i => coefficients[i]!)
  return pippenger(bls12_381.G1.Point, points, scalars)
}

/** Σ (cᵢ+1)·σᵢ: the certificate signature of signers `signers` (ascending) whose signatures are `signatures`. */
export function bdnAggregateSignatures (publicKeys: readonly Uint8Array[], signers: readonly number[], signatures: readonly Uint8Array[], backend: Pick<F3Bls, 'aggregateWeighted'> = nobleBls): Uint8Array {
  if (signers.length !== signatures.length) throw new RangeError('one signature per signer')
  const coefficients = bdnCoefficients(publicKeys)
  return backend.aggregateWeighted(signatures, signers.map(i => coefficients[i]!))
}

/** One aggregate signature to check: the signers (indexes into the table's keys) with their BDN weights, a message, a signature. */
export interface AggregateCheck {
  readonly publicKeys: readonly Uint8Array[]
  readonly signers: readonly number[]
  readonly coefficients: readonly bigint[]
  readonly message: Uint8Array
  readonly signature: Uint8Array
}

/**
 * Checks BDN aggregate signatures: one interface, two executors (STYLE habit 4) — noble's here, the reference, and
 * a WASM one where speed counts (mcl-bls.ts: the tab's worker, a node's votes) — run by one shared test suite.
 */
export interface BdnVerifier {
  readonly name: string
  /**
   * True when `signature` is the BDN aggregate of the `signers`' signatures of `message` (weights `coefficients`,
   * from bdnCoefficients of the whole table); false for any signature or message that does not verify, malformed
   * signature bytes included. Throws BadPublicKeyError when a signer's key is no usable key.
   */
  verifyAggregate: (publicKeys: readonly Uint8Array[], signers: readonly number[], coefficients: readonly bigint[], message: Uint8Array, signature: Uint8Array) => boolean
  /**
   * True when every check holds, by one product of pairings: with random weights rⱼ (`randomWeights`, one per check,
   * drawn by the caller after the signatures arrived: the core reads no randomness),
   *   e(g₁, Σ rⱼ·σⱼ) = Π e(rⱼ·apkⱼ, H(mⱼ)),
   * one Miller loop per signer set plus one (sameSignerGroups), and one final exponentiation for them all, where
   * checking one at a time costs two Miller loops and a final exponentiation each. A forged signature passes only if it guesses the
   * weights (probability 2⁻⁶⁴ with 64-bit weights); every signature is decoded with its subgroup check, without
   * which a batch can be fooled. False says only that some check fails: the caller finds which one by one.
   */
  verifyBatch: (checks: readonly AggregateCheck[], randomWeights: readonly bigint[]) => boolean
}

/**
 * Everything F3 does with BLS, for a node that votes and assembles certificates as well as checking them: one
 * participant's signature, checking one vote, and summing signatures under weights. Two executors, as for
 * BdnVerifier: noble's (NobleBdnVerifier, the reference) and mcl-wasm's (mcl-bls.ts), run by one test suite.
 */
export interface F3Bls extends BdnVerifier {
  /** The plain BLS signature of `message` by `secretKey` (32 bytes, big-endian, as noble reads it). */
  sign: (secretKey: Uint8Array, message: Uint8Array) => Uint8Array
  /** True when `signature` is `publicKey`'s over `message`; false for malformed signature bytes. Throws BadPublicKeyError for a bad key. */
  verifyOne: (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean
  /** Σ wᵢ·σᵢ, compressed; throws on signature bytes that are not a G2 point. */
  aggregateWeighted: (signatures: readonly Uint8Array[], weights: readonly bigint[]) => Uint8Array
}

/** @noble/curves: pure TypeScript, audited, the reference the faster verifier is checked against. */
export class NobleBdnVerifier implements F3Bls {
  readonly name = 'noble'
  constructor (private readonly keys = new PublicKeyCache()) {}

  sign (secretKey: Uint8Array, message: Uint8Array): Uint8Array {
    return bls.sign(bls.hash(message), secretKey).toBytes(true)
  }

  verifyOne (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    const key = this.keys.decode(publicKey)
    try {
      return bls.verify(signature, bls.hash(message), key)
    } catch { return false }
  }

  aggregateWeighted (signatures: readonly Uint8Array[], weights: readonly bigint[]): Uint8Array {
    if (signatures.length !== weights.length) throw new RangeError('one weight per signature')
    const points: G2Point[] = signatures.map(s => bls12_381.G2.Point.fromBytes(s))
    return pippenger(bls12_381.G2.Point, points, [...weights]).toBytes(true)
  }
  verifyAggregate (publicKeys: readonly Uint8Array[], signers: readonly number[], coefficients: readonly bigint[], message: Uint8Array, signature: Uint8Array): boolean {
    return verifyWithAggregateKey(bdnAggregatePublicKey(publicKeys, signers, this.keys, [...coefficients]), message, signature)
  }

  verifyBatch (checks: readonly AggregateCheck[], randomWeights: readonly bigint[]): boolean {
    if (randomWeights.length !== checks.length) throw new RangeError('one random weight per check')
    if (checks.length === 0) return true
    const pairs: Array<{ g1: G1Point, g2: G2Point }> = []
    const sigs: G2Point[] = []
    for (const c of checks) {
      const sig = decodeSignature(c.signature)
      if (sig === null) return false
      sigs.push(sig)
    }
    for (const group of sameSignerGroups(checks)) {
      const c = checks[group[0]!]!
      // one aggregate key for the group, and its messages' hashes summed under their weights: one Miller loop
      const key = bdnAggregatePublicKey(c.publicKeys, c.signers, this.keys, [...c.coefficients])
      const hashes = pippenger(bls12_381.G2.Point, group.map(j => bls.hash(checks[j]!.message)), group.map(j => randomWeights[j]!))
      pairs.push({ g1: key, g2: hashes })
    }
    pairs.push({ g1: bls12_381.G1.Point.BASE.negate(), g2: pippenger(bls12_381.G2.Point, sigs, [...randomWeights]) })
    try {
      return bls12_381.fields.Fp12.eql(bls12_381.pairingBatch(pairs), bls12_381.fields.Fp12.ONE)
    } catch { return false } // a point at infinity (signatures that cancel): the one-by-one check names it
  }
}

/** Noble's, for the callers that do not choose (a node whose mcl-wasm would not load, tests, one-off tools). */
const nobleBls = new NobleBdnVerifier()

/**
 * The checks' indexes grouped by signer set: same key list, same weights, same signers (by identity of the lists a
 * caller built once per table, and the signers' indexes). In a group the aggregate key apk is one, so
 * Π e(rⱼ·apk, H(mⱼ)) = e(apk, Σ rⱼ·H(mⱼ)): one Miller loop for the group, not one per check — on a chain whose
 * signers rarely change (Coffer's devnet), about half of each certificate's cost.
 */
export function sameSignerGroups (checks: readonly AggregateCheck[]): number[][] {
  const byLists = new Map<readonly Uint8Array[], Map<readonly bigint[], Map<string, number[]>>>()
  const groups: number[][] = []
  for (const [j, c] of checks.entries()) {
    let byWeights = byLists.get(c.publicKeys)
    if (byWeights === undefined) { byWeights = new Map(); byLists.set(c.publicKeys, byWeights) }
    let bySigners = byWeights.get(c.coefficients)
    if (bySigners === undefined) { bySigners = new Map(); byWeights.set(c.coefficients, bySigners) }
    const id = c.signers.join(',')
    let g = bySigners.get(id)
    if (g === undefined) { g = []; bySigners.set(id, g); groups.push(g) }
    g.push(j)
  }
  return groups
}

function decodeSignature (bytes: Uint8Array): G2Point | null {
  if (bytes.length !== 96) return null
  try {
    const p = bls12_381.G2.Point.fromBytes(bytes)
    p.assertValidity() // on the curve and in the prime-order subgroup
    return p
  } catch { return null }
}

/** BLS verification of `signature` over `message` under an aggregate key; false for malformed bytes. */
export function verifyWithAggregateKey (aggregateKey: G1Point, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 96) return false
  try {
    return bls.verify(signature, bls.hash(message), aggregateKey)
  } catch {
    return false
  }
}

/** One participant's signature of `message` (a plain BLS signature: BDN weights apply only when aggregating). */
export function f3Sign (secretKey: Uint8Array, message: Uint8Array): Uint8Array {
  return nobleBls.sign(secretKey, message)
}
