// Retrieval session helpers: a provider failure's name as the user reads it (nameOfError): a dial over WebSockets in Node
// rejects with an ErrorEvent, which has a message and no name; it must not show as "undefined".
import { describe, it, expect } from 'vitest'
import { untilAborted } from '../../src/light/until-aborted'
import { nameOfError } from '../../src/light/failure-text'

describe('nameOfError', () => {
  it('an Error by its name, an Event by its class, anything else as Error', () => {
    class HashMismatchError extends Error { override name = 'HashMismatchError' }
    expect(nameOfError(new HashMismatchError('x'))).toBe('HashMismatchError')
    expect(nameOfError(new TypeError('x'))).toBe('TypeError')
    const ev = new Event('error')
    expect(ev.constructor.name).toBe('Event')
    expect(nameOfError(ev)).toBe('Event')
    class ErrorEvent extends Event { message = 'Received network error or non-101 status code.' }
    expect(nameOfError(new ErrorEvent('error'))).toBe('ErrorEvent')
    expect(nameOfError({ message: 'plain object' })).toBe('Error')
    expect(nameOfError(null)).toBe('Error')
    expect(nameOfError('a string')).toBe('String')
  })
})

describe('untilAborted (a payer\'s chain wait under a retrieval\'s signal)', () => {
  it('gives the value without a signal or before an abort, the signal\'s reason at once when it aborts, and leaves no unhandled rejection', async () => {
    expect(await untilAborted(Promise.resolve(7))).toBe(7)
    expect(await untilAborted(Promise.resolve(8), new AbortController().signal)).toBe(8)
    const c = new AbortController()
    let rejectLater!: (e: Error) => void
    const slow = new Promise<number>((_resolve, reject) => { rejectLater = reject })
    const t0 = performance.now()
    setTimeout(() => { c.abort(new Error('paused')) }, 20)
    await expect(untilAborted(slow, c.signal)).rejects.toThrow('paused')
    expect(performance.now() - t0).toBeLessThan(5000)
    // the payer's wait ending in an error afterwards is its own affair: no unhandled rejection reaches the process
    const unhandled: unknown[] = []
    const on = (e: unknown): void => { unhandled.push(e) }
    process.on('unhandledRejection', on)
    rejectLater(new Error('the top-up failed later'))
    await new Promise(resolve => setTimeout(resolve, 50))
    process.off('unhandledRejection', on)
    expect(unhandled).toEqual([])
    // already aborted: refused before waiting
    await expect(untilAborted(new Promise<number>(() => {}), AbortSignal.abort(new Error('gone')))).rejects.toThrow('gone')
  })
})

describe('untilAborted with a section that must finish', () => {
  it('an abort while interruptible() is false waits for the promise; one while it is true does not', async () => {
    const c = new AbortController()
    let interruptible = false
    let resolveLater!: (n: number) => void
    const p = new Promise<number>(resolve => { resolveLater = resolve })
    const r = untilAborted(p, c.signal, () => interruptible)
    c.abort(new Error('paused'))
    setTimeout(() => { resolveLater(9) }, 20)
    expect(await r).toBe(9)
    const c2 = new AbortController()
    interruptible = true
    const r2 = untilAborted(new Promise<number>(() => {}), c2.signal, () => interruptible)
    c2.abort(new Error('paused'))
    await expect(r2).rejects.toThrow('paused')
  })
})
