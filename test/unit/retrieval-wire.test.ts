// The retrieval protocol's frames and controls: round trips in both directions, and every malformed frame or
// control refused by name (RetrievalProtocolError, code PROTOCOL) when decoding, by RangeError when encoding.
import { describe, it, expect } from 'vitest'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import * as raw from 'multiformats/codecs/raw'
import { encodeBigInt, idAddressBytes, secpAddressBytes, secpPublicKey, parseFil } from '../../src/core'
import {
  RETRIEVAL_PROTOCOL, FRAME_CAR, FRAME_CONTROL, RETRIEVAL_MAX_CAR_BYTES, RETRIEVAL_MAX_CONTROL_BYTES, RETRIEVAL_MAX_FRAME,
  carFrame, controlFrame, splitFrame, encodeClientControl, decodeClientControl, encodeRetrievalRequest, decodeRetrievalRequest,
  encodeVoucherControl, encodeRetrievalReply, decodeRetrievalReply, RetrievalRejectedError, RetrievalProtocolError, PaymentOwedError,
  type RetrievalReply, type RetrievalRequest, type RetrievalRejectionCode
} from '../../src/core/retrieval/retrieval-wire'

const root = CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode('hello')))
/** An f2 (actor) address: protocol 2 and a 20-byte payload, as the init actor gives a new channel. */
const f2 = Uint8Array.of(2, ...new Uint8Array(20).fill(7))
const f0 = idAddressBytes(1234)

/** The RetrievalProtocolError `f` must throw, its message matching `message`. */
function protocolError (f: () => unknown, message: RegExp): void {
  let err: unknown
  try { f() } catch (e) { err = e }
  expect(err).toBeInstanceOf(RetrievalProtocolError)
  expect(err).toBeInstanceOf(RetrievalRejectedError)
  expect((err as RetrievalProtocolError).name).toBe('RetrievalProtocolError')
  expect((err as RetrievalProtocolError).code).toBe('PROTOCOL')
  expect((err as Error).message).toMatch(message)
}

describe('retrieval frames', () => {
  it('names the protocol and sizes a reader for the largest frame', () => {
    expect(RETRIEVAL_PROTOCOL).toBe('/coffer/retrieval/1.1.0')
    expect(RETRIEVAL_MAX_FRAME).toBe(1 + RETRIEVAL_MAX_CAR_BYTES)
  })

  it('a CAR frame is 0x00 then the bytes, and splits back to a view of them', () => {
    const bytes = new Uint8Array(1000).map((_, i) => i)
    const f = carFrame(bytes)
    expect(f[0]).toBe(FRAME_CAR)
    const s = splitFrame(f)
    expect(s).toEqual({ kind: 'car', bytes })
    expect(s.kind === 'car' && s.bytes.buffer).toBe(f.buffer) // no copy
    expect(splitFrame(carFrame(new Uint8Array(RETRIEVAL_MAX_CAR_BYTES)))).toMatchObject({ kind: 'car' })
  })

  it('a control frame is 0x01 then the DAG-CBOR', () => {
    const c = encodeRetrievalReply({ kind: 'done', sent: 5 })
    const f = controlFrame(c)
    expect(f[0]).toBe(FRAME_CONTROL)
    const s = splitFrame(f)
    expect(s.kind).toBe('control')
    expect(s.kind === 'control' && decodeRetrievalReply(s.value)).toEqual({ kind: 'done', sent: 5 })
  })

  it('refuses to build an empty or oversized frame (RangeError)', () => {
    expect(() => carFrame(new Uint8Array(0))).toThrow(RangeError)
    expect(() => carFrame(new Uint8Array(RETRIEVAL_MAX_CAR_BYTES + 1))).toThrow(RangeError)
    expect(() => controlFrame(new Uint8Array(0))).toThrow(RangeError)
    expect(() => controlFrame(new Uint8Array(RETRIEVAL_MAX_CONTROL_BYTES + 1))).toThrow(RangeError)
  })

  const malformed: Array<[string, Uint8Array, RegExp]> = [
    ['an empty frame', new Uint8Array(0), /empty frame/],
    ['an unknown kind byte', Uint8Array.of(0x02, 1, 2), /unknown frame kind 0x02/],
    ['a CAR frame with no bytes', Uint8Array.of(FRAME_CAR), /CAR frame of 0 bytes/],
    ['a CAR frame over 1 MiB', new Uint8Array(RETRIEVAL_MAX_CAR_BYTES + 2), /CAR frame of 1048577 bytes/],
    ['a control frame with no bytes', Uint8Array.of(FRAME_CONTROL), /control frame of 0 bytes/],
    ['a control frame over 64 KiB', Uint8Array.of(FRAME_CONTROL, ...new Uint8Array(RETRIEVAL_MAX_CONTROL_BYTES + 1)), /control frame of 65537 bytes/]
  ]
  for (const [name, frame, message] of malformed) it(`splitFrame refuses ${name}`, () => { protocolError(() => splitFrame(frame), message) })
})

describe('client controls', () => {
  const requests: Array<[string, RetrievalRequest]> = [
    ['the whole file from a free provider', { root }],
    ['a range', { root, range: { from: 0, to: 1 } }],
    ['a paid retrieval on an f2 channel', { root, payment: { channel: f2, lane: 0 } }],
    ['a range paid on an f0 channel, a high lane', { root, range: { from: 2 ** 40, to: 2 ** 40 + 5 }, payment: { channel: f0, lane: 2 ** 53 - 1 } }]
  ]
  for (const [name, r] of requests) {
    it(`a request round-trips: ${name}`, () => {
      const bytes = encodeRetrievalRequest(r)
      expect(decodeRetrievalRequest(bytes)).toEqual(r)
      expect(decodeClientControl(bytes)).toEqual({ kind: 'request', ...r })
      // absent options are absent on the wire, not null
      expect(Object.keys(dagCbor.decode(bytes) as object).sort()).toEqual(['kind', 'root', ...Object.keys(r).filter(k => k !== 'root')].sort())
    })
  }

  it('a voucher round-trips as opaque SignedVoucher bytes', () => {
    const voucher = dagCbor.encode([f2, 0, 0, null, null, 3, 1, encodeBigInt(100n), 0, [], Uint8Array.of(1, ...new Uint8Array(65))])
    expect(decodeClientControl(encodeVoucherControl(voucher))).toEqual({ kind: 'voucher', voucher })
    expect(decodeClientControl(encodeClientControl({ kind: 'voucher', voucher }))).toEqual({ kind: 'voucher', voucher })
  })

  it('a voucher where the request must come is refused', () => {
    protocolError(() => decodeRetrievalRequest(encodeVoucherControl(Uint8Array.of(1))), /expected a request/)
  })

  const req = (over: Record<string, unknown>): Uint8Array => dagCbor.encode({ kind: 'request', root, ...over })
  const malformed: Array<[string, Uint8Array, RegExp]> = [
    ['bytes that are not DAG-CBOR', Uint8Array.of(0xff, 0x00), /not DAG-CBOR/],
    ['DAG-CBOR with trailing bytes', Uint8Array.of(...dagCbor.encode({ kind: 'voucher', voucher: Uint8Array.of(1) }), 0), /not DAG-CBOR/],
    ['a list, not a map', dagCbor.encode(['request', root]), /control is not a map/],
    ['bytes, not a map', dagCbor.encode(Uint8Array.of(1)), /control is not a map/],
    ['a bare CID, not a map', dagCbor.encode(root), /control is not a map/],
    ['an unknown kind', dagCbor.encode({ kind: 'accepted' }), /not a client control/],
    ['no kind', dagCbor.encode({ root }), /not a client control/],
    ['a request without a root', dagCbor.encode({ kind: 'request' }), /root is not a CID/],
    ['a root given as text', req({ root: root.toString() }), /root is not a CID/],
    ['a root given as bytes', req({ root: root.bytes }), /root is not a CID/],
    ['an unknown key in a request', req({ selector: 'all' }), /unknown key "selector"/],
    ['a range as a list', req({ range: [0, 10] }), /range is not a map/],
    ['a null range', req({ range: null }), /range is not a map/],
    ['a range with an unknown key', req({ range: { from: 0, to: 10, step: 1 } }), /unknown key "step"/],
    ['a range without its end', req({ range: { from: 0 } }), /not unsigned integers/],
    ['an empty range (from = to)', req({ range: { from: 10, to: 10 } }), /\[10, 10\) is empty or reversed/],
    ['a reversed range', req({ range: { from: 11, to: 10 } }), /empty or reversed/],
    ['a negative range start', req({ range: { from: -1, to: 10 } }), /not unsigned integers/],
    ['a fractional range end', req({ range: { from: 0, to: 10.5 } }), /not unsigned integers/],
    ['a range end beyond 2^53', req({ range: { from: 0, to: 2 ** 53 } }), /not unsigned integers/],
    ['a payment as a list', req({ payment: [f2, 0] }), /payment is not a map/],
    ['a payment with an unknown key', req({ payment: { channel: f2, lane: 0, nonce: 1 } }), /unknown key "nonce"/],
    ['a payment channel as text', req({ payment: { channel: 't2aaaa', lane: 0 } }), /not address bytes/],
    ['a payment channel that is no address', req({ payment: { channel: Uint8Array.of(2, 1, 2), lane: 0 } }), /payment channel: protocol 2 payload must be 20 bytes/],
    ['a payment channel of unknown protocol', req({ payment: { channel: Uint8Array.of(9, 1), lane: 0 } }), /payment channel: unknown address protocol/],
    ['a payment channel that is a key address', req({ payment: { channel: secpAddressBytes(secpPublicKey(new Uint8Array(32).fill(1))), lane: 0 } }), /not an actor address/],
    ['a payment without a lane', req({ payment: { channel: f2 } }), /lane is not an unsigned integer/],
    ['a negative lane', req({ payment: { channel: f2, lane: -1 } }), /lane is not an unsigned integer/],
    ['a fractional lane', req({ payment: { channel: f2, lane: 0.5 } }), /lane is not an unsigned integer/],
    ['an empty voucher', dagCbor.encode({ kind: 'voucher', voucher: new Uint8Array(0) }), /voucher is not bytes/],
    ['a voucher as a list', dagCbor.encode({ kind: 'voucher', voucher: [1, 2] }), /voucher is not bytes/],
    ['a voucher with an unknown key', dagCbor.encode({ kind: 'voucher', voucher: Uint8Array.of(1), lane: 0 }), /unknown key "lane"/],
    ['a control over 64 KiB', dagCbor.encode({ kind: 'voucher', voucher: new Uint8Array(RETRIEVAL_MAX_CONTROL_BYTES) }), /control of \d+ bytes/]
  ]
  for (const [name, bytes, message] of malformed) it(`refuses ${name}`, () => { protocolError(() => decodeClientControl(bytes), message) })

  it('refuses to encode a request it would refuse to decode (RangeError)', () => {
    expect(() => encodeRetrievalRequest({ root, range: { from: 5, to: 5 } })).toThrow(RangeError)
    expect(() => encodeRetrievalRequest({ root: 'bafy' as unknown as CID })).toThrow(RangeError)
    expect(() => encodeRetrievalRequest({ root, payment: { channel: f2, lane: -1 } })).toThrow(RangeError)
    expect(() => encodeRetrievalRequest({ root, payment: { channel: secpAddressBytes(secpPublicKey(new Uint8Array(32).fill(1))), lane: 0 } })).toThrow(RangeError)
    expect(() => encodeVoucherControl(new Uint8Array(0))).toThrow(RangeError)
  })
})

describe('provider replies', () => {
  const codes: RetrievalRejectionCode[] = ['NOT_FOUND', 'RANGE', 'PAYMENT', 'UNPAID', 'BUSY', 'PROTOCOL', 'INTERNAL']
  const replies: RetrievalReply[] = [
    { kind: 'accepted', pricePerGiB: 0n, paymentInterval: 2 ** 20, paymentIntervalIncrease: 0 },
    { kind: 'accepted', pricePerGiB: parseFil('1000000'), paymentInterval: 1, paymentIntervalIncrease: 2 ** 20 },
    { kind: 'done', sent: 0 },
    { kind: 'done', sent: 10 * 2 ** 30 },
    ...codes.map(code => ({ kind: 'rejected' as const, code, message: `because ${code}` })),
    { kind: 'owed', owed: 1n },
    { kind: 'owed', owed: parseFil('3') },
    { kind: 'rejected', code: 'UNPAID', message: 'the channel owes', owed: 12_345n }
  ]
  for (const r of replies) {
    it(`round-trips ${r.kind} ${JSON.stringify(r, (_, v: unknown) => typeof v === 'bigint' ? String(v) : v)}`, () => {
      expect(decodeRetrievalReply(encodeRetrievalReply(r))).toEqual(r)
    })
  }

  it('the price travels as Filecoin’s big-int bytes', () => {
    const m = dagCbor.decode(encodeRetrievalReply({ kind: 'accepted', pricePerGiB: 256n, paymentInterval: 1, paymentIntervalIncrease: 1 })) as Record<string, unknown>
    expect(m.pricePerGiB).toEqual(Uint8Array.of(0, 1, 0))
  })

  const acc = (over: Record<string, unknown>): Uint8Array => dagCbor.encode({ kind: 'accepted', pricePerGiB: encodeBigInt(5n), paymentInterval: 1, paymentIntervalIncrease: 1, ...over })
  const malformed: Array<[string, Uint8Array, RegExp]> = [
    ['bytes that are not DAG-CBOR', Uint8Array.of(0xa1), /not DAG-CBOR/],
    ['a client control', encodeRetrievalRequest({ root }), /not a retrieval reply/],
    ['an accepted price as a number', acc({ pricePerGiB: 5 }), /pricePerGiB is not a big int/],
    ['an accepted price that is negative', acc({ pricePerGiB: encodeBigInt(-5n) }), /pricePerGiB is negative/],
    ['an accepted price with a padded magnitude', acc({ pricePerGiB: Uint8Array.of(0, 0, 5) }), /pricePerGiB: big int magnitude has a leading zero/],
    ['an accepted zero interval', acc({ paymentInterval: 0 }), /paymentInterval is not a positive integer/],
    ['an accepted fractional interval', acc({ paymentInterval: 1.5 }), /paymentInterval is not a positive integer/],
    ['an accepted negative increase', acc({ paymentIntervalIncrease: -1 }), /paymentIntervalIncrease is not an unsigned integer/],
    ['an accepted without its increase', dagCbor.encode({ kind: 'accepted', pricePerGiB: encodeBigInt(5n), paymentInterval: 1 }), /paymentIntervalIncrease/],
    ['an accepted with an unknown key', acc({ unsealPrice: encodeBigInt(1n) }), /unknown key "unsealPrice"/],
    ['a done with a negative count', dagCbor.encode({ kind: 'done', sent: -1 }), /sent is not an unsigned integer/],
    ['a done with a count as text', dagCbor.encode({ kind: 'done', sent: '10' }), /sent is not an unsigned integer/],
    ['a rejection with an unknown code', dagCbor.encode({ kind: 'rejected', code: 'SPACE', message: 'x' }), /"SPACE" is not a retrieval rejection code/],
    ['a rejection without a message', dagCbor.encode({ kind: 'rejected', code: 'BUSY' }), /message is not text/],
    ['a rejection with an unknown key', dagCbor.encode({ kind: 'rejected', code: 'BUSY', message: 'x', retryAfter: 5 }), /unknown key "retryAfter"/],
    ['an owed of nothing', dagCbor.encode({ kind: 'owed', owed: encodeBigInt(0n) }), /owed is not a positive amount/],
    ['an owed credit', dagCbor.encode({ kind: 'owed', owed: encodeBigInt(-4n) }), /owed is not a positive amount/],
    ['an owed as a number', dagCbor.encode({ kind: 'owed', owed: 4 }), /owed owed is not a big int/],
    ['an owed with an unknown key', dagCbor.encode({ kind: 'owed', owed: encodeBigInt(4n), lane: 1 }), /unknown key "lane"/],
    ['an owed amount on a refusal that is not UNPAID', dagCbor.encode({ kind: 'rejected', code: 'BUSY', message: 'x', owed: encodeBigInt(4n) }), /owed is not a positive amount on an UNPAID refusal/]
  ]
  for (const [name, bytes, message] of malformed) it(`refuses ${name}`, () => { protocolError(() => decodeRetrievalReply(bytes), message) })

  it('refuses to encode a reply it would refuse to decode (RangeError)', () => {
    expect(() => encodeRetrievalReply({ kind: 'accepted', pricePerGiB: -1n, paymentInterval: 1, paymentIntervalIncrease: 0 })).toThrow(RangeError)
    expect(() => encodeRetrievalReply({ kind: 'accepted', pricePerGiB: 1n, paymentInterval: 0, paymentIntervalIncrease: 0 })).toThrow(RangeError)
    expect(() => encodeRetrievalReply({ kind: 'rejected', code: 'NOPE' as RetrievalRejectionCode, message: '' })).toThrow(RangeError)
    expect(() => encodeRetrievalReply({ kind: 'done', sent: -1 })).toThrow(RangeError)
  })

  it('PaymentOwedError is an UNPAID refusal carrying what the channel owes', () => {
    const e = new PaymentOwedError(77n, 'owes 77')
    expect(e).toBeInstanceOf(RetrievalRejectedError)
    expect([e.name, e.code, e.owed, PaymentOwedError.name]).toEqual(['PaymentOwedError', 'UNPAID', 77n, 'PaymentOwedError'])
  })

  it('RetrievalRejectedError carries its code and name', () => {
    const e = new RetrievalRejectedError('UNPAID', 'no voucher for 1 MiB')
    expect(e).toBeInstanceOf(Error)
    expect([e.name, e.code, e.message]).toEqual(['RetrievalRejectedError', 'UNPAID', 'no voucher for 1 MiB'])
    expect(RetrievalRejectedError.name).toBe('RetrievalRejectedError')
    expect(RetrievalProtocolError.name).toBe('RetrievalProtocolError')
  })
})
