// A randomness beacon for tests that build chains by hand: a fixed key, and the entries a child of a header must
// carry, signed as the devnet's beacon signs them (memoized: signing a round is a hash to G1 and a multiplication).
import { beaconPublicKey, signBeaconRound, beaconRoundsForChild, type BeaconConfig, type BeaconEntry, type Genesis, type SealedHeader } from '../../src/core'

export const TEST_BEACON_SECRET = new Uint8Array(32).fill(77)
/** One round a second from the Unix epoch: any chain genesis after it works, whatever its block delay. */
export const TEST_BEACON: BeaconConfig = { publicKey: beaconPublicKey(TEST_BEACON_SECRET), genesisTime: 0, periodSecs: 1 }

const signed = new Map<number, Uint8Array>()
export function testBeaconEntry (round: number): BeaconEntry {
  let data = signed.get(round)
  if (data === undefined) { data = signBeaconRound(TEST_BEACON_SECRET, round); signed.set(round, data) }
  return { round, data }
}

/** The entries a child of `parent` carries, signed with `secret` (a devnet's own beacon key, from its data folder). */
export function beaconEntriesWith (secret: Uint8Array, parent: SealedHeader, genesis: Genesis): BeaconEntry[] {
  return beaconRoundsForChild(parent, genesis).map(round => ({ round, data: signBeaconRound(secret, round) }))
}

/** The entries a child of `parent` carries under TEST_BEACON (the genesis must have been made with it). */
export function testBeaconEntries (parent: SealedHeader, genesis: Genesis): BeaconEntry[] {
  return beaconRoundsForChild(parent, genesis).map(testBeaconEntry)
}
