// Real Filecoin headers (mainnet and calibnet, sources in the fixture) checked with what needs no election
// code yet: their bytes decode to the stated CID and height, their beacon entries verify against drand's
// published keys, and their block signatures verify with the miner's worker key over headerSigningBytes.
import { describe, it, expect } from 'vitest'
import { bls12_381 } from '@noble/curves/bls12-381.js'
import { sha256 } from '@noble/hashes/sha2.js'
import fixture from '../fixtures/filecoin-election-headers.json'
import { unsealHeader, encodeHeader, headerSigningBytes, type BeaconEntry } from '../../src/core/block-header'
import { blsVerify, SIG_TYPE_BLS } from '../../src/core/signature'
import { addressToString } from '../../src/core/address'

const hex = (s: string): Uint8Array => Uint8Array.from(s.match(/../g) ?? [], b => parseInt(b, 16))
const flip = (b: Uint8Array, i: number): Uint8Array => { const c = b.slice(); c[i] = c[i]! ^ 1; return c }

type DrandName = 'quicknet' | 'mainnet' | 'incentinet'
const drandKey = (name: DrandName): Uint8Array => hex(fixture.drand[name].publicKeyHex)

// Local drand check until the lead switches it to src/core/beacon. Message = sha256(prev signature ‖ round u64 BE)
// for chained networks (drand pedersen-bls-chained: G1 key, G2 signature), sha256(round u64 BE) for quicknet
// (bls-unchained-g1-rfc9380: G2 key, G1 signature); both with the _NUL_ DSTs noble uses by default.
function drandVerify (name: DrandName, round: number, sig: Uint8Array, prevSig?: Uint8Array): boolean {
  const r = new Uint8Array(8)
  new DataView(r.buffer).setBigUint64(0, BigInt(round))
  const msg = sha256(prevSig === undefined ? r : Uint8Array.from([...prevSig, ...r]))
  const short = bls12_381.shortSignatures
  const long = bls12_381.longSignatures
  try {
    return name === 'quicknet' ? short.verify(sig, short.hash(msg), drandKey(name)) : long.verify(sig, long.hash(msg), drandKey(name))
  } catch { return false }
}

/** Every entry of a chained header against the one before it, the first against the parent chain's latest. */
function chainVerifies (name: DrandName, entries: BeaconEntry[], prev: { round: number, data: Uint8Array }): boolean {
  let last = prev.data
  for (const e of entries) {
    if (!drandVerify(name, e.round, e.data, last)) return false
    last = e.data
  }
  return true
}

const headers = fixture.headers.map(h => ({ ...h, bytes: hex(h.cborHex) }))

describe('real Filecoin headers: bytes, CID and height', () => {
  it('every header names where it came from', () => {
    const sources = fixture.sources as Record<string, { repo: string, path: string, commit: string }>
    for (const h of headers) {
      const s = sources[h.source]
      expect(s, h.name).toBeDefined()
      expect(s!.repo).toMatch(/^[\w.-]+\/[\w.-]+$/)
      expect(s!.commit).toMatch(/^[0-9a-f]{40}$/)
    }
    expect(headers.length).toBeGreaterThanOrEqual(20)
  })

  for (const h of headers) {
    it(`${h.name} decodes to ${h.cid} at height ${h.height}`, () => {
      const sealed = unsealHeader(h.bytes)
      expect(sealed.cid.toString()).toBe(h.cid)
      expect(sealed.header.height).toBe(h.height)
      expect(sealed.header.timestamp).toBe(h.timestamp)
      expect(addressToString(sealed.header.miner, h.network === 'mainnet' ? 'f' : 't')).toBe(h.miner)
      expect(encodeHeader(sealed.header)).toEqual(h.bytes)
      // one changed byte in the ticket names another block
      expect(unsealHeader(flip(h.bytes, 10)).cid.toString()).not.toBe(h.cid)
    })
  }
})

describe('real Filecoin headers: beacon entries against drand public keys', () => {
  const quicknet = headers.filter(h => h.beacon.drand === 'quicknet')
  const chained = headers.filter(h => h.beacon.drand !== 'quicknet' && h.beacon.prevEntry != null && h.beacon.prevEntry.round !== 0)

  it('covers quicknet (nv22+) and chained headers', () => {
    expect(quicknet.length).toBeGreaterThanOrEqual(4)
    expect(chained.length).toBeGreaterThanOrEqual(10)
  })

  for (const h of quicknet) {
    it(`${h.name}: quicknet entries verify, and not with a changed byte, round or key`, () => {
      const entries = unsealHeader(h.bytes).header.beaconEntries
      expect(entries.length).toBeGreaterThan(0)
      for (const e of entries) {
        expect(e.data.length).toBe(48) // G1 signature
        expect(drandVerify('quicknet', e.round, e.data)).toBe(true)
        expect(drandVerify('quicknet', e.round, flip(e.data, 47))).toBe(false)
        expect(drandVerify('quicknet', e.round + 1, e.data)).toBe(false)
      }
    })
  }

  for (const h of chained) {
    it(`${h.name}: ${h.beacon.drand} entries chain from round ${h.beacon.prevEntry!.round}`, () => {
      const entries = unsealHeader(h.bytes).header.beaconEntries
      const prev = { round: h.beacon.prevEntry!.round, data: hex(h.beacon.prevEntry!.dataHex) }
      expect(entries[0]!.round).toBe(prev.round + 1)
      expect(chainVerifies(h.beacon.drand as DrandName, entries, prev)).toBe(true)
      expect(chainVerifies(h.beacon.drand as DrandName, entries, { ...prev, data: flip(prev.data, 95) })).toBe(false)
      expect(chainVerifies(h.beacon.drand === 'mainnet' ? 'incentinet' : 'mainnet', entries, prev)).toBe(false)
    })
  }

  it('the drand mainnet key verifies its published round 3 (the calibnet nv16 header has no previous entry)', () => {
    const v = fixture.drand.mainnetRound3Vector
    expect(drandVerify('mainnet', v.round, hex(v.signatureHex), hex(v.previousSignatureHex))).toBe(true)
    expect(drandVerify('mainnet', v.round + 1, hex(v.signatureHex), hex(v.previousSignatureHex))).toBe(false)
  })
})

describe('real Filecoin headers: block signature by the worker key', () => {
  const signed = headers.filter(h => h.workerKey !== null)
  const keys = [...new Set(signed.map(h => h.workerKey!.blsPublicKeyHex))]

  it('covers the calibnet nv16 header and three mainnet miners', () => {
    expect(signed.some(h => h.network === 'calibnet')).toBe(true)
    expect(keys.length).toBeGreaterThanOrEqual(4)
  })

  for (const h of signed) {
    it(`${h.name}: BlockSig verifies with ${h.workerKey!.workerId}'s key, not over other bytes or with another key`, () => {
      const header = unsealHeader(h.bytes).header
      const key = hex(h.workerKey!.blsPublicKeyHex)
      expect(header.blockSig?.type).toBe(SIG_TYPE_BLS)
      const signing = headerSigningBytes(header)
      expect(blsVerify(key, signing, header.blockSig!)).toBe(true)
      expect(blsVerify(key, headerSigningBytes({ ...header, timestamp: header.timestamp + 1 }), header.blockSig!)).toBe(false)
      expect(blsVerify(key, h.bytes, header.blockSig!)).toBe(false) // the signed bytes carry BlockSig = null
      const other = keys.find(k => k !== h.workerKey!.blsPublicKeyHex)!
      expect(blsVerify(hex(other), signing, header.blockSig!)).toBe(false)
    })
  }
})
