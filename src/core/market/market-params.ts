// The storage market's chain parameters. Filecoin fixes these as network constants; a Coffer chain names
// them in its genesis parameters, so a devnet can prove every few epochs and a light client still learns
// them, by hash, from the genesis CID it trusts.
import type { Epoch } from '../units'

export interface MarketParams {
  /** Epochs in one proving period; a deal's duration is a whole number of periods. */
  provingPeriod: Epoch
  /** Leaves challenged in each piece each period. */
  challengesPerPeriod: number
  /** Consecutive missed or bad proofs after which a deal is terminated. */
  maxConsecutiveFaults: number
}

export const DEFAULT_MARKET_PARAMS: MarketParams = { provingPeriod: 30, challengesPerPeriod: 5, maxConsecutiveFaults: 3 }

/** Bounds that keep cron work and a proof's size small whatever a genesis says. */
export const MAX_PROVING_PERIOD: Epoch = 2880
export const MAX_CHALLENGES_PER_PERIOD = 100

export function validMarketParams (p: unknown): p is MarketParams {
  const { provingPeriod, challengesPerPeriod, maxConsecutiveFaults } = (p ?? {}) as Record<string, unknown>
  const int = (v: unknown, lo: number, hi: number): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= lo && v <= hi
  return int(provingPeriod, 2, MAX_PROVING_PERIOD) && int(challengesPerPeriod, 1, MAX_CHALLENGES_PER_PERIOD) && int(maxConsecutiveFaults, 1, 100)
}
