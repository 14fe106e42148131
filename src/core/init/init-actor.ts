// The init actor's Exec (method 2): creates an actor at the next ID, maps its robust f2 address to that ID
// and runs its constructor with the message's value, as builtin-actors actors/init/src/lib.rs does.
// Params [CodeCID, ConstructorParams bytes], return [IDAddress, RobustAddress] (go-state-types init
// ExecParams/ExecReturn). Filecoin lets anyone create payment channels and multisigs, and the power actor
// miners; Coffer has no multisig, so Exec creates payment channels and, for f04, miners (else ErrForbidden).
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from '../cid'
import { getActor, setActor } from '../state-tree'
import { idAddressBytes, validateAddressBytes, Protocol } from '../address'
import { ActorError, ActorExit } from '../actors/actor-error'
import { PAYCH_ACTOR_CODE } from '../paych/paych-state'
import { MINER_ACTOR_CODE } from '../market/market-state'
import { POWER_ACTOR_CODE } from '../power/power-state'
import { INIT_ACTOR_ADDRESS, readInitState, encodeInitState, mapAddress } from './init-state'
import { newActorAddress } from './actor-address'
import type { ActorRuntime } from '../actors/runtime'
import type { InvokeResult } from '../actors/actor-error'

export const InitMethod = { Constructor: 1, Exec: 2 } as const
/** Filecoin's METHOD_CONSTRUCTOR, the method Exec runs on the actor it creates. */
export const METHOD_CONSTRUCTOR = 1

const fail = (code: number, message: string): never => { throw new ActorError(code, message) }

export interface ExecParams { code: CID, constructorParams: Uint8Array }
export interface ExecReturn { idAddress: Uint8Array, robustAddress: Uint8Array }

export const encodeExecParams = (p: ExecParams): Uint8Array => dagCbor.encode([p.code, p.constructorParams])

export function decodeExecParams (bytes: Uint8Array): ExecParams {
  let raw: unknown
  try { raw = dagCbor.decode(bytes) } catch (err) { return fail(ActorExit.ErrSerialization, `Exec params are not DAG-CBOR: ${(err as Error).message}`) }
  const code = Array.isArray(raw) && raw.length === 2 ? CID.asCID(raw[0]) : null
  if (code === null || !((raw as unknown[])[1] instanceof Uint8Array)) return fail(ActorExit.ErrSerialization, 'Exec params are not [CodeCID, ConstructorParams]')
  return { code, constructorParams: (raw as unknown[])[1] as Uint8Array }
}

export class MalformedExecReturnError extends Error {
  static override name = 'MalformedExecReturnError'
  override name = 'MalformedExecReturnError'
}

/** Reads an Exec receipt's return: the new actor's f0 and f2 addresses. */
export function decodeExecReturn (bytes: Uint8Array): ExecReturn {
  let raw: unknown
  try { raw = dagCbor.decode(bytes) } catch (err) { throw new MalformedExecReturnError(`Exec return is not DAG-CBOR: ${(err as Error).message}`) }
  if (!Array.isArray(raw) || raw.length !== 2 || !(raw[0] instanceof Uint8Array) || !(raw[1] instanceof Uint8Array)) {
    throw new MalformedExecReturnError('Exec return is not [IDAddress, RobustAddress]')
  }
  try {
    validateAddressBytes(raw[0])
    validateAddressBytes(raw[1])
  } catch (err) { throw new MalformedExecReturnError(`Exec return: ${(err as Error).message}`) }
  if (raw[0][0] !== Protocol.ID || raw[1][0] !== Protocol.ACTOR) throw new MalformedExecReturnError('Exec return is not an f0 and an f2 address')
  return { idAddress: raw[0], robustAddress: raw[1] }
}

/**
 * builtin-actors init can_exec: anyone may create a payment channel (Coffer has no multisig); only the
 * power actor may create a miner (it does so in CreateMiner); nothing else is created through Exec.
 */
function canExec (callerCode: CID | undefined, code: CID): boolean {
  if (code.equals(PAYCH_ACTOR_CODE)) return true
  return code.equals(MINER_ACTOR_CODE) && callerCode !== undefined && callerCode.equals(POWER_ACTOR_CODE)
}

export function initExec (rt: ActorRuntime, root: CID, params: Uint8Array): InvokeResult {
  // validate_immediate_caller_accept_any: anyone may call; what may be created depends on code and caller
  const p = decodeExecParams(params)
  const callerCode = getActor(rt.store, root, rt.caller)?.code
  if (!canExec(callerCode, p.code)) fail(ActorExit.ErrForbidden, `called type ${callerCode?.toString() ?? 'account'} cannot exec actor type ${p.code.toString()}`)

  // a re-org-stable address for outside messages, from the message alone (not from the ID it gets)
  const robust = newActorAddress(rt.message.origin, rt.message.nonce, rt.message.actorsCreated)
  const init = getActor(rt.store, root, INIT_ACTOR_ADDRESS) ?? fail(ActorExit.ErrIllegalState, 'this chain has no init actor')
  const state = readInitState(rt.store, init.head)
  const id = state.nextId
  const mapped = mapAddress(rt.store, state, robust, id) ?? fail(ActorExit.ErrForbidden, 'robust address is already allocated in the address map')
  root = setActor(rt.store, root, INIT_ACTOR_ADDRESS, { ...init, head: rt.store.put(encodeInitState({ ...mapped, nextId: id + 1 })) })

  // create_actor: an empty actor (Head = the empty array, as the FVM's new_empty) that its constructor fills
  const idAddress = idAddressBytes(id)
  if (getActor(rt.store, root, idAddress) !== null) fail(ActorExit.ErrForbidden, `actor ${id} already exists`)
  root = setActor(rt.store, root, idAddress, { code: p.code, head: rt.store.put(dagCbor.encode([])), nonce: 0, balance: 0n, delegatedAddress: null })
  rt.message.actorsCreated++

  const out = rt.send(root, idAddress, METHOD_CONSTRUCTOR, p.constructorParams, rt.valueReceived)
  return { root: out.root, return: dagCbor.encode([idAddress, robust]) }
}
