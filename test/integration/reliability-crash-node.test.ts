// The short form of `npm run reliability`'s node crashes (issue 16 part 4): `coffer devnet` killed with SIGKILL at
// three random moments reopens its folder each time with every payment it had confirmed.
import { describe, it, expect } from 'vitest'
import { crashNode } from '../reliability/crash-node'

describe('a node killed at random moments (short form)', () => {
  it('reopens its folder each time, no lower than its last head, with every confirmed payment', async () => {
    const row = await crashNode({ kills: 3 })
    expect(row.failures).toEqual([])
    expect(row.tries).toBe(3)
    expect({ lost: row.dataLost, crashes: row.crashes }).toEqual({ lost: 0, crashes: 0 })
  }, 300_000)
})
