// Lotus-compatible JSON-RPC 2.0 over HTTP POST and WebSocket at /rpc/v1 and /rpc/v0: Filecoin tools call
// the node with Lotus's method names and JSON, and this translates to and from an RpcBackend.
import http from 'node:http'
import { readFileSync } from 'node:fs'
import { WebSocketServer, WebSocket, type RawData } from 'ws'
import { base64pad } from 'multiformats/bases/base64'
import { InvalidAddressError, Protocol, type CID, type SealedHeader } from '../../core'
import { PortInUseError } from '../app-server'
import type { RpcBackend } from './backend'
import {
  InvalidLotusJsonError, cidToLotus, addressToLotus, headerToLotus, tipSetToLotus, messageToLotus, actorToLotus,
  msgLookupToLotus, cidFromLotus, addressFromLotus, tipSetKeyFromLotus, uintFromLotus, messageFromLotus,
  signedMessageFromLotus, sendSpecFromLotus
} from './lotus-json'
import { estimateMessageGas } from './gas-estimate'
import {
  BlockNotFoundError, MessageNotFoundError, ActorNotFoundError, NotAnAccountError, TipSetHeightError,
  InvalidParamsError, RequestAbortedError
} from './errors'

/** JSON-RPC 2.0 codes, and go-jsonrpc's 1 for an error a handler returned. */
export const RpcErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  HandlerError: 1
} as const

/** api/version.go: FullAPIVersion1 = newVer(2, 3, 0), FullAPIVersion0 = newVer(1, 5, 0), major<<16|minor<<8|patch. */
export const FULL_API_VERSION_V1 = 0x020300
export const FULL_API_VERSION_V0 = 0x010500

/** Lotus allows 100 MiB; Coffer's largest request is a 32 KiB message, so 1 MiB leaves room for batches. */
export const MAX_BODY_BYTES = 1024 * 1024
export const MAX_BATCH = 100
/** StateWaitMsg's confidence wait polls the head: the backend has no head-change event to listen to. */
const HEAD_POLL_MS = 100

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

const PACKAGE_VERSION = ((): string => {
  try {
    return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version
  } catch {
    return 'unknown'
  }
})()

type ApiVersion = 0 | 1
interface CallContext { signal: AbortSignal, api: ApiVersion }
interface Method { minParams: number, maxParams: number, run: (params: unknown[], ctx: CallContext) => Promise<unknown> }

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

function lookbackLimit (v: unknown, field: string): number {
  if (v === undefined || v === null) return -1
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < -1) throw new InvalidParamsError(`${field}: expected an epoch count or -1 (no limit)`)
  return v
}

function flag (v: unknown, field: string, fallback: boolean): boolean {
  if (v === undefined || v === null) return fallback
  if (typeof v !== 'boolean') throw new InvalidParamsError(`${field}: expected a boolean`)
  return v
}

function untilHeight (backend: RpcBackend, target: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) { reject(signal.reason); return }
    const cleanup = (): void => { clearInterval(timer); signal.removeEventListener('abort', onAbort) }
    const onAbort = (): void => { cleanup(); reject(signal.reason) }
    const check = (): void => { if (backend.head().header.height >= target) { cleanup(); resolve() } }
    const timer = setInterval(check, HEAD_POLL_MS)
    signal.addEventListener('abort', onAbort, { once: true })
    check()
  })
}

function methods (backend: RpcBackend): Map<string, Method> {
  const tipSet = async (v: unknown, field = 'TipSetKey'): Promise<SealedHeader> => {
    const key = tipSetKeyFromLotus(v, field)
    if (key === null) return backend.head()
    const found = await backend.headerByCid(key)
    if (found === undefined) throw new BlockNotFoundError(key.toString())
    return found
  }
  const block = async (cid: CID): Promise<SealedHeader> => {
    const found = await backend.headerByCid(cid)
    if (found === undefined) throw new BlockNotFoundError(cid.toString())
    return found
  }
  const address = (v: unknown, field = 'address'): Uint8Array => addressFromLotus(v, field)

  const table: Record<string, Method> = {
    'Filecoin.Version': {
      minParams: 0,
      maxParams: 0,
      run: async (_, ctx) => ({
        // Lotus's UserVersion is "<version>+<network>+git.<commit>"; a Lotus v0 endpoint reports FullAPIVersion0 (api/v0api/v1_wrapper.go)
        Version: `coffer/${PACKAGE_VERSION}+${backend.networkName()}`,
        APIVersion: ctx.api === 1 ? FULL_API_VERSION_V1 : FULL_API_VERSION_V0,
        BlockDelay: backend.blockDelaySecs()
      })
    },
    'Filecoin.StateNetworkName': { minParams: 0, maxParams: 0, run: async () => backend.networkName() },
    'Filecoin.ChainHead': { minParams: 0, maxParams: 0, run: async () => tipSetToLotus(backend.head()) },
    'Filecoin.ChainGetTipSet': { minParams: 1, maxParams: 1, run: async ([tsk]) => tipSetToLotus(await tipSet(tsk)) },
    'Filecoin.ChainGetTipSetByHeight': {
      minParams: 1,
      maxParams: 2,
      run: async ([height, tsk]) => {
        const h = uintFromLotus(height, 'height')
        const anchor = await tipSet(tsk)
        if (h > anchor.header.height) throw new TipSetHeightError(h, anchor.header.height)
        if (h === anchor.header.height) return tipSetToLotus(anchor)
        // Coffer's chain has no forks or null rounds, so the block at `h` is the anchor's ancestor there
        const found = await backend.headerAt(h)
        if (found === undefined) throw new BlockNotFoundError(`at height ${h}`)
        return tipSetToLotus(found)
      }
    },
    'Filecoin.ChainGetBlock': { minParams: 1, maxParams: 1, run: async ([cid]) => headerToLotus((await block(cidFromLotus(cid, 'cid'))).header) },
    'Filecoin.ChainGetMessage': {
      minParams: 1,
      maxParams: 1,
      run: async ([cid]) => {
        const c = cidFromLotus(cid, 'cid')
        const m = await backend.getMessage(c)
        if (m === undefined) throw new MessageNotFoundError(c.toString())
        return messageToLotus(m)
      }
    },
    'Filecoin.MpoolPush': {
      minParams: 1,
      maxParams: 1,
      run: async ([sm]) => cidToLotus(await backend.mpoolPush(signedMessageFromLotus(sm)))
    },
    'Filecoin.MpoolGetNonce': { minParams: 1, maxParams: 1, run: async ([a]) => await backend.mpoolNonce(address(a)) },
    'Filecoin.GasEstimateMessageGas': {
      minParams: 1,
      maxParams: 3,
      run: async ([msg, spec, tsk]) => {
        const m = messageFromLotus(msg)
        const sendSpec = sendSpecFromLotus(spec)
        const at = await tipSet(tsk)
        const estimated = estimateMessageGas(m, sendSpec, at.header.parentBaseFee)
        // encoding/json turns "Params": "" into an empty non-nil slice, which Lotus echoes back as ""
        const emptyParams = (msg as { Params?: unknown }).Params === '' ? '' : null
        return messageToLotus(estimated, 't', emptyParams)
      }
    },
    'Filecoin.StateGetActor': {
      minParams: 1,
      maxParams: 2,
      run: async ([a, tsk]) => {
        const addr = address(a)
        const actor = await backend.getActor(addr, await tipSet(tsk))
        if (actor === null) throw new ActorNotFoundError(addressToLotus(addr))
        return actorToLotus(actor)
      }
    },
    'Filecoin.WalletBalance': {
      minParams: 1,
      maxParams: 1,
      run: async ([a]) => ((await backend.getActor(address(a)))?.balance ?? 0n).toString()
    },
    'Filecoin.StateAccountKey': {
      minParams: 1,
      maxParams: 2,
      run: async ([a, tsk]) => {
        const addr = address(a)
        const at = await tipSet(tsk)
        // stmgr.ResolveToDeterministicAddress: key addresses are their own account key
        if (addr[0] === Protocol.SECP256K1 || addr[0] === Protocol.BLS) return addressToLotus(addr)
        // Coffer keys accounts by key address, so no ID or actor address stands for one
        if (await backend.getActor(addr, at) === null) throw new ActorNotFoundError(addressToLotus(addr))
        throw new NotAnAccountError(addressToLotus(addr))
      }
    },
    'Filecoin.StateSearchMsg': {
      minParams: 1,
      maxParams: 4,
      run: async (params) => {
        // v0: StateSearchMsg(cid); v1: StateSearchMsg(tsk, cid, lookbackLimit, allowReplaced)
        const v0 = params.length === 1
        const from = v0 ? backend.head() : await tipSet(params[0])
        const cid = cidFromLotus(v0 ? params[0] : params[1], 'cid')
        const limit = v0 ? -1 : lookbackLimit(params[2], 'lookbackLimit')
        flag(params[3], 'allowReplaced', true) // Coffer's pool has no replace-by-fee: nothing is ever replaced
        const found = await backend.searchMessage(cid)
        if (found === null) return null
        // Lotus searches backwards from `from`, at most `limit` epochs
        const h = found.executedIn.header.height
        if (h > from.header.height || (limit >= 0 && h < from.header.height - limit)) return null
        return msgLookupToLotus(found)
      }
    },
    'Filecoin.StateWaitMsg': {
      minParams: 1,
      maxParams: 4,
      run: async ([cid, confidence, limit, allowReplaced], ctx) => {
        const c = cidFromLotus(cid, 'cid')
        const depth = confidence === undefined || confidence === null ? 0 : uintFromLotus(confidence, 'confidence')
        lookbackLimit(limit, 'lookbackLimit')
        flag(allowReplaced, 'allowReplaced', true)
        const found = await backend.waitMessage(c, ctx.signal)
        // stmgr.WaitForMessage: answer once `confidence` tipsets sit on top of the one that executed it
        await untilHeight(backend, found.executedIn.header.height + depth, ctx.signal)
        return msgLookupToLotus(found)
      }
    },
    'Coffer.StateProof': {
      minParams: 1,
      maxParams: 2,
      run: async ([a, tsk]) => {
        const addr = address(a)
        const r = await backend.stateProof(addr, await tipSet(tsk))
        return {
          Header: headerToLotus(r.header.header),
          HeaderCid: cidToLotus(r.header.cid),
          StateRoot: cidToLotus(r.proof.stateRoot),
          Actor: r.actor === null ? null : actorToLotus(r.actor),
          Proof: r.proof.blocks.map(b => base64pad.baseEncode(b))
        }
      }
    },
    'Coffer.Faucet': { minParams: 1, maxParams: 1, run: async ([a]) => cidToLotus(await backend.faucet(address(a))) }
  }
  return new Map(Object.entries(table))
}

class Dispatcher {
  private readonly table: Map<string, Method>
  constructor (private readonly backend: RpcBackend, private readonly log: (line: string) => void) {
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
