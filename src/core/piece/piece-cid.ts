// Piece CIDs as Filecoin writes them.
//  v1: CIDv1, codec fil-commitment-unsealed (0xf101), multihash sha2-256-trunc254-padded (0x1012) of the
//      32-byte root; the padded size travels beside it.
//  v2 (FRC-0069): CIDv1, codec raw (0x55), multihash fr32-sha256-trunc254-padbintree (0x1011) whose digest
//      is uvarint(padding) ‖ height (1 byte) ‖ root, so the CID alone gives the payload and piece sizes.
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { varint } from 'multiformats'
import type { PieceDigest } from './piece-hasher'

export const FIL_COMMITMENT_UNSEALED = 0xf101
export const SHA2_256_TRUNC254_PADDED = 0x1012
export const FR32_SHA256_TRUNC254_PADBINTREE = 0x1011
export const RAW_CODEC = 0x55

export class InvalidPieceCidError extends Error {
  static override name = 'InvalidPieceCidError'
  override name = 'InvalidPieceCidError'
}

export function pieceCidV1 (root: Uint8Array): CID {
  return CID.createV1(FIL_COMMITMENT_UNSEALED, Digest.create(SHA2_256_TRUNC254_PADDED, root))
}

export function pieceCidV2 (d: Pick<PieceDigest, 'root' | 'height' | 'padding'>): CID {
  const pad = varint.encodeTo(d.padding, new Uint8Array(varint.encodingLength(d.padding)))
  const digest = new Uint8Array(pad.length + 1 + 32)
  digest.set(pad)
  digest[pad.length] = d.height
  digest.set(d.root, pad.length + 1)
  return CID.createV1(RAW_CODEC, Digest.create(FR32_SHA256_TRUNC254_PADBINTREE, digest))
}

/** Reads a v2 piece CID back into root, height and padding; anything else is an InvalidPieceCidError. */
export function parsePieceCidV2 (cid: CID): { root: Uint8Array, height: number, padding: number } {
  if (cid.code !== RAW_CODEC || cid.multihash.code !== FR32_SHA256_TRUNC254_PADBINTREE) throw new InvalidPieceCidError(`${String(cid)} is not a v2 piece CID`)
  const d = cid.multihash.digest
  let padding: number
  let read: number
  try { [padding, read] = varint.decode(d) } catch { throw new InvalidPieceCidError('v2 piece CID padding is not a varint') }
  if (d.length !== read + 33) throw new InvalidPieceCidError('v2 piece CID digest has the wrong length')
  return { padding, height: d[read]!, root: d.slice(read + 1) }
}
