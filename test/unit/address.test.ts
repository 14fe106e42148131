// Address vectors from filecoin-project/go-address's tests (mainnet text ↔ wire bytes in hex), plus the
// f410 example of the FEVM documentation.
import { describe, it, expect } from 'vitest'
import { parseAddress, addressToString, idAddressBytes, InvalidAddressError } from '../../src/core'

const hex = (b: Uint8Array): string => Array.from(b, x => x.toString(16).padStart(2, '0')).join('')
const VECTORS: Array<[string, string]> = [
  ['f00', '0000'],
  ['f0150', '009601'],
  ['f01024', '008008'],
  ['f15ihq5ibzwki2b4ep2f46avlkrqzhpqgtga7pdrq', '01ea0f0ea039b291a0f08fd179e0556a8c3277c0d3'],
  ['f12fiakbhe2gwd5cnmrenekasyn6v5tnaxaqizq6a', '01d1500504e4d1ac3e89ac891a4502586fabd9b417'],
  ['f24vg6ut43yw2h2jqydgbg2xq7x6f4kub3bg6as6i', '02e54dea4f9bc5b47d261819826d5e1fbf8bc5503b'],
  ['f2gfvuyh7v2sx3patm5k23wdzmhyhtmqctasbr23y', '02316b4c1ff5d4afb7826ceab5bb0f2c3e0f364053'],
  ['f3vvmn62lofvhjd2ugzca6sof2j2ubwok6cj4xxbfzz4yuxfkgobpihhd2thlanmsh3w2ptld2gqkn2jvlss4a', '03ad58df696e2d4e91ea86c881e938ba4ea81b395e12797b84b9cf314b9546705e839c7a99d606b247ddb4f9ac7a3414dd'],
  // FEVM documentation's example: namespace 10 (EAM), Ethereum address 0x52963e…cfef
  ['f410fkkld55ioe7qg24wvt7fu6pbknb56ht7pt4zamxa', '040a52963ef50e27e06d72d59fcb4f3c2a687be3cfef'],
  ['f3wmuu6crofhqmm3v4enos73okk2l366ck6yc4owxwbdtkmpk42ohkqxfitcpa57pjdcftql4tojda2poeruwa', '03b3294f0a2e29e0c66ebc235d2fedca5697bf784af605c75af608e6a63d5cd38ea85ca8989e0efde9188b382f9372460d']
]

const code = (fn: () => unknown): string | undefined => {
  try { fn() } catch (err) { return (err as InvalidAddressError).name === 'InvalidAddressError' ? (err as InvalidAddressError).code : 'OTHER' }
  return undefined
}

describe('Filecoin addresses', () => {
  for (const [text, bytes] of VECTORS) {
    it(`${text.slice(0, 24)}… ↔ ${bytes.slice(0, 12)}…`, () => {
      const parsed = parseAddress(text, 'f')
      expect(hex(parsed.bytes)).toBe(bytes)
      expect(addressToString(parsed.bytes, 'f')).toBe(text)
      expect(addressToString(parsed.bytes, 't')).toBe(`t${text.slice(1)}`)
    })
  }

  it('round-trips a delegated (f4) address', () => {
    const eth = Uint8Array.from({ length: 20 }, (_, i) => i * 7)
    const bytes = Uint8Array.of(4, 10, ...eth)
    const text = addressToString(bytes, 'f')
    expect(text.startsWith('f410f')).toBe(true)
    expect(hex(parseAddress(text).bytes)).toBe(hex(bytes))
  })

  it('refuses bad input with a named error and a code', () => {
    const good = VECTORS[3]![0]
    const flipped = good.slice(0, -1) + (good.endsWith('a') ? 'b' : 'a')
    expect(code(() => parseAddress(flipped))).toBe('CHECKSUM')
    expect(code(() => parseAddress(good, 't'))).toBe('NETWORK')
    expect(code(() => parseAddress(`x${good.slice(1)}`))).toBe('NETWORK')
    expect(code(() => parseAddress('f9abc'))).toBe('PROTOCOL')
    expect(code(() => parseAddress('f1abc'))).toBe('PAYLOAD')
    expect(code(() => parseAddress('f1ABCDEFGH'))).toBe('PAYLOAD')
    expect(code(() => parseAddress('f0-1'))).toBe('PAYLOAD')
    expect(code(() => parseAddress('f001'))).toBe('PAYLOAD')
    expect(code(() => parseAddress('f09223372036854775808'))).toBe('PAYLOAD')
    expect(code(() => addressToString(Uint8Array.of(1, 2, 3)))).toBe('PAYLOAD')
    expect(() => idAddressBytes(-1)).toThrow(RangeError)
  })
})
