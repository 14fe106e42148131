// A storage provider's on-chain record: an actor with Filecoin's storage-miner code at an ID address
// (t01001, …), as a Lotus devnet's pre-sealed miners are. Its state is Coffer's reduced MinerInfo
// [Owner, Worker, PeerId]: who receives withdrawals, which key signs the provider's messages, and the
// libp2p identity clients dial for asks and data transfer.
import * as dagCbor from '@ipld/dag-cbor'
import { MalformedStateError } from '../hamt'
import { validateAddressBytes } from '../address'
import { getActor } from '../state-tree'
import { mustGet, type BlockGetter } from '../block-store'
import { MINER_ACTOR_CODE } from './market-state'
import type { CID } from '../cid'

export interface MinerInfo { owner: Uint8Array, worker: Uint8Array, peerId: Uint8Array }

export const encodeMinerInfo = (m: MinerInfo): Uint8Array => dagCbor.encode([m.owner, m.worker, m.peerId])

export function decodeMinerInfo (bytes: Uint8Array): MinerInfo {
  let raw: unknown
  try { raw = dagCbor.decode(bytes) } catch (err) { throw new MalformedStateError(`miner info is not DAG-CBOR: ${(err as Error).message}`) }
  const [owner, worker, peerId] = Array.isArray(raw) && raw.length === 3 ? raw as unknown[] : []
  if (!(owner instanceof Uint8Array) || !(worker instanceof Uint8Array) || !(peerId instanceof Uint8Array)) throw new MalformedStateError('miner info is not [Owner, Worker, PeerId]')
  try {
    return { owner: validateAddressBytes(owner), worker: validateAddressBytes(worker), peerId }
  } catch { throw new MalformedStateError('miner info addresses are not addresses') }
}

/** The provider's record, or null when `address` is not a storage provider. */
export function getMinerInfo (store: BlockGetter, stateRoot: CID, address: Uint8Array): MinerInfo | null {
  const actor = getActor(store, stateRoot, address)
  if (actor === null || !actor.code.equals(MINER_ACTOR_CODE)) return null
  return decodeMinerInfo(mustGet(store, actor.head))
}
