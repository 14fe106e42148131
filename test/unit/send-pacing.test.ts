// Bulk sends into a libp2p stream (src/net/send-pacing.ts): a sender waits for the stream's next drain every time
// the stream says it is full (not only the first time), gives up when the stream closes or its signal fires, and
// puts a large write in slices with the event loop let run between them.
import { describe, it, expect } from 'vitest'
import '../../src/net/polyfills'
import { AbstractMessageStream, type SendResult } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'
import { drained, sendPaced, StreamClosedWhileWaitingError, SEND_SLICE_BYTES, UNPACED_BYTES } from '../../src/net/send-pacing'

const silent = Object.assign(() => {}, { trace: () => {}, error: () => {}, enabled: false, newScope: () => silent })

/** The library's own stream base, over a transport that takes bytes while `full` is false. */
class TestStream extends AbstractMessageStream {
  full = false
  /** Every send fills the transport (each needs a drain before the next). */
  fillsOnEachSend = false
  sends: number[] = []
  constructor () { super({ log: silent as never, direction: 'outbound' }) }
  sendData (data: Uint8ArrayList): SendResult {
    this.sends.push(data.byteLength)
    if (this.fillsOnEachSend) this.full = true
    return { sentBytes: data.byteLength, canSendMore: !this.full }
  }

  sendReset (): void {}
  async sendCloseWrite (): Promise<void> {}
  async sendCloseRead (): Promise<void> {}
  sendPause (): void {}
  sendResume (): void {}
  async close (): Promise<void> {}
  /** The transport drained: the stream is told as a muxer tells it. */
  drain (): void { this.full = false; this.onMuxerDrain() }
}

const settledWithin = async (p: Promise<unknown>, ms: number): Promise<boolean> => {
  let settled = false
  p.then(() => { settled = true }, () => { settled = true })
  await new Promise(resolve => setTimeout(resolve, ms))
  return settled
}

describe('drained', () => {
  it('waits for the next drain every time the stream is full, not only the first', async () => {
    const s = new TestStream()
    s.full = true
    expect(s.send(new Uint8Array(10))).toBe(false)
    const first = drained(s as unknown as Stream)
    expect(await settledWithin(first, 20)).toBe(false)
    s.drain()
    await first
    await new Promise(resolve => setTimeout(resolve, 5))
    s.full = true
    expect(s.send(new Uint8Array(10))).toBe(false)
    expect(s.writableNeedsDrain).toBe(true)
    const second = drained(s as unknown as Stream)
    expect(await settledWithin(second, 20)).toBe(false)
    s.drain()
    await second
  })

  it('(why: the library\'s onDrain() resolves at once after the first drain, however full the stream is)', async () => {
    // If this fails, @libp2p/utils has mended onDrain, and drained() could give way to it.
    const s = new TestStream()
    s.full = true
    s.send(new Uint8Array(10))
    const first = s.onDrain()
    s.drain()
    await first
    await new Promise(resolve => setTimeout(resolve, 5))
    s.full = true
    s.send(new Uint8Array(10))
    expect(s.writableNeedsDrain).toBe(true)
    expect(await settledWithin(s.onDrain(), 20)).toBe(true)
  })

  it('resolves at once when the stream can take more', async () => {
    const s = new TestStream()
    expect(await settledWithin(drained(s as unknown as Stream), 0)).toBe(true)
  })

  it('ends with the stream\'s error when it closes while waiting, and with the signal\'s reason when that fires', async () => {
    const s = new TestStream()
    s.full = true
    s.send(new Uint8Array(10))
    const waiting = drained(s as unknown as Stream)
    s.abort(new Error('the peer went away'))
    await expect(waiting).rejects.toThrow('the peer went away')
    await expect(drained(s as unknown as Stream)).rejects.toBeInstanceOf(StreamClosedWhileWaitingError) // and will never drain
    const t = new TestStream()
    t.full = true
    t.send(new Uint8Array(10))
    const ac = new AbortController()
    const w = drained(t as unknown as Stream, ac.signal)
    ac.abort(new Error('gave up'))
    await expect(w).rejects.toThrow('gave up')
  })

  it('refuses at once to wait on a stream that has ended with bytes unsent', async () => {
    const s = new TestStream()
    s.full = true
    s.send(new Uint8Array(10))
    s.status = 'reset'
    await expect(drained(s as unknown as Stream)).rejects.toBeInstanceOf(StreamClosedWhileWaitingError)
  })
})

describe('sendPaced', () => {
  it('sends a small write at once, and a large one in slices with the event loop run between them', async () => {
    const s = new TestStream()
    await sendPaced(s as unknown as Stream, new Uint8Array(UNPACED_BYTES))
    expect(s.sends).toEqual([UNPACED_BYTES])
    s.sends = []
    const seenBetween: number[] = []
    // another task of the event loop, queued before the write starts and again each time it runs
    let watching = true
    const watch = (): void => { seenBetween.push(s.sends.length); if (watching) setImmediate(watch) }
    setImmediate(watch)
    try {
      await sendPaced(s as unknown as Stream, new Uint8Array(4 * SEND_SLICE_BYTES + 5))
    } finally { watching = false }
    expect(s.sends).toEqual([SEND_SLICE_BYTES, SEND_SLICE_BYTES, SEND_SLICE_BYTES, SEND_SLICE_BYTES, 5])
    // that task ran while the write was part way through: the write did not hold the event loop from start to end
    expect(seenBetween.some(n => n > 0 && n < 5)).toBe(true)
  })

  it('waits for a drain whenever the stream is full, and goes on after it', async () => {
    const s = new TestStream()
    s.fillsOnEachSend = true
    const sending = sendPaced(s as unknown as Stream, new Uint8Array(3 * SEND_SLICE_BYTES))
    for (let slice = 1; slice <= 3; slice++) {
      expect(await settledWithin(sending, 20)).toBe(false)
      expect(s.sends).toEqual(Array(slice).fill(SEND_SLICE_BYTES))
      s.drain()
    }
    await sending
  })
})
