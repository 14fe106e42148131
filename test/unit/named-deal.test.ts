// A provider's "published as deal N", judged from the verified chain: this proposal under N is confirmed, another
// proposal under N is a lie at once, and no deal under N is a lie only once the state is past the proposal's start
// (the market refuses to publish a deal whose start has passed), never before.
import { describe, it, expect } from 'vitest'
import { CID } from 'multiformats/cid'
import { pieceCidV1, idAddressBytes, secpAddressBytes, type DealProposal, type DealRecord } from '../../src/core'
import { judgeNamedDeal, NOT_PUBLISHED_MARGIN } from '../../src/light/named-deal'

const ours: DealProposal = {
  pieceCid: pieceCidV1(new Uint8Array(32).fill(1)), pieceSize: 1 << 20, verifiedDeal: false, client: secpAddressBytes(new Uint8Array(65).fill(4)),
  provider: idAddressBytes(1001), label: 'bafy-root', startEpoch: 100, endEpoch: 150, storagePricePerEpoch: 7n, providerCollateral: 600n, clientCollateral: 0n
}
const onChain = (proposal: DealProposal): DealRecord => ({
  dealId: 9,
  proposal,
  state: { sectorStartEpoch: 100, lastUpdatedEpoch: -1, slashEpoch: -1, proofs: CID.parse('bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'), consecutiveFaults: 0 },
  periods: []
})

describe('judgeNamedDeal', () => {
  it('confirms this proposal under the named ID', () => {
    expect(judgeNamedDeal('t01001', 9, ours, onChain(ours), 50)).toEqual({ kind: 'confirmed' })
  })

  it('calls another proposal under the ID a DealMismatchError, at any height', () => {
    const v = judgeNamedDeal('t01001', 9, ours, onChain({ ...ours, label: 'someone else' }), 50)
    expect(v).toMatchObject({ kind: 'lied', error: { name: 'DealMismatchError' } })
  })

  it('waits for a missing deal until the state is past the start, then calls it DealNotPublishedError', () => {
    expect(judgeNamedDeal('t01001', 9, ours, null, 60)).toEqual({ kind: 'wait' })
    expect(judgeNamedDeal('t01001', 9, ours, null, ours.startEpoch + NOT_PUBLISHED_MARGIN)).toEqual({ kind: 'wait' })
    const v = judgeNamedDeal('t01001', 9, ours, null, ours.startEpoch + NOT_PUBLISHED_MARGIN + 1)
    expect(v).toMatchObject({ kind: 'lied', error: { name: 'DealNotPublishedError' } })
    if (v.kind === 'lied') expect(v.error.message).toMatch(/t01001 named deal 9, .*never published/)
  })
})
