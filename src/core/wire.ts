// Filecoin's own peer-to-peer message layouts, so Coffer speaks the shapes Lotus does:
//  - hello        /fil/hello/1.0.0         HelloMessage [HeaviestTipSet, Height, Weight, GenesisHash]
//  - chain xchg   /fil/chain/xchg/0.0.1    Request [Head, Length, Options] → Response [Status, Error, Chain],
//                 each tipset a BSTipSet [Blocks, Messages], Messages a CompactedMessages
//                 [Bls, BlsIncludes, Secpk, SecpkIncludes] (lotus chain/exchange/protocol.go and cbor_gen.go)
//  - gossip       /fil/blocks/<network>    BlockMsg [Header, BlsMessages, SecpkMessages] (message CIDs)
// Headers travel inline as CBOR tuples; re-encoding the strictly decoded tuple gives back the exact bytes.
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from './cid'
import { encodeBigInt, decodeBigInt } from './token'
import { sealHeaderTuple, MAX_HEADER_BYTES, type SealedHeader } from './block-header'
import { MalformedMessageError, OversizedMessageError, cborDecodeError } from './errors'
import { encodeMessage, decodeMessage, encodeSignedMessage, decodeSignedMessage, messageCid, signedMessageCid, MAX_MESSAGE_BYTES, type Message, type SignedMessage } from './message'
import type { BlockMessages } from './block-messages'
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

/**
 * Messages per block; far below Lotus's BlockMessageLimit (10,000), plenty for a devnet. The binding
 * limit is gas: a block's messages together ask for at most BLOCK_GAS_LIMIT (Lotus's build.BlockGasLimit).
 * Chain exchange refuses an answer listing more for a block before decoding any message.
 */
export const MAX_BLOCK_MESSAGES = 500

/**
 * A chain-exchange answer lists more messages than its blocks may hold (Lotus's BlockMessageLimit, here
 * MAX_BLOCK_MESSAGES per block), or includes for another number of blocks than its tipset has (Lotus's
 * validateCompressedIndices): refused by length, before any message is decoded.
 */
export class TooManyMessagesError extends MalformedMessageError {
  static override name = 'TooManyMessagesError'
  override name = 'TooManyMessagesError'
}

/** Request options, a bit field as Lotus's exchange.Headers (1 << 0) and exchange.Messages (1 << 1). */
export const EXCHANGE_OPT_HEADERS = 1
export const EXCHANGE_OPT_MESSAGES = 2
/**
 * A response that carries messages is bounded by what its blocks may hold (500 messages of at most
 * MAX_MESSAGE_BYTES each, one block per tipset) rather than by headers: a server stops adding tipsets past
 * EXCHANGE_MESSAGES_SOFT_BYTES (answering Partial) and always sends at least one, so an answer is at most
 * that plus one full block.
 */
export const EXCHANGE_MESSAGES_SOFT_BYTES = 8 * 1024 * 1024
export const MAX_EXCHANGE_MESSAGES_RESPONSE_BYTES = EXCHANGE_MESSAGES_SOFT_BYTES + MAX_BLOCK_MESSAGES * MAX_MESSAGE_BYTES + 1024 * 1024
export const enum ExchangeStatus { Ok = 0, Partial = 101, NotFound = 201, GoAway = 202, InternalError = 203, BadRequest = 204 }

function decodeBounded (bytes: Uint8Array, limit: number, what: string): unknown {
  if (bytes.length > limit) throw new OversizedMessageError(bytes.length, limit)
  try {
    return dagCbor.decode(bytes)
  } catch (err) {
    throw cborDecodeError(err, what)
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
/**
 * `chain[i]` holds tipset i's blocks (empty when headers were not asked for); `messages[i]`, present when
 * they were asked for, its CompactedMessages.
 */
export interface ExchangeResponse { status: ExchangeStatus, errorMessage: string, chain: SealedHeader[][], messages?: CompactedMessages[] }

/**
 * Lotus's CompactedMessages: a tipset's messages once each, and per block the indices of its own
 * (`blsIncludes[b]` lists block b's BLS messages as indices into `bls`). Coffer tipsets hold one block.
 */
export interface CompactedMessages { bls: Message[], blsIncludes: number[][], secpk: SignedMessage[], secpkIncludes: number[][] }

/**
 * A tipset's blocks' messages as Lotus's chain-exchange server gathers them (chain/exchange/server.go
 * gatherMessages): each message once, in the order first met, block by block, and per block the indices of
 * its own (a message two blocks carry, or one block twice, is listed once and indexed by each).
 */
export function compactTipSetMessages (blocks: readonly BlockMessages[]): CompactedMessages {
  const out: CompactedMessages = { bls: [], blsIncludes: [], secpk: [], secpkIncludes: [] }
  const blsAt = new Map<string, number>()
  const secpAt = new Map<string, number>()
  for (const b of blocks) {
    out.blsIncludes.push(b.bls.map(m => {
      const key = messageCid(m).toString()
      let i = blsAt.get(key)
      if (i === undefined) { i = out.bls.length; out.bls.push(m); blsAt.set(key, i) }
      return i
    }))
    out.secpkIncludes.push(b.secp.map(sm => {
      const key = signedMessageCid(sm).toString()
      let i = secpAt.get(key)
      if (i === undefined) { i = out.secpk.length; out.secpk.push(sm); secpAt.set(key, i) }
      return i
    }))
  }
  return out
}

/** One block's messages as the CompactedMessages of its one-block tipset. */
export const compactBlockMessages = (msgs: BlockMessages): CompactedMessages => compactTipSetMessages([msgs])

/** Block `index`'s messages, in the order its includes list them (the order its TxMeta must commit to). */
export function blockMessagesOf (c: CompactedMessages, index: number): BlockMessages {
  const pick = <T>(all: T[], includes: number[][], what: string): T[] => {
    const idx = includes[index]
    if (idx === undefined) throw new MalformedMessageError(`${what} includes have no entry for block ${index}`)
    return idx.map(i => {
      const v = all[i]
      if (v === undefined) throw new MalformedMessageError(`${what} include ${i} is past the ${all.length} messages sent`)
      return v
    })
  }
  return { bls: pick(c.bls, c.blsIncludes, 'bls'), secp: pick(c.secpk, c.secpkIncludes, 'secpk') }
}

function encodeCompacted (c: CompactedMessages): unknown[] {
  return [
    c.bls.map(m => dagCbor.decode(encodeMessage(m))), c.blsIncludes,
    c.secpk.map(sm => dagCbor.decode(encodeSignedMessage(sm))), c.secpkIncludes
  ]
}

function includesList (v: unknown, what: string): number[][] {
  if (!Array.isArray(v) || !v.every(b => Array.isArray(b) && b.every(isUint))) throw new MalformedMessageError(`${what} is not a list of index lists`)
  return v as number[][]
}

/** The CompactedMessages of a tipset of `blocks` blocks; its lists' lengths are checked before anything is decoded. */
/**
 * Blocks a tipset may hold when an answer carries messages without headers (Options = Messages only: Lotus
 * leaves BSTipSet.Blocks empty then, and the includes lists say how many blocks there are). Lotus's
 * expected five winners an epoch rarely give more than ten; fifteen is the most one block's WinCount may
 * claim, and bounds what a peer may make us decode.
 */
export const MAX_TIPSET_BLOCKS = 15

function decodeCompacted (raw: unknown, headerCount: number): CompactedMessages {
  if (!Array.isArray(raw) || raw.length !== 4 || !Array.isArray(raw[0]) || !Array.isArray(raw[2])) {
    throw new MalformedMessageError('CompactedMessages is not [Bls, BlsIncludes, Secpk, SecpkIncludes]')
  }
  // a messages-only answer has no headers: its includes lists give the tipset's size, bounded
  const blocks = headerCount > 0 ? headerCount : Math.min(Array.isArray(raw[1]) ? raw[1].length : 0, MAX_TIPSET_BLOCKS)
  const most = blocks * MAX_BLOCK_MESSAGES
  if (raw[0].length > most || raw[2].length > most) {
    throw new TooManyMessagesError(`${raw[0].length} BLS and ${raw[2].length} secp messages for ${blocks} block(s): at most ${MAX_BLOCK_MESSAGES} a block`)
  }
  const blsIncludes = includesList(raw[1], 'BlsIncludes')
  const secpkIncludes = includesList(raw[3], 'SecpkIncludes')
  if (blsIncludes.length !== blocks || secpkIncludes.length !== blocks) {
    throw new TooManyMessagesError(`includes for ${blsIncludes.length} and ${secpkIncludes.length} blocks in a tipset of ${blocks}`)
  }
  for (let b = 0; b < blocks; b++) {
    const count = blsIncludes[b]!.length + secpkIncludes[b]!.length
    if (count > MAX_BLOCK_MESSAGES) throw new TooManyMessagesError(`block ${b} includes ${count} messages: at most ${MAX_BLOCK_MESSAGES}`)
  }
  // a message that does not decode is the sender's fault, named as a wire error (not a pool refusal)
  const each = <T>(list: unknown[], decode: (b: Uint8Array) => T, what: string): T[] => list.map((t, i) => {
    try { return decode(dagCbor.encode(t)) } catch (err) { throw new MalformedMessageError(`${what} message ${i}: ${(err as Error).message}`) }
  })
  return {
    bls: each(raw[0] as unknown[], decodeMessage, 'bls'),
    blsIncludes,
    secpk: each(raw[2] as unknown[], decodeSignedMessage, 'secpk'),
    secpkIncludes
  }
}

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
  const count = Math.max(r.chain.length, r.messages?.length ?? 0)
  const chain = Array.from({ length: count }, (_, i) => [
    (r.chain[i] ?? []).map(h => dagCbor.decode(h.bytes)),
    r.messages?.[i] === undefined ? null : encodeCompacted(r.messages[i]!)
  ])
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
 * The start of an exchange response of `count` tipsets, which follow as `encodeExchangeTipsets`
 * bytes: a node streams a 900-header answer from its stored header bytes this way instead of decoding and
 * re-encoding it whole (issue 9: 512 such answers at once took a node to 3.6 GB). Start plus tipsets are
 * byte for byte `encodeExchangeResponse`'s encoding.
 */
export function encodeExchangeResponseStart (status: ExchangeStatus, errorMessage: string, count: number): Uint8Array {
  const message = new TextEncoder().encode(errorMessage)
  const parts = [Uint8Array.of(0x83), cborHead(0, status), cborHead(3, message.length), message, cborHead(4, count)]
  return concatBytes(parts)
}

/** Tipsets [[header…], null] from each tipset's stored header bytes (each already its canonical DAG-CBOR tuple). */
export function encodeExchangeTipsets (tipsets: Uint8Array[][]): Uint8Array {
  const parts: Uint8Array[] = []
  for (const blocks of tipsets) {
    if (blocks.length === 0) throw new MalformedMessageError('a tipset needs at least one block')
    parts.push(Uint8Array.of(0x82), cborHead(4, blocks.length))
    for (const h of blocks) {
      if (h.length > MAX_HEADER_BYTES) throw new OversizedMessageError(h.length, MAX_HEADER_BYTES)
      parts.push(h)
    }
    parts.push(Uint8Array.of(0xf6))
  }
  return concatBytes(parts)
}

function concatBytes (parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}

/**
 * `limit` is MAX_EXCHANGE_RESPONSE_BYTES for headers, MAX_EXCHANGE_MESSAGES_RESPONSE_BYTES when messages
 * were asked for. `messages` is set when every tipset carries them (a messages request), absent otherwise.
 */
export function decodeExchangeResponse (bytes: Uint8Array, limit = MAX_EXCHANGE_RESPONSE_BYTES): ExchangeResponse {
  const raw = decodeBounded(bytes, limit, 'exchange response')
  if (!Array.isArray(raw) || raw.length !== 3 || !isUint(raw[0]) || typeof raw[1] !== 'string' || !Array.isArray(raw[2])) {
    throw new MalformedMessageError('exchange response has the wrong layout')
  }
  const messages: CompactedMessages[] = []
  const chain = (raw[2] as unknown[]).map(ts => {
    if (!Array.isArray(ts) || ts.length !== 2 || !Array.isArray(ts[0])) throw new MalformedMessageError('exchange tipset has the wrong layout')
    if (ts[1] !== null) messages.push(decodeCompacted(ts[1], ts[0].length))
    return (ts[0] as unknown[]).map(sealHeaderTuple)
  })
  if (messages.length !== 0 && messages.length !== chain.length) throw new MalformedMessageError('some exchange tipsets carry messages and some do not')
  return { status: raw[0] as ExchangeStatus, errorMessage: raw[1], chain, ...(messages.length === 0 ? {} : { messages }) }
}

// ---- gossip ----
/**
 * Lotus's BlockMsg: the header and the CIDs of its messages (BLS ones by their unsigned CID, secp ones by
 * their signed CID), so a receiver rebuilds the block from its own pool and fetches only what it lacks.
 */
export function encodeBlockMsg (h: SealedHeader, msgs?: BlockMessages): Uint8Array {
  return dagCbor.encode([dagCbor.decode(h.bytes), msgs?.bls.map(messageCid) ?? [], msgs?.secp.map(signedMessageCid) ?? []])
}

export interface BlockMsg { header: SealedHeader, blsMessages: CID[], secpkMessages: CID[] }

export function decodeBlockMsgFull (bytes: Uint8Array): BlockMsg {
  const raw = decodeBounded(bytes, MAX_BLOCK_MSG_BYTES, 'block message')
  if (!Array.isArray(raw) || raw.length !== 3) throw new MalformedMessageError('block message has the wrong layout')
  const blsMessages = cidList(raw[1], 'bls messages')
  const secpkMessages = cidList(raw[2], 'secpk messages')
  return { header: sealHeaderTuple(raw[0]), blsMessages, secpkMessages }
}

export function decodeBlockMsg (bytes: Uint8Array): SealedHeader {
  return decodeBlockMsgFull(bytes).header
}

