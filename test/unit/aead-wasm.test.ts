// The WASM ChaCha20-Poly1305 the browser's noise sessions use (workers/wasm/aead-wasm.ts): RFC 8439's AEAD test
// vector, the same bytes as @noble/ciphers (the JavaScript cipher it replaces) for any length and associated data,
// and every altered message refused before anything is decrypted.
import { describe, it, expect, beforeAll } from 'vitest'
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { Uint8ArrayList } from 'uint8arraylist'
import { chacha20poly1305 } from '@noble/ciphers/chacha.js'
import { poly1305 } from '@noble/ciphers/_poly1305.js'
import { AEAD_WASM_OUT } from '../../src/node/build-wasm'
import { instantiateAeadWasm, selfTestAead, AeadTagError, AeadSelfTestError, type AeadWasm } from '../../workers/wasm/aead-wasm'

let aead: AeadWasm
beforeAll(async () => { aead = await instantiateAeadWasm(readFileSync(AEAD_WASM_OUT)) })

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s/g, ''), 'hex'))
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

describe('ChaCha20-Poly1305 in WASM', () => {
  it('seals RFC 8439 §2.8.2\'s example to its ciphertext and tag, and opens it', () => {
    const plaintext = new TextEncoder().encode('Ladies and Gentlemen of the class of \'99: If I could offer you only one tip for the future, sunscreen would be it.')
    const key = hex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f')
    const nonce = hex('070000004041424344454647')
    const ad = hex('50515253c0c1c2c3c4c5c6c7')
    const sealed = aead.seal(key, nonce, plaintext, ad)
    expect(toHex(sealed.subarray(0, 16))).toBe('d31a8d34648e60db7b86afbc53ef7ec2')
    expect(toHex(sealed.subarray(-16))).toBe('1ae10b594f09e26a7e902ecbd0600691')
    expect(toHex(sealed)).toBe(toHex(chacha20poly1305(key, nonce, ad).encrypt(plaintext)))
    expect(new TextDecoder().decode(aead.open(key, nonce, sealed, ad))).toBe(new TextDecoder().decode(plaintext))
  })

  it('gives @noble/ciphers\' bytes for any message and associated data, and opens them back', () => {
    fc.assert(fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 12, maxLength: 12 }),
      fc.uint8Array({ maxLength: 600 }), fc.uint8Array({ maxLength: 48 }),
      (key, nonce, plaintext, ad) => {
        const sealed = aead.seal(key, nonce, plaintext, ad)
        expect(toHex(sealed)).toBe(toHex(chacha20poly1305(key, nonce, ad).encrypt(plaintext)))
        expect(toHex(aead.open(key, nonce, sealed, ad))).toBe(toHex(plaintext))
      }), { numRuns: 400 })
  })

  it('agrees on noise-sized messages (up to 65,519 bytes, every length near a block edge) and decrypts into the buffer given', () => {
    const key = crypto.getRandomValues(new Uint8Array(32))
    const nonce = crypto.getRandomValues(new Uint8Array(12))
    for (const n of [63, 64, 65, 255, 256, 257, 4095, 4096, 4097, 65519]) {
      const plaintext = new Uint8Array(n)
      for (let o = 0; o < n; o += 65536) crypto.getRandomValues(plaintext.subarray(o, o + 65536))
      const sealed = aead.seal(key, nonce, plaintext, new Uint8Array(0))
      expect(toHex(sealed)).toBe(toHex(chacha20poly1305(key, nonce, new Uint8Array(0)).encrypt(plaintext)))
      // as noise does: the plaintext written over the front of the sealed buffer itself
      const into = sealed.subarray(0, n)
      const opened = aead.open(key, nonce, sealed, new Uint8Array(0), into)
      expect(opened.buffer).toBe(sealed.buffer)
      expect(toHex(opened)).toBe(toHex(plaintext))
    }
  })

  it('refuses a message with any bit changed (ciphertext, tag or associated data), a wrong key or nonce, or one too short', () => {
    const key = crypto.getRandomValues(new Uint8Array(32))
    const nonce = crypto.getRandomValues(new Uint8Array(12))
    const ad = new Uint8Array([1, 2, 3])
    const sealed = aead.seal(key, nonce, crypto.getRandomValues(new Uint8Array(200)), ad)
    for (const at of [0, 99, 199, 200, 215]) {
      const bad = sealed.slice()
      bad[at]! ^= 0x01
      expect(() => aead.open(key, nonce, bad, ad)).toThrow(AeadTagError)
    }
    expect(() => aead.open(key, nonce, sealed, new Uint8Array([1, 2, 4]))).toThrow(AeadTagError)
    expect(() => aead.open(key.map((b, i) => i === 0 ? b ^ 1 : b), nonce, sealed, ad)).toThrow(AeadTagError)
    expect(() => aead.open(key, nonce.map((b, i) => i === 11 ? b ^ 1 : b), sealed, ad)).toThrow(AeadTagError)
    expect(() => aead.open(key, nonce, sealed.subarray(0, 15), ad)).toThrow(AeadTagError)
    expect(() => aead.seal(key.subarray(0, 31), nonce, new Uint8Array(1), ad)).toThrow(RangeError)
  })

  it('opens a message that arrives in pieces (a Uint8ArrayList cut anywhere, the tag\'s bytes too) as it opens it whole', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 3000 }), fc.uint8Array({ maxLength: 40 }), fc.array(fc.nat(), { maxLength: 6 }), fc.boolean(), (plaintext, ad, cuts, flip) => {
      const key = crypto.getRandomValues(new Uint8Array(32))
      const nonce = crypto.getRandomValues(new Uint8Array(12))
      const sealed = aead.seal(key, nonce, plaintext, ad)
      if (flip) sealed[sealed.length - 1]! ^= 0x80
      const at = [...new Set(cuts.map(c => c % (sealed.length + 1)))].sort((a, b) => a - b)
      const list = new Uint8ArrayList()
      let from = 0
      for (const c of [...at, sealed.length]) { list.append(sealed.slice(from, c)); from = c }
      if (flip) expect(() => aead.open(key, nonce, list, ad)).toThrow(AeadTagError)
      else expect(toHex(aead.open(key, nonce, list, ad))).toBe(toHex(plaintext))
    }), { numRuns: 300 })
  })

  it('Poly1305 alone gives @noble/ciphers\' tag where the final reduction is hardest (carries of all ones; h just below and above 2^130 - 5)', () => {
    // bytes mostly 0xff or 0x00 make the carries and the last "h >= p" choice happen, which random bytes almost never do
    const edgy = fc.uint8Array({ minLength: 16, maxLength: 16 * 40 }).chain(b => fc.constantFrom(0x00, 0xff, 0xfe, 0x01).chain(fill => fc.double({ min: 0, max: 1, noNaN: true }).map(p => b.map(v => v / 255 < p ? fill : v))))
    fc.assert(fc.property(edgy, fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.boolean(), (raw, key0, keyOnes) => {
      const message = raw.subarray(0, raw.length & ~15)
      const key = keyOnes ? key0.map((v, i) => i < 16 ? 0xff : v) : key0
      expect(toHex(aead.mac(key, message))).toBe(toHex(poly1305(message, key)))
    }), { numRuns: 600 })
    for (const fill of [0x00, 0xff]) {
      const message = new Uint8Array(16 * 64).fill(fill)
      for (const key of [new Uint8Array(32).fill(0xff), new Uint8Array(32).fill(0), new Uint8Array(32).map((_, i) => i < 16 ? 0xff : 0)]) {
        expect(toHex(aead.mac(key, message))).toBe(toHex(poly1305(message, key)))
      }
    }
    // r = 1, two blocks m1 = 2^128 - 1 and m2 = 2^128 - 1 - d: h = 2^130 - 2 - d before the final reduction, on both
    // sides of p = 2^130 - 5 (only there must the last step subtract p: 2^130 - 2 reduces to 3)
    const rIsOne = new Uint8Array(32)
    rIsOne[0] = 1
    for (let d = 0; d <= 8; d++) {
      const message = new Uint8Array(32).fill(0xff)
      message[16] = 0xff - d
      expect(toHex(aead.mac(rIsOne, message))).toBe(toHex(poly1305(message, rIsOne)))
    }
    expect(toHex(aead.mac(rIsOne, new Uint8Array(32).fill(0xff)))).toBe('03' + '00'.repeat(15))
    expect(() => aead.mac(new Uint8Array(32), new Uint8Array(17))).toThrow(RangeError)
  })

  it('agrees on a large message with associated data, and a refused one leaves the buffer given untouched', () => {
    const key = crypto.getRandomValues(new Uint8Array(32))
    const nonce = crypto.getRandomValues(new Uint8Array(12))
    const ad = crypto.getRandomValues(new Uint8Array(77))
    const plaintext = crypto.getRandomValues(new Uint8Array(60_000))
    const sealed = aead.seal(key, nonce, plaintext, ad)
    expect(toHex(sealed)).toBe(toHex(chacha20poly1305(key, nonce, ad).encrypt(plaintext)))
    const bad = sealed.slice()
    bad[30_000]! ^= 0x80
    const dst = new Uint8Array(60_000).fill(7)
    expect(() => aead.open(key, nonce, bad, ad, dst)).toThrow(AeadTagError)
    expect(dst.every(b => b === 7)).toBe(true)
  })

  it('passes its own load-time check (RFC 8439\'s example), which a module sealing wrongly fails by name', () => {
    expect(() => { selfTestAead(aead) }).not.toThrow()
    const wrong = { ...aead, seal: (k: Uint8Array, n: Uint8Array, p: Uint8Array, a: Uint8Array) => { const s = aead.seal(k, n, p, a); s[s.length - 1]! ^= 1; return s } }
    expect(() => { selfTestAead(wrong) }).toThrow(AeadSelfTestError)
  })
})
