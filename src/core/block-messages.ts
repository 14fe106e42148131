// What a block carries besides its header, laid out as Lotus does: TxMeta [BlsMessages, SecpkMessages],
// each an AMT of message CIDs (BLS messages unsigned, secp ones signed), and the receipts of executing a
// block's messages as an AMT of MessageReceipt [ExitCode, Return, GasUsed, EventsRoot]. Both arrays use
// the v0 AMT root layout, as Lotus's blockadt does (empty: bafy2bzacedswlcz5…, empty TxMeta
// bafy2bzacecmda75o…, the CIDs every empty Filecoin block carries).
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from './cid'
import { buildAmt, amtValues, readAmtRoot, amtGet } from './amt'
import { mustGet, ProofBlockStore, RecordingGetter, type BlockGetter, type BlockStore } from './block-store'
import { MalformedStateError } from './hamt'
import {
  encodeMessage, encodeSignedMessage, decodeMessage, decodeSignedMessage, messageCid, signedMessageCid, BLOCK_GAS_LIMIT,
  type Message, type SignedMessage
} from './message'
import { BlockGasLimitError } from './errors'
import { blsAggregate, SIG_TYPE_BLS, type Signature } from './signature'
import type { GasUnits } from './units'

/** Filecoin exit codes a transfer can end with (go-state-types/exitcode). */
export const ExitCode = {
  Ok: 0,
  SysErrSenderInvalid: 1,
  SysErrSenderStateInvalid: 2,
  SysErrInvalidReceiver: 5,
  SysErrInsufficientFunds: 6,
  SysErrOutOfGas: 7,
  ErrUnhandledMessage: 22
} as const

export interface MessageReceipt { exitCode: number, return: Uint8Array, gasUsed: GasUnits, eventsRoot: CID | null }

export function encodeReceipt (r: MessageReceipt): unknown[] {
  return [r.exitCode, r.return, r.gasUsed, r.eventsRoot]
}

export function decodeReceipt (raw: unknown): MessageReceipt {
  if (!Array.isArray(raw) || raw.length !== 4 || !Number.isSafeInteger(raw[0]) || !(raw[1] instanceof Uint8Array) ||
      !Number.isSafeInteger(raw[2])) throw new MalformedStateError('receipt is not [ExitCode, Return, GasUsed, EventsRoot]')
  const events = raw[3] === null ? null : CID.asCID(raw[3])
  if (raw[3] !== null && events === null) throw new MalformedStateError('receipt EventsRoot is not a CID')
  return { exitCode: raw[0], return: raw[1], gasUsed: raw[2], eventsRoot: events }
}

export interface BlockMessages { bls: Message[], secp: SignedMessage[] }

/** Puts the messages and both AMTs into `store`; returns the TxMeta CID that goes into the header. */
export function storeBlockMessages (store: BlockStore, msgs: BlockMessages): CID {
  const bls = msgs.bls.map(m => store.put(encodeMessage(m)))
  const secp = msgs.secp.map(sm => store.put(encodeSignedMessage(sm)))
  return store.put(dagCbor.encode([buildAmt(store, bls, 'v0'), buildAmt(store, secp, 'v0')]))
}

export interface TxMeta { blsRoot: CID, secpRoot: CID }

export function readTxMeta (store: BlockGetter, txMeta: CID): TxMeta {
  let raw: unknown
  try { raw = dagCbor.decode(mustGet(store, txMeta)) } catch (err) {
    if ((err as Error).name === 'ProofIncompleteError') throw err
    throw new MalformedStateError(`TxMeta is not DAG-CBOR: ${(err as Error).message}`)
  }
  const bls = Array.isArray(raw) && raw.length === 2 ? CID.asCID(raw[0]) : null
  const secp = Array.isArray(raw) && raw.length === 2 ? CID.asCID(raw[1]) : null
  if (bls === null || secp === null) throw new MalformedStateError('TxMeta is not [BlsMessages, SecpkMessages]')
  return { blsRoot: bls, secpRoot: secp }
}

const asCids = (values: unknown[]): CID[] => values.map(v => {
  const cid = CID.asCID(v)
  if (cid === null) throw new MalformedStateError('message AMT holds a non-CID')
  return cid
})

/** The sum of the GasLimit of every message in a block: what the block gas limit bounds. */
export function blockGasLimit (msgs: BlockMessages): number {
  let sum = 0
  for (const m of msgs.bls) sum += m.gasLimit
  for (const sm of msgs.secp) sum += sm.message.gasLimit
  return sum
}

/**
 * A block holding a message whose GasLimit is not in 1..BLOCK_GAS_LIMIT (Lotus's checkBlockMessages runs
 * ValidForBlockInclusion on each message: "'GasLimit' field cannot be negative", "over block gas limit").
 * A negative limit would otherwise lower the block's sum and let others exceed it. A kind of
 * BlockGasLimitError: the block is invalid on the same rule.
 */
export class MessageGasLimitError extends BlockGasLimitError {
  static override name = 'MessageGasLimitError'
  override name = 'MessageGasLimitError'
  constructor (readonly messageGasLimit: number, index: number) {
    super(messageGasLimit, BLOCK_GAS_LIMIT)
    this.message = `block gas limit exceeded: message ${index} asks for ${messageGasLimit} gas, outside 1..${BLOCK_GAS_LIMIT}`
  }
}

/**
 * Lotus's checkBlockMessages: the GasLimits of a block's messages may add up to at most BlockGasLimit,
 * so a block costs a bounded time to execute whatever its messages are. GasLimit, not gas used, is what
 * counts: it is known before anything runs. Each limit must be in 1..BLOCK_GAS_LIMIT (MessageGasLimitError:
 * decodeMessage accepts any safe integer), and a block loads at most a few thousand messages, so the sum
 * stays far inside a safe integer.
 */
export function checkBlockGasLimit (msgs: BlockMessages): void {
  const limits = [...msgs.bls.map(m => m.gasLimit), ...msgs.secp.map(sm => sm.message.gasLimit)]
  limits.forEach((g, i) => { if (!(g > 0 && g <= BLOCK_GAS_LIMIT)) throw new MessageGasLimitError(g, i) })
  const sum = blockGasLimit(msgs)
  if (sum > BLOCK_GAS_LIMIT) throw new BlockGasLimitError(sum, BLOCK_GAS_LIMIT)
}

/**
 * Reads back a block's messages, checking that each one hashes to the CID the AMT lists and that together
 * they fit the block gas limit (BlockGasLimitError): every reader of a block's messages, the node executing
 * it and the light client showing it, refuses a block over the limit.
 */
export function loadBlockMessages (store: BlockGetter, txMeta: CID): BlockMessages {
  const msgs = readBlockMessages(store, txMeta)
  checkBlockGasLimit(msgs)
  return msgs
}

/**
 * A block's messages as its TxMeta commits to them, without the gas rule: for a reader that must tell a
 * peer's bad answer (a MalformedStateError here) from a block that breaks a rule (a historical block
 * stored before the rule existed is no peer's lie).
 */
export function readBlockMessages (store: BlockGetter, txMeta: CID): BlockMessages {
  const meta = readTxMeta(store, txMeta)
  const bls = asCids(amtValues(store, meta.blsRoot, 'v0')).map(c => decodeMessage(mustGet(store, c)))
  const secp = asCids(amtValues(store, meta.secpRoot, 'v0')).map(c => decodeSignedMessage(mustGet(store, c)))
  return { bls, secp }
}

/** Message counts from the two AMT roots alone (three small blocks, no message bodies). */
export function countBlockMessages (store: BlockGetter, txMeta: CID): { bls: number, secp: number } {
  const meta = readTxMeta(store, txMeta)
  return { bls: readAmtRoot(store, meta.blsRoot, 'v0').count, secp: readAmtRoot(store, meta.secpRoot, 'v0').count }
}

/** CIDs in execution order, as Lotus executes a block: BLS messages first, then secp ones. */
export function executionOrder (msgs: BlockMessages): CID[] {
  return [...msgs.bls.map(messageCid), ...msgs.secp.map(signedMessageCid)]
}

export function storeReceipts (store: BlockStore, receipts: MessageReceipt[]): CID {
  return buildAmt(store, receipts.map(encodeReceipt), 'v0')
}

/**
 * Where a message landed: it was included in the block whose TxMeta is `txMeta` at position `index` of
 * execution order, and its receipt is entry `index` of the next block's ParentMessageReceipts.
 */
export interface MessageInclusion { txMeta: CID, receipts: CID, index: number, blocks: Uint8Array[] }

function lookup (store: BlockGetter, txMeta: CID, receipts: CID, index: number): { cid: CID, receipt: MessageReceipt } {
  const meta = readTxMeta(store, txMeta)
  const blsCount = readAmtRoot(store, meta.blsRoot, 'v0').count
  const listed = index < blsCount ? amtGet(store, meta.blsRoot, index, 'v0') : amtGet(store, meta.secpRoot, index - blsCount, 'v0')
  const cid = listed === undefined ? null : CID.asCID(listed)
  if (cid === null) throw new MalformedStateError(`block has no message at position ${index}`)
  const raw = amtGet(store, receipts, index, 'v0')
  if (raw === undefined) throw new MalformedStateError(`receipts have no entry ${index}`)
  return { cid, receipt: decodeReceipt(raw) }
}

export function proveInclusion (store: BlockGetter, txMeta: CID, receipts: CID, index: number): MessageInclusion {
  const rec = new RecordingGetter(store)
  lookup(rec, txMeta, receipts, index)
  return { txMeta, receipts, index, blocks: rec.blocks() }
}

/**
 * Checks, against header fields the caller has verified (the including block's Messages and the next
 * block's ParentMessageReceipts), that `message` sits at `index` and returns its receipt.
 */
export function verifyInclusion (trusted: { txMeta: CID, receipts: CID }, message: CID, index: number, blocks: Uint8Array[]): MessageReceipt {
  const found = lookup(new ProofBlockStore(blocks), trusted.txMeta, trusted.receipts, index)
  if (!found.cid.equals(message)) throw new MalformedStateError(`position ${index} holds ${String(found.cid)}, not ${String(message)}`)
  return found.receipt
}

/**
 * Signed messages as a block carries them (Filecoin's TxMeta split): BLS-signed ones in BlsMessages, unsigned,
 * under one aggregate signature; secp256k1-signed ones in SecpkMessages with their signatures.
 */
export function packBlockMessages (signed: readonly SignedMessage[]): { messages: BlockMessages, blsAggregate: Signature | null } {
  const bls = signed.filter(sm => sm.signature.type === SIG_TYPE_BLS)
  return {
    messages: { bls: bls.map(sm => sm.message), secp: signed.filter(sm => sm.signature.type !== SIG_TYPE_BLS) },
    blsAggregate: bls.length === 0 ? null : blsAggregate(bls.map(sm => sm.signature))
  }
}
