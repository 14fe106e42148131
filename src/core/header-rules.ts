// The rules a header must pass before a light client stores it, named after what they check. Time is a
// parameter (`now`): nothing here reads a clock.
import { headerSigningBytes, type SealedHeader } from './block-header'
import { blsVerify } from './signature'
import { addressToString } from './address'
import {
  BadSignatureError, HeightGapError, TimestampError, UnknownParentError, WrongProducerError
} from './errors'
import type { GenesisState } from './genesis'
import type { UnixSeconds } from './units'

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

/** Every rule, cheapest first, so a junk header costs no pairing. */
export function validateHeader (child: SealedHeader, parent: SealedHeader, genesis: GenesisState, now: UnixSeconds): void {
  validateHeaderLink(child, parent, now)
  validateHeaderSignature(child, genesis)
}
