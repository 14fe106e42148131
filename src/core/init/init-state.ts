// The init actor (f01): Filecoin's State [AddressMap, NextID, NetworkName], where AddressMap is a HAMT
// (bit width 5, as the state tree's) from a robust address's bytes to the actor ID it was given
// (builtin-actors actors/init/src/state.rs). Resolving an f2 address to the f0 its actor lives at goes
// through it, and so does a light client that reads a channel by its f2 address.
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from '../cid'
import { emptyHamt, hamtGet, hamtSet, MalformedStateError } from '../hamt'
import { mustGet, type BlockGetter, type BlockStore } from '../block-store'
import { getActor, builtinActorCode } from '../state-tree'
import { Protocol, idAddressBytes } from '../address'

export const INIT_ACTOR_ADDRESS = idAddressBytes(1)
export const INIT_ACTOR_CODE = builtinActorCode('init')
/** builtin-actors FIRST_NON_SINGLETON_ADDR: IDs below it are reserved for singleton actors (f00…f099). */
export const FIRST_NON_SINGLETON_ID = 100

export interface InitState { addressMap: CID, nextId: number, networkName: string }

export const encodeInitState = (s: InitState): Uint8Array => dagCbor.encode([s.addressMap, s.nextId, s.networkName])

export function decodeInitState (bytes: Uint8Array): InitState {
  let raw: unknown
  try { raw = dagCbor.decode(bytes) } catch (err) { throw new MalformedStateError(`init state is not DAG-CBOR: ${(err as Error).message}`) }
  if (!Array.isArray(raw) || raw.length !== 3) throw new MalformedStateError('init state is not [AddressMap, NextID, NetworkName]')
  const map = CID.asCID(raw[0])
  if (map === null || !Number.isSafeInteger(raw[1]) || raw[1] < 0 || typeof raw[2] !== 'string') throw new MalformedStateError('init state fields have the wrong types')
  return { addressMap: map, nextId: raw[1], networkName: raw[2] }
}

/** A new init state: empty address map, IDs handed out from `nextId`. */
export function emptyInitState (store: BlockStore, networkName: string, nextId: number): CID {
  return store.put(encodeInitState({ addressMap: emptyHamt(store), nextId, networkName }))
}

export const readInitState = (store: BlockGetter, head: CID): InitState => decodeInitState(mustGet(store, head))

/** The ID an address map gives a robust address, or undefined. */
export function lookupAddressId (store: BlockGetter, state: InitState, robust: Uint8Array): number | undefined {
  const raw = hamtGet(store, state.addressMap, robust)
  if (raw === undefined) return undefined
  if (!Number.isSafeInteger(raw) || (raw as number) < 0) throw new MalformedStateError('init address map value is not an actor ID')
  return raw as number
}

/** Maps `robust` to `id`; false (nothing written) when it was already mapped (builtin-actors set_if_absent). */
export function mapAddress (store: BlockStore, state: InitState, robust: Uint8Array, id: number): InitState | null {
  if (lookupAddressId(store, state, robust) !== undefined) return null
  return { ...state, addressMap: hamtSet(store, state.addressMap, robust, id) }
}

/**
 * Filecoin's address resolution, for the addresses Coffer's state tree is not keyed by: an f2 address
 * becomes the f0 the init actor mapped it to (null when unmapped, or when this chain has no init actor);
 * every other address is returned as it is (f0, and f1/f3 which Coffer keys accounts by).
 */
export function resolveAddress (store: BlockGetter, root: CID, address: Uint8Array): Uint8Array | null {
  if (address[0] !== Protocol.ACTOR) return address
  const init = getActor(store, root, INIT_ACTOR_ADDRESS)
  if (init === null || !init.code.equals(INIT_ACTOR_CODE)) return null
  const id = lookupAddressId(store, readInitState(store, init.head), address)
  return id === undefined ? null : idAddressBytes(id)
}
