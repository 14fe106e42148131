// The short form of `npm run reliability`'s state liars (issue 16 part 2): one try of each lie about balances and
// receipts against a fresh light client that knows only the liar, then the honest node.
import { describe, it, expect } from 'vitest'
import { stateLiars, STATE_LIES } from '../reliability/liars-state'

describe('lying peers on state proofs (short form)', () => {
  it('no lie is believed, no crash, every provable liar dropped, and the honest node then gives the honest answers', async () => {
    const row = await stateLiars({ repeats: 1 })
    expect(row.failures).toEqual([])
    expect(row.tries).toBe(Object.keys(STATE_LIES).length)
    expect({ accepted: row.acceptedLies, crashes: row.crashes, lost: row.dataLost, kept: row.liarsKept }).toEqual({ accepted: 0, crashes: 0, lost: 0, kept: 0 })
  }, 600_000)
})
