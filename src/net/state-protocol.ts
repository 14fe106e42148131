// `/coffer/state/1.0.0` over libp2p: the node answers with blocks; the light client checks them itself.
import type { Dialer } from './dialer'
import type { Libp2p, PeerId } from '@libp2p/interface'
import {
  STATE_PROTOCOL, MAX_STATE_REQUEST_BYTES, MAX_STATE_RESPONSE_BYTES, encodeStateRequest, decodeStateRequest,
  encodeStateResponse, decodeStateResponse, toWireError, type StateRequest, type StateResponse
} from '../core'
import { serveOneShot, requestOneShot, REQUEST_TIMEOUT_MS, RESPONSE_TIMEOUT_MS, type OneShotLimits, type RequestLimiter } from './stream-io'

/**
 * What one node answers of state reads at once. A proof is built from the state in memory (milliseconds
 * each) but an answer may be up to 4 MiB; a light client asks a few reads together (a quote reads every
 * provider's miner record at once, a deal list one read per deal), so eight per peer and sixteen in all
 * (at most 64 MiB of answers in flight); sixteen streams per connection also caps those still sending.
 */
export const STATE_LIMITS: OneShotLimits = {
  maxInboundStreams: 16,
  maxActive: 16,
  maxActivePerPeer: 8,
  requestTimeoutMs: REQUEST_TIMEOUT_MS,
  responseTimeoutMs: RESPONSE_TIMEOUT_MS
}

/** A request over the limits gets this answer at once: `ok: false`, which the light client reports as "no answer". */
export async function serveState (node: Libp2p, answer: (req: StateRequest) => Promise<StateResponse>, limits: Partial<OneShotLimits> = {}): Promise<RequestLimiter> {
  return await serveOneShot(node, STATE_PROTOCOL, MAX_STATE_REQUEST_BYTES,
    async (bytes) => encodeStateResponse(await answer(decodeStateRequest(bytes))),
    (err) => encodeStateResponse({ ok: false, error: toWireError(err).message, blocks: [] }),
    {
      limits: { ...STATE_LIMITS, ...limits },
      busy: (reason) => encodeStateResponse({ ok: false, error: reason === 'peer' ? 'busy: too many requests from you in progress' : 'busy: try later', blocks: [] })
    })
}

export async function requestState (node: Dialer, peer: PeerId, req: StateRequest, signal?: AbortSignal): Promise<StateResponse> {
  return decodeStateResponse(await requestOneShot(node, peer, STATE_PROTOCOL, encodeStateRequest(req), MAX_STATE_RESPONSE_BYTES, signal))
}
