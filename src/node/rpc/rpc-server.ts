// Lotus-compatible JSON-RPC 2.0 over HTTP POST and WebSocket at /rpc/v1 and /rpc/v0: Filecoin tools call
// the node with Lotus's method names and JSON, and this translates to and from an RpcBackend.
import http from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, WebSocket, type RawData } from 'ws'
import { PortInUseError } from '../app-server'
import type { RpcBackend } from './backend'
import { RequestAbortedError } from './errors'
import type { ApiVersion } from './rpc-methods'
import { Dispatcher, RpcErrorCode, errorResponse, errorData } from './rpc-dispatcher'
import { CallScheduler } from './call-scheduler'
import {
  MAX_BODY_BYTES, MAX_BATCH, MAX_QUEUED_CALLS_PER_SOCKET, MAX_HTTP_CALLS_PER_ADDRESS, MAX_HTTP_CALLS, MAX_SOCKETS_PER_ADDRESS, MAX_SOCKETS,
  RpcLimitError, HttpCallsLimitError, AddressBook, addressKey, clientController, type Caller
} from './rpc-limits'

/** WebSocket close codes (RFC 6455 §7.4.1) the server uses, with the reason text sent beside them. */
export const WsCloseCode = {
  /** 1008 policy violation: replies stayed unread (see SOCKET_STALL_MS). */
  NotReading: 1008
} as const
export const WS_NOT_READING_REASON = 'replies not read: the client stopped reading its socket'

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
