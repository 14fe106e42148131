// Message application, in Lotus's order of checks (vm.ApplyMessage) with fixed gas prices: a transfer, or
// a method call dispatched by the receiver's actor code (actors/dispatch.ts: market, init, payment channel),
// charged by its params' size. A message that cannot even pay for its gas (unknown
// sender, wrong nonce, balance below GasLimit × GasFeeCap) changes nothing; one that can but then fails
// (value above what is left, unknown f0 receiver, out of gas) spends its nonce and its gas, moves no
// value, and says why in its receipt, as in Filecoin.
import { applyTipSetMessages, blockAward } from './tipset-execution'
import { REWARD_ACTOR_ADDRESS } from './reward/reward-state'
import { rewardCronTick } from './reward/reward-actor'
import { CID } from './cid'
import { getActor, setActor, creditActor, BURNT_FUNDS_ADDRESS, ACCOUNT_ACTOR_CODE, type Actor } from './state-tree'
import { Protocol, bytesEqual, isKeyAddress, addressToString } from './address'
import { runMarketCron, STORAGE_MARKET_ADDRESS, type MarketContext } from './market'
import { powerEpochTickEnd } from './power/power-claims'
import { ActorError, ActorExit } from './actors/actor-error'
import { methodHandler, callRuntime } from './actors/dispatch'
import { DEFAULT_PAYCH_PARAMS, type PaychParams } from './actors/runtime'
import { resolveAddress } from './init/init-state'
import { blsVerifyAggregate, SIG_TYPE_SECP256K1, type Signature } from './signature'
import { messageCid, validateMessageFields, verifyMessageSignature, METHOD_SEND, type Message, type SignedMessage } from './message'
import { ExitCode, type BlockMessages, type MessageReceipt } from './block-messages'
import { MessageSignatureError, NonceError, SenderNotAccountError } from './errors'
import { MalformedStateError } from './hamt'
import { ProofIncompleteError } from './block-store'
import type { AttoFil, GasUnits } from './units'
import type { GenesisState } from './genesis'
import type { BlockHeader } from './block-header'

/** Lotus's MinimumBaseFee; Coffer keeps the base fee there (no congestion pricing yet). */
export const BASE_FEE: AttoFil = 100n
/** Gas a transfer uses. Lotus measures ~0.5–2 M for a send depending on actor versions; Coffer fixes it. */
export const TRANSFER_GAS: GasUnits = 1_000_000

/** What Coffer's own senders (wallet, faucet) offer for a transfer: Lotus's 25 % gas margin, a small premium, twice the base fee. */
export const TRANSFER_GAS_LIMIT: GasUnits = Math.ceil(TRANSFER_GAS * 1.25)
export const TRANSFER_GAS_PREMIUM: AttoFil = 100n
export const TRANSFER_GAS_FEE_CAP: AttoFil = BASE_FEE * 2n + TRANSFER_GAS_PREMIUM

const NO_RETURN: Uint8Array = new Uint8Array(0)

/** go-state-types exitcode ErrAssertionFailed (USR_ASSERTION_FAILED): what fvm_sdk's panic hook aborts an actor with. */
export const EXIT_ASSERTION_FAILED = 24

/**
 * The exit code an actor call that threw ends with, or null when the throw is the node's own fault and the
 * block must fail on this node rather than be given a receipt:
 * - ActorError: its code.
 * - MalformedStateError (state that does not decode, a map past a reader's bound): ErrIllegalState, as
 *   builtin-actors loads its state with context_code(USR_ILLEGAL_STATE). State is content-addressed, so every
 *   node holding this state root reads the same bytes and ends with the same exit.
 * - ProofIncompleteError (a block of the state missing from this node's store): null. Another node has the
 *   block and would apply the message; a receipt here would fork this node off, so the block fails instead,
 *   as a blockstore failure is fatal to the FVM (never an exit code).
 * - any other Error (a bug in actor code, an actor panic): EXIT_ASSERTION_FAILED, the code fvm_sdk's panic
 *   hook aborts with (builtin-actors runtime: set_hook → vm::exit(USR_ASSERTION_FAILED)), so one bad message
 *   cannot halt the chain.
 */
export function exitCodeOfThrow (err: unknown): number | null {
  if (err instanceof ActorError) return err.exitCode
  if (err instanceof ProofIncompleteError) return null
  if (err instanceof MalformedStateError) return ActorExit.ErrIllegalState
  return err instanceof Error ? EXIT_ASSERTION_FAILED : null
}
const receipt = (exitCode: number, gasUsed: GasUnits): MessageReceipt => ({ exitCode, return: NO_RETURN, gasUsed, eventsRoot: null })

/** What one byte of a method call's params costs, on top of TRANSFER_GAS: proofs and vouchers are the large ones. */
export const PARAMS_GAS_PER_BYTE: GasUnits = 1000

/**
 * The gas a message uses when applied: Coffer prices gas by kind of call, not by executing it. A send is
 * TRANSFER_GAS; any method call (method ≠ 0, whatever it reaches) adds its params' bytes.
 */
export function messageGas (m: Message): GasUnits {
  return m.method !== METHOD_SEND ? TRANSFER_GAS + PARAMS_GAS_PER_BYTE * m.params.length : TRANSFER_GAS
}

/** The gas limit Coffer's own senders offer: Lotus's 25 % margin over what the message uses. */
export const gasLimitFor = (m: Message): GasUnits => Math.ceil(messageGas(m) * 1.25)

export interface ApplyContext extends MarketContext {
  baseFee: AttoFil
  /** The genesis's payment-channel parameters; absent: DEFAULT_PAYCH_PARAMS. */
  paych?: PaychParams
}

/** A block's miner and its WinCount: what the reward actor pays it for (its tips and its block reward). */
export interface BlockAward { miner: Uint8Array, winCount: number }

/** The context of one block's execution (the one-block tipset of applyBlockMessages). */
export type BlockApplyContext = ApplyContext & BlockAward

/**
 * The context for executing `executed`'s messages: its height is the epoch, its ParentBaseFee the base
 * fee, its Miner and WinCount what the reward actor pays; `beaconAt` looks up the beacon entries this chain
 * carries, for challenge seeds.
 */
export function executionContext (store: ApplyContext['store'], genesis: GenesisState, executed: BlockHeader, beaconAt: ApplyContext['beaconAt'], pathCheck?: ApplyContext['pathCheck']): BlockApplyContext {
  return { store, baseFee: executed.parentBaseFee, ...blockAward(executed), epoch: executed.height, params: genesis.market, paych: genesis.paych ?? DEFAULT_PAYCH_PARAMS, beaconAt, pathCheck }
}

const min = (a: bigint, b: bigint): bigint => a < b ? a : b
const max = (a: bigint, b: bigint): bigint => a > b ? a : b

/**
 * Applies one message whose signature has been checked. Returns the new root, its receipt and its miner tip
 * (GasLimit × the effective premium), which is credited to the reward actor (f02) as ref-fvm's executor
 * does (transfer_to_actor(REWARD_ACTOR_ID, miner_tip)): the block's AwardBlockReward pays it on to the
 * block's miner (tipset-execution.ts).
 */
export function applyMessage (ctx: ApplyContext, root: CID, m: Message): { root: CID, receipt: MessageReceipt, minerTip: AttoFil } {
  const unchanged = (code: number): { root: CID, receipt: MessageReceipt, minerTip: AttoFil } => ({ root, receipt: receipt(code, 0), minerTip: 0n })
  try { validateMessageFields(m) } catch { return unchanged(ExitCode.SysErrSenderInvalid) }
  const sender = getActor(ctx.store, root, m.from)
  if (sender === null) return unchanged(ExitCode.SysErrSenderInvalid)
  if (m.nonce !== sender.nonce) return unchanged(ExitCode.SysErrSenderStateInvalid)
  if (sender.balance < BigInt(m.gasLimit) * m.gasFeeCap) return unchanged(ExitCode.SysErrSenderStateInvalid)

  const needed = messageGas(m)
  const outOfGas = m.gasLimit < needed
  const gasUsed = outOfGas ? m.gasLimit : needed
  const burn = BigInt(gasUsed) * min(ctx.baseFee, m.gasFeeCap)
  const tip = BigInt(m.gasLimit) * min(m.gasPremium, max(0n, m.gasFeeCap - ctx.baseFee))
  const afterGas: Actor = { ...sender, nonce: sender.nonce + 1, balance: sender.balance - burn - tip }

  // an f2 receiver is the f0 the init actor gave it (unmapped: it stays f2 and has no actor)
  const to = resolveAddress(ctx.store, root, m.to) ?? m.to
  const handler = m.method === METHOD_SEND ? undefined : methodHandler(getActor(ctx.store, root, to)?.code, m.method)

  let exitCode: number = ExitCode.Ok
  let moved = false
  if (outOfGas) exitCode = ExitCode.SysErrOutOfGas
  else if (m.method !== METHOD_SEND && handler === undefined) exitCode = ExitCode.ErrUnhandledMessage
  // FIL sent to the market without AddBalance would belong to no escrow and could never leave: refused
  // (Filecoin accepts it and the funds are stuck; Coffer keeps market balance = the escrow table's sum)
  else if (m.method === METHOD_SEND && m.value > 0n && bytesEqual(to, STORAGE_MARKET_ADDRESS)) exitCode = ActorExit.ErrForbidden
  else if (m.value > afterGas.balance) exitCode = ExitCode.SysErrInsufficientFunds
  else if (!isKeyAddress(to) && getActor(ctx.store, root, to) === null) exitCode = ExitCode.SysErrInvalidReceiver
  else moved = true

  const spent = setActor(ctx.store, root, m.from, afterGas)
  let next = spent
  let ret: Uint8Array = NO_RETURN
  if (moved) {
    next = creditActor(ctx.store, setActor(ctx.store, root, m.from, { ...afterGas, balance: afterGas.balance - m.value }), to, m.value)
    if (handler !== undefined) {
      try {
        const scope = { origin: m.from, nonce: m.nonce, actorsCreated: 0 }
        const call = { store: ctx.store, epoch: ctx.epoch, market: ctx.params, paych: ctx.paych ?? DEFAULT_PAYCH_PARAMS, beaconAt: ctx.beaconAt, pathCheck: ctx.pathCheck }
        const out = handler(callRuntime(call, scope, m.from, to, m.value), next, m.params)
        next = out.root
        ret = out.return
      } catch (err) {
        const code = exitCodeOfThrow(err)
        if (code === null) throw err
        // a refused call keeps only the nonce and gas, as an aborted actor call does in Filecoin
        next = spent
        exitCode = code
      }
    }
  }
  next = creditActor(ctx.store, next, BURNT_FUNDS_ADDRESS, burn)
  next = creditActor(ctx.store, next, REWARD_ACTOR_ADDRESS, tip)
  return { root: next, receipt: { ...receipt(exitCode, gasUsed), return: ret }, minerTip: tip }
}

/**
 * Checks a block's gas limit (BlockGasLimitError) and message signatures (each secp signature; the BLS
 * ones through the block's aggregate), then applies its messages in execution order, pays `ctx.miner` its
 * reward for `ctx.winCount` and its tips, then runs the epoch's cron (the market's, then the power actor's
 * tick and the reward actor's). A block over the gas limit or with a bad signature is rejected whole. The
 * gas check comes first: it costs a sum, the signatures cost pairings. A tipset of one block whose parent is
 * the epoch before (tipset-execution.ts has the general case).
 */
export function applyBlockMessages (ctx: BlockApplyContext, root: CID, msgs: BlockMessages, blsAggregate: Signature | null): { root: CID, receipts: MessageReceipt[], receiptsRoot: CID } {
  return applyTipSetMessages(ctx, ctx.epoch - 1, root, [{ miner: ctx.miner, winCount: ctx.winCount, messages: msgs, blsAggregate }])
}

/**
 * One epoch's cron (run for null epochs too): the market's, then the power actor's end-of-epoch tick, then
 * the reward actor's UpdateNetworkKPI tick, which builtin-actors' power tick sends last.
 */
export function runEpochCron (ctx: ApplyContext, root: CID): CID {
  root = runMarketCron(ctx, root)
  // the power actor's end-of-epoch figures (ThisEpoch*, what CurrentTotalPower answers) after the market's cron
  // has changed this epoch's claims (power-claims.ts powerEpochTickEnd says why after, not before as Filecoin)
  root = powerEpochTickEnd(ctx.store, root)
  return rewardCronTick(ctx.store, root, ctx.epoch)
}

/**
 * Lotus's checkBlockMessages, its semantic part: in the state the block applies to (its ParentStateRoot), each
 * message's sender is an account actor (SenderNotAccountError) and the nonces of each sender's messages follow on
 * from its actor's nonce, in the block's order (BLS list, then secp; NonceError). A block that breaks it is
 * invalid whole; without it a miner could fill blocks with messages that cannot run, or carry one that already ran
 * again (its second receipt would then overwrite where the chain says it was executed).
 */
export function checkBlockMessageNonces (store: ApplyContext['store'], root: CID, msgs: BlockMessages): void {
  const next = new Map<string, number>()
  for (const m of [...msgs.bls, ...msgs.secp.map(sm => sm.message)]) {
    const id = resolveAddress(store, root, m.from) ?? m.from
    const key = id.join(',')
    let expected = next.get(key)
    if (expected === undefined) {
      const actor = getActor(store, root, m.from)
      if (actor === null || !actor.code.equals(ACCOUNT_ACTOR_CODE)) throw new SenderNotAccountError(addressToString(m.from))
      expected = actor.nonce
    }
    if (m.nonce !== expected) throw new NonceError(expected, m.nonce)
    next.set(key, expected + 1)
  }
}

export function checkBlockSignatures (msgs: BlockMessages, blsAggregate: Signature | null): void {
  for (const sm of msgs.secp) {
    // Lotus's checkBlockMessages (network v14+): SecpkMessages carry secp signatures only; a BLS-signed
    // message there would be addressed by its unsigned CID, the way BlsMessages entries are
    if (sm.signature.type !== SIG_TYPE_SECP256K1) throw new MessageSignatureError('a message in SecpkMessages is not secp256k1-signed')
    verifyMessageSignature(sm)
  }
  if (msgs.bls.length === 0) {
    if (blsAggregate !== null) throw new MessageSignatureError('block has a BLS aggregate but no BLS messages')
    return
  }
  const keys = msgs.bls.map(m => {
    if (m.from[0] !== Protocol.BLS) throw new MessageSignatureError('a message in BlsMessages is not from an f3 address')
    return m.from.subarray(1)
  })
  if (blsAggregate === null || !blsVerifyAggregate(keys, msgs.bls.map(m => messageCid(m).bytes), blsAggregate)) {
    throw new MessageSignatureError('BLS aggregate does not verify for the block\'s BLS messages')
  }
}

export type { SignedMessage }
