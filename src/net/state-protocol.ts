// `/coffer/state/1.0.0` over libp2p: the node answers with blocks; the light client checks them itself.
import type { Libp2p, PeerId } from '@libp2p/interface'
import {
  STATE_PROTOCOL, MAX_STATE_REQUEST_BYTES, MAX_STATE_RESPONSE_BYTES, encodeStateRequest, decodeStateRequest,
  encodeStateResponse, decodeStateResponse, toWireError, type StateRequest, type StateResponse
} from '../core'
import { serveOneShot, requestOneShot } from './stream-io'

export async function serveState (node: Libp2p, answer: (req: StateRequest) => Promise<StateResponse>): Promise<void> {
  await serveOneShot(node, STATE_PROTOCOL, MAX_STATE_REQUEST_BYTES,
    async (bytes) => encodeStateResponse(await answer(decodeStateRequest(bytes))),
    (err) => encodeStateResponse({ ok: false, error: toWireError(err).message, blocks: [] }))
}

export async function requestState (node: Libp2p, peer: PeerId, req: StateRequest, signal?: AbortSignal): Promise<StateResponse> {
  return decodeStateResponse(await requestOneShot(node, peer, STATE_PROTOCOL, encodeStateRequest(req), MAX_STATE_RESPONSE_BYTES, signal))
}
