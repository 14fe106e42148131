// The send window deals and retrievals share: room only below the limit, cumulative acknowledgements only,
// and a failure that ends every wait.
import { describe, it, expect } from 'vitest'
import { SendWindow, WindowAckError } from '../../src/net/windowed-transfer'

const settled = async (p: Promise<unknown>): Promise<boolean> => {
  let done = false
  p.then(() => { done = true }, () => { done = true })
  for (let i = 0; i < 5; i++) await Promise.resolve()
  return done
}

describe('SendWindow', () => {
  it('has room below the limit and waits at it until an acknowledgement', async () => {
    const w = new SendWindow(100, () => 10)
    await w.room()
    w.wrote(10)
    expect(w.unacked).toBe(10)
    const waiting = w.room()
    expect(await settled(waiting)).toBe(false)
    w.ack(105)
    expect(await settled(waiting)).toBe(true)
  })

  it('asks the limit again after each acknowledgement (a window that grows with payments)', async () => {
    let limit = 4
    const w = new SendWindow(0, () => limit)
    w.wrote(4)
    const waiting = w.room()
    limit = 8
    w.poke()
    expect(await settled(waiting)).toBe(true)
  })

  it('refuses an acknowledgement below an earlier one or beyond what was sent', () => {
    const w = new SendWindow(0, () => 10)
    w.wrote(8)
    w.ack(5)
    expect(() => { w.ack(4) }).toThrow(WindowAckError)
    expect(() => { w.ack(9) }).toThrow(WindowAckError)
    expect(w.acked).toBe(5)
  })

  it('ends a wait with the first failure, and every later one', async () => {
    const w = new SendWindow(0, () => 1)
    w.wrote(1)
    const waiting = w.room()
    w.fail(new Error('first'))
    w.fail(new Error('second'))
    await expect(waiting).rejects.toThrow('first')
    await expect(w.room()).rejects.toThrow('first')
  })
})
