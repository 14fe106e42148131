// Picking providers for a piece: those whose ask takes the piece (size range, free space), those without failed
// spot audits first, then cheapest, then the one with more room, then the better proof record. Pure: asks and records come in.
import { askPricePerEpoch, type StorageAsk } from './storage-ask'
import type { AttoFil } from '../units'

export interface ProviderCandidate {
  /** Provider ID address bytes. */
  provider: Uint8Array
  ask: StorageAsk
  /** Faulted periods over all its deals the client knows of (0 when it knows none). */
  faults: number
  /**
   * Spot audits the client ran that failed or went unanswered (audit-service.ts). A provider with any sorts after
   * every one without, whatever its price: a failed audit is direct evidence about the client's bytes, where a
   * chain fault may be a missed message.
   */
  failedAudits?: number
}

export interface ProviderChoice extends ProviderCandidate { pricePerEpoch: AttoFil }

export class NoProvidersError extends Error {
  static override name = 'NoProvidersError'
  override name = 'NoProvidersError'
  readonly code = 'NO_PROVIDERS'
}

/** The `copies` best providers for a piece of `paddedBytes`; fewer than asked for is an error, naming why. */
export function chooseProviders (candidates: ProviderCandidate[], paddedBytes: number, copies: number): ProviderChoice[] {
  const fits = candidates.filter(c => paddedBytes >= c.ask.minPieceSize && paddedBytes <= c.ask.maxPieceSize && paddedBytes <= c.ask.freeBytes)
  if (fits.length < copies) {
    throw new NoProvidersError(`${fits.length} of ${candidates.length} providers take a piece of ${paddedBytes} bytes; ${copies} copies were asked for`)
  }
  return fits
    .map(c => ({ ...c, pricePerEpoch: askPricePerEpoch(c.ask, paddedBytes) }))
    .sort((a, b) => Number((a.failedAudits ?? 0) > 0) - Number((b.failedAudits ?? 0) > 0) ||
      (a.pricePerEpoch < b.pricePerEpoch ? -1 : a.pricePerEpoch > b.pricePerEpoch ? 1 : b.ask.freeBytes - a.ask.freeBytes || a.faults - b.faults))
    .slice(0, copies)
}
