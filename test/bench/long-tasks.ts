// Main-thread stalls of a page over a stretch of a bench (issue 17 part 3: the UI stays smooth while the tab hashes,
// uploads or downloads): every task of the page's main thread that ran 50 ms or more, as Chromium's Long Tasks API
// reports them (PerformanceObserver, type 'longtask'). None reported means no stall reached 50 ms. Each is named by
// the script that ran longest in the long animation frame around it (type 'long-animation-frame', where Chromium
// has it), so a stall says what to fix.
import type { Page } from 'playwright-core'

export interface Stall {
  /** ms after the watch began (watchStalls' call), on the page's clock */
  atMs: number
  durationMs: number
  /** the longest script in the long animation frame that held it: invoker, function, source and ms; '' when unknown */
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

/** A script of a long animation frame, as the page reports it (PerformanceScriptTiming's fields, plain). */
interface FrameScript { durationMs: number, invoker: string, fn: string, source: string, at: number }

/** What the page keeps while watched; every time in ms on the page's clock (performance.now()). */
interface Watched {
  fromMs: number
  tasks: Array<{ startMs: number, durationMs: number }>
  frames: Array<{ startMs: number, endMs: number, scripts: FrameScript[] }>
}

type WatchWindow = { __benchStalls?: Watched, __benchStallObservers?: PerformanceObserver[] }

/** Starts watching `page`'s main thread; the returned function stops and says what it saw. */
export async function watchStalls (page: Page): Promise<() => Promise<Stalls>> {
  await page.evaluate(() => {
    const w = window as unknown as WatchWindow
    for (const o of w.__benchStallObservers ?? []) o.disconnect()
    const seen: Watched = { fromMs: performance.now(), tasks: [], frames: [] }
    w.__benchStalls = seen
    const tasks = new PerformanceObserver((list) => { for (const e of list.getEntries()) seen.tasks.push({ startMs: e.startTime, durationMs: e.duration }) })
    tasks.observe({ type: 'longtask' })
    w.__benchStallObservers = [tasks]
    if (PerformanceObserver.supportedEntryTypes.includes('long-animation-frame')) {
      const frames = new PerformanceObserver((list) => {
        for (const e of list.getEntries()) {
          if (e.duration < 50) continue
          const scripts = (e as unknown as { scripts?: Array<{ duration: number, invoker: string, sourceFunctionName: string, sourceURL: string, sourceCharPosition: number }> }).scripts ?? []
          seen.frames.push({
            startMs: e.startTime,
            endMs: e.startTime + e.duration,
            scripts: scripts.map(s => ({ durationMs: s.duration, invoker: s.invoker, fn: s.sourceFunctionName, source: s.sourceURL.split('/').pop() ?? '', at: s.sourceCharPosition }))
          })
        }
      })
      frames.observe({ type: 'long-animation-frame', buffered: false })
      w.__benchStallObservers.push(frames)
    }
  })
  return async () => {
    const seen = await page.evaluate(async () => {
      const w = window as unknown as WatchWindow
      // entries not yet delivered reach the observers' callbacks first (a frame's entry comes after the frame ends)
      await new Promise(resolve => setTimeout(resolve, 200))
      for (const o of w.__benchStallObservers ?? []) o.disconnect()
      return w.__benchStalls ?? { fromMs: 0, tasks: [], frames: [] }
    })
    const each = seen.tasks.map((t): Stall => {
      const frame = seen.frames.find(f => f.startMs <= t.startMs + t.durationMs && t.startMs <= f.endMs)
      const top = [...(frame?.scripts ?? [])].sort((a, b) => b.durationMs - a.durationMs)[0]
      return {
        atMs: t.startMs - seen.fromMs,
        durationMs: t.durationMs,
        script: top === undefined ? '' : `${top.invoker} ${top.fn} ${top.source}:${top.at} (${top.durationMs.toFixed(0)} ms)`
      }
    }).sort((a, b) => b.durationMs - a.durationMs)
    const durations = each.map(s => s.durationMs)
    return { count: durations.length, longestMs: Math.max(0, ...durations), totalMs: durations.reduce((s, d) => s + d, 0), each }
  }
}

export const describeStalls = (s: Stalls): string => s.count === 0
  ? 'main thread: no task of 50 ms or more'
  : `main thread: ${s.count} task${s.count === 1 ? '' : 's'} of 50 ms or more, longest ${s.longestMs.toFixed(0)} ms (${s.totalMs.toFixed(0)} ms in all): ` +
    s.each.slice(0, 3).map(x => `${x.durationMs.toFixed(0)} ms ${(x.atMs / 1000).toFixed(1)} s into the watch${x.script === '' ? '' : ` in ${x.script}`}`).join('; ')
