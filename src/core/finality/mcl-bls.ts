// The faster BLS (issue 14, part 4): herumi's mcl compiled to WASM (mcl-wasm), set to Filecoin's scheme — IETF
// point encoding with subgroup checks, RFC 9380 hash-to-G2 with the `..._NUL_` DST — and checked by the same tests as
// noble's (Filecoin mainnet's certificates, every forgery). Measured in one run on this machine (/tmp/blsbench, a
// helper's, and `npm run bench`): a full BLS verify 5.9 ms against noble's 26.9 ms in Node 20 and 6.3 against 11.4 ms
// in a Chromium worker; the aggregate key of 1,560 keys (a multi-scalar multiplication) 64 against 377 ms in Node, 66
// against 152 ms in Chromium. The tab's worker checks certificates and block signatures with it; a node votes,
// checks votes and assembles certificates with it (on the devnet every node does that every instance). mcl-wasm
// carries its WASM inline (no fetch: a pure computation, as noble is), ~190 KB gzipped, loaded on first use; it is
// not in core's barrel, so nothing loads it that does not ask.
import type * as Mcl from 'mcl-wasm'
import { bytesToHex } from '@noble/hashes/utils.js'
import { bls12_381 } from '@noble/curves/bls12-381.js'
import { BadPublicKeyError, sameSignerGroups, type AggregateCheck, type F3Bls } from './bdn'
import { batchWeights, type OneSignerBatchVerifier } from '../header-batch'
import { BEACON_DST } from '../beacon/beacon-scheme'
import type { BeaconSignatureCheck } from '../beacon/beacon-cache'
import type { BlsSigner } from '../signature'

const FILECOIN_DST = 'BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_'
/** BLS12-381's G1 generator, compressed (IETF): the fixed side of the pairing check. */
const G1_GENERATOR = Uint8Array.from(atob('l/HTpzGX15QmlWOMT6msD8NojE+XdLkFoU46PxcbrFhsVeg/+Xoa7/s68ArbIsa7'), c => c.charCodeAt(0))

/** BLS12-381's G2 generator, compressed (IETF): the fixed side of a drand signature's check. */
const G2_GENERATOR = Uint8Array.from(atob('k+ArYFJxn2B9rNOgiCdPZVlr0NCZILYatdphu9x/UEkzTPESE5RdV+WsfQVdBCt+AkqisvCPCpEmCAUnLcUQUcbketT6QDsCtFELZHrj0XcLrAMmqAW779SAVsjBIb24'), c => c.charCodeAt(0))

/** mcl-wasm could not be set to Filecoin's scheme (no DST setter in this build, say): the caller keeps noble's. */
export class MclUnavailableError extends Error {
  static override name = 'MclUnavailableError'
  override name = 'MclUnavailableError'
}

let loading: Promise<MclVerifiers> | null = null

interface MclVerifiers { bdn: F3Bls, oneSigner: OneSignerBatchVerifier, beacon: BeaconSignatureCheck | null }

/** The WASM library, initialised once per worker (or process). */
export async function mclBdnVerifier (): Promise<F3Bls> {
  loading ??= create()
  return (await loading).bdn
}

/**
 * The same library for a block's worker signatures (issue 14, part 4: "for certificates and headers"): the block
 * signature and the election and ticket VRFs, one signer's batch as core's verifyOneSignerBatch checks it —
 * e(−g₁, Σ rᵢ·σᵢ)·e(pk, Σ rᵢ·H(mᵢ)) = 1 with 64-bit weights rᵢ from `randomBytes` — by the same tests.
 */
export async function mclOneSignerBatch (): Promise<OneSignerBatchVerifier> {
  loading ??= create()
  return (await loading).oneSigner
}

/**
 * BLS signatures in mcl-wasm (Filecoin's scheme: the same bytes as noble's blsSign, by the same tests), for a miner's
 * election and ticket VRFs and block signatures: a devnet's node made three noble signatures a second for its
 * miners, most of a core's third (profiled).
 */
export async function mclBlsSigner (): Promise<BlsSigner> {
  const { bdn } = await (loading ??= create())
  return (secretKey, message) => bdn.sign(secretKey, message)
}

/**
 * A drand round's signature (quicknet's scheme, beacon-scheme.ts: a G1 signature hashed with the G1 tag, a G2 key)
 * in mcl-wasm: a light client's gossip judge checks one per round, ~25 ms each in noble. True only when it verifies
 * (VerifiedBeaconEntries then leaves noble's verifyBeaconEntry to name anything else). Same tests as noble's.
 */
export async function mclBeaconCheck (): Promise<BeaconSignatureCheck> {
  loading ??= create()
  const { beacon } = await loading
  if (beacon === null) throw new MclUnavailableError('mcl-wasm has no mclBnG1_setDst')
  return beacon
}

async function create (): Promise<MclVerifiers> {
  const mcl = await import('mcl-wasm') as typeof Mcl & { default?: typeof Mcl }
  const m: typeof Mcl = (mcl as { init?: unknown }).init === undefined && mcl.default !== undefined ? mcl.default : mcl
  await m.init(m.BLS12_381)
  m.setETHserialization(true) // the IETF/ZCash compressed encoding Filecoin and noble use
  m.setMapToMode(m.IRTF) // RFC 9380 simplified SWU
  m.verifyOrderG1(true) // a key or signature outside the prime-order subgroup is refused on decoding
  m.verifyOrderG2(true)
  // mcl-wasm has no public DST setter: its module's mclBnG2_setDst, wrapped for a string as its own setters are
  const mod = (m as unknown as { mod?: { wrapInput?: (f: unknown, n: number, b: boolean) => (s: string) => number, _mclBnG2_setDst?: unknown, _mclBnG1_setDst?: unknown } }).mod
  if (mod?.wrapInput === undefined || mod._mclBnG2_setDst === undefined) throw new MclUnavailableError('mcl-wasm has no mclBnG2_setDst')
  if (mod.wrapInput(mod._mclBnG2_setDst, 0, true)(FILECOIN_DST) !== 0) throw new MclUnavailableError('mcl-wasm refused Filecoin\'s DST')
  // hashing to G1 is drand's alone here (Filecoin's and F3's signatures are in G2); without the setter, drand's
  // rounds stay with noble and the rest is unaffected
  const g1Dst = mod._mclBnG1_setDst !== undefined && mod.wrapInput(mod._mclBnG1_setDst, 0, true)(BEACON_DST) === 0
  const negGenerator = m.neg(decodeG1(m, G1_GENERATOR))
  const keys = new Map<string, Mcl.G1>()

  const key = (bytes: Uint8Array): Mcl.G1 => {
    if (bytes.length !== 48) throw new BadPublicKeyError(`a ${bytes.length}-byte BLS public key (48 expected)`)
    const id = bytesToHex(bytes)
    let p = keys.get(id)
    if (p === undefined) {
      try { p = decodeG1(m, bytes) } catch (e) { throw new BadPublicKeyError(`not a BLS public key: ${(e as Error).message}`) }
      if (p.isZero()) throw new BadPublicKeyError('the BLS public key is the point at infinity')
      if (keys.size >= 10_000) keys.clear()
      keys.set(id, p)
    }
    return p
  }

  const signatureOf = (bytes: Uint8Array): Mcl.G2 | null => {
    if (bytes.length !== 96) return null
    try {
      const sig = new m.G2()
      sig.deserialize(bytes) // with its subgroup check (verifyOrderG2 above)
      return sig
    } catch { return null }
  }
  const frOf = (v: bigint): Mcl.Fr => {
    const f = new m.Fr()
    f.setLittleEndian(littleEndian(v))
    return f
  }
  /** Σ cᵢ·pkᵢ over the signers. */
  const aggregateKey = (c: Pick<AggregateCheck, 'publicKeys' | 'signers' | 'coefficients'>): Mcl.G1 =>
    m.mulVec(c.signers.map(i => key(c.publicKeys[i]!)), c.signers.map(i => frOf(c.coefficients[i]!)))

  const hashOf = (message: Uint8Array): Mcl.G2 => m.hashAndMapToG2(message)
  /** e(key, H(m)) · e(−g₁, σ) = 1 for `signature`'s bytes: two Miller loops, one final exponentiation; false for malformed bytes. */
  const signs = (k: Mcl.G1, message: Uint8Array, signature: Uint8Array): boolean => {
    const sig = signatureOf(signature)
    return sig !== null && m.finalExp(m.mul(m.millerLoop(k, hashOf(message)), m.millerLoop(negGenerator, sig))).isOne()
  }
  const bdn: F3Bls = {
    name: 'mcl-wasm',
    sign (secretKey, message) {
      // as noble: 32 bytes, big-endian, taken mod r, and refused when that is zero (mcl would sign with zero: infinity)
      const k = secretKey.length === 32 ? BigInt(`0x${bytesToHex(secretKey)}`) % bls12_381.fields.Fr.ORDER : 0n
      if (k === 0n) throw new RangeError('not a BLS secret key (32 bytes, big-endian, nonzero mod r)')
      const sk = new m.Fr()
      sk.setBigEndianMod(secretKey)
      return m.mul(hashOf(message), sk).serialize()
    },
    verifyOne (publicKey, message, signature) {
      return signs(key(publicKey), message, signature)
    },
    aggregateWeighted (signatures, weights) {
      if (signatures.length !== weights.length) throw new RangeError('one weight per signature')
      const sigs = signatures.map(s => {
        const sig = signatureOf(s)
        if (sig === null) throw new RangeError('not a BLS signature (a G2 point, 96 bytes)')
        return sig
      })
      return m.mulVec(sigs, weights.map(frOf)).serialize()
    },
    verifyAggregate (publicKeys, signers, coefficients, message, signature) {
      return signs(aggregateKey({ publicKeys, signers, coefficients }), message, signature) // the key Σ cᵢ·pkᵢ
    },
    verifyBatch (checks, randomWeights) {
      if (randomWeights.length !== checks.length) throw new RangeError('one random weight per check')
      if (checks.length === 0) return true
      const rs = randomWeights.map(frOf)
      const sigs: Mcl.G2[] = []
      for (const c of checks) {
        const sig = signatureOf(c.signature)
        if (sig === null) return false
        sigs.push(sig)
      }
      // a Miller loop per signer set: e(apk, Σ rⱼ·H(mⱼ)) over the group (sameSignerGroups)
      let product = m.millerLoop(negGenerator, m.mulVec(sigs, rs))
      for (const group of sameSignerGroups(checks)) {
        const hashes = m.mulVec(group.map(j => hashOf(checks[j]!.message)), group.map(j => rs[j]!))
        product = m.mul(product, m.millerLoop(aggregateKey(checks[group[0]!]!), hashes))
      }
      // Π e(apk_g, Σ rⱼ·H(mⱼ)) · e(−g₁, Σ rⱼ·σⱼ) = 1, one final exponentiation for the lot
      return m.finalExp(product).isOne()
    }
  }

  const oneSigner: OneSignerBatchVerifier = (publicKey, items, randomBytes) => {
    if (items.length === 0) return true
    let pk: Mcl.G1
    try { pk = key(publicKey) } catch { return false }
    const rs = batchWeights(randomBytes, items.length).map(frOf)
    const sigs: Mcl.G2[] = []
    const hashes: Mcl.G2[] = []
    for (const { message, signature } of items) {
      const sig = signatureOf(signature)
      if (sig === null) return false
      sigs.push(sig)
      hashes.push(hashOf(message))
    }
    const gt = m.finalExp(m.mul(m.millerLoop(negGenerator, m.mulVec(sigs, rs)), m.millerLoop(pk, m.mulVec(hashes, rs))))
    return gt.isOne()
  }
  const negG2Generator = m.neg(decodeG2(m, G2_GENERATOR))
  const g2Keys = new Map<string, Mcl.G2>()
  const beaconKey = (bytes: Uint8Array): Mcl.G2 | null => {
    const id = bytesToHex(bytes)
    let k = g2Keys.get(id)
    if (k === undefined) {
      if (bytes.length !== 96) return null
      try { k = decodeG2(m, bytes) } catch { return null }
      if (k.isZero()) return null
      if (g2Keys.size >= 16) g2Keys.clear()
      g2Keys.set(id, k)
    }
    return k
  }
  /** e(σ, −g₂) · e(H₁(m), pk) = 1: two Miller loops, one final exponentiation. */
  const beacon: BeaconSignatureCheck = (publicKey, message, signature) => {
    const key = beaconKey(publicKey)
    if (key === null || signature.length !== 48) return false
    try {
      const sig = new m.G1()
      sig.deserialize(signature) // with its subgroup check (verifyOrderG1 above)
      if (sig.isZero()) return false
      return m.finalExp(m.mul(m.millerLoop(sig, negG2Generator), m.millerLoop(m.hashAndMapToG1(message), key))).isOne()
    } catch { return false } // (noble's check then names what is wrong)
  }
  return { bdn, oneSigner, beacon: g1Dst ? beacon : null }
}

function decodeG2 (m: typeof Mcl, bytes: Uint8Array): Mcl.G2 {
  const p = new m.G2()
  p.deserialize(bytes)
  return p
}

function decodeG1 (m: typeof Mcl, bytes: Uint8Array): Mcl.G1 {
  const p = new m.G1()
  p.deserialize(bytes)
  return p
}

/** A BDN weight (under 2^129) as 32 little-endian bytes, as mcl's Fr.setLittleEndian reads it. */
function littleEndian (v: bigint): Uint8Array {
  const out = new Uint8Array(32)
  for (let i = 0; i < 32 && v > 0n; i++) { out[i] = Number(v & 0xffn); v >>= 8n }
  return out
}
