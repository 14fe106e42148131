// The short form of `npm run reliability`'s chain liars (issue 16 part 2): one try of each lie on hello, chain
// exchange and block gossip against a fresh light client beside an honest devnet node.
import { describe, it, expect } from 'vitest'
import { chainLiars, CHAIN_LIES } from '../reliability/liars-chain'

describe('lying peers on the chain protocols (short form)', () => {
  it('no lie is stored, no crash, every provable liar dropped, and the client reaches the honest head after each', async () => {
    const row = await chainLiars({ repeats: 1 })
    expect(row.failures).toEqual([])
    expect(row.tries).toBe(Object.keys(CHAIN_LIES).length)
    expect({ accepted: row.acceptedLies, crashes: row.crashes, stalled: row.dataLost, kept: row.liarsKept }).toEqual({ accepted: 0, crashes: 0, stalled: 0, kept: 0 })
  }, 600_000)
})
