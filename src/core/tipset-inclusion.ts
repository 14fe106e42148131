// Proving where a message was executed when its tipset holds several blocks. A tipset's receipts (its child's
// ParentMessageReceipts) list its messages in execution order, each once (tipSetExecutionOrder, Lotus's
// processedMsgs): the receipt's index depends on every block before the message's, so the proof is the readout
// of the tipset's message lists up to the message and the receipt at that index. A light client replays it
// under its own verified headers' Messages and the child's receipts root.
import type { CID } from './cid'
import { amtGet } from './amt'
import { ProofBlockStore, type BlockGetter } from './block-store'
import { recordReads } from './market/deal-record'
import { MalformedStateError } from './hamt'
import { readBlockMessages, decodeReceipt, type MessageReceipt, type BlockMessages } from './block-messages'
import { tipSetExecutionOrder } from './tipset-execution'
import { messageCid, type Message } from './message'

export interface TipSetInclusion { index: number, receipt: MessageReceipt }

/**
 * `message` (its unsigned CID, or a secp message's signed CID) in the tipset whose blocks' Messages are `txMetas`
 * (in tipset order), with its receipt from `receipts`. Throws MalformedStateError when it is not there.
 */
export function readTipSetInclusion (store: BlockGetter, txMetas: readonly CID[], receipts: CID, message: CID): TipSetInclusion {
  const want = String(message)
  // a message is named by the CID its list gives it (a secp message's is the signed one) or by its unsigned CID
  const isIt = (x: { message: Message, cid: CID }): boolean => String(x.cid) === want || String(messageCid(x.message)) === want
  const blocks: Array<{ messages: BlockMessages }> = []
  let index = -1
  for (const txMeta of txMetas) {
    blocks.push({ messages: readBlockMessages(store, txMeta) })
    // the blocks after the message's are not needed to place it: reading stops at the first that lists it
    index = tipSetExecutionOrder(blocks).findIndex(isIt)
    if (index >= 0) break
  }
  if (index < 0) throw new MalformedStateError(`the tipset does not list message ${want}`)
  const raw = amtGet(store, receipts, index, 'v0')
  if (raw === undefined) throw new MalformedStateError(`the tipset's receipts have no entry ${index}`)
  return { index, receipt: decodeReceipt(raw) }
}

/** The blocks readTipSetInclusion walks: what a light client needs to replay it. */
export function proveTipSetInclusion (store: BlockGetter, txMetas: readonly CID[], receipts: CID, message: CID): Uint8Array[] {
  return recordReads(store, g => readTipSetInclusion(g, txMetas, receipts, message))
}

/** Replays readTipSetInclusion over a peer's blocks alone, under Messages and receipts roots the caller verified. */
export function verifyTipSetInclusion (trusted: { txMetas: readonly CID[], receipts: CID }, message: CID, blocks: Uint8Array[]): TipSetInclusion {
  return readTipSetInclusion(new ProofBlockStore(blocks), trusted.txMetas, trusted.receipts, message)
}
