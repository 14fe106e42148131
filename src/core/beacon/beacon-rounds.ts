// Filecoin's rules for the beacon entries a block header carries, as Lotus has them for an unchained beacon
// (quicknet since nv22): which rounds a block at an epoch must carry, checking a header's entries, and
// finding the latest entry below a tipset. Lotus commit b835fab702ebce57abd7e6d0c3326bbd1e18c008.
import type { BeaconEntry } from '../block-header'
import type { Epoch, UnixSeconds } from '../units'
import { type BeaconRound, verifyBeaconEntry } from './beacon-scheme'
import {
  MissingBeaconEntriesError, NoBeaconEntryError, UnexpectedBeaconEntriesError, WrongBeaconRoundError
} from './beacon-errors'

/** The two clocks the rounds are read from: the chain's epochs and the beacon's periods. */
export interface BeaconTiming {
  filGenesisTime: UnixSeconds
  filBlockDelaySecs: number
  beaconGenesisTime: UnixSeconds
  beaconPeriodSecs: number
}

/** Filecoin mainnet (genesis 1598306400, 30 s epochs; lotus cmd/lotus-shed/gas-estimation.go) on drand quicknet. */
export const FILECOIN_MAINNET_QUICKNET_TIMING: BeaconTiming = {
  filGenesisTime: 1598306400,
  filBlockDelaySecs: 30,
  beaconGenesisTime: 1692803367,
  beaconPeriodSecs: 3
}

/**
 * Lotus's genesis block carries this entry (chain/gen/genesis/genesis.go, MakeGenesisBlock): round 0 with 32
 * zero bytes. It is never verified; the first block's rules read its round 0 (see beaconRoundsForBlock).
 */
export const GENESIS_BEACON_ENTRY: BeaconEntry = { round: 0, data: new Uint8Array(32) }

/**
 * The newest round a block at `epoch` may use (Lotus chain/beacon/drand/drand.go MaxBeaconRoundForEpoch):
 * the round current one block delay before the epoch's own time, so that it exists when the block is made.
 * Only Lotus's maxBeaconRoundV2: V1 (network versions up to 15) forgot drand's round 1 falls at genesis and
 * answered one round lower; every version since nv16 uses V2 and Coffer has no older history to replay.
 */
export function maxBeaconRoundForEpoch (cfg: BeaconTiming, epoch: Epoch): BeaconRound {
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new RangeError(`epoch ${epoch} is not a chain height`)
  const latestTs = cfg.filGenesisTime + (epoch - 1) * cfg.filBlockDelaySecs
  if (latestTs < cfg.beaconGenesisTime) return 1
  return Math.floor((latestTs - cfg.beaconGenesisTime) / cfg.beaconPeriodSecs) + 1
}

/**
 * The rounds, oldest first, a block at `epoch` on a parent at `parentEpoch` must carry (Lotus
 * chain/beacon/beacon.go BeaconEntriesForBlock, unchained branch): none when the newest round is the one
 * the chain already has (`prevEntry`, from latestBeaconEntry), else one per epoch after the parent, null
 * rounds included, each that epoch's maxBeaconRoundForEpoch.
 * Lotus also sets prev.Round = maxRound - 1 when prev.Round is 0 (the genesis entry); on the unchained path
 * nothing reads prev after that, so the first block after genesis simply carries its epochs' rounds.
 * With block delay ≥ beacon period (mainnet: 30 s against 3 s) the rounds strictly increase; with a slower
 * beacon than the chain, neighbouring epochs can share a round and Lotus's loop then lists it twice.
 */
export function beaconRoundsForBlock (cfg: BeaconTiming, epoch: Epoch, parentEpoch: Epoch, prevEntry: BeaconEntry): BeaconRound[] {
  if (!Number.isSafeInteger(parentEpoch) || parentEpoch < 0 || epoch <= parentEpoch) {
    throw new RangeError(`epoch ${epoch} does not follow parent epoch ${parentEpoch}`)
  }
  if (maxBeaconRoundForEpoch(cfg, epoch) === prevEntry.round) return []
  const rounds: BeaconRound[] = []
  for (let e = parentEpoch + 1; e <= epoch; e++) rounds.push(maxBeaconRoundForEpoch(cfg, e))
  return rounds
}

/** The two header fields the beacon rules read. */
export interface BeaconHeaderLike { height: Epoch, beaconEntries: readonly BeaconEntry[] }

/**
 * Throws a BeaconEntryError subclass unless `header` carries exactly the rounds beaconRoundsForBlock names,
 * in order, each signed by the beacon (Lotus chain/beacon/beacon.go ValidateBlockValues, unchained branch).
 * Lotus checks that the last round is the epoch's newest and that entry i is the round of epoch
 * parentEpoch + i + 1; comparing the whole list with what an honest producer makes is the same check
 * while rounds strictly increase (mainnet), and also pins the count when neighbouring epochs share a round.
 */
export function validateBeaconEntries (
  cfg: BeaconTiming, publicKey: Uint8Array, header: BeaconHeaderLike, parentEpoch: Epoch, prevEntry: BeaconEntry
): void {
  validateBeaconRounds(cfg, header, parentEpoch, prevEntry)
  // Rounds first, signatures last: a wrong list costs no pairing.
  for (const entry of header.beaconEntries) verifyBeaconEntry(publicKey, entry)
}

/**
 * The cheap half of validateBeaconEntries: the rounds, without the signatures (a caller that checks many
 * headers verifies all their entries at once, verifyBeaconBatch).
 */
export function validateBeaconRounds (cfg: BeaconTiming, header: BeaconHeaderLike, parentEpoch: Epoch, prevEntry: BeaconEntry): void {
  const expected = beaconRoundsForBlock(cfg, header.height, parentEpoch, prevEntry)
  const entries = header.beaconEntries
  if (entries.length < expected.length) throw new MissingBeaconEntriesError(expected, entries.length)
  if (entries.length > expected.length) throw new UnexpectedBeaconEntriesError(expected, entries.length, entries[expected.length]!.round)
  entries.forEach((entry, i) => {
    if (entry.round !== expected[i]) throw new WrongBeaconRoundError(entry.round, expected[i]!, i)
  })
}

/**
 * The entry of `epoch`'s round (maxBeaconRoundForEpoch) among `header`'s entries, where `header` is the block at
 * `epoch` or, when `epoch` was a null round, the first block above it (which carries one round per epoch since
 * its parent); undefined when it is not there. Lotus chain/rand extractBeaconEntryForEpoch looks for the round the
 * same way, from the tipset at the epoch (or the next non-null one), walking to parents for beacons slower than
 * the chain, which Coffer's genesis rules out. This is the entry beacon randomness for `epoch` is drawn from.
 */
export function beaconEntryForEpoch (cfg: BeaconTiming, epoch: Epoch, header: BeaconHeaderLike): BeaconEntry | undefined {
  const round = maxBeaconRoundForEpoch(cfg, epoch)
  return header.beaconEntries.find(e => e.round === round)
}

/** The beacon's own clock, as drand publishes it (genesis.ts BeaconConfig has these two fields). */
export interface BeaconClock { genesisTime: UnixSeconds, periodSecs: number }

/** When round `round` is due: round 1 at the beacon's genesis time, then one a period (drand's TimeOfRound). */
export function beaconRoundTime (clock: BeaconClock, round: BeaconRound): UnixSeconds {
  return clock.genesisTime + (round - 1) * clock.periodSecs
}

/** The newest round due at `now` (drand's CurrentRound); 0 before the beacon's genesis. */
export function currentBeaconRound (clock: BeaconClock, now: UnixSeconds): BeaconRound {
  if (now < clock.genesisTime) return 0
  return Math.floor((now - clock.genesisTime) / clock.periodSecs) + 1
}

/** The randomness beacon as a block producer reads it: the entry of a round, once the beacon has made it. */
export interface BeaconSource { entry: (round: BeaconRound) => Promise<BeaconEntry> }

/** Walk no further than Lotus does (chain/store/store.go GetLatestBeaconEntry: 20 tipsets). */
export const BEACON_ENTRY_SEARCH_LIMIT = 20

/**
 * The newest beacon entry at or below `head` (Lotus chain/store/store.go GetLatestBeaconEntry): the last
 * entry of the first header, walking parents, that has any. Lotus looks at the tipset's first block; all
 * blocks of a tipset carry the same entries. `parentOf` returns a header's parent (one block of the parent
 * tipset) or undefined when it is not known. Lotus walks back because a devnet whose blocks come faster
 * than the beacon has blocks without entries (beaconRoundsForBlock's empty case).
 */
export function latestBeaconEntry<H extends BeaconHeaderLike> (head: H, parentOf: (header: H) => H | undefined): BeaconEntry {
  let cur = head
  for (let i = 0; i < BEACON_ENTRY_SEARCH_LIMIT; i++) {
    const entries = cur.beaconEntries
    if (entries.length > 0) return entries[entries.length - 1]!
    if (cur.height === 0) throw new NoBeaconEntryError('REACHED_GENESIS', 0, 'reached the genesis block without finding a beacon entry')
    const parent = parentOf(cur)
    if (parent === undefined) {
      throw new NoBeaconEntryError('UNKNOWN_PARENT', cur.height, `the parent of the header at height ${cur.height} is not known`)
    }
    cur = parent
  }
  throw new NoBeaconEntryError('SEARCH_LIMIT', cur.height, `no beacon entry in the ${BEACON_ENTRY_SEARCH_LIMIT} latest tipsets`)
}
