// Packing and hashing in one pass: each chunk of the CAR goes to the staging file and to a piece stream in
// the hashing pool at once, so the piece is known when packing ends and the CAR is never read back for it.
import type { PiecePool, PieceResult, PieceStream, PieceStreamProgress } from '../../workers/piece-pool'
import { writeUnixfsCar, type CarSink, type UnixfsCar } from './unixfs-car'

export interface PackedPiece {
  car: UnixfsCar
  /**
   * The CAR's piece, or null when the stream could not give it (no pool, a hashing worker died with a
   * segment, a size the piece rules refuse): the caller then hashes the staged CAR, which gives the piece or
   * the error by name. The stream is a shortcut, never a new way for an upload to fail.
   */
  piece: PieceResult | null
}

export async function packAndHash (content: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, staging: CarSink, pool: PiecePool | null, opts: {
  signal?: AbortSignal
  onPacked?: (fileBytes: number) => void
  onHashed?: (p: PieceStreamProgress) => void
} = {}): Promise<PackedPiece> {
  const hashing = new AbortController()
  const stop = (): void => { hashing.abort() }
  opts.signal?.addEventListener('abort', stop, { once: true })
  let stream: PieceStream | null = pool?.pieceStream({ signal: hashing.signal, ...(opts.onHashed === undefined ? {} : { onProgress: opts.onHashed }) }) ?? null
  const toStream = async (f: (s: PieceStream) => Promise<void>): Promise<void> => {
    if (stream === null) return
    try { await f(stream) } catch { stream = null; hashing.abort() }
  }
  try {
    // the header's root, rewritten at the end, lies in segment 0, which the stream holds until finish
    const car = await writeUnixfsCar(content, {
      write: async (b) => { await Promise.all([staging.write(b), toStream(async s => { await s.write(b) })]) },
      writeAt: async (offset, b) => { await Promise.all([staging.writeAt(offset, b), toStream(async s => { await s.writeAt(offset, b) })]) }
    }, { ...(opts.signal === undefined ? {} : { signal: opts.signal }), ...(opts.onPacked === undefined ? {} : { onProgress: opts.onPacked }) })
    const finishing = stream as PieceStream | null
    const piece = finishing === null ? null : await finishing.finish().catch(() => null)
    return { car, piece }
  } finally {
    opts.signal?.removeEventListener('abort', stop)
    hashing.abort() // a stream left unfinished (packing failed) drops its queued segments
  }
}
