// The gateway's request handler: routes /ipfs/{cid} and /piece/{pieceCid}, answers CORS preflights, prices each
// answer before its first byte and takes the voucher paying for it, then streams the body from disk.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { base64 } from 'multiformats/bases/base64'
import type { CID } from 'multiformats/cid'
import { RetrievalRejectedError, MalformedVoucherError, decodeSignedVoucher, IDENTITY_HASH_CODE, DEFAULT_MAX_BLOCK_BYTES, MAX_VOUCHER_BYTES, type AttoFil } from '../../../core'
import { priceOfBytes } from '../../../net'
import {
  GatewayError, ContentNotFoundError, MalformedRequestError, MethodNotAllowedError, PaymentRequiredError, MalformedVoucherHeaderError,
  BlockTooLargeToServeError
} from './errors'
import { parseGatewayPath, negotiateFormat, carContentType, parseDagScope, parseEntityBytes, parseRange, resolveRange, RAW_MEDIA_TYPE, CAR_MEDIA_TYPE } from './request'
import { findPiece } from './content'
import { planCar, carChunks } from './car-response'
import { GatewayAdmission, clientKey, type GatewayLimits } from './limits'
import { pieceChunks } from './piece-response'
import type { HttpGatewayComponents } from './index'

/** The request header carrying a voucher: base64 (RFC 4648, padding optional) of a SignedVoucher's DAG-CBOR. */
export const VOUCHER_HEADER = 'X-Coffer-Voucher'
/** Response headers: what this answer costs (attoFIL), and what was paid for it. */
export const PRICE_HEADER = 'X-Coffer-Price'
export const PAID_HEADER = 'X-Coffer-Paid'

/** Immutable content: FRC-0066's and the path gateway's directive for anything addressed by CID. */
const IMMUTABLE = 'public, max-age=29030400, immutable'

const CORS: Record<string, string> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': ['Content-Range', 'Content-Length', 'Content-Type', 'Content-Disposition', 'ETag', 'Accept-Ranges', 'X-Ipfs-Roots', PRICE_HEADER, PAID_HEADER].join(', ')
}
const PREFLIGHT: Record<string, string> = {
  'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
  'Access-Control-Allow-Headers': ['Range', 'Accept', 'If-None-Match', 'If-Range', 'Cache-Control', VOUCHER_HEADER].join(', '),
  'Access-Control-Max-Age': '86400'
}

/** A voucher of MAX_VOUCHER_BYTES is at most this many base64 characters (with padding). */
const MAX_VOUCHER_HEADER = Math.ceil(MAX_VOUCHER_BYTES / 3) * 4

export class GatewayHandler {
  private readonly admission: GatewayAdmission

  constructor (private readonly c: HttpGatewayComponents, private readonly limits: GatewayLimits, private readonly log: (line: string) => void) {
    this.admission = new GatewayAdmission(limits)
  }

  async handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    for (const [k, v] of Object.entries(CORS)) res.setHeader(k, v)
    try {
      // admitted before anything is looked up or read: a refused request costs a map lookup; one over its
      // client's share waits for a slot of that client's (bounded); the slot is held until the response ends or
      // its connection goes ('close' fires for both, and a wait ends with it)
      const gone = new AbortController()
      const onClose = (): void => { gone.abort() }
      res.once('close', onClose)
      const release = await this.admission.enter(clientKey(req.socket.remoteAddress), () => performance.now(), gone.signal)
      res.off('close', onClose)
      if (res.writableEnded || res.destroyed) release()
      else res.once('close', release)
      if (req.method === 'OPTIONS') {
        for (const [k, v] of Object.entries(PREFLIGHT)) res.setHeader(k, v)
        res.writeHead(204).end()
        return
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new MethodNotAllowedError(req.method ?? '')
      const url = new URL(req.url ?? '/', 'http://gateway')
      const path = parseGatewayPath(url.pathname)
      if (path === null) throw new ContentNotFoundError(`${url.pathname}: this gateway serves /ipfs/{cid} and /piece/{pieceCid}`)
      if (path.kind === 'piece') await this.piece(req, res, path.cid)
      else await this.ipfs(req, res, path.cid, path.rest, url.searchParams)
    } catch (err) {
      this.fail(req, res, err as Error)
    }
  }

  private fail (req: IncomingMessage, res: ServerResponse, err: Error): void {
    if (res.headersSent) {
      // the status is out: a stream that cannot go on is cut, so the client sees an incomplete body
      this.log(`${req.method} ${req.url}: cut after the status: ${err.name}: ${err.message}`)
      res.destroy(err)
      return
    }
    const known = err instanceof GatewayError
    if (!known) this.log(`${req.method} ${req.url}: ${err.name}: ${err.message}`)
    const status = known ? err.status : 500
    const body = JSON.stringify({ error: err.name, message: err.message, ...(known ? err.details : {}), ...(err instanceof PaymentRequiredError ? err.body : {}) })
    res.writeHead(status, { ...(known ? err.headers : {}), 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' })
    res.end(req.method === 'HEAD' ? undefined : body)
  }

  /**
   * Takes the voucher paying `price` for `bytes`, or refuses with 402 and the terms. A free provider (price 0 in its
   * ask) and an answer costing nothing need none; HEAD sends no bytes and is never charged.
   *
   * HTTP answers are paid up front, whole, and this is a choice: one request is one response, with no channel back
   * to pay as bytes arrive, so the client risks at most the one response it asked for (the provider none), and a
   * client bounds that risk by the size it asks for: Range on /piece, entity-bytes on /ipfs. The libp2p path keeps
   * its rule of at most one payment interval at risk on either side, paying for verified bytes as they stream.
   */
  private async pay (req: IncomingMessage, price: AttoFil, bytes: number, what: string): Promise<Record<string, string>> {
    const terms = this.c.retrievalTerms()
    if (req.method === 'HEAD' || price === 0n) return {}
    const body = {
      provider: this.c.miner,
      payTo: this.c.worker,
      pricePerGiB: terms.pricePerGiB.toString(),
      paymentInterval: terms.paymentInterval,
      paymentIntervalIncrease: terms.paymentIntervalIncrease,
      response: what,
      responseBytes: bytes,
      price: price.toString(),
      unit: 'attoFIL',
      voucherHeader: VOUCHER_HEADER,
      howToPay: `open a payment channel to ${this.c.worker} and send this request again with ${VOUCHER_HEADER}: the base64 of a SignedVoucher (Filecoin paych, DAG-CBOR) on it that raises its lane by at least ${price} attoFIL over the best voucher this provider holds for that lane`
    }
    const header = req.headers[VOUCHER_HEADER.toLowerCase()]
    if (header === undefined) throw new PaymentRequiredError(`this answer costs ${price} attoFIL: pay it with a voucher in ${VOUCHER_HEADER}`, body)
    const bytesOf = decodeVoucherHeader(header)
    try {
      await this.c.payUpfront(bytesOf, price, bytes)
    } catch (err) {
      if (err instanceof RetrievalRejectedError && err.code === 'PAYMENT') throw new PaymentRequiredError(err.message, { ...body, reason: err.message })
      throw err
    }
    // a paid request gives its rate token back: the rate bounds unpaid work, and this work is paid for
    this.admission.paid(clientKey(req.socket.remoteAddress), performance.now())
    return { [PAID_HEADER]: price.toString() }
  }

  private priceOf (bytes: number): AttoFil { return priceOfBytes(bytes, this.c.retrievalTerms().pricePerGiB) }

  private async ipfs (req: IncomingMessage, res: ServerResponse, cid: CID, rest: string[], query: URLSearchParams): Promise<void> {
    const format = negotiateFormat(query, req.headers.accept)
    if (format.kind === 'raw') {
      if (rest.length > 0) throw new MalformedRequestError('a block (format=raw) is asked for by CID alone, with no path')
      await this.raw(req, res, cid)
      return
    }
    // Coffer's payloads are single files: a path inside one names nothing
    if (rest.length > 0) throw new ContentNotFoundError(`${cid.toString()} is a file: there is no /${rest.join('/')} inside it`)
    const scope = parseDagScope(query) ?? 'all'
    const entityBytes = parseEntityBytes(query)
    const identity = cid.multihash.code === IDENTITY_HASH_CODE
    const blocks = identity ? null : await this.c.payloads.openBlock(cid)
    if (!identity && blocks === null) throw new ContentNotFoundError(`this provider holds no block ${cid.toString()}`)
    try {
      const limits = { maxReadBytes: this.limits.maxPlanReadBytes, maxBlocks: this.limits.maxPlanBlocks }
      const plan = await planCar(blocks, cid, { scope, dups: format.dups, limits, ...(entityBytes === undefined ? {} : { entityBytes }) })
      const price = this.priceOf(plan.blockBytes)
      const tag = `"${cid.toString()}.car.dfs.dups-${format.dups ? 'y' : 'n'}.${entityBytes === undefined ? scope : `entity.${entityBytes.from}-${entityBytes.to}`}"`
      const headers: Record<string, string> = {
        'Content-Type': carContentType(format),
        'Content-Disposition': `attachment; filename="${cid.toString()}.car"`,
        'Content-Length': String(plan.carBytes),
        'Cache-Control': IMMUTABLE,
        ETag: tag,
        'X-Content-Type-Options': 'nosniff',
        'X-Ipfs-Roots': cid.toString(),
        Vary: 'Accept',
        [PRICE_HEADER]: price.toString()
      }
      if (req.headers['if-none-match'] === tag) { res.writeHead(304, headers).end(); return }
      Object.assign(headers, await this.pay(req, price, plan.blockBytes, `CAR of ${plan.blocks} blocks (${plan.blockBytes} block bytes) under ${cid.toString()}`))
      res.writeHead(200, headers)
      if (req.method === 'HEAD') { res.end(); return }
      await pipeline(Readable.from(carChunks(blocks, plan), { objectMode: false }), res)
    } finally {
      await blocks?.close()
    }
  }

  private async raw (req: IncomingMessage, res: ServerResponse, cid: CID): Promise<void> {
    let bytes: Uint8Array
    if (cid.multihash.code === IDENTITY_HASH_CODE) {
      bytes = cid.multihash.digest // the block is its digest: bafkqaaa, the spec's probe, is the empty block
    } else {
      const blocks = await this.c.payloads.openBlock(cid)
      if (blocks === null) throw new ContentNotFoundError(`this provider holds no block ${cid.toString()}`)
      try {
        const length = blocks.blockLength(cid)!
        if (length > DEFAULT_MAX_BLOCK_BYTES) throw new BlockTooLargeToServeError(cid.toString(), length, DEFAULT_MAX_BLOCK_BYTES)
        const price = this.priceOf(length)
        const tag = `"${cid.toString()}.raw"`
        const headers = this.rawHeaders(cid, length, price, tag)
        if (req.headers['if-none-match'] === tag) { res.writeHead(304, headers).end(); return }
        Object.assign(headers, await this.pay(req, price, length, `block ${cid.toString()} (${length} bytes)`))
        if (req.method === 'HEAD') { res.writeHead(200, headers).end(); return }
        bytes = await blocks.read(cid)
        res.writeHead(200, headers).end(bytes)
        return
      } finally {
        await blocks.close()
      }
    }
    res.writeHead(200, this.rawHeaders(cid, bytes.length, 0n, `"${cid.toString()}.raw"`)).end(req.method === 'HEAD' ? undefined : bytes)
  }

  private rawHeaders (cid: CID, length: number, price: AttoFil, tag: string): Record<string, string> {
    return {
      'Content-Type': RAW_MEDIA_TYPE,
      'Content-Disposition': `attachment; filename="${cid.toString()}.bin"`,
      'Content-Length': String(length),
      'Cache-Control': IMMUTABLE,
      ETag: tag,
      'X-Content-Type-Options': 'nosniff',
      Vary: 'Accept',
      [PRICE_HEADER]: price.toString()
    }
  }

  private async piece (req: IncomingMessage, res: ServerResponse, cid: CID): Promise<void> {
    const piece = findPiece(this.c.store, cid)
    if (piece === null) throw new ContentNotFoundError(`this provider holds no piece ${cid.toString()}`)
    const tag = `"${cid.toString()}"`
    // If-Range (RFC 9110 §13.1.5): the range applies only to the representation the client already has part of
    const ifRange = req.headers['if-range']
    const parsed = ifRange !== undefined && ifRange !== tag ? { range: null } : parseRange(req.headers.range)
    const range = parsed.range === null ? null : resolveRange(parsed.range, piece.size)
    const from = range?.from ?? 0
    const to = range?.to ?? piece.size
    const price = this.priceOf(to - from)
    const headers: Record<string, string> = {
      // the unpadded piece is the client's CAR and zeros: FRC-0066 asks for the CAR type when the piece is one
      'Content-Type': `${CAR_MEDIA_TYPE}; version=1`,
      'Content-Disposition': `attachment; filename="${cid.toString()}.car"`,
      'Content-Length': String(to - from),
      'Accept-Ranges': 'bytes',
      'Cache-Control': IMMUTABLE,
      ETag: tag,
      'X-Content-Type-Options': 'nosniff',
      [PRICE_HEADER]: price.toString()
    }
    if (range !== null) headers['Content-Range'] = `bytes ${from}-${to - 1}/${piece.size}`
    if (range === null && req.headers['if-none-match'] === tag) { res.writeHead(304, headers).end(); return }
    Object.assign(headers, await this.pay(req, price, to - from, `bytes ${from}-${to - 1} of piece ${cid.toString()}`))
    res.writeHead(range === null ? 200 : 206, headers)
    if (req.method === 'HEAD') { res.end(); return }
    await pipeline(Readable.from(pieceChunks(piece, from, to), { objectMode: false }), res)
  }
}

/** The voucher header's bytes, or a 400 (malformed) before anything else is looked at. */
export function decodeVoucherHeader (header: string | string[]): Uint8Array {
  if (Array.isArray(header)) throw new MalformedVoucherHeaderError(`send one ${VOUCHER_HEADER} header, not ${header.length}`)
  const text = header.trim().replace(/=+$/, '')
  if (text.length === 0 || text.length > MAX_VOUCHER_HEADER || !/^[A-Za-z0-9+/]+$/.test(text)) {
    throw new MalformedVoucherHeaderError(`${VOUCHER_HEADER} is not base64 of at most ${MAX_VOUCHER_BYTES} bytes`)
  }
  let bytes: Uint8Array
  try {
    bytes = base64.baseDecode(text)
  } catch (err) {
    throw new MalformedVoucherHeaderError(`${VOUCHER_HEADER} is not base64: ${(err as Error).message}`)
  }
  // bytes that are no SignedVoucher are a malformed header (400); a voucher that decodes is judged by its rules (402)
  try {
    decodeSignedVoucher(bytes)
  } catch (err) {
    if (err instanceof MalformedVoucherError) throw new MalformedVoucherHeaderError(`${VOUCHER_HEADER} is not a SignedVoucher: ${err.message}`)
    throw err
  }
  return bytes
}
