// One-shot request/response over a libp2p 3 stream, as Filecoin's hello and chain exchange use it: the
// writer sends one CBOR object and closes its side; the reader reads to end, refusing more than `limit`.
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
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

/** Bounds every one-shot exchange so a silent peer cannot stall its caller. */
export const REQUEST_TIMEOUT_MS = 15_000

/**
 * Serves a one-shot protocol: read one request (up to `limit` bytes), answer it, close. A request that
 * fails to decode or to answer gets `onError`'s reply, so the asker always hears why.
 */
export async function serveOneShot (node: Libp2p, protocol: string, limit: number, answer: (request: Uint8Array) => Promise<Uint8Array>, onError: (err: unknown) => Uint8Array): Promise<void> {
  await node.handle(protocol, async (stream: Stream) => {
    const signal = AbortSignal.timeout(REQUEST_TIMEOUT_MS)
    let response: Uint8Array
    try {
      response = await answer(await readAll(stream, limit, signal))
    } catch (err) {
      response = onError(err)
    }
    try {
      await writeAndClose(stream, response, signal)
    } catch (err) {
      stream.abort(err as Error)
    }
  })
}

/** Asks `peer` one question on `protocol` and reads the whole answer (up to `limit` bytes). */
export async function requestOneShot (node: Libp2p, peer: PeerId, protocol: string, request: Uint8Array, limit: number, signal?: AbortSignal): Promise<Uint8Array> {
  const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS)
  const s = signal === undefined ? timeout : AbortSignal.any([signal, timeout])
  const stream = await node.dialProtocol(peer, protocol, { signal: s })
  await writeAndClose(stream, request, s)
  return await readAll(stream, limit, s)
}
