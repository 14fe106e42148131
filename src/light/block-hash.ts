// The light node's block hashes for retrievals and previews: WebCrypto's SHA-256 where the realm has it (below), and
// SHA-256 from hash-wasm (WASM, MIT, well kept) where it does not, which the CAR verifier takes as its MultihashFn
// (sync once instantiated). The shared node's profile of a download in the
// retrieval-browser bench spent about a quarter of its time in @noble/hashes' SHA-256 verifying blocks; hash-wasm
// hashes a 256 KiB block 1.8x as fast (245 against 137 MiB/s, Node 20 on this machine's 2 EPYC cores, same run).
// Where its WASM cannot start, nothing is passed and the verifier keeps its noble default.
import { createSHA256 } from 'hash-wasm'
import { SHA2_256_CODE, type AsyncMultihashFn, type MultihashFn } from '../core'

let hasher: Promise<MultihashFn | undefined> | undefined

export async function wasmBlockHash (): Promise<MultihashFn | undefined> {
  hasher ??= createSHA256().then(
    (sha) => (code: number, bytes: Uint8Array) => code === SHA2_256_CODE ? sha.init().update(bytes).digest('binary') : undefined,
    (err: Error) => { console.warn(`hash-wasm's SHA-256 did not start (${err.message}): blocks are verified with @noble/hashes`); return undefined }
  )
  return await hasher
}

/**
 * WebCrypto's SHA-256, where the realm has it (a secure context: the app's own origin, localhost included), for the
 * verifier's pushAsync; else undefined, and the sync hash above serves. Native and off the calling thread: in this
 * machine's Chromium it digests 256 KiB blocks at ~1490 MiB/s against hash-wasm's ~205 in the shared node (whose
 * profile of a 256 MiB download spent 1.25 s of its 6.5 s in hash-wasm).
 */
export function webCryptoBlockHash (): AsyncMultihashFn | undefined {
  const subtle = globalThis.crypto?.subtle
  if (subtle === undefined) return undefined
  // (a block's bytes are never a SharedArrayBuffer's: they come off a stream)
  return async (code, bytes) => code === SHA2_256_CODE ? new Uint8Array(await subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>)) : undefined
}
