import { describe, it, expect } from 'vitest'
import { parseFil, formatFil, encodeBigInt, decodeBigInt, TOTAL_FIL_ATTO } from '../../src/core'

describe('FIL amounts', () => {
  const cases: Array<[string, bigint, string]> = [
    ['1.5 FIL', 1_500_000_000_000_000_000n, '1.5 FIL'],
    ['1 attoFIL', 1n, '0.000000000000000001 FIL'],
    ['0.000000000000000001 FIL', 1n, '0.000000000000000001 FIL'],
    ['250 nanoFIL', 250_000_000_000n, '0.00000025 FIL'],
    ['2', 2n * 10n ** 18n, '2 FIL'],
    ['0 FIL', 0n, '0 FIL'],
    ['-3.25 fil', -3_250_000_000_000_000_000n, '-3.25 FIL']
  ]
  for (const [text, atto, shown] of cases) {
    it(`${text} = ${atto} attoFIL, shown as ${shown}`, () => {
      expect(parseFil(text)).toBe(atto)
      expect(formatFil(atto)).toBe(shown)
      expect(parseFil(formatFil(atto))).toBe(atto)
    })
  }
  it('refuses what is not an exact amount', () => {
    for (const bad of ['', 'FIL', '1.2.3 FIL', '0.0000000000000000001 FIL', '1.5 attoFIL', '3 BTC', '1e18', '2000000001 FIL']) {
      expect(() => parseFil(bad), bad).toThrow(expect.objectContaining({ name: 'InvalidAmountError' }))
    }
    expect(parseFil('2000000000 FIL')).toBe(TOTAL_FIL_ATTO)
  })
  it('BigInt wire bytes round-trip (Filecoin sign-byte layout)', () => {
    for (const v of [0n, 1n, 255n, 256n, -1n, TOTAL_FIL_ATTO, -TOTAL_FIL_ATTO]) expect(decodeBigInt(encodeBigInt(v))).toBe(v)
    expect(Array.from(encodeBigInt(3840n))).toEqual([0, 0x0f, 0x00]) // ParentWeight "3840" in the Lotus vector
    expect(() => decodeBigInt(Uint8Array.of(2, 1))).toThrow(RangeError)
  })
})
