// Filecoin's own peer-to-peer message layouts, so Coffer speaks the shapes Lotus does:
//  - hello        /fil/hello/1.0.0         HelloMessage [HeaviestTipSet, Height, Weight, GenesisHash]
//  - chain xchg   /fil/chain/xchg/0.0.1    Request [Head, Length, Options] → Response [Status, Error, Chain]
//  - gossip       /fil/blocks/<network>    BlockMsg [Header, BlsMessages, SecpkMessages]
// Headers travel inline as CBOR tuples; re-encoding the strictly decoded tuple gives back the exact bytes.
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from './cid'
import { encodeBigInt, decodeBigInt } from './token'
import { unsealHeader, MAX_HEADER_BYTES, type SealedHeader } from './block-header'
import { MalformedMessageError, OversizedMessageError } from './errors'
import type { Epoch } from './units'

export const HELLO_PROTOCOL = '/fil/hello/1.0.0'
export const CHAIN_EXCHANGE_PROTOCOL = '/fil/chain/xchg/0.0.1'
export const blocksTopic = (network: string): string => `/fil/blocks/${network}`

/** Lotus's MaxRequestLength for chain exchange. */
export const MAX_EXCHANGE_LENGTH = 900
export const MAX_HELLO_BYTES = 4 * 1024
export const MAX_EXCHANGE_REQUEST_BYTES = 4 * 1024
export const MAX_EXCHANGE_RESPONSE_BYTES = MAX_EXCHANGE_LENGTH * MAX_HEADER_BYTES
export const MAX_BLOCK_MSG_BYTES = MAX_HEADER_BYTES + 64 * 1024

export const EXCHANGE_OPT_HEADERS = 1
export const enum ExchangeStatus { Ok = 0, Partial = 101, NotFound = 201, GoAway = 202, InternalError = 203, BadRequest = 204 }

function decodeBounded (bytes: Uint8Array, limit: number, what: string): unknown {
  if (bytes.length > limit) throw new OversizedMessageError(bytes.length, limit)
  try {
    return dagCbor.decode(bytes)
  } catch (err) {
    throw new MalformedMessageError(`${what} is not DAG-CBOR: ${(err as Error).message}`)
  }
}

function cidList (v: unknown, what: string): CID[] {
  if (!Array.isArray(v)) throw new MalformedMessageError(`${what} is not a CID list`)
  return v.map(c => {
    const cid = CID.asCID(c)
    if (cid === null) throw new MalformedMessageError(`${what} holds a non-CID`)
    return cid
  })
}

const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0

/** Re-encodes an inline header tuple and seals it over those bytes. */
function inlineHeader (tuple: unknown): SealedHeader {
  return unsealHeader(dagCbor.encode(tuple))
}

// ---- hello ----
export interface HelloMessage { heaviestTipSet: CID[], heaviestTipSetHeight: Epoch, heaviestTipSetWeight: bigint, genesisHash: CID }

export function encodeHello (m: HelloMessage): Uint8Array {
  return dagCbor.encode([m.heaviestTipSet, m.heaviestTipSetHeight, encodeBigInt(m.heaviestTipSetWeight), m.genesisHash])
}

export function decodeHello (bytes: Uint8Array): HelloMessage {
  const raw = decodeBounded(bytes, MAX_HELLO_BYTES, 'hello')
  if (!Array.isArray(raw) || raw.length !== 4 || !isUint(raw[1]) || !(raw[2] instanceof Uint8Array)) throw new MalformedMessageError('hello has the wrong layout')
  const genesisHash = CID.asCID(raw[3])
  if (genesisHash === null) throw new MalformedMessageError('hello genesis is not a CID')
  let weight: bigint
  try { weight = decodeBigInt(raw[2]) } catch { throw new MalformedMessageError('hello weight is not a big int') }
  return { heaviestTipSet: cidList(raw[0], 'hello tipset'), heaviestTipSetHeight: raw[1], heaviestTipSetWeight: weight, genesisHash }
}

/** Reply to a hello: arrival and send times in Unix nanoseconds. */
export function encodeLatency (arrivalNs: bigint, sentNs: bigint): Uint8Array {
  return dagCbor.encode([arrivalNs, sentNs])
}

// ---- chain exchange ----
export interface ExchangeRequest { head: CID[], length: number, options: number }
export interface ExchangeResponse { status: ExchangeStatus, errorMessage: string, chain: SealedHeader[][] }

export function encodeExchangeRequest (r: ExchangeRequest): Uint8Array {
  return dagCbor.encode([r.head, r.length, r.options])
}

export function decodeExchangeRequest (bytes: Uint8Array): ExchangeRequest {
  const raw = decodeBounded(bytes, MAX_EXCHANGE_REQUEST_BYTES, 'exchange request')
  if (!Array.isArray(raw) || raw.length !== 3 || !isUint(raw[1]) || !isUint(raw[2])) throw new MalformedMessageError('exchange request has the wrong layout')
  return { head: cidList(raw[0], 'exchange head'), length: raw[1], options: raw[2] }
}

/** Each tipset is a BSTipSet [Blocks, Messages]; a headers-only response carries null messages. */
export function encodeExchangeResponse (r: ExchangeResponse): Uint8Array {
  const chain = r.chain.map(ts => [ts.map(h => dagCbor.decode(h.bytes)), null])
  return dagCbor.encode([r.status, r.errorMessage, chain])
}

/** A CBOR head (major type and length) in DAG-CBOR's shortest form. */
function cborHead (major: number, n: number): Uint8Array {
  const m = major << 5
  if (n < 24) return Uint8Array.of(m | n)
  if (n < 0x100) return Uint8Array.of(m | 24, n)
  if (n < 0x10000) return Uint8Array.of(m | 25, n >> 8, n & 0xff)
  return Uint8Array.of(m | 26, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff)
}

/**
 * The start of an exchange response of `count` one-block tipsets, which follow as `encodeExchangeTipsets`
 * bytes: a node streams a 900-header answer from its stored header bytes this way instead of decoding and
 * re-encoding it whole (issue 9: 512 such answers at once took a node to 3.6 GB). Start plus tipsets are
 * byte for byte `encodeExchangeResponse`'s encoding.
 */
export function encodeExchangeResponseStart (status: ExchangeStatus, errorMessage: string, count: number): Uint8Array {
  const message = new TextEncoder().encode(errorMessage)
  const parts = [Uint8Array.of(0x83), cborHead(0, status), cborHead(3, message.length), message, cborHead(4, count)]
  return concatBytes(parts)
}

/** One-block tipsets [[header], null] from stored header bytes (each already its canonical DAG-CBOR tuple). */
export function encodeExchangeTipsets (headers: Uint8Array[]): Uint8Array {
  const parts: Uint8Array[] = []
  for (const h of headers) {
    if (h.length > MAX_HEADER_BYTES) throw new OversizedMessageError(h.length, MAX_HEADER_BYTES)
    parts.push(Uint8Array.of(0x82, 0x81), h, Uint8Array.of(0xf6))
  }
  return concatBytes(parts)
}

function concatBytes (parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}

export function decodeExchangeResponse (bytes: Uint8Array): ExchangeResponse {
  const raw = decodeBounded(bytes, MAX_EXCHANGE_RESPONSE_BYTES, 'exchange response')
  if (!Array.isArray(raw) || raw.length !== 3 || !isUint(raw[0]) || typeof raw[1] !== 'string' || !Array.isArray(raw[2])) {
    throw new MalformedMessageError('exchange response has the wrong layout')
  }
  const chain = (raw[2] as unknown[]).map(ts => {
    if (!Array.isArray(ts) || ts.length !== 2 || !Array.isArray(ts[0])) throw new MalformedMessageError('exchange tipset has the wrong layout')
    return (ts[0] as unknown[]).map(inlineHeader)
  })
  return { status: raw[0] as ExchangeStatus, errorMessage: raw[1], chain }
}

// ---- gossip ----
export function encodeBlockMsg (h: SealedHeader): Uint8Array {
  return dagCbor.encode([dagCbor.decode(h.bytes), [], []])
}

export function decodeBlockMsg (bytes: Uint8Array): SealedHeader {
  const raw = decodeBounded(bytes, MAX_BLOCK_MSG_BYTES, 'block message')
  if (!Array.isArray(raw) || raw.length !== 3) throw new MalformedMessageError('block message has the wrong layout')
  cidList(raw[1], 'bls messages')
  cidList(raw[2], 'secpk messages')
  return inlineHeader(raw[0])
}

