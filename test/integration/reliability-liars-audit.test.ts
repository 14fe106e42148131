// The short form of `npm run reliability`'s audit liars (issue 16 part 2): one try of each lie a provider without
// the data can tell an audit, each beside an honest provider that must pass.
import { describe, it, expect } from 'vitest'
import { auditLiars, AUDIT_LIES } from '../reliability/liars-audit'

describe('lying providers on audits (short form)', () => {
  it('no lie passes, no crash, and the honest provider passes every time', async () => {
    const row = await auditLiars({ repeats: 1 })
    expect(row.failures).toEqual([])
    expect(row.tries).toBe(AUDIT_LIES.length)
    expect({ accepted: row.acceptedLies, crashes: row.crashes, wronged: row.dataLost }).toEqual({ accepted: 0, crashes: 0, wronged: 0 })
  }, 300_000)
})
