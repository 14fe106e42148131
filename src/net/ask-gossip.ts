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
  decodeSignedStorageAsk, encodeSignedStorageAsk, encodeStorageAsk, signedBy, bytesEqual, addressToString, InvalidAskError, Protocol,
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

/**
 * Announcements one relay (gossipsub's propagationSource: the peer that handed the message to us) may hand us
 * that do not verify: a burst of 10, then one a second. A verified announcement gives its token back, so an
 * honest relay's traffic never counts against it: it forwards only what it verified itself, and what it verified
 * fails here only while our heads differ (a miner created in the block or two between them). The author bound
 * alone cost a flooder nothing, since gossip authors are keys anyone makes; the relay is a connection.
 */
export const ASK_RELAY_RATE: TokenRate = { burst: 10, refillMs: 1000 }

/** Miner records kept per head when no miner list bounds them (a cap, so made-up miners cannot grow the cache). */
const MAX_CACHED_INFOS = 1024

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

/**
 * The ask's miner is not an ID address. The power actor keys every claim by the miner's ID address (listMiners;
 * builtin-actors power CreateMiner returns IDAddress and registers the claim under it), so no state has a miner
 * under any other kind of address: a fault on any state.
 */
export class AskMinerNotIdError extends Error {
  static override name = 'AskMinerNotIdError'
  override name = 'AskMinerNotIdError'
  constructor (readonly miner: string) { super(`ask names ${miner}, which is not an ID address; miners are known by their ID address`) }
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

/**
 * The author announced faster than ASK_ANNOUNCE_RATE allows (`by: 'author'`), or a relay past its ASK_RELAY_RATE
 * handed us an announcement that would need a state read not already made at this head (`by: 'relay'`).
 */
export class AskRateLimitedError extends Error {
  static override name = 'AskRateLimitedError'
  override name = 'AskRateLimitedError'
  constructor (readonly peer: string, readonly retryAfterMs: number, readonly by: 'author' | 'relay' = 'author') {
    super(`${by} ${peer} ${by === 'author' ? 'announces' : 'relays'} asks too fast (next in ${retryAfterMs} ms)`)
  }
}

/**
 * A relay past its ASK_RELAY_RATE handed us yet another announcement that does not verify (`cause`: an unknown
 * miner, a stale or expired ask, an author over its rate). Each alone may be a head lag; a relay that keeps
 * sending them is flooding, and is scored for it.
 */
export class AskRelayFloodError extends Error {
  static override name = 'AskRelayFloodError'
  override name = 'AskRelayFloodError'
  constructor (readonly relay: string, override readonly cause: Error) { super(`relay ${relay} keeps handing over asks that do not verify; this one: ${cause.message}`) }
}

/** The chain's record of a miner, as far as asks need it: looked up at the reader's (verified) head. */
export type MinerInfoOf = (miner: Uint8Array) => Promise<MinerInfo | null> | MinerInfo | null

/** Every miner's ID address at the reader's (verified) head: the power actor's claims (listMiners). */
export type MinersOf = () => Promise<Uint8Array[]> | Uint8Array[]

export interface AskAnnouncement {
  signed: SignedStorageAsk
  /** The miner's address, t0… */
  miner: string
  /** The author's peer ID, which is the miner's on-chain PeerId. */
  peer: string
  info: MinerInfo
}

const peerString = (p: PeerId | string): string => typeof p === 'string' ? p : p.toString()

function authorBytes (sourcePeer: PeerId | string): Uint8Array | undefined {
  try { return (typeof sourcePeer === 'string' ? peerIdFromString(sourcePeer) : sourcePeer).toMultihash().bytes } catch { return undefined }
}

/**
 * Checks one announcement: it decodes as a SignedStorageAsk, its miner is on chain, `sourcePeer` (the gossip
 * author, from the signed envelope) is the miner's PeerId and its signature is the miner's worker's. `epoch`,
 * when given, also refuses an expired ask. Each refusal is a named error; nothing is kept here (AskBook keeps
 * the latest per miner).
 */
export async function validateAskAnnouncement (bytes: Uint8Array, sourcePeer: PeerId | string, minerInfoOf: MinerInfoOf, opts: { epoch?: Epoch } = {}): Promise<AskAnnouncement> {
  if (bytes.length > MAX_ASK_ANNOUNCEMENT_BYTES) throw new AskTooLargeError(bytes.length)
  const signed = decodeSignedStorageAsk(bytes) // InvalidAskError
  const miner = addressToString(signed.ask.miner, 't')
  return checkAnnouncement(signed, miner, sourcePeer, await minerInfoOf(signed.ask.miner), opts.epoch)
}

function checkAnnouncement (signed: SignedStorageAsk, miner: string, sourcePeer: PeerId | string, info: MinerInfo | null, epoch: Epoch | undefined): AskAnnouncement {
  if (info === null) throw new AskUnknownMinerError(miner)
  // the author before the signature: a byte compare, where a signature check costs a curve operation, and
  // an author other than the miner's own peer is refused whatever it carries (a flood of fresh keys stops here)
  const peer = peerString(sourcePeer)
  const peerBytes = authorBytes(sourcePeer)
  if (peerBytes === undefined || !bytesEqual(peerBytes, info.peerId)) throw new AskPeerMismatchError(miner, peer)
  if (!signedBy(info.worker, encodeStorageAsk(signed.ask), signed.signature)) throw new AskSignerMismatchError(miner)
  if (epoch !== undefined && signed.ask.expiry < epoch) throw new AskExpiredError(miner, signed.ask.expiry, epoch)
  return { signed, miner, peer, info }
}

/**
 * Refusals that prove the announcement bad on any chain state its relay could hold, and a relay that keeps
 * handing over what does not verify: the relay is scored for them (Reject).
 */
export function isAskInvalid (err: unknown): boolean {
  return err instanceof InvalidAskError || err instanceof AskTooLargeError || err instanceof AskUnsignedError ||
    err instanceof AskMinerNotIdError || err instanceof AskSignerMismatchError || err instanceof AskPeerMismatchError ||
    err instanceof AskRelayFloodError
}

/** Refusals that may be a head lag (the relay saw another state), which a relay flooding them turns into AskRelayFloodError. */
const mayBeLag = (err: unknown): err is Error =>
  err instanceof AskUnknownMinerError || err instanceof AskStaleError || err instanceof AskExpiredError ||
  (err instanceof AskRateLimitedError && err.by === 'author')

/** A read that is not cached at this head, asked for when the relay may cause no more reads. */
class NotCachedError extends Error {}

interface Cached<T> { pending: Promise<T>, done?: { value: T } }

/**
 * The state reads an announcement needs, made once per head: the miner list (as a set) and each listed miner's
 * record. Without `headKey` nothing is kept and every call reads. `cachedOnly` answers from what is kept and
 * throws NotCachedError for the rest.
 */
class HeadReads {
  private key: string | undefined
  private list: Cached<Set<string>> | undefined
  private readonly infos = new Map<string, Cached<MinerInfo | null>>()

  constructor (private readonly init: Pick<AskBookInit, 'minerInfoOf' | 'minersOf' | 'headKey'>) {}

  /** Whether `miner` is in the head's miner list; true when there is no list to check. */
  async listed (miner: string, cachedOnly: boolean): Promise<boolean> {
    const minersOf = this.init.minersOf
    if (minersOf === undefined) return true
    const set = await this.cached(() => this.list, (c) => { this.list = c }, async () => new Set((await minersOf()).map(m => addressToString(m, 't'))), cachedOnly)
    return set.has(miner)
  }

  async info (minerBytes: Uint8Array, miner: string, cachedOnly: boolean): Promise<MinerInfo | null> {
    return await this.cached(() => this.infos.get(miner), (c) => {
      if (this.infos.size < MAX_CACHED_INFOS) this.infos.set(miner, c)
    }, async () => await this.init.minerInfoOf(minerBytes), cachedOnly)
  }

  private async cached<T> (get: () => Cached<T> | undefined, set: (c: Cached<T>) => void, read: () => Promise<T>, cachedOnly: boolean): Promise<T> {
    const key = this.roll()
    const have = key === undefined ? undefined : get()
    if (have?.done !== undefined) return have.done.value
    if (cachedOnly) throw new NotCachedError()
    if (have !== undefined) return await have.pending // one read per head, however many announcements wait on it
    const c: Cached<T> = { pending: read() }
    if (key === undefined) return await c.pending
    set(c)
    try {
      const value = await c.pending
      c.done = { value }
      return value
    } catch (err) {
      // a failed read (no peer, a timeout) is not kept: the next announcement tries again
      if (this.key === key && get() === c) this.forget(c)
      throw err
    }
  }

  private forget (c: Cached<unknown>): void {
    if (this.list === c) this.list = undefined
    for (const [k, v] of this.infos) if (v === c) this.infos.delete(k)
  }

  /** Drops what was read at an older head; the current head's key, or undefined when nothing is kept. */
  private roll (): string | undefined {
    const key = this.init.headKey?.()
    if (key !== this.key) {
      this.key = key
      this.list = undefined
      this.infos.clear()
    }
    return key
  }
}

export interface AskBookInit {
  minerInfoOf: MinerInfoOf
  /**
   * The miner list at the reader's head. With it, an ask naming a miner not in it is refused on a set lookup,
   * before the per-miner read (which on a tab is a network round trip).
   */
  minersOf?: MinersOf
  /**
   * Names the reader's head (its CID). With it, the miner list and each miner's record are read once per head
   * and kept until the head moves, so what announcements cost in state reads is bounded by the chain's miners,
   * not by what anyone sends; without it every announcement that passes the rate bounds reads.
   */
  headKey?: () => string
  /** The reader's head epoch: expired asks are refused. */
  epoch?: () => Epoch
  nowMs?: () => number
  rate?: TokenRate
  relayRate?: TokenRate
}

/**
 * The asks heard on gossip, at most one per miner (the highest SeqNo), with the flood bounds in front of the
 * checks: what is junk on any state (size, encoding, a miner that is not an ID address), then a per-relay and a
 * per-author token bucket, the stale-SeqNo check and the miner-list lookup, all before the per-miner state read
 * that `minerInfoOf` costs. A miner is kept only once its announcement verified, so the book is bounded by the
 * chain's miners, not by what anyone sends.
 */
export class AskBook {
  private readonly kept = new Map<string, AskAnnouncement & { heardAtMs: number }>()
  private readonly buckets: TokenBuckets<string>
  private readonly relays: TokenBuckets<string>
  private readonly reads: HeadReads
  private readonly nowMs: () => number

  constructor (private readonly init: AskBookInit) {
    this.buckets = new TokenBuckets(init.rate ?? ASK_ANNOUNCE_RATE)
    this.relays = new TokenBuckets(init.relayRate ?? ASK_RELAY_RATE)
    this.reads = new HeadReads(init)
    this.nowMs = init.nowMs ?? (() => Date.now())
  }

  /**
   * Checks and keeps an announcement written by `author` and handed over by `relay` (gossipsub's
   * propagationSource; none for a call not from gossip); throws the named refusal.
   */
  async admit (bytes: Uint8Array, author: PeerId | string | undefined, relay?: PeerId | string): Promise<AskAnnouncement> {
    if (author === undefined) throw new AskUnsignedError('ask announcement is not in a signed gossip envelope')
    if (bytes.length > MAX_ASK_ANNOUNCEMENT_BYTES) throw new AskTooLargeError(bytes.length)
    const signed = decodeSignedStorageAsk(bytes) // InvalidAskError
    const miner = addressToString(signed.ask.miner, 't')
    if (signed.ask.miner[0] !== Protocol.ID) throw new AskMinerNotIdError(miner)
    const relayKey = relay === undefined ? undefined : peerString(relay)
    const now = this.nowMs()
    // the relay's token: given back when the announcement verifies. A relay past its bound is still heard, but
    // only from what this head's reads already hold, so it can cost no state read at all
    const took = relayKey === undefined ? { ok: true as const } : this.relays.take(relayKey, now)
    try {
      const a = await this.check(signed, miner, author, !took.ok)
      if (relayKey !== undefined && took.ok) this.relays.refund(relayKey, this.nowMs())
      return a
    } catch (err) {
      if (relayKey === undefined || took.ok) throw err
      if (err instanceof NotCachedError) throw new AskRateLimitedError(relayKey, took.retryAfterMs, 'relay')
      if (mayBeLag(err)) throw new AskRelayFloodError(relayKey, err)
      throw err
    }
  }

  /** The latest verified ask of `miner` (t0…) and when it was last heard. */
  latest (miner: string): (AskAnnouncement & { heardAtMs: number }) | undefined { return this.kept.get(miner) }

  all (): Array<AskAnnouncement & { heardAtMs: number }> { return [...this.kept.values()] }

  private async check (signed: SignedStorageAsk, miner: string, author: PeerId | string, cachedOnly: boolean): Promise<AskAnnouncement> {
    const peer = peerString(author)
    const t = this.buckets.take(peer, this.nowMs())
    if (!t.ok) throw new AskRateLimitedError(peer, t.retryAfterMs)
    // cheap stale check before the state reads: a replayed old ask costs a decode, not a proof
    this.checkFresh(miner, signed)
    if (!await this.reads.listed(miner, cachedOnly)) throw new AskUnknownMinerError(miner)
    const info = await this.reads.info(signed.ask.miner, miner, cachedOnly)
    const a = checkAnnouncement(signed, miner, author, info, this.init.epoch?.())
    this.checkFresh(a.miner, a.signed) // again: another announcement may have been kept while this one was read
    this.kept.set(a.miner, { ...a, heardAtMs: this.nowMs() })
    return a
  }

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
 * a node relays an announcement only after it verified. Reject for what is bad on any state (junk, an unsigned
 * envelope, a miner that is not an ID address, a signature or author that is not the miner's) and for a relay
 * past its bound that keeps handing over what does not verify: gossipsub counts each Reject against the relay
 * (P4, invalid deliveries, scored on this topic by ASK_TOPIC_SCORE in libp2p-node.ts) until it is graylisted and
 * its messages are dropped unread. Ignore, which gossipsub scores not at all, for what may be fine elsewhere or
 * later (a miner this node does not know yet, an expired or stale ask, an author over its rate) and for what a
 * relay past its bound asks us to read: that might be a genuine ask it happened to deliver first, and a Reject
 * would also score every honest peer that forwards the same message after it.
 */
export function askTopicValidator (init: AskTopicInit, book = new AskBook(init)): TopicValidatorFn {
  return async (propagationSource, msg) => {
    const relay = propagationSource.toString()
    const author = msg.type === 'signed' ? msg.from : undefined
    try {
      const a = await book.admit(msg.data, author, propagationSource)
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
