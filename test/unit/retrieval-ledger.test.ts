// The channel ledger's rules: charges and payments add up, credit is negative owed, each payment tells every
// waiting stream, and it refuses figures no provider could have recorded.
import { describe, it, expect } from 'vitest'
import { ChannelLedger, emptyLedgerEntry } from '../../src/core'

describe('ChannelLedger', () => {
  it('owes what was charged less what was paid, over every stream; paying ahead is credit', () => {
    const l = new ChannelLedger()
    expect(l.entry).toEqual(emptyLedgerEntry())
    l.charge(100, 7n)
    l.charge(50, 3n)
    expect(l.owed).toBe(10n)
    l.pay(4n)
    expect(l.entry).toEqual({ sentBytes: 150, charged: 10n, paid: 4n })
    l.pay(10n)
    expect(l.owed).toBe(-4n)
    // the entry handed out is a copy: the ledger's figures change only through charge and pay
    const e = l.entry
    e.paid = 0n
    expect(l.entry.paid).toBe(14n)
  })

  it('tells every listener of each payment, and no one of a charge or a zero payment', () => {
    const l = new ChannelLedger({ sentBytes: 10, charged: 10n, paid: 0n })
    const seen: string[] = []
    const stopA = l.onPaid(() => { seen.push(`a ${l.owed}`) })
    l.onPaid(() => { seen.push(`b ${l.owed}`) })
    l.charge(5, 5n)
    l.pay(0n)
    l.pay(3n)
    stopA()
    l.pay(2n)
    expect(seen).toEqual(['a 12', 'b 12', 'b 10'])
  })

  it('refuses negative or fractional figures (RangeError)', () => {
    expect(() => new ChannelLedger({ sentBytes: -1, charged: 0n, paid: 0n })).toThrow(RangeError)
    expect(() => new ChannelLedger({ sentBytes: 1.5, charged: 0n, paid: 0n })).toThrow(RangeError)
    expect(() => new ChannelLedger({ sentBytes: 0, charged: -1n, paid: 0n })).toThrow(RangeError)
    expect(() => new ChannelLedger({ sentBytes: 0, charged: 0n, paid: -1n })).toThrow(RangeError)
    const l = new ChannelLedger()
    expect(() => l.charge(-1, 0n)).toThrow(RangeError)
    expect(() => l.charge(1, -1n)).toThrow(RangeError)
    expect(() => l.pay(-1n)).toThrow(RangeError)
  })
})
