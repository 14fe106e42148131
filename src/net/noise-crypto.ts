// Which ChaCha20-Poly1305 a node's noise sessions use. In Node, @libp2p/noise's default (Node's own OpenSSL, 1,020
// MiB/s here against this module's 600) stays. In a browser its default is @noble/ciphers in JavaScript, 8 ms a
// MiB on the shared node's one thread (issue 17), so a browser worker installs the WASM one (workers/wasm/aead-wasm.ts,
// loaded by workers/aead-browser.ts) before its node starts; everything else noise does (hashing, key exchange)
// stays @libp2p/noise's own.
import { pureJsCrypto, type ICryptoInterface } from '@libp2p/noise'
import type { Uint8ArrayList } from 'uint8arraylist'

/** One AEAD message at a time: RFC 8439's ChaCha20-Poly1305. */
export interface NoiseAead {
  /** The ciphertext with its 16-byte tag appended. */
  seal: (key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array) => Uint8Array
  /**
   * The plaintext (into `dst` when given and long enough), or an error when the tag does not match. `sealed` may
   * come in pieces (a noise message that arrived over several reads): each piece goes into the cipher as it is,
   * not joined into one array first.
   */
  open: (key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array | Uint8ArrayList, ad: Uint8Array, dst?: Uint8Array) => Uint8Array
}

const whole = (b: Uint8Array | Uint8ArrayList): Uint8Array => b instanceof Uint8Array ? b : b.subarray()

/** Noise's crypto with its cipher taken from `aead`. */
export function noiseCryptoWith (aead: NoiseAead): ICryptoInterface {
  return {
    ...pureJsCrypto,
    chaCha20Poly1305Encrypt: (plaintext, nonce, ad, k) => aead.seal(k, nonce, whole(plaintext), ad),
    // (not joined first: that copy was 0.34 s of the shared node's 7.8 s, profiled, in a 256 MiB download)
    chaCha20Poly1305Decrypt: (ciphertext, nonce, ad, k, dst) => aead.open(k, nonce, ciphertext, ad, dst)
  }
}

let installed: Promise<ICryptoInterface | undefined> | undefined

/**
 * How long a node waits for the cipher's module before starting on the default one. Not a throughput plan: the
 * module is a few KiB inlined in the worker's own script (no request leaves), compiled in milliseconds; this only
 * bounds a load that never settles, and what it costs when passed is a slower cipher, never a failure.
 */
export const NOISE_AEAD_LOAD_MS = 30_000

/**
 * Makes every node this realm creates from now on use `load`'s cipher. A load that fails is said once and the
 * default kept: a slower cipher, never a node that cannot connect.
 */
export function installNoiseAead (load: () => Promise<NoiseAead>): void {
  // a load that never settles (a fetch left hanging) must not keep the node from starting: the default after a while
  let timer: ReturnType<typeof setTimeout> | undefined
  const hung = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`not loaded in ${NOISE_AEAD_LOAD_MS / 1000} s`)) }, NOISE_AEAD_LOAD_MS) })
  installed = Promise.race([load(), hung]).finally(() => { clearTimeout(timer) }).then(noiseCryptoWith, (err: Error) => {
    console.warn(`noise keeps its JavaScript cipher: the WASM one did not load (${err.name}: ${err.message})`)
    return undefined
  })
}

/** The crypto installed for this realm's noise sessions, if any (else @libp2p/noise's default). */
export async function installedNoiseCrypto (): Promise<ICryptoInterface | undefined> {
  return await installed
}
