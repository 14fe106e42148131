// What one payment channel owes a retrieval provider over every stream and session on it: block bytes sent,
// what they are worth, and what vouchers paid. The provider holds a stream while the channel owes an interval,
// whichever stream ran it up, so a client opening streams side by side or one after another gets one interval
// of credit in all, not one per stream (issue 10: "neither side risks more than one interval"). Pure: the
// provider keeps the entry on disk beside the channel's vouchers.
import type { AttoFil } from '../units'

/** The ledger's figures, as kept on disk. */
export interface LedgerEntry {
  /** Block bytes sent on the channel, every stream. */
  sentBytes: number
  /** What those bytes cost, each stream priced at its own terms (a stream's total rounded up once, as the client pays). */
  charged: AttoFil
  /** What vouchers added on the channel's lanes, every stream (what each voucher adds over its lane's best). */
  paid: AttoFil
}

export const emptyLedgerEntry = (): LedgerEntry => ({ sentBytes: 0, charged: 0n, paid: 0n })

export class ChannelLedger {
  private e: LedgerEntry
  private readonly listeners = new Set<() => void>()

  constructor (entry: LedgerEntry = emptyLedgerEntry()) {
    if (!Number.isSafeInteger(entry.sentBytes) || entry.sentBytes < 0 || entry.charged < 0n || entry.paid < 0n) throw new RangeError('a ledger entry holds non-negative figures')
    this.e = { ...entry }
  }

  get entry (): LedgerEntry { return { ...this.e } }

  /** attoFIL owed beyond what was paid; negative when vouchers paid ahead (credit). */
  get owed (): AttoFil { return this.e.charged - this.e.paid }

  /** A stream sent `bytes` more block bytes, worth `value` more attoFIL. */
  charge (bytes: number, value: AttoFil): void {
    if (!Number.isSafeInteger(bytes) || bytes < 0 || value < 0n) throw new RangeError('a charge is non-negative')
    this.e = { ...this.e, sentBytes: this.e.sentBytes + bytes, charged: this.e.charged + value }
  }

  /** A voucher added `amount` over its lane's best: every stream held on this channel is told. */
  pay (amount: AttoFil): void {
    if (amount < 0n) throw new RangeError('a payment is non-negative')
    if (amount === 0n) return
    this.e = { ...this.e, paid: this.e.paid + amount }
    for (const fn of [...this.listeners]) fn()
  }

  /** Calls `fn` after each payment; returns the unsubscribe. */
  onPaid (fn: () => void): () => void {
    this.listeners.add(fn)
    return () => { this.listeners.delete(fn) }
  }
}
