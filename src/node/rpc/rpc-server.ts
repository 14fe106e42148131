// Lotus-compatible JSON-RPC 2.0 over HTTP POST and WebSocket at /rpc/v1 and /rpc/v0: Filecoin tools call
// the node with Lotus's method names and JSON, and this translates to and from an RpcBackend.
import http from 'node:http'
import { setMaxListeners } from 'node:events'
import type { Duplex } from 'node:stream'
import { WebSocketServer, WebSocket, type RawData } from 'ws'
import { PortInUseError } from '../app-server'
import type { RpcBackend } from './backend'
import { InvalidLotusJsonError } from './lotus-json'
import { InvalidParamsError, RequestAbortedError } from './errors'
import { methods, type Method, type ApiVersion, type CallContext } from './rpc-methods'
import { InvalidAddressError } from '../../core'

/** JSON-RPC 2.0 codes, and go-jsonrpc's 1 for an error a handler returned. */
export const RpcErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** EIP-1474's "limit exceeded" (in JSON-RPC's server-error range): the connection's queue is full; try later. */
  LimitExceeded: -32005,
  HandlerError: 1
} as const

/** WebSocket close codes (RFC 6455 §7.4.1) the server uses, with the reason text sent beside them. */
export const WsCloseCode = {
  /** 1008 policy violation: replies stayed unread (see SOCKET_STALL_MS). */
  NotReading: 1008
} as const
export const WS_NOT_READING_REASON = 'replies not read: the client stopped reading its socket'


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
function clientController (): AbortController {
  const controller = new AbortController()
  setMaxListeners(MAX_PARKED_PER_ADDRESS + MAX_CALLS_RUNNING_PER_CLIENT, controller.signal)
  return controller
}
/**
 * Reply bytes buffered for a socket (ws `bufferedAmount`) above which no more of its calls start and it is no
 * longer read, until the kernel has taken them all ('drain'). Bounds what one socket can make the node hold.
 */
export const SOCKET_BUFFER_HIGH = 1024 * 1024
/**
 * How long replies may sit above SOCKET_BUFFER_HIGH with not one byte taken before the socket is closed: the
 * write-deadline Go WebSocket servers use (gorilla's SetWriteDeadline), measured on progress so a slow reader
 * that does read is kept. A consumer that reads nothing in 10 s is not waiting on a slow machine.
 */
export const SOCKET_STALL_MS = 10_000

export interface RpcServerInit {
  backend: RpcBackend
  host?: string
  port?: number
  log?: (line: string) => void
  /**
   * Browser origins allowed to call (default: any, as Lotus). A request carrying another Origin is refused
   * outright, since a simple text/plain POST needs no CORS preflight and would otherwise still run.
   */
  allowedOrigins?: string[]
}

export interface RpcServer {
  /** The v1 endpoint, e.g. http://127.0.0.1:1234/rpc/v1 (v0 is beside it; ws:// works on both). */
  url: string
  port: number
  close: () => Promise<void>
}


interface JsonRpcErrorObject { code: number, message: string, data?: Record<string, unknown> }
type Id = string | number | null

/** An error's name and its primitive own fields (code, height, expected nonce …), bigints as decimal strings. */
function errorData (err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { name: 'Error' }
  const data: Record<string, unknown> = { name: err.name }
  for (const [key, value] of Object.entries(err)) {
    if (key === 'name' || key === 'message' || key === 'stack' || key === 'cause') continue
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') data[key] = value
    else if (typeof value === 'bigint') data[key] = value.toString()
  }
  return data
}

const isParamsError = (err: unknown): boolean =>
  err instanceof InvalidLotusJsonError || err instanceof InvalidAddressError || err instanceof InvalidParamsError

const BUILTIN_ERRORS = new Set(['Error', 'TypeError', 'RangeError', 'ReferenceError', 'SyntaxError', 'EvalError', 'URIError', 'AggregateError'])
/** A failure of a named class is the answer (a rejected message, a faucet limit); a bare Error is a bug worth logging. */
const isDomainError = (err: unknown): boolean => err instanceof Error && !BUILTIN_ERRORS.has(err.name)


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
interface AddressUse { httpCalls: number, parked: number, sockets: number }

/** The per-address and server-wide counts behind the limits above. */
class AddressBook {
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
interface Caller { key: string, origin: string, book: AddressBook }

/** The client went away before its call started: nobody will read the answer. */
class CallDroppedError extends Error {
  static override name = 'CallDroppedError'
  override name = 'CallDroppedError'
}

/**
 * One client's calls (a WebSocket, or one HTTP request): a FIFO of calls not yet started, a count of those
 * running, and `blocked` while its replies are backed up. The CallScheduler starts them.
 */
class Lane {
  private readonly waiting: Array<{ start: () => void, drop: (err: Error) => void }> = []
  running = 0
  blocked = false
  closed = false
  /** Called whenever `queued` changes (the WebSocket pauses and resumes reading on it). */
  onChange: () => void = () => {}

  constructor (private readonly scheduler: CallScheduler) {}

  get queued (): number { return this.waiting.length }
  ready (): boolean { return !this.blocked && !this.closed && this.waiting.length > 0 && this.running < MAX_CALLS_RUNNING_PER_CLIENT }

  /**
   * Queues `fn` to start in its turn. A `parked` call (StateWaitMsg) also starts in turn (its first search is
   * work) but then holds no running slot: it is bounded per address by the AddressBook, not per lane.
   */
  run<T> (fn: () => Promise<T>, parked = false): Promise<T> {
    if (this.closed) return Promise.reject(new CallDroppedError('the client is gone'))
    const slot = parked ? 0 : 1
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({
        start: () => {
          this.running += slot
          fn().then(resolve, reject).finally(() => {
            this.running -= slot
            this.scheduler.wake()
          })
        },
        drop: reject
      })
      this.scheduler.wake()
    })
  }

  /** Starts the oldest waiting call (the scheduler checked `ready()`). */
  startNext (): void {
    this.waiting.shift()!.start()
    this.onChange()
  }

  unblock (): void {
    this.blocked = false
    this.scheduler.wake()
  }

  /** The client is gone: calls not started are dropped (their replies would go nowhere). */
  close (): void {
    this.closed = true
    for (const w of this.waiting.splice(0)) w.drop(new CallDroppedError('the client is gone'))
    this.scheduler.remove(this)
  }
}

/**
 * Starts calls one per event-loop turn (setImmediate), taking lanes in turn. A handler's synchronous work and
 * its microtasks (a state proof is all of that: the store is in memory) finish inside its turn, so between any
 * two calls timers (the block producer) and I/O (libp2p, other sockets) get their turn; and a client with
 * thousands queued waits behind one call of each other client, not behind all of them.
 */
class CallScheduler {
  private readonly lanes: Lane[] = []
  private next = 0
  private scheduled = false

  lane (): Lane {
    const lane = new Lane(this)
    this.lanes.push(lane)
    return lane
  }

  remove (lane: Lane): void {
    const i = this.lanes.indexOf(lane)
    if (i < 0) return
    this.lanes.splice(i, 1)
    if (this.next > i) this.next--
  }

  wake (): void {
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(() => { this.turn() })
  }

  private turn (): void {
    this.scheduled = false
    const n = this.lanes.length
    for (let k = 0; k < n; k++) {
      const i = (this.next + k) % n
      const lane = this.lanes[i]!
      if (!lane.ready()) continue
      this.next = (i + 1) % n
      lane.startNext()
      break
    }
    if (this.lanes.some(l => l.ready())) this.wake()
  }
}


class Dispatcher {
  private readonly table: Map<string, Method>
  constructor (backend: RpcBackend, private readonly log: (line: string) => void) {
    this.table = methods(backend)
  }

  /**
   * A request body read: either the answer already (a parse error, an empty or oversized batch) or the
   * requests to run. Parsing is cheap next to running, so it happens as a message arrives.
   */
  parse (text: string | null): Parsed {
    if (text === null) return { answer: JSON.stringify(errorResponse(null, { code: RpcErrorCode.ParseError, message: 'parse error: request is not UTF-8 text' })) }
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (err) {
      return { answer: JSON.stringify(errorResponse(null, { code: RpcErrorCode.ParseError, message: `parse error: ${(err as Error).message}` })) }
    }
    if (!Array.isArray(parsed)) return { requests: [parsed], batch: false }
    if (parsed.length === 0) return { answer: JSON.stringify(errorResponse(null, { code: RpcErrorCode.InvalidRequest, message: 'empty batch' })) }
    if (parsed.length > MAX_BATCH) {
      return { answer: JSON.stringify(errorResponse(null, { code: RpcErrorCode.InvalidRequest, message: `batch of ${parsed.length} requests exceeds ${MAX_BATCH}` })) }
    }
    return { requests: parsed, batch: true }
  }

  /** Whether a request would park (StateWaitMsg): such calls are counted apart from calls doing work. */
  parks (req: unknown): boolean {
    const m = typeof req === 'object' && req !== null ? (req as { method?: unknown }).method : undefined
    return typeof m === 'string' && this.table.get(m)?.parks === true
  }

  /** Runs parsed requests on `lane` (or refuses each with `refusal`): the text to send back, or undefined for notifications only. */
  async run (p: Extract<Parsed, { requests: unknown[] }>, ctx: CallContext, lane: Lane, caller: Caller, refusal?: RpcLimitError): Promise<string | undefined> {
    const out = (await Promise.all(p.requests.map(async r => await this.handleOne(r, ctx, lane, caller, refusal)))).filter((r): r is string => r !== undefined)
    if (!p.batch) return out[0]
    return out.length === 0 ? undefined : `[${out.join(',')}]`
  }

  private async handleOne (req: unknown, ctx: CallContext, lane: Lane, caller: Caller, refusal?: RpcLimitError): Promise<string | undefined> {
    const invalid = (id: Id, message: string): string => JSON.stringify(errorResponse(id, { code: RpcErrorCode.InvalidRequest, message }))
    if (typeof req !== 'object' || req === null || Array.isArray(req)) return invalid(null, 'a request must be an object')
    const r = req as Record<string, unknown>
    const notification = !('id' in r)
    const id = r.id
    if (!notification && id !== null && typeof id !== 'string' && !(typeof id === 'number' && Number.isFinite(id))) {
      return invalid(null, 'id must be a string, a number or null')
    }
    const replyId = (notification ? null : id) as Id
    if (r.jsonrpc !== '2.0') return invalid(replyId, 'jsonrpc must be "2.0"')
    if (typeof r.method !== 'string') return invalid(replyId, 'method must be a string')

    const reply = (body: object): string | undefined => {
      if (notification) return undefined
      try {
        return JSON.stringify(body)
      } catch (err) {
        this.log(`rpc ${String(r.method)}: result does not serialise: ${(err as Error).message}`)
        return JSON.stringify(errorResponse(replyId, { code: RpcErrorCode.InternalError, message: 'internal error' }))
      }
    }
    const method = this.table.get(r.method)
    if (method === undefined) return reply(errorResponse(replyId, { code: RpcErrorCode.MethodNotFound, message: `method '${r.method}' not found` }))
    if (r.params !== undefined && r.params !== null && !Array.isArray(r.params)) {
      return reply(errorResponse(replyId, { code: RpcErrorCode.InvalidParams, message: 'params must be an array: Lotus methods take positional parameters' }))
    }
    const params = (r.params ?? []) as unknown[]
    if (params.length < method.minParams || params.length > method.maxParams) {
      const expected = method.minParams === method.maxParams ? `${method.minParams}` : `${method.minParams}..${method.maxParams}`
      return reply(errorResponse(replyId, { code: RpcErrorCode.InvalidParams, message: `wrong param count (method '${r.method}'): ${params.length}, expected ${expected}` }))
    }
    if (refusal !== undefined) return reply(errorResponse(replyId, { code: RpcErrorCode.LimitExceeded, message: refusal.message, data: errorData(refusal) }))
    const parks = method.parks === true
    if (parks) {
      const full = caller.book.park(caller.key)
      if (full !== undefined) return reply(errorResponse(replyId, { code: RpcErrorCode.LimitExceeded, message: full.message, data: errorData(full) }))
    }
    try {
      const result = await lane.run(async () => await method.run(params, ctx), parks)
      return reply({ jsonrpc: '2.0', id: replyId, result: result ?? null })
    } catch (err) {
      if (err instanceof CallDroppedError) return undefined
      const message = err instanceof Error ? err.message : String(err)
      if (isParamsError(err)) return reply(errorResponse(replyId, { code: RpcErrorCode.InvalidParams, message, data: errorData(err) }))
      if (!isDomainError(err)) this.log(`rpc ${r.method}: ${err instanceof Error ? (err.stack ?? message) : message}`)
      return reply(errorResponse(replyId, { code: RpcErrorCode.HandlerError, message, data: errorData(err) }))
    } finally {
      if (parks) caller.book.add(caller.key, 'parked', -1)
    }
  }
}

type Parsed = { answer: string } | { requests: unknown[], batch: boolean }

function errorResponse (id: Id, error: JsonRpcErrorObject): object {
  return { jsonrpc: '2.0', id, error }
}

function apiOf (url: string | undefined): ApiVersion | undefined {
  const path = (url ?? '/').split('?')[0]
  return path === '/rpc/v1' ? 1 : path === '/rpc/v0' ? 0 : undefined
}

type BodyRead = { ok: true, bytes: Buffer } | { ok: false }

function readBody (req: http.IncomingMessage, limit: number): Promise<BodyRead> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size > limit) {
        req.off('data', onData)
        req.resume() // discard the rest; the connection is closed after the 413
        resolve({ ok: false })
        return
      }
      chunks.push(chunk)
    }
    req.on('data', onData)
    req.on('end', () => resolve({ ok: true, bytes: Buffer.concat(chunks) }))
    req.on('error', reject)
  })
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** The text of a request, or null when it is not UTF-8 (a parse error). */
function requestText (data: RawData): string | null {
  const bytes = Array.isArray(data) ? Buffer.concat(data) : data instanceof ArrayBuffer ? new Uint8Array(data) : data
  try { return utf8.decode(bytes) } catch { return null }
}

export async function startRpcServer (init: RpcServerInit): Promise<RpcServer> {
  const host = init.host ?? '127.0.0.1'
  const wantedPort = init.port ?? 1234
  const log = init.log ?? (() => {})
  const dispatcher = new Dispatcher(init.backend, log)
  const scheduler = new CallScheduler()
  const running = new Set<AbortController>()
  /** What each remote address holds: HTTP working calls, parked calls, WebSockets. */
  const book = new AddressBook()
  let socketIds = 0

  const tooLarge = (res: http.ServerResponse): void => {
    res.writeHead(413, { 'Content-Type': 'application/json', Connection: 'close' })
    res.end(JSON.stringify(errorResponse(null, { code: RpcErrorCode.InvalidRequest, message: `request body exceeds ${MAX_BODY_BYTES} bytes` })))
  }

  const originRefused = (req: http.IncomingMessage): boolean =>
    init.allowedOrigins !== undefined && req.headers.origin !== undefined && !init.allowedOrigins.includes(req.headers.origin)

  const serveHttp = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    if (originRefused(req)) {
      res.writeHead(403, { 'Content-Type': 'text/plain' }).end(`origin ${String(req.headers.origin)} may not call this node`)
      return
    }
    // Lotus answers any origin (go-jsonrpc's upgrader and handlers set "*"); the browser app calls from its own origin
    res.setHeader('Access-Control-Allow-Origin', req.headers.origin !== undefined && init.allowedOrigins !== undefined ? req.headers.origin : '*')
    if (init.allowedOrigins !== undefined) res.setHeader('Vary', 'Origin')
    const api = apiOf(req.url)
    if (api === undefined) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found: JSON-RPC is served at /rpc/v1 and /rpc/v0')
      return
    }
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        'Access-Control-Allow-Methods': 'POST, GET, OPTIONS',
        'Access-Control-Allow-Headers': req.headers['access-control-request-headers'] ?? 'Content-Type, Authorization',
        'Access-Control-Max-Age': '86400'
      }).end()
      return
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { Allow: 'POST, OPTIONS', 'Content-Type': 'text/plain' }).end('JSON-RPC takes POST (or a WebSocket upgrade)')
      return
    }
    const declared = Number(req.headers['content-length'] ?? 0)
    if (declared > MAX_BODY_BYTES) { req.resume(); tooLarge(res); return }
    const body = await readBody(req, MAX_BODY_BYTES)
    if (!body.ok) { tooLarge(res); return }

    const parsed = dispatcher.parse(requestText(body.bytes))
    if ('answer' in parsed) { res.writeHead(200, { 'Content-Type': 'application/json' }).end(parsed.answer); return }
    const remote = req.socket.remoteAddress
    const caller: Caller = { key: addressKey(remote), origin: `http:${remote ?? '?'}`, book }
    // parked calls (StateWaitMsg) are not counted here: each takes a parked slot of its address as it starts
    const calls = parsed.requests.filter(r => !dispatcher.parks(r)).length
    const own = book.get(caller.key).httpCalls
    const refusal = own + calls > MAX_HTTP_CALLS_PER_ADDRESS
      ? new HttpCallsLimitError('address', own, MAX_HTTP_CALLS_PER_ADDRESS)
      : book.total.httpCalls + calls > MAX_HTTP_CALLS ? new HttpCallsLimitError('server', book.total.httpCalls, MAX_HTTP_CALLS) : undefined
    if (refusal !== undefined) {
      // refused whole and before any work, with Retry-After, which an HTTP client (and a proxy) knows to honour:
      // 429 when this address has too much open (RFC 6585), 503 when the whole server has
      res.writeHead(refusal.scope === 'address' ? 429 : 503, { 'Content-Type': 'application/json', 'Retry-After': '1' })
      res.end(JSON.stringify(errorResponse(null, { code: RpcErrorCode.LimitExceeded, message: refusal.message, data: errorData(refusal) })))
      return
    }
    book.add(caller.key, 'httpCalls', calls)
    const controller = clientController()
    running.add(controller)
    // each request is a lane of its own: a 100-call batch waits its turn beside the others, it does not run first
    const lane = scheduler.lane()
    // 'close' before the response ended means the client hung up: a StateWaitMsg stops waiting
    res.on('close', () => {
      if (res.writableEnded) return
      controller.abort(new RequestAbortedError('the HTTP client disconnected'))
      lane.close()
    })
    try {
      const out = await dispatcher.run(parsed, { signal: controller.signal, api, origin: caller.origin }, lane, caller)
      if (res.destroyed) return
      if (out === undefined) res.writeHead(204).end()
      else res.writeHead(200, { 'Content-Type': 'application/json' }).end(out)
    } finally {
      book.add(caller.key, 'httpCalls', -calls)
      lane.close()
      running.delete(controller)
    }
  }

  const server = http.createServer((req, res) => {
    serveHttp(req, res).catch((err: Error) => {
      log(`rpc http: ${err.stack ?? err.message}`)
      if (!res.headersSent) res.writeHead(500).end()
      else res.destroy()
    })
  })

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_BODY_BYTES })
  server.on('upgrade', (req: http.IncomingMessage, socket, head: Buffer) => {
    const api = apiOf(req.url)
    if (api === undefined) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      return
    }
    if (originRefused(req)) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      return
    }
    const remote = req.socket.remoteAddress
    const key = addressKey(remote)
    const busy = book.get(key).sockets >= MAX_SOCKETS_PER_ADDRESS
      ? { status: '429 Too Many Requests', reason: `too many WebSockets from this address (limit ${MAX_SOCKETS_PER_ADDRESS})` }
      : book.total.sockets >= MAX_SOCKETS ? { status: '503 Service Unavailable', reason: `too many WebSockets open (limit ${MAX_SOCKETS})` } : undefined
    if (busy !== undefined) {
      // refused before the handshake, with the reason in the body: Lotus's gateway answers a host over its
      // connection allowance 429 the same way
      socket.end(`HTTP/1.1 ${busy.status}\r\nConnection: close\r\nRetry-After: 10\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(busy.reason)}\r\n\r\n${busy.reason}`)
      return
    }
    // counted from the upgrade request until the TCP connection closes, whatever becomes of the handshake
    book.add(key, 'sockets', 1)
    socket.once('close', () => book.add(key, 'sockets', -1))
    wss.handleUpgrade(req, socket, head, (ws) => { serveSocket(ws, socket, api, { key, origin: `ws:${remote ?? '?'}:${++socketIds}`, book }) })
  })

  /**
   * One WebSocket: its calls run on a lane of their own, answered each as it completes (a StateWaitMsg does not
   * hold up later calls). The socket is not read while ten batches wait to start or while a megabyte of replies
   * is unsent, and is closed (1008) when those replies stay untaken for SOCKET_STALL_MS.
   */
  const serveSocket = (ws: WebSocket, socket: Duplex, api: ApiVersion, caller: Caller): void => {
    const controller = clientController()
    running.add(controller)
    const lane = scheduler.lane()
    let stallTimer: ReturnType<typeof setTimeout> | undefined
    const peer = `${(socket as { remoteAddress?: string }).remoteAddress ?? '?'}:${(socket as { remotePort?: number }).remotePort ?? '?'}`

    const updateReading = (): void => {
      if (ws.readyState !== WebSocket.OPEN) return
      // stop once another full batch would not fit, read again at half: a pipelining client is paced by TCP,
      // and refused only for what was already read when reading stopped
      const full = lane.queued + MAX_BATCH > MAX_QUEUED_CALLS_PER_SOCKET || (ws.isPaused && lane.queued > MAX_QUEUED_CALLS_PER_SOCKET / 2)
      if (lane.blocked || full) { if (!ws.isPaused) ws.pause() } else if (ws.isPaused) ws.resume()
    }
    lane.onChange = updateReading

    const onDrain = (): void => {
      clearTimeout(stallTimer)
      stallTimer = undefined
      lane.unblock()
      updateReading()
    }
    const watchStall = (taken: number): void => {
      stallTimer = setTimeout(() => {
        const buffered = ws.bufferedAmount
        if (buffered < taken) { watchStall(buffered); return } // it reads, slowly: keep it
        log(`rpc ws ${peer}: closed (${WsCloseCode.NotReading}): ${buffered} bytes of replies untaken for ${SOCKET_STALL_MS} ms`)
        ws.close(WsCloseCode.NotReading, WS_NOT_READING_REASON)
        // the close frame sits behind the unread bytes, so it may never leave: drop the connection soon after
        setTimeout(() => ws.terminate(), 1000).unref()
      }, SOCKET_STALL_MS)
      stallTimer.unref()
    }
    const send = (out: string): void => {
      if (ws.readyState !== WebSocket.OPEN) return
      ws.send(out)
      if (lane.blocked || ws.bufferedAmount <= SOCKET_BUFFER_HIGH) return
      lane.blocked = true
      updateReading()
      socket.once('drain', onDrain)
      watchStall(ws.bufferedAmount)
    }

    ws.on('close', () => {
      controller.abort(new RequestAbortedError('the WebSocket closed'))
      running.delete(controller)
      clearTimeout(stallTimer)
      socket.off('drain', onDrain)
      lane.close()
    })
    ws.on('error', (err) => log(`rpc ws: ${err.message}`))
    ws.on('message', (data: RawData) => {
      const parsed = dispatcher.parse(requestText(data))
      if ('answer' in parsed) { send(parsed.answer); return }
      // reading has stopped at MAX_QUEUED_CALLS_PER_SOCKET, but messages already read past it still arrive
      const refusal = lane.queued + parsed.requests.length > MAX_QUEUED_CALLS_PER_SOCKET
        ? new RpcLimitError(`limit exceeded: ${lane.queued} calls are already waiting on this connection (limit ${MAX_QUEUED_CALLS_PER_SOCKET})`)
        : undefined
      dispatcher.run(parsed, { signal: controller.signal, api, origin: caller.origin }, lane, caller, refusal).then(out => {
        if (out !== undefined) send(out)
      }).catch((err: Error) => log(`rpc ws: ${err.stack ?? err.message}`))
      updateReading()
    })
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'EADDRINUSE' ? new PortInUseError(wantedPort) : err))
    server.listen(wantedPort, host, () => resolve())
  })
  const port = (server.address() as { port: number }).port
  const hostInUrl = host.includes(':') ? `[${host}]` : host
  return {
    url: `http://${hostInUrl}:${port}/rpc/v1`,
    port,
    close: async () => {
      for (const c of running) c.abort(new RequestAbortedError('the RPC server is closing'))
      for (const ws of wss.clients) ws.terminate()
      await new Promise<void>(resolve => wss.close(() => resolve()))
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}
