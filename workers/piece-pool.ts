// The page's pool of hashing workers: computes the piece of a File/Blob read one segment at a time, each
// segment's subtree in whichever worker is free. At most MAX_IN_FLIGHT segments are read and not yet hashed,
// so memory is bounded whatever the file's size or the core count. Progress is reported per segment; an
// aborted signal stops reading, drops the call's queued segments and rejects; a worker that dies is
// replaced and its segment (re-read from the source) retried once; workers that cannot even start are not
// respawned forever. pieceStream hashes bytes as they are produced (a CAR being packed, frames being
// received) in the same workers, so nothing has to be read back from disk to learn its piece.
// modules by path, not core's barrel: this pool is in the light-client worker's entry, which loads before anything heavy
import { combineSegments, SEGMENT_HEIGHT, SEGMENT_PAYLOAD_BYTES } from '../src/core/piece/segments'
import { pieceCidV1, pieceCidV2 } from '../src/core/piece/piece-cid'
import { PieceTooSmallError, PieceTooLargeError, MIN_PIECE_PAYLOAD_BYTES, MAX_PIECE_PAYLOAD_BYTES, type PieceDigest } from '../src/core/piece/piece-hasher'
import type { CID, WireError } from '../src/core'
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
export interface PieceResult {
  digest: PieceDigest
  v1: CID
  v2: CID
  /**
   * Each segment's root at SEGMENT_HEIGHT (the short last one lifted), as combineSegments took them: kept, they
   * let a prover hash only a challenged segment. Present when the payload spans more than one segment.
   */
  segmentRoots?: Uint8Array[]
}

/** What the pool reads: a Blob or File in the browser; a file read by position on Node. */
export interface PieceSource {
  size: number
  slice: (start: number, end: number) => { size: number, arrayBuffer: () => Promise<ArrayBuffer> }
  arrayBuffer: () => Promise<ArrayBuffer>
}

/** Progress of a stream: its total is only known at finish(). */
export interface PieceStreamProgress { bytesHashed: number, bytesWritten: number }

/**
 * A piece computed from bytes written in order. Await each call before the next (they run one at a time in
 * the order made). write() resolves once the pool has room for more: at most MAX_IN_FLIGHT full segments of
 * all the pool's streams together are waiting for or in a worker, besides each stream's segment being filled
 * and its segment 0. Segment 0 (the first
 * SEGMENT_PAYLOAD_BYTES) is held until finish(), so writeAt may still rewrite bytes in it (a CAR header whose
 * root is known only at the end); a rewrite anywhere else is PieceRewriteError. A failed worker job, an abort
 * or a size past MAX_PIECE_PAYLOAD_BYTES fails the stream: every later call rejects with that error.
 */
export interface PieceStream {
  write: (bytes: Uint8Array) => Promise<void>
  writeAt: (offset: number, bytes: Uint8Array) => Promise<void>
  /** Hashes what is left and returns exactly what pieceOf returns for the same bytes (same size checks). */
  finish: () => Promise<PieceResult>
}

export interface PiecePool {
  pieceOf: (blob: PieceSource, opts?: { signal?: AbortSignal, onProgress?: (p: PieceProgress) => void }) => Promise<PieceResult>
  pieceStream: (opts?: { signal?: AbortSignal, onProgress?: (p: PieceStreamProgress) => void }) => PieceStream
  /** Checks a proof of possession in a worker's WASM verifier; rejects with PossessionProofError (name, code). */
  verifyPossession: (proofSet: Uint8Array, seed: Uint8Array, count: number, proof: Uint8Array) => Promise<void>
  /** Checks a spot audit's answer in a worker's WASM verifier; rejects with AuditFailedError (name, code). */
  verifyAudit: (pieceCid: Uint8Array, paddedBytes: number, leaves: number[], proof: Uint8Array) => Promise<void>
  /** Each step of one Merkle path re-hashed in a worker's WASM verifier: ok[k] when value through path[0..k] gives nodes[k + 1]. */
  pathSteps: (leaf: number, value: Uint8Array, path: Uint8Array[], nodes: Uint8Array[]) => Promise<boolean[]>
  /** Stops every worker; calls still running reject with PieceWorkerError. */
  close: () => void
}

export class PieceWorkerError extends Error {
  static override name = 'PieceWorkerError'
  override name = 'PieceWorkerError'
}

/** A rewrite outside segment 0 (already on its way to a worker), or of bytes not yet written. */
export class PieceRewriteError extends RangeError {
  static override name = 'PieceRewriteError'
  override name = 'PieceRewriteError'
  constructor (readonly offset: number, readonly length: number, readonly rewritableBytes: number) {
    super(`cannot rewrite ${length} bytes at ${offset}: only the first ${rewritableBytes} bytes written (segment 0, held until finish) may be rewritten`)
  }
}

/** A call on a stream that has finished. */
export class PieceStreamEndedError extends Error {
  static override name = 'PieceStreamEndedError'
  override name = 'PieceStreamEndedError'
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
  /** Its bytes read ahead while the workers hash (used once: a retry reads again). */
  ahead?: Promise<ArrayBuffer>
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
      const bytes = j.ahead ?? j.read()
      j.ahead = undefined
      bytes.then(bytes => {
        if (slot.job !== j) return // the worker died meanwhile; the job is queued again
        slot.worker.postMessage({ ...j.msg, bytes } as PoolToWorker, [bytes])
      }, (err: Error) => { slot.job = null; j.reject(err); pump() })
    }
    readAhead()
  }

  /**
   * The next queued jobs' bytes, one per worker, are read while the workers hash: a worker that finishes a segment
   * finds the next in hand instead of waiting for its read (issue 17's tab-ceilings bench: a worker alternated
   * reading and hashing). At most a segment per worker is held ahead. Reading a Blob through one stream() instead
   * of by slices was tried and measured no faster (same run, 512 MiB, 2 cores: 206 against 210 MiB/s): Chromium's
   * own threads spent less on the read, and the page's JavaScript, taking the stream's chunks, as much more.
   */
  function readAhead (): void {
    let ahead = 0
    for (const j of queue) {
      if (ahead >= slots.length) return
      if (j.read === undefined || j.call.done) continue
      if (j.ahead === undefined) {
        j.ahead = j.read()
        j.ahead.catch(() => {}) // (its error reaches the job when it is sent; one never sent is no one's)
      }
      ahead++
    }
  }

  for (let i = 0; i < Math.max(1, init.size); i++) slots.push(start())

  /**
   * Streamed segments handed out and not yet hashed, over every stream of this pool: a provider running many
   * transfers holds MAX_IN_FLIGHT segments in all, not per transfer. Writers waiting for room wait here.
   */
  let streamInFlight = 0
  const roomWaiters = new Set<() => void>()
  const roomMade = (): void => { for (const w of [...roomWaiters]) w() }

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
          return { digest, v1: pieceCidV1(digest.root), v2: pieceCidV2(digest), segmentRoots: roots }
        }
        return { digest, v1: pieceCidV1(digest.root), v2: pieceCidV2(digest) }
      } finally {
        call.done = true
        if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort)
        // queued segments of this call are dropped by pump(); running ones finish and are ignored
        for (let i = queue.length - 1; i >= 0; i--) if (queue[i]!.call === call) queue.splice(i, 1)[0]!.reject(new PieceWorkerError('call ended'))
      }
    },
    pieceStream (opts = {}) {
      const signal = opts.signal
      signal?.throwIfAborted()
      const call: Call = { done: false }
      const limit = Math.min(2 * Math.max(1, slots.length), MAX_IN_FLIGHT)
      /** Segment 0, kept here until finish() so writeAt can still change it. */
      let held: Uint8Array | null = null
      /** The segment being filled (index >= 1), handed to a worker once full. */
      let current: Uint8Array | null = null
      /**
       * A segment buffer a worker handed back, filled again rather than a new one made: a new buffer's pages are
       * touched for the first time as it is filled, which made this copy most of the pool's JavaScript in Chromium
       * (3.2 s of the tab's 5.6 s, a profiled 256 MiB upload; 0.8 s after). One is kept (the writer fills one segment
       * at a time), and dropped when the stream ends: a kept stream holds one segment more, never `limit` more.
       */
      let spare: Uint8Array | null = null
      const takeSpare = (): Uint8Array | null => { const b = spare; spare = null; return b }
      let written = 0
      let hashed = 0
      const roots: Uint8Array[] = []
      const inFlight = new Set<Promise<void>>()
      let failed: Error | undefined
      let ended = false
      let tail: Promise<unknown> = Promise.resolve()

      const end = (err?: Error): void => {
        if (err !== undefined) failed ??= err
        if (call.done) return
        call.done = true
        spare = null
        signal?.removeEventListener('abort', onAbort)
        // queued segments of this stream are dropped; running ones finish and are ignored
        for (let i = queue.length - 1; i >= 0; i--) if (queue[i]!.call === call) queue.splice(i, 1)[0]!.reject(new PieceWorkerError('stream ended'))
      }
      let wake: (() => void) | undefined
      const onAbort = (): void => { end(signal?.reason as Error); wake?.() }
      signal?.addEventListener('abort', onAbort, { once: true })
      const check = (): void => {
        if (failed !== undefined) throw failed
        if (ended) throw new PieceStreamEndedError('the piece stream has finished')
      }
      /** Resolves when a streamed segment (of any stream) settles, or this stream fails. */
      const settled = async (): Promise<void> => {
        let done: () => void = () => {}
        await new Promise<void>(resolve => { done = resolve; wake = resolve; roomWaiters.add(resolve) })
        roomWaiters.delete(done)
        wake = undefined
      }

      /** Sends one segment's bytes to a worker; transferred, not copied: see the note on `read`. */
      const submit = (index: number, bytes: Uint8Array): void => {
        let buffer: ArrayBuffer | null = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer as ArrayBuffer : bytes.slice().buffer
        const size = bytes.length
        // A pieceOf segment is read again from its source when its worker dies; a streamed one has no source but
        // this buffer, moved to the worker. Keeping a copy for a retry would double the bytes held in flight,
        // for a failure that is rare: the stream fails instead, and the caller hashes the bytes it stored.
        const read = async (): Promise<ArrayBuffer> => {
          if (buffer === null) throw new PieceWorkerError('a hashing worker died holding a streamed segment, whose bytes went with it')
          const b = buffer
          buffer = null
          return b
        }
        const p: Promise<void> = run(call, { type: 'segment', id: index, bytes: new ArrayBuffer(0), height: SEGMENT_HEIGHT }, read)
          .then(reply => {
            if (reply.type !== 'root') throw new PieceWorkerError('unexpected reply')
            roots[index] = reply.root
            if (reply.bytes?.byteLength === SEGMENT_PAYLOAD_BYTES && !call.done) spare ??= new Uint8Array(reply.bytes)
            hashed += size
            if (!call.done) opts.onProgress?.({ bytesHashed: hashed, bytesWritten: written })
          })
          .catch((err: Error) => { end(err) })
          .finally(() => { inFlight.delete(p); streamInFlight--; roomMade() })
        inFlight.add(p)
        streamInFlight++
      }

      const write = async (bytes: Uint8Array): Promise<void> => {
        check()
        if (written + bytes.length > MAX_PIECE_PAYLOAD_BYTES) { const err = new PieceTooLargeError(); end(err); throw err }
        let at = 0
        while (at < bytes.length) {
          const index = Math.floor(written / SEGMENT_PAYLOAD_BYTES)
          const within = written - index * SEGMENT_PAYLOAD_BYTES
          const target = index === 0 ? (held ??= new Uint8Array(SEGMENT_PAYLOAD_BYTES)) : (current ??= takeSpare() ?? new Uint8Array(SEGMENT_PAYLOAD_BYTES))
          const n = Math.min(bytes.length - at, SEGMENT_PAYLOAD_BYTES - within)
          target.set(bytes.subarray(at, at + n), within)
          at += n
          written += n
          if (index > 0 && within + n === SEGMENT_PAYLOAD_BYTES) {
            // back-pressure: the writer waits here while the workers are behind
            while (inFlight.size >= limit || streamInFlight >= MAX_IN_FLIGHT) { await settled(); check() }
            submit(index, current!)
            current = null
          }
        }
      }

      const writeAt = async (offset: number, bytes: Uint8Array): Promise<void> => {
        check()
        const rewritable = Math.min(written, SEGMENT_PAYLOAD_BYTES)
        if (!Number.isSafeInteger(offset) || offset < 0 || offset + bytes.length > rewritable) throw new PieceRewriteError(offset, bytes.length, rewritable)
        held!.set(bytes, offset)
      }

      const finish = async (): Promise<PieceResult> => {
        check()
        ended = true
        try {
          if (written < MIN_PIECE_PAYLOAD_BYTES) throw new PieceTooSmallError(written)
          let digest: PieceDigest
          if (written <= SEGMENT_PAYLOAD_BYTES) {
            // one job, as pieceOf does for a payload this small
            const bytes = held!.slice(0, written).buffer
            const reply = await Promise.race([run(call, { type: 'digest', id: 0, bytes: new ArrayBuffer(0) }, async () => bytes), settledOrFailed()])
            if (failed !== undefined) throw failed
            if (reply === undefined || reply.type !== 'digest') throw new PieceWorkerError('unexpected reply')
            digest = reply.digest
            hashed = written
            opts.onProgress?.({ bytesHashed: hashed, bytesWritten: written })
          } else {
            const count = Math.ceil(written / SEGMENT_PAYLOAD_BYTES)
            if (current !== null) { submit(count - 1, current.subarray(0, written - (count - 1) * SEGMENT_PAYLOAD_BYTES)); current = null }
            submit(0, held!)
            while (inFlight.size > 0) { await settled(); if (failed !== undefined) throw failed }
            if (failed !== undefined) throw failed
            digest = combineSegments(roots, written)
            return { digest, v1: pieceCidV1(digest.root), v2: pieceCidV2(digest), segmentRoots: roots }
          }
          return { digest, v1: pieceCidV1(digest.root), v2: pieceCidV2(digest) }
        } catch (err) {
          // an abort or a failed segment ends queued jobs too, which then reject for that reason: report the cause
          const cause = failed ?? err as Error
          end(cause)
          throw cause
        } finally {
          end()
        }
      }
      /** Never resolves with a value: wakes a race when the stream fails (abort, a failed segment). */
      const settledOrFailed = async (): Promise<undefined> => {
        await new Promise<void>(resolve => { wake = resolve })
        wake = undefined
        return undefined
      }

      // one call at a time, in the order made, whatever the caller awaits
      const serial = <A extends unknown[], R>(fn: (...a: A) => Promise<R>) => async (...a: A): Promise<R> => {
        const r = tail.then(async () => await fn(...a))
        tail = r.catch(() => {})
        return await r
      }
      return { write: serial(write), writeAt: serial(writeAt), finish: serial(finish) }
    },
    async verifyPossession (proofSet, seed, count, proof) {
      const reply = await run({ done: false }, { type: 'verify', id: 0, proofSet, seed, count, proof })
      if (reply.type !== 'verified') throw new PieceWorkerError('unexpected reply')
    },
    async verifyAudit (pieceCid, paddedBytes, leaves, proof) {
      const reply = await run({ done: false }, { type: 'verify-audit', id: 0, pieceCid, paddedBytes, leaves, proof })
      if (reply.type !== 'verified') throw new PieceWorkerError('unexpected reply')
    },
    async pathSteps (leaf, value, path, nodes) {
      const reply = await run({ done: false }, { type: 'path-steps', id: 0, leaf, value, path, nodes })
      if (reply.type !== 'path-steps') throw new PieceWorkerError('unexpected reply')
      return reply.ok
    },
    close () {
      closed = true
      const err = new PieceWorkerError('the piece pool was closed')
      failAll(err)
      for (const s of slots.splice(0)) s.worker.terminate()
    }
  }
}
