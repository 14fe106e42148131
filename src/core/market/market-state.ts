// The storage market actor's state, in the layout of Filecoin's market actor State (v8, 11 fields):
// [Proposals, States, PendingProposals, EscrowTable, LockedTable, NextID, DealOpsByEpoch, LastCron,
//  TotalClientLockedCollateral, TotalProviderLockedCollateral, TotalClientStorageFee].
// Where Coffer differs, on purpose:
//  - every deal settles at chain-wide proving-period boundaries, so cron walks the deals at those epochs
//    and DealOpsByEpoch stays an empty map (an index becomes worth it with thousands of deals);
//  - a proposal stays in PendingProposals for good, which is what refuses a second publication of it;
//  - DealState carries Coffer's proof record (see deal-state.ts).
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import { emptyHamt, hamtGet, hamtSet, MalformedStateError } from '../hamt'
import { buildAmt } from '../amt'
import { mustGet, type BlockGetter, type BlockStore } from '../block-store'
import { encodeBigInt, decodeBigInt } from '../token'
import { idAddressBytes } from '../address'
import type { AttoFil, Epoch } from '../units'

export const STORAGE_MARKET_ADDRESS = idAddressBytes(5)
const codeCid = (name: string): CID => CID.createV1(0x55, identity.digest(new TextEncoder().encode(`fil/1/${name}`)))
export const MARKET_ACTOR_CODE = codeCid('storagemarket')
export const MINER_ACTOR_CODE = codeCid('storageminer')

/** Filecoin's BalanceTable bit width; the other market maps use the state tree's 5. */
export const BALANCE_TABLE_BIT_WIDTH = 6

export interface MarketState {
  proposals: CID
  states: CID
  pendingProposals: CID
  escrowTable: CID
  lockedTable: CID
  nextId: number
  dealOpsByEpoch: CID
  lastCron: Epoch
  totalClientLockedCollateral: AttoFil
  totalProviderLockedCollateral: AttoFil
  totalClientStorageFee: AttoFil
}

export function encodeMarketState (s: MarketState): Uint8Array {
  return dagCbor.encode([
    s.proposals, s.states, s.pendingProposals, s.escrowTable, s.lockedTable, s.nextId, s.dealOpsByEpoch, s.lastCron,
    encodeBigInt(s.totalClientLockedCollateral), encodeBigInt(s.totalProviderLockedCollateral), encodeBigInt(s.totalClientStorageFee)
  ])
}

export function decodeMarketState (bytes: Uint8Array): MarketState {
  let raw: unknown
  try { raw = dagCbor.decode(bytes) } catch (err) { throw new MalformedStateError(`market state is not DAG-CBOR: ${(err as Error).message}`) }
  if (!Array.isArray(raw) || raw.length !== 11) throw new MalformedStateError('market state is not an 11-field tuple')
  const cids = raw.slice(0, 5).map(v => CID.asCID(v))
  const ops = CID.asCID(raw[6])
  if (cids.some(c => c === null) || ops === null) throw new MalformedStateError('market state links are not CIDs')
  const [nextId, lastCron] = [raw[5], raw[7]]
  if (!Number.isSafeInteger(nextId) || nextId < 0 || !Number.isSafeInteger(lastCron)) throw new MalformedStateError('market state NextID/LastCron out of range')
  const [a, b, c] = raw.slice(8).map(v => bigIntField(v, 'market total'))
  const [proposals, states, pendingProposals, escrowTable, lockedTable] = cids as CID[]
  return {
    proposals: proposals!, states: states!, pendingProposals: pendingProposals!, escrowTable: escrowTable!, lockedTable: lockedTable!,
    nextId, dealOpsByEpoch: ops, lastCron, totalClientLockedCollateral: a!, totalProviderLockedCollateral: b!, totalClientStorageFee: c!
  }
}

export function bigIntField (v: unknown, what: string): bigint {
  if (!(v instanceof Uint8Array)) throw new MalformedStateError(`${what} is not a big int`)
  try { return decodeBigInt(v) } catch (err) { throw new MalformedStateError(`${what}: ${(err as Error).message}`) }
}

export function emptyMarketState (store: BlockStore): CID {
  const empty = emptyHamt(store)
  const noDeals = buildAmt(store, [])
  return store.put(encodeMarketState({
    proposals: noDeals, states: noDeals, pendingProposals: empty, escrowTable: empty, lockedTable: empty, nextId: 0,
    dealOpsByEpoch: empty, lastCron: -1, totalClientLockedCollateral: 0n, totalProviderLockedCollateral: 0n, totalClientStorageFee: 0n
  }))
}

export const readMarketState = (store: BlockGetter, head: CID): MarketState => decodeMarketState(mustGet(store, head))

/** A BalanceTable entry (escrow or locked): zero when the address has none. */
export function balanceOf (store: BlockGetter, table: CID, address: Uint8Array): AttoFil {
  const raw = hamtGet(store, table, address, BALANCE_TABLE_BIT_WIDTH)
  if (raw === undefined) return 0n
  const v = bigIntField(raw, 'balance table entry')
  if (v < 0n) throw new MalformedStateError('balance table entry is negative')
  return v
}

export function setBalance (store: BlockStore, table: CID, address: Uint8Array, amount: AttoFil): CID {
  if (amount < 0n) throw new RangeError('a balance table entry cannot go negative')
  return hamtSet(store, table, address, encodeBigInt(amount), BALANCE_TABLE_BIT_WIDTH)
}
