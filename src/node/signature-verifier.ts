// Message signature checks off the event loop. A BLS verification costs 23 ms on a fast core and about
// 45 ms on the machine issue 9 was measured on (two pairings; NOTES.md), so checking pushed messages inline
// let a flood of bad signatures take the whole event loop from block production and the RPC. One
// interface, two executors (STYLE habit 4): a worker thread for the node, inline for tests and tools.
import { Worker } from 'node:worker_threads'
import { encodeSignedMessage, verifyMessageSignature, type SignedMessage } from '../core'

export interface SignatureVerifier {
  /** True when the signature is From's key signing the message's CID; never throws for a bad signature. */
  verify: (sm: SignedMessage) => Promise<boolean>
  close: () => Promise<void>
}

/** Checks on the calling thread: simple, but each BLS check holds the event loop for its whole cost. */
export function inlineVerifier (): SignatureVerifier {
  return {
    verify: async (sm) => {
      try { verifyMessageSignature(sm); return true } catch { return false }
    },
    close: async () => {}
  }
}

/** A verifier thread died or was closed with checks outstanding: those messages were never judged. */
export class VerifierUnavailableError extends Error {
  static override name = 'VerifierUnavailableError'
  override name = 'VerifierUnavailableError'
  readonly code = 'VERIFIER_UNAVAILABLE'
}

/** verify() after close(): the verifier is gone for good (a node stopping must not start a new thread). */
export class VerifierClosedError extends Error {
  static override name = 'VerifierClosedError'
  override name = 'VerifierClosedError'
  readonly code = 'VERIFIER_CLOSED'
  constructor () { super('the signature verifier is closed') }
}

/** How long after a thread died no new one is started (checks are refused meanwhile). */
export const RESTART_BACKOFF_MS = 5000

export interface ThreadRequest { id: number, bytes: Uint8Array }
export interface ThreadReply { id: number, ok: boolean }

/**
 * One worker thread, started on first use, checking messages in the order they are handed over (the pool
 * relies on that order for a sender's consecutive nonces). The thread is unref'd so a node that forgets
 * close() still exits; a thread that dies fails what it held and the next check starts a new one. close()
 * is final: later checks reject with VerifierClosedError.
 */
export function threadVerifier (): SignatureVerifier {
  let worker: Worker | undefined
  let nextId = 0
  let diedAt = -Infinity
  let lastDeath = ''
  let closed = false
  const waiting = new Map<number, { resolve: (ok: boolean) => void, reject: (err: Error) => void }>()
  const failAll = (why: string): void => {
    for (const w of waiting.values()) w.reject(new VerifierUnavailableError(why))
    waiting.clear()
  }
  const start = (): Worker => {
    // no inherited flags: the entry registers tsx itself, and a parent's `--import x.ts` would run in the
    // thread before that (found running the node under `node --import tsx --import polyfills.ts`)
    const w = new Worker(new URL('./signature-thread.mjs', import.meta.url), { execArgv: [] })
    w.unref()
    w.on('message', (reply: ThreadReply) => {
      const entry = waiting.get(reply.id)
      waiting.delete(reply.id)
      entry?.resolve(reply.ok)
    })
    const gone = (why: string): void => {
      if (worker === w) worker = undefined
      diedAt = Date.now()
      lastDeath = why
      failAll(why)
    }
    w.on('error', (err) => { gone(`signature thread failed: ${err.message}`) })
    w.on('exit', (code) => { gone(`signature thread exited (${code})`) })
    return w
  }
  return {
    verify: async (sm) => {
      if (closed) throw new VerifierClosedError()
      // a thread that cannot start would otherwise be restarted (tsx, curve tables: ~1 s of CPU) per push
      if (worker === undefined && Date.now() - diedAt < RESTART_BACKOFF_MS) throw new VerifierUnavailableError(lastDeath)
      worker ??= start()
      const id = nextId++
      const bytes = encodeSignedMessage(sm)
      return await new Promise<boolean>((resolve, reject) => {
        waiting.set(id, { resolve, reject })
        // copied, not transferred: a few hundred bytes, and the encoder's buffer may be shared
        worker!.postMessage({ id, bytes } satisfies ThreadRequest)
      })
    },
    close: async () => {
      closed = true
      const w = worker
      worker = undefined
      failAll('signature verifier closed')
      await w?.terminate()
    }
  }
}
