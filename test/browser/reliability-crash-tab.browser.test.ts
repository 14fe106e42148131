// The short form of `npm run reliability`'s tab crashes (issue 16 part 4): the app's only page closed at five random
// moments while its node writes IndexedDB; every reopen shows the verified head, the wallet's key and the faucet
// messages it showed before the close.
import { describe, it, expect } from 'vitest'
import { crashTab } from '../reliability/crash-tab'

describe('the tab closed mid-IndexedDB write (short form)', () => {
  it('every reopen finds its stores consistent: nothing it showed is lost, no page error', async () => {
    const row = await crashTab({ closes: 5 })
    expect(row.failures).toEqual([])
    expect(row.tries).toBe(5)
    expect({ crashes: row.crashes, lost: row.dataLost }).toEqual({ crashes: 0, lost: 0 })
  }, 300_000)
})
