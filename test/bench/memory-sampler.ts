// JS memory of a page and its workers while a bench drives the app in Chromium, sampled through
// performance.measureUserAgentSpecificMemory (needs a cross-origin isolated page: the devnet's crossOriginIsolated).
import type { Page } from 'playwright-core'

const MiB = 2 ** 20

/**
 * Whether a bench serves the app cross-origin isolated: yes unless BENCH_COI=0. Isolated is what the memory figures
 * need, and the slower of the two deployments: Chromium then puts the shared node's SharedWorker apart from the tab,
 * and every buffer it posts to the tab is copied, moved or not (256 posts of 1 MiB from a SharedWorker to its page,
 * each moved: 1.8–2.0 s isolated, 0.04–0.08 s not; a scratch page on this machine, Chromium 150; tab-ceilings' line
 * "1 MiB buffers from a SharedWorker to the page" is the isolated one). `npm start` serves it not isolated.
 */
export const benchIsolated = (): boolean => process.env.BENCH_COI !== '0'

/** How the app was served, for a bench's heading. */
export const servedAs = (): string => benchIsolated() ? 'served cross-origin isolated (BENCH_COI=0 serves it as npm start does)' : 'served as npm start serves it, not isolated (memory figures need isolation)'

/** One measurement: all JS memory of the page's agent cluster (page + workers), what the page showed then, and who held it. */
export interface MemorySample {
  /** performance.now() in this process when the measurement began (when the label was read) */
  at: number
  bytes: number
  /** the value of the watched attribute when the measurement began, or the fallback when nothing showed it */
  label: string
  /** "page 12.3, light-client 40.1, …" in MiB: the breakdown by who holds the memory (workers by their asset name) */
  breakdown: string
}

/** What the page is showing, read with each sample: `attribute` of the first element matching `selector`. */
export interface SampleLabel { selector: string, attribute: string, otherwise: string }

/**
 * One measurement now, or null where the API is missing (a page that is not cross-origin isolated) or the page
 * is gone. Chromium answers at its next garbage collection unless launched with
 * `--enable-blink-features=ForceEagerMeasureMemory` (then at once): the figure is live memory, not garbage.
 */
export async function measureMemory (page: Page, label: SampleLabel): Promise<MemorySample | null> {
  const at = performance.now()
  const m = await page.evaluate(async (l) => {
    const p = performance as unknown as { measureUserAgentSpecificMemory?: () => Promise<{ bytes: number, breakdown: Array<{ bytes: number, attribution: Array<{ url: string, scope: string }> }> }> }
    if (p.measureUserAgentSpecificMemory === undefined || !crossOriginIsolated) return null
    const label = document.querySelector(l.selector)?.getAttribute(l.attribute) ?? l.otherwise
    const m = await p.measureUserAgentSpecificMemory()
    const parts = new Map<string, number>()
    for (const b of m.breakdown) {
      const who = b.attribution.map(a => a.scope === 'Window' ? 'page' : (a.url.match(/assets\/([a-z-]+)/)?.[1] ?? a.scope)).join('+') || 'shared'
      parts.set(who, (parts.get(who) ?? 0) + b.bytes)
    }
    return { bytes: m.bytes, label, breakdown: [...parts].map(([k, v]) => `${k} ${(v / 2 ** 20).toFixed(1)}`).join(', ') }
  }, label).catch(() => null)
  return m === null ? null : { ...m, at }
}

export interface MemorySampler {
  /** every sample so far, in order */
  readonly samples: MemorySample[]
  /** Stops after the measurement under way; resolves with every sample taken. */
  stop: () => Promise<MemorySample[]>
}

/**
 * Samples `page`'s JS memory until stopped, one measurement after another with `pauseMs` between (a
 * measurement takes as long as it takes: the sampler never queues a second one behind a slow first).
 */
export function sampleMemory (page: Page, label: SampleLabel, pauseMs = 250): MemorySampler {
  const samples: MemorySample[] = []
  let sampling = true
  const loop = (async () => {
    while (sampling) {
      const m = await measureMemory(page, label)
      if (m !== null) samples.push(m)
      await new Promise(resolve => setTimeout(resolve, pauseMs))
    }
  })()
  return {
    samples,
    stop: async () => { sampling = false; await loop; return samples }
  }
}

/** The highest sample, or null when there is none. */
export function peakOf (samples: MemorySample[]): MemorySample | null {
  return samples.reduce<MemorySample | null>((p, s) => p === null || s.bytes > p.bytes ? s : p, null)
}

/** The highest sample per label, in the order labels were first seen. */
export function peaksByLabel (samples: MemorySample[]): Map<string, number> {
  const peaks = new Map<string, number>()
  for (const s of samples) peaks.set(s.label, Math.max(peaks.get(s.label) ?? 0, s.bytes))
  return peaks
}

export const mib = (bytes: number, digits = 1): string => (bytes / MiB).toFixed(digits)
