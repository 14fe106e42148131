// The typed worker interface driven through a real MessageChannel, as the page drives the worker: a declared
// call answers, an undeclared one is refused by name, a call needing the chain waits for it or says why,
// and a call's progress and reply carry its id.
import { describe, it, expect, afterEach } from 'vitest'
import { MessageChannel, type MessagePort } from 'node:worker_threads'
import { runLightClient } from '../../src/light/run-worker'
import type { Port, WorkerToPage, PageToWorker } from '../../src/light/worker-protocol'

let ports: MessagePort[] = []
afterEach(() => { for (const p of ports) p.close(); ports = [] })

function connect (): { send: (m: PageToWorker) => void, reply: (id: number) => Promise<WorkerToPage & { type: 'reply' }> } {
  const { port1, port2 } = new MessageChannel()
  ports.push(port1, port2)
  runLightClient(port2 as unknown as Port)
  const seen: WorkerToPage[] = []
  const waiters: Array<() => void> = []
  port1.on('message', (m: WorkerToPage) => { seen.push(m); for (const w of waiters.splice(0)) w() })
  const reply = async (id: number): Promise<WorkerToPage & { type: 'reply' }> => {
    for (;;) {
      const r = seen.find((m): m is WorkerToPage & { type: 'reply' } => m.type === 'reply' && m.id === id)
      if (r !== undefined) return r
      await new Promise<void>(resolve => waiters.push(resolve))
    }
  }
  return { send: (m) => { port1.postMessage(m) }, reply }
}

describe('typed worker calls', () => {
  it('answers a declared call with its id', async () => {
    const w = connect()
    w.send({ type: 'call', id: 7, method: 'measureSignatures', params: { count: 1 } })
    const r = await w.reply(7)
    expect(r.ok).toBe(true)
    if (r.ok) expect((r.value as { count: number }).count).toBe(1)
  }, 60_000)

  it('refuses a method it does not declare, by name, without touching Object.prototype', async () => {
    const w = connect()
    w.send({ type: 'call', id: 1, method: 'toString' as never, params: {} })
    const r = await w.reply(1)
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.error.message).toMatch(/no call named toString/)
  })

  it('a call that needs the chain before the client started says so', async () => {
    const w = connect()
    w.send({ type: 'call', id: 2, method: 'blockDetail', params: { cid: 'x' } })
    const r = await w.reply(2)
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.error.message).toMatch(/not running/)
  })
})
