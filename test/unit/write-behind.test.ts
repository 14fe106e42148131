// The write-behind queue (src/core/write-behind.ts): writes land in order, one at a time, while the producer
// goes on up to `depth` writes ahead; a failure stops the writes behind it and reaches the producer.
import { describe, it, expect } from 'vitest'
import { writeBehind } from '../../src/core/write-behind'

/** A write that lands only when the test says so. */
function gatedWrites (): { write: (n: number) => Promise<void>, started: number[], landed: number[], release: (err?: Error) => void, running: () => number } {
  const started: number[] = []
  const landed: number[] = []
  let open: Array<{ n: number, go: (err?: Error) => void }> = []
  let running = 0
  let most = 0
  return {
    started,
    landed,
    running: () => most,
    write: async (n) => {
      started.push(n)
      running++
      most = Math.max(most, running)
      try {
        await new Promise<void>((resolve, reject) => { open.push({ n, go: (err) => { if (err === undefined) resolve(); else reject(err) } }) })
        landed.push(n)
      } finally { running-- }
    },
    release: (err) => { const o = open; open = []; o.forEach(w => { w.go(err) }) }
  }
}

const tick = async (): Promise<void> => { for (let i = 0; i < 5; i++) await Promise.resolve() }

describe('writeBehind', () => {
  it('lets the producer go on until depth writes are outstanding, writing one at a time in order', async () => {
    const g = gatedWrites()
    const q = writeBehind(g.write, 3)
    await q.push(1)
    await q.push(2)
    let third = false
    const p3 = q.push(3).then(() => { third = true })
    await tick()
    // three outstanding: the third push waits for the first to land
    expect(third).toBe(false)
    expect(g.started).toEqual([1])
    for (let i = 0; i < 3; i++) { g.release(); await tick(); await tick() }
    await p3
    await q.push(4)
    const drained = q.drain()
    for (let i = 0; i < 3; i++) { g.release(); await tick(); await tick() }
    await drained
    expect(g.landed).toEqual([1, 2, 3, 4])
    expect(g.running()).toBe(1)
  })

  it('fails every later push and the drain with the first failure, writing nothing behind it', async () => {
    const g = gatedWrites()
    const q = writeBehind(g.write, 4)
    await q.push(1)
    await q.push(2)
    g.release(new Error('the disk is full'))
    await tick(); await tick()
    await expect(q.push(3)).rejects.toThrow('the disk is full')
    await expect(q.drain()).rejects.toThrow('the disk is full')
    expect(g.started).toEqual([1])
  })

  it('wakes a producer waiting for room when a write fails', async () => {
    const g = gatedWrites()
    const q = writeBehind(g.write, 1)
    const waiting = q.push(1)
    await tick()
    g.release(new Error('gone'))
    await expect(waiting).rejects.toThrow('gone')
  })

  it('refuses a depth below one', () => {
    expect(() => writeBehind(async () => {}, 0)).toThrow(RangeError)
  })
})
