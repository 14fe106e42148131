// The randomness beacon over gossipsub, as drand's libp2p relay spreads rounds (a topic per beacon chain): the
// devnet publishes each round when it is due, and every node relays only entries that verify under the genesis
// beacon key. A block producer that is not the beacon (a provider, issue 13 part 5) takes its entries from here.
// The message is the entry as Filecoin headers carry it, DAG-CBOR [Round, Data].
import * as dagCbor from '@ipld/dag-cbor'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import {
  verifyBeaconEntry, beaconRoundTime, ALLOWED_CLOCK_DRIFT_SECS, currentBeaconRound, BeaconEntryError, MalformedBeaconEntryError, BEACON_SIGNATURE_BYTES,
  type BeaconConfig, type BeaconEntry, type BeaconRound, type BeaconSource
} from '../core'
import type { CofferLibp2p } from './libp2p-node'

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

export interface BeaconJudgeInit { beacon: BeaconConfig, nowMs: () => number }

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
    verifyBeaconEntry(init.beacon.publicKey, entry)
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

  constructor (private readonly libp2p: CofferLibp2p, network: string, private readonly init: BeaconJudgeInit & { log?: (line: string) => void, graceRounds?: number }) {
    this.topic = beaconTopic(network)
  }

  start (): void {
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
    const held = this.entries.get(round)
    if (held !== undefined) return held
    const periods = this.init.graceRounds ?? 5
    const deadline = (beaconRoundTime(this.init.beacon, round) + periods * this.init.beacon.periodSecs) * 1000
    return await new Promise<BeaconEntry>((resolve, reject) => {
      const list = this.waiters.get(round) ?? []
      const timer = setTimeout(() => {
        const rest = (this.waiters.get(round) ?? []).filter(f => f !== got)
        if (rest.length === 0) this.waiters.delete(round)
        else this.waiters.set(round, rest)
        reject(new BeaconUnavailableError(round, deadline))
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
