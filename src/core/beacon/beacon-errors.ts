// Named failures of the randomness beacon: a refused beacon entry (with its round and why), a refused
// beacon public key, and no entry to build on. Callers branch on `.name` or `.code`, never on the text.

export type BeaconEntryErrorCode =
  | 'MALFORMED' // the signature bytes are not a 48-byte compressed G1 point of the prime-order subgroup
  | 'BAD_SIGNATURE' // a well-formed point that is not the beacon's signature of this round
  | 'WRONG_ROUND' // an entry for a round the block must not carry at that position
  | 'MISSING_ENTRIES' // fewer entries than the epochs since the parent call for
  | 'UNEXPECTED_ENTRIES' // more entries than the epochs since the parent call for

/** A header's beacon entry broke the beacon rules; `round` is the entry's (or the missing) round. */
export class BeaconEntryError extends Error {
  static override name = 'BeaconEntryError'
  override name = 'BeaconEntryError'
  constructor (readonly code: BeaconEntryErrorCode, readonly round: number | undefined, readonly reason: string) {
    super(`beacon entry${round === undefined ? '' : ` for round ${round}`}: ${reason}`)
  }
}

export class MalformedBeaconEntryError extends BeaconEntryError {
  static override name = 'MalformedBeaconEntryError'
  override name = 'MalformedBeaconEntryError'
  constructor (round: number | undefined, reason: string) { super('MALFORMED', round, reason) }
}

export class BadBeaconSignatureError extends BeaconEntryError {
  static override name = 'BadBeaconSignatureError'
  override name = 'BadBeaconSignatureError'
  constructor (round: number) { super('BAD_SIGNATURE', round, 'the signature does not verify under the beacon public key') }
}

export class WrongBeaconRoundError extends BeaconEntryError {
  static override name = 'WrongBeaconRoundError'
  override name = 'WrongBeaconRoundError'
  constructor (round: number, readonly expected: number, readonly index: number) {
    super('WRONG_ROUND', round, `entry ${index} is round ${round}, expected round ${expected}`)
  }
}

export class MissingBeaconEntriesError extends BeaconEntryError {
  static override name = 'MissingBeaconEntriesError'
  override name = 'MissingBeaconEntriesError'
  constructor (readonly expectedRounds: readonly number[], readonly count: number) {
    super('MISSING_ENTRIES', expectedRounds[count], `${count} entries, expected ${expectedRounds.length} (rounds ${expectedRounds.join(', ')})`)
  }
}

export class UnexpectedBeaconEntriesError extends BeaconEntryError {
  static override name = 'UnexpectedBeaconEntriesError'
  override name = 'UnexpectedBeaconEntriesError'
  constructor (readonly expectedRounds: readonly number[], readonly count: number, round: number | undefined) {
    super('UNEXPECTED_ENTRIES', round,
      `${count} entries, expected ${expectedRounds.length}${expectedRounds.length === 0 ? '' : ` (rounds ${expectedRounds.join(', ')})`}`)
  }
}

/** The beacon public key (from genesis or a chain's info) is not a 96-byte compressed G2 point of the subgroup. */
export class MalformedBeaconKeyError extends Error {
  static override name = 'MalformedBeaconKeyError'
  override name = 'MalformedBeaconKeyError'
  constructor (readonly reason: string) { super(`beacon public key: ${reason}`) }
}

export type NoBeaconEntryCode = 'REACHED_GENESIS' | 'UNKNOWN_PARENT' | 'SEARCH_LIMIT'

/** No beacon entry found walking back from a tipset (Lotus ChainStore.GetLatestBeaconEntry's failures). */
export class NoBeaconEntryError extends Error {
  static override name = 'NoBeaconEntryError'
  override name = 'NoBeaconEntryError'
  constructor (readonly code: NoBeaconEntryCode, readonly height: number, message: string) { super(message) }
}
