// One-shot request/response over a libp2p 3 stream, as Filecoin's hello and chain exchange use it: the
// writer sends one CBOR object and closes its side; the reader reads to end, refusing more than `limit`.
import type { Stream } from '@libp2p/interface'
import { OversizedMessageError } from '../core'

export async function readAll (stream: Stream, limit: number, signal?: AbortSignal): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of stream) {
    signal?.throwIfAborted()
    const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray()
    size += bytes.length
    if (size > limit) {
      stream.abort(new OversizedMessageError(size, limit))
      throw new OversizedMessageError(size, limit)
    }
    chunks.push(bytes)
  }
  if (chunks.length === 1) return chunks[0]!
  const out = new Uint8Array(size)
  let at = 0
  for (const c of chunks) { out.set(c, at); at += c.length }
  return out
}

export async function writeAndClose (stream: Stream, bytes: Uint8Array, signal?: AbortSignal): Promise<void> {
  if (!stream.send(bytes)) await stream.onDrain({ signal })
  await stream.close({ signal })
}
