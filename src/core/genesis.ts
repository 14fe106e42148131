// Genesis of a Coffer chain: a Filecoin state tree holding the genesis allocations (faucet, burnt funds,
// the producer), whose StateRoot.Info links one DAG-CBOR block naming the network and the producer's key.
// Genesis's ParentStateRoot links that root, so trusting the genesis CID is enough to learn, by hash,
// the key every later header must be signed with and the state every later root descends from. Opening one from
// bytes (and its parameters' types) is genesis-state.ts's, re-exported here.
import * as dagCbor from '@ipld/dag-cbor'
import { CID, chainCid } from './cid'
import { idAddressBytes } from './address'
import { MemoryBlockStore } from './block-store'
import { createStateTree, setActor, newAccountActor, SYSTEM_ACTOR_CODE, BURNT_FUNDS_ADDRESS } from './state-tree'
import { BASE_FEE } from './apply-messages'
import type { AttoFil } from './units'
import { sealHeader, type BlockHeader } from './block-header'
import type { UnixSeconds } from './units'
import { DEFAULT_MARKET_PARAMS, validMarketParams, type MarketParams } from './market/market-params'
import { STORAGE_MARKET_ADDRESS, MARKET_ACTOR_CODE, MINER_ACTOR_CODE, emptyMarketState } from './market/market-state'
import { newMinerInfo, putMinerState, type MinerInfoInit } from './miner'
import { POWER_ACTOR_ADDRESS, POWER_ACTOR_CODE, emptyPowerState, readPowerState, encodePowerState, setClaim } from './power/power-state'
import { powerEpochTickEnd } from './power/power-claims'
import { addGenesisDeals } from './market/market-actor'
import { INIT_ACTOR_ADDRESS, INIT_ACTOR_CODE, FIRST_NON_SINGLETON_ID, emptyInitState } from './init/init-state'
import { idOf, isKeyAddress, Protocol } from './address'
import { GENESIS_BEACON_ENTRY } from './beacon'
import { REWARD_ACTOR_ADDRESS, SYSTEM_ACTOR_ADDRESS } from './reward/reward-state'
import { genesisRewardActor } from './reward/reward-actor'
import { validF3Params } from './finality/f3-devnet-rules'
import { encodeGenesisState, validBeaconConfig, beaconStartsInTime, validPaychParams, type Genesis, type GenesisState } from './genesis-state'

export { encodeGenesisState, decodeGenesisState, openGenesis, beaconTimingOf, type BeaconConfig, type GenesisState, type Genesis } from './genesis-state'

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
