// Genesis of a Coffer chain: a Filecoin state tree holding the genesis allocations (faucet, burnt funds,
// the producer), whose StateRoot.Info links one DAG-CBOR block naming the network and the producer's key.
// Genesis's ParentStateRoot links that root, so trusting the genesis CID is enough to learn, by hash,
// the key every later header must be signed with and the state every later root descends from.
import * as dagCbor from '@ipld/dag-cbor'
import { CID, chainCid } from './cid'
import { idAddressBytes } from './address'
import { MemoryBlockStore } from './block-store'
import { createStateTree, setActor, newAccountActor, readStateRoot, SYSTEM_ACTOR_CODE, BURNT_FUNDS_ADDRESS } from './state-tree'
import { BASE_FEE } from './apply-messages'
import type { AttoFil } from './units'
import { sealHeader, type BlockHeader, type SealedHeader } from './block-header'
import { MalformedMessageError } from './errors'
import type { UnixSeconds } from './units'
import { DEFAULT_MARKET_PARAMS, validMarketParams, type MarketParams } from './market/market-params'
import { STORAGE_MARKET_ADDRESS, MARKET_ACTOR_CODE, MINER_ACTOR_CODE, emptyMarketState } from './market/market-state'
import { newMinerInfo, putMinerState, type MinerInfoInit } from './miner'
import { POWER_ACTOR_ADDRESS, POWER_ACTOR_CODE, emptyPowerState, readPowerState, encodePowerState, setClaim } from './power/power-state'
import { powerEpochTickEnd } from './power/power-claims'
import { addGenesisDeals } from './market/market-actor'
import { INIT_ACTOR_ADDRESS, INIT_ACTOR_CODE, FIRST_NON_SINGLETON_ID, emptyInitState } from './init/init-state'
import type { PaychParams } from './actors/runtime'
import { idOf, isKeyAddress, Protocol } from './address'
import { BEACON_PUBLIC_KEY_BYTES, GENESIS_BEACON_ENTRY, decodeBeaconPublicKey, type BeaconTiming } from './beacon'
import { REWARD_ACTOR_ADDRESS, SYSTEM_ACTOR_ADDRESS } from './reward/reward-state'
import { genesisRewardActor } from './reward/reward-actor'
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
 * A storage provider present from genesis (as a Lotus devnet's pre-sealed miners are): its ID and what its
 * MinerInfo is made from. It gets the state a CreateMiner gives (a claim in the power actor, MinerInfo with
 * the rest at their starting values), with no pledge: the same record as a miner created later.
 */
export interface GenesisProvider {
  id: number
  info: MinerInfoInit
  /**
   * A piece the provider holds from genesis (a Lotus devnet's pre-sealed sector): it becomes a deal activated at
   * genesis and its size the provider's power from genesis on (market-actor.ts addGenesisDeals), which is how the
   * network has someone to elect before any deal was proven. Its worker (a key address) is the deal's client.
   */
  preseal?: { pieceCid: CID, pieceSize: number }
}

export interface GenesisAllocation { address: Uint8Array, balance: AttoFil }

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

const EMPTY_AMT_BYTES = dagCbor.encode([0, 0, [new Uint8Array([0]), [], []]])
/**
 * The rules a chain's blocks were executed under. A node keeps it with its genesis and refuses a folder made
 * under other rules (its stored state roots came from them, and a node re-executing the chain would refuse
 * them): 2 = storage power from proven deals and the end-of-epoch power tick, and WindowPoSt challenge seeds
 * drawn with Filecoin's tag 4 (issue 13); 3 = a randomness beacon in genesis and its entries in every header
 * (issue 13); 4 = the reward actor at f02: tips go to it and each block's AwardBlockReward pays them on with the
 * block reward, and every epoch's cron ticks it (issue 13); a folder from before has no record, which counts as 1.
 */
export const CHAIN_RULES_VERSION = 4

/** Root of an empty v0-layout AMT: the ParentMessageReceipts of a block whose parent carried no messages. */
export const EMPTY_AMT_CID = chainCid(EMPTY_AMT_BYTES)
/** TxMeta [BlsMessages, SecpkMessages] with both AMTs empty: the Messages field of an empty block. */
const EMPTY_TXMETA_BYTES = dagCbor.encode([EMPTY_AMT_CID, EMPTY_AMT_CID])
export const EMPTY_TXMETA_CID = chainCid(EMPTY_TXMETA_BYTES)

export function encodeGenesisState (s: GenesisState): Uint8Array {
  const fields: Record<string, unknown> = { network: s.network, producer: s.producer, producerKey: s.producerKey, blockDelaySecs: s.blockDelaySecs, market: s.market }
  if (s.paych !== undefined) fields.paych = { settleDelay: s.paych.settleDelay }
  fields.beacon = { publicKey: s.beacon.publicKey, genesisTime: s.beacon.genesisTime, periodSecs: s.beacon.periodSecs }
  if (s.consensus !== undefined) fields.consensus = s.consensus
  if (s.f3 !== undefined) fields.f3 = { instanceEpochs: s.f3.instanceEpochs, finalityDepth: s.f3.finalityDepth }
  return dagCbor.encode(fields)
}

/** The beacon's fields are well-formed and it is at least as fast as the chain (BeaconConfig says why). */
const validBeaconConfig = (b: unknown, blockDelaySecs: number): b is BeaconConfig => {
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
const beaconStartsInTime = (beacon: BeaconConfig, chainGenesisTime: UnixSeconds): boolean => beacon.genesisTime <= chainGenesisTime

const validPaychParams = (p: unknown): p is PaychParams => {
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

/** Lotus genesis blocks are mined by the system actor t00 and have no parents and no signature. */
/** The parameters a caller gives: the market's default to DEFAULT_MARKET_PARAMS. */
export type GenesisStateInit = Omit<GenesisState, 'market'> & { market?: MarketParams }

export function createGenesis (init: GenesisStateInit, timestamp: UnixSeconds, allocations: GenesisAllocation[] = [], providers: GenesisProvider[] = []): Genesis {
  const state: GenesisState = { ...init, market: init.market ?? DEFAULT_MARKET_PARAMS }
  if (!validMarketParams(state.market)) throw new RangeError('market parameters are out of range')
  if (state.paych !== undefined && !validPaychParams(state.paych)) throw new RangeError('paych settle delay must be a positive number of epochs')
  if (!validBeaconConfig(state.beacon, state.blockDelaySecs)) throw new RangeError('the beacon needs a 96-byte G2 public key, a genesis time and a period of at most the block delay')
  if (state.f3 !== undefined && !validF3Params(state.f3)) throw new RangeError('F3 needs a positive number of epochs per instance and a non-negative depth')
  if (!beaconStartsInTime(state.beacon, timestamp)) throw new RangeError(`the beacon starts at ${state.beacon.genesisTime}, after the chain's genesis at ${timestamp}`)
  const store = new MemoryBlockStore()
  // every block the genesis header links must be in the store, the empty message/receipt arrays included
  store.put(EMPTY_AMT_BYTES)
  store.put(EMPTY_TXMETA_BYTES)
  const stateBytes = encodeGenesisState(state)
  const stateCid = store.put(stateBytes)
  let root = createStateTree(store, stateCid)
  root = setActor(store, root, BURNT_FUNDS_ADDRESS, newAccountActor(store, BURNT_FUNDS_ADDRESS))
  // the system actor (f00), as Lotus's genesis has it (SetupSystemActor): the sender of every block's implicit
  // AwardBlockReward, and the Miner of the genesis block. Its head is an account-style state as the single
  // producer's (Coffer keeps no builtin-actors manifest for System's State to name)
  root = setActor(store, root, SYSTEM_ACTOR_ADDRESS, { ...newAccountActor(store, SYSTEM_ACTOR_ADDRESS), code: SYSTEM_ACTOR_CODE })
  // the reward actor (f02), holding everything the devnet schedule will ever mint, as Lotus's SetupRewardActor
  // funds it with InitialRewardBalance: block rewards are paid from it, never created
  root = setActor(store, root, REWARD_ACTOR_ADDRESS, genesisRewardActor(store))
  // the single producer's Miner address: a system-code actor, no miner, so what the reward actor awards its blocks
  // (block reward and tips) is burnt (tipset-execution.ts SINGLE_PRODUCER_WIN_COUNT), until providers produce
  root = setActor(store, root, state.producer, { ...newAccountActor(store, state.producer), code: SYSTEM_ACTOR_CODE })
  for (const a of allocations) root = setActor(store, root, a.address, newAccountActor(store, a.address, a.balance))
  root = setActor(store, root, STORAGE_MARKET_ADDRESS, { code: MARKET_ACTOR_CODE, head: emptyMarketState(store), nonce: 0, balance: 0n, delegatedAddress: null })
  let power = readPowerState(store, emptyPowerState(store))
  for (const p of providers) {
    const info = newMinerInfo(p.info)
    root = setActor(store, root, idAddressBytes(p.id), { code: MINER_ACTOR_CODE, head: putMinerState(store, info, 0n), nonce: 0, balance: 0n, delegatedAddress: null })
    power = setClaim(store, power, idAddressBytes(p.id), { windowPoStProofType: info.windowPoStProofType, rawBytePower: 0n, qualityAdjPower: 0n })
    power = { ...power, minerCount: power.minerCount + 1 }
  }
  root = setActor(store, root, POWER_ACTOR_ADDRESS, { code: POWER_ACTOR_CODE, head: store.put(encodePowerState(power)), nonce: 0, balance: 0n, delegatedAddress: null })
  for (const p of providers) {
    // as CreateMiner's constructor (builtin-actors resolve_worker_address): a miner's worker is a BLS key
    if (p.info.worker[0] !== Protocol.BLS) throw new RangeError(`provider ${p.id}'s worker must be a BLS (f3) address: it signs blocks, election proofs and tickets`)
    const size = p.preseal?.pieceSize
    if (size !== undefined && (!Number.isSafeInteger(size) || size < 128 || (size & (size - 1)) !== 0)) throw new RangeError(`provider ${p.id}'s pre-sealed piece size ${size} is not a power of two of at least 128 bytes`)
    if (size !== undefined && !isKeyAddress(p.info.worker)) throw new RangeError(`provider ${p.id}'s worker must be a key address to be its pre-sealed deal's client`)
  }
  const presealed = providers.flatMap(p => p.preseal === undefined ? [] : [{ provider: idAddressBytes(p.id), client: p.info.worker, ...p.preseal }])
  if (presealed.length > 0) {
    root = addGenesisDeals(store, root, state.market, presealed)
    // the power actor's epoch figures (what elections at the first epochs read) include genesis power
    root = powerEpochTickEnd(store, root)
  }
  // the init actor hands out IDs after every one genesis placed (producer, providers, f0 allocations), as a
  // Lotus genesis starts NextID after its pre-sealed miners, so a created actor never lands on one of them
  const ids = [state.producer, ...allocations.map(a => a.address), ...providers.map(p => idAddressBytes(p.id))]
    .map(idOf).filter((id): id is bigint => id !== null)
  const nextId = ids.reduce((n, id) => id >= n ? id + 1n : n, BigInt(FIRST_NON_SINGLETON_ID))
  if (nextId > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError('genesis actor IDs leave no room for the init actor to hand out more')
  root = setActor(store, root, INIT_ACTOR_ADDRESS, { code: INIT_ACTOR_CODE, head: emptyInitState(store, state.network, Number(nextId)), nonce: 0, balance: 0n, delegatedAddress: null })
  const header: BlockHeader = {
    miner: idAddressBytes(0),
    ticket: null,
    electionProof: null,
    // as Lotus's MakeGenesisBlock: round 0 with 32 zero bytes, never verified, the entry the first blocks build on
    beaconEntries: [GENESIS_BEACON_ENTRY],
    winPoStProof: [],
    parents: [],
    parentWeight: 0n,
    height: 0,
    parentStateRoot: root,
    parentMessageReceipts: EMPTY_AMT_CID,
    messages: EMPTY_TXMETA_CID,
    blsAggregate: null,
    timestamp,
    blockSig: null,
    forkSignaling: 0,
    parentBaseFee: BASE_FEE
  }
  return { state, stateBytes, stateCid, rootBytes: store.get(root)!, header: sealHeader(header), store }
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
