// HTTP on a storage provider: the IPFS Trustless Gateway (`GET|HEAD /ipfs/{cid}` as a CAR or a raw block, with
// dag-scope and entity-bytes) and FRC-0066's piece gateway (`GET|HEAD /piece/{pieceCid}` with Range), with CORS
// for the app, free or paid by a payment-channel voucher in a request header.
//
// Payment. A provider whose ask's retrieval price is 0 serves anyone. A priced one prices each answer before its
// first byte (a CAR: the block bytes its walk sends, sizes from the CAR index; a piece range: its length; both at
// the ask's price per GiB, rounded up to the attoFIL as the libp2p path rounds) and answers `402 Payment Required`
// with a JSON body: `provider`, `payTo` (its worker, the channel's To), `pricePerGiB`, `paymentInterval`,
// `paymentIntervalIncrease`, `responseBytes`, `price` (attoFIL, of this answer), `voucherHeader`, `howToPay`, and
// `reason` when a voucher was refused. The client pays by sending the request again with
//
//     X-Coffer-Voucher: <base64 (RFC 4648, padding optional) of a Filecoin paych SignedVoucher's DAG-CBOR>
//
// on a channel to the provider's worker, raising its lane by at least `price` over the best voucher the provider
// holds for that lane (vouchers are cumulative, as on the libp2p path). The voucher goes through the retrieval
// server's checks and records (RetrievalServer.payUpfront): one ledger and one best voucher per channel and lane
// for HTTP and libp2p, redeemed by the same loop. A header that is no SignedVoucher is a 400; a voucher that
// breaks a rule (signer, channel, recipient, nonce, an amount not above what the lane holds, too little) a 402
// whose `reason` says which, and nothing is sent. HEAD is free (it sends no bytes) and says the price in
// `X-Coffer-Price`; a paid answer carries `X-Coffer-Paid`.
//
// Limits (limits.ts, priced and free providers alike): requests in flight overall and per client address, a
// per-client token bucket (429 with Retry-After beyond each), connections overall and per client, header, idle and
// keep-alive timeouts, and the DAG nodes a CAR plan may read before the answer is priced (422 PlanTooLargeError
// beyond: ask parts with entity-bytes). Blocks are found through the provider's PayloadIndex (CID → stored file).
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { AttoFil } from '../../../core'
import type { RetrievalTerms } from '../../../net'
import type { ProviderStore } from '../provider-store'
import type { PayloadIndex } from '../payload-index'
import { GatewayHandler } from './server'
import { GATEWAY_LIMITS, clientKey, type GatewayLimits } from './limits'

export { VOUCHER_HEADER, PRICE_HEADER, PAID_HEADER, decodeVoucherHeader } from './server'
export * from './errors'
export * from './request'
export { findPiece, pieceCommitment, type StoredPiece } from './content'
export { planCar, carChunks, MissingBlockError, DEFAULT_PLAN_LIMITS, type CarPlan, type PlanLimits } from './car-response'
export { GATEWAY_LIMITS, GatewayAdmission, clientKey, type GatewayLimits } from './limits'
export { pieceChunks, PieceFileShortError } from './piece-response'

/** What the gateway needs of its provider (devnet-providers.ts wires StorageProvider and RetrievalServer in). */
export interface HttpGatewayComponents {
  /** Deals and their payload CAR files. */
  store: ProviderStore
  /** CID → the stored file holding it: the retrieval server's (RetrievalServer.payloads), one map for both paths. */
  payloads: PayloadIndex
  /** The retrieval terms of the provider's current ask: price per GiB 0 serves anyone. */
  retrievalTerms: () => RetrievalTerms
  /** Takes a voucher paying `price` for `bytes` up front, or throws RetrievalRejectedError('PAYMENT') (RetrievalServer.payUpfront). */
  payUpfront: (voucher: Uint8Array, price: AttoFil, bytes: number) => Promise<unknown>
  /** The miner's ID address (t01001…) and its worker's key address (the To of channels that pay it), for the 402's terms. */
  miner: string
  worker: string
}

export interface HttpGatewayInit {
  /** The host to bind (the provider's host). */
  host: string
  /** 0 (the default): any free port. */
  port?: number
  /** Any of GATEWAY_LIMITS to change (tests make them small). */
  limits?: Partial<GatewayLimits>
  log?: (line: string) => void
}

export interface HttpGateway {
  /** `http://host:port`, no trailing slash: what the ask and the bootstrap document carry. */
  readonly url: string
  /**
   * Hands the gateway its provider. The gateway listens first (its URL goes into the provider's signed ask) and
   * answers 503 until this is called.
   */
  attach: (components: HttpGatewayComponents) => void
  stop: () => Promise<void>
}

/** Starts a provider's HTTP gateway on `host:port`. */
export async function startHttpGateway (init: HttpGatewayInit): Promise<HttpGateway> {
  const log = (line: string): void => { init.log?.(`gateway: ${line}`) }
  const limits: GatewayLimits = { ...GATEWAY_LIMITS, ...init.limits }
  let handler: GatewayHandler | undefined
  const server = http.createServer({
    // a GET has no body: its head is the whole request, so both of Node's request timeouts are the header timeout
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.headersTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: limits.timeoutCheckMs
  }, (req, res) => {
    if (handler === undefined) {
      res.writeHead(503, { 'Retry-After': '1', 'Access-Control-Allow-Origin': '*' }).end()
      return
    }
    handler.handle(req, res).catch((err: Error) => { log(`${err.name}: ${err.message}`); res.destroy() })
  })
  // a socket idle this long is destroyed (no 'timeout' listener: Node's default), so a client that stops reading a
  // body does not keep its slot, file and buffered block for ever
  server.timeout = limits.idleTimeoutMs
  server.maxConnections = limits.maxConnections
  const connections = new Map<string, number>()
  server.on('connection', (socket) => {
    const key = clientKey(socket.remoteAddress)
    const n = (connections.get(key) ?? 0) + 1
    if (n > limits.maxConnectionsPerClient) { socket.destroy(); return }
    connections.set(key, n)
    socket.once('close', () => {
      const left = (connections.get(key) ?? 1) - 1
      if (left === 0) connections.delete(key)
      else connections.set(key, left)
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(init.port ?? 0, init.host, () => { server.off('error', reject); resolve() })
  })
  const { address, port } = server.address() as AddressInfo
  const host = address.includes(':') ? `[${address}]` : address
  return {
    url: `http://${host}:${port}`,
    attach: (components) => { handler = new GatewayHandler(components, limits, log) },
    stop: async () => {
      const closed = new Promise<void>(resolve => { server.close(() => { resolve() }) })
      // keep-alive connections and streams in flight end now: close() alone waits for them
      server.closeAllConnections()
      await closed
    }
  }
}
