// Reading a deal (proposal, state, every proof record and its proof bytes) and an escrow entry out of a
// state tree, and the same reads replayed over a peer's blocks only, so a light client takes nothing about
// a deal or a balance on a node's word.
import { amtGet, readAmtRoot } from '../amt'
import { mustGet, ProofBlockStore, RecordingGetter, type BlockGetter } from '../block-store'
import { getActor } from '../state-tree'
import { MalformedStateError } from '../hamt'
import { STORAGE_MARKET_ADDRESS, MARKET_ACTOR_CODE, readMarketState, balanceOf, type MarketState } from './market-state'
import { decodeDealState, decodeProofRecord, type DealState, type ProofRecord } from './deal-state'
import { dealProposalFromTuple, type DealProposal } from './deal-proposal'
import { MAX_DEAL_PERIODS } from './market-actor'
import type { CID } from '../cid'
import type { AttoFil } from '../units'

export interface DealRecord {
  dealId: number
  proposal: DealProposal
  state: DealState
  /** One per settled or proven period, oldest first, each with its proof's bytes when it has one. */
  periods: Array<ProofRecord & { proofBytes: Uint8Array | null }>
}

export interface EscrowEntry { escrow: AttoFil, locked: AttoFil }

function market (store: BlockGetter, root: CID): MarketState | null {
  const actor = getActor(store, root, STORAGE_MARKET_ADDRESS)
  if (actor === null) return null
  if (!actor.code.equals(MARKET_ACTOR_CODE)) throw new MalformedStateError('f05 is not the storage market')
  return readMarketState(store, actor.head)
}

export function readDeal (store: BlockGetter, root: CID, dealId: number): DealRecord | null {
  const m = market(store, root)
  if (m === null || !Number.isSafeInteger(dealId) || dealId < 0) return null
  const rawProposal = amtGet(store, m.proposals, dealId)
  if (rawProposal === undefined) return null
  let proposal: DealProposal
  try { proposal = dealProposalFromTuple(rawProposal) } catch (err) { throw new MalformedStateError(`deal ${dealId}: ${(err as Error).message}`) }
  const rawState = amtGet(store, m.states, dealId)
  if (rawState === undefined) throw new MalformedStateError(`deal ${dealId} has a proposal but no state`)
  const state = decodeDealState(rawState)
  const { count } = readAmtRoot(store, state.proofs)
  if (count > MAX_DEAL_PERIODS) throw new MalformedStateError(`deal ${dealId} claims ${count} proof records`)
  const periods: DealRecord['periods'] = []
  for (let i = 0; i < count; i++) {
    const raw = amtGet(store, state.proofs, i)
    if (raw === undefined) throw new MalformedStateError(`deal ${dealId} proof record ${i} is missing`)
    const r = decodeProofRecord(raw)
    periods.push({ ...r, proofBytes: r.proof === null ? null : mustGet(store, r.proof) })
  }
  return { dealId, proposal, state, periods }
}

export function readEscrow (store: BlockGetter, root: CID, address: Uint8Array): EscrowEntry {
  const m = market(store, root)
  if (m === null) return { escrow: 0n, locked: 0n }
  return { escrow: balanceOf(store, m.escrowTable, address), locked: balanceOf(store, m.lockedTable, address) }
}

/** The blocks a verifier needs to replay `read` under `root`. */
export function recordReads (store: BlockGetter, read: (g: BlockGetter) => unknown): Uint8Array[] {
  const rec = new RecordingGetter(store)
  read(rec)
  return rec.blocks()
}

export const proveDeal = (store: BlockGetter, root: CID, dealId: number): Uint8Array[] => recordReads(store, g => readDeal(g, root, dealId))

/** The deal as the blocks prove it under a trusted root (null: proven absent); throws when they prove neither. */
export const verifyDealProof = (trustedRoot: CID, dealId: number, blocks: Uint8Array[]): DealRecord | null => readDeal(new ProofBlockStore(blocks), trustedRoot, dealId)

