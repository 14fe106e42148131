// Message application, in Lotus's order of checks (vm.ApplyMessage) with a fixed gas price for a
// transfer, which is all Coffer's chain does so far. A message that cannot even pay for its gas (unknown
// sender, wrong nonce, balance below GasLimit × GasFeeCap) changes nothing; one that can but then fails
// (value above what is left, unknown f0 receiver, out of gas) spends its nonce and its gas, moves no
// value, and says why in its receipt, as in Filecoin.
import { CID } from './cid'
import { getActor, setActor, newAccountActor, type Actor } from './state-tree'
import { idAddressBytes, Protocol } from './address'
import { blsVerifyAggregate, SIG_TYPE_SECP256K1, type Signature } from './signature'
import { messageCid, validateMessageFields, verifyMessageSignature, METHOD_SEND, type Message, type SignedMessage } from './message'
import { ExitCode, storeReceipts, type BlockMessages, type MessageReceipt } from './block-messages'
import { MessageSignatureError } from './errors'
import type { BlockStore } from './block-store'
import type { AttoFil, GasUnits } from './units'

/** Lotus's MinimumBaseFee; Coffer keeps the base fee there (no congestion pricing yet). */
export const BASE_FEE: AttoFil = 100n
/** Gas a transfer uses. Lotus measures ~0.5–2 M for a send depending on actor versions; Coffer fixes it. */
export const TRANSFER_GAS: GasUnits = 1_000_000
export const BURNT_FUNDS_ADDRESS = idAddressBytes(99)

/** What Coffer's own senders (wallet, faucet) offer for a transfer: Lotus's 25 % gas margin, a small premium, twice the base fee. */
export const TRANSFER_GAS_LIMIT: GasUnits = Math.ceil(TRANSFER_GAS * 1.25)
export const TRANSFER_GAS_PREMIUM: AttoFil = 100n
export const TRANSFER_GAS_FEE_CAP: AttoFil = BASE_FEE * 2n + TRANSFER_GAS_PREMIUM

const NO_RETURN = new Uint8Array(0)
const receipt = (exitCode: number, gasUsed: GasUnits): MessageReceipt => ({ exitCode, return: NO_RETURN, gasUsed, eventsRoot: null })

export interface ApplyContext { store: BlockStore, baseFee: AttoFil, /** who collects premiums */ miner: Uint8Array }

const min = (a: bigint, b: bigint): bigint => a < b ? a : b
const max = (a: bigint, b: bigint): bigint => a > b ? a : b

function credit (ctx: ApplyContext, root: CID, address: Uint8Array, amount: AttoFil): CID {
  if (amount === 0n) return root
  const actor = getActor(ctx.store, root, address) ?? newAccountActor(ctx.store, address)
  return setActor(ctx.store, root, address, { ...actor, balance: actor.balance + amount })
}

/** Applies one message whose signature has been checked. Returns the new root and its receipt. */
export function applyMessage (ctx: ApplyContext, root: CID, m: Message): { root: CID, receipt: MessageReceipt } {
  const unchanged = (code: number): { root: CID, receipt: MessageReceipt } => ({ root, receipt: receipt(code, 0) })
  try { validateMessageFields(m) } catch { return unchanged(ExitCode.SysErrSenderInvalid) }
  const sender = getActor(ctx.store, root, m.from)
  if (sender === null) return unchanged(ExitCode.SysErrSenderInvalid)
  if (m.nonce !== sender.nonce) return unchanged(ExitCode.SysErrSenderStateInvalid)
  if (sender.balance < BigInt(m.gasLimit) * m.gasFeeCap) return unchanged(ExitCode.SysErrSenderStateInvalid)

  const outOfGas = m.gasLimit < TRANSFER_GAS
  const gasUsed = outOfGas ? m.gasLimit : TRANSFER_GAS
  const burn = BigInt(gasUsed) * min(ctx.baseFee, m.gasFeeCap)
  const tip = BigInt(m.gasLimit) * min(m.gasPremium, max(0n, m.gasFeeCap - ctx.baseFee))
  const afterGas: Actor = { ...sender, nonce: sender.nonce + 1, balance: sender.balance - burn - tip }

  let exitCode: number = ExitCode.Ok
  let moved = false
  if (outOfGas) exitCode = ExitCode.SysErrOutOfGas
  else if (m.method !== METHOD_SEND) exitCode = ExitCode.ErrUnhandledMessage
  else if (m.value > afterGas.balance) exitCode = ExitCode.SysErrInsufficientFunds
  else if (m.to[0] !== Protocol.SECP256K1 && m.to[0] !== Protocol.BLS && getActor(ctx.store, root, m.to) === null) exitCode = ExitCode.SysErrInvalidReceiver
  else moved = true

  let next = setActor(ctx.store, root, m.from, moved ? { ...afterGas, balance: afterGas.balance - m.value } : afterGas)
  if (moved) next = credit(ctx, next, m.to, m.value)
  next = credit(ctx, next, BURNT_FUNDS_ADDRESS, burn)
  next = credit(ctx, next, ctx.miner, tip)
  return { root: next, receipt: receipt(exitCode, gasUsed) }
}

/**
 * Checks a block's message signatures (each secp signature; the BLS ones through the block's aggregate),
 * then applies its messages in execution order. A bad signature rejects the whole block.
 */
export function applyBlockMessages (ctx: ApplyContext, root: CID, msgs: BlockMessages, blsAggregate: Signature | null): { root: CID, receipts: MessageReceipt[], receiptsRoot: CID } {
  checkBlockSignatures(msgs, blsAggregate)
  const receipts: MessageReceipt[] = []
  for (const m of [...msgs.bls, ...msgs.secp.map(sm => sm.message)]) {
    const out = applyMessage(ctx, root, m)
    root = out.root
    receipts.push(out.receipt)
  }
  return { root, receipts, receiptsRoot: storeReceipts(ctx.store, receipts) }
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
