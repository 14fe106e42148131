// The retrieval protocol's frames (`/coffer/retrieval/1.1.0`, one stream per retrieval). Each length-prefixed
// frame (src/net/frames.ts) opens with one byte saying what it carries:
//   0x00 CAR bytes (provider → client only): a chunk of a CAR v1 stream, cut anywhere, at most 1 MiB
//   0x01 control: a DAG-CBOR map
//   client → provider  request {root, range?, payment?}
//   provider → client  accepted {pricePerGiB, paymentInterval, paymentIntervalIncrease} or rejected {code, message}
//   provider → client  CAR frames: the blocks the request needs, depth-first from the root
//   client → provider  voucher {voucher} after each interval of verified block bytes (cumulative on its lane)
//   provider → client  owed {owed} when it stops for payment: what the channel owes over every stream (the client
//                      pays what it has verified; go-fil-markets' DealStatusFundsNeeded with its PaymentOwed)
//   provider → client  done {sent} when the walk ends, or rejected {code, message, owed?}
//   client → provider  the final voucher, then the client closes.
// Decoding is strict (known kinds and keys only, typed fields, bounded sizes): the protocol's version is in its
// ID, so a change is a new ID, not a field an old peer half-understands.
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { encodeBigInt, decodeBigInt } from '../token'
import { validateAddressBytes, Protocol } from '../address'
import type { AttoFil } from '../units'

// 1.1.0: the unpaid window is per channel, not per stream, so a held stream says what is owed ('owed', and
// 'rejected' may carry it); a 1.0.0 client would not understand either
export const RETRIEVAL_PROTOCOL = '/coffer/retrieval/1.1.0'

/** The first byte of every frame. */
export const FRAME_CAR = 0x00
export const FRAME_CONTROL = 0x01

/** CAR bytes in one frame, after the kind byte: the same 1 MiB the deal protocol sends its payload in. */
export const RETRIEVAL_MAX_CAR_BYTES = 1 << 20
/** A control map, after the kind byte: far above any control (a voucher with a BLS signature is ~250 bytes). */
export const RETRIEVAL_MAX_CONTROL_BYTES = 64 * 1024
/** The largest frame either side may send: what a FrameReader on this protocol is opened with. */
export const RETRIEVAL_MAX_FRAME = 1 + Math.max(RETRIEVAL_MAX_CAR_BYTES, RETRIEVAL_MAX_CONTROL_BYTES)

export type RetrievalRejectionCode =
  | 'NOT_FOUND' // the provider holds no payload with that root
  | 'RANGE' // the range lies outside the file
  | 'PAYMENT' // a voucher is invalid (wrong signer, channel, lane, nonce, amount above funds, channel settling): the message says which
  | 'UNPAID' // the client stopped paying: no voucher for the interval within the idle timeout
  | 'BUSY' // the provider runs as many retrievals as it allows
  | 'PROTOCOL' // a malformed frame
  | 'INTERNAL' // the provider failed on its side

const CODES = new Set<string>(['NOT_FOUND', 'RANGE', 'PAYMENT', 'UNPAID', 'BUSY', 'PROTOCOL', 'INTERNAL'])

/** A retrieval ended by a rejection: sent by the provider, or (code PROTOCOL) a frame that broke the protocol. */
export class RetrievalRejectedError extends Error {
  static override name = 'RetrievalRejectedError'
  override name = 'RetrievalRejectedError'
  constructor (readonly code: RetrievalRejectionCode, message: string) {
    super(message)
  }
}

/**
 * The channel owes the provider a payment interval or more (over every stream and session on it, a restart
 * included) and no voucher brought it below that within the idle time: the provider sends no byte more on it.
 * `owed` is in attoFIL; the client pays what it verified, or opens another channel.
 */
export class PaymentOwedError extends RetrievalRejectedError {
  static override name = 'PaymentOwedError'
  override name = 'PaymentOwedError'
  constructor (readonly owed: AttoFil, message: string) { super('UNPAID', message) }
}

/**
 * What arrived is not the retrieval protocol (code PROTOCOL): thrown by the decoders here, so a receiver can tell
 * the peer's bad frame from a rejection the peer sent (a provider answers it with `rejected PROTOCOL`).
 */
export class RetrievalProtocolError extends RetrievalRejectedError {
  static override name = 'RetrievalProtocolError'
  override name = 'RetrievalProtocolError'
  constructor (message: string) { super('PROTOCOL', message) }
}

/** File byte offsets [from, to): `to` is exclusive. */
export interface ByteRange { from: number, to: number }

/** The channel and lane a priced retrieval is paid on (go-fil-markets PaymentInfo {PayCh, Lane}). */
export interface RetrievalPayment { channel: Uint8Array, lane: number }

export interface RetrievalRequest {
  root: CID
  range?: ByteRange
  /** Absent for a free provider: no channel needed. */
  payment?: RetrievalPayment
}

export type RetrievalReply =
  | { kind: 'accepted', pricePerGiB: AttoFil, paymentInterval: number, paymentIntervalIncrease: number }
  | { kind: 'done', sent: number }
  /** The provider stopped for payment: the attoFIL the channel owes it beyond what vouchers paid (every stream). */
  | { kind: 'owed', owed: AttoFil }
  /** `owed`: with UNPAID, what the channel owes (the client raises PaymentOwedError). */
  | { kind: 'rejected', code: RetrievalRejectionCode, message: string, owed?: AttoFil }

/** A client's control frames: the request that opens the stream, then vouchers. */
export type ClientControl =
  | ({ kind: 'request' } & RetrievalRequest)
  | { kind: 'voucher', voucher: Uint8Array }

// ---- frames ----

/** A CAR frame: the kind byte, then 1..RETRIEVAL_MAX_CAR_BYTES of the CAR stream. */
export function carFrame (bytes: Uint8Array): Uint8Array {
  if (bytes.length === 0 || bytes.length > RETRIEVAL_MAX_CAR_BYTES) throw new RangeError(`a CAR frame carries 1..${RETRIEVAL_MAX_CAR_BYTES} bytes, not ${bytes.length}`)
  return prefixed(FRAME_CAR, bytes)
}

/** A control frame: the kind byte, then the control's DAG-CBOR (as the encoders here return it). */
export function controlFrame (bytes: Uint8Array): Uint8Array {
  if (bytes.length === 0 || bytes.length > RETRIEVAL_MAX_CONTROL_BYTES) throw new RangeError(`a control frame carries 1..${RETRIEVAL_MAX_CONTROL_BYTES} bytes, not ${bytes.length}`)
  return prefixed(FRAME_CONTROL, bytes)
}

function prefixed (kind: number, bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + bytes.length)
  out[0] = kind
  out.set(bytes, 1)
  return out
}

export type RetrievalFrame =
  | { kind: 'car', bytes: Uint8Array }
  /** The control's DAG-CBOR bytes: decode with decodeClientControl or decodeRetrievalReply, by direction. */
  | { kind: 'control', value: Uint8Array }

/** Splits a received frame by its kind byte (views into `frame`, no copy); RetrievalProtocolError if malformed. */
export function splitFrame (frame: Uint8Array): RetrievalFrame {
  if (frame.length === 0) throw new RetrievalProtocolError('empty frame')
  const body = frame.subarray(1)
  if (frame[0] === FRAME_CAR) {
    // an empty CAR frame moves nothing and costs the receiver a turn: only a peer spinning us sends one
    if (body.length === 0 || body.length > RETRIEVAL_MAX_CAR_BYTES) throw new RetrievalProtocolError(`CAR frame of ${body.length} bytes (1..${RETRIEVAL_MAX_CAR_BYTES})`)
    return { kind: 'car', bytes: body }
  }
  if (frame[0] === FRAME_CONTROL) {
    if (body.length === 0 || body.length > RETRIEVAL_MAX_CONTROL_BYTES) throw new RetrievalProtocolError(`control frame of ${body.length} bytes (1..${RETRIEVAL_MAX_CONTROL_BYTES})`)
    return { kind: 'control', value: body }
  }
  throw new RetrievalProtocolError(`unknown frame kind 0x${frame[0]!.toString(16).padStart(2, '0')}`)
}

// ---- controls ----

export function encodeClientControl (c: ClientControl): Uint8Array {
  if (c.kind === 'voucher') {
    if (!(c.voucher instanceof Uint8Array) || c.voucher.length === 0) throw new RangeError('a voucher control carries the SignedVoucher bytes')
    return dagCbor.encode({ kind: 'voucher', voucher: c.voucher })
  }
  checkRequest(c, (m) => new RangeError(m))
  // DAG-CBOR has no undefined: absent options are left out of the map, not written as null
  const m: Record<string, unknown> = { kind: 'request', root: c.root }
  if (c.range !== undefined) m.range = { from: c.range.from, to: c.range.to }
  if (c.payment !== undefined) m.payment = { channel: c.payment.channel, lane: c.payment.lane }
  return dagCbor.encode(m)
}

export const encodeRetrievalRequest = (r: RetrievalRequest): Uint8Array => encodeClientControl({ kind: 'request', ...r })
export const encodeVoucherControl = (voucher: Uint8Array): Uint8Array => encodeClientControl({ kind: 'voucher', voucher })

/** A client's control (request or voucher), as the provider reads it; RetrievalProtocolError if malformed. */
export function decodeClientControl (bytes: Uint8Array): ClientControl {
  const m = cborMap(bytes)
  if (m.kind === 'voucher') {
    onlyKeys(m, ['kind', 'voucher'])
    if (!(m.voucher instanceof Uint8Array) || m.voucher.length === 0) throw new RetrievalProtocolError('voucher is not bytes')
    return { kind: 'voucher', voucher: m.voucher }
  }
  if (m.kind === 'request') {
    onlyKeys(m, ['kind', 'root', 'range', 'payment'])
    const root = CID.asCID(m.root)
    if (root === null) throw new RetrievalProtocolError('request root is not a CID')
    const r: { kind: 'request' } & RetrievalRequest = { kind: 'request', root }
    if (m.range !== undefined) {
      const range = asMap(m.range, 'request range')
      onlyKeys(range, ['from', 'to'], 'request range')
      r.range = { from: range.from as number, to: range.to as number }
    }
    if (m.payment !== undefined) {
      const p = asMap(m.payment, 'request payment')
      onlyKeys(p, ['channel', 'lane'], 'request payment')
      r.payment = { channel: p.channel as Uint8Array, lane: p.lane as number }
    }
    checkRequest(r, (msg) => new RetrievalProtocolError(msg))
    return r
  }
  throw new RetrievalProtocolError(`not a client control: kind ${shown(m.kind)}`)
}

/** The request that opens a stream; RetrievalProtocolError if malformed or a voucher came first. */
export function decodeRetrievalRequest (bytes: Uint8Array): RetrievalRequest {
  const c = decodeClientControl(bytes)
  if (c.kind !== 'request') throw new RetrievalProtocolError('expected a request, got a voucher')
  return { root: c.root, ...(c.range !== undefined ? { range: c.range } : {}), ...(c.payment !== undefined ? { payment: c.payment } : {}) }
}

export function encodeRetrievalReply (r: RetrievalReply): Uint8Array {
  checkReply(r, (m) => new RangeError(m))
  if (r.kind === 'accepted') {
    return dagCbor.encode({ kind: 'accepted', pricePerGiB: encodeBigInt(r.pricePerGiB), paymentInterval: r.paymentInterval, paymentIntervalIncrease: r.paymentIntervalIncrease })
  }
  if (r.kind === 'done') return dagCbor.encode({ kind: 'done', sent: r.sent })
  if (r.kind === 'owed') return dagCbor.encode({ kind: 'owed', owed: encodeBigInt(r.owed) })
  return dagCbor.encode({ kind: 'rejected', code: r.code, message: r.message, ...(r.owed === undefined ? {} : { owed: encodeBigInt(r.owed) }) })
}

/** A provider's control, as the client reads it; RetrievalProtocolError if malformed. */
export function decodeRetrievalReply (bytes: Uint8Array): RetrievalReply {
  const m = cborMap(bytes)
  let r: RetrievalReply
  if (m.kind === 'accepted') {
    onlyKeys(m, ['kind', 'pricePerGiB', 'paymentInterval', 'paymentIntervalIncrease'])
    if (!(m.pricePerGiB instanceof Uint8Array)) throw new RetrievalProtocolError('accepted pricePerGiB is not a big int')
    let price: bigint
    try { price = decodeBigInt(m.pricePerGiB) } catch (err) { throw new RetrievalProtocolError(`accepted pricePerGiB: ${(err as Error).message}`) }
    r = { kind: 'accepted', pricePerGiB: price, paymentInterval: m.paymentInterval as number, paymentIntervalIncrease: m.paymentIntervalIncrease as number }
  } else if (m.kind === 'done') {
    onlyKeys(m, ['kind', 'sent'])
    r = { kind: 'done', sent: m.sent as number }
  } else if (m.kind === 'owed') {
    onlyKeys(m, ['kind', 'owed'])
    r = { kind: 'owed', owed: bigField(m.owed, 'owed owed') }
  } else if (m.kind === 'rejected') {
    onlyKeys(m, ['kind', 'code', 'message', 'owed'])
    r = { kind: 'rejected', code: m.code as RetrievalRejectionCode, message: m.message as string, ...(m.owed === undefined ? {} : { owed: bigField(m.owed, 'rejected owed') }) }
  } else {
    throw new RetrievalProtocolError(`not a retrieval reply: kind ${shown(m.kind)}`)
  }
  checkReply(r, (msg) => new RetrievalProtocolError(msg))
  return r
}

// ---- validation, shared by both directions (a RangeError when encoding, RetrievalProtocolError when decoding) ----

const uint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0

function checkRequest (r: RetrievalRequest, fail: (m: string) => Error): void {
  if (CID.asCID(r.root) === null) throw fail('request root is not a CID')
  if (r.range !== undefined) {
    const { from, to } = r.range
    if (!uint(from) || !uint(to)) throw fail('request range bounds are not unsigned integers')
    // [from, to) with to exclusive: an empty range asks for nothing, and nothing is not worth a stream
    if (from >= to) throw fail(`request range [${from}, ${to}) is empty or reversed`)
  }
  if (r.payment !== undefined) {
    const { channel, lane } = r.payment
    if (!(channel instanceof Uint8Array)) throw fail('payment channel is not address bytes')
    try { validateAddressBytes(channel) } catch (err) { throw fail(`payment channel: ${(err as Error).message}`) }
    // a channel is an actor: an ID address or the robust address the init actor gave it (builtin-actors paych
    // is created through init's Exec), never a key address
    if (channel[0] !== Protocol.ID && channel[0] !== Protocol.ACTOR) throw fail('payment channel is not an actor address (f0/f2)')
    if (!uint(lane)) throw fail('payment lane is not an unsigned integer')
  }
}

function checkReply (r: RetrievalReply, fail: (m: string) => Error): void {
  if (r.kind === 'accepted') {
    if (typeof r.pricePerGiB !== 'bigint' || r.pricePerGiB < 0n) throw fail('accepted pricePerGiB is negative')
    // a zero interval would ask for a voucher before the first byte and never grow (go-fil-markets Params.NextInterval loops)
    if (!uint(r.paymentInterval) || r.paymentInterval === 0) throw fail('accepted paymentInterval is not a positive integer')
    if (!uint(r.paymentIntervalIncrease)) throw fail('accepted paymentIntervalIncrease is not an unsigned integer')
  } else if (r.kind === 'done') {
    if (!uint(r.sent)) throw fail('done sent is not an unsigned integer')
  } else if (r.kind === 'owed') {
    // a provider stops for a debt, never for a credit
    if (typeof r.owed !== 'bigint' || r.owed <= 0n) throw fail('owed is not a positive amount')
  } else if (r.kind === 'rejected') {
    if (typeof r.code !== 'string' || !CODES.has(r.code)) throw fail(`rejected code ${shown(r.code)} is not a retrieval rejection code`)
    if (typeof r.message !== 'string') throw fail('rejected message is not text')
    if (r.owed !== undefined && (r.code !== 'UNPAID' || typeof r.owed !== 'bigint' || r.owed <= 0n)) throw fail('rejected owed is not a positive amount on an UNPAID refusal')
  } else {
    throw fail('not a retrieval reply')
  }
}

function bigField (v: unknown, what: string): bigint {
  if (!(v instanceof Uint8Array)) throw new RetrievalProtocolError(`${what} is not a big int`)
  try { return decodeBigInt(v) } catch (err) { throw new RetrievalProtocolError(`${what}: ${(err as Error).message}`) }
}

function cborMap (bytes: Uint8Array): Record<string, unknown> {
  if (bytes.length > RETRIEVAL_MAX_CONTROL_BYTES) throw new RetrievalProtocolError(`control of ${bytes.length} bytes (at most ${RETRIEVAL_MAX_CONTROL_BYTES})`)
  let raw: unknown
  try { raw = dagCbor.decode(bytes) } catch (err) { throw new RetrievalProtocolError(`control is not DAG-CBOR: ${(err as Error).message}`) }
  return asMap(raw, 'control')
}

function asMap (v: unknown, what: string): Record<string, unknown> {
  // DAG-CBOR decodes bytes to Uint8Array and links to CID: neither is a map, though both are objects
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array || CID.asCID(v) !== null) throw new RetrievalProtocolError(`${what} is not a map`)
  return v as Record<string, unknown>
}

function onlyKeys (m: Record<string, unknown>, allowed: string[], what = m.kind as string): void {
  for (const k of Object.keys(m)) if (!allowed.includes(k)) throw new RetrievalProtocolError(`${what} has an unknown key ${shown(k)}`)
}

/** A field a peer sent, for an error message: any CBOR value (a big int too, which JSON cannot show), cut short. */
function shown (v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.slice(0, 64))
  if (typeof v === 'bigint' || typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v)
  return `(a ${Array.isArray(v) ? 'list' : v instanceof Uint8Array ? 'byte string' : typeof v})`
}
