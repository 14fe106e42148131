// The deal protocol's rate floor (issue 9, defect 9): a sliding-window average judged only after a grace
// period, so a trickle is dropped and a slow link, or a stall it recovers from, is not.
import { describe, it, expect } from 'vitest'
import { RateFloorMeter, DEFAULT_TRANSFER_RATE_FLOOR } from '../../src/net/deal-protocol'

const floor = { bytesPerSecond: 1000, windowMs: 10_000, graceMs: 20_000 }

/** Feeds the meter `bytesPerSecond` for `seconds`, one sample a second; the first time it says "below". */
function run (m: RateFloorMeter, from: { t: number, bytes: number }, bytesPerSecond: number, seconds: number): number | null {
  for (let i = 0; i < seconds; i++) {
    from.t += 1000
    from.bytes += bytesPerSecond
    if (m.below(from.t, from.bytes) !== null) return from.t
  }
  return null
}

describe('RateFloorMeter', () => {
  it('judges nothing during the grace period, then drops a trickle', () => {
    const m = new RateFloorMeter(floor, 0)
    const at = { t: 0, bytes: 0 }
    // 1 byte a second: far under the floor, yet not judged before the grace ends
    expect(run(m, at, 1, 19)).toBeNull()
    expect(run(m, at, 1, 5)).toBe(20_000)
  })

  it('keeps a link running just above the floor, and one that stalls for most of a window and catches up', () => {
    const steady = new RateFloorMeter(floor, 0)
    expect(run(steady, { t: 0, bytes: 0 }, 1001, 600)).toBeNull()
    // 100 kB/s with a stall of 8 s in every 10: the window's average stays at 20 kB/s
    const bursty = new RateFloorMeter(floor, 0)
    const at = { t: 0, bytes: 0 }
    for (let k = 0; k < 30; k++) {
      expect(run(bursty, at, 100_000, 2)).toBeNull()
      expect(run(bursty, at, 0, 8)).toBeNull()
    }
  })

  it('drops a transfer that was fast and then stopped, once a whole window has passed below the floor', () => {
    const m = new RateFloorMeter(floor, 0)
    const at = { t: 0, bytes: 0 }
    expect(run(m, at, 1_000_000, 30)).toBeNull()
    // 9 s after the stop the window still holds its last fast second; at 10 s it holds nothing
    expect(run(m, at, 0, 20)).toBe(40_000)
  })

  it('measures from where a resumed transfer starts, not from zero', () => {
    const m = new RateFloorMeter(floor, 5_000, 50_000_000)
    // 10 bytes in the 25 s since it resumed: 0.4 bytes/s, not 50 MB over the same time
    expect(m.below(30_000, 50_000_010)).toBeCloseTo(0.4)
  })

  it('defaults to a floor no real uplink runs near: 16 KiB/s over a minute, after a minute', () => {
    expect(DEFAULT_TRANSFER_RATE_FLOOR).toEqual({ bytesPerSecond: 16 * 1024, windowMs: 60_000, graceMs: 60_000 })
  })
})
