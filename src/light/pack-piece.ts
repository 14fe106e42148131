// Packing and hashing in one pass: each chunk of the CAR goes to the staging file and to a piece stream in
// the hashing pool at once, so the piece is known when packing ends and the CAR is never read back for it.
import type { PiecePool, PieceResult, PieceStream, PieceStreamProgress } from '../../workers/piece-pool'
import { writeUnixfsCar, type CarSink, type UnixfsCar } from './unixfs-car'
import type { Staging } from './staging'

export interface PackedPiece {
  car: UnixfsCar
  /**
   * The CAR's piece, or null when the stream could not give it (no pool, a hashing worker died with a
   * segment, a size the piece rules refuse): the caller then hashes the staged CAR, which gives the piece or
   * the error by name. The stream is a shortcut, never a new way for an upload to fail.
   */
  piece: PieceResult | null
}

/** Where packing writes the CAR: the staging file, with the piece of what is written computed beside it. */
export interface PackSink extends CarSink {
  /** Closes the staging file; the piece of every byte written (rewrites included), or null (see PackedPiece). */
  finish: () => Promise<PieceResult | null>
  /** Packing failed: drops the hashing and closes the staging file. */
  abort: () => Promise<void>
}

export interface PackSinkOptions { onHashed?: (p: PieceStreamProgress) => void }

/** A platform that packs: its staging and pool, and its own sink where it has one (a shared node's, over a tab). */
export interface PackingPlatform {
  pool: () => Promise<PiecePool>
  staging: Staging
  /**
   * The pack sink `hashingSink` composes, made where the staging file and the pool are: a shared node's writes
   * then cross to the tab once each, moved, instead of once for the file and once for the pool, each copied.
   */
  packSink?: (name: string, opts?: PackSinkOptions) => Promise<PackSink>
}

/** The staging file `staging` with `pool`'s piece stream beside it (no pool: staged only, the piece left to a second pass). */
export function hashingSink (staging: CarSink & { close?: () => Promise<void> }, pool: PiecePool | null, opts: PackSinkOptions = {}): PackSink {
  const hashing = new AbortController()
  let stream: PieceStream | null = pool?.pieceStream({ signal: hashing.signal, ...(opts.onHashed === undefined ? {} : { onProgress: opts.onHashed }) }) ?? null
  const toStream = async (f: (s: PieceStream) => Promise<void>): Promise<void> => {
    if (stream === null) return
    try { await f(stream) } catch { stream = null; hashing.abort() }
  }
  return {
    // the header's root, rewritten at the end, lies in segment 0, which the stream holds until finish
    write: async (b) => { await Promise.all([staging.write(b), toStream(async s => { await s.write(b) })]) },
    writeAt: async (offset, b) => { await Promise.all([staging.writeAt(offset, b), toStream(async s => { await s.writeAt(offset, b) })]) },
    finish: async () => {
      const finishing = stream as PieceStream | null
      stream = null
      const piece = finishing === null ? null : finishing.finish().catch(() => null)
      try { await staging.close?.() } catch (err) { hashing.abort(); throw err }
      return await piece
    },
    abort: async () => {
      stream = null
      hashing.abort() // a stream left unfinished drops its queued segments
      await staging.close?.()
    }
  }
}

/** The platform's pack sink for staging file `name`. */
export async function openPackSink (platform: PackingPlatform, name: string, opts: PackSinkOptions = {}): Promise<PackSink> {
  if (platform.packSink !== undefined) return await platform.packSink(name, opts)
  const writer = await platform.staging.create(name)
  return hashingSink(writer, await platform.pool().catch(() => null), opts)
}

/** Packs `content` into `sink` and finishes it; on failure the sink is aborted and the error thrown. */
export async function packAndHash (content: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, sink: PackSink, opts: {
  onPacked?: (fileBytes: number) => void
} = {}): Promise<PackedPiece> {
  let car: UnixfsCar
  try {
    car = await writeUnixfsCar(content, sink, opts.onPacked === undefined ? {} : { onProgress: opts.onPacked })
  } catch (err) {
    await sink.abort().catch(() => {})
    throw err
  }
  return { car, piece: await sink.finish() }
}
