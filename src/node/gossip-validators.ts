// Gossip validators for a full node (src/net/gossip.ts listen): a block or message is relayed only once it has been checked
// (verdicts and their scoring: src/net/gossip-validation.ts). As Lotus's chain/sub/incoming.go, a message
// the pool refuses for a state-dependent reason (nonce, funds, a full or busy pool) is ignored, one that is
// invalid on any state (malformed, bad signature, fields out of range) rejected. A sender's full queue is
// MpoolFullError, not MessageOutOfRangeError: it is our pool's state, and an honest relay must not be scored for it.
import {
  decodeSignedMessage, addressToString, MessageSignatureError, MalformedChainMessageError, MessageOutOfRangeError,
  type SignedMessage
} from '../core'
import type { GossipMessage, GossipVerdict } from '../net'
import { judgeBlock, type BlockJudgeInit, type BlockVerdict } from '../net/gossip-validation'

export function blockTopicValidator (init: BlockJudgeInit & { log?: (line: string) => void }): (m: GossipMessage) => BlockVerdict {
  return (m) => {
    const v = judgeBlock(m.data, init)
    if (v.verdict === 'reject') init.log?.(`gossip: block from ${m.source} rejected: ${v.error.name}: ${v.error.message}`)
    return v
  }
}

export interface MessageValidatorInit {
  /**
   * Adds a message to the pool, or throws (or rejects with) the error that says why not. `author` is the
   * peer that signed the gossip envelope (gossipsub's StrictSign), not the relay that handed it over.
   */
  push: (sm: SignedMessage, author: string | undefined) => unknown
  /** Pending messages of a sender, to tell a full per-sender queue (state) from a bad message. */
  pendingCount: (from: Uint8Array) => number
  maxPendingPerSender: number
  log?: (line: string) => void
}

/** Errors that prove the message invalid whatever the chain state: the relay that sent it is penalised. */
function invalidOnAnyState (err: unknown): boolean {
  return err instanceof MalformedChainMessageError || err instanceof MessageSignatureError || err instanceof MessageOutOfRangeError
}

/** Decode and mpool checks, as Lotus's MessageValidator adds a gossiped message to the pool as it validates. */
export function messageTopicValidator (init: MessageValidatorInit): (m: GossipMessage) => Promise<GossipVerdict<SignedMessage>> {
  return async (m) => {
    let sm: SignedMessage
    try {
      sm = decodeSignedMessage(m.data)
    } catch (err) {
      init.log?.(`mpool: gossiped message from ${m.source} does not decode: ${(err as Error).message}`)
      return { verdict: 'reject' }
    }
    // a sender's full queue is our pool's state, not a fault of the message
    if (init.pendingCount(sm.message.from) >= init.maxPendingPerSender) return { verdict: 'ignore' }
    try {
      await init.push(sm, m.author)
      return { verdict: 'accept', value: sm }
    } catch (err) {
      const e = err as Error
      let from: string
      try { from = addressToString(sm.message.from) } catch { from = '(unreadable)' }
      init.log?.(`mpool: gossiped message from ${from} refused: ${e.name}: ${e.message}`)
      // nonce, funds, a limit of ours or a failure of ours: another node at another head may rightly take it
      return { verdict: invalidOnAnyState(err) ? 'reject' : 'ignore' }
    }
  }
}
