// The page's pool of hashing workers: computes the piece of a File/Blob read one segment at a time, each
// segment's subtree in whichever worker is free. At most MAX_IN_FLIGHT segments are read and not yet hashed,
// so memory is bounded whatever the file's size or the core count. Progress is reported per segment; an
// aborted signal stops reading, drops the call's queued segments and rejects; a worker that dies is
// replaced and its segment (re-read from the source) retried once; workers that cannot even start are not
// respawned forever.
import {
  combineSegments, pieceCidV1, pieceCidV2, SEGMENT_HEIGHT, SEGMENT_PAYLOAD_BYTES, PieceTooSmallError, PieceTooLargeError,
  MIN_PIECE_PAYLOAD_BYTES, MAX_PIECE_PAYLOAD_BYTES, type CID, type PieceDigest, type WireError
} from '../src/core'
import type { PoolToWorker, WorkerToPool } from './piece-protocol'

export interface WorkerLike {
  postMessage: (msg: PoolToWorker, transfer: Transferable[]) => void
  addEventListener: ((type: 'message', listener: (evt: MessageEvent<WorkerToPool>) => void) => void) & ((type: 'error', listener: (evt: Event) => void) => void)
  terminate: () => void
}

export interface PiecePoolInit {
  size: number
  module: WebAssembly.Module
  spawn: () => WorkerLike
}

export interface PieceProgress { bytesHashed: number, totalBytes: number }
export interface PieceResult { digest: PieceDigest, v1: CID, v2: CID }

/** What the pool reads: a Blob or File in the browser; a file read by position on Node. */
export interface PieceSource {
  size: number
  slice: (start: number, end: number) => { size: number, arrayBuffer: () => Promise<ArrayBuffer> }
  arrayBuffer: () => Promise<ArrayBuffer>
}

export interface PiecePool {
  pieceOf: (blob: PieceSource, opts?: { signal?: AbortSignal, onProgress?: (p: PieceProgress) => void }) => Promise<PieceResult>
  /** Checks a proof of possession in a worker's WASM verifier; rejects with PossessionProofError (name, code). */
  verifyPossession: (proofSet: Uint8Array, seed: Uint8Array, count: number, proof: Uint8Array) => Promise<void>
  /** Stops every worker; calls still running reject with PieceWorkerError. */
  close: () => void
}

export class PieceWorkerError extends Error {
  static override name = 'PieceWorkerError'
  override name = 'PieceWorkerError'
}

/** 8 segments of ~4 MiB: about 32 MiB read ahead at most, however many cores. */
export const MAX_IN_FLIGHT = 8
/** Workers that die before they are ready this many times in a row: stop respawning, fail the work. */
const MAX_START_FAILURES = 3

interface Call { done: boolean }
interface Job {
  call: Call
  msg: PoolToWorker
  /** Reads the bytes to send (again, on a retry: the first copy was transferred away). */
  read?: () => Promise<ArrayBuffer>
  resolve: (m: WorkerToPool) => void
  reject: (e: Error) => void
  tries: number
}
interface Slot { worker: WorkerLike, ready: boolean, job: Job | null }

const fromWire = (e: WireError): Error => Object.assign(new Error(e.message), { name: e.name, code: e.code })

export function createPiecePool (init: PiecePoolInit): PiecePool {
  const queue: Job[] = []
  const slots: Slot[] = []
  let closed = false
  let startFailures = 0

  const failAll = (err: Error): void => {
    for (const job of queue.splice(0)) job.reject(err)
    for (const slot of slots) { const job = slot.job; slot.job = null; job?.reject(err) }
  }

  const start = (): Slot => {
    const worker = init.spawn()
    const slot: Slot = { worker, ready: false, job: null }
    let dead = false
    const die = (): void => {
      if (dead) return
      dead = true
      worker.terminate()
      const job = slot.job
      slot.job = null
      const at = slots.indexOf(slot)
      if (at >= 0) slots.splice(at, 1)
      if (!slot.ready) startFailures++
      if (job !== null) {
        if (job.tries >= 1) job.reject(new PieceWorkerError('a hashing worker died twice on the same job'))
        else { job.tries++; queue.unshift(job) }
      }
      if (closed) return
      if (startFailures >= MAX_START_FAILURES) {
        failAll(new PieceWorkerError(`hashing workers fail to start (${startFailures} in a row)`))
        return
      }
      slots.push(start())
      pump()
    }
    worker.addEventListener('message', (evt) => {
      const msg = evt.data
      if (msg.type === 'ready') { slot.ready = true; startFailures = 0; pump(); return }
      if (msg.type === 'error' && msg.id === -1) { die(); return } // its WASM would not start
      const job = slot.job
      slot.job = null
      if (job !== null) {
        if (msg.type === 'error') job.reject(fromWire(msg.error))
        else job.resolve(msg)
      }
      pump()
    })
    worker.addEventListener('error', die)
    worker.postMessage({ type: 'init', module: init.module }, [])
    return slot
  }

  function pump (): void {
    for (const slot of slots) {
      if (!slot.ready || slot.job !== null) continue
      let job = queue.shift()
      while (job !== undefined && job.call.done) job = queue.shift() // a cancelled call's leftovers
      if (job === undefined) return
      const j = job
      slot.job = j
      if (j.read === undefined) { slot.worker.postMessage(j.msg, []); continue }
      j.read().then(bytes => {
        if (slot.job !== j) return // the worker died meanwhile; the job is queued again
        slot.worker.postMessage({ ...j.msg, bytes } as PoolToWorker, [bytes])
      }, (err: Error) => { slot.job = null; j.reject(err); pump() })
    }
  }

  for (let i = 0; i < Math.max(1, init.size); i++) slots.push(start())

  const run = async (call: Call, msg: PoolToWorker, read?: () => Promise<ArrayBuffer>): Promise<WorkerToPool> => {
    if (closed) throw new PieceWorkerError('the piece pool is closed')
    return await new Promise((resolve, reject) => {
      queue.push({ call, msg, read, resolve, reject, tries: 0 })
      pump()
    })
  }

  return {
    async pieceOf (source, opts = {}) {
      const total = source.size
      if (total < MIN_PIECE_PAYLOAD_BYTES) throw new PieceTooSmallError(total)
      if (total > MAX_PIECE_PAYLOAD_BYTES) throw new PieceTooLargeError()
      const signal = opts.signal
      signal?.throwIfAborted()
      const call: Call = { done: false }
      let onAbort: (() => void) | undefined
      const aborted = new Promise<never>((_resolve, reject) => {
        onAbort = () => { reject(signal?.reason) }
        signal?.addEventListener('abort', onAbort, { once: true })
      })
      aborted.catch(() => {})
      try {
        let digest: PieceDigest
        if (total <= SEGMENT_PAYLOAD_BYTES) {
          const reply = await Promise.race([run(call, { type: 'digest', id: 0, bytes: new ArrayBuffer(0) }, async () => await source.arrayBuffer()), aborted])
          if (reply.type !== 'digest') throw new PieceWorkerError('unexpected reply')
          digest = reply.digest
          opts.onProgress?.({ bytesHashed: total, totalBytes: total })
        } else {
          const count = Math.ceil(total / SEGMENT_PAYLOAD_BYTES)
          const roots: Uint8Array[] = new Array(count)
          let hashed = 0
          let next = 0
          const inFlight = new Set<Promise<void>>()
          const limit = Math.min(2 * Math.max(1, slots.length), MAX_IN_FLIGHT)
          while (next < count || inFlight.size > 0) {
            while (next < count && inFlight.size < limit) {
              const i = next++
              const part = source.slice(i * SEGMENT_PAYLOAD_BYTES, Math.min(total, (i + 1) * SEGMENT_PAYLOAD_BYTES))
              const p: Promise<void> = run(call, { type: 'segment', id: i, bytes: new ArrayBuffer(0), height: SEGMENT_HEIGHT }, async () => await part.arrayBuffer())
                .then(reply => {
                  if (reply.type !== 'root') throw new PieceWorkerError('unexpected reply')
                  roots[i] = reply.root
                  hashed += part.size
                  if (!call.done) opts.onProgress?.({ bytesHashed: hashed, totalBytes: total })
                })
                .finally(() => { inFlight.delete(p) })
              inFlight.add(p)
            }
            await Promise.race([...inFlight, aborted])
          }
          digest = combineSegments(roots, total)
        }
        return { digest, v1: pieceCidV1(digest.root), v2: pieceCidV2(digest) }
      } finally {
        call.done = true
        if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort)
        // queued segments of this call are dropped by pump(); running ones finish and are ignored
        for (let i = queue.length - 1; i >= 0; i--) if (queue[i]!.call === call) queue.splice(i, 1)[0]!.reject(new PieceWorkerError('call ended'))
      }
    },
    async verifyPossession (proofSet, seed, count, proof) {
      const reply = await run({ done: false }, { type: 'verify', id: 0, proofSet, seed, count, proof })
      if (reply.type !== 'verified') throw new PieceWorkerError('unexpected reply')
    },
    close () {
      closed = true
      const err = new PieceWorkerError('the piece pool was closed')
      failAll(err)
      for (const s of slots.splice(0)) s.worker.terminate()
    }
  }
}
