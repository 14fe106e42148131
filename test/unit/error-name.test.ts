// A provider failure's name as the user reads it (retrieval-session.ts nameOfError): a dial over WebSockets in Node
// rejects with an ErrorEvent, which has a message and no name; it must not show as "undefined".
import { describe, it, expect } from 'vitest'
import { nameOfError } from '../../src/light/retrieval-session'

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
