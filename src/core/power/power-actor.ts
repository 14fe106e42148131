// The storage power actor's methods Coffer runs (builtin-actors actors/power/src/lib.rs): CreateMiner (2),
// which has the init actor Exec a new miner with the message's value as its pledge and records the
// miner's claim, UpdateClaimedPower (3), by which a miner changes its claim, and UpdatePledgeTotal (6), by
// which a miner reports pledge it released.
import * as dagCbor from '@ipld/dag-cbor'
import type { CID } from '../cid'
import { getActor, setActor } from '../state-tree'
import { isKeyAddress, validateAddressBytes } from '../address'
import { decodeBigInt } from '../token'
import { hamtGet } from '../hamt'
import { ActorError, ActorExit, type InvokeResult } from '../actors/actor-error'
import { INIT_ACTOR_ADDRESS } from '../init/init-state'
import { InitMethod, encodeExecParams, decodeExecReturn } from '../init/init-actor'
import { MINER_ACTOR_CODE } from '../market/market-state'
import { encodeMinerConstructorParams } from '../miner/miner-params'
import { POWER_ACTOR_ADDRESS, POWER_ACTOR_CODE, encodePowerState, readPowerState, setClaim, type PowerState } from './power-state'
import { addToClaim } from './power-claims'
import { encodeCreateMinerReturn, type CreateMinerParams, type UpdateClaimedPowerParams } from './power-params'
import type { ActorRuntime } from '../actors/runtime'

const fail = (code: number, message: string): never => { throw new ActorError(code, message) }

function decodeParams (params: Uint8Array): unknown {
  if (params.length === 0) return fail(ActorExit.ErrIllegalArgument, 'method expects arguments')
  try { return dagCbor.decode(params) } catch (err) { return fail(ActorExit.ErrSerialization, `params are not DAG-CBOR: ${(err as Error).message}`) }
}

function decodeCreateMinerParams (params: Uint8Array): CreateMinerParams {
  const raw = decodeParams(params)
  if (!Array.isArray(raw) || raw.length !== 5) return fail(ActorExit.ErrSerialization, 'params are not [Owner, Worker, WindowPoStProofType, Peer, Multiaddrs]')
  const [owner, worker, proof, peer, multiaddrs] = raw as unknown[]
  const address = (v: unknown, what: string): Uint8Array => {
    if (!(v instanceof Uint8Array)) return fail(ActorExit.ErrSerialization, `${what} is not an address`)
    try { return validateAddressBytes(v) } catch (err) { return fail(ActorExit.ErrSerialization, `${what}: ${(err as Error).message}`) }
  }
  if (typeof proof !== 'number' || !Number.isSafeInteger(proof) || proof < 0) return fail(ActorExit.ErrSerialization, 'WindowPoStProofType is not an integer')
  if (!(peer instanceof Uint8Array)) return fail(ActorExit.ErrSerialization, 'Peer is not bytes')
  if (!Array.isArray(multiaddrs) || !multiaddrs.every(m => m instanceof Uint8Array)) return fail(ActorExit.ErrSerialization, 'Multiaddrs is not a list of byte strings')
  return { owner: address(owner, 'Owner'), worker: address(worker, 'Worker'), windowPoStProofType: proof, peer, multiaddrs }
}

function loadPower (rt: ActorRuntime, root: CID): { actor: NonNullable<ReturnType<typeof getActor>>, state: PowerState } {
  const actor = getActor(rt.store, root, POWER_ACTOR_ADDRESS)
  if (actor === null || !actor.code.equals(POWER_ACTOR_CODE)) return fail(ActorExit.ErrIllegalState, 'this chain has no storage power actor')
  return { actor, state: readPowerState(rt.store, actor.head) }
}

/**
 * CreateMiner(CreateMinerParams) → [IDAddress, RobustAddress]. Only a key address may call
 * (CALLER_TYPES_SIGNABLE). The miner's own checks (pledge, owner and worker, peer ID, sizes) run in its
 * constructor, as in Filecoin; the claim is then recorded with zero power (deals proven later bring it).
 * Coffer also adds the pledge to TotalPledgeCollateral here: Filecoin's deposit vests instead, Coffer's
 * pledge is the miner's InitialPledge, whose changes the power actor totals.
 */
export function powerCreateMiner (rt: ActorRuntime, root: CID, params: Uint8Array): InvokeResult {
  if (!isKeyAddress(rt.caller)) fail(ActorExit.ErrForbidden, 'CreateMiner must be called from an account (a key address)')
  const p = decodeCreateMinerParams(params)
  const constructorParams = encodeMinerConstructorParams({
    owner: p.owner, worker: p.worker, controlAddresses: [], windowPoStProofType: p.windowPoStProofType, peerId: p.peer, multiaddrs: p.multiaddrs
  })
  const exec = rt.send(root, INIT_ACTOR_ADDRESS, InitMethod.Exec, encodeExecParams({ code: MINER_ACTOR_CODE, constructorParams }), rt.valueReceived)
  root = exec.root
  const created = decodeExecReturn(exec.return)
  const power = loadPower(rt, root)
  let state = setClaim(rt.store, power.state, created.idAddress, { windowPoStProofType: p.windowPoStProofType, rawBytePower: 0n, qualityAdjPower: 0n })
  // update_stats_for_new_miner: the consensus minimum is positive for every proof type, so MinerAboveMinPowerCount stays
  state = { ...state, minerCount: state.minerCount + 1, totalPledgeCollateral: state.totalPledgeCollateral + rt.valueReceived }
  root = setActor(rt.store, root, POWER_ACTOR_ADDRESS, { ...power.actor, head: rt.store.put(encodePowerState(state)) })
  return { root, return: encodeCreateMinerReturn(created) }
}

function decodeUpdateClaimedPowerParams (params: Uint8Array): UpdateClaimedPowerParams {
  const raw = decodeParams(params)
  if (!Array.isArray(raw) || raw.length !== 2 || !(raw[0] instanceof Uint8Array) || !(raw[1] instanceof Uint8Array)) {
    return fail(ActorExit.ErrSerialization, 'params are not [RawByteDelta, QualityAdjustedDelta]')
  }
  try {
    return { rawByteDelta: decodeBigInt(raw[0]), qualityAdjustedDelta: decodeBigInt(raw[1]) }
  } catch (err) { return fail(ActorExit.ErrSerialization, `power delta: ${(err as Error).message}`) }
}

/**
 * UpdateClaimedPower([RawByteDelta, QualityAdjustedDelta]): from a miner actor only (validate_immediate_caller_type
 * Miner); its claim changes by the deltas as state.rs add_to_claim says (not_found without a claim). Filecoin's
 * miners call it as sectors gain, fault and recover power. Coffer's miner actor has no sectors and never sends
 * it: Coffer's power comes from deals, settled by the market's cron, which applies the same add_to_claim
 * directly (updateClaimedPowers) instead of a send from each miner. In the dispatch table all the same, so a
 * message that calls it is answered as builtin-actors answers it.
 */
export function powerUpdateClaimedPower (rt: ActorRuntime, root: CID, params: Uint8Array): InvokeResult {
  const caller = getActor(rt.store, root, rt.caller)
  if (caller === null || !caller.code.equals(MINER_ACTOR_CODE)) fail(ActorExit.ErrForbidden, 'only a miner may update its claimed power')
  const p = decodeUpdateClaimedPowerParams(params)
  const power = loadPower(rt, root)
  const state = addToClaim(rt.store, power.state, rt.caller, p.rawByteDelta, p.qualityAdjustedDelta)
  return { root: setActor(rt.store, root, POWER_ACTOR_ADDRESS, { ...power.actor, head: rt.store.put(encodePowerState(state)) }), return: new Uint8Array(0) }
}

/** UpdatePledgeTotal(delta): from a miner with a claim only (validate_immediate_caller_type Miner + validate_miner_has_claim). */
export function powerUpdatePledgeTotal (rt: ActorRuntime, root: CID, params: Uint8Array): InvokeResult {
  const caller = getActor(rt.store, root, rt.caller)
  if (caller === null || !caller.code.equals(MINER_ACTOR_CODE)) fail(ActorExit.ErrForbidden, 'only a miner may update the pledge total')
  const raw = decodeParams(params)
  if (!(raw instanceof Uint8Array)) return fail(ActorExit.ErrSerialization, 'params are not a token amount')
  let delta: bigint
  try { delta = decodeBigInt(raw) } catch (err) { return fail(ActorExit.ErrSerialization, `pledge delta: ${(err as Error).message}`) }
  const power = loadPower(rt, root)
  if (hamtGet(rt.store, power.state.claims, rt.caller) === undefined) fail(ActorExit.ErrForbidden, 'unknown miner forbidden to interact with power actor')
  const total = power.state.totalPledgeCollateral + delta
  if (total < 0n) fail(ActorExit.ErrIllegalState, `negative total pledge collateral ${total}`)
  root = setActor(rt.store, root, POWER_ACTOR_ADDRESS, { ...power.actor, head: rt.store.put(encodePowerState({ ...power.state, totalPledgeCollateral: total })) })
  return { root, return: new Uint8Array(0) }
}
