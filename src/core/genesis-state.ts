// A Coffer chain's genesis as a node or a tab opens it (genesis.ts makes one): the parameters its StateRoot.Info
// links (network, producer key, block delay, market, beacon, consensus, F3), their bytes, and openGenesis, which
// checks bytes received from anywhere against the genesis CID the opener trusts. Apart from genesis.ts (which builds
// the whole genesis state tree, every actor's) so an opener — the tab's worker, before anything heavy — needs none
// of the actors.
import * as dagCbor from '@ipld/dag-cbor'
import { chainCid, type CID } from './cid'
import { readStateRoot } from './state-tree'
import type { MemoryBlockStore } from './block-store'
import type { BlockHeader, SealedHeader } from './block-header'
import { MalformedMessageError } from './errors'
import type { UnixSeconds } from './units'
import { validMarketParams, type MarketParams } from './market/market-params'
import type { PaychParams } from './actors/runtime'
import { BEACON_PUBLIC_KEY_BYTES, decodeBeaconPublicKey } from './beacon/beacon-scheme'
import type { BeaconTiming } from './beacon/beacon-rounds'
import { validF3Params, type F3Params } from './finality/f3-devnet-rules'

/**
 * The randomness beacon a chain follows, as drand publishes its chain info: the group's 96-byte G2 public key,
 * the time of round 1 and the seconds between rounds. Coffer asks the beacon to be at least as fast as the
 * chain (Filecoin mainnet: 3 s rounds, 30 s epochs), so every block after genesis carries its epoch's round and
 * a header's parent alone names the previous entry (Lotus walks back up to 20 tipsets for chains where it is not).
 */
export interface BeaconConfig { publicKey: Uint8Array, genesisTime: UnixSeconds, periodSecs: number }

export interface GenesisState {
  network: string
  /** Address bytes the producer's headers carry in Miner (an ID address, as Lotus miners have). */
  producer: Uint8Array
  /** The producer's BLS12-381 G1 public key, 48 bytes. */
  producerKey: Uint8Array
  blockDelaySecs: number
  /** The storage market's proving period, challenges and fault limit. */
  market: MarketParams
  /**
   * Payment channels' settle delay. Absent from a genesis made before channels existed (and then also left
   * out of its bytes, so its CID is unchanged): such a chain uses DEFAULT_PAYCH_PARAMS.
   */
  paych?: PaychParams
  /** The randomness beacon whose entries every header carries (issue 13): the devnet runs it. */
  beacon: BeaconConfig
  /**
   * How blocks are won: 'expected' is Filecoin's Expected Consensus (the genesis providers' power elects, each
   * block carries its miner's ElectionProof and Ticket, consensus/ec-validate.ts); absent, the single producer
   * (`producer`, `producerKey`) signs every block. Left out of the bytes when absent, so older geneses keep their CIDs.
   */
  consensus?: 'expected'
  /**
   * F3 finality (issue 14): when present, the providers certify finalized tipsets on this schedule
   * (finality/f3-devnet-rules.ts). Left out of the bytes when absent, so older geneses keep their CIDs.
   */
  f3?: F3Params
}

/**
 * `state` is the genesis parameters (in `stateBytes`, hashing to `stateCid`, linked from the StateRoot's
 * Info); `rootBytes` is the StateRoot block the genesis header's ParentStateRoot names; `store` holds every
 * block of the genesis state tree when the genesis was created here (not when opened from bytes).
 */
export interface Genesis {
  state: GenesisState
  stateBytes: Uint8Array
  stateCid: CID
  rootBytes: Uint8Array
  header: SealedHeader
  store?: MemoryBlockStore
}

export function encodeGenesisState (s: GenesisState): Uint8Array {
  const fields: Record<string, unknown> = { network: s.network, producer: s.producer, producerKey: s.producerKey, blockDelaySecs: s.blockDelaySecs, market: s.market }
  if (s.paych !== undefined) fields.paych = { settleDelay: s.paych.settleDelay }
  fields.beacon = { publicKey: s.beacon.publicKey, genesisTime: s.beacon.genesisTime, periodSecs: s.beacon.periodSecs }
  if (s.consensus !== undefined) fields.consensus = s.consensus
  if (s.f3 !== undefined) fields.f3 = { instanceEpochs: s.f3.instanceEpochs, finalityDepth: s.f3.finalityDepth }
  return dagCbor.encode(fields)
}

/** The beacon's fields are well-formed and it is at least as fast as the chain (BeaconConfig says why). */
export const validBeaconConfig = (b: unknown, blockDelaySecs: number): b is BeaconConfig => {
  const { publicKey, genesisTime, periodSecs } = (b ?? {}) as Partial<BeaconConfig>
  if (!(typeof b === 'object' && b !== null && publicKey instanceof Uint8Array && publicKey.length === BEACON_PUBLIC_KEY_BYTES &&
    Number.isSafeInteger(genesisTime) && (genesisTime as number) >= 0 &&
    Number.isSafeInteger(periodSecs) && (periodSecs as number) > 0 && (periodSecs as number) <= blockDelaySecs)) return false
  // a key that is no G2 point of the subgroup would make every entry, and so every block, fail
  try { decodeBeaconPublicKey(publicKey) } catch { return false }
  return true
}

/**
 * The beacon must run by the chain's genesis: a beacon that starts later gives the first epochs one and the same
 * round, so a block would carry none and its child find no entry to build on (Coffer does not walk back for one).
 */
export const beaconStartsInTime = (beacon: BeaconConfig, chainGenesisTime: UnixSeconds): boolean => beacon.genesisTime <= chainGenesisTime

export const validPaychParams = (p: unknown): p is PaychParams => {
  const delay = (p as PaychParams | null)?.settleDelay
  return typeof p === 'object' && p !== null && Number.isSafeInteger(delay) && (delay as number) > 0
}

export function decodeGenesisState (bytes: Uint8Array): GenesisState {
  let raw: Record<string, unknown>
  try { raw = dagCbor.decode(bytes) } catch (err) { throw new MalformedMessageError(`genesis state is not DAG-CBOR: ${(err as Error).message}`) }
  const { network, producer, producerKey, blockDelaySecs, market, paych, beacon, consensus, f3 } = raw ?? {}
  if (typeof network !== 'string' || !(producer instanceof Uint8Array) || !(producerKey instanceof Uint8Array) ||
      producerKey.length !== 48 || typeof blockDelaySecs !== 'number' || blockDelaySecs <= 0 || !validMarketParams(market) ||
      (paych !== undefined && !validPaychParams(paych)) || !validBeaconConfig(beacon, blockDelaySecs) ||
      (consensus !== undefined && consensus !== 'expected') || (f3 !== undefined && !validF3Params(f3))) {
    throw new MalformedMessageError('genesis state does not have the expected fields')
  }
  const { provingPeriod, challengesPerPeriod, maxConsecutiveFaults } = market
  const state: GenesisState = {
    network, producer, producerKey, blockDelaySecs, market: { provingPeriod, challengesPerPeriod, maxConsecutiveFaults },
    beacon: { publicKey: beacon.publicKey, genesisTime: beacon.genesisTime, periodSecs: beacon.periodSecs }
  }
  if (paych !== undefined) state.paych = { settleDelay: (paych as PaychParams).settleDelay }
  if (consensus !== undefined) state.consensus = 'expected'
  if (f3 !== undefined) state.f3 = { instanceEpochs: (f3 as F3Params).instanceEpochs, finalityDepth: (f3 as F3Params).finalityDepth }
  return state
}

/** Rebuilds a Genesis from bytes received from anywhere, checking both against the trusted genesis CID. */
export function openGenesis (trustedCid: CID, headerBytes: Uint8Array, rootBytes: Uint8Array, stateBytes: Uint8Array, decode: (b: Uint8Array) => BlockHeader): Genesis {
  const cid = chainCid(headerBytes)
  if (!cid.equals(trustedCid)) throw new MalformedMessageError(`genesis header hashes to ${cid}, expected ${String(trustedCid)}`)
  const header = decode(headerBytes)
  const rootCid = chainCid(rootBytes)
  if (!rootCid.equals(header.parentStateRoot)) throw new MalformedMessageError('genesis state root does not match the genesis ParentStateRoot')
  const stateCid = chainCid(stateBytes)
  let info: CID
  try {
    info = readStateRoot({ get: () => rootBytes }, rootCid).info
  } catch (err) { throw new MalformedMessageError(`genesis state root: ${(err as Error).message}`) }
  if (!info.equals(stateCid)) throw new MalformedMessageError('genesis parameters do not match the state root\'s Info')
  const state = decodeGenesisState(stateBytes)
  if (!beaconStartsInTime(state.beacon, header.timestamp)) throw new MalformedMessageError('genesis beacon starts after the chain\'s genesis')
  return { state, stateBytes, stateCid, rootBytes, header: { header, bytes: headerBytes, cid } }
}

/** The two clocks beacon rounds are read from: the chain's (its genesis header's time and block delay) and the beacon's. */
export function beaconTimingOf (genesis: Pick<Genesis, 'state' | 'header'>): BeaconTiming {
  const { blockDelaySecs, beacon } = genesis.state
  return { filGenesisTime: genesis.header.header.timestamp, filBlockDelaySecs: blockDelaySecs, beaconGenesisTime: beacon.genesisTime, beaconPeriodSecs: beacon.periodSecs }
}
