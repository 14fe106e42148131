// The storage power actor (f04): Filecoin's power State in builtin-actors' field order (actors/power/src/
// state.rs, v18): [TotalRawBytePower, TotalBytesCommitted, TotalQualityAdjPower, TotalQABytesCommitted,
// TotalPledgeCollateral, ThisEpochRawBytePower, ThisEpochQualityAdjPower, ThisEpochPledgeCollateral,
// ThisEpochQAPowerSmoothed [Position, Velocity], MinerCount, MinerAboveMinPowerCount, RampStartEpoch,
// RampDurationEpochs, CronEventQueue, FirstCronEpoch, Claims, ProofValidationBatch].
// Claims is a HAMT (bit width 5) from a miner's ID address bytes to Claim [WindowPoStProofType,
// RawBytePower, QualityAdjPower]; it is the chain's list of miners (listMiners).
// What Coffer uses: Claims, MinerCount, TotalPledgeCollateral (the pledges CreateMiner takes), the power
// figures (claims and totals as proven deals change them: power-claims.ts) and the ThisEpoch* figures (the
// end-of-epoch tick); the other fields are written as their zero values (the smoothed estimate [0, 0], not
// Filecoin's invented initial estimate; an empty cron queue; ProofValidationBatch null), never invented.
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from '../cid'
import { emptyHamt, hamtGet, hamtSet, hamtEntries, MalformedStateError } from '../hamt'
import { mustGet, type BlockGetter, type BlockStore } from '../block-store'
import { getActor, builtinActorCode } from '../state-tree'
import { encodeBigInt } from '../token'
import { idAddressBytes, validateAddressBytes, idOf, Protocol } from '../address'
import { bigIntField } from '../market/market-state'
import { postProofInfo } from '../miner/miner-info'
import type { AttoFil, Epoch } from '../units'

/** builtin-actors STORAGE_POWER_ACTOR_ADDR. */
export const POWER_ACTOR_ADDRESS = idAddressBytes(4)
export const POWER_ACTOR_CODE = builtinActorCode('storagepower')

/** Bytes of storage power (raw or quality-adjusted), Filecoin's StoragePower. */
export type StoragePower = bigint

/** windowPoStProofType: Filecoin's RegisteredPoStProof number (go-state-types abi/sector.go; miner-info.ts). */
export interface Claim { windowPoStProofType: number, rawBytePower: StoragePower, qualityAdjPower: StoragePower }

export interface PowerState {
  totalRawBytePower: StoragePower
  totalBytesCommitted: StoragePower
  totalQualityAdjPower: StoragePower
  totalQABytesCommitted: StoragePower
  totalPledgeCollateral: AttoFil
  thisEpochRawBytePower: StoragePower
  thisEpochQualityAdjPower: StoragePower
  thisEpochPledgeCollateral: AttoFil
  thisEpochQAPowerSmoothed: { position: bigint, velocity: bigint }
  minerCount: number
  minerAboveMinPowerCount: number
  rampStartEpoch: Epoch
  rampDurationEpochs: number
  cronEventQueue: CID
  firstCronEpoch: Epoch
  claims: CID
  proofValidationBatch: CID | null
}

/**
 * At most this many miners are listed in one read served to others (a light client's proof must stay a few
 * MiB). Actor code never reads through this cap: a chain rule cannot depend on how much a light client can
 * be sent (minerHoldingPeerId walks every claim).
 */
export const MAX_LISTED_MINERS = 10_000

export function encodePowerState (s: PowerState): Uint8Array {
  const b = encodeBigInt
  return dagCbor.encode([
    b(s.totalRawBytePower), b(s.totalBytesCommitted), b(s.totalQualityAdjPower), b(s.totalQABytesCommitted), b(s.totalPledgeCollateral),
    b(s.thisEpochRawBytePower), b(s.thisEpochQualityAdjPower), b(s.thisEpochPledgeCollateral),
    [b(s.thisEpochQAPowerSmoothed.position), b(s.thisEpochQAPowerSmoothed.velocity)],
    s.minerCount, s.minerAboveMinPowerCount, s.rampStartEpoch, s.rampDurationEpochs, s.cronEventQueue, s.firstCronEpoch, s.claims,
    s.proofValidationBatch
  ])
}

const int = (v: unknown, what: string, min = Number.MIN_SAFE_INTEGER): number => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw new MalformedStateError(`power state ${what} is not an integer in range`)
  return v
}

export function decodePowerState (bytes: Uint8Array): PowerState {
  let raw: unknown
  try { raw = dagCbor.decode(bytes) } catch (err) { throw new MalformedStateError(`power state is not DAG-CBOR: ${(err as Error).message}`) }
  if (!Array.isArray(raw) || raw.length !== 17) throw new MalformedStateError('power state is not a 17-field tuple')
  const big = (i: number, what: string): bigint => bigIntField(raw[i], `power ${what}`)
  const smoothed = raw[8] as unknown
  if (!Array.isArray(smoothed) || smoothed.length !== 2) throw new MalformedStateError('power ThisEpochQAPowerSmoothed is not [Position, Velocity]')
  const cron = CID.asCID(raw[13])
  const claims = CID.asCID(raw[15])
  const batch = raw[16] === null ? null : CID.asCID(raw[16])
  if (cron === null || claims === null || (raw[16] !== null && batch === null)) throw new MalformedStateError('power state links are not CIDs')
  return {
    totalRawBytePower: big(0, 'TotalRawBytePower'),
    totalBytesCommitted: big(1, 'TotalBytesCommitted'),
    totalQualityAdjPower: big(2, 'TotalQualityAdjPower'),
    totalQABytesCommitted: big(3, 'TotalQABytesCommitted'),
    totalPledgeCollateral: big(4, 'TotalPledgeCollateral'),
    thisEpochRawBytePower: big(5, 'ThisEpochRawBytePower'),
    thisEpochQualityAdjPower: big(6, 'ThisEpochQualityAdjPower'),
    thisEpochPledgeCollateral: big(7, 'ThisEpochPledgeCollateral'),
    thisEpochQAPowerSmoothed: { position: bigIntField(smoothed[0], 'power smoothed position'), velocity: bigIntField(smoothed[1], 'power smoothed velocity') },
    minerCount: int(raw[9], 'MinerCount', 0),
    minerAboveMinPowerCount: int(raw[10], 'MinerAboveMinPowerCount', 0),
    rampStartEpoch: int(raw[11], 'RampStartEpoch'),
    rampDurationEpochs: int(raw[12], 'RampDurationEpochs', 0),
    cronEventQueue: cron,
    firstCronEpoch: int(raw[14], 'FirstCronEpoch'),
    claims,
    proofValidationBatch: batch
  }
}

/** A power state with no miners: every figure zero, empty claims and cron queue. */
export function emptyPowerState (store: BlockStore): CID {
  const empty = emptyHamt(store) // an empty HAMT's bytes do not depend on its bit width (the cron queue's is 6)
  return store.put(encodePowerState({
    totalRawBytePower: 0n, totalBytesCommitted: 0n, totalQualityAdjPower: 0n, totalQABytesCommitted: 0n, totalPledgeCollateral: 0n,
    thisEpochRawBytePower: 0n, thisEpochQualityAdjPower: 0n, thisEpochPledgeCollateral: 0n, thisEpochQAPowerSmoothed: { position: 0n, velocity: 0n },
    minerCount: 0, minerAboveMinPowerCount: 0, rampStartEpoch: 0, rampDurationEpochs: 0, cronEventQueue: empty, firstCronEpoch: 0,
    claims: empty, proofValidationBatch: null
  }))
}

export const readPowerState = (store: BlockGetter, head: CID): PowerState => decodePowerState(mustGet(store, head))

export const encodeClaim = (c: Claim): unknown[] => [c.windowPoStProofType, encodeBigInt(c.rawBytePower), encodeBigInt(c.qualityAdjPower)]

export function decodeClaim (raw: unknown): Claim {
  if (!Array.isArray(raw) || raw.length !== 3) throw new MalformedStateError('power claim is not [WindowPoStProofType, RawBytePower, QualityAdjPower]')
  const proof = raw[0] as unknown
  if (typeof proof !== 'number' || !Number.isSafeInteger(proof) || proof < 0) throw new MalformedStateError('power claim proof type is not an integer')
  return { windowPoStProofType: proof, rawBytePower: bigIntField(raw[1], 'claim RawBytePower'), qualityAdjPower: bigIntField(raw[2], 'claim QualityAdjPower') }
}

/** The power state of the chain at `root`, or null when it has no power actor. */
export function powerStateAt (store: BlockGetter, root: CID): PowerState | null {
  const actor = getActor(store, root, POWER_ACTOR_ADDRESS)
  if (actor === null) return null
  if (!actor.code.equals(POWER_ACTOR_CODE)) throw new MalformedStateError('f04 is not the storage power actor')
  return readPowerState(store, actor.head)
}

/** A miner's claim, or null when the power actor has none for it. */
export function readClaim (store: BlockGetter, root: CID, miner: Uint8Array): Claim | null {
  const state = powerStateAt(store, root)
  if (state === null) return null
  const raw = hamtGet(store, state.claims, miner)
  return raw === undefined ? null : decodeClaim(raw)
}

export function setClaim (store: BlockStore, state: PowerState, miner: Uint8Array, claim: Claim): PowerState {
  return { ...state, claims: hamtSet(store, state.claims, miner, encodeClaim(claim)) }
}

/**
 * Every miner's ID address bytes, from the power actor's claims (as Lotus's StateListMiners reads them),
 * sorted by ID so every node lists them in the same order. Empty on a chain with no power actor.
 * Past `limit` claims it throws MalformedStateError (HAMT holds more than …): the default is the cap on what
 * is served; actor code passes Infinity.
 */
export function listMiners (store: BlockGetter, stateRoot: CID, limit: number = MAX_LISTED_MINERS): Uint8Array[] {
  const state = powerStateAt(store, stateRoot)
  if (state === null) return []
  const miners = hamtEntries(store, state.claims, limit).map(([key, value]) => {
    decodeClaim(value)
    try { validateAddressBytes(key) } catch { throw new MalformedStateError('a power claim is keyed by something that is not an address') }
    if (key[0] !== Protocol.ID) throw new MalformedStateError('a power claim is not keyed by an ID address')
    return key
  })
  return miners.sort((a, b) => compareIds(a, b))
}

function compareIds (a: Uint8Array, b: Uint8Array): number {
  const d = idOf(a)! - idOf(b)!
  return d < 0n ? -1 : d > 0n ? 1 : 0
}

/**
 * builtin-actors' policy MINIMUM_CONSENSUS_POWER as its "devnet" build sets it (feature min-power-2k:
 * 2 << 10 bytes; mainnet's is 10 << 40): the raw power from which a miner counts toward consensus on its own.
 */
export const MINIMUM_CONSENSUS_POWER: StoragePower = 2n << 10n
/** builtin-actors actors/power/src/policy.rs CONSENSUS_MINER_MIN_MINERS. */
export const CONSENSUS_MINER_MIN_MINERS = 4

/** A claim names a PoSt proof type no miner may hold: builtin-actors' consensus_miner_min_power refuses it. */
export class UnsupportedProofTypeError extends Error {
  static override name = 'UnsupportedProofTypeError'
  override name = 'UnsupportedProofTypeError'
}

/**
 * builtin-actors consensus_miner_min_power: the same MINIMUM_CONSENSUS_POWER for every Window PoSt proof type a
 * miner may hold (the V1P1 ones), an error for any other.
 */
export function consensusMinerMinPower (windowPoStProofType: number): StoragePower {
  if (postProofInfo(windowPoStProofType) === undefined) throw new UnsupportedProofTypeError(`unsupported proof type: ${windowPoStProofType}`)
  return MINIMUM_CONSENSUS_POWER
}

/**
 * builtin-actors power State::miner_nominal_power_meets_consensus_minimum, given the miner's claim: true at or
 * above the minimum; below it, false once CONSENSUS_MINER_MIN_MINERS miners are above it, and otherwise true
 * for any positive power (a young network is not stopped by the minimum).
 */
export function minerNominalPowerMeetsConsensusMinimum (state: Pick<PowerState, 'minerAboveMinPowerCount'>, claim: Claim): boolean {
  if (claim.rawBytePower >= consensusMinerMinPower(claim.windowPoStProofType)) return true
  if (state.minerAboveMinPowerCount >= CONSENSUS_MINER_MIN_MINERS) return false
  return claim.rawBytePower > 0n
}
