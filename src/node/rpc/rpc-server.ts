// Lotus-compatible JSON-RPC 2.0 over HTTP POST and WebSocket at /rpc/v1 and /rpc/v0: Filecoin tools call
// the node with Lotus's method names and JSON, and this translates to and from an RpcBackend.
import http from 'node:http'
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
  HandlerError: 1
} as const


/** Lotus allows 100 MiB; Coffer's largest request is a 32 KiB message, so 1 MiB leaves room for batches. */
export const MAX_BODY_BYTES = 1024 * 1024
export const MAX_BATCH = 100

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


class Dispatcher {
  private readonly table: Map<string, Method>
  constructor (backend: RpcBackend, private readonly log: (line: string) => void) {
    this.table = methods(backend)
  }

  /** A request body (single or batch) to the text to send back, or undefined when only notifications came. */
  async handleText (text: string | null, ctx: CallContext): Promise<string | undefined> {
    if (text === null) return JSON.stringify(errorResponse(null, { code: RpcErrorCode.ParseError, message: 'parse error: request is not UTF-8 text' }))
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (err) {
      return JSON.stringify(errorResponse(null, { code: RpcErrorCode.ParseError, message: `parse error: ${(err as Error).message}` }))
    }
    if (!Array.isArray(parsed)) return await this.handleOne(parsed, ctx)
    if (parsed.length === 0) return JSON.stringify(errorResponse(null, { code: RpcErrorCode.InvalidRequest, message: 'empty batch' }))
    if (parsed.length > MAX_BATCH) {
      return JSON.stringify(errorResponse(null, { code: RpcErrorCode.InvalidRequest, message: `batch of ${parsed.length} requests exceeds ${MAX_BATCH}` }))
    }
    const out = (await Promise.all(parsed.map(async r => await this.handleOne(r, ctx)))).filter((r): r is string => r !== undefined)
    return out.length === 0 ? undefined : `[${out.join(',')}]`
  }

  private async handleOne (req: unknown, ctx: CallContext): Promise<string | undefined> {
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
    try {
      const result = await method.run(params, ctx)
      return reply({ jsonrpc: '2.0', id: replyId, result: result ?? null })
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err)
      if (isParamsError(err)) return reply(errorResponse(replyId, { code: RpcErrorCode.InvalidParams, message, data: errorData(err) }))
      if (!isDomainError(err)) this.log(`rpc ${r.method}: ${err instanceof Error ? (err.stack ?? message) : message}`)
      return reply(errorResponse(replyId, { code: RpcErrorCode.HandlerError, message, data: errorData(err) }))
    }
  }
}

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
  const running = new Set<AbortController>()

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

    const controller = new AbortController()
    running.add(controller)
    // 'close' before the response ended means the client hung up: a StateWaitMsg stops waiting
    res.on('close', () => { if (!res.writableEnded) controller.abort(new RequestAbortedError('the HTTP client disconnected')) })
    try {
      const out = await dispatcher.handleText(requestText(body.bytes), { signal: controller.signal, api })
      if (res.destroyed) return
      if (out === undefined) res.writeHead(204).end()
      else res.writeHead(200, { 'Content-Type': 'application/json' }).end(out)
    } finally {
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
    wss.handleUpgrade(req, socket, head, (ws) => {
      const controller = new AbortController()
      running.add(controller)
      ws.on('close', () => {
        controller.abort(new RequestAbortedError('the WebSocket closed'))
        running.delete(controller)
      })
      ws.on('error', (err) => log(`rpc ws: ${err.message}`))
      ws.on('message', (data: RawData) => {
        const text = requestText(data)
        // each message is answered when it completes, so a StateWaitMsg does not hold up later calls
        dispatcher.handleText(text, { signal: controller.signal, api }).then(out => {
          if (out !== undefined && ws.readyState === WebSocket.OPEN) ws.send(out)
        }).catch((err: Error) => log(`rpc ws: ${err.stack ?? err.message}`))
      })
    })
  })

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
