// The payment-channel actor's state in Filecoin's layout (builtin-actors actors/paych/src/state.rs):
// State [From, To, ToSend, SettlingAt, MinSettleHeight, LaneStates], LaneStates an AMT (bit width 3, v3
// root) of LaneState [Redeemed, Nonce] indexed by lane. Filecoin stores From/To as ID addresses; Coffer
// keys accounts by key address (see state-tree.ts), so From/To are the f1/f3 addresses the Exec params
// named, which are also the keys that sign vouchers and the accounts Collect pays.
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from '../cid'
import { MalformedStateError } from '../hamt'
import { amtEntries, amtGet, buildSparseAmt } from '../amt'
import { mustGet, type BlockGetter, type BlockStore } from '../block-store'
import { builtinActorCode } from '../state-tree'
import { encodeBigInt, decodeBigInt } from '../token'
import { validateAddressBytes } from '../address'
import type { AttoFil, Epoch } from '../units'

export const PAYCH_ACTOR_CODE = builtinActorCode('paymentchannel')
/** builtin-actors LANE_STATES_AMT_BITWIDTH (the AMT module's only width). */
export const LANE_STATES_AMT_BITWIDTH = 3
/**
 * Most lanes a reader walks in one channel. Lotus's paychmgr opens one lane per retrieval, so a channel
 * has as many lanes as retrievals paid through it; a state-proof answer (4 MiB) holds far more than this.
 */
export const MAX_CHANNEL_LANES = 10_000

export interface LaneState { redeemed: AttoFil, nonce: number }

export interface PaychState {
  from: Uint8Array
  to: Uint8Array
  /** Redeemed so far, paid to To at Collect. */
  toSend: AttoFil
  /** 0 while the channel is open; the epoch from which Collect pays out once Settle ran. */
  settlingAt: Epoch
  /** Highest MinSettleHeight a redeemed voucher asked for: Settle never settles before it. */
  minSettleHeight: Epoch
  laneStates: CID
}

const big = (v: unknown, what: string): bigint => {
  if (!(v instanceof Uint8Array)) throw new MalformedStateError(`${what} is not a big int`)
  try { return decodeBigInt(v) } catch (err) { throw new MalformedStateError(`${what}: ${(err as Error).message}`) }
}
const epoch = (v: unknown, what: string): number => {
  if (!Number.isSafeInteger(v)) throw new MalformedStateError(`${what} is not an epoch`)
  return v as number
}
const address = (v: unknown, what: string): Uint8Array => {
  try { return validateAddressBytes(v as Uint8Array) } catch (err) { throw new MalformedStateError(`${what}: ${(err as Error).message}`) }
}

export function encodePaychState (s: PaychState): Uint8Array {
  return dagCbor.encode([s.from, s.to, encodeBigInt(s.toSend), s.settlingAt, s.minSettleHeight, s.laneStates])
}

export function decodePaychState (bytes: Uint8Array): PaychState {
  let raw: unknown
  try { raw = dagCbor.decode(bytes) } catch (err) { throw new MalformedStateError(`paych state is not DAG-CBOR: ${(err as Error).message}`) }
  if (!Array.isArray(raw) || raw.length !== 6) throw new MalformedStateError('paych state is not [From, To, ToSend, SettlingAt, MinSettleHeight, LaneStates]')
  const lanes = CID.asCID(raw[5])
  if (lanes === null) throw new MalformedStateError('paych LaneStates is not a CID')
  return {
    from: address(raw[0], 'paych From'),
    to: address(raw[1], 'paych To'),
    toSend: big(raw[2], 'paych ToSend'),
    settlingAt: epoch(raw[3], 'paych SettlingAt'),
    minSettleHeight: epoch(raw[4], 'paych MinSettleHeight'),
    laneStates: lanes
  }
}

export const readPaychState = (store: BlockGetter, head: CID): PaychState => decodePaychState(mustGet(store, head))

export const encodeLaneState = (l: LaneState): unknown[] => [encodeBigInt(l.redeemed), l.nonce]

export function decodeLaneState (raw: unknown): LaneState {
  if (!Array.isArray(raw) || raw.length !== 2) throw new MalformedStateError('lane state is not [Redeemed, Nonce]')
  if (!Number.isSafeInteger(raw[1]) || raw[1] < 0) throw new MalformedStateError('lane Nonce is not an unsigned integer')
  return { redeemed: big(raw[0], 'lane Redeemed'), nonce: raw[1] }
}

/** Every lane of a channel, by lane number. */
export function readLanes (store: BlockGetter, laneStates: CID, limit = MAX_CHANNEL_LANES): Map<number, LaneState> {
  return new Map(amtEntries(store, laneStates, 'v3', limit).map(([lane, raw]) => [lane, decodeLaneState(raw)]))
}

/** One lane's state, or undefined when the lane has never been used. */
export function readLane (store: BlockGetter, laneStates: CID, lane: number): LaneState | undefined {
  const raw = amtGet(store, laneStates, lane)
  return raw === undefined ? undefined : decodeLaneState(raw)
}

/** The LaneStates AMT holding `lanes`. */
export function writeLanes (store: BlockStore, lanes: ReadonlyMap<number, LaneState>): CID {
  return buildSparseAmt(store, [...lanes].map(([lane, l]) => [lane, encodeLaneState(l)] as const))
}
