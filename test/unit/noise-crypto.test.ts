// Installing the browser's noise cipher (src/net/noise-crypto.ts): a cipher that loads is used, one that fails or
// never loads leaves @libp2p/noise's default (a slower cipher, never a node that cannot start).
import { describe, it, expect, vi, afterEach } from 'vitest'
import { readFileSync } from 'node:fs'
import { chacha20poly1305 } from '@noble/ciphers/chacha.js'
import { installNoiseAead, installedNoiseCrypto, NOISE_AEAD_LOAD_MS } from '../../src/net/noise-crypto'
import { AEAD_WASM_OUT } from '../../src/node/build-wasm'
import { instantiateAeadWasm } from '../../workers/wasm/aead-wasm'

afterEach(() => { vi.useRealTimers(); vi.restoreAllMocks() })

describe('installNoiseAead', () => {
  it('gives noise the loaded cipher: its bytes are ChaCha20-Poly1305\'s', async () => {
    installNoiseAead(async () => await instantiateAeadWasm(readFileSync(AEAD_WASM_OUT)))
    const c = (await installedNoiseCrypto())!
    const key = new Uint8Array(32).fill(3)
    const nonce = new Uint8Array(12)
    const plaintext = new Uint8Array(1000).fill(9)
    const sealed = c.chaCha20Poly1305Encrypt(plaintext, nonce, new Uint8Array(0), key) as Uint8Array
    expect(Buffer.from(sealed).equals(Buffer.from(chacha20poly1305(key, nonce, new Uint8Array(0)).encrypt(plaintext)))).toBe(true)
    expect(Buffer.from(c.chaCha20Poly1305Decrypt(sealed, nonce, new Uint8Array(0), key) as Uint8Array).equals(Buffer.from(plaintext))).toBe(true)
  })

  it('keeps the default, saying why, when the load fails', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    installNoiseAead(async () => { throw new Error('offline') })
    expect(await installedNoiseCrypto()).toBeUndefined()
    expect(String(warn.mock.calls[0]?.[0])).toContain('offline')
  })

  it('keeps the default when the load never settles', async () => {
    vi.useFakeTimers()
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    installNoiseAead(async () => await new Promise(() => {}))
    const crypto = installedNoiseCrypto()
    await vi.advanceTimersByTimeAsync(NOISE_AEAD_LOAD_MS)
    expect(await crypto).toBeUndefined()
    expect(String(warn.mock.calls[0]?.[0])).toContain('not loaded')
  })
})
