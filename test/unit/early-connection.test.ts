// The page's early connection to its node (issue 14): what the node sends before the app has loaded is kept for it —
// the latest of each snapshot, every one-off message in order — and handed over when the app takes the connection.
import { describe, it, expect } from 'vitest'
import { connectEarly, takeConnection, earlyStatus } from '../../src/app/early-connection'
import type { LightClientConnection, NodeKind } from '../../src/app/light-client-port'
import type { WorkerToPage } from '../../src/light/worker-protocol'
import type { LightClientStatus } from '../../src/light/status'

describe('early connection', () => {
  it('keeps the latest snapshots and every other message until the app takes it, then forwards; a second take connects anew', () => {
    let send: (msg: WorkerToPage) => void = () => {}
    let tell: (kind: NodeKind) => void = () => {}
    let connects = 0
    const connect = (onMessage: (msg: WorkerToPage) => void, onKind: (kind: NodeKind) => void): LightClientConnection => {
      connects++
      send = onMessage
      tell = onKind
      return { kind: 'shared', call: (async () => { throw new Error('unused') }) as LightClientConnection['call'], stop: () => {} }
    }
    const status = (h: number): WorkerToPage => ({ type: 'status', status: { verifiedHeight: h } as LightClientStatus })
    connectEarly(connect)
    connectEarly(connect) // a second call keeps the first connection
    expect(connects).toBe(1)
    send(status(1))
    send({ type: 'refused', error: { name: 'E', message: 'one' } })
    send(status(2))
    tell('leader')
    // what the app's first render shows: the latest status, still handed on when it takes the connection
    expect(earlyStatus()).toEqual({ verifiedHeight: 2 })
    const got: WorkerToPage[] = []
    const kinds: NodeKind[] = []
    takeConnection(m => got.push(m), k => kinds.push(k), connect)
    expect(got).toEqual([status(2), { type: 'refused', error: { name: 'E', message: 'one' } }])
    expect(kinds).toEqual(['leader'])
    expect(earlyStatus()).toBe(null) // taken
    send(status(3))
    expect(got.at(-1)).toEqual(status(3))
    takeConnection(() => {}, () => {}, connect)
    expect(connects).toBe(2)
  })
  const quiet = (): { connect: (onMessage: (msg: WorkerToPage) => void) => LightClientConnection, send: (msg: WorkerToPage) => void } => {
    let send: (msg: WorkerToPage) => void = () => {}
    return {
      connect: (onMessage) => { send = onMessage; return { kind: 'shared', call: (async () => { throw new Error('unused') }) as LightClientConnection['call'], stop: () => {} } },
      send: (msg) => { send(msg) }
    }
  }
  const saved = { verifiedHeight: 7, syncState: 'syncing' } as LightClientStatus

  it('hands on the saved status as the first status, read at once (the app\'s first render shows it), and saves each status the node sends', () => {
    const n = quiet()
    const wrote: LightClientStatus[] = []
    connectEarly(n.connect, () => saved, (s) => { wrote.push(s) })
    expect(earlyStatus()).toEqual(saved)
    expect(wrote).toEqual([]) // (the saved one is not written back)
    const got: WorkerToPage[] = []
    takeConnection(m => got.push(m), () => {}, n.connect)
    expect(got).toEqual([{ type: 'status', status: saved }])
    n.send({ type: 'status', status: { verifiedHeight: 9 } as LightClientStatus })
    expect(got.at(-1)).toEqual({ type: 'status', status: { verifiedHeight: 9 } })
    expect(wrote).toEqual([{ verifiedHeight: 9 }])
  })

  it('with a saved status the node is asked for only when the app takes the connection (a reload paints first); without, at once', () => {
    let connects = 0
    const n = quiet()
    const counted = (onMessage: (msg: WorkerToPage) => void): LightClientConnection => { connects++; return n.connect(onMessage) }
    connectEarly(counted, () => saved, () => {})
    expect(connects).toBe(0)
    expect(earlyStatus()).toEqual(saved)
    const got: WorkerToPage[] = []
    takeConnection(m => got.push(m), () => {}, counted)
    expect(connects).toBe(1)
    n.send({ type: 'status', status: { verifiedHeight: 9 } as LightClientStatus })
    expect(got).toEqual([{ type: 'status', status: saved }, { type: 'status', status: { verifiedHeight: 9 } }])
    // a first load (nothing saved): the node's worker loads beside the app's script
    connectEarly(counted, () => null, () => {})
    expect(connects).toBe(2)
    takeConnection(() => {}, () => {}, counted)
    expect(connects).toBe(2)
  })
})
