// The producer's side of Expected Consensus: given its worker's secret key and what the state says, a miner
// runs the election for one epoch and, when it wins, gets the signed header validateEcBlock accepts. Pure, as
// Lotus's miner/miner.go mineOne + createBlock and filcns CreateBlock are with their state reads taken out.
import { headerSigningBytes, sealHeader, type BeaconEntry, type BlockHeader, type SealedHeader } from '../block-header'
import { nobleBlsSigner, SIG_TYPE_BLS, type BlsSigner } from '../signature'
import { beaconRoundsForBlock, type BeaconRound } from '../beacon'
import { BASE_FEE } from '../apply-messages'
import type { BlockBody } from '../block-producer'
import type { TipSet } from '../tipset'
import type { StoragePower } from '../power'
import type { AttoFil, Epoch } from '../units'
import { runElection } from './election'
import { makeTicket } from './ticket'
import {
  ecBeaconData, ecIneligibility, ecTipSetWeight, tipSetMinTicket, tipSetMinTimestamp, type EcChainConfig, type EcMinerView
} from './ec-validate'

export interface EcMineInit {
  workerSecretKey: Uint8Array
  /** The miner's ID address bytes. */
  miner: Uint8Array
  /** The tipset to build on. */
  parent: TipSet
  /** The epoch to mine: the parent's height + 1, or more after null rounds (Lotus round = base height + nulls + 1). */
  height: Epoch
  config: EcChainConfig
  /** The latest beacon entry on the parent chain, as validateEcBlock's context has it. */
  prevBeaconEntry: BeaconEntry
  /** The network's TotalQualityAdjPower in the parent's ParentStateRoot (the parent's weight reads it). */
  parentTotalPower: StoragePower
  /** This miner's state, as validateEcBlock's context has it (workerKey is not read: the secret key signs). */
  view: EcMinerView
  /** The beacon's entry for a round (the devnet signs it, a provider has it from the network). */
  beaconEntry: (round: BeaconRound) => BeaconEntry
  /**
   * What executing the parent tipset gave (its state and receipts roots) and the messages this block carries.
   * Required: no default can know the parent's execution (the parent's own ParentStateRoot is right only when
   * the parent executed nothing, which the issue 13 review caught as a trap). A function is called only when the
   * miner wins (most rounds lose: a node selects its messages for a winner alone).
   */
  body: BlockBody | (() => BlockBody)
  parentBaseFee?: AttoFil
  /** Makes the election and ticket VRFs and the block signature: noble's unless given. */
  sign?: BlsSigner
}

/**
 * The signed header for `init.height` when this miner is eligible and its election VRF wins (Lotus mineOne:
 * null when not EligibleForMining or not IsRoundWinner), else null. The timestamp is the one the schedule
 * gives (Lotus createBlock: parent MinTimestamp + BlockDelaySecs · (nulls + 1)); publishing it no earlier
 * than that is the caller's business.
 */
export function makeEcHeader (init: EcMineInit): SealedHeader | null {
  const { parent, height, miner, view, config } = init
  if (!Number.isSafeInteger(height) || height <= parent.height) throw new RangeError(`height ${height} is not above the parent's ${parent.height}`)
  if (ecIneligibility(view, parent.height) !== null) return null
  const rounds = beaconRoundsForBlock(config.timing, height, parent.height, init.prevBeaconEntry)
  const beaconEntries = rounds.map(r => init.beaconEntry(r))
  const beaconData = ecBeaconData({ beaconEntries }, init.prevBeaconEntry)
  const sign = init.sign ?? nobleBlsSigner
  const electionProof = runElection(init.workerSecretKey, {
    beaconData, height, miner, minerPower: view.lookback.claim?.qualityAdjPower ?? 0n, totalPower: view.lookback.totalQualityAdjPower
  }, sign)
  if (electionProof === null) return null
  const ticket = makeTicket(init.workerSecretKey, { beaconData, height, miner, parentMinTicket: tipSetMinTicket(parent) }, sign)
  const body = typeof init.body === 'function' ? init.body() : init.body
  const unsigned: BlockHeader = {
    miner,
    ticket,
    electionProof,
    beaconEntries,
    winPoStProof: [],
    parents: parent.key,
    parentWeight: ecTipSetWeight(parent, init.parentTotalPower),
    height,
    parentStateRoot: body.parentStateRoot,
    parentMessageReceipts: body.parentMessageReceipts,
    messages: body.messages,
    blsAggregate: body.blsAggregate,
    timestamp: tipSetMinTimestamp(parent) + config.timing.filBlockDelaySecs * (height - parent.height),
    blockSig: null,
    forkSignaling: 0,
    parentBaseFee: init.parentBaseFee ?? BASE_FEE
  }
  return sealHeader({ ...unsigned, blockSig: { type: SIG_TYPE_BLS, data: sign(init.workerSecretKey, headerSigningBytes(unsigned)) } })
}
