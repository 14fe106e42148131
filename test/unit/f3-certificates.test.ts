// F3 finality certificates in go-f3's formats and rules: BLAKE2Xs and RLE+ against their reference
// vectors, the power-table CID against Filecoin's published initial tables, and every forgery the
// issue names refused by name on certificates signed here by real BLS keys.
import { describe, it, expect, beforeAll } from 'vitest'
import { bls12_381 } from '@noble/curves/bls12-381.js'
import mainnetManifest from '../fixtures/f3-manifest-filecoin.json'
import calibnetManifest from '../fixtures/f3-manifest-calibrationnet.json'
import mainnetTableJson from '../fixtures/f3-initial-power-table-filecoin.json'
import calibnetTableJson from '../fixtures/f3-initial-power-table-calibrationnet.json'
import mainnetCertsJson from '../fixtures/f3-mainnet-certificates-0-9.json'
import {
  blake2xs, merkleRoot, powerTableCid, encodePowerTable, decodePowerTable, applyPowerTableDelta, makePowerTableDelta, sortPowerTable,
  scalePowerTable, isStrongQuorum, encodeCertificate, decodeCertificate, certificateSigningPayload, validateFinalityCertificate,
  validateFinalityCertificates, assembleCertificate, proposalSigningPayload, f3Sign, bdnCoefficients, tipSetKeyBytes, ecChainKey,
  CertificateError, NobleBdnVerifier, validateFinalityCertificateBatch, type BatchValidation, certificateFromLotusJson, type BdnVerifier, type F3Bls, certificateToLotusJson, type LotusCertificateJson, type PowerEntry, type F3TipSet, type FinalityCertificate, type FinalityState, type CertificateProposal
} from '../../src/core/finality'
import { decodeRlePlus, encodeRlePlus, RlePlusError } from '../../src/core/rle-plus'
import { chainCid } from '../../src/core/cid'
import { blsPublicKey } from '../../src/core/signature'
import { mclBdnVerifier } from '../../src/core/finality/mcl-bls'

const hex = (b: Uint8Array): string => Array.from(b, x => x.toString(16).padStart(2, '0')).join('')
const b64 = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'base64'))

function thrown (fn: () => unknown): Error & Record<string, unknown> {
  try { fn() } catch (err) { return err as Error & Record<string, unknown> }
  throw new Error('expected a throw')
}

const tableFromJson = (rows: Array<{ ID: number, Power: string, PubKey: string }>): PowerEntry[] =>
  rows.map(r => ({ id: r.ID, power: BigInt(r.Power), pubKey: b64(r.PubKey) }))

describe('BLAKE2Xs (the BDN coefficients\' XOF)', () => {
  // golang.org/x/crypto blake2s_test.go: keyed, input 0..255, from the BLAKE2 team's blake2-kat.json
  const key = Uint8Array.from({ length: 32 }, (_, i) => i)
  const input = Uint8Array.from({ length: 256 }, (_, i) => i)
  it('matches x/crypto\'s unknown-length vector and the KAT\'s fixed lengths', () => {
    expect(hex(blake2xs(input, 64, { key }))).toBe('2a9a6977d915a2c4dd07dbcafe1918bf1682e56d9c8e567ecd19bfd7cd93528833c764d12b34a5e2a219c9fd463dab45e972c5574d73f45de5b2e23af72530d8')
    expect(hex(blake2xs(input, 1, { key, xofLength: 1 }))).toBe('0e')
    expect(hex(blake2xs(input, 2, { key, xofLength: 2 }))).toBe('5196')
    expect(hex(blake2xs(input, 8, { key, xofLength: 8 }))).toBe('8662db8685033611')
  })
})

describe('RLE+ bitfields', () => {
  it('encodes and decodes go-bitfield\'s reference set', () => {
    const set = [0, 2, 4, 5, 6, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27]
    expect([...encodeRlePlus(set)]).toEqual([124, 71, 34, 2])
    expect(decodeRlePlus(Uint8Array.of(124, 71, 34, 2))).toEqual(set)
  })
  it('round-trips sets with long runs and gaps; the empty set is no bytes', () => {
    for (const set of [[], [0], [1], [7, 8, 9, 300, 301, 5000], Array.from({ length: 200 }, (_, i) => i * 3)]) {
      expect(decodeRlePlus(encodeRlePlus(set))).toEqual(set)
    }
    expect(encodeRlePlus([]).length).toBe(0)
  })
  it('refuses a trailing zero byte, a wrong version and more bits than asked for', () => {
    expect(thrown(() => decodeRlePlus(Uint8Array.of(124, 71, 34, 2, 0))).name).toBe('RlePlusError')
    expect(thrown(() => decodeRlePlus(Uint8Array.of(0x01))).name).toBe('RlePlusError')
    expect(thrown(() => decodeRlePlus(encodeRlePlus([0, 1, 2, 3]), 3))).toBeInstanceOf(RlePlusError)
  })
})

describe('the power table', () => {
  it('names Filecoin mainnet\'s and calibnet\'s initial tables by the CIDs in their F3 manifests', () => {
    expect(powerTableCid(tableFromJson(mainnetTableJson)).toString()).toBe(mainnetManifest.InitialPowerTable['/'])
    expect(powerTableCid(tableFromJson(calibnetTableJson)).toString()).toBe(calibnetManifest.InitialPowerTable['/'])
  })
  it('decodes what it encodes, and refuses an oversized or malformed table by name', () => {
    const table = tableFromJson(calibnetTableJson)
    expect(decodePowerTable(encodePowerTable(table))).toEqual(table)
    expect(thrown(() => decodePowerTable(encodePowerTable(table), 10)).code).toBe('OVERSIZED')
    expect(thrown(() => decodePowerTable(Uint8Array.of(0xff))).code).toBe('MALFORMED')
  })
  it('scales to 0xffff and takes a strong quorum at ⌈2/3⌉, as go-f3', () => {
    const { scaled, total } = scalePowerTable([{ id: 1, power: 2n, pubKey: new Uint8Array(48) }, { id: 2, power: 1n, pubKey: new Uint8Array(48) }])
    expect(scaled).toEqual([43690, 21845])
    expect(total).toBe(65535)
    expect(isStrongQuorum(43690, 65535)).toBe(true)
    expect(isStrongQuorum(43689, 65535)).toBe(false)
  })
})

// What a voting node does with BLS (sign, check one vote, sum signatures under weights): mcl-wasm's bytes and
// verdicts are noble's, so a devnet whose nodes use either agrees with Lotus and with each other.
describe.each([
  ['noble', async () => new NobleBdnVerifier()],
  ['mcl-wasm', mclBdnVerifier]
] as Array<[string, () => Promise<F3Bls>]>)('a voting node\'s BLS (%s)', (_name, make) => {
  let bls: F3Bls
  beforeAll(async () => { bls = await make() })
  const sks = [1, 2, 3].map(i => Uint8Array.from({ length: 32 }, (_, j) => j === 31 ? i : j === 0 ? 0x11 : 0))
  const message = new TextEncoder().encode('GPBFT:a-network:payload')

  it('signs as noble does, and checks a signature', () => {
    const sig = bls.sign(sks[0]!, message)
    expect(hex(sig)).toBe(hex(f3Sign(sks[0]!, message)))
    expect(bls.verifyOne(blsPublicKey(sks[0]!), message, sig)).toBe(true)
    expect(bls.verifyOne(blsPublicKey(sks[1]!), message, sig)).toBe(false)
    expect(bls.verifyOne(blsPublicKey(sks[0]!), Uint8Array.of(...message, 0), sig)).toBe(false)
  })

  it('refuses malformed signatures with false and a bad key by name', () => {
    const sig = bls.sign(sks[0]!, message)
    expect(bls.verifyOne(blsPublicKey(sks[0]!), message, sig.subarray(0, 95))).toBe(false)
    const flipped = sig.slice(); flipped[50] = flipped[50]! ^ 1
    expect(bls.verifyOne(blsPublicKey(sks[0]!), message, flipped)).toBe(false)
    expect(thrown(() => bls.verifyOne(new Uint8Array(48).fill(7), message, sig)).name).toBe('BadPublicKeyError')
    expect(thrown(() => bls.aggregateWeighted([sig.subarray(1)], [1n]))).toBeInstanceOf(Error)
  })

  it('sums signatures under weights as noble does', () => {
    const sigs = sks.map(sk => bls.sign(sk, message))
    const weights = [3n, (1n << 128n) + 5n, 1n]
    expect(hex(bls.aggregateWeighted(sigs, weights))).toBe(hex(new NobleBdnVerifier().aggregateWeighted(sigs, weights)))
  })
})

// One suite, two executors (STYLE habit 4): noble's verifier, the reference, and the tab's WASM one (mcl-wasm).
const VERIFIERS: Array<[string, () => Promise<BdnVerifier>]> = [
  ['noble', async () => new NobleBdnVerifier()],
  ['mcl-wasm', mclBdnVerifier]
]
let verifier: BdnVerifier = new NobleBdnVerifier()
function useVerifier (make: () => Promise<BdnVerifier>): void {
  beforeAll(async () => { verifier = await make() })
}
const validateOne = (s: FinalityState, c: FinalityCertificate): FinalityState => validateFinalityCertificate(s, c, { verifier })
const validateAll = (s: FinalityState, cs: readonly FinalityCertificate[]): FinalityState => validateFinalityCertificates(s, cs, { verifier })
/** 64-bit batch weights, drawn as the tab draws them. */
const randomWeights = (n: number): bigint[] => Array.from(crypto.getRandomValues(new BigUint64Array(n)), r => r | 1n)
const validateBatch = (s: FinalityState, cs: readonly FinalityCertificate[]): BatchValidation => validateFinalityCertificateBatch(s, cs, verifier, randomWeights)
/** One at a time, as the batch must agree with: the state after the valid prefix, its length, the first error's code. */
function oneByOne (s: FinalityState, cs: readonly FinalityCertificate[]): { state: FinalityState, accepted: number, code: string | null } {
  let state = s
  for (const [i, c] of cs.entries()) {
    try { state = validateOne(state, c) } catch (e) { return { state, accepted: i, code: (e as CertificateError).code } }
  }
  return { state, accepted: cs.length, code: null }
}
function expectBatchAgrees (s: FinalityState, cs: readonly FinalityCertificate[], accepted: number, code: string | null): void {
  const want = oneByOne(s, cs)
  expect([want.accepted, want.code]).toEqual([accepted, code])
  const got = validateBatch(s, cs)
  expect([got.accepted, got.error?.code ?? null]).toEqual([accepted, code])
  expect(got.state).toEqual(want.state)
}

// Filecoin mainnet's first ten F3 certificates (instances 0–9, epochs 4919580–4919771) as Lotus's
// F3GetCertificate answered them, saved by ChainSafe/rust-f3's fetch_fixtures (lightclient/tests/fixtures),
// verified against mainnet's initial power table of 1,560 participants (~950 sign each).
describe.each(VERIFIERS)('Filecoin mainnet F3 certificates (%s)', (_name, make) => {
  useVerifier(make)
  const mainnetTable = tableFromJson(mainnetTableJson)
  const certs = (mainnetCertsJson as unknown as LotusCertificateJson[]).map(certificateFromLotusJson)
  const start: FinalityState = { network: mainnetManifest.NetworkName, nextInstance: 0, powerTable: mainnetTable }
  const after8 = (): FinalityState => validateAll(start, certs.slice(0, 9))

  it('all ten verify from the initial power table, and the table follows instance 9\'s delta', () => {
    const end = validateAll(start, certs)
    expect(end.nextInstance).toBe(10)
    expect(end.finalized?.epoch).toBe(4919771)
    expect(powerTableCid(end.powerTable).toString()).toBe('bafy2bzaceb5yxdkkdomvwpfejeie5iagpx6ete6qnaaq7x4gt4w7isdi6xp2i')
  }, 180_000)

  it('read from Lotus JSON, written back the same, and through go-f3\'s CBOR unchanged', () => {
    for (const [i, j] of (mainnetCertsJson as unknown as LotusCertificateJson[]).entries()) {
      expect(certificateToLotusJson(certs[i]!)).toEqual(j)
      expect(decodeCertificate(encodeCertificate(certs[i]!))).toEqual(certs[i])
    }
  })

  it('refuses each altered certificate by name: signature, chain, signers, network, power delta', () => {
    const c0 = certs[0]!
    const sig = Uint8Array.from(c0.signature)
    sig[40] = sig[40]! ^ 1
    expect(thrown(() => validateOne(start, { ...c0, signature: sig })).code).toBe('BAD_SIGNATURE')
    const chain = c0.ecChain.map((t, i) => i === 3 ? { ...t, commitments: Uint8Array.of(1, ...t.commitments.subarray(1)) } : t)
    expect(thrown(() => validateOne(start, { ...c0, ecChain: chain })).code).toBe('BAD_SIGNATURE')
    // a bit for a participant that did not sign: the quorum grows, the aggregate key no longer matches
    const signers = decodeRlePlus(c0.signers)
    const absent = mainnetTable.findIndex((_, i) => !signers.includes(i))
    expect(thrown(() => validateOne(start, { ...c0, signers: encodeRlePlus([...signers, absent]) })).code).toBe('BAD_SIGNATURE')
    // and one signer fewer leaves this certificate (43,177 of 64,764 scaled: just over 2/3) short of a quorum
    expect(thrown(() => validateOne(start, { ...c0, signers: encodeRlePlus(signers.slice(1)) })).code).toBe('INSUFFICIENT_POWER')
    expect(thrown(() => validateOne({ ...start, network: calibnetManifest.NetworkName }, c0)).code).toBe('BAD_SIGNATURE')
    const c9 = certs[9]!
    const delta = c9.powerTableDelta.map((d, i) => i === 0 ? { ...d, powerDelta: d.powerDelta + 1n } : d)
    expect(thrown(() => validateOne(after8(), { ...c9, powerTableDelta: delta })).code).toBe('POWER_TABLE_MISMATCH')
  }, 180_000)

  it('checked as one batch, all ten verify, and an altered one keeps the prefix before it and is named', () => {
    const all = validateBatch(start, certs)
    expect([all.accepted, all.error]).toEqual([10, null])
    expect(all.state.finalized?.epoch).toBe(4919771)
    const sig = Uint8Array.from(certs[5]!.signature)
    sig[40] = sig[40]! ^ 1
    const bad = validateBatch(start, certs.map((c, i) => i === 5 ? { ...c, signature: sig } : c))
    expect([bad.accepted, bad.error?.code, bad.error?.instance]).toEqual([5, 'BAD_SIGNATURE', 5])
    expect(bad.state.nextInstance).toBe(5)
    const delta = certs[9]!.powerTableDelta.map((d, i) => i === 0 ? { ...d, powerDelta: d.powerDelta + 1n } : d)
    const wrongDelta = validateBatch(start, certs.map((c, i) => i === 9 ? { ...c, powerTableDelta: delta } : c))
    expect([wrongDelta.accepted, wrongDelta.error?.code]).toEqual([9, 'POWER_TABLE_MISMATCH'])
  }, 180_000)
})

// ---- a devnet of four participants with real BLS keys ----
const secrets = [1, 2, 3, 4].map(i => bls12_381.utils.randomSecretKey(Uint8Array.from({ length: 48 }, (_, j) => (i * 31 + j) % 251 + 1)))
const participants: PowerEntry[] = sortPowerTable(secrets.map((sk, i) => ({ id: 1000 + i, power: BigInt(10 + i) << 30n, pubKey: blsPublicKey(sk) })))
const secretOf = (id: number): Uint8Array => secrets[id - 1000]!
const NETWORK = 'coffer-test'

function tipset (epoch: number, table: readonly PowerEntry[]): F3TipSet {
  const block = chainCid(Uint8Array.of(epoch & 0xff, epoch >> 8))
  return { epoch, key: tipSetKeyBytes([block]), powerTable: powerTableCid(table), commitments: new Uint8Array(32) }
}

/** A certificate of `instance` over `chain`, signed by the table entries at `signerIdx`. */
function certify (p: CertificateProposal, signerIdx: number[]): FinalityCertificate {
  const payload = proposalSigningPayload(p)
  return assembleCertificate(p, new Map(signerIdx.map(i => [i, f3Sign(secretOf(p.powerTable[i]!.id), payload)])))
}

const genesisState: FinalityState = { network: NETWORK, nextInstance: 0, powerTable: participants }
const chain0 = [tipset(0, participants), tipset(1, participants), tipset(2, participants)]
const proposal0: CertificateProposal = { network: NETWORK, instance: 0, ecChain: chain0, powerTable: participants, nextPowerTable: participants }
const cert0 = certify(proposal0, [0, 1, 2])
const grown = sortPowerTable(participants.map(e => e.id === 1000 ? { ...e, power: e.power * 4n } : e))
const chain1 = [chain0[2]!, tipset(3, participants), tipset(4, participants)]
const proposal1: CertificateProposal = { network: NETWORK, instance: 1, ecChain: chain1, powerTable: participants, nextPowerTable: grown }

describe.each(VERIFIERS)('finality certificates (%s)', (_name, make) => {
  useVerifier(make)
  it('round-trips through go-f3\'s CBOR layout', () => {
    const bytes = encodeCertificate(cert0)
    expect(bytes[0]).toBe(0x86) // a 6-field tuple, as cbor-gen writes FinalityCertificate
    expect(decodeCertificate(bytes)).toEqual(cert0)
  })

  it('signs "GPBFT:<network>:" ‖ DECIDE ‖ round 0 ‖ instance ‖ commitments ‖ chain key ‖ power table', () => {
    const payload = certificateSigningPayload(NETWORK, 7, cert0.supplementalData, chain0)
    const prefix = new TextEncoder().encode(`GPBFT:${NETWORK}:`)
    expect(payload.subarray(0, prefix.length)).toEqual(prefix)
    expect(payload[prefix.length]).toBe(5)
    expect(hex(payload.subarray(prefix.length + 1, prefix.length + 17))).toBe('0000000000000000' + '0000000000000007')
    expect(payload.subarray(prefix.length + 49, prefix.length + 81)).toEqual(ecChainKey(chain0))
    expect(payload.subarray(prefix.length + 81)).toEqual(cert0.supplementalData.powerTable.bytes)
  })

  it('a chain of certificates verifies, with its power table following the deltas', () => {
    const s1 = validateOne(genesisState, cert0)
    expect(s1.nextInstance).toBe(1)
    expect(s1.finalized?.epoch).toBe(2)
    const cert1 = certify(proposal1, [0, 1, 2])
    const s2 = validateAll(genesisState, [cert0, cert1])
    expect(s2.nextInstance).toBe(2)
    expect(s2.powerTable).toEqual(grown)
    expect(cert1.powerTableDelta).toEqual([{ participantId: 1000, powerDelta: (10n << 30n) * 3n, signingKey: new Uint8Array(0) }])
  })

  it('refuses signers below 2/3 of the scaled power (INSUFFICIENT_POWER)', () => {
    // the two smallest of 10,11,12,13 hold 21/46 < 2/3
    expect(thrown(() => validateOne(genesisState, certify(proposal0, [2, 3]))).code).toBe('INSUFFICIENT_POWER')
  })

  it('refuses a signer bit for a key that did not sign (BAD_SIGNATURE)', () => {
    const honest = certify(proposal0, [0, 1, 2])
    const claimed = { ...honest, signers: encodeRlePlus([0, 1, 2, 3]) }
    expect(thrown(() => validateOne(genesisState, claimed)).code).toBe('BAD_SIGNATURE')
  })

  it('refuses a signer outside the table (BAD_SIGNER)', () => {
    const c = { ...cert0, signers: encodeRlePlus([0, 1, 2, 9]) }
    expect(thrown(() => validateOne(genesisState, c)).code).toBe('BAD_SIGNER')
  })

  it('refuses a wrong power-table delta (POWER_TABLE_MISMATCH, BAD_POWER_DELTA)', () => {
    const s1 = validateOne(genesisState, cert0)
    const cert1 = certify(proposal1, [0, 1, 2])
    // the signed supplemental data names `grown`; a delta that leads elsewhere is refused
    const wrong = { ...cert1, powerTableDelta: [{ participantId: 1000, powerDelta: 1n, signingKey: new Uint8Array(0) }] }
    expect(thrown(() => validateOne(s1, wrong)).code).toBe('POWER_TABLE_MISMATCH')
    const unsorted = { ...cert1, powerTableDelta: [{ participantId: 1001, powerDelta: 1n, signingKey: new Uint8Array(0) }, { participantId: 1000, powerDelta: 1n, signingKey: new Uint8Array(0) }] }
    expect(thrown(() => validateOne(s1, unsorted)).code).toBe('BAD_POWER_DELTA')
    expect(thrown(() => applyPowerTableDelta(participants, [{ participantId: 5, powerDelta: 10n, signingKey: new Uint8Array(0) }])).code).toBe('BAD_POWER_DELTA')
    expect(thrown(() => applyPowerTableDelta(participants, [{ participantId: 1000, powerDelta: -(20n << 30n), signingKey: new Uint8Array(0) }])).code).toBe('BAD_POWER_DELTA')
    expect(applyPowerTableDelta(participants, makePowerTableDelta(participants, grown))).toEqual(grown)
  })

  it('refuses a chain not linked to the previous certificate (UNLINKED)', () => {
    const s1 = validateOne(genesisState, cert0)
    const off = certify({ ...proposal1, ecChain: [chain0[1]!, tipset(3, participants)] }, [0, 1, 2])
    expect(thrown(() => validateOne(s1, off)).code).toBe('UNLINKED')
  })

  it('refuses a repeated or a skipped instance (WRONG_INSTANCE)', () => {
    const s1 = validateOne(genesisState, cert0)
    expect(thrown(() => validateOne(s1, cert0)).code).toBe('WRONG_INSTANCE')
    const cert2 = certify({ ...proposal1, instance: 2 }, [0, 1, 2])
    expect(thrown(() => validateOne(s1, cert2)).code).toBe('WRONG_INSTANCE')
  })

  it('refuses a certificate of another network, an empty chain and a chain whose epochs do not increase', () => {
    const other = certify({ ...proposal0, network: 'filecoin' }, [0, 1, 2])
    expect(thrown(() => validateOne(genesisState, other)).code).toBe('BAD_SIGNATURE')
    expect(thrown(() => validateOne(genesisState, { ...cert0, ecChain: [] })).code).toBe('EMPTY_CHAIN')
    expect(thrown(() => validateOne(genesisState, { ...cert0, ecChain: [chain0[1]!, chain0[0]!] })).code).toBe('BAD_CHAIN')
  })

  it('refuses a rogue-key aggregate that plain BLS aggregation would accept (BDN)', () => {
    // The attacker registers pk_r = x·G − pk_victim, then "co-signs" with the victim using x alone:
    // without weights pk_r + pk_victim = x·G and x's signature verifies for both. BDN weights break it.
    const G1 = bls12_381.G1.Point
    const x = 0x1234567890abcdefn
    const victim = participants[0]!
    const rogueKey = G1.BASE.multiply(x).subtract(G1.fromBytes(victim.pubKey)).toBytes(true)
    const table = sortPowerTable([victim, { id: 2000, power: victim.power, pubKey: rogueKey }])
    const state: FinalityState = { network: NETWORK, nextInstance: 0, powerTable: table }
    const p: CertificateProposal = { network: NETWORK, instance: 0, ecChain: chain0, powerTable: table, nextPowerTable: table }
    const payload = proposalSigningPayload(p)
    const xSig = bls12_381.longSignatures.hash(payload).multiply(x).toBytes(true)
    // the forgery does verify under plain (unweighted) aggregation: the test can fail
    const plainKey = G1.fromBytes(table[0]!.pubKey).add(G1.fromBytes(table[1]!.pubKey))
    expect(bls12_381.longSignatures.verify(xSig, bls12_381.longSignatures.hash(payload), plainKey)).toBe(true)
    const forged: FinalityCertificate = { ...assembleCertificate(p, new Map([[0, xSig]])), signers: encodeRlePlus([0, 1]), signature: xSig }
    expect(thrown(() => validateOne(state, forged)).code).toBe('BAD_SIGNATURE')
  })

  it('weights keys by coefficients drawn from the whole table (a key\'s weight changes with the table)', () => {
    const keys = participants.map(e => e.pubKey)
    const c = bdnCoefficients(keys)
    expect(c.every(v => v > 1n && v <= 1n << 128n)).toBe(true)
    expect(bdnCoefficients(keys.slice(0, 3))[0]).not.toBe(c[0])
  })

  it('refuses oversized and malformed certificate bytes by name', () => {
    expect(thrown(() => decodeCertificate(new Uint8Array(5 * 1024 * 1024))).code).toBe('OVERSIZED')
    expect(thrown(() => decodeCertificate(Uint8Array.of(0x83, 1, 2, 3))).code).toBe('MALFORMED')
    expect(thrown(() => decodeCertificate(Uint8Array.of(0xff))).name).toBe('CertificateError')
  })

  it('a batch gives what one at a time gives, for every forgery at any place in the chain', () => {
    const cert1 = certify(proposal1, [0, 1, 2])
    const chain2 = [chain1[2]!, tipset(5, grown)]
    const cert2 = certify({ network: NETWORK, instance: 2, ecChain: chain2, powerTable: grown, nextPowerTable: grown }, [0, 1, 2])
    expectBatchAgrees(genesisState, [cert0, cert1, cert2], 3, null)
    expectBatchAgrees(genesisState, [], 0, null)
    const forgeries: Array<[FinalityCertificate, string]> = [
      [{ ...cert1, signers: encodeRlePlus([0, 1, 2, 3]) }, 'BAD_SIGNATURE'],
      [certify({ ...proposal1, network: 'filecoin' }, [0, 1, 2]), 'BAD_SIGNATURE'],
      [{ ...cert1, signature: cert1.signature.subarray(1) }, 'BAD_SIGNATURE'],
      [certify(proposal1, [2, 3]), 'INSUFFICIENT_POWER'],
      [{ ...cert1, signers: encodeRlePlus([0, 1, 2, 9]) }, 'BAD_SIGNER'],
      [{ ...cert1, powerTableDelta: [] }, 'POWER_TABLE_MISMATCH'],
      [certify({ ...proposal1, ecChain: [chain0[1]!, tipset(3, participants)] }, [0, 1, 2]), 'UNLINKED'],
      [cert0, 'WRONG_INSTANCE'],
      // both a bad signature and a bad delta: go-f3 checks the signature first
      [{ ...cert1, powerTableDelta: [], signature: cert0.signature }, 'BAD_SIGNATURE']
    ]
    for (const [forged, code] of forgeries) {
      expectBatchAgrees(genesisState, [cert0, forged, cert2], 1, code)
      expectBatchAgrees(genesisState, [cert0, forged], 1, code)
    }
  })

  it('a batch draws its weights: two signatures altered to cancel out pass unweighted and are refused weighted', () => {
    // σ₀' = σ₀ + Δ and σ₁' = σ₁ − Δ: the plain sum of the two is unchanged, so weights of 1 cannot see it
    const cert1 = certify(proposal1, [0, 1, 2])
    const G2 = bls12_381.G2.Point
    const delta = G2.BASE.multiply(12345n)
    const c0 = { ...cert0, signature: G2.fromBytes(cert0.signature).add(delta).toBytes(true) }
    const c1 = { ...cert1, signature: G2.fromBytes(cert1.signature).subtract(delta).toBytes(true) }
    expect(validateFinalityCertificateBatch(genesisState, [c0, c1], verifier, n => Array<bigint>(n).fill(1n)).accepted).toBe(2)
    const weighted = validateBatch(genesisState, [c0, c1])
    expect([weighted.accepted, weighted.error?.code]).toEqual([0, 'BAD_SIGNATURE'])
  })

  it('keys a chain by go-f3\'s keccak merkle root (leaf 0x01, node 0x00, empty = zero)', () => {
    expect(merkleRoot([])).toEqual(new Uint8Array(32))
    expect(ecChainKey(chain0)).toEqual(merkleRoot([0, 1, 2].map(i => ecChainKeyLeaf(chain0[i]!))))
  })
})

function ecChainKeyLeaf (ts: F3TipSet): Uint8Array {
  // an independent spelling of TipSet.MarshalForSigning, so the two can disagree
  const keyCid = chainCid(new Uint8Array([0x40 + ts.key.length < 0x58 ? 0x40 + ts.key.length : 0x58, ...(ts.key.length >= 24 ? [ts.key.length] : []), ...ts.key])).bytes
  const epoch = new Uint8Array(8)
  new DataView(epoch.buffer).setBigInt64(0, BigInt(ts.epoch))
  return new Uint8Array([...epoch, ...ts.commitments, ...keyCid, ...ts.powerTable.bytes])
}
void CertificateError
