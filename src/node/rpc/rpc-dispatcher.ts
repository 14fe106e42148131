// JSON-RPC 2.0 requests to Lotus methods: parsing a body (single or batch), checking each request's shape and
// params count, running it on its client's lane, and the reply, with a named error's fields as its data.
import type { RpcBackend } from './backend'
import { InvalidLotusJsonError } from './lotus-json'
import { InvalidParamsError } from './errors'
import { methods, type Method, type CallContext } from './rpc-methods'
import { InvalidAddressError } from '../../core'
import { MAX_BATCH, type Caller, type RpcLimitError } from './rpc-limits'
import { CallDroppedError, type Lane } from './call-scheduler'

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

interface JsonRpcErrorObject { code: number, message: string, data?: Record<string, unknown> }
export type Id = string | number | null

/** An error's name and its primitive own fields (code, height, expected nonce …), bigints as decimal strings. */
export function errorData (err: unknown): Record<string, unknown> {
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


export class Dispatcher {
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

export type Parsed = { answer: string } | { requests: unknown[], batch: boolean }

export function errorResponse (id: Id, error: JsonRpcErrorObject): object {
  return { jsonrpc: '2.0', id, error }
}
