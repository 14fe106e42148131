// When a deal can start: the first proving-period boundary after the payload can reach the provider and the
// provider can check and publish it. Planned from a transfer rate measured on this link and re-planned as
// the measurement changes, never from one rate assumed for every machine (issue 9: a tab sending at
// 10 MiB/s missed a start planned for 16 MiB/s and the whole upload failed after its last byte).
import type { Epoch } from '../units'

/** Epochs, on top of the transfer, for the provider to hash the piece and get its publish message in. */
export const PUBLISH_MARGIN_EPOCHS = 15
/**
 * Extra time a plan allows on top of the measured transfer time (×1.5): a rate that dips a little does not
 * force a new proposal, and one that halves costs one re-plan, not one per acknowledgement.
 */
export const PLAN_SLACK = 1.5
/** Epochs a proposal must leave, when the last byte arrives, for the provider to check and publish it. */
export const MIN_PUBLISH_EPOCHS = 3
/**
 * The rate an upload is first planned with when this tab has measured none yet. Only a first guess:
 * `startStillReachable` re-checks it against measured progress, and the copy is re-planned when it misses.
 */
export const FIRST_GUESS_BYTES_PER_SEC = 16 * 2 ** 20

export interface StartPlanInit {
  head: Epoch
  /** Payload bytes still to send (0 once the provider holds them all). */
  remainingBytes: number
  bytesPerSec: number
  blockDelaySecs: number
  provingPeriod: Epoch
  /** Further epochs to add, e.g. after a provider refused a start as too close. */
  extraEpochs?: Epoch
}

/** Epochs `bytes` take at `bytesPerSec` (at least one epoch per started block delay). */
export function transferEpochs (bytes: number, bytesPerSec: number, blockDelaySecs: number): Epoch {
  if (!(bytesPerSec > 0)) throw new RangeError(`a transfer rate must be positive, got ${bytesPerSec}`)
  if (!(blockDelaySecs > 0)) throw new RangeError(`a block delay must be positive, got ${blockDelaySecs}`)
  return Math.ceil(bytes / bytesPerSec / blockDelaySecs)
}

/** The first period boundary the remaining bytes, with slack and the publish margin, can make. */
export function planStartEpoch (p: StartPlanInit): Epoch {
  const earliest = p.head + Math.ceil(transferEpochs(p.remainingBytes, p.bytesPerSec, p.blockDelaySecs) * PLAN_SLACK) + PUBLISH_MARGIN_EPOCHS + (p.extraEpochs ?? 0)
  return Math.ceil(earliest / p.provingPeriod) * p.provingPeriod
}

/** True when, at the measured rate, the bytes still to send arrive early enough to publish before `start`. */
export function startStillReachable (p: { start: Epoch, head: Epoch, remainingBytes: number, bytesPerSec: number, blockDelaySecs: number }): boolean {
  return p.head + transferEpochs(p.remainingBytes, p.bytesPerSec, p.blockDelaySecs) + MIN_PUBLISH_EPOCHS <= p.start
}

/**
 * A transfer's rate from (milliseconds, bytes held) samples over a sliding window. The milliseconds are the
 * caller's readings (core reads no clock). Samples come at the provider's acknowledgements, a few MiB apart, so the window
 * always keeps at least the two newest.
 */
export class ThroughputMeter {
  private readonly samples: Array<{ atMs: number, bytes: number }> = []

  constructor (private readonly windowMs = 60_000, private readonly minSpanMs = 2_000) {}

  /** Bytes held so far at `atMs`; a count that went back (a fresh stream resuming lower) starts over. */
  add (atMs: number, bytes: number): void {
    const last = this.samples[this.samples.length - 1]
    if (last !== undefined && bytes < last.bytes) this.samples.length = 0
    this.samples.push({ atMs, bytes })
    while (this.samples.length > 2 && atMs - this.samples[1]!.atMs >= this.windowMs) this.samples.shift()
  }

  /** Bytes a second over the window, or null until the samples span enough time and bytes to say. */
  bytesPerSec (): number | null {
    const first = this.samples[0]
    const last = this.samples[this.samples.length - 1]
    if (first === undefined || last === undefined) return null
    const spanMs = last.atMs - first.atMs
    if (spanMs < this.minSpanMs || last.bytes <= first.bytes) return null
    return (last.bytes - first.bytes) / (spanMs / 1000)
  }
}
