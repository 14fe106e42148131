// Chain objects are addressed as Filecoin addresses them: CIDv1, DAG-CBOR codec, blake2b-256 multihash.
import { blake2b } from '@noble/hashes/blake2.js'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import * as dagCbor from '@ipld/dag-cbor'

export const BLAKE2B_256 = 0xb220
export const DAG_CBOR = dagCbor.code

export function blake2b256 (bytes: Uint8Array): Uint8Array {
  return blake2b(bytes, { dkLen: 32 })
}

export function chainCid (bytes: Uint8Array): CID {
  return CID.createV1(DAG_CBOR, Digest.create(BLAKE2B_256, blake2b256(bytes)))
}

export { CID }
