// Coffer's light-client query protocol (Filecoin has no equivalent: Lotus light clients use a trusted
// full node's RPC). Every answer is a set of IPLD blocks the client walks from a root it verified itself,
// so the server is never trusted: `/coffer/state/1.0.0`, one DAG-CBOR request, one response, stream closed.
//   actor:    {kind:'actor', address, at: header CID}       → blocks proving the actor in at.ParentStateRoot
//   lookup:   {kind:'lookup', message: CID, tipset?: true}  → included/executed header CIDs, index, blocks; with
//             tipset, the including tipset's key and a proof of the message's place in its execution order
//             (tipset-inclusion.ts), which covers tipsets of several blocks
//   messages: {kind:'messages', block: header CID, full}    → TxMeta, AMT roots (and messages when full)
//   deal:     {kind:'deal', dealId, at}                     → the deal's proposal, state, proof records and proofs
//   escrow:   {kind:'escrow', address, at}                  → the address's market escrow and locked entries
//   miner:    {kind:'miner', address, at}                   → a storage provider's on-chain record
//   channel:  {kind:'channel', address, at}                 → a payment channel's actor, state and lanes
//   miners:   {kind:'miners', at}                           → the power actor's claims: every miner's ID (listMiners)
//   power:    {kind:'power', address, at}                   → a miner's claim and the power totals (readPower)
//   f3PowerTable: {kind:'f3PowerTable', at}                 → the F3 power table of `at`'s state (readF3PowerTable):
//             what a light client checks a certificate chain's first table against
//   ecBlock:  {kind:'ecBlock', miner, roots: [lookback, lookbackParent, parent, own]}: the four state roots one
//             block's Expected Consensus checks and its tipset's weight read → readEcBlockState's blocks. Roots,
//             not headers: any node holding the state can prove it, the block itself need not be its
//   msgs gossip topic /fil/msgs/<network> carries SignedMessage bytes, as in Filecoin.
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from './cid'
import { MalformedMessageError, OversizedMessageError, cborDecodeError } from './errors'
import type { EcBlockRoots } from './consensus/ec-miner-view'

export const STATE_PROTOCOL = '/coffer/state/1.0.0'
export const messagesTopic = (network: string): string => `/fil/msgs/${network}`
export const MAX_STATE_REQUEST_BYTES = 1024
/** A full block of 500 messages is ~100 KiB; an actor proof a few KiB. */
export const MAX_STATE_RESPONSE_BYTES = 4 * 1024 * 1024

export type StateRequest =
  | { kind: 'actor', address: Uint8Array, at: CID }
  | { kind: 'lookup', message: CID, tipset?: true }
  | { kind: 'messages', block: CID, full: boolean }
  | { kind: 'deal', dealId: number, at: CID }
  | { kind: 'escrow', address: Uint8Array, at: CID }
  | { kind: 'miner', address: Uint8Array, at: CID }
  | { kind: 'channel', address: Uint8Array, at: CID }
  | { kind: 'miners', at: CID }
  | { kind: 'f3PowerTable', at: CID }
  | { kind: 'power', address: Uint8Array, at: CID }
  | { kind: 'ecBlock', miner: Uint8Array, roots: EcBlockRoots }

export interface StateResponse {
  ok: boolean
  error?: string
  /** lookup: the header that included the message and the next one, whose receipts hold its receipt. */
  included?: CID
  executed?: CID
  /** lookup with `tipset`: the including tipset's key (its blocks in tipset order); `executed` is a block of its child. */
  includedTipSet?: CID[]
  index?: number
  blocks: Uint8Array[]
}

function decode (bytes: Uint8Array, limit: number, what: string): Record<string, unknown> {
  if (bytes.length > limit) throw new OversizedMessageError(bytes.length, limit)
  let raw: unknown
  try { raw = dagCbor.decode(bytes) } catch (err) { throw cborDecodeError(err, what) }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new MalformedMessageError(`${what} is not a map`)
  return raw as Record<string, unknown>
}

const cid = (v: unknown, what: string): CID => {
  const c = CID.asCID(v)
  if (c === null) throw new MalformedMessageError(`${what} is not a CID`)
  return c
}

export const encodeStateRequest = (r: StateRequest): Uint8Array =>
  dagCbor.encode(r.kind === 'ecBlock' ? { kind: r.kind, miner: r.miner, roots: [r.roots.lookback, r.roots.lookbackParent, r.roots.parent, r.roots.own] } : r)

export function decodeStateRequest (bytes: Uint8Array): StateRequest {
  const r = decode(bytes, MAX_STATE_REQUEST_BYTES, 'state request')
  if (r.kind === 'actor' && r.address instanceof Uint8Array) return { kind: 'actor', address: r.address, at: cid(r.at, 'at') }
  if (r.kind === 'lookup') return { kind: 'lookup', message: cid(r.message, 'message'), ...(r.tipset === true ? { tipset: true as const } : {}) }
  if (r.kind === 'messages' && typeof r.full === 'boolean') return { kind: 'messages', block: cid(r.block, 'block'), full: r.full }
  if (r.kind === 'deal' && typeof r.dealId === 'number' && Number.isSafeInteger(r.dealId) && r.dealId >= 0) return { kind: 'deal', dealId: r.dealId, at: cid(r.at, 'at') }
  if (r.kind === 'miners' || r.kind === 'f3PowerTable') return { kind: r.kind, at: cid(r.at, 'at') }
  if (r.kind === 'ecBlock' && r.miner instanceof Uint8Array) {
    const roots = r.roots
    if (!Array.isArray(roots) || roots.length !== 4) throw new MalformedMessageError('ecBlock request needs four state roots')
    return { kind: 'ecBlock', miner: r.miner, roots: { lookback: cid(roots[0], 'lookback'), lookbackParent: cid(roots[1], 'lookbackParent'), parent: cid(roots[2], 'parent'), own: cid(roots[3], 'own') } }
  }
  if ((r.kind === 'escrow' || r.kind === 'miner' || r.kind === 'channel' || r.kind === 'power') && r.address instanceof Uint8Array) return { kind: r.kind, address: r.address, at: cid(r.at, 'at') }
  throw new MalformedMessageError('state request has an unknown kind or wrong fields')
}

export function encodeStateResponse (r: StateResponse): Uint8Array {
  const out: Record<string, unknown> = { ok: r.ok, blocks: r.blocks }
  if (r.error !== undefined) out.error = r.error
  if (r.included !== undefined) out.included = r.included
  if (r.executed !== undefined) out.executed = r.executed
  if (r.includedTipSet !== undefined) out.includedTipSet = r.includedTipSet
  if (r.index !== undefined) out.index = r.index
  return dagCbor.encode(out)
}

export function decodeStateResponse (bytes: Uint8Array): StateResponse {
  const r = decode(bytes, MAX_STATE_RESPONSE_BYTES, 'state response')
  if (typeof r.ok !== 'boolean' || !Array.isArray(r.blocks) || !r.blocks.every(b => b instanceof Uint8Array)) {
    throw new MalformedMessageError('state response lacks ok/blocks')
  }
  const out: StateResponse = { ok: r.ok, blocks: r.blocks as Uint8Array[] }
  if (typeof r.error === 'string') out.error = r.error.slice(0, 500)
  if (r.included !== undefined) out.included = cid(r.included, 'included')
  if (r.executed !== undefined) out.executed = cid(r.executed, 'executed')
  if (r.includedTipSet !== undefined) {
    if (!Array.isArray(r.includedTipSet) || r.includedTipSet.length === 0 || r.includedTipSet.length > 64) throw new MalformedMessageError('includedTipSet is not a list of block CIDs')
    out.includedTipSet = r.includedTipSet.map((c, i) => cid(c, `includedTipSet[${i}]`))
  }
  if (r.index !== undefined) {
    if (typeof r.index !== 'number' || !Number.isSafeInteger(r.index) || r.index < 0) throw new MalformedMessageError('index is not an unsigned integer')
    out.index = r.index
  }
  return out
}
