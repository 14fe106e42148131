// Main-thread stalls of a page over a stretch of a bench (issue 17 part 3: the UI stays smooth while the tab hashes,
// uploads or downloads): every task of the page's main thread that ran 50 ms or more, as Chromium's Long Tasks API
// reports them (PerformanceObserver, type 'longtask'). None reported means no stall reached 50 ms.
import type { Page } from 'playwright-core'

export interface Stalls {
  /** Tasks of 50 ms or more. */
  count: number
  longestMs: number
  totalMs: number
}

/** Starts watching `page`'s main thread; the returned function stops and says what it saw. */
export async function watchStalls (page: Page): Promise<() => Promise<Stalls>> {
  await page.evaluate(() => {
    const w = window as unknown as { __benchStalls?: number[], __benchStallObserver?: PerformanceObserver }
    w.__benchStallObserver?.disconnect()
    const seen: number[] = []
    w.__benchStalls = seen
    w.__benchStallObserver = new PerformanceObserver((list) => { for (const e of list.getEntries()) seen.push(e.duration) })
    w.__benchStallObserver.observe({ type: 'longtask' })
  })
  return async () => {
    const durations = await page.evaluate(() => {
      const w = window as unknown as { __benchStalls?: number[], __benchStallObserver?: PerformanceObserver }
      // entries still queued in the observer are taken too
      for (const e of w.__benchStallObserver?.takeRecords() ?? []) w.__benchStalls?.push(e.duration)
      w.__benchStallObserver?.disconnect()
      return w.__benchStalls ?? []
    })
    return { count: durations.length, longestMs: Math.max(0, ...durations), totalMs: durations.reduce((s, d) => s + d, 0) }
  }
}

export const describeStalls = (s: Stalls): string => s.count === 0
  ? 'main thread: no task of 50 ms or more'
  : `main thread: ${s.count} task${s.count === 1 ? '' : 's'} of 50 ms or more, longest ${s.longestMs.toFixed(0)} ms (${s.totalMs.toFixed(0)} ms in all)`
