// CAR v1 as a stream, without I/O: an incremental parser fed arbitrary chunks (the client's side) and the
// header/section encoders (the provider's side), so the provider emits exactly what the verifier parses.
//
// Why not @ipld/car's decoder: it pulls bytes through an async BytesReader (`await reader.upTo()`), so it
// cannot be pushed chunks by a sans-I/O caller without an async bridge, it allocates whatever length a
// section prefix claims before checking it, and it throws plain Errors. The format is small (CAR v1 spec,
// ipld.io/specs/transport/car/carv1): `varint | dag-cbor {version: 1, roots}` then `varint(len) | CID | bytes`.
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { varint } from 'multiformats'
import {
  CarHeaderError, CarHeaderTooLargeError, CarSectionError, CarSectionTooLargeError, CarTruncatedError, CarVersionError
} from './errors'
import { DEFAULT_MAX_BLOCK_BYTES } from './unixfs-walk'

export interface CarHeader {
  version: 1
  roots: CID[]
}

export interface CarBlock {
  cid: CID
  bytes: Uint8Array
}

/** A CIDv1's prefix (version, codec, hash code, digest length) plus a 64-byte digest fits easily. */
export const MAX_CID_BYTES = 128
/** Retrieval headers name one root (~60 bytes); go-car's default cap is 32 MiB, far more than needed here. */
export const DEFAULT_MAX_HEADER_BYTES = 64 * 1024
export const DEFAULT_MAX_SECTION_BYTES = DEFAULT_MAX_BLOCK_BYTES + MAX_CID_BYTES

export interface CarBlockParserInit {
  maxHeaderBytes?: number
  /** The largest `varint(len)` accepted: CID + block bytes. */
  maxSectionBytes?: number
}

/**
 * Incremental CAR v1 parser: `push(chunk)` any bytes, then `next()` until null for whole sections. Memory
 * is the unconsumed tail of the chunks pushed: at most one partial section (≤ maxSectionBytes) plus the
 * chunk in hand. A section inside one chunk is returned as a view of it (no copy), so callers must not
 * reuse a chunk's buffer after pushing it; one spanning chunks is copied once into its own buffer.
 */
export class CarBlockParser {
  private readonly chunks: Uint8Array[] = []
  private head = 0 // bytes of chunks[0] already consumed
  private buffered = 0
  private consumed = 0 // stream offset of the first unconsumed byte
  private parsedHeader: CarHeader | undefined
  private readonly maxHeaderBytes: number
  private readonly maxSectionBytes: number

  constructor (init: CarBlockParserInit = {}) {
    this.maxHeaderBytes = init.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES
    this.maxSectionBytes = init.maxSectionBytes ?? DEFAULT_MAX_SECTION_BYTES
  }

  /** The header, once its bytes have been parsed by `next()`. */
  get header (): CarHeader | undefined { return this.parsedHeader }

  /** Bytes pushed but not yet returned in a section (or the header). */
  get bufferedBytes (): number { return this.buffered }

  /** Stream offset of the next byte to parse. */
  get offset (): number { return this.consumed }

  push (chunk: Uint8Array): void {
    if (chunk.length === 0) return
    this.chunks.push(chunk)
    this.buffered += chunk.length
  }

  /** The next whole section, or null until more bytes are pushed. Parses the header first. */
  next (): CarBlock | null {
    if (this.parsedHeader === undefined) {
      const body = this.lengthPrefixed(true)
      if (body === null) return null
      this.parsedHeader = decodeHeader(body)
    }
    const at = this.consumed
    const body = this.lengthPrefixed(false)
    if (body === null) return null
    let cid: CID
    let bytes: Uint8Array
    try {
      [cid, bytes] = CID.decodeFirst(body)
    } catch (err) {
      throw new CarSectionError(`no CID (${(err as Error).message})`, at)
    }
    return { cid, bytes }
  }

  /** The stream has ended: throws if it stopped inside the header or a section. */
  end (): void {
    if (this.parsedHeader === undefined) throw new CarTruncatedError('header', this.consumed)
    if (this.buffered > 0) throw new CarTruncatedError('section', this.consumed)
  }

  /**
   * `varint(len) | len bytes`, checked against the limit before the body is waited for. Nothing is consumed until
   * the body is whole: bytes that have not made a section stay counted in bufferedBytes (a verifier whose walk is
   * done calls any of them excess, whether or not their length prefix has arrived).
   */
  private lengthPrefixed (header: boolean): Uint8Array | null {
    const at = this.consumed
    const prefix = this.peekVarint(at, header)
    if (prefix === null) return null
    const { value: length, bytes } = prefix
    if (length === 0) {
      if (header) throw new CarHeaderError('zero length')
      throw new CarSectionError('zero length', at)
    }
    if (header && length > this.maxHeaderBytes) throw new CarHeaderTooLargeError(length, this.maxHeaderBytes)
    if (!header && length > this.maxSectionBytes) throw new CarSectionTooLargeError(length, this.maxSectionBytes, at)
    if (this.buffered < bytes + length) return null
    this.take(bytes)
    return this.take(length)
  }

  /**
   * An unsigned LEB128 varint and its length in bytes, if all of it has arrived (not consumed), else null. Minimal
   * encodings only, as go-varint requires; a length needs at most 8 bytes (2^53), any longer is refused.
   */
  private peekVarint (at: number, header: boolean): { value: number, bytes: number } | null {
    const bad = (reason: string): Error => header ? new CarHeaderError(reason) : new CarSectionError(reason, at)
    let value = 0
    let scale = 1
    let n = 0
    for (let c = 0, i = this.head; c < this.chunks.length; c++, i = 0) {
      const chunk = this.chunks[c]!
      for (; i < chunk.length; i++) {
        const b = chunk[i]!
        n++
        value += (b & 0x7f) * scale
        if (b < 0x80) {
          if (n > 1 && b === 0) throw bad('length varint is not minimally encoded')
          if (!Number.isSafeInteger(value)) throw bad('length beyond 2^53')
          return { value, bytes: n }
        }
        if (n >= 8) throw bad('length varint longer than 8 bytes')
        scale *= 128
      }
    }
    return null
  }

  /** Consumes n buffered bytes (n ≤ buffered): a view when they lie in one chunk, else one copy. */
  private take (n: number): Uint8Array {
    this.buffered -= n
    this.consumed += n
    const first = this.chunks[0]!
    if (first.length - this.head >= n) {
      const out = first.subarray(this.head, this.head + n)
      this.head += n
      if (this.head === first.length) { this.chunks.shift(); this.head = 0 }
      return out
    }
    const out = new Uint8Array(n)
    let filled = 0
    while (filled < n) {
      const chunk = this.chunks[0]!
      const part = Math.min(chunk.length - this.head, n - filled)
      out.set(chunk.subarray(this.head, this.head + part), filled)
      filled += part
      this.head += part
      if (this.head === chunk.length) { this.chunks.shift(); this.head = 0 }
    }
    return out
  }
}

function decodeHeader (bytes: Uint8Array): CarHeader {
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch (err) {
    throw new CarHeaderError(`not DAG-CBOR (${(err as Error).message})`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new CarHeaderError('not a map')
  const { version, roots } = value as { version?: unknown, roots?: unknown }
  if (version !== 1) throw new CarVersionError(version)
  if (!Array.isArray(roots)) throw new CarHeaderError('no roots list')
  const cids: CID[] = []
  for (const r of roots) {
    const cid = CID.asCID(r)
    if (cid === null) throw new CarHeaderError('a root is not a CID')
    cids.push(cid)
  }
  return { version: 1, roots: cids }
}

/** `varint(len) | dag-cbor {roots, version: 1}`: byte for byte what @ipld/car's writer emits. */
export function carHeader (roots: CID | readonly CID[]): Uint8Array {
  const body = dagCbor.encode({ version: 1, roots: Array.isArray(roots) ? [...roots] : [roots] })
  const out = new Uint8Array(varint.encodingLength(body.length) + body.length)
  varint.encodeTo(body.length, out, 0)
  out.set(body, out.length - body.length)
  return out
}

/**
 * `varint(len) | CID` of a section whose block is `blockLength` bytes: a provider sends this and then the
 * block's bytes as they lie in its CAR, without copying them into one buffer.
 */
export function carSectionHead (cid: CID, blockLength: number): Uint8Array {
  const length = cid.bytes.length + blockLength
  const out = new Uint8Array(varint.encodingLength(length) + cid.bytes.length)
  varint.encodeTo(length, out, 0)
  out.set(cid.bytes, out.length - cid.bytes.length)
  return out
}

/** A whole section: `varint(len) | CID | bytes`. */
export function carSection (cid: CID, bytes: Uint8Array): Uint8Array {
  const head = carSectionHead(cid, bytes.length)
  const out = new Uint8Array(head.length + bytes.length)
  out.set(head)
  out.set(bytes, head.length)
  return out
}
