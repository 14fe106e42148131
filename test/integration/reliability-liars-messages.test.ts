// The short form of `npm run reliability`'s message-gossip liars (issue 16 part 2): one try of each lie against an
// honest devnet node's message pool, beside a victim whose genuine transfer must still be included.
import { describe, it, expect } from 'vitest'
import { messageLiars, MESSAGE_LIES } from '../reliability/liars-messages'

describe('lying peers on message gossip (short form)', () => {
  it('no lie reaches the pool or a block, no crash, every provable liar graylisted, and the victim\'s transfer is included', async () => {
    const row = await messageLiars({ repeats: 1 })
    expect(row.failures).toEqual([])
    expect(row.tries).toBe(Object.keys(MESSAGE_LIES).length)
    expect({ accepted: row.acceptedLies, crashes: row.crashes, lost: row.dataLost, kept: row.liarsKept }).toEqual({ accepted: 0, crashes: 0, lost: 0, kept: 0 })
  }, 900_000)
})
