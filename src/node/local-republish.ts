// A node's own messages (its JSON-RPC's, its faucet's, an in-process provider's worker's) are published on message
// gossip when pushed, and again every few heads while they wait in the pool, as Lotus's mpool republishes its local
// messages (RepublishInterval). One publish is not enough: a node that pushes before its gossip mesh has formed (a
// provider just restarted after a crash) reaches no one, and its message would wait in its own pool for ever, with
// the provider waiting on its receipt.
import { signedMessageCid, type SignedMessage } from '../core'

/** Heads between publishes of a local message still in the pool. */
export const REPUBLISH_EVERY_HEADS = 3

export interface LocalRepublisherInit {
  /** Whether the pool still holds the message (not yet included, not dropped as stale). */
  pooled: (cid: string) => boolean
  publish: (sm: SignedMessage) => void
}

export interface LocalRepublisher {
  /** A local push the pool took: published now, and remembered. */
  pushed: (sm: SignedMessage, height: number) => void
  /** A new head: messages that left the pool are forgotten, the others published again every REPUBLISH_EVERY_HEADS. */
  head: (height: number) => void
  /** How many local messages are waiting. */
  readonly size: number
}

export function localRepublisher (init: LocalRepublisherInit): LocalRepublisher {
  // bounded by the pool itself: an entry is dropped at the first head after the pool no longer holds it
  const waiting = new Map<string, { sm: SignedMessage, publishedAt: number }>()
  return {
    pushed (sm, height) {
      waiting.set(signedMessageCid(sm).toString(), { sm, publishedAt: height })
      init.publish(sm)
    },
    head (height) {
      for (const [cid, w] of waiting) {
        if (!init.pooled(cid)) { waiting.delete(cid); continue }
        if (height - w.publishedAt >= REPUBLISH_EVERY_HEADS) {
          w.publishedAt = height
          init.publish(w.sm)
        }
      }
    },
    get size () { return waiting.size }
  }
}
