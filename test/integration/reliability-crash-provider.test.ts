// The short form of `npm run reliability`'s provider crashes (issue 16 part 4): `coffer provider run` SIGKILLed three
// times while a client stores files with it; after each restart every deal it published passes an audit, and at the
// end every deal not slashed is proven again.
import { describe, it, expect } from 'vitest'
import { crashProvider } from '../reliability/crash-provider'

describe('a provider killed mid-upload, mid-publish and mid-proof (short form)', () => {
  it('opens its folder after each kill, keeps the data of every deal it published, and proves them again', async () => {
    const row = await crashProvider({ kills: 3 })
    expect(row.failures).toEqual([])
    expect(row.tries).toBe(3)
    expect({ crashes: row.crashes, lost: row.dataLost }).toEqual({ crashes: 0, lost: 0 })
  }, 600_000)
})
