// The proof detail the Deal view draws (deal-views describeProof), from a real proof over a real packed CAR:
// each challenge's derivation matches the chain's (the leaf answered is the leaf drawn), every step of an honest
// proof is right, each leaf is placed in the file through the recorded layout, and a tampered sibling turns its
// level and every level above wrong, with the break reported; a step the WASM kernel refuses is wrong too.
import { describe, it, expect, beforeAll } from 'vitest'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import {
  pieceDigest, pieceCidV1, idAddressBytes, secpAddressBytes, challengeSeed, dealProofSet, provePossession, encodePossessionProof, decodePossessionProof,
  type DealRecord
} from '../../src/core'
import { describeProof, proofNodes } from '../../src/light/deal-views'
import { writeUnixfsCar } from '../../src/light/unixfs-car'
import type { CarLayout } from '../../src/core/piece/car-layout'
import { createElement } from 'react'
import { renderToStaticMarkup } from 'react-dom/server'
import { ProofTree } from '../../src/app/ProofTree'

const COUNT = 12
let car: Uint8Array
let file: Uint8Array
let layout: CarLayout
let record: DealRecord
let header: CID
/** The beacon entry of the challenge epoch, in the (stand-in) header that carries it. */
let source: { headerCid: CID, beacon: { round: number, data: Uint8Array } }
const EPOCH = 140

beforeAll(async () => {
  file = new Uint8Array(400_000)
  const v = new DataView(file.buffer)
  for (let i = 0; i + 4 <= file.length; i += 4) v.setUint32(i, Math.imul(i + 3, 2654435761))
  const parts: Uint8Array[] = []
  const r = await writeUnixfsCar([file], { write: async (b) => { parts.push(b.slice()) }, writeAt: async (o, b) => { parts[0]!.set(b, o) } })
  car = new Uint8Array(r.carBytes)
  let at = 0
  for (const p of parts) { car.set(p, at); at += p.length }
  layout = r.layout
  const d = pieceDigest(car)
  header = CID.createV1(0x71, await sha256.digest(new Uint8Array([1, 2, 3])))
  source = { headerCid: header, beacon: { round: 4242, data: new Uint8Array(48).fill(0xab) } }
  const proposal = {
    pieceCid: pieceCidV1(d.root), pieceSize: d.paddedBytes, verifiedDeal: false, client: secpAddressBytes(new Uint8Array(65).fill(4)),
    provider: idAddressBytes(1001), label: r.root.toString(), startEpoch: 100, endEpoch: 200, storagePricePerEpoch: 7n, providerCollateral: 600n, clientCollateral: 20n
  }
  const proofBytes = await provePossession(dealProofSet(proposal), () => [car], challengeSeed(source.beacon, EPOCH, 9), COUNT)
  record = {
    dealId: 9, proposal,
    state: { sectorStartEpoch: 100, lastUpdatedEpoch: -1, slashEpoch: -1, proofs: header, consecutiveFaults: 0 },
    periods: [{ submittedEpoch: 141, proof: header, settled: false, paid: 0n, penalty: 0n, proofBytes }]
  }
})

const withProof = (proofBytes: Uint8Array): DealRecord => ({ ...record, periods: [{ ...record.periods[0]!, proofBytes }] })

describe('the proof detail drawn in the Deal view', () => {
  it('an honest proof: each leaf is the one drawn, every step right, each leaf placed in the file', () => {
    const d = describeProof(record, 0, EPOCH, source, null, { layout, carBytes: car.length })
    expect(d.challenges.length).toBe(COUNT)
    expect(d.tag).toBe(4) // go-state-types WindowedPoStChallengeSeed
    expect(d.layoutRecorded).toBe(true)
    const height = Math.log2(record.proposal.pieceSize / 32)
    for (const c of d.challenges) {
      expect(c.draw.derived).toBe(c.leaf)
      expect(c.draw.leaves).toBe(record.proposal.pieceSize / 32)
      expect(c.ok).toBe(true)
      expect(c.steps.map(s => s.state)).toEqual(Array(height).fill('ok'))
      expect(c.place).not.toBeNull()
      for (const p of c.place!.parts) if (p.kind === 'file') expect(car.subarray(p.start, p.end)).toEqual(file.subarray(p.fileStart, p.fileEnd))
    }
    // an old upload without a layout still draws, saying where it cannot place the leaf
    const old = describeProof(record, 0, EPOCH, source, null, {})
    expect(old.layoutRecorded).toBe(false)
    expect(old.challenges.every(c => c.place === null)).toBe(true)
  })

  const tampered = (challenge: number, level: number): DealRecord => {
    const proofs = decodePossessionProof(record.periods[0]!.proofBytes!)
    const t = proofs[challenge]!.path[level]!.slice()
    t[0]! ^= 1
    proofs[challenge]!.path[level] = t
    return withProof(encodePossessionProof(proofs))
  }

  it('a tampered sibling: nothing below it is called wrong, the top is, and the break is bracketed around it', () => {
    const height = Math.log2(record.proposal.pieceSize / 32)
    for (const k of [0, 4, 9]) {
      const d = describeProof(tampered(0, k), 0, EPOCH, source, null, { layout, carBytes: car.length })
      const c = d.challenges[0]!
      expect(c.ok).toBe(false)
      expect(c.steps[height - 1]!.state).toBe('bad')
      c.steps.forEach((s, j) => { if (s.state === 'bad') expect(j).toBeGreaterThanOrEqual(k); if (s.state === 'ok') expect(j).toBeLessThan(k) })
      // values known here (the other paths, the zero padding) bracket the break around the tampered level
      expect(c.breakAt!.highestOk).toBeLessThan(k)
      expect(c.breakAt!.lowestBad).toBeGreaterThanOrEqual(k)
      expect(d.challenges.slice(1).every(x => x.ok)).toBe(true)
    }
  })

  it('a tampered sibling that other paths pin (the top level: every path holds both halves) is wrong exactly there', () => {
    const height = Math.log2(record.proposal.pieceSize / 32)
    const c = describeProof(tampered(3, height - 1), 0, EPOCH, source, null, { layout, carBytes: car.length }).challenges[3]!
    expect(c.steps.map(s => s.state)).toEqual([...Array(height - 1).fill('ok'), 'bad'])
    expect(c.breakAt).toEqual({ lowestBad: height - 1, highestOk: height - 2 })
  })

  it("a step the WASM kernel refuses is wrong from there up, even when the TypeScript nodes reach the root", () => {
    const nodes = proofNodes(record.periods[0]!.proofBytes!)
    const checks = nodes.map(n => n.path.map(() => true))
    checks[2]![7] = false
    const d = describeProof(record, 0, EPOCH, source, null, { layout, carBytes: car.length, stepChecks: checks })
    expect(d.wasmSteps).toBe(true)
    expect(d.challenges[2]!.ok).toBe(false)
    expect(d.challenges[2]!.steps.slice(7).every(s => s.state === 'bad')).toBe(true)
    expect(d.challenges[2]!.steps[7]!.wasm).toBe(false)
    expect(d.challenges[1]!.ok).toBe(true)
  })

  it('draws it: a path broken at the top says where; an upload without a layout says so', () => {
    const height = Math.log2(record.proposal.pieceSize / 32)
    const html = renderToStaticMarkup(createElement(ProofTree, { detail: describeProof(tampered(3, height - 1), 0, EPOCH, source, null, { layout, carBytes: car.length }) }))
    expect(html.match(/data-testid="proof-tree"/g)?.length).toBe(COUNT)
    expect(html.match(/data-testid="path-break"/g)?.length).toBe(1)
    expect(html).toContain(`The path breaks at level ${height - 1} → ${height}`)
    expect(html.match(/data-testid="tree-step" data-state="bad"/g)?.length).toBe(1)
    expect(html.match(/data-testid="tree-step" data-state="ok"/g)?.length).toBe(COUNT * height - 1)
    const old = renderToStaticMarkup(createElement(ProofTree, { detail: describeProof(record, 0, EPOCH, source, null, {}) }))
    expect(old.match(/Layout not recorded for this upload/g)?.length).toBe(COUNT)
    expect(old).not.toContain('data-testid="path-break"')
  })
})
