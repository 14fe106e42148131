// Beacon entries already verified, so the blocks of one round (each carries the same entries) pay the beacon's
// pairings once: Lotus's DrandBeacon keeps such a cache (chain/beacon/drand localCache: 1,024 rounds, an entry
// added once its signature verified, a hit only when its bytes are the same). Pure: the caller keeps one per chain
// (one beacon key) and passes it to validateEcBlock.
import { bytesToHex } from '@noble/hashes/utils.js'
import type { BeaconEntry } from '../block-header'
import { beaconMessage, verifyBeaconEntry } from './beacon-scheme'

/**
 * A faster check of one beacon signature (mcl-wasm's: core/finality/mcl-bls.ts mclBeaconCheck) over the round's
 * message: true only when it verifies. Anything else goes to verifyBeaconEntry, which decides and names what is wrong.
 */
export type BeaconSignatureCheck = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean

/** How many rounds are kept (Lotus's 1,024); the first added falls out first. */
export const VERIFIED_BEACON_ROUNDS = 1024

export class VerifiedBeaconEntries {
  private readonly byRound = new Map<number, string>()

  /** The faster check entries not held are tried with first (none: noble's verifyBeaconEntry alone). */
  private check: BeaconSignatureCheck | null = null

  constructor (private readonly limit: number = VERIFIED_BEACON_ROUNDS) {}

  /** Checks later entries with `check` first (a light client's gossip judge runs a drand pairing per round). */
  useCheck (check: BeaconSignatureCheck): void { this.check = check }

  /** Throws unless `entry` is the beacon's signature of its round (verifyBeaconEntry's errors), by the faster check when it says so. */
  verify (publicKey: Uint8Array, entry: BeaconEntry): void {
    if (this.check !== null && Number.isSafeInteger(entry.round) && entry.round >= 0 && this.check(publicKey, beaconMessage(entry.round), entry.data)) return
    verifyBeaconEntry(publicKey, entry)
  }

  /** True when this exact entry (round and signature bytes) was verified under the cache's beacon key. */
  has (entry: BeaconEntry): boolean { return this.byRound.get(entry.round) === bytesToHex(entry.data) }

  /** The entries of `entries` not verified yet, in their order. */
  unverified (entries: readonly BeaconEntry[]): BeaconEntry[] { return entries.filter(e => !this.has(e)) }

  /** Records entries whose signatures verified (never others: a hit skips the pairing). */
  add (entries: readonly BeaconEntry[]): void {
    for (const e of entries) {
      this.byRound.delete(e.round)
      this.byRound.set(e.round, bytesToHex(e.data))
      if (this.byRound.size > this.limit) this.byRound.delete(this.byRound.keys().next().value!)
    }
  }

  get size (): number { return this.byRound.size }
}

/**
 * verifyBeaconEntry for each of `entries` that `verified` does not hold, adding each once it held (all of them
 * without a cache). Throws the first entry's named error, as verifyBeaconEntry does.
 */
export function verifyBeaconEntriesOnce (publicKey: Uint8Array, entries: readonly BeaconEntry[], verified?: VerifiedBeaconEntries): void {
  if (verified === undefined) {
    for (const entry of entries) verifyBeaconEntry(publicKey, entry)
    return
  }
  for (const entry of verified.unverified(entries)) {
    verified.verify(publicKey, entry)
    verified.add([entry])
  }
}
