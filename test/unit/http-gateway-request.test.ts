// The gateway's request parsers: paths, format negotiation (format= over Accept, CAR parameters), dag-scope,
// entity-bytes (IPIP-402: inclusive `to`, `*`, negatives, the refusals), and Range (RFC 9110 §14: what is
// served, what is ignored, what is unsatisfiable), and the voucher header.
import { describe, it, expect } from 'vitest'
import { base64 } from 'multiformats/bases/base64'
import {
  parseGatewayPath, negotiateFormat, parseDagScope, parseEntityBytes, resolveEntityBytes, parseRange, resolveRange, carContentType, decodeVoucherHeader,
  MalformedRequestError, NotAcceptableError, EntityBytesError, RangeNotSatisfiableHttpError, MalformedVoucherHeaderError
} from '../../src/node/provider/http-gateway'
import { encodeSignedVoucher, idAddressBytes } from '../../src/core'

const CIDTEXT = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
const q = (s: string): URLSearchParams => new URLSearchParams(s)

describe('gateway paths', () => {
  it('reads /ipfs/{cid}[/…] and /piece/{cid}; other paths are null; a bad CID is a 400', () => {
    const p = parseGatewayPath(`/ipfs/${CIDTEXT}`)
    expect(p).toMatchObject({ kind: 'ipfs', rest: [] })
    expect(p!.cid.toString()).toBe(CIDTEXT)
    expect(parseGatewayPath(`/ipfs/${CIDTEXT}/a/b%20c`)).toMatchObject({ rest: ['a', 'b c'] })
    expect(parseGatewayPath(`/piece/${CIDTEXT}`)).toMatchObject({ kind: 'piece' })
    expect(parseGatewayPath('/')).toBeNull()
    expect(parseGatewayPath('/ipns/x')).toBeNull()
    expect(() => parseGatewayPath('/ipfs/notacid')).toThrow(MalformedRequestError)
    expect(() => parseGatewayPath('/ipfs/')).toThrow(MalformedRequestError)
    expect(() => parseGatewayPath(`/piece/${CIDTEXT}/x`)).toThrow(MalformedRequestError)
    expect(() => parseGatewayPath(`/ipfs/${CIDTEXT}/%E0%A4%A`)).toThrow(MalformedRequestError)
  })
})

describe('format negotiation', () => {
  it('format= wins over Accept; car defaults to dups=n and every parameter is stated', () => {
    expect(negotiateFormat(q('format=raw'), 'application/vnd.ipld.car')).toEqual({ kind: 'raw' })
    expect(negotiateFormat(q('format=car'), undefined)).toEqual({ kind: 'car', dups: false })
    expect(negotiateFormat(q('format=car'), 'application/vnd.ipld.car; dups=y')).toEqual({ kind: 'car', dups: true })
    expect(carContentType({ dups: false })).toBe('application/vnd.ipld.car; version=1; order=dfs; dups=n')
  })
  it('Accept by q, with the CAR parameters; car-dups in the query overrides them', () => {
    expect(negotiateFormat(q(''), 'application/vnd.ipld.raw')).toEqual({ kind: 'raw' })
    expect(negotiateFormat(q(''), 'application/vnd.ipld.car;version=1;order=dfs;dups=y')).toEqual({ kind: 'car', dups: true })
    expect(negotiateFormat(q(''), 'application/vnd.ipld.raw;q=0.5, application/vnd.ipld.car;q=0.9')).toEqual({ kind: 'car', dups: false })
    // a variant it cannot make is skipped for the next entry
    expect(negotiateFormat(q(''), 'application/vnd.ipld.car;order=foo, application/vnd.ipld.car;order=dfs;dups=y;q=0.5')).toEqual({ kind: 'car', dups: true })
    expect(negotiateFormat(q('car-dups=y'), 'application/vnd.ipld.car; dups=n')).toEqual({ kind: 'car', dups: true })
    expect(negotiateFormat(q(''), 'application/vnd.ipld.raw;q=0, application/vnd.ipld.car')).toEqual({ kind: 'car', dups: false })
  })
  it('no format and no Accept is 400; an Accept or format it does not serve is 406; a format that does not exist 400', () => {
    expect(() => negotiateFormat(q(''), undefined)).toThrow(MalformedRequestError)
    expect(() => negotiateFormat(q(''), 'text/html, */*')).toThrow(NotAcceptableError)
    expect(() => negotiateFormat(q(''), 'application/vnd.ipld.car; version=2')).toThrow(NotAcceptableError)
    expect(() => negotiateFormat(q('format=tar'), undefined)).toThrow(NotAcceptableError)
    expect(() => negotiateFormat(q('format=car&car-version=2'), undefined)).toThrow(NotAcceptableError)
    expect(() => negotiateFormat(q('format=car&car-order=bfs'), undefined)).toThrow(NotAcceptableError)
    expect(() => negotiateFormat(q('format=car&car-dups=maybe'), undefined)).toThrow(MalformedRequestError)
    expect(() => negotiateFormat(q('format=zip'), undefined)).toThrow(MalformedRequestError)
  })
  it('dag-scope is block, entity or all', () => {
    expect(parseDagScope(q(''))).toBeUndefined()
    expect(parseDagScope(q('dag-scope=entity'))).toBe('entity')
    expect(() => parseDagScope(q('dag-scope=some'))).toThrow(MalformedRequestError)
  })
})

describe('entity-bytes (IPIP-402)', () => {
  const size = 1000
  const r = (v: string): { from: number, to: number } | null => resolveEntityBytes(parseEntityBytes(q(`entity-bytes=${v}`))!, size)
  it('to is inclusive, * is the end, negatives count from the end, a to past the end is cut', () => {
    expect(r('0:*')).toEqual({ from: 0, to: 1000 })
    expect(r('0:99')).toEqual({ from: 0, to: 100 })
    expect(r('-100:*')).toEqual({ from: 900, to: 1000 })
    expect(r('499:-100')).toEqual({ from: 499, to: 901 })
    expect(r('900:5000')).toEqual({ from: 900, to: 1000 })
    expect(r('-5000:10')).toEqual({ from: 0, to: 11 })
    expect(r('10:10')).toEqual({ from: 10, to: 11 })
  })
  it('a range resolving to nothing inside the file is null (served as dag-scope=block)', () => {
    expect(r('500:-600')).toBeNull()
  })
  it('refuses malformed values, from after to, and a range wholly past the end (400)', () => {
    for (const v of ['', '5', 'a:b', '1:2:3', '1.5:*', '*:5', '01:5', '0:+5', '99999999999999999:*', ' 1:2']) {
      expect(() => parseEntityBytes(q(`entity-bytes=${encodeURIComponent(v)}`)), v).toThrow(EntityBytesError)
    }
    expect(() => parseEntityBytes(q('entity-bytes=10:5'))).toThrow(/from is after to/)
    expect(() => r('1000:*')).toThrow(EntityBytesError)
    expect(() => r('2000:3000')).toThrow(EntityBytesError)
  })
})

describe('Range (RFC 9110)', () => {
  const size = 1000
  const res = (h: string): { from: number, to: number } => resolveRange(parseRange(h).range!, size)
  it('first-last, first-, -suffix; last past the end is cut', () => {
    expect(res('bytes=0-99')).toEqual({ from: 0, to: 100 })
    expect(res('bytes=900-')).toEqual({ from: 900, to: 1000 })
    expect(res('bytes=-100')).toEqual({ from: 900, to: 1000 })
    expect(res('bytes=-5000')).toEqual({ from: 0, to: 1000 })
    expect(res('bytes=990-5000')).toEqual({ from: 990, to: 1000 })
    expect(res('Bytes = 1-1')).toEqual({ from: 1, to: 2 })
  })
  it('a first-pos at or past the end, or a zero suffix, is 416 with Content-Range: bytes */size', () => {
    for (const h of ['bytes=1000-', 'bytes=1000-2000', 'bytes=-0']) {
      let err: unknown
      try { res(h) } catch (e) { err = e }
      expect(err, h).toBeInstanceOf(RangeNotSatisfiableHttpError)
      expect((err as RangeNotSatisfiableHttpError).headers['Content-Range']).toBe('bytes */1000')
    }
  })
  it('ignores (whole representation, 200) an inverted range, bad syntax, another unit, several ranges', () => {
    expect(parseRange(undefined)).toEqual({ range: null })
    for (const h of ['bytes=10-5', 'bytes=a-b', 'bytes=--5', 'items=0-5', 'bytes=0-1,5-6', 'bytes=', '0-5', 'bytes=1-2-3', 'bytes=99999999999999999-']) {
      const p = parseRange(h)
      expect(p.range, h).toBeNull()
      expect(p.ignored, h).toBeTruthy()
    }
    expect(parseRange('bytes=10-5').ignored).toMatch(/inverted/)
    expect(parseRange('bytes=0-1,5-6').ignored).toMatch(/several ranges/)
  })
})

describe('the voucher header', () => {
  const voucher = encodeSignedVoucher({
    channelAddr: idAddressBytes(1100), timeLockMin: 0, timeLockMax: 0, secretHash: new Uint8Array(0), extra: null,
    lane: 0, nonce: 1, amount: 5n, minSettleHeight: 0, merges: [], signature: null
  })
  it('is base64 of a SignedVoucher, padding optional', () => {
    const padded = base64.baseEncode(voucher) + '='.repeat((3 - voucher.length % 3) % 3)
    expect(decodeVoucherHeader(padded)).toEqual(voucher)
    expect(decodeVoucherHeader(base64.baseEncode(voucher))).toEqual(voucher)
  })
  it('anything else is a malformed header (400)', () => {
    for (const h of ['', '!!!', base64.baseEncode(new Uint8Array([1, 2, 3])), 'A'.repeat(10_000)]) {
      expect(() => decodeVoucherHeader(h)).toThrow(MalformedVoucherHeaderError)
    }
    expect(() => decodeVoucherHeader(['a', 'b'])).toThrow(MalformedVoucherHeaderError)
  })
})
