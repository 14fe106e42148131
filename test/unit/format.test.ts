// The app's figures (src/app/format.ts): amounts in a unit that fits with three significant digits (marked ≈
// when rounded), the exact value kept; storage prices per GiB per month in the chain's epoch or Filecoin's.
import { describe, it, expect } from 'vitest'
import { filFigure, fil, filFull, perGiBMonth, dealPerGiBMonth, perGiB, epochsPerMonth, FILECOIN_EPOCH_SECONDS } from '../../src/app/format'
import { parseFil } from '../../src/core'

describe('amounts', () => {
  it('picks the unit by size and keeps three significant digits', () => {
    const cases: Array<[string, string]> = [
      ['0', '0 FIL'],
      ['1 attoFIL', '1 attoFIL'],
      ['999999999 attoFIL', '999,999,999 attoFIL'],
      ['1 nanoFIL', '1 nanoFIL'],
      ['1.5 nanoFIL', '1.5 nanoFIL'],
      ['750 nanoFIL', '750 nanoFIL'],
      ['0.001 milliFIL', '1 µFIL'],
      ['1.2345 microFIL', '≈1.23 µFIL'],
      ['0.01', '10 milliFIL'],
      ['0.5', '500 milliFIL'],
      ['0.9999', '≈1 FIL'], // 999.9 milliFIL rounds to 1,000: said in FIL
      ['1', '1 FIL'],
      ['99.99999', '≈100 FIL'],
      ['100', '100 FIL'],
      ['12.3456', '≈12.3 FIL'],
      ['1234567.89', '≈1,234,568 FIL']
    ]
    for (const [amount, text] of cases) expect([amount, fil(parseFil(amount))]).toEqual([amount, text])
    expect(fil('-2500000000000000')).toBe('-2.5 milliFIL')
  })

  it('keeps the exact value for the title', () => {
    expect(filFigure(parseFil('1.234567890123456789')).full).toBe('1.234567890123456789 FIL')
    expect(filFull('1')).toBe('0.000000000000000001 FIL')
    expect(filFigure(10n ** 18n + 1n)).toEqual({ text: '≈1 FIL', full: '1.000000000000000001 FIL' })
  })

  it('retrieval prices per GiB; zero is free', () => {
    expect(perGiB('0').text).toBe('free')
    expect(perGiB(parseFil('0.01').toString()).text).toBe('10 milliFIL / GiB')
  })
})

describe('storage prices per GiB per month', () => {
  it("counts Filecoin's month in 30 s epochs: 86,400 epochs, 2,880 a day", () => {
    expect(epochsPerMonth(FILECOIN_EPOCH_SECONDS)).toBe(86_400)
    const p = perGiBMonth(parseFil('1 nanoFIL'))
    expect(p.atto).toBe(parseFil('86400 nanoFIL'))
    expect(p.text).toBe('86.4 µFIL / GiB / month')
    expect(p.chainEpoch).toBe(false)
    expect(p.full).toContain("Filecoin's epoch")
  })

  it("uses the chain's epoch when known (a 1 s devnet month holds 30x the epochs) and says so", () => {
    const p = perGiBMonth(parseFil('1 nanoFIL').toString(), 1)
    expect(p.atto).toBe(parseFil('2592000 nanoFIL'))
    expect(p.text).toBe('≈2.59 milliFIL / GiB / month')
    expect(p.chainEpoch).toBe(true)
    expect(p.full).toContain("2,592,000 epochs of 1 s (this chain's epoch)")
    // a fractional epoch length is counted exactly
    expect(perGiBMonth(1000n, 0.5).atto).toBe(1000n * 2n * 2_592_000n)
  })

  it("a deal's price per epoch for its piece is per GiB per month of that piece", () => {
    // 1 nanoFIL an epoch for a 512 MiB piece is 2 nanoFIL per GiB per epoch
    expect(dealPerGiBMonth(parseFil('1 nanoFIL'), 2 ** 29, 30).atto).toBe(parseFil('172800 nanoFIL'))
  })
})
