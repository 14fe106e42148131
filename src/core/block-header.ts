// Filecoin's BlockHeader: a 16-field CBOR tuple, field order and types as Lotus serialises it, so that a
// Filecoin tool decodes Coffer headers and Coffer decodes Lotus headers byte for byte.
import * as dagCbor from '@ipld/dag-cbor'
import { CID, chainCid } from './cid'
import { encodeBigInt, decodeBigInt } from './token'
import { encodeSignature, decodeSignature, type Signature } from './signature'
import { MalformedHeaderError, OversizedMessageError } from './errors'
import type { Epoch, UnixSeconds } from './units'

/** Largest header accepted from a peer; Lotus headers are ~0.7 KiB, this leaves room for beacon entries. */
export const MAX_HEADER_BYTES = 8 * 1024

export interface ElectionProof { winCount: number, vrfProof: Uint8Array }
export interface BeaconEntry { round: number, data: Uint8Array }
export interface PoStProof { postProof: number, proofBytes: Uint8Array }

export interface BlockHeader {
  miner: Uint8Array
  ticket: Uint8Array | null
  electionProof: ElectionProof | null
  beaconEntries: BeaconEntry[]
  winPoStProof: PoStProof[]
  parents: CID[]
  parentWeight: bigint
  height: Epoch
  parentStateRoot: CID
  parentMessageReceipts: CID
  messages: CID
  blsAggregate: Signature | null
  timestamp: UnixSeconds
  blockSig: Signature | null
  forkSignaling: number
  parentBaseFee: bigint
}

/** A header together with the exact bytes it arrived as and their CID: what gets verified and stored. */
export interface SealedHeader { header: BlockHeader, bytes: Uint8Array, cid: CID }

function toTuple (h: BlockHeader): unknown[] {
  return [
    h.miner,
    h.ticket === null ? null : [h.ticket],
    h.electionProof === null ? null : [h.electionProof.winCount, h.electionProof.vrfProof],
    h.beaconEntries.map(e => [e.round, e.data]),
    h.winPoStProof.map(p => [p.postProof, p.proofBytes]),
    h.parents,
    encodeBigInt(h.parentWeight),
    h.height,
    h.parentStateRoot,
    h.parentMessageReceipts,
    h.messages,
    h.blsAggregate === null ? null : encodeSignature(h.blsAggregate),
    h.timestamp,
    h.blockSig === null ? null : encodeSignature(h.blockSig),
    h.forkSignaling,
    encodeBigInt(h.parentBaseFee)
  ]
}

export function encodeHeader (h: BlockHeader): Uint8Array {
  return dagCbor.encode(toTuple(h))
}

/** Lotus's SigningBytes: the header serialised with BlockSig = null. */
export function headerSigningBytes (h: BlockHeader): Uint8Array {
  return encodeHeader({ ...h, blockSig: null })
}

export function sealHeader (header: BlockHeader): SealedHeader {
  const bytes = encodeHeader(header)
  return { header, bytes, cid: chainCid(bytes) }
}

const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array
const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v)

function field<T> (ok: boolean, name: string, v: T): T {
  if (!ok) throw new MalformedHeaderError(`field ${name} has the wrong type`)
  return v
}

function cidField (v: unknown, name: string): CID {
  const cid = CID.asCID(v)
  if (cid === null) throw new MalformedHeaderError(`field ${name} is not a CID`)
  // every CID in a Filecoin header is a CIDv1; DAG-CBOR decodes a tag-42 CID with version byte 0 as a CIDv0,
  // which encodes to other bytes that do not decode again (sealHeaderTuple would have sealed those)
  if (cid.version !== 1) throw new MalformedHeaderError(`field ${name} is not a CIDv1`)
  return cid
}

function sigField (v: unknown, name: string): Signature | null {
  if (v === null) return null
  if (!isBytes(v) || v.length < 1) throw new MalformedHeaderError(`field ${name} is not a signature`)
  return decodeSignature(v)
}

function bigField (v: unknown, name: string): bigint {
  if (!isBytes(v)) throw new MalformedHeaderError(`field ${name} is not a big int`)
  try { return decodeBigInt(v) } catch (err) { throw new MalformedHeaderError(`field ${name}: ${(err as Error).message}`) }
}

/** Decodes untrusted bytes; any deviation from the 16-field layout is a MalformedHeaderError. */
export function decodeHeader (bytes: Uint8Array): BlockHeader {
  if (bytes.length > MAX_HEADER_BYTES) throw new OversizedMessageError(bytes.length, MAX_HEADER_BYTES)
  let raw: unknown
  try {
    raw = dagCbor.decode(bytes)
  } catch (err) {
    throw new MalformedHeaderError(`not DAG-CBOR (${(err as Error).message})`)
  }
  const header = headerOfTuple(raw)
  // A header is named by the hash of the bytes it arrived as, so only its one canonical encoding may pass:
  // strict DAG-CBOR alone lets through e.g. a tag-42 CID with version byte 0 before a codec, which decodes
  // (as a CIDv0) to a header that re-encodes to other bytes (found by test/unit/core-properties.test.ts)
  const canonical = encodeHeader(header)
  if (canonical.length !== bytes.length || canonical.some((b, i) => b !== bytes[i])) throw new MalformedHeaderError('not in canonical form')
  return header
}

/**
 * A header that came inside a decoded message (a chain exchange answer), sealed over its encoding: what unsealHeader
 * of the tuple re-encoded gives, without decoding it a second time — every field is taken as it was decoded (big
 * ints only in their one form: decodeBigInt refuses another), so encodeHeader writes the tuple's own encoding. A
 * tab's jump decodes 2,000-odd of them (issue 14); this is a third less work than encode, decode and encode again.
 */
export function sealHeaderTuple (raw: unknown): SealedHeader {
  const header = headerOfTuple(raw)
  const bytes = encodeHeader(header)
  if (bytes.length > MAX_HEADER_BYTES) throw new OversizedMessageError(bytes.length, MAX_HEADER_BYTES)
  return { header, bytes, cid: chainCid(bytes) }
}

/** The 16 fields of a decoded header tuple, each checked; any deviation is a MalformedHeaderError. */
function headerOfTuple (raw: unknown): BlockHeader {
  if (!Array.isArray(raw) || raw.length !== 16) throw new MalformedHeaderError('expected a 16-field tuple')
  const [miner, ticket, election, beacons, posts, parents, weight, height, stateRoot, receipts, messages,
    blsAgg, timestamp, blockSig, forkSignaling, baseFee] = raw as unknown[]

  let ticketProof: Uint8Array | null = null
  if (ticket !== null) {
    if (!Array.isArray(ticket) || ticket.length !== 1 || !isBytes(ticket[0])) throw new MalformedHeaderError('field Ticket has the wrong type')
    ticketProof = ticket[0]
  }
  let electionProof: ElectionProof | null = null
  if (election !== null) {
    if (!Array.isArray(election) || election.length !== 2 || !isInt(election[0]) || !isBytes(election[1])) throw new MalformedHeaderError('field ElectionProof has the wrong type')
    electionProof = { winCount: election[0], vrfProof: election[1] }
  }
  field(Array.isArray(beacons), 'BeaconEntries', beacons)
  const beaconEntries = (beacons as unknown[]).map(e => {
    if (!Array.isArray(e) || e.length !== 2 || !isUint(e[0]) || !isBytes(e[1])) throw new MalformedHeaderError('field BeaconEntries has the wrong type')
    return { round: e[0], data: e[1] }
  })
  field(Array.isArray(posts), 'WinPoStProof', posts)
  const winPoStProof = (posts as unknown[]).map(p => {
    if (!Array.isArray(p) || p.length !== 2 || !isInt(p[0]) || !isBytes(p[1])) throw new MalformedHeaderError('field WinPoStProof has the wrong type')
    return { postProof: p[0], proofBytes: p[1] }
  })
  field(Array.isArray(parents), 'Parents', parents)

  const header: BlockHeader = {
    miner: field(isBytes(miner) && miner.length > 0, 'Miner', miner as Uint8Array),
    ticket: ticketProof,
    electionProof,
    beaconEntries,
    winPoStProof,
    parents: (parents as unknown[]).map(p => cidField(p, 'Parents')),
    parentWeight: bigField(weight, 'ParentWeight'),
    height: field(isUint(height), 'Height', height as number),
    parentStateRoot: cidField(stateRoot, 'ParentStateRoot'),
    parentMessageReceipts: cidField(receipts, 'ParentMessageReceipts'),
    messages: cidField(messages, 'Messages'),
    blsAggregate: sigField(blsAgg, 'BLSAggregate'),
    timestamp: field(isUint(timestamp), 'Timestamp', timestamp as number),
    blockSig: sigField(blockSig, 'BlockSig'),
    forkSignaling: field(isUint(forkSignaling), 'ForkSignaling', forkSignaling as number),
    parentBaseFee: bigField(baseFee, 'ParentBaseFee')
  }
  // weights and fees are non-negative big ints in Filecoin (a negative base fee would mint what it burns)
  if (header.parentWeight < 0n) throw new MalformedHeaderError('field ParentWeight is negative')
  if (header.parentBaseFee < 0n) throw new MalformedHeaderError('field ParentBaseFee is negative')
  return header
}

/** Decodes and seals: the CID is computed over the bytes exactly as received. */
export function unsealHeader (bytes: Uint8Array): SealedHeader {
  return { header: decodeHeader(bytes), bytes, cid: chainCid(bytes) }
}
