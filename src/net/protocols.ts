// Filecoin's hello and chain-exchange protocols over libp2p, shared by the provider node and the light
// client. Handlers take plain functions for the chain they serve, so neither side's storage leaks in here.
import type { Libp2p, PeerId, Stream, Connection } from '@libp2p/interface'
import {
  HELLO_PROTOCOL, CHAIN_EXCHANGE_PROTOCOL, MAX_HELLO_BYTES, MAX_EXCHANGE_REQUEST_BYTES, MAX_EXCHANGE_RESPONSE_BYTES,
  MAX_EXCHANGE_LENGTH, ExchangeStatus, encodeHello, decodeHello, encodeLatency, encodeExchangeRequest,
  decodeExchangeRequest, encodeExchangeResponse, decodeExchangeResponse, toWireError, GenesisMismatchError,
  type CID, type HelloMessage, type ExchangeRequest, type ExchangeResponse, type SealedHeader
} from '../core'
import { readAll, writeAndClose, serveOneShot, requestOneShot, REQUEST_TIMEOUT_MS } from './stream-io'


export interface ChainSource {
  /** Up to `length` headers from `head` downwards (head first), or null when `head` is unknown. */
  headersFrom: (head: SealedHeader['cid'], length: number) => Promise<SealedHeader[] | null>
}

export async function serveChainExchange (node: Libp2p, source: ChainSource): Promise<void> {
  await serveOneShot(node, CHAIN_EXCHANGE_PROTOCOL, MAX_EXCHANGE_REQUEST_BYTES, async (bytes) => {
    const req = decodeExchangeRequest(bytes)
    if (req.head.length !== 1 || req.length < 1 || req.length > MAX_EXCHANGE_LENGTH) {
      return encodeExchangeResponse({ status: ExchangeStatus.BadRequest, errorMessage: 'want one head CID and 1..900 tipsets', chain: [] })
    }
    const headers = await source.headersFrom(req.head[0]!, req.length)
    return encodeExchangeResponse(headers === null
      ? { status: ExchangeStatus.NotFound, errorMessage: 'unknown head', chain: [] }
      : { status: headers.length === req.length ? ExchangeStatus.Ok : ExchangeStatus.Partial, errorMessage: '', chain: headers.map(h => [h]) })
  }, (err) => encodeExchangeResponse({ status: ExchangeStatus.BadRequest, errorMessage: toWireError(err).message, chain: [] }))
}

export async function requestChain (node: Libp2p, peer: PeerId, req: ExchangeRequest, signal?: AbortSignal): Promise<ExchangeResponse> {
  return decodeExchangeResponse(await requestOneShot(node, peer, CHAIN_EXCHANGE_PROTOCOL, encodeExchangeRequest(req), MAX_EXCHANGE_RESPONSE_BYTES, signal))
}

export interface HelloInit {
  genesisCid: CID
  /** Our heaviest head, as we announce it. */
  head: () => SealedHeader
  /** A peer on our genesis told us its head. */
  onHello?: (peer: PeerId, hello: HelloMessage) => void
  /** A hello failed: a GenesisMismatchError or MalformedMessageError means the peer broke a rule. */
  onError: (peer: PeerId, err: unknown) => void
  clockNs: () => bigint
}

/**
 * Filecoin hello: each side sends its head on connect; the receiver answers with a latency message.
 * A peer on another genesis is refused here, for every node that runs hello.
 */
export async function runHello (node: Libp2p, init: HelloInit): Promise<void> {
  await node.handle(HELLO_PROTOCOL, async (stream: Stream, connection: Connection) => {
    const arrival = init.clockNs()
    const signal = AbortSignal.timeout(REQUEST_TIMEOUT_MS)
    try {
      const hello = decodeHello(await readAll(stream, MAX_HELLO_BYTES, signal))
      if (!hello.genesisHash.equals(init.genesisCid)) throw new GenesisMismatchError(String(init.genesisCid), String(hello.genesisHash))
      await writeAndClose(stream, encodeLatency(arrival, init.clockNs()), signal)
      init.onHello?.(connection.remotePeer, hello)
    } catch (err) {
      stream.abort(err as Error)
      init.onError(connection.remotePeer, err)
    }
  })

  node.addEventListener('peer:identify', (evt) => {
    const { peerId, protocols } = evt.detail
    if (!protocols.includes(HELLO_PROTOCOL)) return
    const head = init.head()
    const hello: HelloMessage = { heaviestTipSet: [head.cid], heaviestTipSetHeight: head.header.height, heaviestTipSetWeight: head.header.parentWeight, genesisHash: init.genesisCid }
    void sayHello(node, peerId, hello).catch(err => init.onError(peerId, err))
  })
}

async function sayHello (node: Libp2p, peer: PeerId, hello: HelloMessage): Promise<void> {
  const signal = AbortSignal.timeout(REQUEST_TIMEOUT_MS)
  const stream = await node.dialProtocol(peer, HELLO_PROTOCOL, { signal })
  await writeAndClose(stream, encodeHello(hello), signal)
  await readAll(stream, MAX_HELLO_BYTES, signal)
}
