// Gossip as the services above the network module see it (issue 15 part 4): publish bytes on a topic, and hear a
// topic through a validator whose verdict decides whether gossipsub relays, drops or scores the message against
// its relay. Nothing outside src/net reaches into gossipsub itself, so its options (scoring, signatures, limits)
// stay in one place and a service can be tested with any implementation of this.
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { CofferLibp2p } from './libp2p-node'

/** A gossiped message: who handed it over (often only a relay) and who signed it (gossipsub's StrictSign). */
export interface GossipMessage { topic: string, data: Uint8Array, source: string, author: string | undefined }

/** What a validator decides: taken (and relayed), refused (scored against the relay), or dropped quietly. */
export type GossipVerdict<T> = { verdict: 'accept', value: T } | { verdict: 'reject' } | { verdict: 'ignore' }

export interface Gossip {
  /** Publishes `data`; resolves to how many peers it went to (0 before any peer's subscription is known). */
  publish: (topic: string, data: Uint8Array) => Promise<number>
  /**
   * Subscribes to `topic`: each message is judged by `validate`, and what it accepts reaches `onAccepted` with the
   * value the validator made of it (decoded once). Returns a function that stops listening.
   */
  listen: <T>(topic: string, validate: (m: GossipMessage) => GossipVerdict<T> | Promise<GossipVerdict<T>>, onAccepted?: (m: GossipMessage, value: T) => void) => () => void
}

const RESULT = { accept: TopicValidatorResult.Accept, reject: TopicValidatorResult.Reject, ignore: TopicValidatorResult.Ignore } as const

export function gossipOf (libp2p: CofferLibp2p): Gossip {
  const pubsub = libp2p.services.pubsub
  type Raw = Parameters<NonNullable<ReturnType<typeof pubsub.topicValidators.get>>>[1]
  const view = (topic: string, source: string, msg: Raw): GossipMessage => ({ topic, data: msg.data, source, author: msg.type === 'signed' ? msg.from.toString() : undefined })
  return {
    publish: async (topic, data) => (await pubsub.publish(topic, data)).recipients.length,
    listen: (topic, validate, onAccepted) => {
      // the value the validator made, by the message object gossipsub hands to both validator and listener
      const accepted = new WeakMap<object, unknown>()
      pubsub.topicValidators.set(topic, async (source, msg) => {
        const v = await validate(view(topic, source.toString(), msg))
        if (v.verdict === 'accept') accepted.set(msg, v.value)
        return RESULT[v.verdict]
      })
      const listener = (evt: CustomEvent<{ propagationSource: { toString: () => string }, msg: Raw & { topic: string } }>): void => {
        const { propagationSource, msg } = evt.detail
        if (msg.topic !== topic || !accepted.has(msg)) return
        onAccepted?.(view(topic, propagationSource.toString(), msg), accepted.get(msg) as never)
      }
      pubsub.addEventListener('gossipsub:message', listener as unknown as EventListener)
      pubsub.subscribe(topic)
      return () => {
        pubsub.removeEventListener('gossipsub:message', listener as unknown as EventListener)
        pubsub.unsubscribe(topic)
        pubsub.topicValidators.delete(topic)
      }
    }
  }
}
