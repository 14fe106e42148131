// The page's pool of hashing workers: computes the piece of a File/Blob read one segment at a time, each
// segment's subtree in whichever worker is free, so memory holds at most two segments per worker whatever
// the file's size. Progress is reported per segment; an aborted signal stops reading and rejects; a
// worker that dies is replaced and its segment retried once.
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
  close: () => void
}

export class PieceWorkerError extends Error {
  static override name = 'PieceWorkerError'
  override name = 'PieceWorkerError'
}

interface Job { msg: PoolToWorker, transfer?: ArrayBuffer, resolve: (m: WorkerToPool) => void, reject: (e: Error) => void, tries: number }
interface Slot { worker: WorkerLike, ready: Promise<void>, job: Job | null }

const fromWire = (e: WireError): Error => Object.assign(new Error(e.message), { name: e.name, code: e.code })

export function createPiecePool (init: PiecePoolInit): PiecePool {
  const queue: Job[] = []
  const slots: Slot[] = []

  const start = (): Slot => {
    const worker = init.spawn()
    let ready!: () => void
    const slot: Slot = { worker, ready: new Promise(resolve => { ready = resolve }), job: null }
    worker.addEventListener('message', (evt) => {
      const msg = evt.data
      if (msg.type === 'ready') { ready(); pump(); return }
      const job = slot.job
      slot.job = null
      if (job !== null) {
        if (msg.type === 'error') job.reject(fromWire(msg.error))
        else job.resolve(msg)
      }
      pump()
    })
    worker.addEventListener('error', () => {
      // a dead worker: replace it, retry its job once
      const job = slot.job
      worker.terminate()
      slots.splice(slots.indexOf(slot), 1, start())
      if (job !== null) {
        if (job.tries >= 1) job.reject(new PieceWorkerError('a hashing worker died twice on the same segment'))
        else { job.tries++; queue.unshift(job) }
      }
      pump()
    })
    worker.postMessage({ type: 'init', module: init.module }, [])
    return slot
  }

  function pump (): void {
    for (const slot of slots) {
      if (slot.job !== null || queue.length === 0) continue
      const job = queue.shift()!
      slot.job = job
      // a retried job's buffer was transferred away the first time: send a copy each time
      const bytes = job.transfer?.slice(0)
      void slot.ready.then(() => {
        if (bytes === undefined) slot.worker.postMessage(job.msg, [])
        else slot.worker.postMessage({ ...job.msg, bytes } as PoolToWorker, [bytes])
      })
    }
  }

  for (let i = 0; i < Math.max(1, init.size); i++) slots.push(start())

  const run = async (msg: PoolToWorker): Promise<WorkerToPool> => await new Promise((resolve, reject) => {
    queue.push({ msg, transfer: 'bytes' in msg ? msg.bytes : undefined, resolve, reject, tries: 0 })
    pump()
  })

  return {
    async pieceOf (blob, opts = {}) {
      const total = blob.size
      if (total < MIN_PIECE_PAYLOAD_BYTES) throw new PieceTooSmallError(total)
      if (total > MAX_PIECE_PAYLOAD_BYTES) throw new PieceTooLargeError()
      const signal = opts.signal
      signal?.throwIfAborted()
      let digest: PieceDigest
      if (total <= SEGMENT_PAYLOAD_BYTES) {
        const reply = await run({ type: 'digest', id: 0, bytes: await blob.arrayBuffer() })
        if (reply.type !== 'digest') throw new PieceWorkerError('unexpected reply')
        digest = reply.digest
        opts.onProgress?.({ bytesHashed: total, totalBytes: total })
      } else {
        const count = Math.ceil(total / SEGMENT_PAYLOAD_BYTES)
        const roots: Uint8Array[] = new Array(count)
        let hashed = 0
        let next = 0
        // at most two segments in flight per worker: bounded memory, every worker busy
        const inFlight = new Set<Promise<void>>()
        const limit = 2 * slots.length
        while (next < count || inFlight.size > 0) {
          while (next < count && inFlight.size < limit) {
            signal?.throwIfAborted()
            const i = next++
            const part = blob.slice(i * SEGMENT_PAYLOAD_BYTES, Math.min(total, (i + 1) * SEGMENT_PAYLOAD_BYTES))
            const p: Promise<void> = part.arrayBuffer()
              .then(async bytes => await run({ type: 'segment', id: i, bytes, height: SEGMENT_HEIGHT }))
              .then(reply => {
                if (reply.type !== 'root') throw new PieceWorkerError('unexpected reply')
                roots[i] = reply.root
                hashed += part.size
                opts.onProgress?.({ bytesHashed: hashed, totalBytes: total })
              })
              .finally(() => { inFlight.delete(p) })
            inFlight.add(p)
          }
          const abort = signal === undefined ? null : new Promise<never>((_resolve, reject) => { signal.addEventListener('abort', () => reject(signal.reason), { once: true }) })
          await Promise.race(abort === null ? [...inFlight] : [...inFlight, abort])
        }
        digest = combineSegments(roots, total)
      }
      return { digest, v1: pieceCidV1(digest.root), v2: pieceCidV2(digest) }
    },
    async verifyPossession (proofSet, seed, count, proof) {
      const reply = await run({ type: 'verify', id: 0, proofSet, seed, count, proof })
      if (reply.type !== 'verified') throw new PieceWorkerError('unexpected reply')
    },
    close () {
      for (const s of slots) s.worker.terminate()
      slots.length = 0
    }
  }
}
