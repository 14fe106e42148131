// Randomness drawn from the chain, as Lotus's DrawRandomnessFromBase does it:
// blake2b-256( int64be(tag) ‖ blake2b-256(base) ‖ int64be(round) ‖ entropy ).
// Coffer's base is the CID of the header at the challenge epoch: a provider cannot know it before that
// block exists. (Filecoin draws from the drand beacon; with one producer and no beacon yet, the
// producer could grind its own header, a limit that goes when the beacon arrives.)
import * as dagCbor from '@ipld/dag-cbor'
import { blake2b256 } from '../cid'
import type { CID } from '../cid'
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

/** The 32-byte seed that picks a deal's challenged leaves for the period that opens at `challengeEpoch`. */
export function challengeSeed (challengeHeader: CID, challengeEpoch: Epoch, dealId: number): Uint8Array {
  return drawRandomness(challengeHeader.bytes, DST_WINDOWED_POST_CHALLENGE_SEED, challengeEpoch, dagCbor.encode(dealId))
}
