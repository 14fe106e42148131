// The storage deal protocol's messages (`/coffer/deal/1.0.0`), each one length-prefixed DAG-CBOR frame:
//   client → provider  DealRequest {proposal, payloadBytes}
//   provider → client  DealReply accepted {offset} (bytes it already holds: a resumed transfer starts there)
//                      or rejected {code, message}, before any byte is sent
//   client → provider  the payload from `offset`, in frames of at most MAX_DATA_FRAME bytes
//   provider → client  DealReply held {held} every HELD_ACK_BYTES written to disk: the client keeps at most
//                      SEND_WINDOW bytes beyond the last one, whatever the transport buffers below
//   provider → client  DealReply published {dealId, message} once the bytes hash to the proposed piece and
//                      the deal is on chain, or rejected {code, message}
// Asks travel on `/coffer/ask/1.0.0`: an empty request, a SignedStorageAsk back.
//
// Pre-proposal staging, `/coffer/stage/1.0.0` (so an upload's bytes move while the tab is still packing and
// hashing them, before the piece CID a proposal must name is known):
//   client → provider  StageRequest {transfer} (16 random bytes naming the transfer, for this peer only)
//   provider → client  DealReply accepted {offset} (a stream that resumes starts there) or rejected
//   client → provider  bytes from `offset` in frames, then a clean close of its side
//   provider → client  DealReply held {held} every frame's worth (STAGE_ACK_BYTES) and once more at the end
// The DealRequest that follows names the transfer and carries `head`, the CAR's first bytes as they finally
// are (the header names the root, known only once packing ends; what was staged had a placeholder of the
// same length there). The provider adopts the staged bytes as that proposal's and resumes from them.
import * as dagCbor from '@ipld/dag-cbor'
import { clientDealProposalTuple, clientDealProposalFromTuple, type ClientDealProposal } from './deal-proposal'

export const DEAL_PROTOCOL = '/coffer/deal/1.0.0'
export const ASK_PROTOCOL = '/coffer/ask/1.0.0'
export const STAGE_PROTOCOL = '/coffer/stage/1.0.0'
/** A transfer ID: random, so one peer's transfers never collide and no other peer can guess one. */
export const TRANSFER_ID_BYTES = 16
/** The most a DealRequest's `head` may rewrite: a CAR v1 header with one root is about 60 bytes. */
export const MAX_HEAD_BYTES = 256
export const MAX_DATA_FRAME = 1 << 20
export const MAX_CONTROL_FRAME = 64 * 1024
/** The provider acknowledges what it has written this often… */
export const HELD_ACK_BYTES = 4 * MAX_DATA_FRAME
/** …and the client sends no more than this beyond the last acknowledgement. */
export const SEND_WINDOW = 4 * HELD_ACK_BYTES

export type DealRejectionCode =
  | 'PROPOSAL' // malformed, badly signed, or not for this provider
  | 'PRICE' // below the ask, or collateral beyond it
  | 'SIZE' // piece size outside the ask, or not the payload's
  | 'SPACE' // the provider has no room
  | 'START' // starts too soon or too far ahead (or off a period boundary): re-sign with the start the message names
  | 'FUNDS' // the client's free escrow does not cover it, with what its other running transfers here will lock
  | 'BUSY' // this proposal's transfer, or another proposal's for the same client and piece, is running on another stream
  | 'CLIENT_LIMIT' // this client already runs as many transfers, or holds as many bytes, as the provider allows one client
  | 'STALLED' // the transfer ran below the provider's minimum rate; what arrived is kept, so a new stream resumes
  | 'PIECE_MISMATCH' // the bytes do not hash to the proposed piece
  | 'PUBLISH' // the chain refused the deal
  | 'TRANSFER' // the stream broke the protocol
  | 'CLOSED' // the provider takes no new deals (it is leaving); its live deals run on

export class DealRejectedError extends Error {
  static override name = 'DealRejectedError'
  override name = 'DealRejectedError'
  /**
   * With START: the earliest start epoch the provider would take now (its head plus its minimum delay, on a
   * period boundary), so the client re-signs from the provider's own view rather than a guess.
   */
  readonly earliestStart?: number
  constructor (readonly code: DealRejectionCode, message: string, opts: { earliestStart?: number } = {}) {
    super(message)
    if (opts.earliestStart !== undefined) this.earliestStart = opts.earliestStart
  }
}

export interface DealRequest {
  proposal: ClientDealProposal
  payloadBytes: number
  /** Bytes this peer staged before proposing (see STAGE_PROTOCOL), to be adopted as this proposal's. */
  transfer?: Uint8Array
  /** With `transfer`: the payload's first bytes, written over the staged ones before they are hashed. */
  head?: Uint8Array
}

export interface StageRequest { transfer: Uint8Array }

export const encodeStageRequest = (r: StageRequest): Uint8Array => dagCbor.encode({ transfer: r.transfer })

export function decodeStageRequest (bytes: Uint8Array): StageRequest {
  let raw: { transfer?: unknown }
  try { raw = dagCbor.decode(bytes) } catch (err) { throw new DealRejectedError('TRANSFER', `stage request is not DAG-CBOR: ${(err as Error).message}`) }
  if (!(raw?.transfer instanceof Uint8Array) || raw.transfer.length !== TRANSFER_ID_BYTES) throw new DealRejectedError('TRANSFER', `a transfer ID is ${TRANSFER_ID_BYTES} bytes`)
  return { transfer: raw.transfer }
}

export type DealReply =
  | { kind: 'accepted', offset: number }
  | { kind: 'held', held: number }
  | { kind: 'published', dealId: number, message: string }
  | { kind: 'rejected', code: DealRejectionCode, message: string, earliestStart?: number }

// `transfer` and `head` are left out when absent: a request without them is byte for byte what it was before
export const encodeDealRequest = (r: DealRequest): Uint8Array => dagCbor.encode({
  proposal: clientDealProposalTuple(r.proposal), payloadBytes: r.payloadBytes,
  ...(r.transfer === undefined ? {} : { transfer: r.transfer }), ...(r.head === undefined ? {} : { head: r.head })
})

export function decodeDealRequest (bytes: Uint8Array): DealRequest {
  let raw: { proposal?: unknown, payloadBytes?: unknown, transfer?: unknown, head?: unknown }
  try { raw = dagCbor.decode(bytes) } catch (err) { throw new DealRejectedError('PROPOSAL', `request is not DAG-CBOR: ${(err as Error).message}`) }
  const n = raw?.payloadBytes
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0) throw new DealRejectedError('PROPOSAL', 'payloadBytes is not a positive integer')
  const { transfer, head } = raw
  if (transfer !== undefined && (!(transfer instanceof Uint8Array) || transfer.length !== TRANSFER_ID_BYTES)) throw new DealRejectedError('PROPOSAL', `a transfer ID is ${TRANSFER_ID_BYTES} bytes`)
  if (head !== undefined && (!(head instanceof Uint8Array) || transfer === undefined || head.length > Math.min(MAX_HEAD_BYTES, n))) throw new DealRejectedError('PROPOSAL', `head is at most ${MAX_HEAD_BYTES} bytes (and the payload's), and only with a transfer`)
  let proposal: ClientDealProposal
  try { proposal = clientDealProposalFromTuple(raw.proposal) } catch (err) { throw new DealRejectedError('PROPOSAL', (err as Error).message) }
  return { proposal, payloadBytes: n, ...(transfer === undefined ? {} : { transfer }), ...(head === undefined ? {} : { head }) }
}

export const encodeDealReply = (r: DealReply): Uint8Array => dagCbor.encode(r)

const CODES = new Set<string>(['PROPOSAL', 'PRICE', 'SIZE', 'SPACE', 'START', 'FUNDS', 'BUSY', 'CLIENT_LIMIT', 'STALLED', 'PIECE_MISMATCH', 'PUBLISH', 'TRANSFER', 'CLOSED'])

export function decodeDealReply (bytes: Uint8Array): DealReply {
  let r: Record<string, unknown>
  try { r = dagCbor.decode(bytes) } catch { throw new DealRejectedError('TRANSFER', 'the provider\'s reply is not DAG-CBOR') }
  const uint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
  if (r?.kind === 'accepted' && uint(r.offset)) return { kind: 'accepted', offset: r.offset }
  if (r?.kind === 'held' && uint(r.held)) return { kind: 'held', held: r.held }
  if (r?.kind === 'published' && uint(r.dealId) && typeof r.message === 'string') return { kind: 'published', dealId: r.dealId, message: r.message }
  if (r?.kind === 'rejected' && typeof r.code === 'string' && CODES.has(r.code) && typeof r.message === 'string') {
    // an optional field, so replies from providers without it still decode
    return { kind: 'rejected', code: r.code as DealRejectionCode, message: r.message, ...(uint(r.earliestStart) ? { earliestStart: r.earliestStart } : {}) }
  }
  throw new DealRejectedError('TRANSFER', 'the provider\'s reply is not a DealReply')
}
