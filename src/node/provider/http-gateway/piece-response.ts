// A `/piece/{pieceCid}` body: the unpadded piece's bytes [from, to), read from disk as they are asked for: the
// payload file where the range covers it, then the zeros that fill the piece (FRC-0069's padding), never the
// whole piece in memory.
import { open } from 'node:fs/promises'
import type { StoredPiece } from './content'

/** Read size: large enough that a 256 MiB piece is a few thousand reads, small enough to keep memory flat. */
const CHUNK = 256 * 1024
const ZEROS = new Uint8Array(CHUNK)

/** The payload file is shorter than the deal says: the provider's copy is damaged (the stream is cut, not padded). */
export class PieceFileShortError extends Error {
  static override name = 'PieceFileShortError'
  override name = 'PieceFileShortError'
  constructor (readonly file: string, readonly offset: number) { super(`${file} ends at byte ${offset}, before the deal's payload does`) }
}

export async function * pieceChunks (piece: StoredPiece, from: number, to: number): AsyncGenerator<Uint8Array> {
  let at = from
  if (at < piece.payloadBytes) {
    const fh = await open(piece.file, 'r')
    try {
      const end = Math.min(to, piece.payloadBytes)
      while (at < end) {
        // a fresh buffer each read: the HTTP response may still hold the last one when the next read starts
        const buf = new Uint8Array(Math.min(CHUNK, end - at))
        const { bytesRead } = await fh.read(buf, 0, buf.length, at)
        if (bytesRead === 0) throw new PieceFileShortError(piece.file, at)
        at += bytesRead
        yield buf.subarray(0, bytesRead)
      }
    } finally {
      await fh.close()
    }
  }
  while (at < to) {
    const n = Math.min(CHUNK, to - at)
    at += n
    yield ZEROS.subarray(0, n)
  }
}
