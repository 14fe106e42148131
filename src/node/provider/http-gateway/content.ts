// What the gateway serves from the provider's store besides blocks (found by CID in PayloadIndex, payload-index.ts,
// the map the libp2p path uses too): any stored piece, found by its piece CID (v1 or v2).
import { CID } from 'multiformats/cid'
import { parsePieceCidV2, pieceCidV1, FIL_COMMITMENT_UNSEALED, SHA2_256_TRUNC254_PADDED, FR32_SHA256_TRUNC254_PADBINTREE, RAW_CODEC, paddedPieceSize, FR32_IN_BYTES, FR32_OUT_BYTES } from '../../../core'
import type { ProviderStore, StoredDeal } from '../provider-store'
import { MalformedRequestError } from './errors'

/** A stored piece as the gateway serves it: its unpadded bytes are the payload then zeros. */
export interface StoredPiece {
  deal: StoredDeal
  /** The payload file's absolute path. */
  file: string
  /** Unpadded piece size: paddedBytes × 127/128, the bytes `/piece` serves (the CAR, then zeros). */
  size: number
  payloadBytes: number
}

/** The 32-byte CommP a piece CID names, with the padded size a v2 CID implies (v1 carries none), or a 400. */
export function pieceCommitment (cid: CID): { root: Uint8Array, paddedBytes?: number, padding?: number } {
  if (cid.code === FIL_COMMITMENT_UNSEALED && cid.multihash.code === SHA2_256_TRUNC254_PADDED && cid.multihash.digest.length === 32) {
    return { root: cid.multihash.digest }
  }
  if (cid.code === RAW_CODEC && cid.multihash.code === FR32_SHA256_TRUNC254_PADBINTREE) {
    try {
      const v2 = parsePieceCidV2(cid)
      // FRC-0069: height is log2 of the leaf count (32-byte leaves)
      return { root: v2.root, paddedBytes: 32 * 2 ** v2.height, padding: v2.padding }
    } catch (err) {
      throw new MalformedRequestError(`${cid.toString()}: ${(err as Error).message}`)
    }
  }
  throw new MalformedRequestError(`${cid.toString()} is not a piece CID (v1: fil-commitment-unsealed + sha2-256-trunc254-padded; v2: raw + fr32-sha256-trunc254-padbintree)`)
}

/**
 * The stored deal whose piece `cid` names, or null. A v2 CID must also name the deal's sizes. A deal's piece CID is
 * always v1 (the market refuses any other, deal-proposal.ts), so the request's commitment is compared as one.
 */
export function findPiece (store: ProviderStore, cid: CID): StoredPiece | null {
  const want = pieceCommitment(cid)
  const v1 = pieceCidV1(want.root).toString()
  for (const deal of store.all()) {
    if (deal.pieceCid !== v1) continue
    const size = deal.paddedBytes / FR32_OUT_BYTES * FR32_IN_BYTES
    if (want.paddedBytes !== undefined && (want.paddedBytes !== deal.paddedBytes || want.padding !== size - deal.payloadBytes)) continue
    if (paddedPieceSize(deal.payloadBytes) > deal.paddedBytes) continue // a record that cannot be: never served
    return { deal, file: store.absolute(deal.file), size, payloadBytes: deal.payloadBytes }
  }
  return null
}
