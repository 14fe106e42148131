// Filecoin's hello and chain-exchange protocols over libp2p, shared by the provider node and the light
// client. Handlers take plain functions for the chain they serve, so neither side's storage leaks in here.
import type { Dialer } from './dialer'
import type { Libp2p, PeerId, Stream, Connection } from '@libp2p/interface'
import {
  HELLO_PROTOCOL, CHAIN_EXCHANGE_PROTOCOL, MAX_HELLO_BYTES, MAX_EXCHANGE_REQUEST_BYTES, MAX_EXCHANGE_RESPONSE_BYTES,
  MAX_EXCHANGE_LENGTH, ExchangeStatus, encodeHello, decodeHello, encodeLatency, encodeExchangeRequest,
  decodeExchangeRequest, encodeExchangeResponse, decodeExchangeResponse, encodeExchangeResponseStart, encodeExchangeTipsets,
  toWireError, GenesisMismatchError, unsealHeader, compactTipSetMessages, EXCHANGE_OPT_HEADERS, EXCHANGE_OPT_MESSAGES,
  EXCHANGE_MESSAGES_SOFT_BYTES, MAX_EXCHANGE_MESSAGES_RESPONSE_BYTES, encodeMessage, encodeSignedMessage,
  type CID, type HelloMessage, type ExchangeRequest, type ExchangeResponse, type SealedHeader, type BlockMessages, type CompactedMessages
} from '../core'
import {
  readAll, writeAndClose, serveOneShot, requestOneShot, abortOnSignal, REQUEST_TIMEOUT_MS, RESPONSE_TIMEOUT_MS,
  type OneShotLimits, type RequestLimiter, type BusyReason
} from './stream-io'

/** Tipsets from a head downwards as their blocks' stored wire bytes, read in batches as the answer is sent. */
export interface HeaderRun {
  /** How many tipsets follow: known before any is read, since the answer's CBOR array states its length first. */
  count: number
  /** Each tipset's headers' DAG-CBOR bytes (Lotus's block order), head first, in batches; fewer than `count` in all aborts the answer. */
  batches: AsyncIterable<Uint8Array[][]>
}

export type ChainSource = (
  /**
   * A chain of one-block tipsets: up to `length` headers from the block `head` downwards (head first), or null
   * when `head` is unknown (a request naming a tipset of several blocks is answered NotFound).
   */
  | { headersFrom: (head: SealedHeader['cid'], length: number) => Promise<SealedHeader[] | null> }
  /** Tipsets from the TipSetKey `head` down as runs of stored bytes: what a node with a long chain on disk serves from. */
  | { headerRun: (head: readonly CID[], length: number) => Promise<HeaderRun | null> }
) & {
  /**
   * A stored block's messages, for the Messages option; a source without it (or that lacks a block's
   * messages) answers such a request with InternalError, as a Lotus node without the messages would.
   */
  messagesOf?: (header: SealedHeader) => BlockMessages | undefined
}

/** A tipset's share of an answer's bytes: its headers and its messages (once each) as they go on the wire. */
function tipsetBytes (headers: Uint8Array[], msgs: CompactedMessages): number {
  let n = 16
  for (const h of headers) n += h.length + 8
  for (const m of msgs.bls) n += encodeMessage(m).length + 4
  for (const sm of msgs.secpk) n += encodeSignedMessage(sm).length + 4
  return n
}

/**
 * The answer to a request with the Messages option, built whole: tipsets from the run until the answer
 * passes EXCHANGE_MESSAGES_SOFT_BYTES (at least one), Partial when that cut it short. Headers are included
 * only when asked for, as Lotus's collectChainSegment does.
 */
async function messagesAnswer (run: HeaderRun, length: number, options: number, messagesOf: (h: SealedHeader) => BlockMessages | undefined): Promise<Uint8Array> {
  const withHeaders = (options & EXCHANGE_OPT_HEADERS) !== 0
  const chain: SealedHeader[][] = []
  const messages: CompactedMessages[] = []
  let bytes = 0
  let cut = false
  outer: for await (const batch of run.batches) {
    for (const raws of batch) {
      const blocks = raws.map(unsealHeader)
      const msgs = blocks.map(h => messagesOf(h))
      const lacking = msgs.findIndex(m => m === undefined)
      if (lacking >= 0) {
        return encodeExchangeResponse({ status: ExchangeStatus.InternalError, errorMessage: `no messages for block at height ${blocks[lacking]!.header.height}`, chain: [] })
      }
      const compacted = compactTipSetMessages(msgs as BlockMessages[])
      const size = tipsetBytes(raws, compacted)
      if (chain.length > 0 && bytes + size > EXCHANGE_MESSAGES_SOFT_BYTES) { cut = true; break outer }
      bytes += size
      chain.push(withHeaders ? blocks : [])
      messages.push(compacted)
    }
  }
  const status = !cut && chain.length === length ? ExchangeStatus.Ok : ExchangeStatus.Partial
  return encodeExchangeResponse({ status, errorMessage: '', chain, messages })
}

export class ShortHeaderRunError extends Error {
  static override name = 'ShortHeaderRunError'
  override name = 'ShortHeaderRunError'
  constructor (readonly promised: number, readonly found: number) {
    super(`header run promised ${promised} headers but held ${found}`)
  }
}

/**
 * What one node serves of chain exchange at once. An answer is up to 900 headers read from disk and sent
 * through noise: 512 of them at once stalled production for 10-17 s and took 3.6 GB (issue 9). A light
 * client asks one range at a time and Lotus's syncer a few, so two per peer refuses no honest asker. Four
 * in all, and four streams per connection (libp2p's default is 32; beyond it libp2p resets the stream
 * before any handler runs), measured against that flood (16 connections x 32 streams, 2 shared cores):
 * eight in all and eight streams gave 2.8-3.4 s block gaps, 32 streams (every refusal a GoAway) 2.6-3.3 s,
 * four and four 1.3-2.0 s, and more full answers got through, since fewer compete for the same cores.
 */
export const CHAIN_EXCHANGE_LIMITS: OneShotLimits = {
  maxInboundStreams: 4,
  maxActive: 4,
  maxActivePerPeer: 2,
  requestTimeoutMs: REQUEST_TIMEOUT_MS,
  responseTimeoutMs: RESPONSE_TIMEOUT_MS
}

/** Headers read from a `headersFrom` source per batch; a stored run reads in batches of its own. */
const BATCH = 64

function runOf (headers: SealedHeader[]): HeaderRun {
  return {
    count: headers.length,
    batches: (async function * () {
      for (let i = 0; i < headers.length; i += BATCH) yield headers.slice(i, i + BATCH).map(h => [h.bytes])
    })()
  }
}

/** The response to a run: its start, then the tipsets as each batch comes from the source. */
async function * exchangeAnswer (status: ExchangeStatus, run: HeaderRun): AsyncGenerator<Uint8Array> {
  yield encodeExchangeResponseStart(status, '', run.count)
  let sent = 0
  for await (const batch of run.batches) {
    if (sent + batch.length > run.count) throw new ShortHeaderRunError(run.count, sent + batch.length)
    sent += batch.length
    yield encodeExchangeTipsets(batch)
  }
  // the start promised `count` tipsets; anything less is not a valid response, so the stream is aborted
  if (sent !== run.count) throw new ShortHeaderRunError(run.count, sent)
}

/**
 * Serves Filecoin chain exchange. A request over the limits (per peer or for the whole node) gets Lotus's
 * GoAway status at once rather than a reset: the asker learns this node is busy, not that the network
 * failed or that it asked wrongly, and can back off or ask another peer; the refusal costs one small write.
 */
export async function serveChainExchange (node: Libp2p, source: ChainSource, limits: Partial<OneShotLimits> = {}): Promise<RequestLimiter> {
  return await serveOneShot(node, CHAIN_EXCHANGE_PROTOCOL, MAX_EXCHANGE_REQUEST_BYTES, async (bytes) => {
    const req = decodeExchangeRequest(bytes)
    if (req.head.length < 1 || req.length < 1 || req.length > MAX_EXCHANGE_LENGTH) {
      return encodeExchangeResponse({ status: ExchangeStatus.BadRequest, errorMessage: 'want a head TipSetKey and 1..900 tipsets', chain: [] })
    }
    // Lotus's validateRequest: a request that asks for neither headers nor messages is a bad one
    if ((req.options & (EXCHANGE_OPT_HEADERS | EXCHANGE_OPT_MESSAGES)) === 0) {
      return encodeExchangeResponse({ status: ExchangeStatus.BadRequest, errorMessage: 'no options set', chain: [] })
    }
    let run: HeaderRun | null
    if ('headerRun' in source) {
      run = await source.headerRun(req.head, req.length)
    } else if (req.head.length !== 1) {
      run = null
    } else {
      const headers = await source.headersFrom(req.head[0]!, req.length)
      run = headers === null ? null : runOf(headers)
    }
    if (run === null) return encodeExchangeResponse({ status: ExchangeStatus.NotFound, errorMessage: 'unknown head', chain: [] })
    if ((req.options & EXCHANGE_OPT_MESSAGES) !== 0) {
      if (source.messagesOf === undefined) return encodeExchangeResponse({ status: ExchangeStatus.InternalError, errorMessage: 'this node does not serve messages', chain: [] })
      return await messagesAnswer(run, req.length, req.options, source.messagesOf)
    }
    return exchangeAnswer(run.count === req.length ? ExchangeStatus.Ok : ExchangeStatus.Partial, run)
  }, (err) => encodeExchangeResponse({ status: ExchangeStatus.BadRequest, errorMessage: toWireError(err).message, chain: [] }), {
    limits: { ...CHAIN_EXCHANGE_LIMITS, ...limits },
    busy: (reason: BusyReason) => encodeExchangeResponse({
      status: ExchangeStatus.GoAway,
      errorMessage: reason === 'peer' ? 'busy: too many requests from you in progress' : 'busy: serving as many requests as it will; try later',
      chain: []
    })
  })
}

export async function requestChain (node: Dialer, peer: PeerId, req: ExchangeRequest, signal?: AbortSignal): Promise<ExchangeResponse> {
  const limit = (req.options & EXCHANGE_OPT_MESSAGES) !== 0 ? MAX_EXCHANGE_MESSAGES_RESPONSE_BYTES : MAX_EXCHANGE_RESPONSE_BYTES
  return decodeExchangeResponse(await requestOneShot(node, peer, CHAIN_EXCHANGE_PROTOCOL, encodeExchangeRequest(req), limit, signal), limit)
}

export interface HelloInit {
  genesisCid: CID
  /** Our heaviest head, as we announce it. */
  head: () => SealedHeader
  /**
   * The head's whole tipset and its weight (Lotus's hello: HeaviestTipSet = the tipset's CIDs, HeaviestTipSetWeight
   * its weight); when left out, the head block alone and its ParentWeight (one producer: a tipset is one block).
   */
  headTipSet?: () => { key: CID[], weight: bigint }
  /** A peer on our genesis told us its head. */
  onHello?: (peer: PeerId, hello: HelloMessage) => void
  /** A hello failed: a GenesisMismatchError or MalformedMessageError means the peer broke a rule. */
  onError: (peer: PeerId, err: unknown) => void
  clockNs: () => bigint
  /** From a hello stream's opening to its answer; REQUEST_TIMEOUT_MS when left out. */
  timeoutMs?: number
}

/** Hello is one stream each way per connection; two leave room for a repeat, and libp2p resets the rest. */
export const HELLO_MAX_INBOUND_STREAMS = 2

/** What runHello gives back: a way to ask a connected peer for its head again. */
export interface Hello {
  /**
   * Says hello again on the existing connection; a peer running this code answers a repeated hello with a
   * hello of its own, carrying its head (which arrives through `onHello`). Nothing is dialled.
   */
  askHead: (peer: PeerId) => Promise<void>
}

/**
 * Filecoin hello: each side sends its head on connect; the receiver answers with a latency message.
 * A peer on another genesis is refused here, for every node that runs hello.
 *
 * Lotus says hello once per connection, and no chain protocol answers "what is your head?" (chain exchange
 * needs a head to start from). Nothing forbids a repeat, so a second hello on the same connection from a
 * peer whose head is behind ours is taken as that question: we answer it with our own hello. Only a peer
 * behind is answered, so an answer (which comes from the side ahead) is never answered in turn: two nodes
 * running this cannot ping-pong hellos. The first hello of a connection is not answered that way (the
 * identify-triggered hello already carries our head), so a connection costs two hellos as before, and at
 * most one answer per connection is in flight: a peer repeating itself cannot make us open streams faster
 * than it opens them, and HELLO_MAX_INBOUND_STREAMS bounds those.
 */
export async function runHello (node: Libp2p, init: HelloInit): Promise<Hello> {
  const ourHello = (): HelloMessage => {
    const head = init.head()
    const tipset = init.headTipSet?.()
    return {
      heaviestTipSet: tipset?.key ?? [head.cid],
      heaviestTipSetHeight: head.header.height,
      heaviestTipSetWeight: tipset?.weight ?? head.header.parentWeight,
      genesisHash: init.genesisCid
    }
  }
  /** Connections that already said hello once: a further hello on them asks for our head. */
  const greeted = new WeakSet<Connection>()
  /** Connections we are answering right now. */
  const answering = new WeakSet<Connection>()

  await node.handle(HELLO_PROTOCOL, async (stream: Stream, connection: Connection) => {
    const arrival = init.clockNs()
    // from the stream's opening, whatever arrives or not: a silent peer is cut off when it fires
    const signal = AbortSignal.timeout(init.timeoutMs ?? REQUEST_TIMEOUT_MS)
    const unwatch = abortOnSignal(stream, signal)
    try {
      const hello = decodeHello(await readAll(stream, MAX_HELLO_BYTES, signal))
      if (!hello.genesisHash.equals(init.genesisCid)) throw new GenesisMismatchError(String(init.genesisCid), String(hello.genesisHash))
      await writeAndClose(stream, encodeLatency(arrival, init.clockNs()), signal)
      const repeat = greeted.has(connection)
      greeted.add(connection)
      init.onHello?.(connection.remotePeer, hello)
      const mine = ourHello()
      const behind = hello.heaviestTipSetWeight < mine.heaviestTipSetWeight || hello.heaviestTipSetHeight < mine.heaviestTipSetHeight
      if (repeat && behind && !answering.has(connection)) {
        answering.add(connection)
        void sayHello(node, connection.remotePeer, mine)
          .catch(err => init.onError(connection.remotePeer, err))
          .finally(() => answering.delete(connection))
      }
    } catch (err) {
      stream.abort(err as Error)
      init.onError(connection.remotePeer, err)
    } finally {
      unwatch()
    }
  }, { maxInboundStreams: HELLO_MAX_INBOUND_STREAMS })

  node.addEventListener('peer:identify', (evt) => {
    const { peerId, protocols } = evt.detail
    if (!protocols.includes(HELLO_PROTOCOL)) return
    void sayHello(node, peerId, ourHello()).catch(err => init.onError(peerId, err))
  })

  return {
    askHead: async (peer) => {
      if (node.getConnections(peer).length === 0) return // asking must never dial: that is the redial's job
      await sayHello(node, peer, ourHello())
    }
  }
}

/** One hello on `peer`'s existing connection (libp2p opens the stream there; it dials only when there is none). */
export async function sayHello (node: Dialer, peer: PeerId, hello: HelloMessage): Promise<void> {
  const signal = AbortSignal.timeout(REQUEST_TIMEOUT_MS)
  const stream = await node.dialProtocol(peer, HELLO_PROTOCOL, { signal })
  await writeAndClose(stream, encodeHello(hello), signal)
  await readAll(stream, MAX_HELLO_BYTES, signal)
}
