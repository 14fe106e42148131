// A proof set: the pieces a provider has promised to keep, in order, each as Filecoin's PieceInfo
// [Size (padded bytes), PieceCID (v1)]. Challenges pick leaves across the whole set, weighted by size.
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { chainCid } from '../cid'
import { FIL_COMMITMENT_UNSEALED, SHA2_256_TRUNC254_PADDED } from '../piece/piece-cid'
import { PossessionProofError } from './errors'

export interface ProofSetPiece { pieceCid: CID, paddedBytes: number }
export interface ProofSet { pieces: ProofSetPiece[] }

export function encodeProofSet (set: ProofSet): Uint8Array {
  return dagCbor.encode(set.pieces.map(p => [p.paddedBytes, p.pieceCid]))
}

export const proofSetCid = (set: ProofSet): CID => chainCid(encodeProofSet(set))

/** A piece's CommP root, checking the CID is a v1 piece CID and the size a power of two of at least 128. */
export function pieceRoot (p: ProofSetPiece): Uint8Array {
  if (p.pieceCid.code !== FIL_COMMITMENT_UNSEALED || p.pieceCid.multihash.code !== SHA2_256_TRUNC254_PADDED || p.pieceCid.multihash.digest.length !== 32) {
    throw new PossessionProofError('MALFORMED', `${String(p.pieceCid)} is not a v1 piece CID`)
  }
  if (!Number.isSafeInteger(p.paddedBytes) || p.paddedBytes < 128 || !Number.isInteger(Math.log2(p.paddedBytes))) {
    throw new PossessionProofError('MALFORMED', `padded size ${p.paddedBytes} is not a power of two of at least 128`)
  }
  return p.pieceCid.multihash.digest
}

export function decodeProofSet (bytes: Uint8Array): ProofSet {
  let raw: unknown
  try { raw = dagCbor.decode(bytes) } catch (err) { throw new PossessionProofError('MALFORMED', `proof set is not DAG-CBOR: ${(err as Error).message}`) }
  if (!Array.isArray(raw)) throw new PossessionProofError('MALFORMED', 'proof set is not a list of PieceInfo')
  const pieces = raw.map((e: unknown) => {
    const cid = Array.isArray(e) && e.length === 2 ? CID.asCID(e[1]) : null
    if (cid === null || typeof (e as unknown[])[0] !== 'number') throw new PossessionProofError('MALFORMED', 'PieceInfo is not [Size, PieceCID]')
    const piece = { paddedBytes: (e as [number])[0], pieceCid: cid }
    pieceRoot(piece)
    return piece
  })
  return { pieces }
}
