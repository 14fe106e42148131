// The short form of `npm run reliability`'s retrieval liars (issue 16 part 2): one try of each lie a provider can
// tell in a CAR stream, with an honest provider second in line.
import { describe, it, expect } from 'vitest'
import { retrievalLiars, RETRIEVAL_LIES } from '../reliability/liars-retrieval'

describe('lying providers on retrieval (short form)', () => {
  it('no wrong byte is written, no crash, each provable liar marked, and the honest provider completes the file', async () => {
    const row = await retrievalLiars({ repeats: 1 })
    expect(row.failures).toEqual([])
    expect(row.tries).toBe(Object.keys(RETRIEVAL_LIES).length)
    expect({ accepted: row.acceptedLies, crashes: row.crashes, lost: row.dataLost, kept: row.liarsKept }).toEqual({ accepted: 0, crashes: 0, lost: 0, kept: 0 })
  }, 300_000)
})
