// What the Deal view shows, from a deal record: period states, payments, the refund and burn of a slashed
// deal, and the durability figure (only challenges landing in the payload count).
import { describe, it, expect } from 'vitest'
import { CID } from 'multiformats/cid'
import { pieceCidV1, idAddressBytes, secpAddressBytes, type DealRecord } from '../../src/core'
import { describeDeal } from '../../src/light/deal-views'
import type { UploadRecord } from '../../src/light/deal-store'

const params = { provingPeriod: 10, challengesPerPeriod: 5, maxConsecutiveFaults: 3 }
const proofs = CID.parse('bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')
const record = (over: Partial<DealRecord['state']>, periods: DealRecord['periods']): DealRecord => ({
  dealId: 4,
  proposal: {
    pieceCid: pieceCidV1(new Uint8Array(32).fill(1)), pieceSize: 1 << 20, verifiedDeal: false, client: secpAddressBytes(new Uint8Array(65).fill(4)),
    provider: idAddressBytes(1001), label: 'bafy-root', startEpoch: 100, endEpoch: 150, storagePricePerEpoch: 7n, providerCollateral: 600n, clientCollateral: 20n
  },
  state: { sectorStartEpoch: 100, lastUpdatedEpoch: -1, slashEpoch: -1, proofs, consecutiveFaults: 0, ...over },
  periods
})
const upload = { id: 'u1', name: 'a.bin', carBytes: 1000 * 127 } as unknown as UploadRecord
const proven = { submittedEpoch: 101, proof: proofs, settled: true, paid: 70n, penalty: 0n, proofBytes: new Uint8Array(1) }
const fault = { submittedEpoch: -1, proof: null, settled: true, paid: 0n, penalty: 100n, proofBytes: null }

describe('deal views', () => {
  it('shows each period, what was paid, and the durability of what was verified here', () => {
    const verdicts = new Map([['4/0', { key: '4/0', dealId: 4, period: 0, ok: true, checkedAtMs: 0, checkMs: 1 }]])
    const v = describeDeal({ record: record({ lastUpdatedEpoch: 120 }, [proven, fault]), height: 121, headerCid: 'h', upload, verdicts, params, head: 121 })
    expect(v.periods.map(p => [p.state, p.verdict])).toEqual([['proven', 'verified'], ['faulted', null], ['open', null], ['pending', null], ['pending', null]])
    expect([v.paid, v.penalties, v.status]).toEqual(['70', '100', 'active'])
    // 1000 chunks of 127 bytes are 4000 of the piece's 32768 leaves; 5 verified challenges
    const share = 4000 / 32768
    expect(v.durability.payloadShare).toBeCloseTo(share, 12)
    expect(v.durability.caught).toBeCloseTo(1 - (1 - 0.01 * share) ** 5, 12)
  })

  it('shows a slashed deal\'s refund (unpaid fee and client collateral) and burnt collateral', () => {
    const v = describeDeal({ record: record({ lastUpdatedEpoch: 130, slashEpoch: 130, consecutiveFaults: 3 }, [fault, fault, fault]), height: 131, headerCid: 'h', upload, verdicts: new Map(), params, head: 131 })
    expect(v.status).toBe('slashed')
    expect(v.refunded).toBe(String(7 * 20 + 20))
    expect(v.burnt).toBe(String(600 - 300))
    expect(v.durability.caught).toBe(0)
    expect(v.periods.slice(3).map(p => p.state)).toEqual(['pending', 'pending'])
  })
})
