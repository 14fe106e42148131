// What the page is shown of uploads and deals: plain data (strings for amounts, so it crosses postMessage
// and renders as is), built from verified deal records, this tab's verdicts and its upload records.
import {
  addressToString, dealStatus, challengeSeed, type BeaconEntry, decodeClientDealProposal, decodePossessionProof, nobleNodeHasher, dealProofSet,
  type DealRecord, type MarketParams, type WireError, type Epoch, type CID
} from '../core'
import { base16 } from 'multiformats/bases/base16'
import { sha256 } from '@noble/hashes/sha2.js'
import { deriveChallenges } from '../core/pdp/challenges'
import { DST_WINDOWED_POST_CHALLENGE_SEED } from '../core/market/randomness'
import { judgePath, knownNodes, pathNodes, type StepState } from '../core/pdp/path-steps'
import { locateLeaf, type CarLayout, type LeafPlace } from '../core/piece/car-layout'
import type { UploadRecord, CopyRecord, Verdict } from './deal-store'
import type { AuditRecord } from './audit-store'

export interface CopyView {
  provider: string
  state: CopyRecord['state']
  held: number
  total: number
  dealId?: number
  error?: WireError
  /** Measured from the provider's acknowledgements, bytes a second. */
  bytesPerSec?: number
  /** The proposal's start epoch now (moved later by each re-plan). */
  startEpoch?: Epoch
  replans?: number
  lastReplan?: CopyRecord['lastReplan']
}
export interface UploadView extends Omit<UploadRecord, 'proposals'> { copyViews: CopyView[] }

export interface PeriodView {
  index: number
  challengeEpoch: Epoch
  /** open: the period is running; pending: it has not started. */
  state: 'pending' | 'open' | 'proven' | 'faulted'
  /** This tab's own check of the proof (null until checked, or when there is no proof). */
  verdict: 'verified' | 'bad' | null
  submittedEpoch: Epoch | null
  /** Whether the chain has settled the period (paid it, or penalised its fault). */
  settled: boolean
  paid: string
  penalty: string
}

export interface DealView {
  dealId: number
  uploadId: string
  name: string
  provider: string
  client: string
  pieceCid: string
  label: string
  startEpoch: Epoch
  endEpoch: Epoch
  status: string
  pricePerEpoch: string
  providerCollateral: string
  periods: PeriodView[]
  paid: string
  penalties: string
  /** On a slashed deal: the unpaid fee and client collateral unlocked back to the client. */
  refunded: string
  /** On a slashed deal: the provider's collateral burnt beyond the penalties paid to the client. */
  burnt: string
  /**
   * Probability that losing 1 % of the file's bytes would have been caught by the proofs this tab verified.
   * Challenges fall anywhere in the padded piece; those landing in the zero padding past the payload test
   * nothing, so each challenge catches a loss with probability 1 % × (payload leaves / piece leaves).
   */
  durability: { lossPercent: number, caught: number, challengesVerified: number, payloadShare: number }
  verifiedAt: { height: Epoch, headerCid: string } | null
  error?: WireError
  /** The piece's padded size (bytes), from the verified record. */
  pieceSize: number
  /** This tab's spot audits of the deal, oldest first (audit-service.ts). */
  audits?: AuditRecord[]
}

export interface ProviderView {
  address: string, pricePerGiBEpoch: string, freeBytes: number, minPieceSize: number, maxPieceSize: number, collateralPerGiB: string, faults: number
  /** The signed ask's retrieval terms (attoFIL per GiB sent, '0' = free; interval bytes), for quoting a download. */
  retrievalPricePerGiB: string, paymentInterval: number, paymentIntervalIncrease: number
  /** Failed and unanswered spot audits this tab counts against it (audit-service.ts failuresOf). */
  failedAudits?: number
  /** Whether its last ask query verified; an offline provider is shown with its last ask and not chosen. */
  online?: boolean
  /** Its on-chain PeerId, the peer its ask came from. */
  peerId?: string
  /** The ask's SeqNo and expiry epoch (Filecoin StorageAsk). */
  seqNo?: number
  expiry?: number
  /** Where its addresses came from: its on-chain MinerInfo, or the bootstrap document's hint. */
  addrSource?: 'chain' | 'bootstrap' | 'none'
  /** When gossip last brought its verified ask announcement (the worker's clock, ms). */
  heardAtMs?: number
}

export interface DealsView {
  uploads: UploadView[]
  deals: DealView[]
  providers: ProviderView[]
  providerErrors: Array<{ provider: string, error: string }>
  /** The wallet key's market escrow, as the verified head shows it. */
  escrow: { address: string, escrow: string, locked: string, height: Epoch } | null
  /** Minutes between scheduled spot audits of each live deal while a tab is open; 0 = off. */
  auditEveryMinutes?: number
  /** Why storage cannot run in this tab, when it cannot. */
  error?: WireError
  /** The chain's epoch length (genesis blockDelaySecs): what a price per month counts its epochs in. */
  epochSeconds?: number
}

/**
 * One level of a path: `node` = H(node below, sibling) in the leaf's order (side: where the sibling sits);
 * `state` is this tab's verdict on the step (path-steps.ts), `wasm` the WASM verifier's word on it (absent when
 * the pool could not be asked).
 */
export interface ProofStep { sibling: string, node: string, side: 'left' | 'right', state: StepState, wasm?: boolean }
export interface ChallengeDetail {
  leaf: number
  value: string
  steps: ProofStep[]
  root: string
  ok: boolean
  /** How the challenge was drawn: i-th draw = sha256(seed ‖ u64be(i)) (hex) mod the piece's leaf count = `derived`. */
  draw: { index: number, hash: string, leaves: number, derived: number }
  /** Where the leaf sits in the CAR and the file; null when the upload's layout was not recorded. */
  place: LeafPlace | null
  /** When the path fails: the lowest step known wrong and the highest known right below it (step indices). */
  breakAt: { lowestBad: number, highestOk: number } | null
}
export interface ProofDetail {
  dealId: number
  period: number
  challengeEpoch: Epoch
  /** The verified header that carries the challenge epoch's beacon entry, and that entry (round, signature hex). */
  headerCid: string
  beaconRound: number
  beaconData: string
  /** Filecoin's DomainSeparationTag and the entropy (the deal ID, DAG-CBOR) the seed is drawn with. */
  tag: number
  seed: string
  challenges: ChallengeDetail[]
  verdict: Verdict | null
  /** The CAR's size and whether its layout was recorded at upload (old uploads did not record it). */
  carBytes: number | null
  layoutRecorded: boolean
  /** Whether every step was also re-hashed in the WASM verifier. */
  wasmSteps: boolean
}

const hex = (b: Uint8Array): string => base16.baseEncode(b)
/** The loss the durability figure is about: 1 % of the file's bytes. */
const LOSS = 0.01

export function describeUpload ({ proposals, layout: _layout, ...u }: UploadRecord): UploadView {
  // the layout (a few KiB) stays in the worker: only the proof detail reads it
  return {
    ...u,
    copyViews: (proposals ?? []).map(c => ({
      provider: c.provider,
      state: c.state,
      held: c.held,
      total: u.carBytes ?? 0,
      startEpoch: decodeClientDealProposal(c.signed).proposal.startEpoch,
      ...(c.dealId === undefined ? {} : { dealId: c.dealId }),
      ...(c.error === undefined ? {} : { error: c.error }),
      ...(c.bytesPerSec === undefined ? {} : { bytesPerSec: c.bytesPerSec }),
      ...(c.replans === undefined ? {} : { replans: c.replans, lastReplan: c.lastReplan })
    }))
  }
}

export interface DealViewInput {
  record: DealRecord
  /** The verified header the record was read at. */
  height: Epoch
  headerCid: string
  upload: UploadRecord
  verdicts: Map<string, Verdict>
  params: MarketParams
  /** The verified head now. */
  head: Epoch
  error?: WireError
}

export function describeDeal ({ record: d, height, headerCid, upload, verdicts, params, head, error }: DealViewInput): DealView {
  const p = d.proposal
  const P = params.provingPeriod
  const total = (p.endEpoch - p.startEpoch) / P
  const periods: PeriodView[] = []
  for (let i = 0; i < total; i++) {
    const r = d.periods[i]
    const c = p.startEpoch + i * P
    const v = verdicts.get(`${d.dealId}/${i}`)
    periods.push({
      index: i,
      challengeEpoch: c,
      state: r === undefined ? (head >= c && d.state.slashEpoch < 0 ? 'open' : 'pending') : r.proof !== null ? 'proven' : 'faulted',
      verdict: v === undefined ? null : v.ok ? 'verified' : 'bad',
      submittedEpoch: r === undefined || r.submittedEpoch < 0 ? null : r.submittedEpoch,
      settled: r?.settled ?? false,
      paid: (r?.paid ?? 0n).toString(),
      penalty: (r?.penalty ?? 0n).toString()
    })
  }
  const paid = d.periods.reduce((s, r) => s + r.paid, 0n)
  const penalties = d.periods.reduce((s, r) => s + r.penalty, 0n)
  const slashed = d.state.slashEpoch >= 0
  const challenges = periods.filter(x => x.verdict === 'verified').length * params.challengesPerPeriod
  const payloadLeaves = upload.carBytes === undefined ? p.pieceSize / 32 : Math.ceil(upload.carBytes / 127) * 4
  const payloadShare = Math.min(1, payloadLeaves / (p.pieceSize / 32))
  return {
    dealId: d.dealId, uploadId: upload.id, name: upload.name, provider: addressToString(p.provider, 't'), client: addressToString(p.client, 't'),
    pieceCid: p.pieceCid.toString(), label: typeof p.label === 'string' ? p.label : hex(p.label), startEpoch: p.startEpoch, endEpoch: p.endEpoch,
    status: dealStatus(p, d.state, head), pricePerEpoch: p.storagePricePerEpoch.toString(), providerCollateral: p.providerCollateral.toString(),
    periods, paid: paid.toString(), penalties: penalties.toString(),
    refunded: slashed ? (p.storagePricePerEpoch * BigInt(p.endEpoch - d.state.slashEpoch) + p.clientCollateral).toString() : '0',
    burnt: slashed ? (p.providerCollateral - penalties).toString() : '0',
    durability: { lossPercent: LOSS * 100, caught: 1 - (1 - LOSS * payloadShare) ** challenges, challengesVerified: challenges, payloadShare },
    verifiedAt: { height, headerCid },
    pieceSize: p.pieceSize,
    ...(error === undefined ? {} : { error })
  }
}

export interface ProofDetailExtras {
  /** The upload's CAR layout, when it was recorded, and the CAR's size. */
  layout?: CarLayout | null
  carBytes?: number | null
  /** Per challenge, per step: the WASM verifier's word (pool.pathSteps over the nodes proofNodes gives). */
  stepChecks?: boolean[][]
}

/** Each challenge's nodes from its leaf up (nodes[0] the leaf), computed in TypeScript: what the WASM pool is asked to confirm. */
export function proofNodes (proofBytes: Uint8Array): Array<{ leaf: number, value: Uint8Array, path: Uint8Array[], nodes: Uint8Array[] }> {
  return decodePossessionProof(proofBytes).map(ch => ({ leaf: ch.leaf, value: ch.value, path: ch.path, nodes: pathNodes(ch.value, ch.leaf, ch.path, nobleNodeHasher) }))
}

/** A proof's challenges for drawing: how each was drawn, each leaf hashed up its path with a verdict per step, and where the leaf sits in the file. */
/** Where a period's challenges come from: the beacon entry of its challenge epoch, and the verified header that carries it. */
export interface ChallengeSource { headerCid: CID, beacon: BeaconEntry }

export function describeProof (d: DealRecord, period: number, challengeEpoch: Epoch, source: ChallengeSource, verdict: Verdict | null, extras: ProofDetailExtras = {}): ProofDetail {
  const proofBytes = d.periods[period]?.proofBytes
  if (proofBytes == null) throw new RangeError(`deal ${d.dealId} has no proof for period ${period}`)
  const root = d.proposal.pieceCid.multihash.digest
  const height = Math.log2(d.proposal.pieceSize / 32)
  const seed = challengeSeed(source.beacon, challengeEpoch, d.dealId)
  const proofs = proofNodes(proofBytes)
  const leaves = d.proposal.pieceSize / 32
  const drawn = proofs.length === 0 ? [] : deriveChallenges(seed, dealProofSet(d.proposal), proofs.length)
  const carBytes = extras.carBytes ?? null
  const checks = extras.stepChecks?.length === proofs.length ? extras.stepChecks : undefined
  // paths that reached the root (and every WASM step agreed) vouch for the nodes they share with a failing one
  const verified = proofs.filter((p, i) => p.path.length === height && hex(p.nodes[height]!) === hex(root) && (checks?.[i]?.every(Boolean) ?? true))
  const known = knownNodes(root, height, carBytes === null ? null : Math.ceil(carBytes / 127) * 128, verified)
  const challenges = proofs.map((p, i) => {
    const judged = judgePath(root, p.leaf, p.value, p.path, known, checks?.[i])
    let index = p.leaf
    const steps: ProofStep[] = p.path.map((sibling, k) => {
      const side: ProofStep['side'] = index % 2 === 0 ? 'right' : 'left'
      index = Math.floor(index / 2)
      return { sibling: hex(sibling), node: hex(judged.nodes[k + 1]!), side, state: judged.steps[k]!, ...(checks === undefined ? {} : { wasm: checks[i]![k]! }) }
    })
    const input = new Uint8Array(40)
    input.set(seed)
    new DataView(input.buffer).setBigUint64(32, BigInt(i))
    return {
      leaf: p.leaf, value: hex(p.value), steps, root: hex(root), ok: judged.reachesRoot && p.path.length === height,
      draw: { index: i, hash: hex(sha256(input)), leaves, derived: drawn[i]?.leaf ?? -1 },
      place: extras.layout == null ? null : locateLeaf(extras.layout, p.leaf),
      breakAt: judged.breakAt
    }
  })
  return {
    dealId: d.dealId, period, challengeEpoch, headerCid: source.headerCid.toString(), beaconRound: source.beacon.round, beaconData: hex(source.beacon.data), tag: DST_WINDOWED_POST_CHALLENGE_SEED, seed: hex(seed),
    challenges, verdict, carBytes, layoutRecorded: extras.layout != null, wasmSteps: checks !== undefined
  }
}
