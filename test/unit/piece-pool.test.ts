// The piece pool's scheduling, driven in-process: each "worker" is runPieceWorker on the far end of a
// MessageChannel (the code a real worker runs), so splitting, combining, progress, cancellation and the
// replacement of a dying worker are tested without a browser. test/browser covers real Workers.
import { describe, it, expect, beforeAll } from 'vitest'
import { readFileSync } from 'node:fs'
import { pieceDigest, pieceCidV2, SEGMENT_PAYLOAD_BYTES, MAX_PIECE_PAYLOAD_BYTES } from '../../src/core'
import { createPiecePool, type WorkerLike } from '../../workers/piece-pool'
import { runPieceWorker } from '../../workers/piece-worker'
import { PIECE_WASM_PATH } from '../helpers/wasm'
import type { PoolToWorker, WorkerToPool } from '../../workers/piece-protocol'

let module: WebAssembly.Module
beforeAll(async () => { module = await WebAssembly.compile(readFileSync(PIECE_WASM_PATH)) })

/** A worker in this thread; `dieOnJob` makes it fail (as a crashed worker does) on its first n jobs. */
function inProcessWorker (dieOnJob = 0, failStart = false): WorkerLike {
  const { port1, port2 } = new MessageChannel()
  const errorListeners: Array<(e: Event) => void> = []
  let deaths = dieOnJob
  runPieceWorker({
    postMessage: (m: WorkerToPool, t?: Transferable[]) => { port2.postMessage(m, t ?? []) },
    addEventListener: (_type, listener) => {
      port2.addEventListener('message', (evt) => {
        const msg = (evt as MessageEvent<PoolToWorker>).data
        if (msg.type === 'init' && failStart) { setTimeout(() => { for (const l of errorListeners) l(new Event('error')) }, 1); return }
        if (msg.type !== 'init' && deaths > 0) { deaths--; for (const l of errorListeners) l(new Event('error')); return }
        listener(evt as MessageEvent<PoolToWorker>)
      })
    }
  })
  port2.start()
  return {
    postMessage: (m, t) => { port1.postMessage(m, t) },
    addEventListener: ((type: string, listener: (evt: never) => void) => {
      if (type === 'error') errorListeners.push(listener as (e: Event) => void)
      else { port1.addEventListener('message', listener as (evt: Event) => void); port1.start() }
    }) as WorkerLike['addEventListener'],
    terminate: () => { port1.close(); port2.close() }
  }
}

const payload = (n: number): Uint8Array<ArrayBuffer> => new Uint8Array(n).map((_, i) => (i * 2654435761) >>> 24)

describe('piece pool', () => {
  it('splits a large blob across workers and gets the whole piece, with progress', async () => {
    const pool = createPiecePool({ size: 3, module, spawn: () => inProcessWorker() })
    const bytes = payload(3 * SEGMENT_PAYLOAD_BYTES + 12_345)
    const progress: number[] = []
    const got = await pool.pieceOf(new Blob([bytes]), { onProgress: p => progress.push(p.bytesHashed) })
    expect(String(got.v2)).toBe(String(pieceCidV2(pieceDigest(bytes))))
    expect(progress[progress.length - 1]).toBe(bytes.length)
    expect(progress).toHaveLength(4)
    // a small blob is one job
    const small = payload(100_000)
    expect(String((await pool.pieceOf(new Blob([small]))).v2)).toBe(String(pieceCidV2(pieceDigest(small))))
    await expect(pool.pieceOf(new Blob([new Uint8Array(64)]))).rejects.toMatchObject({ name: 'PieceTooSmallError' })
    // a source claiming more than a 64 GiB sector holds is refused before anything is read
    const oversized = { size: MAX_PIECE_PAYLOAD_BYTES + 1, slice: () => { throw new Error('read') }, arrayBuffer: async () => { throw new Error('read') } }
    await expect(pool.pieceOf(oversized)).rejects.toMatchObject({ name: 'PieceTooLargeError' })
    pool.close()
  })

  it('stops when the signal aborts, and reports nothing after', async () => {
    const pool = createPiecePool({ size: 1, module, spawn: () => inProcessWorker() })
    const ctl = new AbortController()
    let calls = 0
    let afterAbort = 0
    const run = pool.pieceOf(new Blob([payload(6 * SEGMENT_PAYLOAD_BYTES)]), {
      signal: ctl.signal,
      onProgress: () => { calls++; if (ctl.signal.aborted) afterAbort++; ctl.abort(new DOMException('cancelled', 'AbortError')) }
    })
    await expect(run).rejects.toMatchObject({ name: 'AbortError' })
    await new Promise(resolve => setTimeout(resolve, 300)) // segments already running finish meanwhile
    expect(calls).toBe(1)
    expect(afterAbort).toBe(0)
    // the pool still works afterwards
    const small = payload(5000)
    expect(String((await pool.pieceOf(new Blob([small]))).v2)).toBe(String(pieceCidV2(pieceDigest(small))))
    pool.close()
  })

  it('closing rejects what is running; workers that cannot start are not respawned forever', async () => {
    const pool = createPiecePool({ size: 1, module, spawn: () => inProcessWorker() })
    const pending = pool.pieceOf(new Blob([payload(3 * SEGMENT_PAYLOAD_BYTES)]))
    pool.close()
    await expect(pending).rejects.toMatchObject({ name: 'PieceWorkerError' })
    await expect(pool.pieceOf(new Blob([payload(1000)]))).rejects.toMatchObject({ name: 'PieceWorkerError' })

    let spawned = 0
    const broken = createPiecePool({ size: 2, module, spawn: () => { spawned++; return inProcessWorker(0, true) } })
    await expect(broken.pieceOf(new Blob([payload(1000)]))).rejects.toMatchObject({ name: 'PieceWorkerError', message: expect.stringMatching(/fail to start/) })
    await new Promise(resolve => setTimeout(resolve, 100))
    expect(spawned).toBeLessThanOrEqual(5)
    broken.close()
  })

  it('replaces a worker that dies and retries its segment once; a segment that kills twice fails by name', async () => {
    let spawned = 0
    const flaky = createPiecePool({ size: 2, module, spawn: () => inProcessWorker(spawned++ === 0 ? 1 : 0) })
    const bytes = payload(2 * SEGMENT_PAYLOAD_BYTES + 5)
    expect(String((await flaky.pieceOf(new Blob([bytes]))).v2)).toBe(String(pieceCidV2(pieceDigest(bytes))))
    expect(spawned).toBe(3)
    flaky.close()
    const doomed = createPiecePool({ size: 1, module, spawn: () => inProcessWorker(1) })
    await expect(doomed.pieceOf(new Blob([payload(1000)]))).rejects.toMatchObject({ name: 'PieceWorkerError' })
    doomed.close()
  })
})

describe('proof-of-possession verification in a pool worker', () => {
  it('accepts a good proof and names a bad one', async () => {
    const { pieceCidV1, zeroComm, deriveChallenges, encodePossessionProof, encodeProofSet } = await import('../../src/core')
    const set = { pieces: [{ pieceCid: pieceCidV1(zeroComm(20)), paddedBytes: 32 * 2 ** 20 }] }
    const seed = new Uint8Array(32).fill(3)
    const path = Array.from({ length: 20 }, (_, h) => zeroComm(h))
    const good = encodePossessionProof(deriveChallenges(seed, set, 5).map(c => ({ ...c, value: new Uint8Array(32), path })))
    const bad = encodePossessionProof(deriveChallenges(seed, set, 5).map(c => ({ ...c, value: new Uint8Array(32).fill(1), path })))
    const pool = createPiecePool({ size: 1, module, spawn: () => inProcessWorker() })
    await pool.verifyPossession(encodeProofSet(set), seed, 5, good)
    await expect(pool.verifyPossession(encodeProofSet(set), seed, 5, bad)).rejects.toMatchObject({ name: 'PossessionProofError', code: 'BAD_PATH' })
    pool.close()
  })
})
