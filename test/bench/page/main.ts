// The bench's page (built only by `npm run bench`, never shipped): CommP in Chromium, the reference package
// (Rust→WASM, on the page's thread) against our WASM pool with one worker and with one per core.
import * as Reference from 'fr32-sha2-256-trunc254-padded-binary-tree-multihash'
import wasmUrl from '../../../workers/wasm/build/piece.wasm?url'
import { createPiecePool } from '../../../workers/piece-pool'
import { PieceHasher, nobleNodeHasher } from '../../../src/core'
import type { CeilingAsk } from './ceilings.worker'
import type { SharedAsk } from './stream.shared-worker'

const chunk = new Uint8Array(1 << 20).map((_, i) => (i * 2654435761) >>> 24)
const seconds = (t: number): number => (performance.now() - t) / 1000

const bench = {
  cores: navigator.hardwareConcurrency,
  reference (mib: number): number {
    const t = performance.now()
    const h = Reference.create()
    for (let i = 0; i < mib; i++) h.write(chunk)
    const out = new Uint8Array(h.multihashByteLength())
    h.digestInto(out, 0, true)
    h.free()
    return mib / seconds(t)
  },
  noble (mib: number): number {
    const t = performance.now()
    const h = new PieceHasher(nobleNodeHasher)
    for (let i = 0; i < mib; i++) h.write(chunk)
    h.digest()
    return mib / seconds(t)
  },
  /** Our pool over the file chosen in the page's file input (a big Blob made in the page cannot be read back). */
  async pool (size: number): Promise<{ rate: number, v2: string }> {
    const file = (document.getElementById('file') as HTMLInputElement).files![0]!
    const module = await WebAssembly.compileStreaming(fetch(wasmUrl))
    const pool = createPiecePool({ size, module, spawn: () => new Worker(new URL('../../../workers/piece-hasher.worker.ts', import.meta.url), { type: 'module' }) })
    const t = performance.now()
    const r = await pool.pieceOf(file)
    const rate = file.size / 2 ** 20 / seconds(t)
    pool.close()
    return { rate, v2: String(r.v2) }
  }
}

/** One ask of a fresh ceilings worker (ceilings.worker.ts), its MiB/s. */
async function ceiling (ask: CeilingAsk, transfer: Transferable[] = [], signal?: AbortSignal): Promise<number> {
  const w = new Worker(new URL('./ceilings.worker.ts', import.meta.url), { type: 'module' })
  try {
    return await new Promise<number>((resolve, reject) => {
      signal?.addEventListener('abort', () => { reject(signal.reason) }, { once: true })
      w.onmessage = (e: MessageEvent<{ ready?: true, ok?: boolean, value?: number, error?: string }>) => {
        if (e.data.ready === true) w.postMessage(ask, transfer) // (ceilings.worker.ts: not before it listens)
        else if (e.data.ok === true) resolve(e.data.value!)
        else reject(new Error(e.data.error))
      }
      w.onerror = (e) => { reject(new Error(e.message || 'the ceilings worker failed')) }
    })
  } finally { w.terminate() }
}

/** The raw stream from a fresh SharedWorker of its own (stream.shared-worker.ts), or its posts to this page: MiB/s. */
async function sharedCeiling (ask: SharedAsk): Promise<number> {
  // a name of its own: a SharedWorker of the same URL and name is the same worker, and each measure wants a fresh one
  const w = new SharedWorker(new URL('./stream.shared-worker.ts', import.meta.url), { type: 'module', name: `ceiling-${Math.random()}` })
  try {
    return await new Promise<number>((resolve, reject) => {
      let t = 0
      let got = 0
      w.port.onmessage = (e: MessageEvent<{ ready?: true, ok?: boolean, value?: number, error?: string, bytes?: Uint8Array, posted?: true }>) => {
        // a 'post' ask is timed here, where the buffers arrive
        if (e.data.bytes !== undefined) got += e.data.bytes.length
        else if (e.data.posted === true) resolve(got / 2 ** 20 / seconds(t))
        else if (e.data.ready === true) { t = performance.now(); w.port.postMessage(ask) }
        else if (e.data.ok === true) resolve(e.data.value!)
        else reject(new Error(e.data.error))
      }
      w.onerror = () => { reject(new Error('the shared ceilings worker failed')) }
    })
  } finally { w.port.close() }
}

/** The tab's ceilings (issue 17, part 1), one by name, each in a worker of its own with nothing else running: MiB/s. */
async function ceilingOf (name: CeilingName, kernelMib: number, peer?: { addr: string, protocol: string, mib: number }): Promise<number> {
  const file = (document.getElementById('file') as HTMLInputElement).files![0]!
  const pass = async (transfer: boolean): Promise<number> => {
    const { port1, port2 } = new MessageChannel()
    // the receiver ends when the sender says so: a sender that fails stops it too (else it ran on, unterminated)
    const stop = new AbortController()
    const received = ceiling({ type: 'receive', port: port2 }, [port2], stop.signal)
    received.catch(() => {})
    // whole 4 MiB segments, as the sender sends them
    const mib = Math.max(4, Math.floor(Math.min(1024, file.size / 2 ** 20) / 4) * 4)
    try {
      const rate = await ceiling({ type: 'send', port: port1, mib, transfer }, [port1])
      await received
      return rate
    } catch (err) { stop.abort(err); throw err }
  }
  switch (name) {
    case 'slice': case 'stream': return await ceiling({ type: 'read', file, how: name })
    case 'opfs': return await ceiling({ type: 'read-opfs', file })
    case 'kernel': return await ceiling({ type: 'kernel', module: await WebAssembly.compileStreaming(fetch(wasmUrl)), mib: kernelMib })
    case 'reference': return await ceiling({ type: 'reference', file })
    case 'cipher-wasm': return await ceiling({ type: 'cipher', impl: 'wasm', mib: 256 })
    case 'cipher-js': return await ceiling({ type: 'cipher', impl: 'js', mib: 256 })
    case 'transfer': return await pass(true)
    case 'copy': return await pass(false)
    case 'libp2p': return await ceiling({ type: 'stream', ...peer! })
    case 'libp2p-in': return await ceiling({ type: 'stream-in', ...peer! })
    case 'libp2p-shared': return await sharedCeiling({ type: 'stream', ...peer! })
    case 'libp2p-shared-in': return await sharedCeiling({ type: 'stream-in', ...peer! })
    case 'shared-post': return await sharedCeiling({ type: 'post', mib: 256 })
  }
}
export type CeilingName = 'slice' | 'stream' | 'opfs' | 'kernel' | 'cipher-wasm' | 'cipher-js' | 'reference' | 'transfer' | 'copy' | 'libp2p' | 'libp2p-in' | 'libp2p-shared' | 'libp2p-shared-in' | 'shared-post'

Object.assign(window, { bench: { ...bench, ceilingOf } })
document.getElementById('state')!.textContent = 'ready'
