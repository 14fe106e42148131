// BENCH_PROFILE=1: a Chromium trace of a page's threads with V8's CPU samples (DevTools opens the saved file), and a
// summary printed beside the figures: per thread, where the time went by source file of the app (through dist's
// source maps), so a profile says "yamux window updates" rather than "worker-services-XYZ.js:26". Sampling costs
// the page time: figures taken with a profile running are not the bench's figures.
import { existsSync, readFileSync, mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { BrowserContext, Page } from 'playwright-core'
import { SourceMapConsumer } from 'source-map-js'

export const profiling = (): boolean => process.env.BENCH_PROFILE === '1'

const CATEGORIES = ['disabled-by-default-v8.cpu_profiler', 'v8', 'devtools.timeline', 'disabled-by-default-devtools.timeline', 'blink.user_timing']

/** Starts tracing `page`'s renderer (its workers included); the returned function ends it and saves the trace. */
export async function startTrace (context: BrowserContext, page: Page, name: string): Promise<() => Promise<string>> {
  const cdp = await context.newCDPSession(page)
  await cdp.send('Tracing.start', { transferMode: 'ReturnAsStream', traceConfig: { includedCategories: CATEGORIES } } as never)
  return async () => {
    const done = new Promise<string>(resolve => { cdp.on('Tracing.tracingComplete', (e: { stream?: string }) => { resolve(e.stream ?? '') }) })
    await cdp.send('Tracing.end')
    const stream = await done
    const parts: string[] = []
    for (;;) {
      const r = await cdp.send('IO.read', { handle: stream, size: 1 << 20 }) as { data: string, eof: boolean, base64Encoded?: boolean }
      parts.push(r.base64Encoded === true ? Buffer.from(r.data, 'base64').toString() : r.data)
      if (r.eof) break
    }
    await cdp.send('IO.close', { handle: stream })
    const dir = path.resolve('bench-profiles')
    mkdirSync(dir, { recursive: true })
    const file = path.join(dir, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
    writeFileSync(file, parts.join(''))
    return file
  }
}

interface ProfileNode { id: number, parent?: number, callFrame: { functionName: string, url?: string, lineNumber: number, columnNumber: number } }
interface TraceEvent { name: string, pid: number, tid: number, id?: string, args?: { name?: string, data?: { cpuProfile?: { nodes?: ProfileNode[], samples?: number[] }, timeDeltas?: number[] } } }

/** Per thread busy for at least 50 ms: its busy time and the `top` source files by time spent in them (self time). */
export function summarizeTrace (file: string, distDir: string, top = 10): string[] {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as TraceEvent[] | { traceEvents: TraceEvent[] }
  const events = Array.isArray(raw) ? raw : raw.traceEvents
  const threads = new Map<string, string>()
  for (const e of events) if (e.name === 'thread_name') threads.set(`${e.pid}:${e.tid}`, e.args?.name ?? '')
  const profiles = new Map<string, { thread: string, nodes: Map<number, ProfileNode>, samples: number[], deltas: number[] }>()
  for (const e of events) {
    if (e.name === 'Profile') profiles.set(`${e.pid}:${e.id}`, { thread: `${e.pid}:${e.tid}`, nodes: new Map(), samples: [], deltas: [] })
    if (e.name !== 'ProfileChunk') continue
    const p = profiles.get(`${e.pid}:${e.id}`)
    if (p === undefined) continue
    for (const n of e.args?.data?.cpuProfile?.nodes ?? []) p.nodes.set(n.id, n)
    p.samples.push(...(e.args?.data?.cpuProfile?.samples ?? []))
    p.deltas.push(...(e.args?.data?.timeDeltas ?? []))
  }
  const maps = new Map<string, SourceMapConsumer | null>()
  const sourceOf = (f: ProfileNode['callFrame']): string => {
    if (f.functionName === '(garbage collector)') return 'garbage collection'
    if (/^wasm-function/.test(f.functionName) || f.url?.startsWith('wasm') === true) return 'WASM'
    const base = f.url?.split('/').pop() ?? ''
    if (!maps.has(base)) {
      const m = path.join(distDir, 'assets', `${base}.map`)
      maps.set(base, base !== '' && existsSync(m) ? new SourceMapConsumer(JSON.parse(readFileSync(m, 'utf8'))) : null)
    }
    const map = maps.get(base)
    if (map == null) return `${f.functionName || '(anonymous)'} ${base}`.trim()
    const at = map.originalPositionFor({ line: f.lineNumber + 1, column: f.columnNumber })
    return (at.source ?? base).replace(/^.*node_modules\//, '').replace(/^(\.\.\/)+/, '')
  }
  const lines: string[] = []
  for (const p of profiles.values()) {
    const self = new Map<string, number>()
    let busy = 0
    for (let i = 0; i < p.samples.length; i++) {
      const node = p.nodes.get(p.samples[i]!)
      if (node === undefined || ['(idle)', '(program)'].includes(node.callFrame.functionName)) continue
      const ms = (p.deltas[i + 1] ?? 0) / 1000
      const where = sourceOf(node.callFrame)
      self.set(where, (self.get(where) ?? 0) + ms)
      busy += ms
    }
    if (busy < 50) continue
    const parts = [...self].sort((a, b) => b[1] - a[1]).slice(0, top).map(([where, ms]) => `${where} ${ms.toFixed(0)}`)
    lines.push(`${threads.get(p.thread) ?? p.thread}: busy ${busy.toFixed(0)} ms — ${parts.join(' · ')}`)
  }
  return lines
}
