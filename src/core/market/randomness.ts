// Randomness drawn from the chain, as Lotus's DrawRandomnessFromBase does it:
// blake2b-256( int64be(tag) ‖ blake2b-256(base) ‖ int64be(round) ‖ entropy ).
// Challenge seeds are beacon randomness, as WindowPoSt's are (Lotus chain/rand GetBeaconRandomness since nv14:
// blake2b-256 of the Data of the beacon entry for the epoch's round, then DrawRandomnessFromDigest): nobody,
// a provider that also produces blocks included, can know or grind it before the beacon makes that round.
// (Until issue 13 the base was the challenge epoch's header CID, which its producer could grind.)
import * as dagCbor from '@ipld/dag-cbor'
import { blake2b256 } from '../cid'
import type { BeaconEntry } from '../block-header'
import type { Epoch } from '../units'
import { DomainSeparationTag } from '../consensus/domain-separation'

/**
 * Filecoin's DomainSeparationTag for WindowPoSt challenge seeds: 4 in go-state-types crypto/randomness.go (this
 * was 5, SealRandomness, until issue 13's review caught it: chains made before then draw other challenges).
 */
export const DST_WINDOWED_POST_CHALLENGE_SEED = DomainSeparationTag.WindowedPoStChallengeSeed

export function drawRandomness (base: Uint8Array, tag: number, round: Epoch, entropy: Uint8Array): Uint8Array {
  const buf = new Uint8Array(8 + 32 + 8 + entropy.length)
  const view = new DataView(buf.buffer)
  view.setBigInt64(0, BigInt(tag))
  buf.set(blake2b256(base), 8)
  view.setBigInt64(40, BigInt(round))
  buf.set(entropy, 48)
  return blake2b256(buf)
}

/**
 * The 32-byte seed that picks a deal's challenged leaves for the period that opens at `challengeEpoch`: drawn
 * from `beacon`, the entry of that epoch's round (beaconEntryForEpoch), with the deal ID as entropy.
 */
export function challengeSeed (beacon: BeaconEntry, challengeEpoch: Epoch, dealId: number): Uint8Array {
  return drawRandomness(beacon.data, DST_WINDOWED_POST_CHALLENGE_SEED, challengeEpoch, dagCbor.encode(dealId))
}
