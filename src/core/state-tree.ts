// Filecoin's state tree: StateRoot [Version, Actors, Info] whose Actors is a HAMT (bitWidth 5) from address
// bytes to Actor [Code, Head, Nonce, Balance, DelegatedAddress]. A light client checks a balance by
// replaying the HAMT walk over the blocks a full node sends (`proveActor` / `verifyActorProof`).
//
// Where Coffer differs from Lotus, on purpose: accounts are keyed by their key address (f1/f3) rather than
// by an ID the init actor assigns, so one proof (not two) shows a balance; StateRoot.Info links the
// devnet's genesis parameters (Lotus leaves it an empty tuple).
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import { hamtGet, hamtSet, hamtDelete, emptyHamt, MalformedStateError } from './hamt'
import { mustGet, ProofBlockStore, RecordingGetter, type BlockGetter, type BlockStore } from './block-store'
import { encodeBigInt, decodeBigInt } from './token'
import { validateAddressBytes, idAddressBytes } from './address'
import type { AttoFil } from './units'

export const STATE_TREE_VERSION = 5

/** Built-in actor code CIDs in Filecoin's legacy form: raw-codec identity CIDs of "fil/<version>/<name>". */
export const builtinActorCode = (name: string): CID => CID.createV1(0x55, identity.digest(new TextEncoder().encode(`fil/1/${name}`)))
export const ACCOUNT_ACTOR_CODE = builtinActorCode('account')
export const SYSTEM_ACTOR_CODE = builtinActorCode('system')

/** Filecoin's burnt-funds actor f099: gas burn and slashed collateral go here, out of circulation. */
export const BURNT_FUNDS_ADDRESS = idAddressBytes(99)

export interface Actor { code: CID, head: CID, nonce: number, balance: AttoFil, delegatedAddress: Uint8Array | null }
export interface StateRoot { version: number, actors: CID, info: CID }

export function encodeActor (a: Actor): unknown[] {
  return [a.code, a.head, a.nonce, encodeBigInt(a.balance), a.delegatedAddress]
}

export function decodeActor (raw: unknown): Actor {
  if (!Array.isArray(raw) || raw.length !== 5) throw new MalformedStateError('actor is not a 5-field tuple')
  const [code, head, nonce, balance, delegated] = raw as unknown[]
  const codeCid = CID.asCID(code)
  const headCid = CID.asCID(head)
  if (codeCid === null || headCid === null) throw new MalformedStateError('actor Code/Head is not a CID')
  if (typeof nonce !== 'number' || !Number.isSafeInteger(nonce) || nonce < 0) throw new MalformedStateError('actor nonce is not an unsigned integer')
  if (!(balance instanceof Uint8Array)) throw new MalformedStateError('actor balance is not a big int')
  if (delegated !== null && !(delegated instanceof Uint8Array)) throw new MalformedStateError('actor delegated address is not bytes')
  let value: bigint
  try { value = decodeBigInt(balance) } catch (err) { throw new MalformedStateError(`actor balance: ${(err as Error).message}`) }
  if (value < 0n) throw new MalformedStateError('actor balance is negative')
  return { code: codeCid, head: headCid, nonce, balance: value, delegatedAddress: delegated }
}

export function encodeStateRoot (r: StateRoot): Uint8Array {
  return dagCbor.encode([r.version, r.actors, r.info])
}

export function readStateRoot (store: BlockGetter, root: CID): StateRoot {
  let raw: unknown
  try { raw = dagCbor.decode(mustGet(store, root)) } catch (err) {
    if ((err as Error).name === 'ProofIncompleteError') throw err
    throw new MalformedStateError(`state root is not DAG-CBOR: ${(err as Error).message}`)
  }
  if (!Array.isArray(raw) || raw.length !== 3 || raw[0] !== STATE_TREE_VERSION) throw new MalformedStateError('state root is not [5, actors, info]')
  const actors = CID.asCID(raw[1])
  const info = CID.asCID(raw[2])
  if (actors === null || info === null) throw new MalformedStateError('state root links are not CIDs')
  return { version: raw[0], actors, info }
}

/** A fresh state tree whose Info links `infoBytes` (already put into `store`). */
export function createStateTree (store: BlockStore, info: CID): CID {
  return store.put(encodeStateRoot({ version: STATE_TREE_VERSION, actors: emptyHamt(store), info }))
}

export function getActor (store: BlockGetter, root: CID, address: Uint8Array): Actor | null {
  const raw = hamtGet(store, readStateRoot(store, root).actors, address)
  return raw === undefined ? null : decodeActor(raw)
}

export function setActor (store: BlockStore, root: CID, address: Uint8Array, actor: Actor): CID {
  validateAddressBytes(address)
  const sr = readStateRoot(store, root)
  return store.put(encodeStateRoot({ ...sr, actors: hamtSet(store, sr.actors, address, encodeActor(actor)) }))
}

/** Removes an actor (Filecoin's delete_actor, e.g. a collected payment channel); absent → root unchanged. */
export function deleteActor (store: BlockStore, root: CID, address: Uint8Array): CID {
  const sr = readStateRoot(store, root)
  const actors = hamtDelete(store, sr.actors, address)
  return actors.equals(sr.actors) ? root : store.put(encodeStateRoot({ ...sr, actors }))
}

/** A new account actor: its Head is Filecoin's account state `[address]`. */
export function newAccountActor (store: BlockStore, address: Uint8Array, balance: AttoFil = 0n): Actor {
  return { code: ACCOUNT_ACTOR_CODE, head: store.put(dagCbor.encode([address])), nonce: 0, balance, delegatedAddress: null }
}

/** Adds `amount` to an address's balance, creating its account actor on first receipt (as a send does). */
export function creditActor (store: BlockStore, root: CID, address: Uint8Array, amount: AttoFil): CID {
  if (amount === 0n) return root
  // a credit never takes: a negative amount here is a bug upstream (or a block's forged fee), never a transfer
  if (amount < 0n) throw new RangeError(`credit of a negative amount ${amount} attoFIL`)
  const actor = getActor(store, root, address) ?? newAccountActor(store, address)
  return setActor(store, root, address, { ...actor, balance: actor.balance + amount })
}

export interface ActorProof { stateRoot: CID, address: Uint8Array, blocks: Uint8Array[] }

/** The blocks a verifier needs to find (or prove absent) `address` under `root`. */
export function proveActor (store: BlockGetter, root: CID, address: Uint8Array): ActorProof {
  const rec = new RecordingGetter(store)
  getActor(rec, root, address)
  return { stateRoot: root, address, blocks: rec.blocks() }
}

/**
 * Replays the lookup over the proof's blocks only. Returns the actor, or null when the proof shows the
 * address has no actor; throws ProofIncompleteError / MalformedStateError when the proof shows neither.
 */
export function verifyActorProof (trustedRoot: CID, address: Uint8Array, blocks: Uint8Array[]): Actor | null {
  return getActor(new ProofBlockStore(blocks), trustedRoot, address)
}
