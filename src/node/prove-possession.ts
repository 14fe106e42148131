// Proves possession from payload files on disk (core's provePossession, fed by file streams).
import { createReadStream } from 'node:fs'
import { provePossession as prove, type ProofSet, type NodeHasher } from '../core'

/** A file's bytes from `offset` as Uint8Array chunks of 1 MiB (never Buffer, which core code does not expect). */
export async function * fileChunks (file: string, offset = 0): AsyncIterable<Uint8Array> {
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20, start: offset })) {
    const b = chunk as Buffer
    yield new Uint8Array(b.buffer, b.byteOffset, b.length)
  }
}

export async function provePossession (set: ProofSet, payloadFiles: string[], seed: Uint8Array, count: number, hasher?: NodeHasher): Promise<Uint8Array> {
  if (payloadFiles.length !== set.pieces.length) throw new RangeError(`${payloadFiles.length} files for ${set.pieces.length} pieces`)
  return await prove(set, (i) => fileChunks(payloadFiles[i]!), seed, count, hasher)
}
