// BENCH_PROFILE=1: a Chromium trace of a page's threads with V8's CPU samples (DevTools opens the saved file), and a
// summary printed beside the figures: per thread, where the time went by source file of the app (through dist's
// source maps), so a profile says "yamux window updates" rather than "worker-services-XYZ.js:26". Sampling costs
// the page time: figures taken with a profile running are not the bench's figures.
import { existsSync, readFileSync, mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { BrowserContext, Page } from 'playwright-core'
import { SourceMapConsumer } from 'source-map-js'

export const profiling = (): boolean => process.env.BENCH_PROFILE === '1'

const REPO = fileURLToPath(new URL('../..', import.meta.url))

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

/** Names a sampled frame by the app's source file it came from (through dist's source maps), or what it is. */
function sourceNamer (distDir: string): (f: ProfileNode['callFrame']) => string {
  const maps = new Map<string, SourceMapConsumer | null>()
  return (f: ProfileNode['callFrame']): string => {
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
  const sourceOf = sourceNamer(distDir)
  const lines: string[] = []
  for (const p of profiles.values()) {
    const line = summarizeSamples(threads.get(p.thread) ?? p.thread, p.nodes, p.samples, p.deltas, sourceOf, top)
    if (line !== null) lines.push(line)
  }
  return lines
}

/** One thread's busy time and its `top` sources by self time, or null when it was busy less than 50 ms. */
function summarizeSamples (thread: string, nodes: Map<number, ProfileNode>, samples: number[], deltas: number[], sourceOf: (f: ProfileNode['callFrame']) => string, top: number): string | null {
  const self = new Map<string, number>()
  let busy = 0
  for (let i = 0; i < samples.length; i++) {
    const node = nodes.get(samples[i]!)
    if (node === undefined || ['(idle)', '(program)'].includes(node.callFrame.functionName)) continue
    const ms = (deltas[i + 1] ?? 0) / 1000
    const where = sourceOf(node.callFrame)
    self.set(where, (self.get(where) ?? 0) + ms)
    busy += ms
  }
  if (busy < 50) return null
  const parts = [...self].sort((a, b) => b[1] - a[1]).slice(0, top).map(([where, ms]) => `${where} ${ms.toFixed(0)}`)
  return `${thread}: busy ${busy.toFixed(0)} ms — ${parts.join(' · ')}`
}

/** The flag that opens the DevTools port profileSharedWorker uses (the port is chosen by the browser). */
export const DEVTOOLS_PORT_FLAG = '--remote-debugging-port=0'

/**
 * A V8 CPU profile of the app's SharedWorker (the shared node), which a page's trace does not hold: taken over the
 * DevTools port of a browser launched with DEVTOOLS_PORT_FLAG (its profile folder names the port). The returned
 * function stops it, saves it under bench-profiles/ (DevTools opens a .cpuprofile) and summarizes it by source.
 */
export async function profileSharedWorker (userDataDir: string, name: string, distDir: string): Promise<() => Promise<string[]>> {
  const [port, browserPath] = readFileSync(path.join(userDataDir, 'DevToolsActivePort'), 'utf8').split('\n')
  const ws = new WebSocket(`ws://127.0.0.1:${port}${browserPath}`)
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => { reject(new Error('the DevTools port did not open')) } })
  let next = 1
  type Reply = { result?: unknown, error?: { message: string } }
  const waiting = new Map<number, (r: Reply) => void>()
  // a browser that goes away ends every call with that, rather than leaving the bench waiting for ever
  let gone: Error | undefined
  const end = (err: Error): void => { gone ??= err; for (const w of waiting.values()) w({ error: { message: err.message } }); waiting.clear() }
  ws.onclose = () => { end(new Error('the DevTools connection closed')) }
  ws.onerror = () => { end(new Error('the DevTools connection failed')) }
  ws.onmessage = (e) => {
    const m = JSON.parse(String(e.data)) as Reply & { id?: number }
    if (m.id !== undefined) { waiting.get(m.id)?.(m); waiting.delete(m.id) }
  }
  const send = async <R>(method: string, params: object = {}, sessionId?: string): Promise<R> => {
    if (gone !== undefined) throw gone
    const id = next++
    const reply = new Promise<Reply>(resolve => waiting.set(id, resolve))
    ws.send(JSON.stringify({ id, method, params, ...(sessionId === undefined ? {} : { sessionId }) }))
    // (a deadline only for a DevTools call that never answers: a profile's size does not depend on it)
    const r = await Promise.race([reply, new Promise<Reply>(resolve => setTimeout(() => { resolve({ error: { message: 'no answer in 120 s' } }) }, 120_000).unref())])
    if (r.error !== undefined) throw new Error(`${method}: ${r.error.message}`)
    return r.result as R
  }
  let sessionId: string
  try {
    const { targetInfos } = await send<{ targetInfos: Array<{ targetId: string, type: string }> }>('Target.getTargets')
    const target = targetInfos.find(t => t.type === 'shared_worker')
    if (target === undefined) throw new Error('no SharedWorker is running')
    sessionId = (await send<{ sessionId: string }>('Target.attachToTarget', { targetId: target.targetId, flatten: true })).sessionId
    await send('Profiler.enable', {}, sessionId)
    await send('Profiler.start', {}, sessionId)
  } catch (err) { ws.close(); throw err }
  return async () => {
    try {
      const { profile } = await send<{ profile: CpuProfile }>('Profiler.stop', {}, sessionId)
      return summarizeProfile(profile, name, 'SharedWorker (the shared node)', sourceNamer(distDir))
    } finally { ws.close() }
  }
}

interface CpuProfile { nodes: ProfileNode[], samples: number[], timeDeltas: number[] }

/** Saves a .cpuprofile under bench-profiles/ (DevTools opens it) and summarizes it: its path, then the thread's line. */
function summarizeProfile (profile: CpuProfile, name: string, thread: string, sourceOf: (f: ProfileNode['callFrame']) => string): string[] {
  const dir = path.resolve('bench-profiles')
  mkdirSync(dir, { recursive: true })
  const file = path.join(dir, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`)
  writeFileSync(file, JSON.stringify(profile))
  const line = summarizeSamples(thread, new Map(profile.nodes.map(n => [n.id, n])), profile.samples, profile.timeDeltas, sourceOf, 16)
  return [`profile ${file}`, ...(line === null ? [] : [line])]
}

/**
 * A V8 CPU profile of this process (the bench's own devnet: its full node and providers run here), through Node's
 * inspector. The returned function stops it, saves it under bench-profiles/ and summarizes it by source file.
 */
export async function profileThisProcess (name: string): Promise<() => Promise<string[]>> {
  const { Session } = await import('node:inspector/promises')
  const session = new Session()
  session.connect()
  try {
    await session.post('Profiler.enable')
    await session.post('Profiler.start')
  } catch (err) { session.disconnect(); throw err }
  let stopped = false
  return async () => {
    // (called again from a section's cleanup after a failure: once is enough)
    if (stopped) return []
    stopped = true
    try {
      const { profile } = await session.post('Profiler.stop') as unknown as { profile: CpuProfile }
      const byFile = (f: ProfileNode['callFrame']): string => {
        if (f.functionName === '(garbage collector)') return 'garbage collection'
        if (f.url === undefined || f.url === '') return f.functionName === '' ? '(native)' : f.functionName
        const file = f.url.replace(/^file:\/\//, '')
        return file.includes('node_modules/') ? file.replace(/^.*node_modules\//, '') : path.relative(REPO, file)
      }
      return summarizeProfile(profile, name, 'this process (the devnet)', byFile)
    } finally { session.disconnect() }
  }
}
