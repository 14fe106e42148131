// Executing a tipset as Lotus's ApplyBlocks does (chain/consensus/compute_state.go, commit b835fab7): first the
// cron of every null epoch between the parent and the tipset (so a proving boundary on a null round is still
// settled), then each block's messages in block order, a message that several blocks carry run once at its
// first, then the tipset epoch's cron, once. Coffer difference, until the reward actor is in the chain: a
// message's tip goes straight to the miner of the block that carried it (Lotus sends tips to the reward actor,
// and AwardBlockReward pays them on with the block reward).
import { applyMessage, runEpochCron, checkBlockSignatures, type ApplyContext } from './apply-messages'
import { messageCid, signedMessageCid, type Message } from './message'
import { storeReceipts, checkBlockGasLimit, type BlockMessages, type MessageReceipt } from './block-messages'
import type { Signature } from './signature'
import type { CID } from './cid'
import type { Epoch } from './units'

/** One block of a tipset as execution needs it: who mined it (tips go there) and its messages. */
export interface TipSetBlockMessages { miner: Uint8Array, messages: BlockMessages, blsAggregate: Signature | null }

/** The messages of a tipset in execution order, each once (Lotus's processedMsgs): what they are applied in, with the chain's CIDs. */
export function tipSetExecutionOrder (blocks: ReadonlyArray<Pick<TipSetBlockMessages, 'messages'>>): Array<{ message: Message, cid: CID }> {
  const seen = new Set<string>()
  const out: Array<{ message: Message, cid: CID }> = []
  for (const b of blocks) {
    const all = [...b.messages.bls.map(m => ({ message: m, cid: messageCid(m) })), ...b.messages.secp.map(sm => ({ message: sm.message, cid: signedMessageCid(sm) }))]
    for (const x of all) {
      // Lotus keys by the VM message's CID: the unsigned message, whichever list carried it
      const key = messageCid(x.message).toString()
      if (seen.has(key)) continue
      seen.add(key)
      out.push(x)
    }
  }
  return out
}

/**
 * Applies the tipset at `ctx.epoch` whose parent tipset is at `parentEpoch`, on the state `root` its blocks name
 * as ParentStateRoot. Each block's gas limit and signatures are checked first (a block that breaks them is
 * refused whole, as applyBlockMessages does). Returns the new root, one receipt per message applied, and their AMT.
 */
export function applyTipSetMessages (ctx: ApplyContext, parentEpoch: Epoch, root: CID, blocks: readonly TipSetBlockMessages[]): { root: CID, receipts: MessageReceipt[], receiptsRoot: CID } {
  if (!Number.isSafeInteger(parentEpoch) || parentEpoch >= ctx.epoch) throw new RangeError(`parent epoch ${parentEpoch} is not below the tipset's ${ctx.epoch}`)
  for (const b of blocks) {
    checkBlockGasLimit(b.messages)
    checkBlockSignatures(b.messages, b.blsAggregate)
  }
  for (let e = parentEpoch + 1; e < ctx.epoch; e++) root = runEpochCron({ ...ctx, epoch: e }, root)
  const receipts: MessageReceipt[] = []
  const seen = new Set<string>()
  for (const b of blocks) {
    const blockCtx = { ...ctx, miner: b.miner }
    for (const { message } of tipSetExecutionOrder([b])) {
      const key = messageCid(message).toString()
      if (seen.has(key)) continue
      seen.add(key)
      const out = applyMessage(blockCtx, root, message)
      root = out.root
      receipts.push(out.receipt)
    }
  }
  root = runEpochCron(ctx, root)
  return { root, receipts, receiptsRoot: storeReceipts(ctx.store, receipts) }
}
