// The miner actor's methods Coffer runs, check by check in builtin-actors' order (actors/miner/src/lib.rs):
// Constructor (1, from the init actor only, on the power actor's CreateMiner), ControlAddresses (2),
// ChangePeerID (4), WithdrawBalance (16), ChangeMultiaddrs (18). Where Coffer adds a rule Filecoin lacks,
// it says so: a peer ID one miner holds is refused to every other (clients trust an ask only from the
// peer a miner's record names, so two miners must not share one), and the pledge stays locked while the
// market holds a live deal of the miner's (Filecoin locks pledge per sector; Coffer has deals, not sectors).
import * as dagCbor from '@ipld/dag-cbor'
import type { CID } from '../cid'
import { getActor, setActor, ACCOUNT_ACTOR_CODE, type Actor } from '../state-tree'
import { bytesEqual, isKeyAddress, validateAddressBytes, addressToString, Protocol } from '../address'
import { encodeBigInt, decodeBigInt } from '../token'
import { mustGet, type BlockGetter } from '../block-store'
import { amtValues } from '../amt'
import { ActorError, ActorExit, type InvokeResult } from '../actors/actor-error'
import { INIT_ACTOR_ADDRESS, resolveAddress } from '../init/init-state'
import { METHOD_SEND } from '../message'
import { STORAGE_MARKET_ADDRESS, readMarketState } from '../market/market-state'
import { dealProposalFromTuple } from '../market/deal-proposal'
import { decodeDealState } from '../market/deal-state'
import { POWER_ACTOR_ADDRESS, listMiners } from '../power/power-state'
import { PowerMethod, MIN_MINER_PLEDGE } from '../power/power-params'
import { newMinerInfo, postProofInfo, encodeMinerInfo, decodeMinerInfo, type MinerInfo } from './miner-info'
import { MINER_ACTOR_CODE, putMinerState, readMinerState, encodeMinerState, getMinerInfo, type MinerState } from './miner-state'
import { MAX_PEER_ID_LENGTH, MAX_MULTIADDR_DATA, MAX_CONTROL_ADDRESSES, MinerExit, type MinerConstructorParams } from './miner-params'
import type { ActorRuntime } from '../actors/runtime'
import type { AttoFil, Epoch } from '../units'

const fail = (code: number, message: string): never => { throw new ActorError(code, message) }
const NO_RETURN = new Uint8Array(0)

function decodeParams (params: Uint8Array): unknown {
  // builtin-actors' dispatch: a method with params gets none → "method expects arguments"
  if (params.length === 0) return fail(ActorExit.ErrIllegalArgument, 'method expects arguments')
  try { return dagCbor.decode(params) } catch (err) { return fail(ActorExit.ErrSerialization, `params are not DAG-CBOR: ${(err as Error).message}`) }
}

function bytesList (v: unknown, what: string): Uint8Array[] {
  if (!Array.isArray(v) || !v.every(b => b instanceof Uint8Array)) return fail(ActorExit.ErrSerialization, `${what} is not a list of byte strings`)
  return v as Uint8Array[]
}

function addressField (v: unknown, what: string): Uint8Array {
  if (!(v instanceof Uint8Array)) return fail(ActorExit.ErrSerialization, `${what} is not an address`)
  try { return validateAddressBytes(v) } catch (err) { return fail(ActorExit.ErrSerialization, `${what}: ${(err as Error).message}`) }
}

/** builtin-actors check_peer_info: the peer ID at most MAX_PEER_ID_LENGTH bytes, no empty multiaddr, all of them at most MAX_MULTIADDR_DATA. */
export function checkPeerInfo (peerId: Uint8Array, multiaddrs: Uint8Array[]): void {
  if (peerId.length > MAX_PEER_ID_LENGTH) fail(ActorExit.ErrIllegalArgument, `peer ID size of ${peerId.length} exceeds maximum size of ${MAX_PEER_ID_LENGTH}`)
  let total = 0
  for (const ma of multiaddrs) {
    if (ma.length === 0) fail(ActorExit.ErrIllegalArgument, 'invalid empty multiaddr')
    total += ma.length
  }
  if (total > MAX_MULTIADDR_DATA) fail(ActorExit.ErrIllegalArgument, `multiaddr size of ${total} exceeds maximum of ${MAX_MULTIADDR_DATA}`)
}

/**
 * The miner (ID address) whose record holds `peerId`, other than `except`; null when none does. An empty peer
 * ID is no one's. Every claim is walked, however many: MAX_LISTED_MINERS caps what is served to light
 * clients, and a chain rule bounded by it would fail every CreateMiner past that many miners.
 */
export function minerHoldingPeerId (store: BlockGetter, root: CID, peerId: Uint8Array, except?: Uint8Array): Uint8Array | null {
  if (peerId.length === 0) return null
  for (const miner of listMiners(store, root, Infinity)) {
    if (except !== undefined && bytesEqual(miner, except)) continue
    const info = getMinerInfo(store, root, miner)
    if (info !== null && bytesEqual(info.peerId, peerId)) return miner
  }
  return null
}

function refuseTakenPeerId (rt: ActorRuntime, root: CID, peerId: Uint8Array): void {
  const holder = minerHoldingPeerId(rt.store, root, peerId, rt.receiver)
  if (holder !== null) fail(MinerExit.ErrPeerIdTaken, `peer ID is already registered to miner ${addressToString(holder)}`)
}

/**
 * builtin-actors resolves the owner to an ID and requires the worker to be an account (with a BLS key).
 * Coffer keys accounts by their key address, so both must be key addresses (an f2 is first resolved, and
 * then is never one) whose account exists on chain. A secp worker is allowed: Coffer's workers sign
 * messages and asks with secp256k1 and do no BLS-VRF until elections (issue 13).
 */
function resolveAccount (rt: ActorRuntime, root: CID, raw: Uint8Array, what: string): Uint8Array {
  const resolved = resolveAddress(rt.store, root, raw) ?? fail(ActorExit.ErrIllegalArgument, `unable to resolve ${what} address ${addressToString(raw)}`)
  if (!isKeyAddress(resolved)) fail(ActorExit.ErrIllegalArgument, `${what} ${addressToString(raw)} is not a key address (f1 or f3)`)
  const actor = getActor(rt.store, root, resolved)
  if (actor === null) fail(ActorExit.ErrIllegalArgument, `unable to resolve ${what} address ${addressToString(raw)}: no such account`)
  if (!actor!.code.equals(ACCOUNT_ACTOR_CODE)) fail(ActorExit.ErrIllegalArgument, `${what} actor type must be an account`)
  return resolved
}

function decodeConstructorParams (params: Uint8Array): MinerConstructorParams {
  const raw = decodeParams(params)
  if (!Array.isArray(raw) || raw.length !== 6) return fail(ActorExit.ErrSerialization, 'params are not [Owner, Worker, ControlAddresses, WindowPoStProofType, PeerId, Multiaddrs]')
  const [owner, worker, controls, proof, peerId, multiaddrs] = raw as unknown[]
  if (typeof proof !== 'number' || !Number.isSafeInteger(proof) || proof < 0) return fail(ActorExit.ErrSerialization, 'WindowPoStProofType is not an integer')
  if (!(peerId instanceof Uint8Array)) return fail(ActorExit.ErrSerialization, 'PeerId is not bytes')
  return {
    owner: addressField(owner, 'Owner'),
    worker: addressField(worker, 'Worker'),
    controlAddresses: bytesList(controls, 'ControlAddresses').map((c, i) => addressField(c, `ControlAddresses[${i}]`)),
    windowPoStProofType: proof,
    peerId,
    multiaddrs: bytesList(multiaddrs, 'Multiaddrs')
  }
}

/** Constructor(MinerConstructorParams): only the init actor runs it (in Exec, for the power actor). */
export function minerConstructor (rt: ActorRuntime, root: CID, params: Uint8Array): InvokeResult {
  if (!bytesEqual(rt.caller, INIT_ACTOR_ADDRESS)) fail(ActorExit.ErrForbidden, 'only the init actor constructs miners')
  const p = decodeConstructorParams(params)
  if (p.controlAddresses.length > MAX_CONTROL_ADDRESSES) fail(ActorExit.ErrIllegalArgument, `control addresses length ${p.controlAddresses.length} exceeds max control addresses length ${MAX_CONTROL_ADDRESSES}`)
  checkPeerInfo(p.peerId, p.multiaddrs)
  if (postProofInfo(p.windowPoStProofType) === undefined) fail(ActorExit.ErrIllegalArgument, `proof type ${p.windowPoStProofType} not allowed for new miner actors`)
  const actor = getActor(rt.store, root, rt.receiver) ?? fail(ActorExit.ErrIllegalState, 'the miner being constructed does not exist')
  // Filecoin's create-miner deposit check, with Coffer's fixed pledge in place of the computed deposit
  if (actor.balance < MIN_MINER_PLEDGE) fail(MinerExit.ErrPledgeTooLow, `not enough balance to lock for create miner pledge: sent balance ${actor.balance} < pledge ${MIN_MINER_PLEDGE} attoFIL`)
  const owner = resolveAccount(rt, root, p.owner, 'owner')
  const worker = resolveAccount(rt, root, p.worker, 'worker')
  // builtin-actors resolve_worker_address: a worker signs blocks, election proofs and tickets, all BLS
  if (worker[0] !== Protocol.BLS) fail(ActorExit.ErrIllegalArgument, `${addressToString(worker)} is not a BLS key`)
  const controlAddresses = p.controlAddresses.map(c => resolveAccount(rt, root, c, 'control'))
  refuseTakenPeerId(rt, root, p.peerId)
  const info = newMinerInfo({ owner, worker, controlAddresses, peerId: p.peerId, multiaddrs: p.multiaddrs, windowPoStProofType: p.windowPoStProofType })
  return { root: setActor(rt.store, root, rt.receiver, { ...actor, head: putMinerState(rt.store, info, actor.balance) }), return: NO_RETURN }
}

/** The running miner, its state and info. */
function load (rt: ActorRuntime, root: CID): { actor: Actor, state: MinerState, info: MinerInfo } {
  const actor = getActor(rt.store, root, rt.receiver)
  if (actor === null || !actor.code.equals(MINER_ACTOR_CODE)) return fail(ActorExit.ErrIllegalState, 'the receiver is not a miner')
  const state = readMinerState(rt.store, actor.head)
  return { actor, state, info: decodeMinerInfo(mustGet(rt.store, state.info)) }
}

function saveInfo (rt: ActorRuntime, root: CID, m: { actor: Actor, state: MinerState }, info: MinerInfo): CID {
  const state: MinerState = { ...m.state, info: rt.store.put(encodeMinerInfo(info)) }
  return setActor(rt.store, root, rt.receiver, { ...m.actor, head: rt.store.put(encodeMinerState(state)) })
}

/** validate_immediate_caller_is(control addresses ∪ [worker, owner]) */
function callerIsControl (rt: ActorRuntime, info: MinerInfo): void {
  const allowed = [...info.controlAddresses, info.worker, info.owner]
  if (!allowed.some(a => bytesEqual(a, rt.caller))) fail(ActorExit.ErrForbidden, `caller ${addressToString(rt.caller)} is not the miner's owner, worker or a control address`)
}

/** ControlAddresses(): [Owner, Worker, ControlAddresses] (GetControlAddressesReturn), to anyone. */
export function minerControlAddresses (rt: ActorRuntime, root: CID, params: Uint8Array): InvokeResult {
  if (params.length !== 0) fail(ActorExit.ErrIllegalArgument, 'method expects no arguments')
  const { info } = load(rt, root)
  return { root, return: dagCbor.encode([info.owner, info.worker, info.controlAddresses]) }
}

/** ChangePeerID([NewID]) by the owner, worker or a control address; a peer ID another miner holds is refused (Coffer's rule). */
export function minerChangePeerId (rt: ActorRuntime, root: CID, params: Uint8Array): InvokeResult {
  const raw = decodeParams(params)
  if (!Array.isArray(raw) || raw.length !== 1 || !(raw[0] instanceof Uint8Array)) return fail(ActorExit.ErrSerialization, 'params are not [NewID]')
  const peerId = raw[0]
  checkPeerInfo(peerId, [])
  const m = load(rt, root)
  callerIsControl(rt, m.info)
  refuseTakenPeerId(rt, root, peerId)
  return { root: saveInfo(rt, root, m, { ...m.info, peerId }), return: NO_RETURN }
}

/** ChangeMultiaddrs([NewMultiaddrs]) by the owner, worker or a control address. */
export function minerChangeMultiaddrs (rt: ActorRuntime, root: CID, params: Uint8Array): InvokeResult {
  const raw = decodeParams(params)
  if (!Array.isArray(raw) || raw.length !== 1) return fail(ActorExit.ErrSerialization, 'params are not [NewMultiaddrs]')
  const multiaddrs = bytesList(raw[0], 'NewMultiaddrs')
  checkPeerInfo(new Uint8Array(0), multiaddrs)
  const m = load(rt, root)
  callerIsControl(rt, m.info)
  return { root: saveInfo(rt, root, m, { ...m.info, multiaddrs }), return: NO_RETURN }
}

/**
 * Whether the market holds a deal of `miner`'s that is still live at `epoch`: published, neither slashed
 * nor settled at its end (the market's cron settles a deal at its EndEpoch; until then its proofs and
 * penalties still run). Such a deal locks the miner's pledge.
 */
export function hasLiveDeals (store: BlockGetter, root: CID, miner: Uint8Array, epoch: Epoch): boolean {
  const market = getActor(store, root, STORAGE_MARKET_ADDRESS)
  if (market === null) return false
  const st = readMarketState(store, market.head)
  const proposals = amtValues(store, st.proposals, 'v3', Infinity)
  const states = amtValues(store, st.states, 'v3', Infinity)
  return proposals.some((raw, id) => {
    const p = dealProposalFromTuple(raw)
    if (!bytesEqual(p.provider, miner)) return false
    const s = decodeDealState(states[id])
    return s.slashEpoch < 0 && s.lastUpdatedEpoch < p.endEpoch && epoch <= p.endEpoch
  })
}

/**
 * WithdrawBalance([AmountRequested]) by the owner (the beneficiary is always the owner here): sends
 * min(requested, available) to the owner and returns it. Available is the balance less the pledge while
 * the miner has live deals, the whole balance otherwise; pledge withdrawn is taken off InitialPledge and
 * the power actor's TotalPledgeCollateral (builtin-actors notify_pledge_changed).
 */
export function minerWithdrawBalance (rt: ActorRuntime, root: CID, params: Uint8Array): InvokeResult {
  const raw = decodeParams(params)
  if (!Array.isArray(raw) || raw.length !== 1 || !(raw[0] instanceof Uint8Array)) return fail(ActorExit.ErrSerialization, 'params are not [AmountRequested]')
  let requested: AttoFil
  try { requested = decodeBigInt(raw[0]) } catch (err) { return fail(ActorExit.ErrSerialization, `AmountRequested: ${(err as Error).message}`) }
  if (requested < 0n) fail(ActorExit.ErrIllegalArgument, `negative fund requested for withdrawal: ${requested}`)
  const m = load(rt, root)
  if (!bytesEqual(rt.caller, m.info.owner) && !bytesEqual(rt.caller, m.info.beneficiary)) fail(ActorExit.ErrForbidden, 'only the miner\'s owner may withdraw its balance')
  const locked = hasLiveDeals(rt.store, root, rt.receiver, rt.epoch) ? m.state.initialPledge : 0n
  const available = m.actor.balance - locked
  const amount = requested < available ? requested : available
  if (amount < 0n) fail(ActorExit.ErrIllegalState, `negative amount to withdraw: ${amount}`)
  // what is taken beyond the unpledged balance comes out of the pledge
  const unpledged = m.actor.balance - m.state.initialPledge
  const pledgeReleased = amount > unpledged ? amount - unpledged : 0n
  if (pledgeReleased > 0n) {
    const state: MinerState = { ...m.state, initialPledge: m.state.initialPledge - pledgeReleased }
    root = setActor(rt.store, root, rt.receiver, { ...m.actor, head: rt.store.put(encodeMinerState(state)) })
  }
  if (amount > 0n) root = rt.send(root, m.info.beneficiary, METHOD_SEND, NO_RETURN, amount).root
  if (pledgeReleased > 0n) root = rt.send(root, POWER_ACTOR_ADDRESS, PowerMethod.UpdatePledgeTotal, dagCbor.encode(encodeBigInt(-pledgeReleased)), 0n).root
  return { root, return: dagCbor.encode(encodeBigInt(amount)) }
}
