// The short form of `npm run reliability`'s full disk (issue 16 part 6): a provider on a small disk of its own that
// fills during two uploads refuses each by name (SPACE), stays up, resumes each from the bytes it kept once there is
// room, and proves the deals. Mounting the disk needs root: without it the test says why and is skipped.
import { describe, it, expect } from 'vitest'
import { diskFull } from '../reliability/disk-full'

describe('a provider whose disk fills (short form)', () => {
  it('refuses by name, loses nothing, and resumes when space returns', async (ctx) => {
    const row = await diskFull({ fills: 2 })
    if (row.skipped !== undefined) { console.log(`disk-full: ${row.skipped}`); ctx.skip(); return }
    expect(row.failures).toEqual([])
    expect(row.tries).toBe(2)
    expect({ crashes: row.crashes, lost: row.dataLost }).toEqual({ crashes: 0, lost: 0 })
  }, 600_000)
})
