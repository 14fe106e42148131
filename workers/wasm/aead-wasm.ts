// Host side of the ChaCha20-Poly1305 WASM module (workers/wasm/assembly/chacha20poly1305.ts): RFC 8439's AEAD,
// sealing and opening one message at a time (a noise message is at most 64 KiB). Bytes are copied into the module's
// memory and back out; the tag is compared in constant time before anything is decrypted.
import { base16 } from 'multiformats/bases/base16'
import type { Uint8ArrayList } from 'uint8arraylist'
import type { NoiseAead } from '../../src/net/noise-crypto'

/** The tag did not match: the message was altered, or sealed under another key, nonce or associated data. */
export class AeadTagError extends Error {
  static override name = 'AeadTagError'
  override name = 'AeadTagError'
  constructor () { super('ChaCha20-Poly1305: the tag does not match (the message was altered or is not for this key)') }
}

interface AeadExports {
  memory: WebAssembly.Memory
  heapBase: () => number
  chacha20Xor: (key: number, nonce: number, counter: number, data: number, len: number, scratch: number) => void
  polyInit: (key: number) => void
  polyBlocks: (m: number, len: number) => void
  polyFinish: (out: number) => void
}

const TAG_BYTES = 16

/** The AEAD, and its Poly1305 alone over whole 16-byte blocks (what the AEAD feeds it; tested on its own). */
export type AeadWasm = NoiseAead & { mac: (key: Uint8Array, message: Uint8Array) => Uint8Array }

export async function instantiateAeadWasm (source: BufferSource | WebAssembly.Module): Promise<AeadWasm> {
  const imports = { env: { abort: () => { throw new Error('the ChaCha20-Poly1305 module aborted') } } }
  const instance = source instanceof WebAssembly.Module
    ? await WebAssembly.instantiate(source, imports)
    : (await WebAssembly.instantiate(source, imports)).instance
  const x = instance.exports as unknown as AeadExports
  const base = (x.heapBase() + 63) & ~63
  // fixed slots, then one message region (grown to the largest message seen)
  const KEY = base
  const NONCE = base + 32
  const SCRATCH = base + 64 // 256 bytes: four keystream blocks
  const POLY_KEY = base + 320
  const TAG = base + 352
  const LENGTHS = base + 368
  const DATA = base + 1024
  const room = (bytes: number): Uint8Array => {
    const needed = DATA + bytes + 16
    if (needed > x.memory.buffer.byteLength) x.memory.grow(Math.ceil((needed - x.memory.buffer.byteLength) / 65536))
    return new Uint8Array(x.memory.buffer)
  }
  const pad16 = (n: number): number => (n + 15) & ~15

  /** Sets the key and nonce and starts the MAC under the one-time key (block 0's first 32 bytes); absorbs `ad`. */
  const begin = (mem: Uint8Array, key: Uint8Array, nonce: Uint8Array, ad: Uint8Array): void => {
    if (key.length !== 32) throw new RangeError(`a ChaCha20-Poly1305 key is 32 bytes, not ${key.length}`)
    if (nonce.length !== 12) throw new RangeError(`a ChaCha20-Poly1305 nonce is 12 bytes, not ${nonce.length}`)
    mem.set(key, KEY)
    mem.set(nonce, NONCE)
    mem.fill(0, POLY_KEY, POLY_KEY + 32)
    x.chacha20Xor(KEY, NONCE, 0, POLY_KEY, 32, SCRATCH)
    x.polyInit(POLY_KEY)
    if (ad.length > 0) {
      mem.fill(0, DATA, DATA + pad16(ad.length))
      mem.set(ad, DATA)
      x.polyBlocks(DATA, pad16(ad.length))
    }
  }
  /** Absorbs the ciphertext at DATA (zero-padded to 16) and the two lengths; the tag lands at TAG. */
  const finish = (mem: Uint8Array, adBytes: number, ctBytes: number): void => {
    mem.fill(0, DATA + ctBytes, DATA + pad16(ctBytes))
    x.polyBlocks(DATA, pad16(ctBytes))
    const lengths = new DataView(x.memory.buffer, LENGTHS, 16)
    lengths.setBigUint64(0, BigInt(adBytes), true)
    lengths.setBigUint64(8, BigInt(ctBytes), true)
    x.polyBlocks(LENGTHS, 16)
    x.polyFinish(TAG)
  }

  return {
    mac (key, message) {
      if (key.length !== 32) throw new RangeError(`a Poly1305 key is 32 bytes, not ${key.length}`)
      if (message.length % 16 !== 0) throw new RangeError('mac() takes whole 16-byte blocks, as the AEAD feeds it (its padding is its own)')
      const mem = room(message.length)
      mem.set(key, POLY_KEY)
      x.polyInit(POLY_KEY)
      mem.set(message, DATA)
      if (message.length > 0) x.polyBlocks(DATA, message.length)
      x.polyFinish(TAG)
      return mem.slice(TAG, TAG + 16)
    },
    seal (key, nonce, plaintext, ad) {
      const mem = room(Math.max(pad16(ad.length), pad16(plaintext.length)))
      begin(mem, key, nonce, ad)
      mem.set(plaintext, DATA)
      x.chacha20Xor(KEY, NONCE, 1, DATA, plaintext.length, SCRATCH)
      finish(mem, ad.length, plaintext.length)
      const out = new Uint8Array(plaintext.length + TAG_BYTES)
      out.set(mem.subarray(DATA, DATA + plaintext.length))
      out.set(mem.subarray(TAG, TAG + TAG_BYTES), plaintext.length)
      return out
    },
    open (key, nonce, sealed, ad, dst) {
      if (sealed.byteLength < TAG_BYTES) throw new AeadTagError()
      const n = sealed.byteLength - TAG_BYTES
      // room for the tag after the ciphertext: pad16(n) + 16 ≥ n + 16
      const mem = room(Math.max(pad16(ad.length), pad16(n)))
      begin(mem, key, nonce, ad)
      // ciphertext and tag straight into the module's memory, piece by piece; the tag is taken out before the
      // ciphertext's padding is zeroed over it
      let at = DATA
      for (const piece of pieces(sealed)) { mem.set(piece, at); at += piece.length }
      const tag = mem.slice(DATA + n, DATA + n + TAG_BYTES)
      finish(mem, ad.length, n)
      let diff = 0
      for (let i = 0; i < TAG_BYTES; i++) diff |= mem[TAG + i]! ^ tag[i]!
      if (diff !== 0) throw new AeadTagError()
      x.chacha20Xor(KEY, NONCE, 1, DATA, n, SCRATCH)
      const out = dst !== undefined && dst.length >= n ? dst.subarray(0, n) : new Uint8Array(n)
      out.set(mem.subarray(DATA, DATA + n))
      return out
    }
  }
}

const pieces = (b: Uint8Array | Uint8ArrayList): Iterable<Uint8Array> => b instanceof Uint8Array ? [b] : b

/** Thrown by selfTestAead: this build of the module does not give RFC 8439's bytes. */
export class AeadSelfTestError extends Error {
  static override name = 'AeadSelfTestError'
  override name = 'AeadSelfTestError'
  constructor (what: string) { super(`the ChaCha20-Poly1305 module fails RFC 8439's AEAD example (${what})`) }
}

const fromHex = (s: string): Uint8Array => base16.baseDecode(s)
const hex = (b: Uint8Array): string => base16.baseEncode(b)

/** Seals and opens RFC 8439 §2.8.2's example (its tag and first ciphertext block checked), or AeadSelfTestError. */
export function selfTestAead (aead: NoiseAead): void {
  const plaintext = new TextEncoder().encode('Ladies and Gentlemen of the class of \'99: If I could offer you only one tip for the future, sunscreen would be it.')
  const key = fromHex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f')
  const nonce = fromHex('070000004041424344454647')
  const ad = fromHex('50515253c0c1c2c3c4c5c6c7')
  const sealed = aead.seal(key, nonce, plaintext, ad)
  if (hex(sealed.subarray(0, 16)) !== 'd31a8d34648e60db7b86afbc53ef7ec2') throw new AeadSelfTestError('ciphertext')
  if (hex(sealed.subarray(-16)) !== '1ae10b594f09e26a7e902ecbd0600691') throw new AeadSelfTestError('tag')
  const opened = aead.open(key, nonce, sealed, ad)
  if (opened.length !== plaintext.length || opened.some((b, i) => b !== plaintext[i])) throw new AeadSelfTestError('opening')
}
