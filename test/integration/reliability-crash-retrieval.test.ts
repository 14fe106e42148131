// The short form of `npm run reliability`'s mid-retrieval crashes (issue 16 part 4): a priced provider that joined
// from its own folder is SIGKILLed during three paid `coffer retrieve` downloads; each rerun resumes, the file is
// exact and no voucher is paid twice. (The CLI finds the joined provider from its miner's record on chain.)
import { describe, it, expect } from 'vitest'
import { crashRetrieval } from '../reliability/crash-retrieval'

describe('a provider killed mid-retrieval (short form)', () => {
  it('every download resumes after the restart, is the stored file, and pays for its blocks once', async () => {
    const row = await crashRetrieval({ kills: 3 })
    expect(row.failures).toEqual([])
    expect(row.tries).toBe(3)
    expect(row.dataLost).toBe(0)
  }, 600_000)
})
