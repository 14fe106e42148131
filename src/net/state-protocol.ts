// `/coffer/state/1.0.0` over libp2p: the node answers with blocks; the light client checks them itself.
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import {
  STATE_PROTOCOL, MAX_STATE_REQUEST_BYTES, MAX_STATE_RESPONSE_BYTES, encodeStateRequest, decodeStateRequest,
  encodeStateResponse, decodeStateResponse, toWireError, type StateRequest, type StateResponse
} from '../core'
import { readAll, writeAndClose } from './stream-io'
import { REQUEST_TIMEOUT_MS } from './protocols'

export async function serveState (node: Libp2p, answer: (req: StateRequest) => Promise<StateResponse>): Promise<void> {
  await node.handle(STATE_PROTOCOL, async (stream: Stream) => {
    const signal = AbortSignal.timeout(REQUEST_TIMEOUT_MS)
    let response: StateResponse
    try {
      response = await answer(decodeStateRequest(await readAll(stream, MAX_STATE_REQUEST_BYTES, signal)))
    } catch (err) {
      response = { ok: false, error: toWireError(err).message, blocks: [] }
    }
    try {
      await writeAndClose(stream, encodeStateResponse(response), signal)
    } catch (err) {
      stream.abort(err as Error)
    }
  })
}

export async function requestState (node: Libp2p, peer: PeerId, req: StateRequest, signal?: AbortSignal): Promise<StateResponse> {
  const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS)
  const s = signal === undefined ? timeout : AbortSignal.any([signal, timeout])
  const stream = await node.dialProtocol(peer, STATE_PROTOCOL, { signal: s })
  await writeAndClose(stream, encodeStateRequest(req), s)
  return decodeStateResponse(await readAll(stream, MAX_STATE_RESPONSE_BYTES, s))
}
