// A synthetic Expected Consensus chain for tests and the bench: three miners with BLS keys and fixed power, a devnet
// beacon whose round r is epoch r, mined epoch by epoch with makeEcHeader (null rounds and tipsets of several blocks
// come within a few epochs), and the context validateEcBlock needs for each block.
import {
  validateEcBlock, makeEcHeader, type EcBlockContext, type EcChainConfig, type EcMinerView
} from '../../src/core/consensus'
import { beaconPublicKey, signBeaconRound, latestBeaconEntry, GENESIS_BEACON_ENTRY, type BeaconRound } from '../../src/core/beacon'
import {
  createGenesis, sealHeader, makeTipSet, headerSigningBytes, blsSign, blsPublicKey, idAddressBytes, idOf,
  minerNominalPowerMeetsConsensusMinimum, EPOCH_UNDEFINED, DEFAULT_WINDOW_POST_PROOF_TYPE, EMPTY_AMT_CID, EMPTY_TXMETA_CID, type BlockBody,
  type BlockHeader, type SealedHeader, type TipSet, type Claim, type Genesis
} from '../../src/core'
import { TEST_BEACON } from './test-beacon'


export const DELAY = 30
export const GENESIS_TIME = 1_800_000_000
export const beaconSecret = new Uint8Array(32).fill(7)
export const config: EcChainConfig = {
  // beacon genesis = chain genesis and period = block delay: maxBeaconRoundForEpoch(e) = e
  timing: { filGenesisTime: GENESIS_TIME, filBlockDelaySecs: DELAY, beaconGenesisTime: GENESIS_TIME, beaconPeriodSecs: DELAY },
  beaconPublicKey: beaconPublicKey(beaconSecret)
}
export const beaconEntry = (round: BeaconRound): { round: number, data: Uint8Array } => ({ round, data: signBeaconRound(beaconSecret, round) })

export const TiB = 1n << 40n
// the three hold 10 of 32 TiB of the network's power (the rest offline), so λ = 5·10/32 ≈ 1.56 winners an epoch:
// null rounds (P ≈ 21 %) and epochs of several winners (P ≈ 46 %) both come within a few epochs
export const TOTAL_POWER = 32n * TiB
export const miners = [
  { id: 1000, secret: new Uint8Array(32).fill(21), power: 5n * TiB },
  { id: 1001, secret: new Uint8Array(32).fill(22), power: 3n * TiB },
  { id: 1002, secret: new Uint8Array(32).fill(23), power: 2n * TiB }
].map(m => ({ ...m, address: idAddressBytes(m.id), workerKey: blsPublicKey(m.secret) }))
export type Miner = typeof miners[number]

export const claimOf = (power: bigint): Claim => ({ windowPoStProofType: DEFAULT_WINDOW_POST_PROOF_TYPE, rawBytePower: power, qualityAdjPower: power })
export function viewOf (m: Miner): EcMinerView {
  const claim = claimOf(m.power)
  return {
    workerKey: m.workerKey,
    lookback: { claim, totalQualityAdjPower: TOTAL_POWER },
    // builtin-actors' rule over the claim, as readPower answers hasMinPower (3 miners above the 2 KiB devnet minimum)
    hasMinPower: minerNominalPowerMeetsConsensusMinimum({ minerAboveMinPowerCount: 3 }, claim),
    parent: { claim, feeDebt: 0n, consensusFaultElapsed: EPOCH_UNDEFINED }
  }
}
export const minerOf = (address: Uint8Array): Miner => miners.find(m => m.id === Number(idOf(address)))!

export let genesis: Genesis
export const byCid = new Map<string, SealedHeader>()
export const tipsets: TipSet[] = [] // every non-null tipset, genesis first
export const nullRounds: number[] = []

export const parentTipSetOf = (h: BlockHeader): TipSet => makeTipSet(h.parents.map(c => byCid.get(c.toString())!))
export function prevEntryOf (parent: TipSet): { round: number, data: Uint8Array } {
  // a Coffer genesis carries no beacon entry: the first blocks start from Lotus's genesis entry (round 0)
  if (parent.height === 0) return GENESIS_BEACON_ENTRY
  return latestBeaconEntry(parent.blocks[0]!.header, h => h.height === 0 ? undefined : byCid.get(h.parents[0]!.toString())?.header)
}
export function ctxFor (h: BlockHeader, over: Partial<EcBlockContext> = {}): EcBlockContext {
  const parent = parentTipSetOf(h)
  return {
    config,
    now: h.timestamp,
    prevBeaconEntry: prevEntryOf(parent),
    parentTotalPower: TOTAL_POWER,
    minerView: address => { const m = miners.find(m => m.id === Number(idOf(address))); return m === undefined ? null : viewOf(m) },
    ...over
  }
}
export const validate = (b: SealedHeader, over: Partial<EcBlockContext> = {}, parent?: TipSet): void =>
  validateEcBlock(b, parent ?? parentTipSetOf(b.header), ctxFor(b.header, over))

/** A header with some fields changed, signed again by `signer` (by default its own miner's worker): a miner forging its own block. */
export function forge (b: SealedHeader, changes: Partial<BlockHeader>, signer: Uint8Array = minerOf(b.header.miner).secret): SealedHeader {
  const unsigned = { ...b.header, ...changes, blockSig: null }
  return sealHeader({ ...unsigned, blockSig: blsSign(signer, headerSigningBytes(unsigned)) })
}

/** This chain's blocks carry no messages, so executing a parent changes nothing: its state root is its parent's. */
export const emptyBody = (parent: TipSet): BlockBody => ({
  parentStateRoot: parent.blocks[0]!.header.parentStateRoot, parentMessageReceipts: EMPTY_AMT_CID, messages: EMPTY_TXMETA_CID, blsAggregate: null
})

export function mineEpoch (parent: TipSet, height: number): SealedHeader[] {
  const out: SealedHeader[] = []
  for (const m of miners) {
    const b = makeEcHeader({
      workerSecretKey: m.secret, miner: m.address, parent, height, config, prevBeaconEntry: prevEntryOf(parent),
      parentTotalPower: TOTAL_POWER, view: viewOf(m), beaconEntry, body: emptyBody(parent)
    })
    if (b !== null) out.push(b)
  }
  return out
}

/**
 * Mines the synthetic chain into the module's state (genesis, byCid, tipsets, nullRounds): by default until it has a
 * null round, a tipset of several blocks and 6 tipsets above genesis (within 40 epochs); `epochs` mines that many.
 */
export function mineSyntheticChain ({ epochs, log = true }: { epochs?: number, log?: boolean } = {}): void {
  genesis = createGenesis({ beacon: TEST_BEACON, network: 'ec-test', producer: idAddressBytes(99), producerKey: blsPublicKey(new Uint8Array(32).fill(3)), blockDelaySecs: DELAY }, GENESIS_TIME)
  byCid.set(genesis.header.cid.toString(), genesis.header)
  tipsets.push(makeTipSet([genesis.header]))
  // mine until the chain has a null round, a tipset of several blocks and 6 tipsets above genesis (within 40 epochs)
  for (let height = 1; height <= (epochs ?? 40); height++) {
    const winners = mineEpoch(tipsets[tipsets.length - 1]!, height)
    if (winners.length === 0) { nullRounds.push(height); continue }
    for (const b of winners) byCid.set(b.cid.toString(), b)
    tipsets.push(makeTipSet(winners))
    if (epochs === undefined && nullRounds.length > 0 && tipsets.some(t => t.blocks.length > 1) && tipsets.length > 6) break
  }
  const shape = tipsets.slice(1).map(t => `${t.height}:${t.blocks.map(b => `f0${minerOf(b.header.miner).id}×${b.header.electionProof!.winCount}`).join('+')}`)
  if (log) console.log(`synthetic chain: ${shape.join(' ')}; null rounds ${nullRounds.join(',')}`)
}
