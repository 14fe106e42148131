// Executing a tipset as Lotus's ApplyBlocks does (chain/consensus/compute_state.go, commit b835fab7): first the
// cron of every null epoch between the parent and the tipset (so a proving boundary on a null round is still
// settled), then for each block its messages in block order, a message that several blocks carry run once at
// its first, and the block's reward: an implicit AwardBlockReward from the system actor (f00) to the reward
// actor (f02) with the block's Miner, its WinCount, Penalty and the tips its messages paid (each tip was
// credited to f02 as the message ran); then the tipset epoch's cron, once.
import { applyMessage, runEpochCron, checkBlockSignatures, exitCodeOfThrow, type ApplyContext, type BlockAward } from './apply-messages'
import { messageCid, signedMessageCid, type Message } from './message'
import { storeReceipts, checkBlockGasLimit, ExitCode, type BlockMessages, type MessageReceipt } from './block-messages'
import { callRuntime, methodHandler } from './actors/dispatch'
import { getActor } from './state-tree'
import { REWARD_ACTOR_ADDRESS, SYSTEM_ACTOR_ADDRESS } from './reward/reward-state'
import { RewardMethod, encodeAwardBlockRewardParams } from './reward/reward-actor'
import { DEFAULT_PAYCH_PARAMS } from './actors/runtime'
import type { BlockHeader } from './block-header'
import type { Signature } from './signature'
import type { CID } from './cid'
import type { AttoFil, Epoch } from './units'

/**
 * The WinCount a block is paid for: its ElectionProof's. A block of Coffer's single producer has no
 * ElectionProof (there is no election yet) and counts as one win, the one block the genesis lets it make an
 * epoch; its producer is no miner actor, so the reward actor burns what it is awarded (builtin-actors sends a
 * non-miner's reward to f099).
 */
export const SINGLE_PRODUCER_WIN_COUNT = 1

export const blockAward = (h: Pick<BlockHeader, 'miner' | 'electionProof'>): BlockAward =>
  ({ miner: h.miner, winCount: h.electionProof?.winCount ?? SINGLE_PRODUCER_WIN_COUNT })

/** Lotus's "reward application message failed": the block's AwardBlockReward did not succeed, so the tipset cannot be executed. */
export class RewardApplicationError extends Error {
  static override name = 'RewardApplicationError'
  override name = 'RewardApplicationError'
  constructor (readonly exitCode: number, message: string) { super(`reward application message failed (exit ${exitCode}): ${message}`) }
}

/** One block of a tipset as execution needs it: who mined it and its WinCount (what it is paid for), and its messages. */
export interface TipSetBlockMessages extends BlockAward { messages: BlockMessages, blsAggregate: Signature | null }

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
 * refused whole, as applyBlockMessages does). Returns the new root, one receipt per message applied (the
 * implicit reward messages have none, as in Lotus), and their AMT. A block whose reward cannot be applied
 * (a WinCount below 1, a Miner with no actor, a chain with no reward actor) throws RewardApplicationError.
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
    let gasReward: AttoFil = 0n
    for (const { message } of tipSetExecutionOrder([b])) {
      const key = messageCid(message).toString()
      if (seen.has(key)) continue
      seen.add(key)
      const out = applyMessage(ctx, root, message)
      root = out.root
      receipts.push(out.receipt)
      gasReward += out.minerTip
    }
    root = awardBlockReward(ctx, root, b, gasReward)
  }
  root = runEpochCron(ctx, root)
  return { root, receipts, receiptsRoot: storeReceipts(ctx.store, receipts) }
}

/**
 * Lotus's reward step (ApplyBlocks → rewardActorMessage, ApplyImplicitMessage): AwardBlockReward([Miner,
 * Penalty, GasReward, WinCount]) from f00 to f02, dispatched on f02's code as any call. Penalty is 0: Coffer's
 * gas model charges no MinerPenalty (apply-messages.ts burns at min(BaseFee, GasFeeCap) and nothing more).
 */
function awardBlockReward (ctx: ApplyContext, root: CID, award: BlockAward, gasReward: AttoFil): CID {
  const handler = methodHandler(getActor(ctx.store, root, REWARD_ACTOR_ADDRESS)?.code, RewardMethod.AwardBlockReward)
  if (handler === undefined) throw new RewardApplicationError(ExitCode.SysErrInvalidReceiver, 'this chain has no reward actor at f02')
  const call = { store: ctx.store, epoch: ctx.epoch, market: ctx.params, paych: ctx.paych ?? DEFAULT_PAYCH_PARAMS, beaconAt: ctx.beaconAt, pathCheck: ctx.pathCheck }
  // Lotus's implicit message: From f00, Nonce = the epoch, Value 0
  const rt = callRuntime(call, { origin: SYSTEM_ACTOR_ADDRESS, nonce: ctx.epoch, actorsCreated: 0 }, SYSTEM_ACTOR_ADDRESS, REWARD_ACTOR_ADDRESS, 0n)
  try {
    return handler(rt, root, encodeAwardBlockRewardParams({ miner: award.miner, penalty: 0n, gasReward, winCount: award.winCount })).root
  } catch (err) {
    const code = exitCodeOfThrow(err)
    if (code === null) throw err
    throw new RewardApplicationError(code, (err as Error).message)
  }
}
