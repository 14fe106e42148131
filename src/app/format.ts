// Display helpers shared by the views: amounts in a unit that fits their size (FIL, milliFIL, µFIL, nanoFIL,
// attoFIL) with a few significant digits, the exact value kept for a title; storage prices per GiB per month.
import { formatFil } from '../core/token'

/** A figure as shown, and the exact value behind it (for a title: hover, or a long press). */
export interface Figure { text: string, full: string }

const UNITS: Array<{ name: string, atto: bigint }> = [
  { name: 'FIL', atto: 10n ** 18n },
  { name: 'milliFIL', atto: 10n ** 15n },
  { name: 'µFIL', atto: 10n ** 12n },
  { name: 'nanoFIL', atto: 10n ** 9n }
]
/** Significant digits shown: enough to compare prices, few enough to read at a glance. */
const SIGNIFICANT = 3

const toBig = (atto: bigint | string | number): bigint => typeof atto === 'bigint' ? atto : BigInt(atto)
const group = (digits: string): string => digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',')

/** `abs` in `unit` rounded half-up to SIGNIFICANT digits (the whole part is never rounded away), trailing zeros dropped. */
function rounded (abs: bigint, unit: bigint): { whole: bigint, text: string } {
  const whole = abs / unit
  const decimals = Math.max(0, SIGNIFICANT - whole.toString().length + (whole === 0n ? 1 : 0))
  const scale = 10n ** BigInt(decimals)
  const q = (abs * scale * 2n + unit) / (unit * 2n)
  const w = q / scale
  const frac = decimals === 0 ? '' : (q % scale).toString().padStart(decimals, '0').replace(/0+$/, '')
  return { whole: w, text: `${group(w.toString())}${frac === '' ? '' : `.${frac}`}` }
}

/** attoFIL → "1.23 FIL", "45.6 milliFIL", "7 nanoFIL", "812 attoFIL"; `full` is the exact amount in FIL. */
export function filFigure (atto: bigint | string | number): Figure {
  const v = toBig(atto)
  const full = formatFil(v)
  const sign = v < 0n ? '-' : ''
  const abs = v < 0n ? -v : v
  if (abs === 0n) return { text: '0 FIL', full }
  for (const [i, u] of UNITS.entries()) {
    if (abs < u.atto) continue
    // 999.95 milliFIL rounds to 1,000 milliFIL: say 1 FIL instead
    const unit = i > 0 && rounded(abs, u.atto).whole >= 1000n ? UNITS[i - 1]! : u
    const r = rounded(abs, unit.atto)
    return { text: `${sign}${r.text === exact(abs, unit.atto) ? '' : '≈'}${r.text} ${unit.name}`, full }
  }
  // below a nanoFIL: whole attoFIL, exact
  return { text: `${sign}${group(abs.toString())} attoFIL`, full }
}

/** The amount in `unit` with every digit (what `rounded` is compared with, to mark a rounded figure ≈). */
function exact (abs: bigint, unit: bigint): string {
  const digits = unit.toString().length - 1
  const frac = (abs % unit).toString().padStart(digits, '0').replace(/0+$/, '')
  return `${group((abs / unit).toString())}${frac === '' ? '' : `.${frac}`}`
}

/** attoFIL (a decimal string, as views carry amounts) in a unit that fits; the exact value is `filFull`. */
export const fil = (atto: bigint | string | number): string => filFigure(atto).text
/** attoFIL in FIL, exact (every digit), as Lotus prints it. */
export const filFull = (atto: bigint | string | number): string => formatFil(toBig(atto))

export const GIB = 2 ** 30
/** Filecoin mainnet's epoch: 30 s, 2880 epochs a day (builtin-actors EPOCH_DURATION_SECONDS). */
export const FILECOIN_EPOCH_SECONDS = 30
/** A month as Filecoin's storage prices count it: 30 days. */
export const MONTH_SECONDS = 30 * 24 * 3600

export const epochsPerMonth = (epochSeconds: number): number => MONTH_SECONDS / epochSeconds

/**
 * One formatter, made once: `toLocaleString` with options builds a new one on every call (0.15 ms each in this
 * Chromium, 200 calls in 30 ms against 0.3 ms for one formatter's), and every price in a table is formatted again
 * each time the view updates (issue 17, part 3: the page's thread during an upload).
 */
const EPOCHS_FORMAT = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 })

export interface MonthlyPrice extends Figure {
  /** attoFIL per GiB per month (rounded down to whole attoFIL). */
  atto: bigint
  /** The epoch length the month was counted in, and whether it is the chain's own (else Filecoin's 30 s). */
  epochSeconds: number
  chainEpoch: boolean
  /** Says how the month was counted, for a title. */
  basis: string
}

/**
 * attoFIL per GiB per epoch (an ask) → FIL per GiB per month. The month is counted in the chain's epoch
 * length when the tab knows it (a devnet's epochs are seconds long, so its month holds many more epochs than
 * Filecoin's 86,400), else in Filecoin's 30 s epochs.
 */
export function perGiBMonth (attoPerGiBEpoch: bigint | string, chainEpochSeconds?: number | null): MonthlyPrice {
  const chainEpoch = chainEpochSeconds != null && chainEpochSeconds > 0
  const epochSeconds = chainEpoch ? chainEpochSeconds : FILECOIN_EPOCH_SECONDS
  // epochs a month can be fractional for odd epoch lengths: count in milliseconds, exactly
  const atto = toBig(attoPerGiBEpoch) * BigInt(MONTH_SECONDS * 1000) / BigInt(Math.round(epochSeconds * 1000))
  const f = filFigure(atto)
  const epochs = EPOCHS_FORMAT.format(epochsPerMonth(epochSeconds))
  const basis = `a 30-day month of ${epochs} epochs of ${epochSeconds} s (${chainEpoch ? 'this chain\'s epoch' : 'Filecoin\'s epoch; this chain\'s is not known here'}); ${fil(attoPerGiBEpoch)} per GiB per epoch`
  return { text: `${f.text} / GiB / month`, full: `${f.full} per GiB per month: ${basis}`, atto, epochSeconds, chainEpoch, basis }
}

/** A deal's price per epoch for its whole piece → FIL per GiB per month. */
export function dealPerGiBMonth (attoPerEpoch: bigint | string, pieceBytes: number, chainEpochSeconds?: number | null): MonthlyPrice {
  const perGiBEpoch = toBig(attoPerEpoch) * BigInt(GIB) / BigInt(Math.max(1, pieceBytes))
  return perGiBMonth(perGiBEpoch, chainEpochSeconds)
}

/** attoFIL per GiB sent (a retrieval ask) → "free" or "12.5 nanoFIL / GiB". */
export function perGiB (attoPerGiB: bigint | string): Figure {
  const v = toBig(attoPerGiB)
  if (v === 0n) return { text: 'free', full: '0 FIL per GiB' }
  const f = filFigure(v)
  return { text: `${f.text} / GiB`, full: `${f.full} per GiB` }
}

export const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(bytes < 2 ** 20 ? 2 : 1)} MiB`
export const percent = (x: number): string => `${(x * 100).toFixed(x > 0.999 && x < 1 ? 3 : 1)} %`
