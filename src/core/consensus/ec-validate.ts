// Expected Consensus block validation as Lotus's chain/consensus/filcns/filecoin.go ValidateBlock does it (commit
// b835fab7), pure: the caller reads the state (power, worker key) and the latest beacon entry and passes them in.
// Lotus runs its checks in parallel; here they run one after another, cheap ones first, so junk costs no pairing.
import { headerSigningBytes, type BeaconEntry, type BlockHeader, type SealedHeader } from '../block-header'
import { blsVerify } from '../signature'
import { idOf } from '../address'
import { beaconRoundsForBlock, validateBeaconRounds, verifyBeaconBatch, verifyBeaconEntriesOnce, type BeaconTiming, type VerifiedBeaconEntries } from '../beacon'
import type { TipSet } from '../tipset'
import type { CID } from '../cid'
import type { Claim, StoragePower } from '../power'
import type { AttoFil, Epoch, UnixSeconds } from '../units'
import { SIG_TYPE_BLS } from '../signature'
import { verifyOneSignerBatch, type OneSignerBatchVerifier } from '../header-batch'
import { computeWinCount } from './win-count'
import { electionProofBase, verifyElectionProof } from './election'
import { minTicket, ticketBase, verifyTicket } from './ticket'
import { tipsetWeight, type ChainWeight } from './weight'
import { NotAWinnerError, WinCountError } from './consensus-errors'
import { isHeavierTipSet, tipSetTickets, type Consensus } from './consensus'
import {
  BlockBeaconError, BlockSignatureError, FutureBlockError, IneligibleMinerError, MalformedEcBlockError, NotAboveParentError,
  OffScheduleTimestampError, ParentTipSetError, ParentWeightError, UnknownMinerError, type IneligibleReason
} from './ec-errors'

/** Lotus build/buildconstants/params_shared_vals.go AllowableClockDriftSecs = 1: how far ahead of our clock a block may be. */
export const EC_ALLOWED_CLOCK_DRIFT_SECS = 1

/** What a chain fixes at genesis for its blocks: the two clocks and the beacon's key. */
export interface EcChainConfig {
  /** filGenesisTime is the genesis header's Timestamp, filBlockDelaySecs the block delay; the beacon's clock beside them. */
  timing: BeaconTiming
  /** The beacon's public key (quicknet's scheme: a 96-byte G2 point). */
  beaconPublicKey: Uint8Array
  /** Defaults to Lotus's EC_ALLOWED_CLOCK_DRIFT_SECS. */
  allowedClockDriftSecs?: number
}

/**
 * What the state says about a block's miner, read by the caller (the light client by verified reads: readPower,
 * the miner's state). Lotus reads three state roots for one block:
 * - the lookback state `lbst` (lookback.ts lookbackState): the worker key (GetMinerWorkerRaw) and the power the
 *   election divides (GetPowerRaw);
 * - the lookback tipset's own ParentStateRoot (one tipset before lbst): whether the miner meets the consensus
 *   minimum (MinerEligibleToMine → minerHasMinPower(lbts));
 * - the parent tipset's ParentStateRoot (Lotus LoadActor(baseTs) reads baseTs.ParentState()): the claim must
 *   exist and hold power, no fee debt, no running consensus fault (minerIsValid, GetMinerSlashed, MinerEligibleToMine).
 */
export interface EcMinerView {
  /** The worker's 48-byte BLS public key (MinerInfo.Worker resolved to its key) in the lookback state. */
  workerKey: Uint8Array
  /** readPower at the lookback state: the miner's claim (null: none) and the network's TotalQualityAdjPower. */
  lookback: { claim: Claim | null, totalQualityAdjPower: StoragePower }
  /** readPower(...).hasMinPower at the lookback tipset's ParentStateRoot. */
  hasMinPower: boolean
  /** In the parent tipset's ParentStateRoot: the miner's claim (null: none), its FeeDebt and ConsensusFaultElapsed. */
  parent: { claim: Claim | null, feeDebt: AttoFil, consensusFaultElapsed: Epoch }
}

/** Everything validateEcBlock needs besides the block and its parent tipset. */
export interface EcBlockContext {
  config: EcChainConfig
  /** The verifier's clock, unix seconds. */
  now: UnixSeconds
  /**
   * The latest beacon entry on the parent chain (beacon-rounds.ts latestBeaconEntry of a parent block;
   * GENESIS_BEACON_ENTRY above a genesis that carries none).
   */
  prevBeaconEntry: BeaconEntry
  /** The network's TotalQualityAdjPower in the parent tipset's ParentStateRoot: what its weight reads (Lotus Weight). */
  parentTotalPower: StoragePower
  /** The block miner's state as above, or null when the state has no miner of that address at all. */
  minerView: (miner: Uint8Array) => EcMinerView | null
  /**
   * Random bytes for batching the block's pairings (the caller's: core reads no randomness). When given, the worker's
   * three signatures are checked as one batch and the beacon entries as another (four pairings instead of two per
   * signature); when a batch fails, the checks run one by one to name the error. Left out: one by one.
   */
  randomBytes?: (n: number) => Uint8Array
  /** Who checks the worker's batch (block signature, election and ticket VRFs): noble's verifyOneSignerBatch when left out. */
  workerBatch?: OneSignerBatchVerifier
  /**
   * Beacon entries verified before under this chain's beacon key (the caller's, kept across blocks): an entry found
   * there costs no pairing, and each entry verified here is added. Every block of a round carries the same entries.
   */
  verifiedBeacon?: VerifiedBeaconEntries
}

/** The smallest ticket of a tipset (Lotus TipSet.MinTicket), what its children's tickets chain from. */
export function tipSetMinTicket (tipset: TipSet): Uint8Array {
  return minTicket(tipSetTickets(tipset))
}

/** Lotus TipSet.MinTimestamp: the schedule a child's timestamp is counted from. */
export function tipSetMinTimestamp (tipset: TipSet): UnixSeconds {
  return Math.min(...tipset.blocks.map(b => b.header.timestamp))
}

/**
 * The weight of a tipset (Lotus filcns Weight): its blocks' ParentWeight plus the increment for its win counts,
 * with `totalPower` read from its ParentStateRoot. A block without an ElectionProof (a Coffer genesis) wins 0,
 * as Lotus's genesis carries an empty ElectionProof.
 */
export function ecTipSetWeight (tipset: TipSet, totalPower: StoragePower): ChainWeight {
  return tipsetWeight(tipset.blocks[0]!.header.parentWeight, totalPower, tipset.blocks.map(b => b.header.electionProof?.winCount ?? 0))
}

/** The beacon entry a block's election and ticket draw from: its own last entry, else the parent chain's latest (Lotus rBeacon). */
export function ecBeaconData (header: Pick<BlockHeader, 'beaconEntries'>, prevBeaconEntry: BeaconEntry): Uint8Array {
  const entries = header.beaconEntries
  return entries.length > 0 ? entries[entries.length - 1]!.data : prevBeaconEntry.data
}

/** Lotus MinerEligibleToMine (past network version 3) over the caller's reads, and a network with power to win. */
export function ecIneligibility (view: EcMinerView, parentHeight: Epoch): IneligibleReason | null {
  if (!view.hasMinPower) return 'BELOW_MIN_POWER'
  if (view.parent.claim === null || view.parent.claim.qualityAdjPower <= 0n) return 'NO_POWER'
  if (view.parent.feeDebt !== 0n) return 'FEE_DEBT'
  if (parentHeight <= view.parent.consensusFaultElapsed) return 'CONSENSUS_FAULT'
  if (view.lookback.totalQualityAdjPower <= 0n) return 'NO_NETWORK_POWER'
  return null
}

const sameCids = (a: readonly CID[], b: readonly CID[]): boolean => a.length === b.length && a.every((c, i) => c.equals(b[i]))

/**
 * The checks validateEcBlock runs, in its order, each throwing its named error (every one carrying the height
 * and miner). Exported one by one so a block made under older rules (early mainnet) can be run through the
 * ones that apply to it.
 */
export const ecChecks = {
  /** Lotus blockSanityChecks: ElectionProof, Ticket and BlockSig present, the miner an ID address. */
  sanity (h: BlockHeader): void {
    // Lotus also requires a BLSAggregate; Coffer's blocks carry none without BLS messages (apply-messages.ts
    // checkBlockSignatures), a message rule checked with the messages, not here.
    const fail = (reason: string): never => { throw new MalformedEcBlockError(h.height, h.miner, reason) }
    if (h.electionProof === null) fail('no election proof')
    if (h.ticket === null) fail('no ticket')
    if (h.blockSig === null) fail('no block signature')
    let id: bigint | null = null
    try { id = idOf(h.miner) } catch { /* unreadable: not an ID address */ }
    if (id === null) fail('the miner is not an ID address')
  },

  /**
   * The block's Parents are exactly the parent tipset's key (Lotus loads baseTs by them), in Lotus's order so a
   * parent has one name; and its height is above the parent's (null rounds between are allowed).
   */
  parents (h: BlockHeader, parent: TipSet): void {
    if (!sameCids(h.parents, parent.key)) throw new ParentTipSetError(h.height, h.miner, h.parents.map(String), parent.key.map(String))
    if (h.height <= parent.height) throw new NotAboveParentError(h.height, h.miner, parent.height)
  },

  /** Lotus: Timestamp = parent MinTimestamp + BlockDelaySecs · (height − parent height), and not beyond now + drift. */
  timestamp (h: BlockHeader, parent: TipSet, config: EcChainConfig, now: UnixSeconds): void {
    const expected = tipSetMinTimestamp(parent) + config.timing.filBlockDelaySecs * (h.height - parent.height)
    if (h.timestamp !== expected) throw new OffScheduleTimestampError(h.height, h.miner, h.timestamp, expected)
    if (h.timestamp > now + (config.allowedClockDriftSecs ?? EC_ALLOWED_CLOCK_DRIFT_SECS)) throw new FutureBlockError(h.height, h.miner, h.timestamp, now)
  },

  /** A miner with a claim in the parent state (minerIsValid, GetMinerSlashed) that is eligible to mine. */
  miner (h: BlockHeader, parent: TipSet, view: EcMinerView | null): EcMinerView {
    if (view === null || view.parent.claim === null) throw new UnknownMinerError(h.height, h.miner)
    const reason = ecIneligibility(view, parent.height)
    if (reason !== null) throw new IneligibleMinerError(h.height, h.miner, reason)
    return view
  },

  /** The claim of at least one win, and the claimed count equal to ComputeWinCount: arithmetic only, before the VRF's pairing. */
  winCount (h: BlockHeader, view: EcMinerView): void {
    const proof = h.electionProof!
    if (proof.winCount < 1) throw new NotAWinnerError(h.height, h.miner, proof.winCount)
    const computed = computeWinCount(proof.vrfProof, view.lookback.claim?.qualityAdjPower ?? 0n, view.lookback.totalQualityAdjPower)
    if (proof.winCount !== computed) throw new WinCountError(h.height, h.miner, proof.winCount, computed)
  },

  /** ParentWeight = Lotus Weight(parent tipset), with the total power of the parent's ParentStateRoot. */
  parentWeight (h: BlockHeader, parent: TipSet, parentTotalPower: StoragePower): void {
    const computed = ecTipSetWeight(parent, parentTotalPower)
    if (h.parentWeight !== computed) throw new ParentWeightError(h.height, h.miner, h.parentWeight, computed, parentTotalPower)
  },

  /** The beacon rounds the block must carry, without their signatures: a wrong list costs no pairing. */
  beaconRounds (h: BlockHeader, parent: TipSet, config: EcChainConfig, prev: BeaconEntry): void {
    const expected = beaconRoundsForBlock(config.timing, h.height, parent.height, prev)
    const rounds = h.beaconEntries.map(e => e.round)
    if (rounds.length !== expected.length || rounds.some((r, i) => r !== expected[i])) ecChecks.beacon(h, parent, config, prev)
  },

  /** BlockSig is the worker's BLS signature over the header with BlockSig null (Lotus sigs.CheckBlockSignature). */
  blockSignature (h: BlockHeader, view: EcMinerView): void {
    if (!blsVerify(view.workerKey, headerSigningBytes(h), h.blockSig!)) throw new BlockSignatureError(h.height, h.miner)
  },

  /**
   * Lotus beacon.ValidateBlockValues: the entries' rounds and each beacon signature (beacon-rounds.ts); with
   * `verified`, an entry found there is not verified again and one verified here is added (Lotus's VerifyEntry cache).
   */
  beacon (h: BlockHeader, parent: TipSet, config: EcChainConfig, prev: BeaconEntry, verified?: VerifiedBeaconEntries): void {
    try {
      // rounds first, signatures last (validateBeaconEntries): a wrong list costs no pairing
      validateBeaconRounds(config.timing, h, parent.height, prev)
      verifyBeaconEntriesOnce(config.beaconPublicKey, h.beaconEntries, verified)
    } catch (err) {
      throw new BlockBeaconError(h.height, h.miner, err as Error)
    }
  },

  /** The election VRF under the worker key (ElectionProofError), and again the win count (election.ts). */
  electionProof (h: BlockHeader, view: EcMinerView, beaconData: Uint8Array): void {
    verifyElectionProof({
      beaconData, height: h.height, miner: h.miner, workerKey: view.workerKey, electionProof: h.electionProof!,
      minerPower: view.lookback.claim?.qualityAdjPower ?? 0n, totalPower: view.lookback.totalQualityAdjPower
    })
  },

  /** The ticket VRF chained from the parent's min ticket (ticket.ts; Lotus's rule above UpgradeSmokeHeight). */
  ticket (h: BlockHeader, parent: TipSet, view: EcMinerView, beaconData: Uint8Array): void {
    verifyTicket({ beaconData, height: h.height, miner: h.miner, workerKey: view.workerKey, parentMinTicket: tipSetMinTicket(parent), ticket: h.ticket })
  }
}

/**
 * Throws a named error unless `block` is a valid Expected Consensus block on `parent` (the tipset its Parents
 * name) under `ctx`. Not checked here: the messages, base fee and ParentStateRoot (they need the parent
 * executed: Lotus CommonBlkChecks) and WinningPoSt (Coffer has no sectors to prove; its storage proofs are
 * the market's). Cheap checks first; then one pairing for the block signature, one per beacon entry, one
 * each for the election proof and the ticket (or, with `ctx.randomBytes`, two batches of them).
 */
export function validateEcBlock (block: SealedHeader, parent: TipSet, ctx: EcBlockContext): void {
  const h = block.header
  ecChecks.sanity(h)
  ecChecks.parents(h, parent)
  ecChecks.timestamp(h, parent, ctx.config, ctx.now)
  const view = ecChecks.miner(h, parent, ctx.minerView(h.miner))
  ecChecks.winCount(h, view)
  ecChecks.parentWeight(h, parent, ctx.parentTotalPower)
  ecChecks.beaconRounds(h, parent, ctx.config, ctx.prevBeaconEntry)
  const beaconData = ecBeaconData(h, ctx.prevBeaconEntry)
  // every rule but the signatures has passed (the win count from the VRF's bytes, the beacon rounds): when both
  // batches hold, so does each signature in them
  if (ctx.randomBytes !== undefined && ecSignaturesHold(h, parent, view, beaconData, ctx)) return
  // pairings: the block signature first, so a block its miner did not sign costs one
  ecChecks.blockSignature(h, view)
  ecChecks.beacon(h, parent, ctx.config, ctx.prevBeaconEntry, ctx.verifiedBeacon)
  ecChecks.electionProof(h, view, beaconData)
  ecChecks.ticket(h, parent, view, beaconData)
}

/**
 * The block's signatures in two small-exponent batches (header-batch.ts): the worker's block signature, election
 * VRF and ticket VRF as one signer's, and the beacon entries not in `ctx.verifiedBeacon` under the beacon's key.
 * False when any is missing, malformed or fails (the caller then checks one by one to name which).
 */
function ecSignaturesHold (h: BlockHeader, parent: TipSet, view: EcMinerView, beaconData: Uint8Array, ctx: EcBlockContext): boolean {
  const randomBytes = ctx.randomBytes!
  if (h.blockSig?.type !== SIG_TYPE_BLS || h.electionProof === null || h.ticket === null) return false
  const worker = [
    { message: headerSigningBytes(h), signature: h.blockSig.data },
    { message: electionProofBase(beaconData, h.height, h.miner), signature: h.electionProof.vrfProof },
    { message: ticketBase(beaconData, h.height, h.miner, tipSetMinTicket(parent)), signature: h.ticket }
  ]
  // (malformed points make either batch false: it decodes them inside its own try)
  if (!(ctx.workerBatch ?? verifyOneSignerBatch)(view.workerKey, worker, randomBytes)) return false
  const entries = ctx.verifiedBeacon?.unverified(h.beaconEntries) ?? h.beaconEntries
  if (!verifyBeaconBatch(ctx.config.beaconPublicKey, entries, randomBytes)) return false
  ctx.verifiedBeacon?.add(entries)
  return true
}

/** What weighing a tipset needs: the network's TotalQualityAdjPower in its ParentStateRoot. */
export interface EcWeightContext { totalPower: StoragePower }

/** Filecoin's Expected Consensus behind the Consensus interface. */
export const expectedConsensus: Consensus<EcBlockContext, EcWeightContext> = {
  validateBlock: validateEcBlock,
  weight: (tipset, ctx) => ecTipSetWeight(tipset, ctx.totalPower),
  isHeavier: isHeavierTipSet,
  executedTipSet: block => block.parents
}
