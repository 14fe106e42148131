// The short form of `npm run reliability`'s market liars (issue 16 part 2): one try of each lie a provider on chain
// can tell about its ask and about a deal, each followed by a deal the honest provider must store.
import { describe, it, expect } from 'vitest'
import { marketLiars, ASK_LIES, DEAL_LIES } from '../reliability/liars-market'

describe('lying providers on asks and deals (short form)', () => {
  it('no lying ask is quoted, no named deal is taken as ours or locks escrow, no crash, and the honest provider stores the file after each', async () => {
    const row = await marketLiars({ repeats: 1 })
    expect(row.failures).toEqual([])
    expect(row.tries).toBe(ASK_LIES.length + DEAL_LIES.length)
    expect({ accepted: row.acceptedLies, crashes: row.crashes, lost: row.dataLost }).toEqual({ accepted: 0, crashes: 0, lost: 0 })
  }, 900_000)
})
