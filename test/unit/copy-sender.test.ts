// Start planning from measured progress (issue 9, defect 1): the pure planning rules, and one copy's sender
// against a scripted provider on a simulated clock: a link slower than planned is re-planned with a newly
// signed proposal before its start is missed, no byte is sent twice, and a provider's START refusal gets a
// later start instead of failing the upload.
import { describe, it, expect } from 'vitest'
import {
  planStartEpoch, startStillReachable, transferEpochs, ThroughputMeter, DealRejectedError, PUBLISH_MARGIN_EPOCHS,
  type ClientDealProposal, type DealProposal
} from '../../src/core'
import { sendCopy, StartRefusedError, MAX_START_REFUSALS, type Replan, type TransferOptions } from '../../src/light/copy-sender'
import { CID } from 'multiformats/cid'

const MiB = 2 ** 20
const PIECE = CID.parse('baga6ea4seaqao7s73y24kcutaosvacpdjgfe5pw76ooefnyqw4ynr3d2y6x2mpq')

describe('start planning', () => {
  it('plans the first period boundary the measured transfer, its slack and the publish margin can make', () => {
    expect(transferEpochs(10 * MiB, MiB, 1)).toBe(10)
    expect(transferEpochs(10 * MiB, MiB, 30)).toBe(1)
    // 100 epochs of transfer ×1.5 + 15 from head 7 → 172, rounded up to the 10-epoch boundary
    expect(planStartEpoch({ head: 7, remainingBytes: 100 * MiB, bytesPerSec: MiB, blockDelaySecs: 1, provingPeriod: 10 })).toBe(180)
    expect(planStartEpoch({ head: 7, remainingBytes: 0, bytesPerSec: MiB, blockDelaySecs: 1, provingPeriod: 10 })).toBe(30)
    expect(planStartEpoch({ head: 7, remainingBytes: 0, bytesPerSec: MiB, blockDelaySecs: 1, provingPeriod: 10, extraEpochs: 10 })).toBe(40)
    expect(planStartEpoch({ head: 0, remainingBytes: 0, bytesPerSec: MiB, blockDelaySecs: 1, provingPeriod: 10 })).toBeGreaterThanOrEqual(PUBLISH_MARGIN_EPOCHS)
    expect(() => transferEpochs(1, 0, 1)).toThrow(RangeError)
    expect(() => transferEpochs(1, Number.NaN, 1)).toThrow(RangeError)
  })

  it('a start is still reachable only if the remaining bytes arrive with time left to publish', () => {
    expect(startStillReachable({ start: 100, head: 50, remainingBytes: 40 * MiB, bytesPerSec: MiB, blockDelaySecs: 1 })).toBe(true)
    expect(startStillReachable({ start: 100, head: 50, remainingBytes: 48 * MiB, bytesPerSec: MiB, blockDelaySecs: 1 })).toBe(false)
  })

  it('measures a rate over a sliding window, and starts over when the count goes back', () => {
    const m = new ThroughputMeter(10_000, 2_000)
    m.add(0, 0)
    expect(m.bytesPerSec()).toBeNull()
    m.add(1_000, MiB)
    expect(m.bytesPerSec()).toBeNull() // under the minimum span
    m.add(4_000, 4 * MiB)
    expect(m.bytesPerSec()).toBeCloseTo(MiB)
    for (let t = 5; t <= 30; t++) m.add(t * 1000, 4 * MiB + (t - 4) * 2 * MiB) // the link doubles
    expect(m.bytesPerSec()).toBeCloseTo(2 * MiB)
    m.add(31_000, MiB) // a fresh stream that resumed lower
    expect(m.bytesPerSec()).toBeNull()
  })
})

/**
 * A provider on a simulated clock, behind a link of `bytesPerSec` with `windowBytes` in flight (the client's
 * send window: written, not yet held). It stages bytes by piece (not by proposal), acknowledges every 4 MiB
 * it holds, refuses a start it cannot publish before, and, like the real one, goes on to publish a proposal
 * whose every byte was written even when the client has hung up meanwhile.
 */
function scriptedProvider (opts: { payloadBytes: number, bytesPerSec: number, windowBytes?: number, blockDelaySecs?: number, refuseStarts?: number, failStreams?: number }) {
  const clock = { ms: 0 }
  const blockMs = (opts.blockDelaySecs ?? 1) * 1000
  const window = opts.windowBytes ?? 16 * MiB
  const ack = 4 * MiB
  let staged = 0
  let bytesSent = 0
  let refusals = opts.refuseStarts ?? 0
  let failures = opts.failStreams ?? 0
  const proposals: DealProposal[] = []
  const deals: DealProposal[] = []
  const head = (): number => Math.floor(clock.ms / blockMs)
  const publish = (p: DealProposal): { dealId: number, message: string, confirmed: boolean } => {
    if (refusals > 0) { refusals--; throw new DealRejectedError('START', 'the deal starts before it could be published', { earliestStart: head() + 5 }) }
    if (p.startEpoch <= head() + 1) throw new DealRejectedError('START', 'the deal starts before it could be published', { earliestStart: head() + 5 })
    clock.ms += 3 * blockMs // hash and publish
    deals.push(p)
    return { dealId: deals.length, message: 'bafy-publish', confirmed: true }
  }
  const transfer = async (signed: ClientDealProposal, o: TransferOptions): Promise<{ dealId: number, message: string, confirmed: boolean }> => {
    const p = signed.proposal
    proposals.push(p)
    const done = deals.find(d => d === p)
    if (done !== undefined) return { dealId: deals.indexOf(done) + 1, message: 'bafy-publish', confirmed: true }
    if (p.startEpoch < head() + 5) throw new DealRejectedError('START', `the start ${p.startEpoch} is too close (head ${head()})`, { earliestStart: head() + 5 })
    let sent = staged
    let delivered = staged
    o.onProgress(staged)
    while (delivered < opts.payloadBytes) {
      if (sent < opts.payloadBytes && sent - delivered < window) {
        const stop = o.stopBeforeNextFrame()
        if (stop !== undefined) { staged = delivered; throw stop } // what was in flight is lost with the stream
        const n = Math.min(MiB, opts.payloadBytes - sent)
        sent += n
        bytesSent += n
        continue
      }
      const n = Math.min(MiB, sent - delivered)
      clock.ms += n / opts.bytesPerSec * 1000
      delivered += n
      staged = delivered
      if (failures > 0 && delivered === 8 * MiB) { failures--; throw new Error('connection reset') }
      if (delivered % ack === 0 || delivered === opts.payloadBytes) o.onProgress(delivered)
      await Promise.resolve()
    }
    return publish(p)
  }
  return { clock, head, transfer, proposals, deals, sent: () => bytesSent }
}

const proposal = (start: number): ClientDealProposal => ({
  proposal: {
    pieceCid: PIECE, pieceSize: 2 ** 30, verifiedDeal: false, client: new Uint8Array([1, 1]), provider: new Uint8Array([0, 0xe9, 7]),
    label: 'root', startEpoch: start, endEpoch: start + 100, storagePricePerEpoch: 1n, providerCollateral: 0n, clientCollateral: 0n
  },
  clientSignature: { type: 1, data: new Uint8Array(65) }
})

const sign = async (p: DealProposal): Promise<ClientDealProposal> => ({ proposal: p, clientSignature: { type: 1, data: new Uint8Array(65) } })

describe('sending one copy', () => {
  it('a link slower than planned is re-planned before the start is missed, and no byte is sent twice', async () => {
    // 1 GiB at 5 MiB/s against a start planned for 16 MiB/s (issue 9's tab sent at 10; the plan's slack covers that alone)
    const payloadBytes = 1024 * MiB
    const prov = scriptedProvider({ payloadBytes, bytesPerSec: 5 * MiB })
    const start = planStartEpoch({ head: 0, remainingBytes: payloadBytes, bytesPerSec: 16 * MiB, blockDelaySecs: 1, provingPeriod: 10 })
    const replans: Replan[] = []
    const r = await sendCopy({
      proposal: proposal(start), payloadBytes, transfer: prov.transfer, sign, head: prov.head, nowMs: () => prov.clock.ms,
      sleep: async () => {}, blockDelaySecs: 1, provingPeriod: 10, onReplan: async (re) => { replans.push(re) }, onProgress: () => {}
    })
    expect(r.dealId).toBe(1)
    expect(prov.deals).toHaveLength(1)
    // bytes the provider held are never sent again; what was in flight when a stream stopped may be
    expect(prov.sent()).toBeLessThanOrEqual(payloadBytes + replans.length * 16 * MiB)
    expect(replans.length).toBeGreaterThanOrEqual(1)
    expect(replans[0]!.reason).toBe('slow')
    expect(replans[0]!.held).toBeLessThan(payloadBytes) // re-planned mid-transfer, not after the last byte
    const last = prov.proposals[prov.proposals.length - 1]!
    expect(last.startEpoch).toBeGreaterThan(start)
    expect(last.endEpoch - last.startEpoch).toBe(100) // the deal keeps its length
    expect(last.startEpoch % 10).toBe(0)
  })

  it('the same slow link planned from a measured rate needs no re-plan', async () => {
    const payloadBytes = 256 * MiB
    const prov = scriptedProvider({ payloadBytes, bytesPerSec: 2 * MiB })
    const start = planStartEpoch({ head: 0, remainingBytes: payloadBytes, bytesPerSec: 2 * MiB, blockDelaySecs: 1, provingPeriod: 10 })
    const replans: Replan[] = []
    await sendCopy({
      proposal: proposal(start), payloadBytes, transfer: prov.transfer, sign, head: prov.head, nowMs: () => prov.clock.ms, knownBytesPerSec: 2 * MiB,
      sleep: async () => {}, blockDelaySecs: 1, provingPeriod: 10, onReplan: async (re) => { replans.push(re) }, onProgress: () => {}
    })
    expect(replans).toEqual([])
  })

  it('a START refusal after the last byte gets a later start; the provider publishes from the staged bytes', async () => {
    const payloadBytes = 8 * MiB
    const prov = scriptedProvider({ payloadBytes, bytesPerSec: 100 * MiB, refuseStarts: 1 })
    const replans: Replan[] = []
    const r = await sendCopy({
      proposal: proposal(30), payloadBytes, transfer: prov.transfer, sign, head: prov.head, nowMs: () => prov.clock.ms,
      sleep: async () => {}, blockDelaySecs: 1, provingPeriod: 10, onReplan: async (re) => { replans.push(re) }, onProgress: () => {}
    })
    expect(r.dealId).toBe(1)
    expect(replans.map(x => x.reason)).toEqual(['refused'])
    expect(prov.proposals[1]!.startEpoch).toBeGreaterThan(30)
    expect(prov.proposals[1]!.startEpoch).toBeGreaterThanOrEqual(prov.head() - 3 + 5 - 10) // from the provider's own earliest start
    expect(prov.sent()).toBe(payloadBytes)
    expect(prov.deals).toEqual([prov.proposals[1]])
  })

  it('a provider that refuses every start is given up after a bounded number of later starts', async () => {
    const prov = scriptedProvider({ payloadBytes: MiB, bytesPerSec: 100 * MiB, refuseStarts: 1000 })
    const err = await sendCopy({
      proposal: proposal(30), payloadBytes: MiB, transfer: prov.transfer, sign, head: prov.head, nowMs: () => prov.clock.ms,
      sleep: async () => {}, blockDelaySecs: 1, provingPeriod: 10, onReplan: async () => {}, onProgress: () => {}
    }).catch((e: Error) => e)
    expect(err).toBeInstanceOf(StartRefusedError)
    expect(prov.proposals.length).toBe(MAX_START_REFUSALS + 1)
    // each later than the one before
    for (let i = 1; i < prov.proposals.length; i++) expect(prov.proposals[i]!.startEpoch).toBeGreaterThan(prov.proposals[i - 1]!.startEpoch)
  })

  it('a re-plan while the wallet is locked stops with the wallet error (the upload waits for unlock), bytes kept', async () => {
    const payloadBytes = 1024 * MiB
    const prov = scriptedProvider({ payloadBytes, bytesPerSec: 10 * MiB })
    const locked = Object.assign(new Error('unlock the wallet first'), { name: 'WalletLockedError' })
    const err = await sendCopy({
      proposal: proposal(80), payloadBytes, transfer: prov.transfer, sign: async () => { throw locked }, head: prov.head, nowMs: () => prov.clock.ms,
      sleep: async () => {}, blockDelaySecs: 1, provingPeriod: 10, onReplan: async () => {}, onProgress: () => {}
    }).catch((e: Error) => e)
    expect(err).toBe(locked)
    expect(prov.sent()).toBeLessThan(payloadBytes)
  })

  it('never stops a stream once every byte is written: the provider decides, and exactly one deal is made', async () => {
    // 24 MiB at 1 MiB/s with a 32 MiB window: every byte is written before the first acknowledgement shows the
    // link is too slow for the start; stopping then would leave the provider publishing the old proposal
    // while the client signed a second one
    const payloadBytes = 24 * MiB
    const prov = scriptedProvider({ payloadBytes, bytesPerSec: MiB, windowBytes: 32 * MiB })
    const replans: Replan[] = []
    const r = await sendCopy({
      proposal: proposal(30), payloadBytes, transfer: prov.transfer, sign, head: prov.head, nowMs: () => prov.clock.ms,
      sleep: async () => {}, blockDelaySecs: 1, provingPeriod: 10, onReplan: async (re) => { replans.push(re) }, onProgress: () => {}
    })
    expect(prov.deals).toHaveLength(1)
    expect(r.dealId).toBe(1)
    expect(prov.sent()).toBe(payloadBytes)
    expect(replans.every(x => x.reason === 'refused')).toBe(true)
  })

  it('a stream that breaks part way resumes from what the provider holds', async () => {
    const payloadBytes = 32 * MiB
    const prov = scriptedProvider({ payloadBytes, bytesPerSec: 64 * MiB, windowBytes: 4 * MiB, failStreams: 1 })
    const waits: number[] = []
    const r = await sendCopy({
      proposal: proposal(60), payloadBytes, transfer: prov.transfer, sign, head: prov.head, nowMs: () => prov.clock.ms,
      sleep: async (ms) => { waits.push(ms) }, blockDelaySecs: 1, provingPeriod: 10, onReplan: async () => {}, onProgress: () => {}
    })
    expect(r.dealId).toBe(1)
    expect(prov.deals).toHaveLength(1)
    expect(waits).toHaveLength(1)
    expect(prov.sent()).toBeLessThanOrEqual(payloadBytes + 4 * MiB) // at most what was in flight, again
  })
})
