// One light node served to several ports (the tabs of a SharedWorker), through real MessageChannels: it starts
// once, a port that starts later is sent the current views at once, every change reaches every port, a call's
// reply goes to the port that made it (ids are per port), closing one port aborts its calls and nobody else's,
// and a port that sends junk or floods calls gets named errors while another port's calls go on.
import { describe, it, expect, afterEach } from 'vitest'
import { MessageChannel, type MessagePort } from 'node:worker_threads'
import { createLightNodeHost, type ViewMessage } from '../../src/light/light-node-host'
import { MAX_CALLS_PER_PORT } from '../../src/light/worker-session'
import type { Port, WorkerToPage, PageToWorker } from '../../src/light/worker-protocol'
import type { LightClientStatus } from '../../src/light/status'

let ports: MessagePort[] = []
afterEach(() => { for (const p of ports) p.close(); ports = [] })

interface Tab { send: (m: unknown) => void, seen: WorkerToPage[], until: <T extends WorkerToPage>(pred: (m: WorkerToPage) => m is T) => Promise<T>, close: () => void }

const status = (height: number): LightClientStatus => ({ height } as unknown as LightClientStatus)

function harness (opts: { stopWithLastPort?: boolean } = {}): { tab: () => Tab, host: ReturnType<typeof createLightNodeHost>, publish: (v: ViewMessage) => void, starts: string[], stops: number[], gate: (id: string) => { release: () => void, aborted: () => boolean } } {
  let publishTo: ((v: ViewMessage) => void) | undefined
  const starts: string[] = []
  const stops: number[] = []
  const gates = new Map<string, { release: () => void, promise: Promise<void>, signal?: AbortSignal }>()
  const gate = (id: string): { release: () => void, aborted: () => boolean } => {
    let release = (): void => {}
    const promise = new Promise<void>(resolve => { release = resolve })
    gates.set(id, { release, promise })
    return { release, aborted: () => gates.get(id)?.signal?.aborted === true }
  }
  const host = createLightNodeHost({
    start: async (url, publish) => { starts.push(url); publishTo = publish; publish({ type: 'status', status: status(1) }) },
    // 'blockDetail' with { cid } waits on the named gate until released or aborted; the reply names the cid
    dispatch: async (method, params, ctx) => {
      const cid = (params as { cid: string }).cid
      const g = gates.get(cid)
      if (g !== undefined) {
        g.signal = ctx.signal
        await new Promise<void>((resolve, reject) => {
          void g.promise.then(resolve)
          ctx.signal.addEventListener('abort', () => { reject(ctx.signal.reason as Error) }, { once: true })
        })
      }
      return `${method}:${cid}`
    },
    stop: async () => { stops.push(Date.now()) },
    stopWithLastPort: opts.stopWithLastPort ?? false
  })
  const tab = (): Tab => {
    const { port1, port2 } = new MessageChannel()
    ports.push(port1, port2)
    const conn = host.connect(port2 as unknown as Port)
    const seen: WorkerToPage[] = []
    const waiters: Array<() => void> = []
    port1.on('message', (m: WorkerToPage) => { seen.push(m); for (const w of waiters.splice(0)) w() })
    const until = async <T extends WorkerToPage>(pred: (m: WorkerToPage) => m is T): Promise<T> => {
      for (;;) {
        const found = seen.find(pred)
        if (found !== undefined) return found
        await new Promise<void>(resolve => waiters.push(resolve))
      }
    }
    return { send: (m) => { port1.postMessage(m) }, seen, until, close: conn.close }
  }
  return { tab, host, publish: (v) => { publishTo!(v) }, starts, stops, gate }
}

const reply = (id: number) => (m: WorkerToPage): m is WorkerToPage & { type: 'reply' } => m.type === 'reply' && m.id === id
const statusAt = (h: number) => (m: WorkerToPage): m is WorkerToPage & { type: 'status' } => m.type === 'status' && (m.status as unknown as { height: number }).height === h
const start: PageToWorker = { type: 'start', bootstrapUrl: '/bootstrap.json' }

describe('one light node for several ports', () => {
  it('starts once; a later port gets the current views at once; changes reach every port', async () => {
    const h = harness()
    const a = h.tab()
    a.send(start)
    await a.until(statusAt(1))
    h.publish({ type: 'wallet', wallet: { unlocked: true } as never })
    h.publish({ type: 'status', status: status(5) })
    await a.until(statusAt(5))
    const b = h.tab()
    b.send(start)
    await b.until(statusAt(5))
    await b.until((m): m is WorkerToPage & { type: 'wallet' } => m.type === 'wallet')
    expect(b.seen.some(statusAt(1))).toBe(false) // the last status only, not the history
    expect(h.starts).toEqual(['/bootstrap.json'])
    h.publish({ type: 'status', status: status(6) })
    await Promise.all([a.until(statusAt(6)), b.until(statusAt(6))])
    expect(h.host.ports()).toBe(2)
  })

  it('replies to the port that called, with that port\'s ids', async () => {
    const h = harness()
    const a = h.tab()
    const b = h.tab()
    a.send(start)
    b.send(start)
    a.send({ type: 'call', id: 1, method: 'blockDetail', params: { cid: 'from-a' } })
    b.send({ type: 'call', id: 1, method: 'blockDetail', params: { cid: 'from-b' } })
    const ra = await a.until(reply(1))
    const rb = await b.until(reply(1))
    expect(ra.ok && ra.value).toBe('blockDetail:from-a')
    expect(rb.ok && rb.value).toBe('blockDetail:from-b')
    expect(a.seen.filter(m => m.type === 'reply')).toHaveLength(1)
  })

  it('closing one port aborts its calls and not another\'s; the node keeps running', async () => {
    const h = harness()
    const a = h.tab()
    const b = h.tab()
    a.send(start)
    b.send(start)
    const ga = h.gate('a-slow')
    const gb = h.gate('b-slow')
    a.send({ type: 'call', id: 1, method: 'blockDetail', params: { cid: 'a-slow' } })
    b.send({ type: 'call', id: 1, method: 'blockDetail', params: { cid: 'b-slow' } })
    await new Promise(resolve => setTimeout(resolve, 20))
    a.close()
    await new Promise(resolve => setTimeout(resolve, 20))
    expect(ga.aborted()).toBe(true)
    expect(gb.aborted()).toBe(false)
    gb.release()
    const rb = await b.until(reply(1))
    expect(rb.ok && rb.value).toBe('blockDetail:b-slow')
    expect(h.host.ports()).toBe(1)
    expect(h.stops).toHaveLength(0)
    h.publish({ type: 'status', status: status(9) })
    await b.until(statusAt(9))
    expect(a.seen.some(statusAt(9))).toBe(false)
  })

  it('a stop from one of several ports leaves the node running; from the last, a dedicated worker stops it', async () => {
    const shared = harness()
    const a = shared.tab()
    const b = shared.tab()
    a.send(start)
    b.send(start)
    a.send({ type: 'stop' })
    await a.until((m): m is WorkerToPage & { type: 'stopped' } => m.type === 'stopped')
    b.send({ type: 'stop' })
    await b.until((m): m is WorkerToPage & { type: 'stopped' } => m.type === 'stopped')
    expect(shared.stops).toHaveLength(0) // a SharedWorker's node lives while the browser keeps the worker

    const dedicated = harness({ stopWithLastPort: true })
    const only = dedicated.tab()
    only.send(start)
    only.send({ type: 'stop' })
    await only.until((m): m is WorkerToPage & { type: 'stopped' } => m.type === 'stopped')
    expect(dedicated.stops).toHaveLength(1)
  })

  it('junk and floods from one port get named errors; another port is served meanwhile', async () => {
    const h = harness()
    const bad = h.tab()
    const good = h.tab()
    good.send(start)
    for (const junk of [null, 42, 'start', { type: 'nope' }, { type: 'call', id: -1, method: 'x' }, { type: 'call', id: 3 }, { type: 'start' }]) bad.send(junk)
    const refused = await bad.until((m): m is WorkerToPage & { type: 'refused' } => m.type === 'refused' && /start needs/.test(m.error.message))
    expect(refused.error.name).toBe('MalformedWorkerMessageError')
    const noMethod = await bad.until(reply(3))
    expect(!noMethod.ok && noMethod.error.name).toBe('MalformedWorkerMessageError')
    expect(bad.seen.filter(m => m.type === 'refused')).toHaveLength(6)
    // a flood: MAX_CALLS_PER_PORT held open, the next refused by name, a duplicate id refused
    h.gate('held')
    for (let id = 0; id < MAX_CALLS_PER_PORT; id++) bad.send({ type: 'call', id: 100 + id, method: 'blockDetail', params: { cid: 'held' } })
    bad.send({ type: 'call', id: 100, method: 'blockDetail', params: { cid: 'held' } })
    bad.send({ type: 'call', id: 9999, method: 'blockDetail', params: { cid: 'held' } })
    const dup = await bad.until(reply(100))
    expect(!dup.ok && dup.error.message).toMatch(/already running/)
    const over = await bad.until(reply(9999))
    expect(!over.ok && over.error.name).toBe('TooManyCallsError')
    good.send({ type: 'call', id: 1, method: 'blockDetail', params: { cid: 'fine' } })
    const r = await good.until(reply(1))
    expect(r.ok && r.value).toBe('blockDetail:fine')
    expect(h.starts).toHaveLength(1)
  })
})
