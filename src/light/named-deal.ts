// What a provider's "published as deal N" is worth, judged from the verified chain (pure: the caller reads the deal
// and says at which head). The provider's word is checked, never kept: deal N must be this proposal. A deal that is
// not on chain can still come while the proposal's start epoch is ahead, and never after it (the market refuses to
// publish a deal whose start has passed: market-actor.ts, builtin-actors' "proposal start epoch has already
// elapsed"), so once the verified state is past the start, a deal still missing is a provider that never published.
import { dealProposalCid, type DealProposal, type DealRecord, type Epoch, type WireError } from '../core'

/**
 * Epochs past the start before a missing deal is called a lie: the state at head H holds what was executed up to
 * H − 1, and a block or two may yet be replaced by a reorganisation.
 */
export const NOT_PUBLISHED_MARGIN: Epoch = 3

export type NamedDealVerdict =
  | { kind: 'confirmed' }
  | { kind: 'wait' }
  | { kind: 'lied', error: WireError }

export function judgeNamedDeal (provider: string, dealId: number, proposal: DealProposal, onChain: DealRecord | null, readAt: Epoch): NamedDealVerdict {
  if (onChain !== null) {
    return dealProposalCid(onChain.proposal).equals(dealProposalCid(proposal))
      ? { kind: 'confirmed' }
      : { kind: 'lied', error: { name: 'DealMismatchError', message: `${provider} named deal ${dealId}, which is not this proposal on chain` } }
  }
  if (readAt > proposal.startEpoch + NOT_PUBLISHED_MARGIN) {
    return { kind: 'lied', error: { name: 'DealNotPublishedError', message: `${provider} named deal ${dealId}, but no such deal is on chain at ${readAt}, past the proposal's start epoch ${proposal.startEpoch}: it was never published` } }
  }
  return { kind: 'wait' }
}
