// The bench page's ceilings worker (issue 17, part 1): what one Chromium worker can do with nothing else in the way —
// read a disk-backed File (by slice().arrayBuffer(), by stream(), from OPFS through a sync access handle), hash
// bytes already in memory with our WASM kernel, hash the file with the reference package read the same way, pass
// buffers to another worker (transferred or copied), and move bytes over our libp2p stream to and from a Node peer. Each answer is MiB/s measured here, in the worker.
import * as Reference from 'fr32-sha2-256-trunc254-padded-binary-tree-multihash'
import { instantiatePieceWasm } from '../../../workers/wasm/piece-wasm'
import { PieceHasher } from '../../../src/core'
import { installNoiseAead } from '../../../src/net/noise-crypto'
import { browserAead } from '../../../workers/aead-browser'
import { streamCeiling, type StreamAsk } from './stream-ceiling'
import { chacha20poly1305 } from '@noble/ciphers/chacha.js'

// the stack as the app's node runs it: noise on the WASM cipher (src/net/noise-crypto.ts)
installNoiseAead(browserAead)

/** The pool's segment size (workers/piece-pool.ts reads files in 4 MiB segments). */
const SEGMENT = 4 << 20
const MiB = 1 << 20

export type CeilingAsk =
  | { type: 'read', file: File, how: 'slice' | 'stream' }
  | { type: 'read-opfs', file: File }
  | { type: 'kernel', module: WebAssembly.Module, mib: number }
  | { type: 'reference', file: File }
  | { type: 'cipher', impl: 'wasm' | 'js', mib: number }
  | { type: 'send', port: MessagePort, mib: number, transfer: boolean }
  | { type: 'receive', port: MessagePort }
  | StreamAsk

const rate = (bytes: number, t: number): number => bytes / MiB / ((performance.now() - t) / 1000)

async function readBySlices (file: File, each: (b: Uint8Array) => void): Promise<void> {
  for (let at = 0; at < file.size; at += SEGMENT) each(new Uint8Array(await file.slice(at, at + SEGMENT).arrayBuffer()))
}

async function answer (ask: CeilingAsk): Promise<number> {
  if (ask.type === 'read') {
    let seen = 0
    const t = performance.now()
    if (ask.how === 'slice') await readBySlices(ask.file, b => { seen += b.length })
    else for await (const b of ask.file.stream() as unknown as AsyncIterable<Uint8Array>) seen += b.length
    if (seen !== ask.file.size) throw new Error(`read ${seen} of ${ask.file.size} bytes`)
    return rate(seen, t)
  }
  if (ask.type === 'read-opfs') {
    // staged first (not timed), as an upload's staging copy is; then read back in segments
    const dir = await navigator.storage.getDirectory()
    const fh = await dir.getFileHandle('coffer-bench-ceiling.bin', { create: true })
    const h = await (fh as unknown as { createSyncAccessHandle: () => Promise<FileSystemSyncAccessHandle> }).createSyncAccessHandle()
    try {
      h.truncate(0)
      let at = 0
      await readBySlices(ask.file, b => { h.write(b, { at }); at += b.length })
      h.flush()
      const buf = new Uint8Array(SEGMENT)
      let seen = 0
      const t = performance.now()
      for (let o = 0; o < at; o += SEGMENT) seen += h.read(buf, { at: o })
      if (seen !== at) throw new Error(`read ${seen} of ${at} bytes from OPFS`)
      return rate(seen, t)
    } finally {
      h.close()
      await dir.removeEntry('coffer-bench-ceiling.bin').catch(() => {})
    }
  }
  if (ask.type === 'kernel') {
    const wasm = await instantiatePieceWasm(ask.module)
    const data = new Uint8Array(SEGMENT).map((_, i) => (i * 2654435761) >>> 24)
    const hasher = new PieceHasher(wasm.simd)
    hasher.write(data) // (warms the kernel: WASM tier-up is not what this line measures)
    const t = performance.now()
    const h = new PieceHasher(wasm.simd)
    for (let done = 0; done < ask.mib * MiB; done += SEGMENT) h.write(data)
    h.digest()
    return rate(ask.mib * MiB, t)
  }
  if (ask.type === 'cipher') {
    // noise's messages: 64 KiB less the tag, each sealed under the session key with its own nonce
    const seal = ask.impl === 'wasm' ? (await browserAead()).seal : (k: Uint8Array, n: Uint8Array, p: Uint8Array, ad: Uint8Array) => chacha20poly1305(k, n, ad).encrypt(p)
    const key = crypto.getRandomValues(new Uint8Array(32))
    const nonce = new Uint8Array(12)
    const message = crypto.getRandomValues(new Uint8Array(65519))
    const ad = new Uint8Array(0)
    for (let i = 0; i < 64; i++) seal(key, nonce, message, ad) // (warm: tier-up is not what this line measures)
    let done = 0
    const t = performance.now()
    for (let n = 0; done < ask.mib * MiB; n++) {
      new DataView(nonce.buffer).setUint32(4, n, true)
      done += seal(key, nonce, message, ad).length - 16
    }
    return rate(done, t)
  }
  if (ask.type === 'reference') {
    const t = performance.now()
    const h = Reference.create()
    await readBySlices(ask.file, b => { h.write(b) })
    const out = new Uint8Array(h.multihashByteLength())
    h.digestInto(out, 0, true)
    h.free()
    return rate(ask.file.size, t)
  }
  if (ask.type === 'send') {
    // a fresh buffer a segment, as a file read gives one: transferred (the sender's copy detached) or copied
    const t = performance.now()
    for (let done = 0; done < ask.mib * MiB; done += SEGMENT) {
      const b = new Uint8Array(SEGMENT)
      b[0] = 1
      ask.port.postMessage(b, ask.transfer ? [b.buffer] : [])
    }
    ask.port.postMessage(null)
    const took = await new Promise<number>(resolve => { ask.port.onmessage = (e: MessageEvent<number>) => { resolve(e.data) } })
    void took
    return rate(ask.mib * MiB, t)
  }
  if (ask.type === 'stream' || ask.type === 'stream-in') return await streamCeiling(ask)
  // receive: counts what arrives until the sender's end, then says so
  let got = 0
  await new Promise<void>(resolve => {
    ask.port.onmessage = (e: MessageEvent<Uint8Array | null>) => {
      if (e.data === null) { ask.port.postMessage(got); resolve(); return }
      got += e.data.length
    }
  })
  return got / MiB
}

// the reference package instantiates its WASM by a top-level await: a message posted while that is pending is
// dispatched before this module's body has set its listener, and lost (Chromium enables a module worker's message
// queue once evaluation starts, not once it ends). The page asks only after this says it is listening.
self.postMessage({ ready: true })
self.onmessage = (e: MessageEvent<CeilingAsk>) => {
  answer(e.data).then(value => { self.postMessage({ ok: true, value }) }, (err: Error) => { self.postMessage({ ok: false, error: `${err.name}: ${err.message}` }) })
}
