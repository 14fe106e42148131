// Storage asks announced on gossip (issue 12, discovery): a provider publishes its signed ask on
// `/coffer/asks/<network>` in a gossipsub signed envelope, so the announcement names and proves the peer that
// wrote it. Nobody takes an announcement on the provider's word: it counts only when the ask is signed by the
// miner's worker key and its gossip author is the miner's PeerId, both as the chain records them (MinerInfo).
// Filecoin announced asks through go-fil-markets' /fil/storage/ask protocol and the indexer; gossip is Coffer's
// way to hear of a provider that joined after a client opened, and a validator bounds what a flood can cost.
import { TopicValidatorResult, type TopicValidatorFn } from '@libp2p/gossipsub'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import {
  decodeSignedStorageAsk, encodeSignedStorageAsk, encodeStorageAsk, signedBy, bytesEqual, addressToString, InvalidAskError,
  type SignedStorageAsk, type MinerInfo, type Epoch
} from '../core'
import { TokenBuckets, type TokenRate } from '../core/rate-limit'
import type { CofferLibp2p } from './libp2p-node'

export const askTopic = (network: string): string => `/coffer/asks/${network}`

/**
 * The largest announcement read at all: an ask is about 200 bytes, a gateway URL at most 512 (MAX_GATEWAY_URL_CHARS)
 * and a signature 97; anything far past that is junk, refused before it is decoded.
 */
export const MAX_ASK_ANNOUNCEMENT_BYTES = 2048

/**
 * Announcements one author may make: a burst of 5, then one a second. A provider announces every few epochs
 * and on change (contract: helper C); this leaves room for that on a 1 s devnet while a flooder's surplus is
 * dropped before it costs a state read.
 */
export const ASK_ANNOUNCE_RATE: TokenRate = { burst: 5, refillMs: 1000 }

/** The gossip envelope names no author (an unsigned message): nobody can be held to it. */
export class AskUnsignedError extends Error {
  static override name = 'AskUnsignedError'
  override name = 'AskUnsignedError'
}

export class AskTooLargeError extends Error {
  static override name = 'AskTooLargeError'
  override name = 'AskTooLargeError'
  constructor (readonly bytes: number) { super(`ask announcement of ${bytes} bytes is over ${MAX_ASK_ANNOUNCEMENT_BYTES}`) }
}

/** The ask names a miner the chain does not have (or not yet, at the reader's head). */
export class AskUnknownMinerError extends Error {
  static override name = 'AskUnknownMinerError'
  override name = 'AskUnknownMinerError'
  constructor (readonly miner: string) { super(`ask names ${miner}, which is not a storage provider on chain`) }
}

/** The ask's signature is not the miner's on-chain worker key's. */
export class AskSignerMismatchError extends Error {
  static override name = 'AskSignerMismatchError'
  override name = 'AskSignerMismatchError'
  constructor (readonly miner: string) { super(`ask for ${miner} is not signed by its on-chain worker key`) }
}

/** The peer that wrote the announcement is not the miner's on-chain PeerId: an identity that is not its own. */
export class AskPeerMismatchError extends Error {
  static override name = 'AskPeerMismatchError'
  override name = 'AskPeerMismatchError'
  constructor (readonly miner: string, readonly peer: string) { super(`peer ${peer} announced ${miner}'s ask, but ${miner}'s on-chain peer ID is another`) }
}

export class AskExpiredError extends Error {
  static override name = 'AskExpiredError'
  override name = 'AskExpiredError'
  constructor (readonly miner: string, readonly expiry: Epoch, readonly epoch: Epoch) { super(`ask for ${miner} expired at epoch ${expiry} (head ${epoch})`) }
}

/** An older ask than the one kept for the miner (a lower SeqNo), or another ask under the same SeqNo. */
export class AskStaleError extends Error {
  static override name = 'AskStaleError'
  override name = 'AskStaleError'
  constructor (readonly miner: string, readonly seqNo: number, readonly keptSeqNo: number) { super(`ask for ${miner} has SeqNo ${seqNo}; ${keptSeqNo} is kept`) }
}

/** The author announced faster than ASK_ANNOUNCE_RATE allows. */
export class AskRateLimitedError extends Error {
  static override name = 'AskRateLimitedError'
  override name = 'AskRateLimitedError'
  constructor (readonly peer: string, readonly retryAfterMs: number) { super(`peer ${peer} announces asks too fast (next in ${retryAfterMs} ms)`) }
}

/** The chain's record of a miner, as far as asks need it: looked up at the reader's (verified) head. */
export type MinerInfoOf = (miner: Uint8Array) => Promise<MinerInfo | null> | MinerInfo | null

export interface AskAnnouncement {
  signed: SignedStorageAsk
  /** The miner's address, t0… */
  miner: string
  /** The author's peer ID, which is the miner's on-chain PeerId. */
  peer: string
  info: MinerInfo
}

const peerString = (p: PeerId | string): string => typeof p === 'string' ? p : p.toString()

/**
 * Checks one announcement: it decodes as a SignedStorageAsk, its miner is on chain, its signature is the
 * miner's worker's and `sourcePeer` (the gossip author, from the signed envelope) is the miner's PeerId.
 * `epoch`, when given, also refuses an expired ask. Each refusal is a named error; nothing is kept here
 * (AskBook keeps the latest per miner).
 */
export async function validateAskAnnouncement (bytes: Uint8Array, sourcePeer: PeerId | string, minerInfoOf: MinerInfoOf, opts: { epoch?: Epoch } = {}): Promise<AskAnnouncement> {
  if (bytes.length > MAX_ASK_ANNOUNCEMENT_BYTES) throw new AskTooLargeError(bytes.length)
  const signed = decodeSignedStorageAsk(bytes) // InvalidAskError
  const miner = addressToString(signed.ask.miner, 't')
  const info = await minerInfoOf(signed.ask.miner)
  if (info === null) throw new AskUnknownMinerError(miner)
  // the signature first: it is the miner's own word; the peer check then says who may carry it as its author
  if (!signedBy(info.worker, encodeStorageAsk(signed.ask), signed.signature)) throw new AskSignerMismatchError(miner)
  const peer = peerString(sourcePeer)
  let peerBytes: Uint8Array
  try { peerBytes = (typeof sourcePeer === 'string' ? peerIdFromString(sourcePeer) : sourcePeer).toMultihash().bytes } catch { throw new AskPeerMismatchError(miner, peer) }
  if (!bytesEqual(peerBytes, info.peerId)) throw new AskPeerMismatchError(miner, peer)
  if (opts.epoch !== undefined && signed.ask.expiry < opts.epoch) throw new AskExpiredError(miner, signed.ask.expiry, opts.epoch)
  return { signed, miner, peer, info }
}

/** Refusals that prove the announcement bad on any chain state its relay could hold: the relay is scored for them. */
export function isAskInvalid (err: unknown): boolean {
  return err instanceof InvalidAskError || err instanceof AskTooLargeError || err instanceof AskUnsignedError ||
    err instanceof AskSignerMismatchError || err instanceof AskPeerMismatchError
}

export interface AskBookInit {
  minerInfoOf: MinerInfoOf
  /** The reader's head epoch: expired asks are refused. */
  epoch?: () => Epoch
  nowMs?: () => number
  rate?: TokenRate
}

/**
 * The asks heard on gossip, at most one per miner (the highest SeqNo), with the flood bounds in front of the
 * checks: a per-author token bucket, then a size bound, then the stale-SeqNo check, all before the state read
 * that `minerInfoOf` costs. A miner is kept only once its announcement verified, so the book is bounded by the
 * chain's miners, not by what anyone sends.
 */
export class AskBook {
  private readonly kept = new Map<string, AskAnnouncement & { heardAtMs: number }>()
  private readonly buckets: TokenBuckets<string>
  private readonly nowMs: () => number

  constructor (private readonly init: AskBookInit) {
    this.buckets = new TokenBuckets(init.rate ?? ASK_ANNOUNCE_RATE)
    this.nowMs = init.nowMs ?? (() => Date.now())
  }

  /** Checks and keeps an announcement written by `author`; throws the named refusal. */
  async admit (bytes: Uint8Array, author: PeerId | string | undefined): Promise<AskAnnouncement> {
    if (author === undefined) throw new AskUnsignedError('ask announcement is not in a signed gossip envelope')
    const peer = peerString(author)
    const t = this.buckets.take(peer, this.nowMs())
    if (!t.ok) throw new AskRateLimitedError(peer, t.retryAfterMs)
    if (bytes.length > MAX_ASK_ANNOUNCEMENT_BYTES) throw new AskTooLargeError(bytes.length)
    // cheap stale check before the state read: a replayed old ask costs a decode, not a proof
    const early = decodeSignedStorageAsk(bytes)
    this.checkFresh(addressToString(early.ask.miner, 't'), early)
    const epoch = this.init.epoch?.()
    const a = await validateAskAnnouncement(bytes, author, this.init.minerInfoOf, epoch === undefined ? {} : { epoch })
    this.checkFresh(a.miner, a.signed) // again: another announcement may have been kept while this one was read
    this.kept.set(a.miner, { ...a, heardAtMs: this.nowMs() })
    return a
  }

  /** The latest verified ask of `miner` (t0…) and when it was last heard. */
  latest (miner: string): (AskAnnouncement & { heardAtMs: number }) | undefined { return this.kept.get(miner) }

  all (): Array<AskAnnouncement & { heardAtMs: number }> { return [...this.kept.values()] }

  private checkFresh (miner: string, s: SignedStorageAsk): void {
    const k = this.kept.get(miner)
    if (k === undefined) return
    const seq = s.ask.seqNo
    const keptSeq = k.signed.ask.seqNo
    // the same ask again is a liveness beat (providers re-announce every few epochs); a different one must be newer
    if (seq < keptSeq || (seq === keptSeq && !bytesEqual(encodeSignedStorageAsk(s), encodeSignedStorageAsk(k.signed)))) throw new AskStaleError(miner, seq, keptSeq)
  }
}

export interface AskTopicInit extends AskBookInit {
  /** A verified announcement (after it is kept, before it is relayed). */
  onAsk?: (a: AskAnnouncement) => void
  /** A refused announcement: `author` wrote it (the signed envelope's peer), `relay` handed it over. */
  onRefused?: (err: Error, author: string | undefined, relay: string) => void
}

/**
 * The gossipsub topic validator for asks, for every node that subscribes (devnet, full nodes, providers, tabs):
 * a node relays an announcement only after it verified. Reject (scored on the relay) for what is bad on any
 * state: junk, an unsigned envelope, a signature or author that is not the miner's. Ignore (no penalty) for
 * what may be fine elsewhere or later: a miner this node does not know yet, an expired or stale ask, a rate
 * overrun.
 */
export function askTopicValidator (init: AskTopicInit, book = new AskBook(init)): TopicValidatorFn {
  return async (propagationSource, msg) => {
    const relay = propagationSource.toString()
    const author = msg.type === 'signed' ? msg.from : undefined
    try {
      const a = await book.admit(msg.data, author)
      init.onAsk?.(a)
      return TopicValidatorResult.Accept
    } catch (err) {
      init.onRefused?.(err as Error, author?.toString(), relay)
      return isAskInvalid(err) ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore
    }
  }
}

/** Registers the ask validator on `libp2p` and subscribes to the network's ask topic; the book it fills. */
export function subscribeAsks (libp2p: CofferLibp2p, network: string, init: AskTopicInit): AskBook {
  const book = new AskBook(init)
  const topic = askTopic(network)
  libp2p.services.pubsub.topicValidators.set(topic, askTopicValidator(init, book))
  libp2p.services.pubsub.subscribe(topic)
  return book
}

/**
 * Publishes the provider's signed ask (gossipsub signs the envelope with the node's key: its PeerId). Resolves
 * with how many peers it was sent to: with allowPublishToZeroTopicPeers a publish before any peer's subscription
 * is known succeeds with none, and the caller should announce again soon rather than wait its usual interval.
 */
export async function publishAsk (libp2p: CofferLibp2p, network: string, ask: SignedStorageAsk): Promise<{ recipients: number }> {
  const r = await libp2p.services.pubsub.publish(askTopic(network), encodeSignedStorageAsk(ask))
  return { recipients: r.recipients.length }
}
