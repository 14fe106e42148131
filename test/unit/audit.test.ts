// Spot audits without a network: the wire codec's strictness and bounds, leaf drawing from given bytes, the answer
// check with the TypeScript and the WASM path verifier (each failure by its code), the per-peer rate limit on a
// driven clock, provider choice lowering a provider with failed audits, the deals database's version 2 upgrade
// keeping version 1's data, and which audits count against a provider.
import { describe, it, expect, beforeAll } from 'vitest'
import * as dagCbor from '@ipld/dag-cbor'
import { openDB } from 'idb'
import {
  encodeAuditRequest, decodeAuditRequest, encodeAuditReply, decodeAuditReply, drawAuditLeaves, payloadLeafCount, auditRandomBytes,
  verifyAuditProof, checkAuditNonce, encodePossessionProof, pieceDigest, pieceCidV1, PieceHasher, chooseProviders,
  AUDIT_NONCE_BYTES, MAX_AUDIT_LEAVES, MAX_AUDIT_REPLY_BYTES, type AuditRequest, type StorageAsk, type AttoFil
} from '../../src/core'
import { PeerRateLimit } from '../../src/net/audit-protocol'
import { openDealStore, dealsDbName } from '../../src/light/deal-store'
import { createAuditService } from '../../src/light/audit-service'
import type { AuditRecord } from '../../src/light/audit-store'
import { loadPieceWasm } from '../helpers/wasm'
import type { PieceWasm } from '../../workers/wasm/piece-wasm'

const payload = new Uint8Array(70_000).map((_, i) => (i * 31 + (i >> 9)) & 0xff)
const digest = pieceDigest(payload)
const pieceCid = pieceCidV1(digest.root)
const padded = digest.paddedBytes
const nonce = new Uint8Array(AUDIT_NONCE_BYTES).fill(9)
const req = (o: Partial<AuditRequest> = {}): AuditRequest => ({ dealId: 7, pieceCid, leaves: [3, 100, 2000], nonce, ...o })

/** The honest answer for `leaves` of the test payload. */
function proofFor (leaves: number[], bytes = payload): Uint8Array {
  const h = new PieceHasher(undefined, leaves)
  h.write(bytes)
  h.digest()
  const paths = new Map(h.paths().map(p => [p.leaf, p]))
  return encodePossessionProof(leaves.map(l => ({ piece: 0, ...paths.get(l)! })))
}

let wasm: PieceWasm
beforeAll(async () => { wasm = await loadPieceWasm() })

describe('audit wire', () => {
  it('round-trips requests and answers, and refuses what is not one request with one encoding', () => {
    expect(decodeAuditRequest(encodeAuditRequest(req()))).toEqual(req())
    const reply = { kind: 'proof' as const, nonce, proof: new Uint8Array([1, 2, 3]) }
    expect(decodeAuditReply(encodeAuditReply(reply))).toEqual(reply)
    expect(decodeAuditReply(encodeAuditReply({ kind: 'rejected', code: 'LOST', message: 'gone' }))).toEqual({ kind: 'rejected', code: 'LOST', message: 'gone' })
    const code = (f: () => unknown): string => { try { f(); return 'none' } catch (err) { return `${(err as Error).name}/${(err as { code: string }).code}` } }
    expect(code(() => decodeAuditRequest(dagCbor.encode([7, pieceCid, [1], new Uint8Array(15)])))).toBe('AuditRejectedError/MALFORMED')
    expect(code(() => decodeAuditRequest(dagCbor.encode([7, pieceCid, [], nonce])))).toBe('AuditRejectedError/RANGE')
    expect(code(() => decodeAuditRequest(dagCbor.encode([7, pieceCid, Array.from({ length: MAX_AUDIT_LEAVES + 1 }, (_, i) => i), nonce])))).toBe('AuditRejectedError/RANGE')
    expect(code(() => decodeAuditRequest(dagCbor.encode([7, pieceCid, [2 ** 40], nonce])))).toBe('AuditRejectedError/RANGE')
    expect(code(() => decodeAuditRequest(dagCbor.encode([7, pieceCid, [-1], nonce])))).toBe('AuditRejectedError/MALFORMED')
    expect(code(() => decodeAuditRequest(dagCbor.encode([7, pieceCid, [1.5], nonce])))).toBe('AuditRejectedError/MALFORMED')
    expect(code(() => decodeAuditRequest(dagCbor.encode([7, pieceCid, [1], nonce, 'extra'])))).toBe('AuditRejectedError/MALFORMED')
    expect(code(() => decodeAuditRequest(dagCbor.encode({ dealId: 7 })))).toBe('AuditRejectedError/MALFORMED')
    expect(code(() => decodeAuditRequest(new Uint8Array(2000)))).toBe('AuditRejectedError/MALFORMED')
    // the same request with its deal ID in a longer integer than it needs: not canonical, refused
    const good = encodeAuditRequest(req())
    expect(code(() => decodeAuditRequest(new Uint8Array([0x84, 0x18, 7, ...good.subarray(2)])))).toBe('AuditRejectedError/MALFORMED')
    expect(code(() => decodeAuditReply(dagCbor.encode(['rejected', 'SORRY', 'x'])))).toBe('AuditRejectedError/MALFORMED')
    expect(code(() => decodeAuditReply(dagCbor.encode(['proof', nonce])))).toBe('AuditRejectedError/MALFORMED')
    expect(code(() => decodeAuditReply(new Uint8Array(MAX_AUDIT_REPLY_BYTES + 1)))).toBe('AuditRejectedError/MALFORMED')
    expect(() => encodeAuditRequest(req({ leaves: [] }))).toThrow(expect.objectContaining({ code: 'RANGE' }))
  })

  it('draws leaves from the given bytes, below the payload\'s leaves, and refuses bad counts', () => {
    const leaves = payloadLeafCount(payload.length, padded)
    expect(leaves).toBe(Math.ceil(70_000 / 127) * 4)
    const bytes = new Uint8Array(auditRandomBytes(8)).map((_, i) => i * 37 + 1)
    const a = drawAuditLeaves(bytes, leaves, 8)
    expect(a).toEqual(drawAuditLeaves(bytes, leaves, 8))
    expect(a.every(l => l >= 0 && l < leaves)).toBe(true)
    const chosen = new Uint8Array(16)
    new DataView(chosen.buffer).setBigUint64(0, 5n)
    new DataView(chosen.buffer).setBigUint64(8, BigInt(leaves + 2))
    expect(drawAuditLeaves(chosen, leaves, 2)).toEqual([5, 2])
    expect(() => drawAuditLeaves(bytes, leaves, 0)).toThrow(RangeError)
    expect(() => drawAuditLeaves(bytes, leaves, MAX_AUDIT_LEAVES + 1)).toThrow(RangeError)
    expect(() => drawAuditLeaves(bytes.subarray(0, 63), leaves, 8)).toThrow(RangeError)
    expect(payloadLeafCount(10 ** 9, padded)).toBe(padded / 32)
  })
})

describe('audit answers', () => {
  const leaves = [3, 100, 2000, 2000]
  for (const [name, check] of [['TypeScript', undefined], ['WASM', 'wasm']] as const) {
    it(`the ${name} verifier passes the honest answer and fails every wrong one by its code`, () => {
      const c = check === undefined ? undefined : wasm.verifyMerklePath
      const good = proofFor(leaves)
      expect(() => { verifyAuditProof(pieceCid, padded, leaves, good, c) }).not.toThrow()
      const fails = (proof: Uint8Array, asked = leaves): string => { try { verifyAuditProof(pieceCid, padded, asked, proof, c); return 'passed' } catch (err) { return (err as { code: string }).code } }
      expect(fails(proofFor([100, 3, 2000, 2000]))).toBe('WRONG_LEAVES')
      expect(fails(proofFor(leaves.slice(0, 3)))).toBe('WRONG_LEAVES')
      expect(fails(good, [3, 100, 2000, 2001])).toBe('WRONG_LEAVES')
      const changed = payload.slice()
      changed[2000 * 32 * 127 / 128]! ^= 1
      expect(fails(proofFor(leaves, changed))).toBe('BAD_PATH')
      const other = dagCbor.decode(good) as unknown[][]
      expect(fails(dagCbor.encode(other.map(([, leaf, v, p]) => [1, leaf, v, p])))).toBe('WRONG_LEAVES')
      expect(fails(dagCbor.encode(other.map(([piece, leaf, v, p]) => [piece, leaf, v, (p as Uint8Array[]).slice(1)])))).toBe('BAD_PATH')
      expect(fails(new Uint8Array([0x82, 0x01]))).toBe('MALFORMED')
      // the right paths for another piece (same size): the root comes from the deal, not the answer
      const otherCid = pieceCidV1(pieceDigest(changed).root)
      expect(() => { verifyAuditProof(otherCid, padded, leaves, good, c) }).toThrow(expect.objectContaining({ code: 'BAD_PATH' }))
    })
  }

  it('an answer with another request\'s nonce fails WRONG_NONCE', () => {
    expect(() => { checkAuditNonce(req(), nonce) }).not.toThrow()
    expect(() => { checkAuditNonce(req(), new Uint8Array(AUDIT_NONCE_BYTES)) }).toThrow(expect.objectContaining({ name: 'AuditFailedError', code: 'WRONG_NONCE' }))
  })
})

describe('audit limits and choice', () => {
  it('a peer gets a burst, then one audit per refill; other peers are not affected', () => {
    let now = 0
    const rate = new PeerRateLimit({ burst: 3, refillMs: 1000 }, () => now)
    expect([rate.take('a'), rate.take('a'), rate.take('a'), rate.take('a')]).toEqual([true, true, true, false])
    expect(rate.take('b')).toBe(true)
    now = 999
    expect(rate.take('a')).toBe(false)
    now = 1000
    expect(rate.take('a')).toBe(true)
    expect(rate.take('a')).toBe(false)
    // idle long enough, a peer has its whole burst again, never more
    now = 60_000
    expect([rate.take('a'), rate.take('a'), rate.take('a'), rate.take('a')]).toEqual([true, true, true, false])
  })

  it('a provider with failed audits is chosen after every clean one, whatever its price', () => {
    const ask = (price: bigint): StorageAsk => ({
      pricePerGiBEpoch: price as AttoFil, verifiedPricePerGiBEpoch: 0n as AttoFil, minPieceSize: 128, maxPieceSize: 2 ** 30, miner: new Uint8Array([0]), timestamp: 0, expiry: 1e6, seqNo: 0,
      freeBytes: 2 ** 30, collateralPerGiB: 0n as AttoFil, retrievalPricePerGiB: 0n as AttoFil, paymentInterval: 2 ** 20, paymentIntervalIncrease: 2 ** 20
    } as StorageAsk)
    const cheap = { provider: new Uint8Array([1]), ask: ask(1_000_000_000n), faults: 0 }
    const dear = { provider: new Uint8Array([2]), ask: ask(5_000_000_000n), faults: 0 }
    expect(chooseProviders([dear, cheap], 2 ** 20, 1)[0]!.provider).toEqual(cheap.provider)
    expect(chooseProviders([dear, { ...cheap, failedAudits: 1 }], 2 ** 20, 1)[0]!.provider).toEqual(dear.provider)
  })
})

describe('audit records', () => {
  it('the deals database upgrades from version 1 with its uploads and verdicts kept', async () => {
    const genesis = `upgrade-${Math.random()}`
    const v1 = await openDB(dealsDbName(genesis), 1, { upgrade (db) { db.createObjectStore('uploads', { keyPath: 'id' }); db.createObjectStore('verdicts', { keyPath: 'key' }) } })
    await v1.put('uploads', { id: 'u1', name: 'a.txt' })
    await v1.put('verdicts', { key: '5/0', dealId: 5, period: 0, ok: true, checkedAtMs: 1, checkMs: 1 })
    v1.close()
    const store = await openDealStore(genesis)
    expect((await store.uploads()).map(u => u.id)).toEqual(['u1'])
    expect((await store.verdicts()).map(v => v.key)).toEqual(['5/0'])
    expect(await store.audits()).toEqual([])
    const a: AuditRecord = { key: '5/1', dealId: 5, provider: 't01001', pieceCid: String(pieceCid), trigger: 'manual', epoch: 10, startedAtMs: 1, leaves: [1], outcome: 'passed', roundTripMs: 3, verifyMs: 1 }
    await store.putAudit(a)
    await store.putSetting('auditEveryMinutes', 10)
    store.close()
    const again = await openDealStore(genesis)
    expect(await again.audits()).toEqual([a])
    expect(await again.setting('auditEveryMinutes')).toBe(10)
    expect((await again.uploads()).map(u => u.id)).toEqual(['u1'])
    again.close()
  })

  it('failed audits always count against a provider; unanswered ones only until it passes again', async () => {
    const store = await openDealStore(`counts-${Math.random()}`)
    const rec = (dealId: number, t: number, outcome: AuditRecord['outcome'], provider = 't01001'): AuditRecord =>
      ({ key: `${dealId}/${t}`, dealId, provider, pieceCid: String(pieceCid), trigger: 'schedule', epoch: t, startedAtMs: t, leaves: [1], outcome })
    for (const r of [rec(1, 1, 'unanswered'), rec(1, 2, 'failed'), rec(1, 3, 'passed'), rec(1, 4, 'unanswered'), rec(2, 1, 'unanswered', 't01002'), rec(2, 2, 'passed', 't01002')]) await store.putAudit(r)
    const s = await createAuditService({
      libp2p: null as never, store, target: () => null, liveDeals: () => [], head: () => 0, verify: async () => {}, changed: () => {}
    })
    s.stop()
    expect(s.failuresOf()).toEqual(new Map([['t01001', 2]]))
    expect(s.auditsOf(1).map(a => a.startedAtMs)).toEqual([1, 2, 3, 4])
    expect(s.everyMinutes()).toBe(60)
    await expect(s.auditNow(9)).rejects.toMatchObject({ name: 'AuditNotPossibleError' })
    await expect(s.setEveryMinutes(-1)).rejects.toThrow(RangeError)
    store.close()
  })
})
