// The robust (f2) address of an actor a message creates, as ref-fvm computes it (call_manager/default.rs
// next_actor_address; Lotus's legacy VM did the same): blake2b-160 over the CBOR of the origin address
// (a byte string), then the message's nonce and the number of actors the message created so far, each a
// big-endian u64.
import * as dagCbor from '@ipld/dag-cbor'
import { blake2b } from '@noble/hashes/blake2.js'
import { Protocol } from '../address'

/** An f2 address from arbitrary bytes (go-address NewActorAddress / fvm_shared Address::new_actor). */
export function actorAddressBytes (data: Uint8Array): Uint8Array {
  return Uint8Array.of(Protocol.ACTOR, ...blake2b(data, { dkLen: 20 }))
}

export function newActorAddress (origin: Uint8Array, nonce: number, actorsCreated: number): Uint8Array {
  const address = dagCbor.encode(origin)
  const data = new Uint8Array(address.length + 16)
  data.set(address, 0)
  const view = new DataView(data.buffer)
  view.setBigUint64(address.length, BigInt(nonce))
  view.setBigUint64(address.length + 8, BigInt(actorsCreated))
  return actorAddressBytes(data)
}
