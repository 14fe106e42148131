// How a failure reads for the user. A dial can fail with a value that is not an Error: a browser WebSocket's bare
// 'error' Event, a Node WebSocket's ErrorEvent (a message, no name), an AggregateError with an empty message.

/** What went wrong, as the page shows it: a dial can fail with a value that is not an Error (no name, no message). */
export function describeFailure (err: unknown): string {
  const e = err as { name?: unknown, message?: unknown, errors?: unknown, type?: unknown } | null | undefined
  // a browser WebSocket that cannot connect rejects the dial with its bare 'error' Event (seen in Chromium)
  if (typeof e === 'object' && e !== null && typeof e.type === 'string' && Object.prototype.toString.call(e).endsWith('Event]')) return `ConnectionFailedError: the connection failed (a WebSocket '${e.type}' event)`
  const name = typeof e?.name === 'string' && e.name !== '' ? e.name : 'Error'
  // a dial of several addresses fails with an AggregateError whose own message may be empty: say what each did
  const inner = Array.isArray(e?.errors) && e.errors.length > 0 ? e.errors.slice(0, 3).map(describeFailure).join('; ') : null
  const message = typeof e?.message === 'string' && e.message !== '' ? e.message : inner ?? (typeof err === 'object' && err !== null ? Object.prototype.toString.call(err) : String(err))
  return `${name}: ${message}`
}

/**
 * A thrown value's name alone (a retrieval's failure record keeps name and message apart); unlike describeFailure's,
 * a nameless one is named by its class when it has one: what the WebSocket transport rejects a dial with in Node is an ErrorEvent, an
 * Event with a message and no name (a load run showed failures named "undefined").
 */
export function nameOfError (err: unknown): string {
  const e = err as { name?: unknown, constructor?: { name?: unknown } } | null
  if (typeof e?.name === 'string' && e.name !== '') return e.name
  return typeof e?.constructor?.name === 'string' && e.constructor.name !== '' && e.constructor.name !== 'Object' ? e.constructor.name : 'Error'
}

