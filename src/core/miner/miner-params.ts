// The miner actor's method numbers (builtin-actors actors/miner/src/lib.rs Method) and the params of the
// methods Coffer runs, in go-state-types miner's layouts; plus Filecoin's limits on what a miner advertises.
import * as dagCbor from '@ipld/dag-cbor'
import { encodeBigInt, decodeBigInt } from '../token'
import type { AttoFil } from '../units'

export const MinerMethod = {
  Constructor: 1,
  ControlAddresses: 2,
  ChangeWorkerAddress: 3,
  ChangePeerID: 4,
  WithdrawBalance: 16,
  ChangeMultiaddrs: 18
} as const

/** builtin-actors policy MAX_PEER_ID_LENGTH (bytes). */
export const MAX_PEER_ID_LENGTH = 128
/** builtin-actors policy MAX_MULTIADDR_DATA: the sum of a miner's multiaddrs' bytes. */
export const MAX_MULTIADDR_DATA = 1024
/** builtin-actors policy MAX_CONTROL_ADDRESSES. */
export const MAX_CONTROL_ADDRESSES = 10

/**
 * Coffer's actor-specific exit codes for miners (builtin-actors numbers an actor's own from 32,
 * FIRST_ACTOR_SPECIFIC_EXIT_CODE). A receipt carries only the code, so a refusal a caller must tell apart
 * gets one of its own. Too small a pledge is Filecoin's own ErrInsufficientFunds (19), as the
 * create-miner deposit check in the miner constructor returns.
 */
export const MinerExit = {
  /** CreateMiner or ChangePeerID named a peer ID another miner holds. */
  ErrPeerIdTaken: 32,
  /** CreateMiner's value is below MIN_MINER_PLEDGE (= ActorExit.ErrInsufficientFunds). */
  ErrPledgeTooLow: 19
} as const

/** go-state-types miner MinerConstructorParams [Owner, Worker, ControlAddresses, WindowPoStProofType, PeerId, Multiaddrs]. */
export interface MinerConstructorParams {
  owner: Uint8Array
  worker: Uint8Array
  controlAddresses: Uint8Array[]
  windowPoStProofType: number
  peerId: Uint8Array
  multiaddrs: Uint8Array[]
}

export const encodeMinerConstructorParams = (p: MinerConstructorParams): Uint8Array =>
  dagCbor.encode([p.owner, p.worker, p.controlAddresses, p.windowPoStProofType, p.peerId, p.multiaddrs])

/** ChangePeerIDParams [NewID]. */
export const encodeChangePeerIdParams = (peer: Uint8Array): Uint8Array => dagCbor.encode([peer])

/** ChangeMultiaddrsParams [NewMultiaddrs]. */
export const encodeChangeMultiaddrsParams = (addrs: Uint8Array[]): Uint8Array => dagCbor.encode([addrs])

/** WithdrawBalanceParams [AmountRequested]. */
export const encodeWithdrawBalanceParams = (amount: AttoFil): Uint8Array => dagCbor.encode([encodeBigInt(amount)])

export class MalformedWithdrawReturnError extends Error {
  static override name = 'MalformedWithdrawReturnError'
  override name = 'MalformedWithdrawReturnError'
}

/** WithdrawBalanceReturn: the amount withdrawn, a TokenAmount (serde-transparent: a bare big-int byte string). */
export function decodeWithdrawBalanceReturn (bytes: Uint8Array): AttoFil {
  let raw: unknown
  try { raw = dagCbor.decode(bytes) } catch (err) { throw new MalformedWithdrawReturnError(`WithdrawBalance return is not DAG-CBOR: ${(err as Error).message}`) }
  if (!(raw instanceof Uint8Array)) throw new MalformedWithdrawReturnError('WithdrawBalance return is not a token amount')
  try { return decodeBigInt(raw) } catch (err) { throw new MalformedWithdrawReturnError(`WithdrawBalance return: ${(err as Error).message}`) }
}
