// What one payment channel owes a retrieval provider over every stream and session on it: block bytes sent,
// what they are worth, and what vouchers paid. The provider holds a stream while the channel owes an interval,
// whichever stream ran it up, so a client opening streams side by side or one after another gets one interval
// of credit in all, not one per stream (issue 10: "neither side risks more than one interval"). Pure: the
// provider keeps the entry on disk beside the channel's vouchers.
//
// It also names the blocks behind what is owed: the latest blocks charged whose value covers the debt (the client
// pays in the order it verifies, which is the order they were sent, so the debt is always the newest charges). A
// block among them that a later stream sends again (bytes lost in flight when a stream broke, sent again on
// resume) is not charged again: it was charged and never paid. A block already paid for is charged again when
// sent again: a second download of a file pays for it again.
import type { AttoFil } from '../units'

/** A charged block not yet covered by payments: its CID (text) and what it was charged. */
export interface UnpaidBlock { cid: string, value: AttoFil }

/** Which stream charged a block: a block is free again only to another stream (a stream's repeated block is charged at each visit, as its client pays for each). */
export type StreamToken = object

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
  /** The newest charges, oldest first, covering what is owed (and no more than one block beyond it). */
  private unpaidList: Array<UnpaidBlock & { stream?: StreamToken }> = []
  private unpaidValue: AttoFil = 0n

  /** `unpaid`: the blocks behind the debt, as last recorded (charged by streams of an earlier run). */
  constructor (entry: LedgerEntry = emptyLedgerEntry(), unpaid: UnpaidBlock[] = []) {
    if (!Number.isSafeInteger(entry.sentBytes) || entry.sentBytes < 0 || entry.charged < 0n || entry.paid < 0n) throw new RangeError('a ledger entry holds non-negative figures')
    this.e = { ...entry }
    for (const b of unpaid) {
      if (b.value < 0n) throw new RangeError('an unpaid block\'s value is non-negative')
      this.unpaidList.push({ cid: b.cid, value: b.value })
      this.unpaidValue += b.value
    }
    this.trim()
  }

  get entry (): LedgerEntry { return { ...this.e } }

  /** The blocks behind what is owed, oldest first (what a restart must know to not charge them twice). */
  get unpaid (): UnpaidBlock[] { return this.unpaidList.map(b => ({ cid: b.cid, value: b.value })) }

  /** Whether `cid` was charged by a stream other than `stream` and is not paid yet: sent again, it is not charged again. */
  unpaidElsewhere (cid: string, stream: StreamToken): boolean {
    return this.unpaidList.some(b => b.cid === cid && b.stream !== stream)
  }

  /** attoFIL owed beyond what was paid; negative when vouchers paid ahead (credit). */
  get owed (): AttoFil { return this.e.charged - this.e.paid }

  /** A stream sent `bytes` more block bytes, worth `value` more attoFIL: the block `block.cid`, when named. */
  charge (bytes: number, value: AttoFil, block?: { cid: string, stream: StreamToken }): void {
    if (!Number.isSafeInteger(bytes) || bytes < 0 || value < 0n) throw new RangeError('a charge is non-negative')
    this.e = { ...this.e, sentBytes: this.e.sentBytes + bytes, charged: this.e.charged + value }
    if (block !== undefined && value > 0n) {
      this.unpaidList.push({ cid: block.cid, value, stream: block.stream })
      this.unpaidValue += value
    }
    this.trim()
  }

  /** A voucher added `amount` over its lane's best: every stream held on this channel is told. */
  pay (amount: AttoFil): void {
    if (amount < 0n) throw new RangeError('a payment is non-negative')
    if (amount === 0n) return
    this.e = { ...this.e, paid: this.e.paid + amount }
    this.trim()
    for (const fn of [...this.listeners]) fn()
  }

  /** Calls `fn` after each payment; returns the unsubscribe. */
  onPaid (fn: () => void): () => void {
    this.listeners.add(fn)
    return () => { this.listeners.delete(fn) }
  }

  /** Drops the oldest unpaid blocks that payments now cover: what is left is the fewest newest blocks worth at least the debt. */
  private trim (): void {
    const owed = this.owed
    if (owed <= 0n) { this.unpaidList = []; this.unpaidValue = 0n; return }
    let drop = 0
    let value = this.unpaidValue
    while (drop < this.unpaidList.length && value - this.unpaidList[drop]!.value >= owed) value -= this.unpaidList[drop++]!.value
    if (drop > 0) { this.unpaidList = this.unpaidList.slice(drop); this.unpaidValue = value }
  }
}
