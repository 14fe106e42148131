// The piece pool's scheduling, driven in-process: each "worker" is runPieceWorker on the far end of a
// MessageChannel (the code a real worker runs), so splitting, combining, progress, cancellation and the
// replacement of a dying worker are tested without a browser. test/browser covers real Workers.
import { describe, it, expect, beforeAll } from 'vitest'
import { pieceDigest, pieceCidV2, SEGMENT_PAYLOAD_BYTES, MAX_PIECE_PAYLOAD_BYTES } from '../../src/core'
import { createPiecePool, MAX_IN_FLIGHT, type WorkerLike, type PiecePool } from '../../workers/piece-pool'
import { until } from '../helpers/until'
import { inProcessWorker, pieceWasmModule } from '../helpers/piece-worker'

let module: WebAssembly.Module
beforeAll(async () => { module = await pieceWasmModule() })

const payload = (n: number): Uint8Array<ArrayBuffer> => new Uint8Array(n).map((_, i) => (i * 2654435761) >>> 24)

// generous: hashing tens of MiB on a loaded 2-core machine; nothing here waits on a clock to decide an outcome
describe('piece pool', { timeout: 300_000 }, () => {
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

  it('reads the next segment while a worker hashes one, and holds no more than one ahead per worker', async () => {
    // the worker's replies counted as they reach the pool, to see where each read began
    let replies = 0
    const counted = (): WorkerLike => {
      const w = inProcessWorker()
      return {
        ...w,
        addEventListener: ((type: string, listener: (evt: never) => void) => {
          if (type === 'message') w.addEventListener('message', (evt) => { if (evt.data.type === 'root') replies++; (listener as (e: typeof evt) => void)(evt) })
          else w.addEventListener('error', listener as (e: Event) => void)
        }) as WorkerLike['addEventListener']
      }
    }
    const pool = createPiecePool({ size: 1, module, spawn: counted })
    const bytes = payload(4 * SEGMENT_PAYLOAD_BYTES)
    const blob = new Blob([bytes])
    /** For each segment's read, by index: how many replies had come when it began. */
    const repliesAtRead: number[] = []
    const source = {
      size: blob.size,
      arrayBuffer: async () => await blob.arrayBuffer(),
      slice: (start: number, end: number) => {
        const part = blob.slice(start, end)
        return { size: part.size, arrayBuffer: async () => { repliesAtRead[start / SEGMENT_PAYLOAD_BYTES] = replies; return await part.arrayBuffer() } }
      }
    }
    const got = await pool.pieceOf(source)
    expect(String(got.v2)).toBe(String(pieceCidV2(pieceDigest(bytes))))
    // segment k (k ≥ 1) is read once segment k-1 is handed to the worker, before its reply: not after (no read-ahead),
    // and not earlier than k-2's reply (more than one ahead)
    expect(repliesAtRead).toEqual([0, 0, 1, 2])
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

/** Writes `bytes` to a fresh stream in pieces of the given sizes (cycled), optionally patching before finish. */
async function streamed (pool: PiecePool, bytes: Uint8Array, sizes: number[], patch?: { offset: number, bytes: Uint8Array }): Promise<string> {
  const s = pool.pieceStream()
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const n = sizes[i % sizes.length]!
    await s.write(bytes.subarray(at, at + n))
    at += n
  }
  if (patch !== undefined) await s.writeAt(patch.offset, patch.bytes)
  return String((await s.finish()).v2)
}

/** A worker whose segment jobs wait until `release()`: shows what the pool has handed out. */
function gatedWorker (): { worker: WorkerLike, sent: () => number, release: () => void } {
  const inner = inProcessWorker()
  const held: Array<() => void> = []
  let sent = 0
  let open = false
  return {
    worker: {
      ...inner,
      postMessage: (m, t) => {
        if (m.type !== 'segment' || open) { inner.postMessage(m, t); return }
        sent++
        held.push(() => { inner.postMessage(m, t) })
      }
    },
    sent: () => sent,
    release: () => { open = true; for (const f of held.splice(0)) f() }
  }
}

describe('piece stream', { timeout: 300_000 }, () => {
  const S = SEGMENT_PAYLOAD_BYTES
  it('equals pieceOf for one part-segment, exactly one segment, and several with a ragged tail, whatever the write sizes', async () => {
    const pool = createPiecePool({ size: 2, module, spawn: () => inProcessWorker() })
    try {
      const small = payload(100_003)
      expect(await streamed(pool, small, [7, 65_536, 1])).toBe(String(pieceCidV2(pieceDigest(small))))
      const one = payload(S)
      expect(await streamed(pool, one, [S])).toBe(String((await pool.pieceOf(new Blob([one]))).v2))
      // writes of odd sizes that straddle every segment border, and the last segment short
      const many = payload(3 * S + 12_345)
      const want = String(pieceCidV2(pieceDigest(many)))
      expect(String((await pool.pieceOf(new Blob([many]))).v2)).toBe(want)
      expect(await streamed(pool, many, [1_000_003, 999_983, 7])).toBe(want)
      expect(await streamed(pool, many, [many.length])).toBe(want)
      // the smallest payload, and one byte less
      expect(await streamed(pool, payload(65), [65])).toBe(String(pieceCidV2(pieceDigest(payload(65)))))
      await expect(streamed(pool, payload(64), [64])).rejects.toMatchObject({ name: 'PieceTooSmallError' })
    } finally { pool.close() }
  })

  it('fills the segment buffers its workers hand back again, and the piece is still the bytes\' (nothing stale)', async () => {
    // the buffers that came back with a root, and the segments sent in one of them
    const back = new Set<ArrayBuffer>()
    let reused = 0
    const watched = (): WorkerLike => {
      const w = inProcessWorker()
      return {
        ...w,
        postMessage: (m, t) => { if (m.type === 'segment' && back.has(m.bytes)) reused++; w.postMessage(m, t) },
        addEventListener: ((type: string, listener: (evt: never) => void) => {
          if (type === 'message') w.addEventListener('message', (evt) => { if (evt.data.type === 'root' && evt.data.bytes !== undefined) back.add(evt.data.bytes); (listener as (e: typeof evt) => void)(evt) })
          else w.addEventListener('error', listener as (e: Event) => void)
        }) as WorkerLike['addEventListener']
      }
    }
    // one worker: the writer waits for it, so later segments are filled into buffers it handed back
    const pool = createPiecePool({ size: 1, module, spawn: watched })
    try {
      const many = payload(6 * S + 999)
      expect(await streamed(pool, many, [1_048_576])).toBe(String(pieceCidV2(pieceDigest(many))))
      expect(back.size).toBe(7) // every segment's buffer comes back (the short last one's, a copy of its part, is not kept)
      expect(reused).toBeGreaterThanOrEqual(2)
    } finally { pool.close() }
  })

  it('rewrites bytes in the held segment 0 (a CAR header), and refuses a rewrite anywhere else by name', async () => {
    const pool = createPiecePool({ size: 2, module, spawn: () => inProcessWorker() })
    try {
      const bytes = payload(2 * S + 99)
      const header = new Uint8Array(59).fill(0xa5)
      const patched = bytes.slice()
      patched.set(header, 11)
      const of = async (b: Uint8Array<ArrayBuffer>): Promise<string> => String((await pool.pieceOf(new Blob([b]))).v2)
      const got = await streamed(pool, bytes, [300_007], { offset: 11, bytes: header })
      expect(got).toBe(await of(patched))
      expect(got).not.toBe(await of(bytes))
      // the last bytes of segment 0 are still rewritable; one byte past it is not
      const s = pool.pieceStream()
      await s.write(bytes)
      await s.writeAt(S - 4, new Uint8Array(4))
      await expect(s.writeAt(S - 3, new Uint8Array(4))).rejects.toMatchObject({ name: 'PieceRewriteError', offset: S - 3, rewritableBytes: S })
      await expect(s.writeAt(S + 10, new Uint8Array(1))).rejects.toMatchObject({ name: 'PieceRewriteError' })
      await expect(s.writeAt(-1, new Uint8Array(1))).rejects.toMatchObject({ name: 'PieceRewriteError' })
      // bytes not written yet are not a rewrite either
      const short = pool.pieceStream()
      await short.write(payload(100))
      await expect(short.writeAt(90, new Uint8Array(20))).rejects.toMatchObject({ name: 'PieceRewriteError', rewritableBytes: 100 })
      // a refused rewrite changes nothing: the stream finishes with the bytes as written (and the allowed patch)
      const expected = bytes.slice()
      expected.set(new Uint8Array(4), S - 4)
      expect(String((await s.finish()).v2)).toBe(await of(expected))
      await expect(s.write(new Uint8Array(1))).rejects.toMatchObject({ name: 'PieceStreamEndedError' })
    } finally { pool.close() }
  })

  it('holds the writer back while MAX_IN_FLIGHT segments wait for the workers', async () => {
    const gates: Array<ReturnType<typeof gatedWorker>> = []
    // many workers, so the bound comes from MAX_IN_FLIGHT and not from 2 per worker
    const pool = createPiecePool({ size: 8, module, spawn: () => { const g = gatedWorker(); gates.push(g); return g.worker } })
    const s = pool.pieceStream()
    await s.write(payload(S)) // segment 0: held, nothing sent
    for (let i = 0; i < MAX_IN_FLIGHT; i++) await s.write(payload(S))
    let resolved = false
    const next = s.write(payload(S)).then(() => { resolved = true })
    await until(() => gates.reduce((n, g) => n + g.sent(), 0) === Math.min(8, MAX_IN_FLIGHT))
    await new Promise(resolve => setTimeout(resolve, 50))
    expect(resolved).toBe(false) // no room: the write waits
    for (const g of gates) g.release()
    await next
    await s.write(payload(100))
    const all = new Uint8Array((MAX_IN_FLIGHT + 2) * S + 100)
    for (let i = 0; i < MAX_IN_FLIGHT + 2; i++) all.set(payload(S), i * S)
    all.set(payload(100), (MAX_IN_FLIGHT + 2) * S)
    expect(String((await s.finish()).v2)).toBe(String((await pool.pieceOf(new Blob([all]))).v2))
    pool.close()
  })

  it('bounds the segments in flight over all streams of the pool together (a provider runs many transfers)', async () => {
    const gates: Array<ReturnType<typeof gatedWorker>> = []
    const pool = createPiecePool({ size: 8, module, spawn: () => { const g = gatedWorker(); gates.push(g); return g.worker } })
    const a = pool.pieceStream()
    for (let i = 0; i <= MAX_IN_FLIGHT; i++) await a.write(payload(S)) // segment 0 and MAX_IN_FLIGHT more
    const b = pool.pieceStream()
    await b.write(payload(S)) // b's segment 0 is held, not in flight
    let resolved = false
    const next = b.write(payload(S)).then(() => { resolved = true })
    await new Promise(resolve => setTimeout(resolve, 50))
    expect(resolved).toBe(false)
    for (const g of gates) g.release()
    await next
    await b.write(payload(10))
    const want = new Uint8Array(2 * S + 10)
    want.set(payload(S))
    want.set(payload(S), S)
    want.set(payload(10), 2 * S)
    expect(String((await b.finish()).v2)).toBe(String((await pool.pieceOf(new Blob([want]))).v2))
    await a.finish()
    pool.close()
  })

  it('stops on abort: the waiting write and every later call reject with the reason, and the pool goes on', async () => {
    const gates: Array<ReturnType<typeof gatedWorker>> = []
    const pool = createPiecePool({ size: 1, module, spawn: () => { const g = gatedWorker(); gates.push(g); return g.worker } })
    const ctl = new AbortController()
    let progress = 0
    const s = pool.pieceStream({ signal: ctl.signal, onProgress: () => { progress++ } })
    await s.write(payload(3 * S)) // segments 1 and 2 go out (two in flight for one worker)
    const waiting = s.write(payload(S))
    ctl.abort(new DOMException('cancelled', 'AbortError'))
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' })
    await expect(s.write(payload(10))).rejects.toMatchObject({ name: 'AbortError' })
    await expect(s.finish()).rejects.toMatchObject({ name: 'AbortError' })
    for (const g of gates) g.release()
    // the pool is free again: the aborted stream's queued segment was dropped, and its running one reports nothing
    const small = payload(5000)
    const again = pool.pieceStream()
    await again.write(small)
    expect(String((await again.finish()).v2)).toBe(String(pieceCidV2(pieceDigest(small))))
    expect(progress).toBe(0)
    // an already aborted signal is refused at once
    expect(() => pool.pieceStream({ signal: ctl.signal })).toThrow()
    pool.close()
  })

  it('a worker dying with a streamed segment fails the stream by name (its bytes were moved, not copied)', async () => {
    let spawned = 0
    const pool = createPiecePool({ size: 1, module, spawn: () => inProcessWorker(spawned++ === 0 ? 1 : 0) })
    const s = pool.pieceStream()
    await s.write(payload(2 * S + 10))
    await expect(s.finish()).rejects.toMatchObject({ name: 'PieceWorkerError' })
    const small = payload(5000)
    expect(String((await pool.pieceOf(new Blob([small]))).v2)).toBe(String(pieceCidV2(pieceDigest(small))))
    pool.close()
  })
})
