// The browser's ChaCha20-Poly1305 for noise (src/net/noise-crypto.ts): the WASM module, compiled from its bytes
// once per worker. A worker entry installs it before its node starts: `installNoiseAead(browserAead)`.
import wasmUrl from './wasm/build/chacha20poly1305.wasm?url'
import { instantiateAeadWasm, selfTestAead } from './wasm/aead-wasm'
import type { NoiseAead } from '../src/net/noise-crypto'

export async function browserAead (): Promise<NoiseAead> {
  const aead = await instantiateAeadWasm(await WebAssembly.compileStreaming(fetch(wasmUrl)))
  // a module that loads but seals wrongly would fail every handshake's first message: checked before it is used
  selfTestAead(aead)
  return aead
}
