import { describe, it, expect } from 'vitest'
import fixtures from '../fixtures/filecoin-block-headers.json'
import {
  decodeHeader, encodeHeader, unsealHeader, headerSigningBytes, addressToString, MalformedHeaderError,
  OversizedMessageError, MAX_HEADER_BYTES, EMPTY_AMT_CID
} from '../../src/core'

const hex = (s: string): Uint8Array => Uint8Array.from(s.match(/../g)!.map(b => parseInt(b, 16)))

describe('BlockHeader against Lotus-produced vectors', () => {
  for (const v of fixtures.vectors) {
    it(`decodes and re-encodes ${v.cid} byte for byte`, () => {
      const bytes = hex(v.cbor_hex)
      const sealed = unsealHeader(bytes)
      expect(sealed.cid.toString()).toBe(v.cid)
      const h = sealed.header
      expect(addressToString(h.miner)).toBe(v.miner)
      expect(h.height).toBe(v.height)
      expect(h.timestamp).toBe(v.timestamp)
      expect(h.parentWeight).toBe(BigInt(v.parentWeight))
      expect(h.parentBaseFee).toBe(BigInt(v.parentBaseFee))
      expect(h.parents.map(String)).toEqual(v.parents)
      expect(h.messages.toString()).toBe(v.messages)
      expect(h.blockSig?.type).toBe(2)
      expect(h.blockSig?.data.length).toBe(96)
      expect(encodeHeader(h)).toEqual(bytes)
    })
  }

  it('signing bytes are the header with BlockSig null (Lotus SigningBytes)', () => {
    const bytes = hex(fixtures.vectors[0]!.cbor_hex)
    const h = decodeHeader(bytes)
    const signing = headerSigningBytes(h)
    // the BlockSig field (0x58 0x61 0x02 + 96 bytes) is replaced by CBOR null (0xf6)
    expect(signing.length).toBe(bytes.length - (3 + 96) + 1)
    expect(decodeHeader(signing).blockSig).toBeNull()
  })

  it('writes the empty receipts root every empty Filecoin block carries (v0 AMT layout)', () => {
    expect(EMPTY_AMT_CID.toString()).toBe('bafy2bzacedswlcz5ddgqnyo3sak3jmhmkxashisnlpq6ujgyhe4mlobzpnhs6')
  })
})

describe('decodeHeader rejects malformed input with a named error', () => {
  const good = hex(fixtures.vectors[0]!.cbor_hex)
  it('truncated CBOR', () => {
    expect(() => decodeHeader(good.subarray(0, good.length - 5))).toThrow(MalformedHeaderError)
  })
  it('not a tuple of 16', () => {
    expect(() => decodeHeader(Uint8Array.of(0x83, 1, 2, 3))).toThrow(MalformedHeaderError)
  })
  it('wrong field type', () => {
    const bad = good.slice()
    bad[1] = 0x01 // Miner: byte string header 0x43 becomes an integer
    expect(() => decodeHeader(bad)).toThrow(MalformedHeaderError)
  })
  it('a negative ParentWeight or ParentBaseFee (a negative fee would mint what it burns)', () => {
    const h = decodeHeader(good)
    for (const over of [{ parentWeight: -1n }, { parentBaseFee: -100n }]) {
      expect(() => decodeHeader(encodeHeader({ ...h, ...over })), JSON.stringify(Object.keys(over))).toThrow(/is negative/)
    }
    expect(decodeHeader(encodeHeader({ ...h, parentBaseFee: 0n })).parentBaseFee).toBe(0n)
  })
  it('oversized', () => {
    expect(() => decodeHeader(new Uint8Array(MAX_HEADER_BYTES + 1))).toThrow(OversizedMessageError)
  })
  it('garbage never throws anything but a named error', () => {
    for (let i = 0; i < 300; i++) {
      const junk = good.slice()
      const at = (i * 7919) % junk.length
      junk[at] = junk[at]! ^ (1 + (i % 255))
      try { decodeHeader(junk) } catch (err) { expect((err as Error).name).toMatch(/MalformedHeaderError|OversizedMessageError/) }
    }
  })
})
