// The rules a header must pass before a light client stores it, named after what they check. Time is a
// parameter (`now`): nothing here reads a clock.
import { headerSigningBytes, type SealedHeader } from './block-header'
import { blsVerify } from './signature'
import { addressToString } from './address'
import {
  BadSignatureError, HeightGapError, TimestampError, UnknownParentError, WrongProducerError
} from './errors'
import { beaconTimingOf, type Genesis, type GenesisState } from './genesis'
import type { UnixSeconds } from './units'
import type { BeaconEntry } from './block-header'
import { latestBeaconEntry, validateBeaconRounds, verifyBeaconEntry } from './beacon'

/** How far ahead of the verifier's clock a header timestamp may be; Lotus allows one block delay of drift. */
export const ALLOWED_CLOCK_DRIFT_SECS = 5

function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i])
}

/** Linkage: a child extends exactly `parent`, one epoch higher, strictly later, not from the future. */
export function validateHeaderLink (child: SealedHeader, parent: SealedHeader, now: UnixSeconds): void {
  const h = child.header
  if (h.parents.length !== 1 || !h.parents[0]!.equals(parent.cid)) {
    throw new UnknownParentError(h.parents.map(String).join(',') || '(none)', h.height)
  }
  if (h.height !== parent.header.height + 1) throw new HeightGapError(parent.header.height, h.height)
  if (h.timestamp <= parent.header.timestamp) {
    throw new TimestampError(`timestamp ${h.timestamp} is not after parent's ${parent.header.timestamp}`, h.height)
  }
  if (h.timestamp > now + ALLOWED_CLOCK_DRIFT_SECS) {
    throw new TimestampError(`timestamp ${h.timestamp} is in the future (now ${now})`, h.height)
  }
}

function printable (address: Uint8Array): string {
  try { return addressToString(address) } catch { return `(unreadable address of ${address.length} bytes)` }
}

/** Authorship, the cheap half: mined by the genesis producer. */
export function validateHeaderProducer (child: SealedHeader, genesis: GenesisState): void {
  const h = child.header
  if (!sameBytes(h.miner, genesis.producer)) throw new WrongProducerError(printable(h.miner), h.height)
}

/** Authorship: mined by the genesis producer and carrying its BLS signature over Lotus's signing bytes. */
export function validateHeaderSignature (child: SealedHeader, genesis: GenesisState): void {
  const h = child.header
  validateHeaderProducer(child, genesis)
  if (h.blockSig === null || !blsVerify(genesis.producerKey, headerSigningBytes(h), h.blockSig)) {
    throw new BadSignatureError(h.height)
  }
}

/**
 * The beacon entry a child of `parent` builds on: the parent's last. Every stored header has one (genesis
 * carries Lotus's genesis entry, and a beacon at least as fast as the chain gives every later block its
 * epoch's round); a parent without one throws NoBeaconEntryError (a peer fault where the parent came from a peer:
 * a sync answer's lowest header is the parent of the rest).
 */
export function parentBeaconEntry (parent: SealedHeader): BeaconEntry {
  return latestBeaconEntry(parent.header, () => undefined)
}

/** The beacon rounds, the cheap half: the child carries exactly the rounds Lotus's rules name for its epoch. */
export function validateHeaderBeaconRounds (child: SealedHeader, parent: SealedHeader, genesis: Genesis): void {
  validateBeaconRounds(beaconTimingOf(genesis), child.header, parent.header.height, parentBeaconEntry(parent))
}

/** The beacon rules: the rounds, then each entry's signature under the genesis beacon key. Throws a named BeaconEntryError. */
export function validateHeaderBeacon (child: SealedHeader, parent: SealedHeader, genesis: Genesis): void {
  validateHeaderBeaconRounds(child, parent, genesis)
  validateHeaderBeaconSignatures(child, genesis)
}

/** Each beacon entry the header carries is the beacon's signature of its round (no parent needed: gossip checks this). */
export function validateHeaderBeaconSignatures (child: SealedHeader, genesis: Pick<Genesis, 'state'>): void {
  for (const entry of child.header.beaconEntries) verifyBeaconEntry(genesis.state.beacon.publicKey, entry)
}

/** Every rule, cheapest first, so a junk header costs no pairing. */
export function validateHeader (child: SealedHeader, parent: SealedHeader, genesis: Genesis, now: UnixSeconds): void {
  validateHeaderLink(child, parent, now)
  validateHeaderProducer(child, genesis.state)
  validateHeaderBeaconRounds(child, parent, genesis)
  validateHeaderSignature(child, genesis.state)
  validateHeaderBeaconSignatures(child, genesis)
}
