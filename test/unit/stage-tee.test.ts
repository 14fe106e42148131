// The tee that stages an upload with providers while it is packed: every byte reaches the staging file and
// each live stage in order, the header's final bytes are kept, a slow stage holds the packer back only a
// queue's worth, and a failed stage is dropped without holding anything back.
import { describe, it, expect } from 'vitest'
import { stageTee, type StageTarget } from '../../src/light/stage-tee'

const sink = (): { write: (b: Uint8Array) => Promise<void>, writeAt: (o: number, b: Uint8Array) => Promise<void>, close: () => Promise<void>, bytes: () => Uint8Array } => {
  const parts: Uint8Array[] = []
  return {
    write: async (b) => { parts.push(b.slice()) },
    writeAt: async (o, b) => { parts[0]!.set(b, o) },
    close: async () => {},
    bytes: () => { const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0)); let at = 0; for (const p of parts) { out.set(p, at); at += p.length } return out }
  }
}

const collecting = (into: Uint8Array[], gate?: () => Promise<void>): StageTarget => ({
  stage: async (chunks) => {
    let n = 0
    for await (const c of chunks) { if (gate !== undefined) await gate(); into.push(c); n += c.length }
    return n
  }
})

describe('stageTee', () => {
  it('sends every byte to the staging sink and to each stage, in order; keeps the rewritten header as head; close stays the inner one', async () => {
    const inner = sink()
    const a: Uint8Array[] = []
    const b: Uint8Array[] = []
    const tee = stageTee(inner, [collecting(a), collecting(b)])
    const buf = new Uint8Array(1000)
    for (let i = 0; i < 10; i++) { buf.fill(i); await tee.sink.write(buf) } // the packer reuses its buffer
    await tee.sink.writeAt(0, new Uint8Array([9, 9, 9]))
    expect(await tee.end()).toEqual([{ held: 10_000 }, { held: 10_000 }])
    const joined = (parts: Uint8Array[]): number[] => parts.flatMap(p => [...p])
    expect(joined(a)).toEqual(joined(b))
    expect(joined(a).slice(0, 3)).toEqual([0, 0, 0]) // stages hold the placeholder; head carries the real bytes
    expect(joined(a).slice(9000)).toEqual(new Array(1000).fill(9))
    expect([...tee.head()!]).toEqual([9, 9, 9])
    expect([...inner.bytes().subarray(0, 4)]).toEqual([9, 9, 9, 0])
    expect(tee.sink.close).toBe(inner.close)
  })

  it('stages get the bytes when the staging sink moves them to another worker (a shared node\'s tab)', async () => {
    const moved: Uint8Array[] = []
    const inner = {
      // as postMessage with a transfer list does: the caller's buffer is left empty
      write: async (b: Uint8Array) => { moved.push(new Uint8Array(structuredClone(b.buffer, { transfer: [b.buffer as ArrayBuffer] }))) },
      writeAt: async (_o: number, b: Uint8Array) => { structuredClone(b.buffer, { transfer: [b.buffer as ArrayBuffer] }) }
    }
    const got: Uint8Array[] = []
    const tee = stageTee(inner, [collecting(got)])
    for (let i = 0; i < 3; i++) await tee.sink.write(new Uint8Array(1000).fill(i + 1))
    await tee.sink.writeAt(0, new Uint8Array([7, 7]))
    expect((await tee.end())[0]!.held).toBe(3000)
    expect(got.flatMap(p => [...p])).toEqual(moved.flatMap(p => [...p]))
    expect([...got[2]!.subarray(0, 3)]).toEqual([3, 3, 3])
    expect([...tee.head()!]).toEqual([7, 7])
  })

  it('a stage that stalls holds the packer back once its queue is full, and lets it go as it drains', async () => {
    let open: () => void = () => {}
    let gate = new Promise<void>(resolve => { open = resolve })
    const got: Uint8Array[] = []
    const tee = stageTee(sink(), [collecting(got, async () => { await gate })], 4096)
    let written = 0
    const writer = (async () => { for (let i = 0; i < 8; i++) { await tee.sink.write(new Uint8Array(1024)); written++ } })()
    await new Promise(resolve => setTimeout(resolve, 50))
    // the stage took one chunk and waits at the gate; four more fill the queue, the sixth write waits
    expect(written).toBeLessThanOrEqual(6)
    expect(written).toBeGreaterThanOrEqual(4)
    open()
    gate = Promise.resolve()
    await writer
    expect(written).toBe(8)
    expect((await tee.end())[0]!.held).toBe(8 * 1024)
  })

  it('a stage that fails is dropped: the packer is never held back by it, and the outcome names the error', async () => {
    const ok: Uint8Array[] = []
    const failing: StageTarget = { stage: async (chunks) => { for await (const _ of chunks) throw new Error('provider went away') ; return 0 } }
    const neverReads: StageTarget = { stage: async () => { throw new Error('dial failed') } }
    const tee = stageTee(sink(), [failing, collecting(ok), neverReads], 2048)
    for (let i = 0; i < 50; i++) await tee.sink.write(new Uint8Array(1024))
    const out = await tee.end()
    expect(out[0]!.error?.message).toBe('provider went away')
    expect(out[1]).toEqual({ held: 50 * 1024 })
    expect(out[2]!.error?.message).toBe('dial failed')
  })
})

describe('stageTee.end(keepUpTo)', () => {
  it('a stage with more than keepUpTo queued stops (its provider keeps what it took); one close behind finishes', async () => {
    let open: () => void = () => {}
    const gate = new Promise<void>(resolve => { open = resolve })
    const slow: Uint8Array[] = []
    const fast: Uint8Array[] = []
    const tee = stageTee(sink(), [collecting(slow, async () => { await gate }), collecting(fast)], 1 << 20)
    for (let i = 0; i < 8; i++) await tee.sink.write(new Uint8Array(1024))
    const ended = tee.end(4096)
    open()
    const [s, f] = await ended
    // the slow stage had taken one chunk (waiting at the gate) and seven queued: it stops after the one
    expect(s!.held).toBe(1024)
    expect(f!.held).toBe(8 * 1024)
  })
})
