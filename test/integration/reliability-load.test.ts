// The short form of `npm run reliability`'s load run (issue 16 part 5): three genesis providers and one joined as its
// own process, two client processes uploading, retrieving and auditing for 90 s, one provider's deals corrupted and
// the joined one killed on a schedule.
import { describe, it, expect } from 'vitest'
import { loadRun } from '../reliability/load'

describe('the load run (short form)', () => {
  it('no lost file or deal, every corruption faulted and paid on chain, no wrong byte, no crash, the chain live and memory bounded', async () => {
    const row = await loadRun({ providers: 3, clients: 2, runMs: 90_000, provingPeriod: 10, corruptEveryMs: 20_000, crashEveryMs: 40_000 })
    expect(row.failures).toEqual([])
    expect({ accepted: row.acceptedLies, crashes: row.crashes, lost: row.dataLost }).toEqual({ accepted: 0, crashes: 0, lost: 0 })
    // it did work: deals made and each fault injected
    expect(row.tries).toBeGreaterThan(5)
    expect(row.figures!.find(f => f.startsWith('faults:'))).toMatch(/^faults: [1-9]\d* deals corrupted, [1-9]\d* caught and paid on chain; [1-9]\d* kills/)
  }, 900_000)
})
