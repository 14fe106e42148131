// Length-prefixed frames over a stream that delivers bytes in arbitrary pieces: any chunking gives the
// same frames (fast-check), oversized or truncated frames are named, and the reader pauses the stream while
// it holds many frames and resumes it when it has caught up or is waiting for the rest of one.
import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { varint } from 'multiformats'
import { Uint8ArrayList } from 'uint8arraylist'
import type { Stream } from '@libp2p/interface'
import { FrameReader, FrameError, writeFrame } from '../../src/net/frames'

class FakeStream extends EventTarget {
  readStatus: 'readable' | 'paused' = 'readable'
  maxReadBufferLength = 4 * 2 ** 20
  pauses = 0
  resumes = 0
  sent: Uint8Array[] = []
  pause (): void { this.readStatus = 'paused'; this.pauses++ }
  resume (): void { this.readStatus = 'readable'; this.resumes++ }
  deliver (bytes: Uint8Array | Uint8ArrayList): void { const e = new Event('message') as Event & { data: Uint8Array | Uint8ArrayList }; e.data = bytes; this.dispatchEvent(e) }
  end (error?: Error): void { const e = new Event('close') as Event & { error?: Error }; if (error !== undefined) e.error = error; this.dispatchEvent(e) }
  send (b: Uint8Array): boolean { this.sent.push(b.slice()); return true }
  async onDrain (): Promise<void> {}
}

const frame = (payload: Uint8Array): Uint8Array => {
  const prefix = varint.encodeTo(payload.length, new Uint8Array(varint.encodingLength(payload.length)))
  const out = new Uint8Array(prefix.length + payload.length)
  out.set(prefix)
  out.set(payload, prefix.length)
  return out
}

function split (bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const at = [...new Set(cuts.map(c => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const out: Uint8Array[] = []
  let last = 0
  for (const c of [...at, bytes.length]) { if (c > last) { out.push(bytes.subarray(last, c)); last = c } }
  return out
}

describe('frames', () => {
  it('reads the same frames whatever the chunking', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.uint8Array({ minLength: 0, maxLength: 300 }), { minLength: 1, maxLength: 8 }),
      fc.array(fc.nat(3000), { maxLength: 20 }),
      async (payloads, cuts) => {
        const s = new FakeStream()
        const r = new FrameReader(s as unknown as Stream, 300)
        const all = payloads.map(frame)
        const wire = new Uint8Array(all.reduce((n, f) => n + f.length, 0))
        let at = 0
        for (const f of all) { wire.set(f, at); at += f.length }
        for (const c of split(wire, cuts)) s.deliver(c)
        s.end()
        for (const p of payloads) expect([...(await r.read())!]).toEqual([...p])
        expect(await r.read()).toBeNull()
      }), { numRuns: 200 })
  })

  it('reads the same frames from messages that come in pieces (a Uint8ArrayList, as a decrypting stream hands them)', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.uint8Array({ minLength: 0, maxLength: 300 }), { minLength: 1, maxLength: 8 }),
      fc.array(fc.nat(3000), { maxLength: 20 }),
      fc.array(fc.nat(3000), { maxLength: 20 }),
      async (payloads, cuts, pieceCuts) => {
        const s = new FakeStream()
        const r = new FrameReader(s as unknown as Stream, 300)
        const wire = Uint8Array.from(payloads.flatMap(p => [...frame(p)]))
        // each message a list of pieces, an empty piece among them now and then
        for (const c of split(wire, cuts)) s.deliver(new Uint8ArrayList(...split(c, pieceCuts), new Uint8Array(0)))
        s.end()
        for (const p of payloads) expect([...(await r.read())!]).toEqual([...p])
        expect(await r.read()).toBeNull()
      }), { numRuns: 200 })
  })

  it('names a frame over the limit and a stream that ends inside a frame', async () => {
    const s = new FakeStream()
    const r = new FrameReader(s as unknown as Stream, 10)
    s.deliver(frame(new Uint8Array(11)))
    await expect(r.read()).rejects.toMatchObject({ name: 'FrameError' })
    const t = new FakeStream()
    const q = new FrameReader(t as unknown as Stream, 100)
    t.deliver(frame(new Uint8Array(50)).subarray(0, 20))
    t.end()
    // a cut, not bad bytes: its own name (a retrieval client does not count it as a lie), still a FrameError
    const cut = await q.read().then(() => undefined, (e: Error) => e)
    expect(cut).toMatchObject({ name: 'StreamCutError', message: expect.stringMatching(/inside a frame/) })
    expect(cut).toBeInstanceOf(FrameError)
  })

  it('pauses while it holds many frames, resumes when read down or waiting for a frame\'s rest', async () => {
    const s = new FakeStream()
    const r = new FrameReader(s as unknown as Stream, 100)
    expect(s.maxReadBufferLength).toBeGreaterThanOrEqual(24 * 2 ** 20) // above yamux's 16 MiB window
    for (let i = 0; i < 9; i++) s.deliver(frame(new Uint8Array(100).fill(i)))
    expect(s.readStatus).toBe('paused')
    for (let i = 0; i < 6; i++) expect((await r.read())![0]).toBe(i)
    expect(s.readStatus).toBe('readable') // 3 frames left: under half the pause mark
    // paused again, then only part of a frame left after the whole ones: the reader must resume to get the rest
    for (let i = 0; i < 8; i++) s.deliver(frame(new Uint8Array(100).fill(9)))
    s.deliver(frame(new Uint8Array(100).fill(7)).subarray(0, 50))
    expect(s.readStatus).toBe('paused')
    for (let i = 0; i < 11; i++) await r.read()
    const rest = r.read()
    await Promise.resolve()
    expect(s.readStatus).toBe('readable')
    s.deliver(frame(new Uint8Array(100).fill(7)).subarray(50))
    expect((await rest)![0]).toBe(7)
  })

  it('writes the varint length, then the bytes', async () => {
    const s = new FakeStream()
    await writeFrame(s as unknown as Stream, new Uint8Array(300).fill(1))
    expect([...s.sent[0]!]).toEqual([0xac, 0x02])
    expect(s.sent[1]!.length).toBe(300)
  })
})
