// The chain as Coffer ran it before Expected Consensus (one genesis key signs every block, header-rules.ts)
// behind the Consensus interface, so callers can move to the interface before the rules change under them.
import { validateHeader } from '../header-rules'
import { UnknownParentError } from '../errors'
import type { Genesis } from '../genesis'
import type { UnixSeconds } from '../units'
import { isHeavierTipSet, type Consensus } from './consensus'

export interface SingleProducerContext { genesis: Genesis, now: UnixSeconds }

export const singleProducerConsensus: Consensus<SingleProducerContext> = {
  validateBlock (block, parent, ctx) {
    // one producer makes one block an epoch: a parent tipset of several blocks is not this chain's
    if (parent.blocks.length !== 1) throw new UnknownParentError(parent.key.map(String).join(','), block.header.height)
    validateHeader(block, parent.blocks[0]!, ctx.genesis, ctx.now)
  },
  // block-producer.ts writes ParentWeight = the parent's height + 1: with no null rounds, the count of blocks
  weight: tipset => BigInt(tipset.height + 1),
  isHeavier: isHeavierTipSet,
  executedTipSet: block => block.parents
}
