// One port's session with the light node: its calls (ids counted by that port alone), their cancels and
// progress, bounded in number; everything else it sends (`start`, `stop`) goes to the host. A port is one tab, and
// tabs do not trust each other's bugs: a malformed message is answered with a named error and changes nothing,
// a flood of calls is refused past MAX_CALLS_PER_PORT, and closing the session aborts its calls only.
import { toWireError } from '../core/errors'
import { TRANSPORT_NAMES, type Port, type PageToWorker, type MethodName, type TransportName } from './worker-protocol'

/** Answers one call: `signal` aborts when the page cancels it or its port closes. */
export type Dispatch<N extends string = MethodName> = (method: N, params: unknown, ctx: CallContext) => Promise<unknown>

/** What a handler learns of its call: its cancel signal, its progress reporter, and the tab it came from (if named). */
export interface CallContext { signal: AbortSignal, progress: (p: unknown) => void, tab?: string }

/** Calls one port may have running at once: far above what a page makes (a handful), far below a flood's harm. */
export const MAX_CALLS_PER_PORT = 256

/** A message a port sent that is not one the protocol knows (worker-protocol.ts PageToWorker). */
export class MalformedWorkerMessageError extends TypeError {
  static override name = 'MalformedWorkerMessageError'
  override name = 'MalformedWorkerMessageError'
}

/** A port with MAX_CALLS_PER_PORT calls running made another. */
export class TooManyCallsError extends Error {
  static override name = 'TooManyCallsError'
  override name = 'TooManyCallsError'
  constructor (readonly running: number) { super(`${running} calls are already running for this tab: wait for some to finish`) }
}

export interface WorkerSession { close: () => void }

const isPort = (v: unknown): v is MessagePort => typeof v === 'object' && v !== null && typeof (v as MessagePort).postMessage === 'function'
const isId = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0

/** What a message is, or why it is none (the protocol's own messages are checked field by field). */
function parse (data: unknown): PageToWorker | MalformedWorkerMessageError {
  if (typeof data !== 'object' || data === null) return new MalformedWorkerMessageError(`a message must be an object, not ${data === null ? 'null' : typeof data}`)
  const m = data as Record<string, unknown>
  switch (m.type) {
    case 'start':
      if (typeof m.bootstrapUrl !== 'string') return new MalformedWorkerMessageError('start needs a bootstrapUrl string')
      if (m.tab !== undefined && typeof m.tab !== 'string') return new MalformedWorkerMessageError('start\'s tab must be a string')
      if (m.transports !== undefined && !(Array.isArray(m.transports) && m.transports.length > 0 && m.transports.every(t => (TRANSPORT_NAMES as readonly unknown[]).includes(t)))) {
        return new MalformedWorkerMessageError(`start's transports must be some of ${TRANSPORT_NAMES.join(', ')}`)
      }
      return {
        type: 'start',
        bootstrapUrl: m.bootstrapUrl,
        ...(typeof m.tab === 'string' ? { tab: m.tab } : {}),
        ...(m.transports === undefined ? {} : { transports: m.transports as TransportName[] })
      }
    case 'lend':
      if (typeof m.tab !== 'string' || !isPort(m.port)) return new MalformedWorkerMessageError('lend needs a tab name and a port')
      return { type: 'lend', tab: m.tab, port: m.port }
    case 'rtc':
      if (!isPort(m.port) || (m.tab !== undefined && typeof m.tab !== 'string')) return new MalformedWorkerMessageError('rtc needs a port (and may name its tab)')
      return { type: 'rtc', port: m.port, ...(typeof m.tab === 'string' ? { tab: m.tab } : {}) }
    case 'connect':
      if (!isPort(m.port)) return new MalformedWorkerMessageError('connect needs a port')
      return { type: 'connect', port: m.port }
    case 'stop': return { type: 'stop' }
    case 'cancel': return isId(m.id) ? { type: 'cancel', id: m.id } : new MalformedWorkerMessageError('cancel needs a call id')
    case 'call':
      if (!isId(m.id)) return new MalformedWorkerMessageError('a call needs an id (a non-negative integer)')
      if (typeof m.method !== 'string') return new MalformedWorkerMessageError(`call ${m.id} needs a method name`)
      return { type: 'call', id: m.id, method: m.method as MethodName, params: m.params }
    default: return new MalformedWorkerMessageError(`unknown message type ${JSON.stringify(String(m.type)).slice(0, 80)}`)
  }
}

export function serveSession<N extends string = MethodName> (
  port: Port, dispatch: Dispatch<N>, onControl: (msg: Extract<PageToWorker, { type: 'start' | 'stop' | 'lend' | 'connect' | 'rtc' }>) => void, onClose: () => void,
  tab: () => string | undefined = () => undefined
): WorkerSession {
  const running = new Map<number, AbortController>()
  let closed = false
  const post: Port['postMessage'] = (msg) => { if (!closed) port.postMessage(msg) }

  const call = (id: number, method: N, params: unknown): void => {
    if (running.has(id)) { post({ type: 'reply', id, ok: false, error: toWireError(new MalformedWorkerMessageError(`call ${id} is already running`)) }); return }
    if (running.size >= MAX_CALLS_PER_PORT) { post({ type: 'reply', id, ok: false, error: toWireError(new TooManyCallsError(running.size)) }); return }
    const ac = new AbortController()
    running.set(id, ac)
    const progress = (p: unknown): void => { if (!ac.signal.aborted) post({ type: 'progress', id, progress: p }) }
    // a handler that throws before its first await must still answer: run it inside the promise chain
    const from = tab()
    Promise.resolve().then(async () => await dispatch(method, params, { signal: ac.signal, progress, ...(from === undefined ? {} : { tab: from }) })).then(
      value => { post({ type: 'reply', id, ok: true, value }) },
      err => { post({ type: 'reply', id, ok: false, error: toWireError(err) }) }
    ).finally(() => { if (running.get(id) === ac) running.delete(id) })
  }

  const close = (): void => {
    if (closed) return
    closed = true
    for (const ac of running.values()) ac.abort(new DOMException('the tab that made this call is gone', 'AbortError'))
    running.clear()
    port.removeEventListener?.('message', listener)
    onClose()
  }

  const listener = (evt: MessageEvent<PageToWorker>): void => {
    if (closed) return
    const msg = parse(evt.data)
    if (msg instanceof MalformedWorkerMessageError) {
      const id = (evt.data as { id?: unknown } | null)?.id
      if (isId(id) && !running.has(id)) post({ type: 'reply', id, ok: false, error: toWireError(msg) })
      else post({ type: 'refused', error: toWireError(msg) })
      return
    }
    if (msg.type === 'call') call(msg.id, msg.method as string as N, msg.params)
    else if (msg.type === 'cancel') running.get(msg.id)?.abort(new DOMException('cancelled by the page', 'AbortError'))
    else {
      // a stop closes this session before the host acts on it; a start goes on
      if (msg.type === 'stop') close()
      onControl(msg)
    }
  }
  port.addEventListener('message', listener)
  return { close }
}
