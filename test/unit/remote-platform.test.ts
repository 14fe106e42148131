// What tabs lend a shared light node, over real MessageChannels: the tab's side (tab-platform-server.ts) over the
// real piece pool (its workers in-process) and an in-memory staging; the node's side (remote-platform.ts) giving
// the same pieces as hashing here, the same staged bytes, the verifier's errors by name; an upload packed in the
// tab it came from even when another tab is newer; a closed tab's open work failing with TabGoneError while new
// work goes to a tab still open; and NoTabError with none.
import { describe, it, expect, beforeAll, afterEach } from 'vitest'
import { MessageChannel, type MessagePort } from 'node:worker_threads'
import { pieceDigest, pieceCidV1, SEGMENT_PAYLOAD_BYTES } from '../../src/core'
import { createPiecePool, type PiecePool } from '../../workers/piece-pool'
import { inProcessWorker, pieceWasmModule } from '../helpers/piece-worker'
import { serveTabPlatform } from '../../src/light/tab-platform-server'
import { createTabPlatforms, type TabPlatforms } from '../../src/light/remote-platform'
import { createPortCaller, type CallerPort } from '../../src/light/port-caller'
import type { PlatformMethods } from '../../src/light/platform-protocol'
import type { Staging } from '../../src/light/staging'
import type { DownloadFiles } from '../../src/light/download-files'
import type { Port } from '../../src/light/worker-protocol'

let module: WebAssembly.Module
let pool: PiecePool
beforeAll(async () => {
  module = await pieceWasmModule()
  pool = createPiecePool({ size: 2, module, spawn: () => inProcessWorker() })
})
let ports: MessagePort[] = []
afterEach(() => { for (const p of ports) p.close(); ports = [] })

const payload = (n: number, seed = 1): Uint8Array<ArrayBuffer> => new Uint8Array(n).map((_, i) => (Math.imul(i + seed, 2654435761) >>> 24))

/** An in-memory staging: what one tab's OPFS would hold. */
function memStaging (): Staging & { files: Map<string, Uint8Array<ArrayBuffer>> } {
  const files = new Map<string, Uint8Array<ArrayBuffer>>()
  return {
    files,
    create: async (name) => {
      let bytes = new Uint8Array(0)
      const put = (at: number, b: Uint8Array): void => {
        if (at + b.length > bytes.length) { const n = new Uint8Array(at + b.length); n.set(bytes); bytes = n }
        bytes.set(b, at)
      }
      return { write: async (b) => { put(bytes.length, b) }, writeAt: async (at, b) => { put(at, b) }, close: async () => { files.set(name, bytes) } }
    },
    open: async (name) => files.has(name) ? new Blob([files.get(name)!]) : null,
    remove: async (name) => { files.delete(name) }
  }
}

function lendTab (platforms: TabPlatforms, tab: string): { staging: ReturnType<typeof memStaging>, downloaded: Map<string, Uint8Array<ArrayBuffer>>, gone: () => void } {
  const { port1, port2 } = new MessageChannel()
  ports.push(port1, port2)
  const staging = memStaging()
  // finished downloads in this tab's storage (only what the node reads and removes: file, remove)
  const downloaded = new Map<string, Uint8Array<ArrayBuffer>>()
  const downloads = {
    file: async (name: string, downloadName: string) => downloaded.has(name) ? new File([downloaded.get(name)!], downloadName) : null,
    remove: async (name: string) => { downloaded.delete(name) }
  } as unknown as DownloadFiles
  serveTabPlatform(port1 as unknown as Port, { pool: async () => pool, staging, downloads })
  const { gone } = platforms.add(tab, createPortCaller<PlatformMethods>(port2 as unknown as CallerPort))
  return { staging, downloaded, gone }
}

const nodeSide = (): TabPlatforms => createTabPlatforms({
  staging: { open: async () => null, remove: async () => {} },
  downloads: { file: async () => null, remove: async () => {} }
})

describe('platforms lent by tabs', { timeout: 120_000 }, () => {
  it('hashes, streams and stages in the tab as if here, with progress; the verifier\'s refusal keeps its name', async () => {
    const platforms = nodeSide()
    const x = lendTab(platforms, 'x')
    const p = await platforms.platform.pool()
    const bytes = payload(2 * SEGMENT_PAYLOAD_BYTES + 777)
    const want = pieceCidV1(pieceDigest(bytes).root).toString()
    const progress: number[] = []
    expect((await p.pieceOf(new Blob([bytes]), { onProgress: (g) => progress.push(g.bytesHashed) })).v1.toString()).toBe(want)
    expect(progress.at(-1)).toBe(bytes.length)
    // a stream: written in pieces, its first bytes rewritten, the same piece
    const s = p.pieceStream()
    const junk = new Uint8Array(100).fill(9)
    await s.write(junk)
    await s.write(bytes.subarray(100, SEGMENT_PAYLOAD_BYTES + 5))
    await s.write(bytes.subarray(SEGMENT_PAYLOAD_BYTES + 5))
    await s.writeAt(0, bytes.subarray(0, 100))
    const r = await s.finish()
    expect(r.v1.toString()).toBe(want)
    expect(r.digest.payloadBytes).toBe(bytes.length)
    // staging: the bytes land in the tab's storage
    const w = await platforms.platform.staging.create('a.car')
    await w.write(bytes.subarray(0, 10))
    await w.writeAt(2, new Uint8Array([7, 7]))
    await w.close()
    expect([...x.staging.files.get('a.car')!]).toEqual([...bytes.subarray(0, 2), 7, 7, ...bytes.subarray(4, 10)])
    // a proof that does not verify: the WASM verifier's own error, by name and code, as a local call gives it
    await expect(p.verifyPossession(new Uint8Array(10), new Uint8Array(32), 1, new Uint8Array(5))).rejects.toMatchObject({ name: 'PossessionProofError' })
  })

  it('packs in the tab with one call per write, its bytes moved: the staged CAR and its piece as packing here gives them', async () => {
    const platforms = nodeSide()
    const x = lendTab(platforms, 'x')
    const bytes = payload(2 * SEGMENT_PAYLOAD_BYTES + 777)
    const want = pieceCidV1(pieceDigest(bytes).root).toString()
    const hashed: number[] = []
    const sink = await platforms.platform.packSink!('p.car', { onHashed: (g) => hashed.push(g.bytesHashed) })
    const first = new Uint8Array(1 << 20)
    first.set(bytes.subarray(0, 1 << 20))
    first.fill(9, 0, 100) // a placeholder header, rewritten below
    await sink.write(first)
    expect(first.byteLength).toBe(0) // moved to the tab, not copied
    const rest = bytes.slice(1 << 20)
    await sink.write(rest.subarray(0, 5)) // a view: its bytes alone cross, the buffer stays the caller's
    expect(rest.byteLength).toBe(bytes.length - (1 << 20))
    await sink.write(rest.subarray(5))
    await sink.writeAt(0, bytes.slice(0, 100))
    // the piece's progress comes back with the answer to a write, once a segment is hashed: rewriting the header
    // again until one does (the same bytes) shows it crossing
    while (hashed.length === 0) {
      await new Promise(resolve => setTimeout(resolve, 20))
      await sink.writeAt(0, bytes.slice(0, 100))
    }
    expect(hashed.at(-1)).toBeGreaterThanOrEqual(SEGMENT_PAYLOAD_BYTES)
    const r = await sink.finish()
    expect(r?.v1.toString()).toBe(want)
    expect(x.staging.files.get('p.car')!.length).toBe(bytes.length)
    expect(pieceCidV1(pieceDigest(x.staging.files.get('p.car')!).root).toString()).toBe(want)
    // aborted: the file is closed, the handle gone
    const dropped = await platforms.platform.packSink!('q.car')
    await dropped.write(payload(1000))
    await dropped.abort()
    expect(x.staging.files.get('q.car')?.length).toBe(1000) // closed (the in-memory staging keeps a file once closed)
    await expect(dropped.write(payload(10))).rejects.toMatchObject({ name: 'UnknownHandleError' })
    // the tab closes mid-pack: the write fails as TabGoneError (the upload resumes in a tab later), not as a lost piece
    const open = await platforms.platform.packSink!('r.car')
    await open.write(payload(1000))
    x.gone()
    await expect(open.write(payload(10))).rejects.toMatchObject({ name: 'TabGoneError' })
    await expect(open.finish()).rejects.toMatchObject({ name: 'TabGoneError' })
  })

  it('sends a view\'s bytes alone, not the buffer it is a view into (postMessage copies a whole buffer)', async () => {
    const platforms = nodeSide()
    const x = lendTab(platforms, 'x')
    const arrived: number[] = []
    const create = x.staging.create
    x.staging.create = async (name) => {
      const w = await create(name)
      return { ...w, write: async (b) => { arrived.push(b.buffer.byteLength); await w.write(b) } }
    }
    const big = payload(4 << 20)
    const w = await platforms.platform.staging.create('view.car')
    await w.write(big.subarray(1000, 1010))
    await w.write(big) // a whole buffer crosses as it is, and stays the caller's
    await w.close()
    expect(arrived).toEqual([10, 4 << 20])
    expect(big.byteLength).toBe(4 << 20)
    expect([...x.staging.files.get('view.car')!.subarray(0, 10)]).toEqual([...big.subarray(1000, 1010)])
  })

  it('opens and removes staged files through a tab once OPFS refuses the node (a cross-origin-isolated page\'s SharedWorker)', async () => {
    let ownCalls = 0
    const refused = (): never => { ownCalls++; throw Object.assign(new Error('It was determined that certain files are unsafe'), { name: 'SecurityError' }) }
    const platforms = createTabPlatforms({
      staging: { open: async () => refused(), remove: async () => { refused() } },
      downloads: { file: async () => refused(), remove: async () => { refused() } }
    })
    const x = lendTab(platforms, 'x')
    const w = await platforms.platform.staging.create('a.car')
    await w.write(new Uint8Array([1, 2, 3]))
    await w.close()
    const blob = await platforms.platform.staging.open('a.car')
    expect([...new Uint8Array(await blob!.arrayBuffer())]).toEqual([1, 2, 3])
    expect(await platforms.platform.staging.open('gone.car')).toBeNull()
    await platforms.platform.staging.remove('a.car')
    expect(x.staging.files.has('a.car')).toBe(false)
    // finished downloads too: read and removed through the tab
    x.downloaded.set('film.bin', new Uint8Array([9, 8, 7]))
    const film = await platforms.platform.downloads!.file('film.bin', 'Film.bin')
    // (Node's MessageChannel clones a File as a Blob, nameless; a browser's keeps the File)
    expect([...new Uint8Array(await film!.arrayBuffer())]).toEqual([9, 8, 7])
    await platforms.platform.downloads!.remove('film.bin')
    expect(x.downloaded.has('film.bin')).toBe(false)
    // refused once, the node's own OPFS is not tried again
    expect(ownCalls).toBe(1)

    // any other failure of the node's own OPFS is said, not handed to a tab
    const failing = createTabPlatforms({
      staging: { open: async () => { throw Object.assign(new Error('disk gone'), { name: 'NotReadableError' }) }, remove: async () => {} },
      downloads: { file: async () => null, remove: async () => {} }
    })
    lendTab(failing, 'y')
    await expect(failing.platform.staging.open('a.car')).rejects.toMatchObject({ name: 'NotReadableError' })
  })

  it('packs in the tab asked for even when another is newer; a closed tab fails its open work by name, new work goes on elsewhere', async () => {
    const platforms = nodeSide()
    const x = lendTab(platforms, 'x')
    const y = lendTab(platforms, 'y')
    const wx = await platforms.preferring('x').staging.create('from-x.car')
    await wx.write(new Uint8Array([1, 2, 3]))
    await wx.close()
    expect(x.staging.files.has('from-x.car')).toBe(true)
    expect(y.staging.files.has('from-x.car')).toBe(false)
    const wy = await platforms.platform.staging.create('newest.car')
    await wy.close()
    expect(y.staging.files.has('newest.car')).toBe(true)

    // y closes with a stream and a stage open in it
    const s = (await platforms.platform.pool()).pieceStream()
    await s.write(payload(1000))
    const open = await platforms.platform.staging.create('open.car')
    y.gone()
    await expect(s.write(payload(10))).rejects.toMatchObject({ name: 'TabGoneError' })
    await expect(open.close()).rejects.toMatchObject({ name: 'TabGoneError' })
    // asked for y: y is gone, the work goes to x
    const again = await platforms.preferring('y').staging.create('after.car')
    await again.close()
    expect(x.staging.files.has('after.car')).toBe(true)
    expect(platforms.size()).toBe(1)
    x.gone()
    await expect(platforms.platform.staging.create('none.car')).rejects.toMatchObject({ name: 'NoTabError' })
    await expect((await platforms.platform.pool()).pieceOf(new Blob([payload(200)]))).rejects.toMatchObject({ name: 'NoTabError' })
  })
})
