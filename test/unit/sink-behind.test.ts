// A download's sink written behind (src/light/sink-behind.ts): the reader goes on while its writes land, in order;
// flush covers every write handed in before it (a save's recorded offset never runs ahead of the file); a failed
// write fails what comes after it by its own error, and close still releases the file.
import { describe, it, expect } from 'vitest'
import { sinkWritingBehind } from '../../src/light/sink-behind'
import type { DownloadSink } from '../../src/light/download-files'

/** A sink whose writes land only when released, recording the order of everything asked of it. */
function gatedSink (): { sink: DownloadSink, log: string[], release: (err?: Error) => void, pending: () => number } {
  const log: string[] = []
  let open: Array<(err?: Error) => void> = []
  let landed = 0
  return {
    log,
    pending: () => open.length,
    release: (err) => { const o = open; open = []; o.forEach(go => { go(err) }) },
    sink: {
      write: async (offset, bytes, ownBuffer) => {
        log.push(`write ${offset}+${bytes.length}${ownBuffer === true ? ' with its buffer' : ''}`)
        await new Promise<void>((resolve, reject) => { open.push((err) => { if (err === undefined) resolve(); else reject(err) }) })
        landed += bytes.length
      },
      flush: async () => { log.push('flush'); return landed },
      close: async () => { log.push('close') }
    }
  }
}

const tick = async (): Promise<void> => { for (let i = 0; i < 10; i++) await Promise.resolve() }

describe('sinkWritingBehind', () => {
  it('returns from a write before it lands, up to the depth, and writes in order, one at a time', async () => {
    const g = gatedSink()
    const s = sinkWritingBehind(g.sink, 3)
    await s.write(0, new Uint8Array(10))
    await s.write(10, new Uint8Array(5), true)
    // the third would make three outstanding: it waits
    let third = false
    const t = s.write(15, new Uint8Array(1)).then(() => { third = true })
    await tick()
    expect(third).toBe(false)
    expect(g.log).toEqual(['write 0+10']) // one at a time: the second waits for the first to land
    expect(g.pending()).toBe(1)
    g.release()
    await tick()
    expect(third).toBe(true)
    await t
    expect(g.log).toEqual(['write 0+10', 'write 10+5 with its buffer']) // (the frame's buffer handed over with the bytes, as given)
    g.release()
    await tick()
    g.release()
    await tick()
    expect(g.log).toEqual(['write 0+10', 'write 10+5 with its buffer', 'write 15+1'])
  })

  it('flushes only once every write handed in before it has landed', async () => {
    const g = gatedSink()
    const s = sinkWritingBehind(g.sink, 4)
    await s.write(0, new Uint8Array(7))
    await s.write(7, new Uint8Array(3))
    let flushed: number | undefined
    const f = s.flush().then(n => { flushed = n })
    await tick()
    expect(flushed).toBeUndefined()
    expect(g.log).not.toContain('flush')
    g.release()
    await tick()
    expect(flushed).toBeUndefined() // the second write is still out
    g.release()
    await f
    expect(flushed).toBe(10)
    expect(g.log).toEqual(['write 0+7', 'write 7+3', 'flush'])
  })

  it('a failed write fails the next write and the flush with its error; close still closes, then tells it', async () => {
    const g = gatedSink()
    const s = sinkWritingBehind(g.sink, 4)
    class QuotaFull extends Error { override name = 'QuotaFull' }
    await s.write(0, new Uint8Array(1))
    await s.write(1, new Uint8Array(1))
    g.release(new QuotaFull('the disk is full'))
    await tick()
    await expect(s.write(2, new Uint8Array(1))).rejects.toThrow(QuotaFull)
    await expect(s.flush()).rejects.toThrow(QuotaFull)
    await expect(s.close()).rejects.toThrow(QuotaFull)
    // the writes queued behind the failure were never asked of the sink; the file was released
    expect(g.log).toEqual(['write 0+1', 'close'])
  })

  it('a failed write is the error close tells, even when closing fails too', async () => {
    const g = gatedSink()
    const s = sinkWritingBehind({ ...g.sink, close: async () => { g.log.push('close'); throw new Error('the tab is gone') } }, 4)
    class QuotaFull extends Error { override name = 'QuotaFull' }
    await s.write(0, new Uint8Array(1))
    g.release(new QuotaFull('the disk is full'))
    await tick()
    await expect(s.close()).rejects.toThrow(QuotaFull)
    expect(g.log).toEqual(['write 0+1', 'close'])
  })

  it('close waits for the writes, then closes', async () => {
    const g = gatedSink()
    const s = sinkWritingBehind(g.sink, 4)
    await s.write(0, new Uint8Array(2))
    const c = s.close()
    await tick()
    expect(g.log).toEqual(['write 0+2'])
    g.release()
    await c
    expect(g.log).toEqual(['write 0+2', 'close'])
  })
})
