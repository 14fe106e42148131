// The short form of `npm run reliability`'s certificate liars (issue 16 part 2): one try of each lie about finality
// certificates against a fresh light client that knows only the liar, then the honest node.
import { describe, it, expect } from 'vitest'
import { certLiars, CERT_LIES } from '../reliability/liars-certs'

describe('lying peers on finality certificates (short form)', () => {
  it('no forged certificate is stored, no crash, every provable liar dropped, and the honest node then brings the client to its finalized instance', async () => {
    const row = await certLiars({ repeats: 1 })
    expect(row.failures).toEqual([])
    expect(row.tries).toBe(Object.keys(CERT_LIES).length)
    expect({ accepted: row.acceptedLies, crashes: row.crashes, lost: row.dataLost, kept: row.liarsKept }).toEqual({ accepted: 0, crashes: 0, lost: 0, kept: 0 })
  }, 900_000)
})
