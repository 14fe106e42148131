// Filecoin's storage deal proposal, in the market actor's layout (go-state-types builtin/market
// DealProposal, an 11-field CBOR tuple) and ClientDealProposal [Proposal, ClientSignature], the client
// signing the proposal's CBOR bytes as Lotus clients do. The rules here are the market actor's
// ValidateDealProposal checks that need no chain state.
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { chainCid } from '../cid'
import { encodeBigInt, decodeBigInt, TOTAL_FIL_ATTO } from '../token'
import { validateAddressBytes } from '../address'
import { encodeSignature, decodeSignature, type Signature } from '../signature'
import { signAs, signedBy } from '../signer'
import { FIL_COMMITMENT_UNSEALED, SHA2_256_TRUNC254_PADDED } from '../piece/piece-cid'
import type { AttoFil, Epoch } from '../units'

/** market.DealMaxLabelSize */
export const DEAL_MAX_LABEL_BYTES = 256

/** DealLabel is a CBOR union: a UTF-8 string or raw bytes (FIP-0027). */
export type DealLabel = string | Uint8Array

export interface DealProposal {
  pieceCid: CID
  pieceSize: number
  verifiedDeal: boolean
  client: Uint8Array
  provider: Uint8Array
  label: DealLabel
  startEpoch: Epoch
  endEpoch: Epoch
  storagePricePerEpoch: AttoFil
  providerCollateral: AttoFil
  clientCollateral: AttoFil
}

export interface ClientDealProposal { proposal: DealProposal, clientSignature: Signature }

export type DealRejectCode = 'MALFORMED' | 'PIECE' | 'EPOCHS' | 'AMOUNT' | 'LABEL' | 'SIGNATURE'

export class DealProposalError extends Error {
  static override name = 'DealProposalError'
  override name = 'DealProposalError'
  constructor (readonly code: DealRejectCode, message: string) { super(message) }
}

const tuple = (p: DealProposal): unknown[] => [
  p.pieceCid, p.pieceSize, p.verifiedDeal, p.client, p.provider, p.label, p.startEpoch, p.endEpoch,
  encodeBigInt(p.storagePricePerEpoch), encodeBigInt(p.providerCollateral), encodeBigInt(p.clientCollateral)
]

export const encodeDealProposal = (p: DealProposal): Uint8Array => dagCbor.encode(tuple(p))
/** The proposal's CID, as Lotus's DealProposal.Cid() and the market actor's pending-proposal set name it. */
export const dealProposalCid = (p: DealProposal): CID => chainCid(encodeDealProposal(p))

export const clientDealProposalTuple = (c: ClientDealProposal): unknown[] => [tuple(c.proposal), encodeSignature(c.clientSignature)]
export const encodeClientDealProposal = (c: ClientDealProposal): Uint8Array => dagCbor.encode(clientDealProposalTuple(c))
export const dealProposalTuple = tuple
export const dealProposalFromTuple = (raw: unknown): DealProposal => fromTuple(raw)

function fromTuple (raw: unknown): DealProposal {
  if (!Array.isArray(raw) || raw.length !== 11) throw new DealProposalError('MALFORMED', 'DealProposal is not an 11-field tuple')
  const [pieceCid, pieceSize, verified, client, provider, label, start, end, price, pColl, cColl] = raw as unknown[]
  const cid = CID.asCID(pieceCid)
  const int = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v)
  const big = (v: unknown, name: string): bigint => {
    if (!(v instanceof Uint8Array)) throw new DealProposalError('MALFORMED', `${name} is not a big int`)
    try { return decodeBigInt(v) } catch (err) { throw new DealProposalError('MALFORMED', `${name}: ${(err as Error).message}`) }
  }
  const addr = (v: unknown, name: string): Uint8Array => {
    try { return validateAddressBytes(v as Uint8Array) } catch { throw new DealProposalError('MALFORMED', `${name} is not an address`) }
  }
  if (cid === null || !int(pieceSize) || typeof verified !== 'boolean' || !(client instanceof Uint8Array) || !(provider instanceof Uint8Array) ||
      (typeof label !== 'string' && !(label instanceof Uint8Array)) || !int(start) || !int(end)) {
    throw new DealProposalError('MALFORMED', 'DealProposal fields have the wrong types')
  }
  return {
    pieceCid: cid, pieceSize, verifiedDeal: verified, client: addr(client, 'Client'), provider: addr(provider, 'Provider'), label,
    startEpoch: start, endEpoch: end, storagePricePerEpoch: big(price, 'StoragePricePerEpoch'),
    providerCollateral: big(pColl, 'ProviderCollateral'), clientCollateral: big(cColl, 'ClientCollateral')
  }
}

function decodeCbor (bytes: Uint8Array): unknown {
  try { return dagCbor.decode(bytes) } catch (err) { throw new DealProposalError('MALFORMED', `not DAG-CBOR: ${(err as Error).message}`) }
}

export const decodeDealProposal = (bytes: Uint8Array): DealProposal => fromTuple(decodeCbor(bytes))

export const decodeClientDealProposal = (bytes: Uint8Array): ClientDealProposal => clientDealProposalFromTuple(decodeCbor(bytes))

/** A ClientDealProposal already decoded from CBOR (as it sits in PublishStorageDeals params). */
export function clientDealProposalFromTuple (raw: unknown): ClientDealProposal {
  if (!Array.isArray(raw) || raw.length !== 2 || !(raw[1] instanceof Uint8Array) || raw[1].length < 1) {
    throw new DealProposalError('MALFORMED', 'ClientDealProposal is not [Proposal, Signature]')
  }
  return { proposal: fromTuple(raw[0]), clientSignature: decodeSignature(raw[1]) }
}

/** The market actor's stateless checks on a proposal. */
export function validateDealProposal (p: DealProposal): void {
  if (p.pieceCid.code !== FIL_COMMITMENT_UNSEALED || p.pieceCid.multihash.code !== SHA2_256_TRUNC254_PADDED || p.pieceCid.multihash.digest.length !== 32) {
    throw new DealProposalError('PIECE', 'PieceCID is not a v1 unsealed piece commitment')
  }
  if (p.pieceSize < 128 || !Number.isInteger(Math.log2(p.pieceSize))) throw new DealProposalError('PIECE', `PieceSize ${p.pieceSize} is not a power of two of at least 128`)
  if (p.startEpoch < 0 || p.endEpoch <= p.startEpoch) throw new DealProposalError('EPOCHS', `deal must end after it starts (${p.startEpoch} → ${p.endEpoch})`)
  for (const [name, v] of [['StoragePricePerEpoch', p.storagePricePerEpoch], ['ProviderCollateral', p.providerCollateral], ['ClientCollateral', p.clientCollateral]] as const) {
    if (v < 0n || v > TOTAL_FIL_ATTO) throw new DealProposalError('AMOUNT', `${name} is out of range`)
  }
  const labelBytes = typeof p.label === 'string' ? new TextEncoder().encode(p.label).length : p.label.length
  if (labelBytes > DEAL_MAX_LABEL_BYTES) throw new DealProposalError('LABEL', `label of ${labelBytes} bytes exceeds ${DEAL_MAX_LABEL_BYTES}`)
}

export function signDealProposal (secretKey: Uint8Array, proposal: DealProposal): ClientDealProposal {
  validateDealProposal(proposal)
  return { proposal, clientSignature: signAs(secretKey, proposal.client, encodeDealProposal(proposal)) }
}

/** Throws DealProposalError unless the proposal is valid and signed by its Client. */
export function verifyClientDealProposal (c: ClientDealProposal): void {
  validateDealProposal(c.proposal)
  if (!signedBy(c.proposal.client, encodeDealProposal(c.proposal), c.clientSignature)) {
    throw new DealProposalError('SIGNATURE', 'client signature does not match the proposal')
  }
}
