// The power actor's method numbers (builtin-actors actors/power/src/lib.rs Method), CreateMiner's params and
// return in go-state-types power's layouts, and the pledge a devnet asks of a new miner.
import * as dagCbor from '@ipld/dag-cbor'
import { validateAddressBytes, Protocol } from '../address'
import { ATTO_PER_FIL, encodeBigInt } from '../token'
import type { StoragePower } from './power-state'
import type { AttoFil } from '../units'

export const PowerMethod = {
  Constructor: 1,
  CreateMiner: 2,
  UpdateClaimedPower: 3,
  EnrollCronEvent: 4,
  OnEpochTickEnd: 5,
  UpdatePledgeTotal: 6,
  SubmitPoRepForBulkVerify: 8,
  CurrentTotalPower: 9
} as const

/**
 * What CreateMiner's value must be at least: the collateral a new miner pledges, kept in its actor and
 * locked while it has live deals. Filecoin asks a deposit computed from network power and reward
 * (calculate_create_miner_deposit); Coffer has neither yet, so it is a fixed devnet figure: 1 FIL, small
 * beside the 100 FIL the faucet hands out, large enough that peer IDs are not registered for free.
 */
export const MIN_MINER_PLEDGE: AttoFil = 1n * ATTO_PER_FIL

/** go-state-types power CreateMinerParams [Owner, Worker, WindowPoStProofType, Peer, Multiaddrs]. */
export interface CreateMinerParams {
  owner: Uint8Array
  worker: Uint8Array
  windowPoStProofType: number
  /** libp2p peer ID bytes (the multihash). */
  peer: Uint8Array
  /** Multiaddr bytes. */
  multiaddrs: Uint8Array[]
}

export const encodeCreateMinerParams = (p: CreateMinerParams): Uint8Array =>
  dagCbor.encode([p.owner, p.worker, p.windowPoStProofType, p.peer, p.multiaddrs])

/** go-state-types power UpdateClaimedPowerParams [RawByteDelta, QualityAdjustedDelta] (big ints, may be negative). */
export interface UpdateClaimedPowerParams { rawByteDelta: StoragePower, qualityAdjustedDelta: StoragePower }

export const encodeUpdateClaimedPowerParams = (p: UpdateClaimedPowerParams): Uint8Array =>
  dagCbor.encode([encodeBigInt(p.rawByteDelta), encodeBigInt(p.qualityAdjustedDelta)])

export interface CreateMinerReturn { idAddress: Uint8Array, robustAddress: Uint8Array }

export const encodeCreateMinerReturn = (r: CreateMinerReturn): Uint8Array => dagCbor.encode([r.idAddress, r.robustAddress])

export class MalformedCreateMinerReturnError extends Error {
  static override name = 'MalformedCreateMinerReturnError'
  override name = 'MalformedCreateMinerReturnError'
}

/** Reads a CreateMiner receipt's return [IDAddress, RobustAddress]: the new miner's f0 and f2. */
export function decodeCreateMinerReturn (bytes: Uint8Array): CreateMinerReturn {
  let raw: unknown
  try { raw = dagCbor.decode(bytes) } catch (err) { throw new MalformedCreateMinerReturnError(`CreateMiner return is not DAG-CBOR: ${(err as Error).message}`) }
  if (!Array.isArray(raw) || raw.length !== 2 || !(raw[0] instanceof Uint8Array) || !(raw[1] instanceof Uint8Array)) {
    throw new MalformedCreateMinerReturnError('CreateMiner return is not [IDAddress, RobustAddress]')
  }
  try {
    validateAddressBytes(raw[0])
    validateAddressBytes(raw[1])
  } catch (err) { throw new MalformedCreateMinerReturnError(`CreateMiner return: ${(err as Error).message}`) }
  if (raw[0][0] !== Protocol.ID || raw[1][0] !== Protocol.ACTOR) throw new MalformedCreateMinerReturnError('CreateMiner return is not an f0 and an f2 address')
  return { idAddress: raw[0], robustAddress: raw[1] }
}
