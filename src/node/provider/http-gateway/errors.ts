// The gateway's refusals: one class per condition, each carrying the HTTP status it is answered with (and what
// a client needs to act on it), so the server maps any of them to a response in one place.

/** Anything the gateway answers with an error status; `status` is the HTTP status, `headers` extra response headers. */
export abstract class GatewayError extends Error {
  abstract readonly status: number
  readonly headers: Record<string, string> = {}
  /** Fields the JSON body carries beside `error` and `message` (a limit and its unit, when to retry). */
  readonly details: Record<string, unknown> = {}
}

/** A request that does not parse: a bad CID, path, query parameter or header (400). */
export class MalformedRequestError extends GatewayError {
  static override name = 'MalformedRequestError'
  override name = 'MalformedRequestError'
  readonly status = 400
}

/** entity-bytes the spec has a gateway refuse: malformed, `from` after `to`, or wholly outside the file (400). */
export class EntityBytesError extends GatewayError {
  static override name = 'EntityBytesError'
  override name = 'EntityBytesError'
  readonly status = 400
}

/** A CID or piece the provider holds no copy of (404). */
export class ContentNotFoundError extends GatewayError {
  static override name = 'ContentNotFoundError'
  override name = 'ContentNotFoundError'
  readonly status = 404
}

/** A method other than GET, HEAD and OPTIONS (405, with Allow). */
export class MethodNotAllowedError extends GatewayError {
  static override name = 'MethodNotAllowedError'
  override name = 'MethodNotAllowedError'
  readonly status = 405
  constructor (readonly method: string) {
    super(`method ${method} is not served: only GET, HEAD and OPTIONS`)
    this.headers.Allow = 'GET, HEAD, OPTIONS'
  }
}

/** An Accept (or format) naming no response type the gateway produces (406). */
export class NotAcceptableError extends GatewayError {
  static override name = 'NotAcceptableError'
  override name = 'NotAcceptableError'
  readonly status = 406
}

/** A Range wholly past the end of the piece (416, with `Content-Range: bytes *\/size` as RFC 9110 §15.5.17 asks). */
export class RangeNotSatisfiableHttpError extends GatewayError {
  static override name = 'RangeNotSatisfiableHttpError'
  override name = 'RangeNotSatisfiableHttpError'
  readonly status = 416
  constructor (readonly size: number, message: string) {
    super(message)
    this.headers['Content-Range'] = `bytes */${size}`
  }
}

/**
 * A stored block above the 2 MiB a block may be (DEFAULT_MAX_BLOCK_BYTES): `format=raw` of it, or a CAR walking
 * it, is refused before any byte is read (422: the request is understood, the content cannot be served as a block).
 */
export class BlockTooLargeToServeError extends GatewayError {
  static override name = 'BlockTooLargeToServeError'
  override name = 'BlockTooLargeToServeError'
  readonly status = 422
  constructor (readonly cid: string, readonly length: number, readonly limit: number) {
    super(`block ${cid} is ${length} bytes, above the ${limit}-byte limit of a block`)
  }
}

/** A DAG the gateway cannot walk as a CAR (a codec or node type other than a UnixFS file's) with dag-scope entity or all (501). */
export class UnsupportedDagError extends GatewayError {
  static override name = 'UnsupportedDagError'
  override name = 'UnsupportedDagError'
  readonly status = 501
}

/** The X-Coffer-Voucher header is not base64 of a SignedVoucher's CBOR (400). */
export class MalformedVoucherHeaderError extends GatewayError {
  static override name = 'MalformedVoucherHeaderError'
  override name = 'MalformedVoucherHeaderError'
  readonly status = 400
}

/**
 * A priced provider's answer to a request it was not paid for, or paid for by a voucher it refuses (402). `body`
 * is the JSON the response carries: the provider's terms, this response's price, and why a voucher was refused.
 */
export class PaymentRequiredError extends GatewayError {
  static override name = 'PaymentRequiredError'
  override name = 'PaymentRequiredError'
  readonly status = 402
  constructor (message: string, readonly body: Record<string, unknown>) { super(message) }
}

/**
 * Too many requests (429, with Retry-After in whole seconds, `no-store` like every error here). One class per limit
 * (limits.ts GatewayAdmission): all clients' requests in flight, one client's in flight, one client's rate.
 */
abstract class TooManyRequestsError extends GatewayError {
  readonly status = 429
  constructor (message: string, readonly retryAfterSeconds: number) {
    super(message)
    this.headers['Retry-After'] = String(retryAfterSeconds)
    this.details.retryAfterSeconds = retryAfterSeconds
  }
}

/** The gateway is answering all the requests it will at once (GatewayLimits.maxInFlight). */
export class GatewayBusyError extends TooManyRequestsError {
  static override name = 'GatewayBusyError'
  override name = 'GatewayBusyError'
}

/** This client address has as many requests in flight as one may (GatewayLimits.maxInFlightPerClient). */
export class ClientBusyError extends TooManyRequestsError {
  static override name = 'ClientBusyError'
  override name = 'ClientBusyError'
}

/** This client address has used its token bucket (GatewayLimits.rate). */
export class ClientRateError extends TooManyRequestsError {
  static override name = 'ClientRateError'
  override name = 'ClientRateError'
}

/**
 * A CAR plan would read more of the DAG's nodes, or walk more blocks, than the gateway does before it is paid
 * (GatewayLimits.maxPlanReadBytes, maxPlanBlocks). 422 as for a block too large to serve: the request is understood
 * and this content cannot be served whole by it; `limit` and `unit` say the bound, and the client asks smaller parts
 * with entity-bytes. (413 is about the request's own content, RFC 9110 §15.5.14, which a GET has none of.)
 */
export class PlanTooLargeError extends GatewayError {
  static override name = 'PlanTooLargeError'
  override name = 'PlanTooLargeError'
  readonly status = 422
  constructor (readonly cid: string, readonly limit: number, readonly unit: 'node bytes read' | 'blocks') {
    super(unit === 'blocks'
      ? `the CAR of ${cid} walks more than ${limit} blocks, the most this gateway plans for one answer: ask parts of the file with entity-bytes`
      : `planning the CAR of ${cid} reads more than ${limit} bytes of DAG nodes before payment, the most this gateway does: ask parts of the file with entity-bytes`)
    Object.assign(this.details, { limit, unit })
  }
}
