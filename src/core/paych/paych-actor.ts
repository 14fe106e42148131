// The payment-channel actor's methods, check by check in builtin-actors' order (actors/paych/src/lib.rs),
// with its exit codes: Constructor 1 (from the init actor only), UpdateChannelState 2, Settle 3, Collect 4.
// A failing check throws ActorError; the message then changes nothing but its sender's nonce and gas.
import * as dagCbor from '@ipld/dag-cbor'
import { blake2b } from '@noble/hashes/blake2.js'
import type { CID } from '../cid'
import { getActor, setActor, deleteActor, type Actor } from '../state-tree'
import { bytesEqual, isKeyAddress, validateAddressBytes } from '../address'
import { ActorError, ActorExit } from '../actors/actor-error'
import { INIT_ACTOR_ADDRESS, resolveAddress } from '../init/init-state'
import { buildSparseAmt } from '../amt'
import {
  PAYCH_ACTOR_CODE, encodePaychState, readPaychState, readLanes, writeLanes, MAX_CHANNEL_LANES, type PaychState
} from './paych-state'
import { signedVoucherFromTuple, verifyVoucherSignature, MalformedVoucherError, type SignedVoucher } from './voucher'
import type { ActorRuntime } from '../actors/runtime'
import type { InvokeResult } from '../actors/actor-error'
import { METHOD_SEND } from '../message'

export const PaychMethod = { Constructor: 1, UpdateChannelState: 2, Settle: 3, Collect: 4 } as const

/** builtin-actors ERR_CHANNEL_STATE_UPDATE_AFTER_SETTLED: a voucher submitted once the channel has settled. */
export const ERR_CHANNEL_STATE_UPDATE_AFTER_SETTLED = 32
/** builtin-actors MAX_SECRET_SIZE. */
export const MAX_SECRET_SIZE = 256

const fail = (code: number, message: string): never => { throw new ActorError(code, message) }
const NO_RETURN = new Uint8Array(0)

function decodeParams (params: Uint8Array): unknown {
  // builtin-actors' dispatch: a method with params gets none → "method expects arguments"
  if (params.length === 0) return fail(ActorExit.ErrIllegalArgument, 'method expects arguments')
  try { return dagCbor.decode(params) } catch (err) { return fail(ActorExit.ErrSerialization, `params are not DAG-CBOR: ${(err as Error).message}`) }
}

function noParams (params: Uint8Array): void {
  if (params.length !== 0) fail(ActorExit.ErrIllegalArgument, 'method expects no arguments')
}

/** The running channel and its state. */
function load (rt: ActorRuntime, root: CID): { actor: Actor, state: PaychState } {
  const actor = getActor(rt.store, root, rt.receiver)
  if (actor === null || !actor.code.equals(PAYCH_ACTOR_CODE)) return fail(ActorExit.ErrIllegalState, 'the receiver is not a payment channel')
  return { actor, state: readPaychState(rt.store, actor.head) }
}

const save = (rt: ActorRuntime, root: CID, actor: Actor, state: PaychState): CID =>
  setActor(rt.store, root, rt.receiver, { ...actor, head: rt.store.put(encodePaychState(state)) })

/** validate_immediate_caller_is([From, To]) */
function callerIsParty (rt: ActorRuntime, s: PaychState): void {
  if (!bytesEqual(rt.caller, s.from) && !bytesEqual(rt.caller, s.to)) fail(ActorExit.ErrForbidden, 'only the channel\'s From or To may call it')
}

/** Constructor([From, To]): only the init actor creates a channel (it does so in Exec). */
export function paychConstructor (rt: ActorRuntime, root: CID, params: Uint8Array): InvokeResult {
  if (!bytesEqual(rt.caller, INIT_ACTOR_ADDRESS)) fail(ActorExit.ErrForbidden, 'only the init actor constructs payment channels')
  const raw = decodeParams(params)
  if (!Array.isArray(raw) || raw.length !== 2 || !(raw[0] instanceof Uint8Array) || !(raw[1] instanceof Uint8Array)) return fail(ActorExit.ErrSerialization, 'params are not [From, To]')
  const party = (a: Uint8Array, what: string): Uint8Array => {
    try { validateAddressBytes(a) } catch (err) { return fail(ActorExit.ErrIllegalArgument, `${what}: ${(err as Error).message}`) }
    // builtin-actors resolves both to IDs and checks they can sign; Coffer's accounts are their key
    // addresses, and vouchers are checked by signature against one, so both must be f1 or f3
    if (!isKeyAddress(a)) fail(ActorExit.ErrIllegalArgument, `${what} must be a key address (f1 or f3) that can sign vouchers`)
    return a
  }
  const state: PaychState = {
    from: party(raw[0], 'From'), to: party(raw[1], 'To'), toSend: 0n, settlingAt: 0, minSettleHeight: 0, laneStates: buildSparseAmt(rt.store, [])
  }
  const actor = getActor(rt.store, root, rt.receiver) ?? fail(ActorExit.ErrIllegalState, 'the channel being constructed does not exist')
  return { root: save(rt, root, actor, state), return: NO_RETURN }
}

/** UpdateChannelStateParams [Sv, Secret] */
export function decodeUpdateChannelStateParams (raw: unknown): { sv: SignedVoucher, secret: Uint8Array } {
  if (!Array.isArray(raw) || raw.length !== 2 || !(raw[1] instanceof Uint8Array)) return fail(ActorExit.ErrSerialization, 'params are not [SignedVoucher, Secret]')
  try {
    return { sv: signedVoucherFromTuple(raw[0]), secret: raw[1] }
  } catch (err) {
    if (!(err instanceof MalformedVoucherError)) throw err
    // a lane or nonce past 2^53 − 1 is refused as builtin-actors refuses a lane past 2^63 − 1 (find_lane)
    return fail(err.code === 'RANGE' ? ActorExit.ErrIllegalArgument : ActorExit.ErrSerialization, err.message)
  }
}

export function paychUpdateChannelState (rt: ActorRuntime, root: CID, params: Uint8Array): InvokeResult {
  const { sv, secret } = decodeUpdateChannelStateParams(decodeParams(params))
  const { actor, state: st } = load(rt, root)
  callerIsParty(rt, st)
  const signer = bytesEqual(rt.caller, st.from) ? st.to : st.from

  if (sv.signature === null) fail(ActorExit.ErrIllegalArgument, 'voucher has no signature')
  if (st.settlingAt !== 0 && rt.epoch >= st.settlingAt) fail(ERR_CHANNEL_STATE_UPDATE_AFTER_SETTLED, 'no vouchers can be processed after settling at epoch')
  if (secret.length > MAX_SECRET_SIZE) fail(ActorExit.ErrIllegalArgument, `secret must be at most ${MAX_SECRET_SIZE} bytes long`)
  if (!verifyVoucherSignature(sv, signer)) fail(ActorExit.ErrIllegalArgument, 'voucher sig authentication failed')

  const channel = resolveAddress(rt.store, root, sv.channelAddr)
  if (channel === null) fail(ActorExit.ErrIllegalArgument, 'voucher payment channel address does not resolve to an ID address')
  if (!bytesEqual(channel!, rt.receiver)) fail(ActorExit.ErrIllegalArgument, 'voucher payment channel address does not match receiver')

  if (rt.epoch < sv.timeLockMin) fail(ActorExit.ErrIllegalArgument, 'cannot use this voucher yet')
  if (sv.timeLockMax !== 0 && rt.epoch > sv.timeLockMax) fail(ActorExit.ErrIllegalArgument, 'this voucher has expired')
  if (sv.amount < 0n) fail(ActorExit.ErrIllegalArgument, `voucher amount must be non-negative, was ${sv.amount}`)
  if (sv.secretHash.length > 0) {
    const hashed = blake2b(secret, { dkLen: 32 })
    if (!bytesEqual(hashed, sv.secretHash)) fail(ActorExit.ErrIllegalArgument, 'incorrect secret')
  }
  // Filecoin sends Extra's method to Extra's actor and redeems only if it succeeds; Coffer has no actor
  // such a check could name yet, so a voucher that asks for one cannot be honoured and is refused
  if (sv.extra !== null) fail(ActorExit.ErrIllegalArgument, 'voucher Extra (spend verification) is not supported: Coffer has no actor to verify it')

  // the lanes the voucher touches, read once and written back together (a rebuilt AMT is canonical)
  const lanes = readLanes(rt.store, st.laneStates, MAX_CHANNEL_LANES)
  const existing = lanes.get(sv.lane)
  if (existing !== undefined && existing.nonce >= sv.nonce) {
    fail(ActorExit.ErrIllegalArgument, `voucher has an outdated nonce, existing: ${existing.nonce}, voucher: ${sv.nonce}, cannot redeem`)
  }
  if (existing === undefined && lanes.size >= MAX_CHANNEL_LANES) fail(ActorExit.ErrIllegalArgument, `a channel has at most ${MAX_CHANNEL_LANES} lanes here`)
  let redeemedFromOthers = 0n
  for (const merge of sv.merges) {
    if (merge.lane === sv.lane) fail(ActorExit.ErrIllegalArgument, 'voucher cannot merge lanes into it\'s own lane')
    const other = lanes.get(merge.lane) ?? fail(ActorExit.ErrIllegalArgument, `voucher specifies invalid merge lane ${merge.lane}`)
    if (other.nonce >= merge.nonce) fail(ActorExit.ErrIllegalArgument, 'merged lane in voucher has outdated nonce, cannot redeem')
    redeemedFromOthers += other.redeemed
    lanes.set(merge.lane, { ...other, nonce: merge.nonce })
  }
  const lane = existing ?? { redeemed: 0n, nonce: 0 }
  const balanceDelta = sv.amount - (redeemedFromOthers + lane.redeemed)
  const newSendBalance = balanceDelta + st.toSend
  if (newSendBalance < 0n) fail(ActorExit.ErrIllegalArgument, 'voucher would leave channel balance negative')
  if (newSendBalance > actor.balance) fail(ActorExit.ErrIllegalArgument, 'not enough funds in channel to cover voucher')

  const next: PaychState = { ...st, toSend: newSendBalance }
  if (sv.minSettleHeight !== 0) {
    if (next.settlingAt !== 0 && next.settlingAt < sv.minSettleHeight) next.settlingAt = sv.minSettleHeight
    if (next.minSettleHeight < sv.minSettleHeight) next.minSettleHeight = sv.minSettleHeight
  }
  lanes.set(sv.lane, { redeemed: sv.amount, nonce: sv.nonce })
  next.laneStates = writeLanes(rt.store, lanes)
  return { root: save(rt, root, actor, next), return: NO_RETURN }
}

export function paychSettle (rt: ActorRuntime, root: CID, params: Uint8Array): InvokeResult {
  noParams(params)
  const { actor, state: st } = load(rt, root)
  callerIsParty(rt, st)
  if (st.settlingAt !== 0) fail(ActorExit.ErrIllegalState, 'channel already settling')
  let settlingAt = rt.epoch + rt.paych.settleDelay
  if (settlingAt < st.minSettleHeight) settlingAt = st.minSettleHeight
  return { root: save(rt, root, actor, { ...st, settlingAt }), return: NO_RETURN }
}

export function paychCollect (rt: ActorRuntime, root: CID, params: Uint8Array): InvokeResult {
  noParams(params)
  const { state: st } = load(rt, root)
  callerIsParty(rt, st)
  if (st.settlingAt === 0 || rt.epoch < st.settlingAt) fail(ActorExit.ErrForbidden, 'payment channel not settling or settled')
  // ToSend to To, then whatever is left (its balance) back to From, then the actor is gone
  root = rt.send(root, st.to, METHOD_SEND, NO_RETURN, st.toSend).root
  const rest = getActor(rt.store, root, rt.receiver)!.balance
  root = rt.send(root, st.from, METHOD_SEND, NO_RETURN, rest).root
  return { root: deleteActor(rt.store, root, rt.receiver), return: NO_RETURN }
}
