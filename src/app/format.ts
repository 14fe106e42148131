// Display helpers shared by the views.
import { formatFil } from '../core/token'

/** attoFIL (as a decimal string) in FIL, exact. */
export const fil = (atto: string): string => formatFil(BigInt(atto))
export const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(bytes < 2 ** 20 ? 2 : 1)} MiB`
export const percent = (x: number): string => `${(x * 100).toFixed(x > 0.999 && x < 1 ? 3 : 1)} %`
