// The devnet's randomness beacon, run as a drand node runs one (quicknet's scheme, bls-unchained-g1-rfc9380):
// round r is the BLS signature of sha256(r) under the beacon key, made no earlier than the round's time, so
// nobody (the producer included) learns a round before it is due. Its public key, first round time and
// period are in genesis; every node and the tab check each entry a header carries against that key.
import { signBeaconRound, beaconRoundTime, type BeaconConfig, type BeaconEntry, type BeaconRound, type BeaconSource } from '../core'

/** A round asked before its time: drand does not hand out future rounds either. */
export class BeaconRoundNotReadyError extends Error {
  static override name = 'BeaconRoundNotReadyError'
  override name = 'BeaconRoundNotReadyError'
  readonly code = 'BEACON_ROUND_NOT_READY'
  constructor (readonly round: BeaconRound, readonly readyInMs: number) { super(`beacon round ${round} is due in ${Math.ceil(readyInMs)} ms`) }
}

/** Signed rounds kept for repeat requests (a producer asks each round once; a restart asks the last again). */
const CACHE_ROUNDS = 64

export class DevnetBeacon implements BeaconSource {
  private readonly cache = new Map<BeaconRound, Uint8Array>()

  constructor (private readonly secretKey: Uint8Array, private readonly config: BeaconConfig, private readonly nowMs: () => number) {}

  /** When round `round` is due, in ms since the epoch: round 1 at the beacon's genesis time, then one per period. */
  roundTimeMs (round: BeaconRound): number { return beaconRoundTime(this.config, round) * 1000 }

  async entry (round: BeaconRound): Promise<BeaconEntry> {
    if (!Number.isSafeInteger(round) || round < 1) throw new RangeError(`beacon round ${round} does not exist (rounds start at 1)`)
    const early = this.roundTimeMs(round) - this.nowMs()
    if (early > 0) throw new BeaconRoundNotReadyError(round, early)
    let data = this.cache.get(round)
    if (data === undefined) {
      data = signBeaconRound(this.secretKey, round)
      this.cache.set(round, data)
      for (const r of this.cache.keys()) {
        if (this.cache.size <= CACHE_ROUNDS) break
        this.cache.delete(r)
      }
    }
    return { round, data }
  }
}
