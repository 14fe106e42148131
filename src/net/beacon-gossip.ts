// The randomness beacon over gossipsub, as drand's libp2p relay spreads rounds (a topic per beacon chain): the
// devnet publishes each round when it is due, and every node relays only entries that verify under the genesis
// beacon key. A block producer that is not the beacon (a provider, issue 13 part 5) takes its entries from here.
// The message is the entry as Filecoin headers carry it, DAG-CBOR [Round, Data].
// A round gossip no longer carries (a producer's first block after null rounds carries every round since the last
// block; a node that started late never heard them) is asked of peers over `/coffer/beacon/rounds/1.0.0`, as a
// Lotus node asks drand's HTTP API for a past round, and verified under the genesis key like any other.
import * as dagCbor from '@ipld/dag-cbor'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import {
  verifyBeaconEntriesOnce, beaconRoundTime, ALLOWED_CLOCK_DRIFT_SECS, currentBeaconRound, BeaconEntryError, MalformedBeaconEntryError, BEACON_SIGNATURE_BYTES,
  type BeaconConfig, type BeaconEntry, type BeaconRound, type BeaconSource, type VerifiedBeaconEntries
} from '../core'
import type { CofferLibp2p } from './libp2p-node'
import { serveOneShot, requestOneShot, REQUEST_TIMEOUT_MS, RESPONSE_TIMEOUT_MS } from './stream-io'

export const beaconTopic = (network: string): string => `/coffer/beacon/${network}`

/** Rounds a relay keeps (and accepts from gossip) below the newest due one: a producer after null rounds asks a few back. */
export const BEACON_KEEP_ROUNDS = 64
/**
 * How far ahead of our clock a round may be due and still be taken: the drift a header's timestamp is allowed (a node
 * whose clock is a little behind must still pass a fresh round on: gossipsub forwards nothing it ignored).
 */
export const BEACON_CLOCK_DRIFT_MS = ALLOWED_CLOCK_DRIFT_SECS * 1000
/** The largest gossip message: [round, 48 bytes], with room to spare. */
const MAX_BEACON_MESSAGE_BYTES = 128

/** A round the gossip did not bring in time: due `round`, waited until `waitedUntilMs` (unix ms). */
export class BeaconUnavailableError extends Error {
  static override name = 'BeaconUnavailableError'
  override name = 'BeaconUnavailableError'
  readonly code = 'BEACON_UNAVAILABLE'
  constructor (readonly round: BeaconRound, readonly waitedUntilMs: number) { super(`beacon round ${round} did not arrive by gossip`) }
}

export const BEACON_ROUNDS_PROTOCOL = '/coffer/beacon/rounds/1.0.0'
/** Rounds one request asks for: a producer catching up after a stall asks for them a window at a time. */
export const MAX_BEACON_ROUNDS_PER_REQUEST = 64
/** Past rounds fetched from peers that a relay keeps (a catch-up's window, and blocks that carry the same rounds). */
const FETCHED_KEEP = 4096

function decodeRoundsRequest (bytes: Uint8Array): BeaconRound[] {
  const raw: unknown = dagCbor.decode(bytes)
  if (!Array.isArray(raw) || raw.length > MAX_BEACON_ROUNDS_PER_REQUEST || !raw.every(r => Number.isSafeInteger(r) && (r as number) > 0)) {
    throw new MalformedBeaconEntryError(undefined, `not a list of at most ${MAX_BEACON_ROUNDS_PER_REQUEST} rounds`)
  }
  return raw as BeaconRound[]
}

function decodeRoundsResponse (bytes: Uint8Array): BeaconEntry[] {
  const raw: unknown = dagCbor.decode(bytes)
  if (!Array.isArray(raw) || raw.length > MAX_BEACON_ROUNDS_PER_REQUEST) throw new MalformedBeaconEntryError(undefined, 'not a list of entries')
  return raw.map(e => decodeBeaconEntryMsg(dagCbor.encode(e)))
}

export function encodeBeaconEntryMsg (e: BeaconEntry): Uint8Array { return dagCbor.encode([e.round, e.data]) }

export function decodeBeaconEntryMsg (bytes: Uint8Array): BeaconEntry {
  if (bytes.length > MAX_BEACON_MESSAGE_BYTES) throw new MalformedBeaconEntryError(undefined, `message of ${bytes.length} bytes`)
  let raw: unknown
  try { raw = dagCbor.decode(bytes) } catch (err) { throw new MalformedBeaconEntryError(undefined, `not DAG-CBOR: ${(err as Error).message}`) }
  if (!Array.isArray(raw) || raw.length !== 2 || !Number.isSafeInteger(raw[0]) || (raw[0] as number) < 0 || !(raw[1] instanceof Uint8Array)) {
    throw new MalformedBeaconEntryError(undefined, 'not [Round, Data]')
  }
  if (raw[1].length !== BEACON_SIGNATURE_BYTES) throw new MalformedBeaconEntryError(raw[0] as number, `signature is ${raw[1].length} bytes`)
  return { round: raw[0] as number, data: raw[1] }
}

export interface BeaconJudgeInit {
  beacon: BeaconConfig
  nowMs: () => number
  /** The chain's cache of verified rounds (and its faster check, when set): a round the topic brought is then not checked again in its blocks. */
  verified?: VerifiedBeaconEntries
}

export type BeaconVerdict =
  | { result: TopicValidatorResult.Accept, entry: BeaconEntry }
  | { result: TopicValidatorResult.Reject, error: Error }
  | { result: TopicValidatorResult.Ignore, reason: string }

/**
 * A gossiped entry: rejected (the relay penalised) when malformed or not the beacon's signature; ignored, with no
 * pairing spent, when its round is not due yet by our clock or older than the rounds kept.
 */
export function judgeBeaconEntry (data: Uint8Array, init: BeaconJudgeInit): BeaconVerdict {
  let entry: BeaconEntry
  try {
    entry = decodeBeaconEntryMsg(data)
  } catch (err) {
    return { result: TopicValidatorResult.Reject, error: err as Error }
  }
  const now = init.nowMs()
  if (beaconRoundTime(init.beacon, entry.round) * 1000 > now + BEACON_CLOCK_DRIFT_MS) return { result: TopicValidatorResult.Ignore, reason: `round ${entry.round} is not due yet` }
  if (entry.round < currentBeaconRound(init.beacon, Math.floor(now / 1000)) - BEACON_KEEP_ROUNDS) return { result: TopicValidatorResult.Ignore, reason: `round ${entry.round} is stale` }
  try {
    verifyBeaconEntriesOnce(init.beacon.publicKey, [entry], init.verified)
  } catch (err) {
    if (err instanceof BeaconEntryError) return { result: TopicValidatorResult.Reject, error: err }
    throw err
  }
  return { result: TopicValidatorResult.Accept, entry }
}

/**
 * One node's view of the beacon topic: validates what arrives, keeps the recent rounds, answers `entry(round)`
 * from them or once gossip brings the round. A round not here `graceRounds` periods after it was due is
 * BeaconUnavailableError: the wait is counted in the beacon's own periods, not in this machine's speed.
 */
export class BeaconRelay implements BeaconSource {
  private readonly entries = new Map<BeaconRound, BeaconEntry>()
  private readonly waiters = new Map<BeaconRound, Array<(e: BeaconEntry) => void>>()
  private readonly topic: string

  /** Past rounds fetched from peers, beyond the recent ones gossip keeps. */
  private readonly fetched = new Map<BeaconRound, BeaconEntry>()

  /**
   * `serve` answers peers' requests for rounds this node does not hold (the devnet's beacon signs any due round);
   * what gossip brought and what was fetched is served either way.
   */
  constructor (private readonly libp2p: CofferLibp2p, network: string, private readonly init: BeaconJudgeInit & { log?: (line: string) => void, graceRounds?: number, serve?: (round: BeaconRound) => Promise<BeaconEntry | undefined> }) {
    this.topic = beaconTopic(network)
  }

  /** Serves past rounds to peers that ask (BEACON_ROUNDS_PROTOCOL). */
  async serve (): Promise<void> {
    await serveOneShot(this.libp2p, BEACON_ROUNDS_PROTOCOL, 1024, async (bytes) => {
      const out: unknown[] = []
      for (const round of decodeRoundsRequest(bytes)) {
        const e = this.held(round) ?? await this.init.serve?.(round).catch(() => undefined)
        if (e !== undefined) out.push([e.round, e.data])
      }
      return dagCbor.encode(out)
    }, () => dagCbor.encode([]), {
      limits: { maxInboundStreams: 4, maxActive: 8, maxActivePerPeer: 2, requestTimeoutMs: REQUEST_TIMEOUT_MS, responseTimeoutMs: RESPONSE_TIMEOUT_MS },
      busy: () => dagCbor.encode([])
    })
  }

  private held (round: BeaconRound): BeaconEntry | undefined {
    return this.entries.get(round) ?? this.fetched.get(round)
  }

  /**
   * Asks connected peers for `round` and the due rounds after it (a window: a catch-up asks for them next), keeping
   * each that verifies under the genesis key. A peer's entry that does not verify is not kept (nor is the peer asked
   * again for this window).
   */
  private async fetch (round: BeaconRound): Promise<BeaconEntry | undefined> {
    const due = currentBeaconRound(this.init.beacon, Math.floor(this.init.nowMs() / 1000))
    const rounds: BeaconRound[] = []
    for (let r = round; r <= due && rounds.length < MAX_BEACON_ROUNDS_PER_REQUEST; r++) if (this.held(r) === undefined) rounds.push(r)
    if (rounds.length === 0) return this.held(round)
    for (const conn of this.libp2p.getConnections()) {
      let entries: BeaconEntry[]
      try {
        entries = decodeRoundsResponse(await requestOneShot(this.libp2p, conn.remotePeer, BEACON_ROUNDS_PROTOCOL, dagCbor.encode(rounds), 16 * 1024))
      } catch { continue } // no such protocol there, busy, gone: the next peer
      for (const e of entries) {
        if (!rounds.includes(e.round)) continue
        try { verifyBeaconEntriesOnce(this.init.beacon.publicKey, [e], this.init.verified) } catch { this.init.log?.(`beacon: peer ${conn.remotePeer.toString()} sent round ${e.round} that does not verify`); break }
        this.fetched.set(e.round, e)
      }
      if (this.fetched.has(round)) break
    }
    while (this.fetched.size > FETCHED_KEEP) this.fetched.delete(this.fetched.keys().next().value!)
    return this.held(round)
  }

  start (): void {
    void this.serve().catch((err: Error) => { this.init.log?.(`beacon: serving past rounds: ${err.message}`) })
    const pubsub = this.libp2p.services.pubsub
    pubsub.topicValidators.set(this.topic, (peer, msg) => {
      const v = judgeBeaconEntry(msg.data, this.init)
      if (v.result === TopicValidatorResult.Reject) this.init.log?.(`gossip: beacon entry from ${peer.toString()} rejected: ${v.error.name}: ${v.error.message}`)
      return v.result
    })
    pubsub.addEventListener('message', (evt) => {
      if (evt.detail.topic !== this.topic) return
      // validated above: decoding again cannot fail
      try { this.add(decodeBeaconEntryMsg(evt.detail.data)) } catch {}
    })
    pubsub.subscribe(this.topic)
  }

  /** The beacon's own node: keeps `e` and sends it to its peers. */
  async publish (e: BeaconEntry): Promise<void> {
    this.add(e)
    await this.libp2p.services.pubsub.publish(this.topic, encodeBeaconEntryMsg(e))
  }

  /** The newest round held. */
  latest (): BeaconEntry | undefined {
    let best: BeaconEntry | undefined
    for (const e of this.entries.values()) if (best === undefined || e.round > best.round) best = e
    return best
  }

  async entry (round: BeaconRound): Promise<BeaconEntry> {
    const held = this.held(round)
    if (held !== undefined) return held
    // a round due a period ago or more is past gossip: asked of peers
    if ((beaconRoundTime(this.init.beacon, round) + this.init.beacon.periodSecs) * 1000 <= this.init.nowMs()) {
      const got = await this.fetch(round)
      if (got !== undefined) return got
    }
    const periods = this.init.graceRounds ?? 5
    const deadline = (beaconRoundTime(this.init.beacon, round) + periods * this.init.beacon.periodSecs) * 1000
    return await new Promise<BeaconEntry>((resolve, reject) => {
      const list = this.waiters.get(round) ?? []
      const timer = setTimeout(() => {
        const rest = (this.waiters.get(round) ?? []).filter(f => f !== got)
        if (rest.length === 0) this.waiters.delete(round)
        else this.waiters.set(round, rest)
        // gossip never brought it: a peer that holds it may still answer
        void this.fetch(round).catch(() => undefined).then(e => { if (e !== undefined) resolve(e); else reject(new BeaconUnavailableError(round, deadline)) })
      }, Math.max(0, deadline - this.init.nowMs()))
      const got = (e: BeaconEntry): void => { clearTimeout(timer); resolve(e) }
      list.push(got)
      this.waiters.set(round, list)
    })
  }

  private add (e: BeaconEntry): void {
    this.entries.set(e.round, e)
    for (const f of this.waiters.get(e.round) ?? []) f(e)
    this.waiters.delete(e.round)
    const newest = this.latest()!.round
    for (const r of this.entries.keys()) if (r < newest - BEACON_KEEP_ROUNDS) this.entries.delete(r)
  }
}
