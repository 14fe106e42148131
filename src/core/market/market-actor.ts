// The storage market actor's methods and its cron, as pure state transitions. Method numbers are
// Filecoin's (AddBalance 2, WithdrawBalance 3, PublishStorageDeals 4) and FRC-0042 for Coffer's
// SubmitPossessionProofs. A failing call throws ActorError with Filecoin's exit code; the caller keeps the
// state from before the call, so a refused call changes nothing but the sender's nonce and gas.
//
// Money, per deal (all in the market's escrow table, whose sum is the market actor's balance):
//  - publishing locks the client's whole storage fee plus client collateral, and the provider's collateral;
//  - each proven period moves that period's fee (price × period) from the client to the provider;
//  - each missed period unlocks its fee back to the client, and moves ceil(collateral / (2 × max faults)) of
//    the provider's collateral to the client; after maxConsecutiveFaults misses in a row (or once its
//    collateral is spent) the deal is slashed:
//    the client's remaining fee and collateral are unlocked, the provider's remaining collateral (at least
//    half of it) is burnt, as Filecoin slashes;
//  - at the end, both collaterals still locked are unlocked.
//
// Power, per deal (issue 13; the cron applies it to the power actor, see runMarketCron): a deal's power is its
// PieceSize (padded bytes), raw and quality-adjusted alike. Filecoin gives verified space 10× QA power
// (builtin-actors actors/miner/src/policy.rs VERIFIED_DEAL_WEIGHT_MULTIPLIER 100 over QUALITY_BASE_MULTIPLIER
// 10) only against a DataCap allocation from the verified registry; Coffer has no verified registry, so a
// proposal's VerifiedDeal flag gives nothing. The deal holds power from the
// boundary at which a period it was proven for settles; a period settled as missed (a fault) takes it away;
// the next proven settlement gives it back; slashing or the deal's end takes it away for good. Whether a deal
// held power before a settlement is read from its proof records (its latest settled period was proven, and it
// is neither slashed nor ended), so no field is added to the deal state.
import type { BeaconEntry } from '../block-header'
import * as dagCbor from '@ipld/dag-cbor'
import type { CID } from 'multiformats/cid'
import { amtGet, amtValues, buildAmt } from '../amt'
import { hamtGet, hamtSet } from '../hamt'
import type { BlockStore } from '../block-store'
import { getActor, setActor, creditActor, BURNT_FUNDS_ADDRESS, type Actor } from '../state-tree'
import { bytesEqual, validateAddressBytes, isKeyAddress } from '../address'
import { encodeBigInt, decodeBigInt } from '../token'
import { verifyPossession, encodePossessionProof, decodePossessionProof, type PathCheck } from '../pdp'
import {
  clientDealProposalFromTuple, dealProposalFromTuple, dealProposalTuple, dealProposalCid, verifyClientDealProposal,
  type DealProposal, type ClientDealProposal
} from './deal-proposal'
import {
  STORAGE_MARKET_ADDRESS, encodeMarketState, readMarketState, balanceOf, setBalance, type MarketState
} from './market-state'
import { decodeDealState, encodeDealState, decodeProofRecord, encodeProofRecord, type DealState, type ProofRecord } from './deal-state'
import { getMinerInfo } from './miner'
import { challengeSeed } from './randomness'
import { frc42MethodNumber } from './frc42'
import { updateClaimedPowers, type ClaimedPowerDelta } from '../power/power-claims'
import type { MarketParams } from './market-params'
import type { AttoFil, Epoch } from '../units'
import { ActorError, ActorExit, type InvokeResult } from '../actors/actor-error'

export const MarketMethod = {
  AddBalance: 2,
  WithdrawBalance: 3,
  PublishStorageDeals: 4,
  SubmitPossessionProofs: frc42MethodNumber('SubmitPossessionProofs')
} as const

/** Longest deal, in proving periods: bounds a deal's proof record. */
export const MAX_DEAL_PERIODS = 10_000

export interface MarketContext {
  store: BlockStore
  /** The epoch whose messages (and then cron) are being applied. */
  epoch: Epoch
  params: MarketParams
  /** The beacon entry of `epoch`'s round as this chain carries it (beaconEntryForEpoch), for challenge seeds; undefined when not known. */
  beaconAt: (epoch: Epoch) => BeaconEntry | undefined
  /** The Merkle path check to use (the WASM verifier where one is loaded). */
  pathCheck?: PathCheck
}

const fail = (code: number, message: string): never => { throw new ActorError(code, message) }

function decodeParams (params: Uint8Array): unknown {
  try { return dagCbor.decode(params) } catch (err) { return fail(ActorExit.ErrSerialization, `params are not DAG-CBOR: ${(err as Error).message}`) }
}

/** The market's state while a call runs: tables are rewritten as entries change; `commit` stores it. */
class MarketTx {
  state: MarketState
  private readonly actor: Actor
  /** FIL leaving the market actor (withdrawals, burns) in this call. */
  outflow = 0n

  constructor (readonly store: BlockStore, readonly root: CID) {
    const actor = getActor(store, root, STORAGE_MARKET_ADDRESS)
    if (actor === null) fail(ActorExit.ErrNotFound, 'this chain has no storage market actor')
    this.actor = actor!
    this.state = readMarketState(store, this.actor.head)
  }

  escrow (a: Uint8Array): AttoFil { return balanceOf(this.store, this.state.escrowTable, a) }
  locked (a: Uint8Array): AttoFil { return balanceOf(this.store, this.state.lockedTable, a) }
  free (a: Uint8Array): AttoFil { return this.escrow(a) - this.locked(a) }
  addEscrow (a: Uint8Array, delta: AttoFil): void { this.state.escrowTable = setBalance(this.store, this.state.escrowTable, a, this.escrow(a) + delta) }
  addLocked (a: Uint8Array, delta: AttoFil): void { this.state.lockedTable = setBalance(this.store, this.state.lockedTable, a, this.locked(a) + delta) }

  proposal (id: number): DealProposal | null {
    const raw = amtGet(this.store, this.state.proposals, id)
    return raw === undefined ? null : dealProposalFromTuple(raw)
  }

  dealState (id: number): DealState | null {
    const raw = amtGet(this.store, this.state.states, id)
    return raw === undefined ? null : decodeDealState(raw)
  }

  records (s: DealState): ProofRecord[] { return amtValues(this.store, s.proofs, 'v3', MAX_DEAL_PERIODS).map(decodeProofRecord) }

  /** Rewrites the States AMT with `changed` deal states (index → state). */
  writeStates (changed: Map<number, DealState>): void {
    if (changed.size === 0) return
    const all = amtValues(this.store, this.state.states, 'v3', Infinity)
    for (const [id, s] of changed) all[id] = encodeDealState(s)
    this.state.states = buildAmt(this.store, all)
  }

  commit (): CID {
    const head = this.store.put(encodeMarketState(this.state))
    if (this.outflow > this.actor.balance) fail(ActorExit.ErrIllegalState, 'market would pay out more than it holds')
    return setActor(this.store, this.root, STORAGE_MARKET_ADDRESS, { ...this.actor, head, balance: this.actor.balance - this.outflow })
  }
}


/**
 * Runs a market method. `root` already holds the message's value in the market actor's balance (Filecoin
 * moves the value before invoking the receiver).
 */
export function invokeMarket (ctx: MarketContext, root: CID, caller: Uint8Array, value: AttoFil, method: number, params: Uint8Array): InvokeResult {
  switch (method) {
    case MarketMethod.AddBalance: return addBalance(ctx, root, value, params)
    case MarketMethod.WithdrawBalance: return noValue(value, () => withdrawBalance(ctx, root, caller, params))
    case MarketMethod.PublishStorageDeals: return noValue(value, () => publishStorageDeals(ctx, root, caller, params))
    case MarketMethod.SubmitPossessionProofs: return noValue(value, () => submitPossessionProofs(ctx, root, caller, params))
    default: return fail(ActorExit.ErrUnhandledMessage, `the market has no method ${method}`)
  }
}

function noValue (value: AttoFil, run: () => InvokeResult): InvokeResult {
  if (value !== 0n) fail(ActorExit.ErrIllegalArgument, 'this method takes no value')
  return run()
}

function addressParam (raw: unknown): Uint8Array {
  try { return validateAddressBytes(raw as Uint8Array) } catch { return fail(ActorExit.ErrIllegalArgument, 'params are not an address') }
}

/** AddBalance(address): the message's value goes to `address`'s escrow (a client's key address or a provider). */
function addBalance (ctx: MarketContext, root: CID, value: AttoFil, params: Uint8Array): InvokeResult {
  const who = addressParam(decodeParams(params))
  if (value <= 0n) fail(ActorExit.ErrIllegalArgument, 'AddBalance needs a positive value')
  if (!isKeyAddress(who) && getMinerInfo(ctx.store, root, who) === null) fail(ActorExit.ErrIllegalArgument, 'escrow is for key addresses and storage providers')
  const tx = new MarketTx(ctx.store, root)
  tx.addEscrow(who, value)
  return { root: tx.commit(), return: new Uint8Array(0) }
}

/** WithdrawBalance([address, amount]): up to `amount` of the free escrow goes to the client, or to the provider's owner. */
function withdrawBalance (ctx: MarketContext, root: CID, caller: Uint8Array, params: Uint8Array): InvokeResult {
  const raw = decodeParams(params)
  if (!Array.isArray(raw) || raw.length !== 2 || !(raw[1] instanceof Uint8Array)) return fail(ActorExit.ErrSerialization, 'params are not [Address, Amount]')
  const who = addressParam(raw[0])
  let amount: bigint
  try { amount = decodeBigInt(raw[1]) } catch { return fail(ActorExit.ErrSerialization, 'Amount is not a big int') }
  if (amount < 0n) fail(ActorExit.ErrIllegalArgument, 'a withdrawal cannot be negative')
  let recipient = who
  if (!isKeyAddress(who)) {
    const miner = getMinerInfo(ctx.store, root, who) ?? fail(ActorExit.ErrNotFound, 'no such storage provider')
    if (!bytesEqual(caller, miner.owner) && !bytesEqual(caller, miner.worker)) fail(ActorExit.ErrForbidden, 'only the provider\'s owner or worker may withdraw')
    recipient = miner.owner
  } else if (!bytesEqual(caller, who)) fail(ActorExit.ErrForbidden, 'only the client may withdraw its escrow')
  const tx = new MarketTx(ctx.store, root)
  const out = amount < tx.free(who) ? amount : tx.free(who)
  tx.addEscrow(who, -out)
  tx.outflow += out
  // WithdrawBalanceReturn { AmountWithdrawn } is serde-transparent: the CBOR of the amount's bytes (builtin-actors
  // actors/market/src/types.rs), as the miner's WithdrawBalance returns it; not the bare big-int bytes
  return { root: creditActor(ctx.store, tx.commit(), recipient, out), return: dagCbor.encode(encodeBigInt(out)) }
}

/** What one missed period costs the provider (paid to the client). */
export const faultPenalty = (p: DealProposal, params: MarketParams): AttoFil => {
  const parts = 2n * BigInt(params.maxConsecutiveFaults)
  return (p.providerCollateral + parts - 1n) / parts
}

/** The storage fee of a whole deal. */
export const dealStorageFee = (p: DealProposal): AttoFil => p.storagePricePerEpoch * BigInt(p.endEpoch - p.startEpoch)

/** PublishStorageDeals([ClientDealProposal…]): all or nothing; returns [IDs, ValidDeals]. */
function publishStorageDeals (ctx: MarketContext, root: CID, caller: Uint8Array, params: Uint8Array): InvokeResult {
  const raw = decodeParams(params)
  if (!Array.isArray(raw) || raw.length !== 1 || !Array.isArray(raw[0]) || raw[0].length === 0) return fail(ActorExit.ErrSerialization, 'params are not [[ClientDealProposal…]]')
  let deals: ClientDealProposal[]
  try { deals = (raw[0] as unknown[]).map(clientDealProposalFromTuple) } catch (err) { return fail(ActorExit.ErrSerialization, (err as Error).message) }
  const tx = new MarketTx(ctx.store, root)
  const P = ctx.params.provingPeriod
  const ids: number[] = []
  const states = amtValues(ctx.store, tx.state.states, 'v3', Infinity)
  const proposals = amtValues(ctx.store, tx.state.proposals, 'v3', Infinity)
  const seen = new Set<string>()
  for (const d of deals) {
    const p = d.proposal
    try { verifyClientDealProposal(d) } catch (err) { fail(ActorExit.ErrIllegalArgument, (err as Error).message) }
    if (!isKeyAddress(p.client)) fail(ActorExit.ErrIllegalArgument, 'the client must be a key address')
    const miner = getMinerInfo(ctx.store, root, p.provider) ?? fail(ActorExit.ErrNotFound, 'the provider is not a storage provider')
    if (!bytesEqual(caller, miner.worker)) fail(ActorExit.ErrForbidden, 'only the provider\'s worker may publish its deals')
    if (p.startEpoch <= ctx.epoch) fail(ActorExit.ErrIllegalArgument, `deal start ${p.startEpoch} has passed (epoch ${ctx.epoch})`)
    if (p.startEpoch % P !== 0 || (p.endEpoch - p.startEpoch) % P !== 0) fail(ActorExit.ErrIllegalArgument, `deals start and end on proving-period boundaries (every ${P} epochs)`)
    if ((p.endEpoch - p.startEpoch) / P > MAX_DEAL_PERIODS) fail(ActorExit.ErrIllegalArgument, `a deal lasts at most ${MAX_DEAL_PERIODS} periods`)
    const key = dealProposalCid(p).bytes
    if (seen.has(key.join()) || hamtGet(ctx.store, tx.state.pendingProposals, key) !== undefined) fail(ActorExit.ErrIllegalArgument, 'this proposal was already published')
    seen.add(key.join())
    const fee = dealStorageFee(p)
    if (tx.free(p.client) < fee + p.clientCollateral) fail(ActorExit.ErrInsufficientFunds, 'the client\'s free escrow does not cover the storage fee and its collateral')
    if (tx.free(p.provider) < p.providerCollateral) fail(ActorExit.ErrInsufficientFunds, 'the provider\'s free escrow does not cover its collateral')
    tx.addLocked(p.client, fee + p.clientCollateral)
    tx.addLocked(p.provider, p.providerCollateral)
    tx.state.totalClientStorageFee += fee
    tx.state.totalClientLockedCollateral += p.clientCollateral
    tx.state.totalProviderLockedCollateral += p.providerCollateral
    tx.state.pendingProposals = hamtSet(ctx.store, tx.state.pendingProposals, key, true)
    const id = tx.state.nextId++
    proposals[id] = dealProposalTuple(p)
    states[id] = encodeDealState({ sectorStartEpoch: p.startEpoch, lastUpdatedEpoch: -1, slashEpoch: -1, proofs: buildAmt(ctx.store, []), consecutiveFaults: 0 })
    ids.push(id)
  }
  tx.state.proposals = buildAmt(ctx.store, proposals)
  tx.state.states = buildAmt(ctx.store, states)
  return { root: tx.commit(), return: dagCbor.encode([ids, allOnesBitfield(ids.length)]) }
}

/**
 * A bitfield of `n` set bits from 0 in Filecoin's RLE+ (bits least significant first: version 00, first
 * run's value 1, then the run length: "1" for one, "01"+4 bits below 16, "00"+varint otherwise).
 */
export function allOnesBitfield (n: number): Uint8Array {
  if (n === 0) return new Uint8Array(0)
  const bits: number[] = [0, 0, 1]
  if (n === 1) bits.push(1)
  else if (n < 16) bits.push(0, 1, ...[0, 1, 2, 3].map(i => (n >> i) & 1))
  else {
    bits.push(0, 0)
    for (let v = n; ; v >>>= 7) {
      const byte = (v & 0x7f) | (v >= 0x80 ? 0x80 : 0)
      for (let i = 0; i < 8; i++) bits.push((byte >> i) & 1)
      if (v < 0x80) break
    }
  }
  const out = new Uint8Array(Math.ceil(bits.length / 8))
  bits.forEach((b, i) => { out[i >> 3]! |= b << (i & 7) })
  // go-bitfield refuses trailing zero bytes: the encoding must be minimal
  let end = out.length
  while (end > 0 && out[end - 1] === 0) end--
  return out.subarray(0, end)
}

export interface PossessionProofEntry { dealId: number, challengeEpoch: Epoch, proof: Uint8Array }

export function encodeSubmitPossessionProofs (entries: PossessionProofEntry[]): Uint8Array {
  return dagCbor.encode([entries.map(e => [e.dealId, e.challengeEpoch, e.proof])])
}

/** The proof set one deal is challenged over: its one piece. */
export const dealProofSet = (p: DealProposal): { pieces: Array<{ pieceCid: CID, paddedBytes: number }> } => ({ pieces: [{ pieceCid: p.pieceCid, paddedBytes: p.pieceSize }] })

/** SubmitPossessionProofs([[DealID, ChallengeEpoch, Proof]…]) from the provider's worker: all are checked, or none is kept. */
function submitPossessionProofs (ctx: MarketContext, root: CID, caller: Uint8Array, params: Uint8Array): InvokeResult {
  const raw = decodeParams(params)
  if (!Array.isArray(raw) || raw.length !== 1 || !Array.isArray(raw[0]) || raw[0].length === 0) return fail(ActorExit.ErrSerialization, 'params are not [[[DealID, ChallengeEpoch, Proof]…]]')
  const tx = new MarketTx(ctx.store, root)
  const P = ctx.params.provingPeriod
  const changed = new Map<number, DealState>()
  for (const e of raw[0] as unknown[]) {
    const [id, c, proof] = Array.isArray(e) && e.length === 3 ? e as unknown[] : []
    if (!Number.isSafeInteger(id) || !Number.isSafeInteger(c) || !(proof instanceof Uint8Array)) fail(ActorExit.ErrSerialization, 'an entry is not [DealID, ChallengeEpoch, Proof]')
    const dealId = id as number
    const challengeEpoch = c as number
    const p = tx.proposal(dealId) ?? fail(ActorExit.ErrNotFound, `no deal ${dealId}`)
    const s = changed.get(dealId) ?? tx.dealState(dealId)!
    const miner = getMinerInfo(ctx.store, root, p.provider)
    if (miner === null || !bytesEqual(caller, miner.worker)) fail(ActorExit.ErrForbidden, `only deal ${dealId}'s provider may prove it`)
    if (s.slashEpoch >= 0) fail(ActorExit.ErrIllegalState, `deal ${dealId} was slashed`)
    if (challengeEpoch % P !== 0 || challengeEpoch < p.startEpoch || challengeEpoch + P > p.endEpoch) fail(ActorExit.ErrIllegalArgument, `deal ${dealId} has no period opening at ${challengeEpoch}`)
    if (ctx.epoch <= challengeEpoch || ctx.epoch > challengeEpoch + P) fail(ActorExit.ErrIllegalArgument, `the period opening at ${challengeEpoch} takes proofs in epochs ${challengeEpoch + 1}..${challengeEpoch + P}, not ${ctx.epoch}`)
    const period = (challengeEpoch - p.startEpoch) / P
    const records = tx.records(s)
    if (records.length !== period) fail(ActorExit.ErrIllegalArgument, `deal ${dealId} already has a proof for the period opening at ${challengeEpoch}`)
    const beacon = ctx.beaconAt(challengeEpoch) ?? fail(ActorExit.ErrIllegalState, `no beacon entry for epoch ${challengeEpoch} to draw challenges from`)
    const canonical = (() => {
      try { return encodePossessionProof(decodePossessionProof(proof as Uint8Array)) } catch (err) { return fail(ActorExit.ErrIllegalArgument, (err as Error).message) }
    })()
    try {
      verifyPossession(dealProofSet(p), challengeSeed(beacon, challengeEpoch, dealId), ctx.params.challengesPerPeriod, canonical, ctx.pathCheck)
    } catch (err) { fail(ActorExit.ErrIllegalArgument, `deal ${dealId}: ${(err as Error).message}`) }
    const link = ctx.store.put(canonical)
    records.push({ submittedEpoch: ctx.epoch, proof: link, settled: false, paid: 0n, penalty: 0n })
    changed.set(dealId, { ...s, proofs: buildAmt(ctx.store, records.map(encodeProofRecord)) })
  }
  tx.writeStates(changed)
  return { root: tx.commit(), return: new Uint8Array(0) }
}

/**
 * Whether a deal held power before the settlement of its period `period`: its latest settled period before
 * that one was proven. The caller has checked that the deal is neither slashed nor ended (those hold none).
 * A period never settled (no cron ran at its boundary) is passed over: nothing changed its power then.
 * Before any settled period a deal holds power only when it was activated at genesis (a pre-sealed deal,
 * SectorStartEpoch 0: genesis counted its power, see addGenesisDeals).
 */
function heldPowerBefore (records: ProofRecord[], period: number, atGenesis: boolean): boolean {
  for (let i = period - 1; i >= 0; i--) {
    const r = records[i]
    if (r?.settled === true) return r.proof !== null
  }
  return atGenesis
}

/** A deal genesis makes for a provider's pre-sealed piece (genesis.ts GenesisProvider.preseal). */
export interface GenesisDeal { provider: Uint8Array, client: Uint8Array, pieceCid: CID, pieceSize: number }

/**
 * Genesis power, the way a Lotus devnet starts from its pre-sealed sectors' deals: each pre-sealed piece becomes a
 * deal activated at genesis (SectorStartEpoch 0; free, no collateral, the provider's worker as client, from the first
 * proving boundary for as long as a deal may last), and its PieceSize its provider's power from genesis on. From
 * then on it is a deal like any other: each period must be proven or the power goes (and comes back with the next
 * proof), and too many misses in a row slash it. Without it no provider would hold power at genesis and Expected
 * Consensus could elect no one to make the blocks that would let them prove anything.
 */
export function addGenesisDeals (store: BlockStore, root: CID, params: MarketParams, deals: readonly GenesisDeal[]): CID {
  if (deals.length === 0) return root
  const tx = new MarketTx(store, root)
  const P = params.provingPeriod
  const proposals = amtValues(store, tx.state.proposals, 'v3', Infinity)
  const states = amtValues(store, tx.state.states, 'v3', Infinity)
  const power = new Map<string, ClaimedPowerDelta>()
  for (const d of deals) {
    const p: DealProposal = {
      pieceCid: d.pieceCid, pieceSize: d.pieceSize, verifiedDeal: false, client: d.client, provider: d.provider, label: 'genesis pre-seal',
      startEpoch: P, endEpoch: P + P * MAX_DEAL_PERIODS, storagePricePerEpoch: 0n, providerCollateral: 0n, clientCollateral: 0n
    }
    tx.state.pendingProposals = hamtSet(store, tx.state.pendingProposals, dealProposalCid(p).bytes, true)
    const id = tx.state.nextId++
    proposals[id] = dealProposalTuple(p)
    states[id] = encodeDealState({ sectorStartEpoch: 0, lastUpdatedEpoch: -1, slashEpoch: -1, proofs: buildAmt(store, []), consecutiveFaults: 0 })
    const was = power.get(d.provider.join()) ?? { miner: d.provider, rawByteDelta: 0n, qualityAdjustedDelta: 0n }
    power.set(d.provider.join(), { ...was, rawByteDelta: was.rawByteDelta + BigInt(d.pieceSize), qualityAdjustedDelta: was.qualityAdjustedDelta + BigInt(d.pieceSize) })
  }
  tx.state.proposals = buildAmt(store, proposals)
  tx.state.states = buildAmt(store, states)
  return updateClaimedPowers(store, tx.commit(), [...power.values()])
}

/**
 * The market's end-of-epoch work: at each proving-period boundary, every deal whose period just closed is
 * paid (proven) or penalised (not), then slashed or expired where that is due. Between boundaries it does
 * nothing. Runs after the epoch's messages, as Filecoin's cron does.
 * Then each provider's claimed power changes by the PieceSize of its deals that gained power at this
 * settlement less that of those that lost it (the rules at the top of this file), applied as builtin-actors'
 * add_to_claim (power-claims.ts updateClaimedPowers). Filecoin's path is a miner's UpdateClaimedPower send as
 * its sectors are proven or fault in Window PoSt; Coffer proves deals, not sectors, and settles them here, so
 * the market's cron changes the claims itself, as one internal step of the same cron (as Filecoin's cron runs
 * actors' internal sends), with each miner's net change once.
 */
export function runMarketCron (ctx: MarketContext, root: CID): CID {
  const P = ctx.params.provingPeriod
  const e = ctx.epoch
  if (e <= 0 || e % P !== 0 || getActor(ctx.store, root, STORAGE_MARKET_ADDRESS) === null) return root
  const tx = new MarketTx(ctx.store, root)
  // once per epoch, as builtin-actors' cron_tick walks from last_cron + 1: a second call at the same boundary (a
  // tipset of several blocks each executed with cron) must not pay every deal and add its power again
  if (tx.state.lastCron >= e) return root
  const changed = new Map<number, DealState>()
  const power = new Map<string, ClaimedPowerDelta>()
  let burn = 0n
  for (let id = 0; id < tx.state.nextId; id++) {
    const p = tx.proposal(id)!
    const s = tx.dealState(id)!
    if (s.slashEpoch >= 0 || s.lastUpdatedEpoch >= p.endEpoch || e - P < p.startEpoch || e > p.endEpoch) continue
    const records = tx.records(s)
    const period = (e - P - p.startEpoch) / P
    const fee = p.storagePricePerEpoch * BigInt(P)
    const proven = records[period]
    let next: DealState
    if (proven !== undefined && proven.proof !== null) {
      tx.addEscrow(p.client, -fee)
      tx.addLocked(p.client, -fee)
      tx.addEscrow(p.provider, fee)
      tx.state.totalClientStorageFee -= fee
      records[period] = { ...proven, settled: true, paid: fee }
      next = { ...s, lastUpdatedEpoch: e, consecutiveFaults: 0 }
    } else {
      const left = p.providerCollateral - records.reduce((sum, r) => sum + r.penalty, 0n)
      const share = faultPenalty(p, ctx.params)
      const penalty = share < left ? share : left
      tx.addLocked(p.client, -fee)
      tx.state.totalClientStorageFee -= fee
      tx.addEscrow(p.provider, -penalty)
      tx.addLocked(p.provider, -penalty)
      tx.addEscrow(p.client, penalty)
      tx.state.totalProviderLockedCollateral -= penalty
      records[period] = { submittedEpoch: -1, proof: null, settled: true, paid: 0n, penalty }
      next = { ...s, lastUpdatedEpoch: e, consecutiveFaults: s.consecutiveFaults + 1 }
      // slashed after too many misses in a row, or once the collateral is spent (misses spread out would
      // otherwise go on costing nothing)
      if (next.consecutiveFaults >= ctx.params.maxConsecutiveFaults || (p.providerCollateral > 0n && left - penalty === 0n)) {
        const unpaid = p.storagePricePerEpoch * BigInt(p.endEpoch - e)
        tx.addLocked(p.client, -(unpaid + p.clientCollateral))
        tx.state.totalClientStorageFee -= unpaid
        tx.state.totalClientLockedCollateral -= p.clientCollateral
        const rest = left - penalty
        tx.addEscrow(p.provider, -rest)
        tx.addLocked(p.provider, -rest)
        tx.state.totalProviderLockedCollateral -= rest
        burn += rest
        next = { ...next, slashEpoch: e }
      }
    }
    if (next.slashEpoch < 0 && e === p.endEpoch) {
      const left = p.providerCollateral - records.reduce((sum, r) => sum + r.penalty, 0n)
      tx.addLocked(p.client, -p.clientCollateral)
      tx.addLocked(p.provider, -left)
      tx.state.totalClientLockedCollateral -= p.clientCollateral
      tx.state.totalProviderLockedCollateral -= left
    }
    const held = heldPowerBefore(records, period, s.sectorStartEpoch === 0)
    const holds = proven !== undefined && proven.proof !== null && next.slashEpoch < 0 && e < p.endEpoch
    if (held !== holds) {
      const size = BigInt(p.pieceSize)
      const d = power.get(p.provider.join()) ?? { miner: p.provider, rawByteDelta: 0n, qualityAdjustedDelta: 0n }
      const delta = holds ? size : -size
      power.set(p.provider.join(), { ...d, rawByteDelta: d.rawByteDelta + delta, qualityAdjustedDelta: d.qualityAdjustedDelta + delta })
    }
    changed.set(id, { ...next, proofs: buildAmt(ctx.store, records.map(encodeProofRecord)) })
  }
  tx.writeStates(changed)
  tx.state.lastCron = e
  tx.outflow += burn
  return updateClaimedPowers(ctx.store, creditActor(ctx.store, tx.commit(), BURNT_FUNDS_ADDRESS, burn), [...power.values()])
}
