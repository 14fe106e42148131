// The short form of `npm run reliability`'s gateway liars (issue 16 part 2): one try of each lie an HTTP client can
// tell a provider's gateway, each from its own loopback address, beside an honest client paying for ranges.
import { describe, it, expect } from 'vitest'
import { gatewayLiars, GATEWAY_LIES } from '../reliability/liars-gateway'

describe('lying clients of the HTTP gateway (short form)', () => {
  it('nothing served or recorded unpaid, no crash, every client holding resources cut off, and the honest client\'s paid reads exact', async () => {
    const row = await gatewayLiars({ repeats: 1 })
    expect(row.failures).toEqual([])
    expect(row.tries).toBe(Object.keys(GATEWAY_LIES).length)
    expect({ accepted: row.acceptedLies, crashes: row.crashes, lost: row.dataLost, kept: row.liarsKept }).toEqual({ accepted: 0, crashes: 0, lost: 0, kept: 0 })
  }, 900_000)
})
