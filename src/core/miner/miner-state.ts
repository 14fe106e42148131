// A miner actor's state: the head of Filecoin's miner State (builtin-actors actors/miner/src/state.rs, v18)
// [Info, PreCommitDeposits, LockedFunds, VestingFunds, FeeDebt, InitialPledge], Info linking the MinerInfo
// block as Filecoin's does. Left out, because Coffer has no sectors (deals are proven per piece in the
// market): PreCommittedSectors, PreCommittedSectorsCleanUp, AllocatedSectors, Sectors, ProvingPeriodStart,
// CurrentDeadline, Deadlines, EarlyTerminations and DeadlineCronActive.
// InitialPledge holds the collateral pledged with CreateMiner (the message's value); PreCommitDeposits,
// LockedFunds and FeeDebt stay 0 and VestingFunds null (nothing vests: there are no block rewards yet).
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from '../cid'
import { MalformedStateError } from '../hamt'
import { getActor } from '../state-tree'
import { mustGet, type BlockGetter, type BlockStore } from '../block-store'
import { encodeBigInt } from '../token'
import { bigIntField, MINER_ACTOR_CODE } from '../market/market-state'
import { decodeMinerInfo, encodeMinerInfo, type MinerInfo } from './miner-info'
import type { AttoFil } from '../units'

export { MINER_ACTOR_CODE }

export interface MinerState {
  info: CID
  preCommitDeposits: AttoFil
  lockedFunds: AttoFil
  /** Filecoin's VestingFunds (Option<{head, tail}>): always null here. */
  vestingFunds: null
  feeDebt: AttoFil
  /** The collateral the miner pledged; locked while it has live deals (see miner-actor.ts WithdrawBalance). */
  initialPledge: AttoFil
}

export function encodeMinerState (s: MinerState): Uint8Array {
  const b = encodeBigInt
  return dagCbor.encode([s.info, b(s.preCommitDeposits), b(s.lockedFunds), s.vestingFunds, b(s.feeDebt), b(s.initialPledge)])
}

export function decodeMinerState (bytes: Uint8Array): MinerState {
  let raw: unknown
  try { raw = dagCbor.decode(bytes) } catch (err) { throw new MalformedStateError(`miner state is not DAG-CBOR: ${(err as Error).message}`) }
  if (!Array.isArray(raw) || raw.length !== 6) throw new MalformedStateError('miner state is not [Info, PreCommitDeposits, LockedFunds, VestingFunds, FeeDebt, InitialPledge]')
  const info = CID.asCID(raw[0])
  if (info === null) throw new MalformedStateError('miner state Info is not a link')
  if (raw[3] !== null) throw new MalformedStateError('miner state VestingFunds is not null (nothing vests on Coffer)')
  const amount = (i: number, what: string): AttoFil => {
    const v = bigIntField(raw[i], `miner ${what}`)
    if (v < 0n) throw new MalformedStateError(`miner ${what} is negative`)
    return v
  }
  return { info, preCommitDeposits: amount(1, 'PreCommitDeposits'), lockedFunds: amount(2, 'LockedFunds'), vestingFunds: null, feeDebt: amount(4, 'FeeDebt'), initialPledge: amount(5, 'InitialPledge') }
}

/** Writes a new miner's Info and state blocks; returns the state's CID (the actor's Head). */
export function putMinerState (store: BlockStore, info: MinerInfo, initialPledge: AttoFil): CID {
  const infoCid = store.put(encodeMinerInfo(info))
  return store.put(encodeMinerState({ info: infoCid, preCommitDeposits: 0n, lockedFunds: 0n, vestingFunds: null, feeDebt: 0n, initialPledge }))
}

export const readMinerState = (store: BlockGetter, head: CID): MinerState => decodeMinerState(mustGet(store, head))

/** A miner's state, or null when `address` is not a miner actor. */
export function getMinerState (store: BlockGetter, stateRoot: CID, address: Uint8Array): MinerState | null {
  const actor = getActor(store, stateRoot, address)
  if (actor === null || !actor.code.equals(MINER_ACTOR_CODE)) return null
  return readMinerState(store, actor.head)
}

/** The provider's record, or null when `address` is not a storage provider. */
export function getMinerInfo (store: BlockGetter, stateRoot: CID, address: Uint8Array): MinerInfo | null {
  const state = getMinerState(store, stateRoot, address)
  return state === null ? null : decodeMinerInfo(mustGet(store, state.info))
}
