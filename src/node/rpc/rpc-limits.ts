// The JSON-RPC server's flood limits (issue 9): how many calls, parked waits and sockets one client, one remote
// address and the whole server may hold, the errors a refusal travels as, and the per-address book behind them.
import { setMaxListeners } from 'node:events'

/** Lotus allows 100 MiB; Coffer's largest request is a 32 KiB message, so 1 MiB leaves room for batches. */
export const MAX_BODY_BYTES = 1024 * 1024
export const MAX_BATCH = 100

// Flood limits (issue 9, defect 7). One socket sending 300 batches of 100 state proofs at once had them all run
// back-to-back as microtasks (a 12 s block gap), and one that never read its replies grew the node by 600 MB.
/**
 * Working calls of one client (a WebSocket, or one HTTP request) running at once. Most finish within their turn.
 * Calls that park (StateWaitMsg) do not hold these slots: 64 waits on one socket used to leave it no slot for
 * a ChainHead. They are bounded by MAX_PARKED_PER_ADDRESS instead.
 */
export const MAX_CALLS_RUNNING_PER_CLIENT = 64
/**
 * Calls one WebSocket may have waiting to start (ten full batches). At this depth the server stops reading the
 * socket (TCP pushes back on the sender); requests already read beyond it are answered with LimitExceeded.
 */
export const MAX_QUEUED_CALLS_PER_SOCKET = 10 * MAX_BATCH
// Limits per remote address (issue 9 review, item 4). One global count of HTTP calls that included parked
// StateWaitMsg calls let ten POSTs of 100 waits for a CID that never appears answer every other HTTP client
// 503 for as long as they stayed open. Now work and waits are counted apart, each per remote address, with
// global caps only as a backstop. The devnet binds loopback, so the app's faucet, iso-filecoin and a test
// suite all share one address: each per-address figure is several times what all of them use together.
/**
 * Working calls (not parked) the HTTP requests of one remote address may have admitted, waiting or running; a
 * POST beyond it gets 429. Ten full batches: a tool doing one call at a time, or a bench posting a batch per
 * block, uses one batch at most.
 */
export const MAX_HTTP_CALLS_PER_ADDRESS = 10 * MAX_BATCH
/** Working calls all HTTP requests together may have admitted (a backstop: eight busy addresses); beyond it 503. */
export const MAX_HTTP_CALLS = 8 * MAX_HTTP_CALLS_PER_ADDRESS
/**
 * Parked calls (StateWaitMsg: waiting for a message or for confidence) one remote address may hold over HTTP
 * and WebSocket together; a call beyond it is answered LimitExceeded at once. A wallet waits once per pending
 * send, iso-filecoin and the bench once per message they await: 256 is far past what a person or a tool keeps
 * open, and it bounds what one address makes the node re-search at every head.
 */
export const MAX_PARKED_PER_ADDRESS = 256
/** Parked calls the whole server holds (a backstop). Each one looks its message up again at every head. */
export const MAX_PARKED = 8 * MAX_PARKED_PER_ADDRESS
/**
 * WebSockets one remote address may hold open; the upgrade beyond it is answered HTTP 429. The app talks to
 * the node over libp2p and HTTP, tools open one socket each: 32 leaves room for an office behind one NAT.
 */
export const MAX_SOCKETS_PER_ADDRESS = 32
/** WebSockets the whole server holds open (a backstop); the upgrade beyond it is answered 503. */
export const MAX_SOCKETS = 32 * MAX_SOCKETS_PER_ADDRESS

/**
 * A client's AbortSignal, with room for a listener per call that may be waiting on it at once (each parked
 * StateWaitMsg listens for the abort): the caps above bound that count, not Node's default warning at 10.
 */
export function clientController (): AbortController {
  const controller = new AbortController()
  setMaxListeners(MAX_PARKED_PER_ADDRESS + MAX_CALLS_RUNNING_PER_CLIENT, controller.signal)
  return controller
}

/** A refused call: the client's queue is full. Travels as JSON-RPC LimitExceeded. */
export class RpcLimitError extends Error {
  static override name = 'RpcLimitError'
  override name = 'RpcLimitError'
  readonly code = 'LIMIT'
}

/**
 * A parked call (StateWaitMsg) refused: its remote address (`scope: 'address'`) or the server (`'server'`)
 * already holds as many as allowed. Travels as JSON-RPC LimitExceeded; the call may be retried once others end.
 */
export class ParkedLimitError extends Error {
  static override name = 'ParkedLimitError'
  override name = 'ParkedLimitError'
  readonly code = 'PARKED_LIMIT'
  constructor (readonly scope: 'address' | 'server', readonly limit: number) {
    super(`limit exceeded: ${limit} waiting calls (StateWaitMsg) are already open ${scope === 'address' ? 'from this address' : 'on this node'}`)
  }
}

/** An HTTP request refused before any work: its address (429) or the server (503) has too many calls admitted. */
export class HttpCallsLimitError extends Error {
  static override name = 'HttpCallsLimitError'
  override name = 'HttpCallsLimitError'
  readonly code = 'HTTP_LIMIT'
  constructor (readonly scope: 'address' | 'server', readonly admitted: number, readonly limit: number) {
    super(`server busy: ${admitted} HTTP calls ${scope === 'address' ? 'from this address' : 'in all'} are already waiting or running (limit ${limit})`)
  }
}

/**
 * The key per-address limits are kept under: an IPv4 address (IPv4-mapped IPv6 included), or an IPv6 /64, since
 * one host is commonly handed a whole /64 (RFC 4291's subnet size) and could otherwise take a fresh address per
 * connection.
 */
export function addressKey (remote: string | undefined): string {
  if (remote === undefined || remote === '') return '?'
  const a = remote.replace(/%.*$/, '').toLowerCase()
  if (!a.includes(':')) return a
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a)
  if (mapped !== null) return mapped[1]!
  const [head, tail] = a.split('::') as [string, string | undefined]
  const h = head === '' ? [] : head.split(':')
  const t = tail === undefined || tail === '' ? [] : tail.split(':')
  const groups = tail === undefined ? h : [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t]
  return `${groups.slice(0, 4).map(g => parseInt(g, 16).toString(16)).join(':')}::/64`
}

/** What one remote address holds now; the entry goes when all are back to zero. */
export interface AddressUse { httpCalls: number, parked: number, sockets: number }

/** The per-address and server-wide counts behind the limits above. */
export class AddressBook {
  private readonly byAddress = new Map<string, AddressUse>()
  readonly total: AddressUse = { httpCalls: 0, parked: 0, sockets: 0 }

  /** What `key` holds now (zeros when nothing). */
  get (key: string): Readonly<AddressUse> {
    return this.byAddress.get(key) ?? { httpCalls: 0, parked: 0, sockets: 0 }
  }

  add (key: string, field: keyof AddressUse, n: number): void {
    let u = this.byAddress.get(key)
    if (u === undefined) { u = { httpCalls: 0, parked: 0, sockets: 0 }; this.byAddress.set(key, u) }
    u[field] += n
    this.total[field] += n
    if (u.httpCalls === 0 && u.parked === 0 && u.sockets === 0) this.byAddress.delete(key)
  }

  /** Takes a parked slot for `key`, or says which limit refuses it. */
  park (key: string): ParkedLimitError | undefined {
    if (this.get(key).parked >= MAX_PARKED_PER_ADDRESS) return new ParkedLimitError('address', MAX_PARKED_PER_ADDRESS)
    if (this.total.parked >= MAX_PARKED) return new ParkedLimitError('server', MAX_PARKED)
    this.add(key, 'parked', 1)
    return undefined
  }
}

/** A client's identity for limits: its address key and the origin the call context names it by. */
export interface Caller { key: string, origin: string, book: AddressBook }
