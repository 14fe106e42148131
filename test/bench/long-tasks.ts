// Main-thread stalls of a page over a stretch of a bench (issue 17 part 3: the UI stays smooth while the tab hashes,
// uploads or downloads): every task of the page's main thread that ran 50 ms or more, as Chromium's Long Tasks API
// reports them (PerformanceObserver, type 'longtask'). None reported means no stall reached 50 ms. Each is named by
// the script that ran longest in the long animation frame around it (type 'long-animation-frame', where Chromium
// has it), so a stall says what to fix.
import type { Page } from 'playwright-core'

export interface Stall {
  /** ms after the watch began, on the page's clock */
  atMs: number
  durationMs: number
  /** the longest script in the long animation frame that held it: invoker, function and source; '' when unknown */
  script: string
}

export interface Stalls {
  /** Tasks of 50 ms or more. */
  count: number
  longestMs: number
  totalMs: number
  /** Each of them, longest first. */
  each: Stall[]
}

interface Seen { tasks: Array<{ start: number, duration: number }>, frames: Array<{ start: number, end: number, script: string, scriptMs: number }>, from: number }

/** Starts watching `page`'s main thread; the returned function stops and says what it saw. */
export async function watchStalls (page: Page): Promise<() => Promise<Stalls>> {
  await page.evaluate(() => {
    const w = window as unknown as { __benchStalls?: Seen, __benchStallObservers?: PerformanceObserver[] }
    for (const o of w.__benchStallObservers ?? []) o.disconnect()
    const seen: Seen = { tasks: [], frames: [], from: performance.now() }
    w.__benchStalls = seen
    const tasks = new PerformanceObserver((list) => { for (const e of list.getEntries()) seen.tasks.push({ start: e.startTime, duration: e.duration }) })
    tasks.observe({ type: 'longtask' })
    w.__benchStallObservers = [tasks]
    if (PerformanceObserver.supportedEntryTypes.includes('long-animation-frame')) {
      const frames = new PerformanceObserver((list) => {
        for (const e of list.getEntries()) {
          if (e.duration < 50) continue
          const scripts = (e as unknown as { scripts?: Array<{ duration: number, invoker: string, sourceFunctionName: string, sourceURL: string, sourceCharPosition: number }> }).scripts ?? []
          const top = [...scripts].sort((a, b) => b.duration - a.duration)[0]
          seen.frames.push({
            start: e.startTime,
            end: e.startTime + e.duration,
            script: top === undefined ? '' : `${top.invoker} ${top.sourceFunctionName} ${top.sourceURL.split('/').pop() ?? ''}:${top.sourceCharPosition}`,
            scriptMs: top?.duration ?? 0
          })
        }
      })
      frames.observe({ type: 'long-animation-frame', buffered: false })
      w.__benchStallObservers.push(frames)
    }
  })
  return async () => {
    const seen = await page.evaluate(() => {
      const w = window as unknown as { __benchStalls?: Seen, __benchStallObservers?: PerformanceObserver[] }
      // entries still queued in the observers are taken too
      const [tasks, frames] = w.__benchStallObservers ?? []
      for (const e of tasks?.takeRecords() ?? []) w.__benchStalls?.tasks.push({ start: e.startTime, duration: e.duration })
      void frames?.takeRecords()
      for (const o of w.__benchStallObservers ?? []) o.disconnect()
      return w.__benchStalls ?? { tasks: [], frames: [], from: 0 }
    })
    const each = seen.tasks.map((t): Stall => {
      const frame = seen.frames.find(f => f.start <= t.start + t.duration && t.start <= f.end)
      return { atMs: t.start - seen.from, durationMs: t.duration, script: frame === undefined ? '' : `${frame.script} (${frame.scriptMs.toFixed(0)} ms)` }
    }).sort((a, b) => b.durationMs - a.durationMs)
    const durations = each.map(s => s.durationMs)
    return { count: durations.length, longestMs: Math.max(0, ...durations), totalMs: durations.reduce((s, d) => s + d, 0), each }
  }
}

export const describeStalls = (s: Stalls): string => s.count === 0
  ? 'main thread: no task of 50 ms or more'
  : `main thread: ${s.count} task${s.count === 1 ? '' : 's'} of 50 ms or more, longest ${s.longestMs.toFixed(0)} ms (${s.totalMs.toFixed(0)} ms in all): ` +
    s.each.slice(0, 3).map(x => `${x.durationMs.toFixed(0)} ms at ${(x.atMs / 1000).toFixed(1)} s${x.script === '' ? '' : ` in ${x.script}`}`).join('; ')
