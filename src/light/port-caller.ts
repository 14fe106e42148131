// The calling side of a typed call protocol over a MessagePort (the answering side is worker-session.ts): each
// call gets an id, its progress events and its reply; a signal cancels it on the other side. Errors come back
// as RemoteCallError with the other side's name and code, so callers check `.name` as for a local error. A port
// has no event for "the other side is gone": whoever learns it (a tab's Web Lock released, say) calls `fail`,
// and every call waiting, and every call made after, rejects with that error instead of hanging.
import type { WireError } from '../core'

/** One call's shape: what it takes, what it resolves to, what it reports on the way. */
export interface CallSpec { params: unknown, result: unknown, progress: unknown }

/** An error the other side threw, with its name (and code) kept. */
export class RemoteCallError extends Error {
  readonly code?: string
  constructor (readonly wire: WireError) {
    super(wire.message)
    this.name = wire.name
    if (wire.code !== undefined) this.code = wire.code
  }
}

export interface CallerPort {
  postMessage: (msg: unknown, transfer: Transferable[]) => void
  addEventListener: (type: 'message', listener: (evt: MessageEvent) => void) => void
}

export interface CallOpts<G> { signal?: AbortSignal, onProgress?: (p: G) => void, transfer?: Transferable[] }

export interface PortCaller<M extends { [K in keyof M]: CallSpec }> {
  call: <K extends keyof M & string>(method: K, params: M[K]['params'], opts?: CallOpts<M[K]['progress']>) => Promise<M[K]['result']>
  /** The other side is gone: every waiting call and every later one rejects with `err`. */
  fail: (err: Error) => void
  /** How many calls are waiting for a reply. */
  waiting: () => number
}

interface Waiting { resolve: (v: unknown) => void, reject: (e: Error) => void, onProgress?: (p: unknown) => void }

type Incoming = { type: 'progress', id: number, progress: unknown } | { type: 'reply', id: number, ok: true, value: unknown } | { type: 'reply', id: number, ok: false, error: WireError }

/** `other` receives every message that is not a call's progress or reply (a light node's views, say). */
export function createPortCaller<M extends { [K in keyof M]: CallSpec }> (port: CallerPort, other?: (msg: unknown) => void): PortCaller<M> {
  const waiting = new Map<number, Waiting>()
  let failed: Error | undefined
  let nextId = 1
  port.addEventListener('message', (evt) => {
    const msg = evt.data as Incoming
    if (msg?.type === 'progress') { waiting.get(msg.id)?.onProgress?.(msg.progress); return }
    if (msg?.type === 'reply') {
      const w = waiting.get(msg.id)
      waiting.delete(msg.id)
      if (msg.ok) w?.resolve(msg.value)
      else w?.reject(new RemoteCallError(msg.error))
      return
    }
    other?.(evt.data)
  })
  const call = async <K extends keyof M & string>(method: K, params: M[K]['params'], opts: CallOpts<M[K]['progress']> = {}): Promise<M[K]['result']> => await new Promise((resolve, reject) => {
    if (failed !== undefined) { reject(failed); return }
    opts.signal?.throwIfAborted()
    const id = nextId++
    const cancel = (): void => { if (waiting.has(id)) port.postMessage({ type: 'cancel', id }, []) }
    opts.signal?.addEventListener('abort', cancel, { once: true })
    const settle = (): void => { opts.signal?.removeEventListener('abort', cancel) }
    waiting.set(id, {
      resolve: (v) => { settle(); resolve(v as M[K]['result']) },
      reject: (e) => { settle(); reject(e) },
      onProgress: opts.onProgress as ((p: unknown) => void) | undefined
    })
    try {
      port.postMessage({ type: 'call', id, method, params }, opts.transfer ?? [])
    } catch (err) {
      // params that cannot cross (a DataCloneError): this call fails, nothing waits for it
      waiting.get(id)?.reject(err as Error)
      waiting.delete(id)
    }
  })
  const fail = (err: Error): void => {
    failed ??= err
    for (const w of waiting.values()) w.reject(err)
    waiting.clear()
  }
  return { call, fail, waiting: () => waiting.size }
}
