// The shared light node's WorkerPlatform, made of the tabs that are open (platform-protocol.ts): each piece, stage
// or download sink is opened in the newest tab still there, and stays in that tab; if that tab closes, what it
// held fails with TabGoneError (the services resume such work as after a closed tab) and the next one opens in
// another tab. Reading a staged or finished file, and removing one, the node does itself (OPFS's async API
// works in a SharedWorker), unless OPFS refuses it: Chromium (156, measured) throws SecurityError from
// navigator.storage.getDirectory() in the SharedWorker of a cross-origin-isolated page (COOP + COEP), and from
// then on a tab's worker opens and removes them for the node.
import { CID } from 'multiformats/cid'
import type { PiecePool, PieceResult, PieceStream, PieceStreamProgress } from '../../workers/piece-pool'
import type { WorkerPlatform } from './run-worker'
import type { Staging } from './staging'
import type { DownloadFiles, DownloadSink } from './download-files'
import type { PortCaller } from './port-caller'
import type { PlatformMethods, PieceResultWire } from './platform-protocol'
import type { SignatureBatchCheck } from './f3-sync'

/** No tab of the app is open to hash or write files for the node. */
export class NoTabError extends Error {
  static override name = 'NoTabError'
  override name = 'NoTabError'
  constructor () { super('no tab of the app is open to hash or write files: open one') }
}

/** The tab that held this piece, stage or download closed. */
export class TabGoneError extends Error {
  static override name = 'TabGoneError'
  override name = 'TabGoneError'
  constructor () { super('the tab doing this work was closed') }
}

/**
 * Whether `err` says only that the tab doing the work is gone (or none is open): nobody's fault, and the work can go
 * on in another tab later. The one rule the services that borrow tabs (uploads, downloads) apply.
 */
export const isTabGone = (err: { name: string }): boolean => err.name === TabGoneError.name || err.name === NoTabError.name

type Caller = PortCaller<PlatformMethods>

/**
 * Bytes made ready to cross to the tab. postMessage copies a typed array's whole underlying buffer, not the view: a
 * 256 KiB block verified inside a received chunk of several MiB crossed as the whole chunk (retrieval-browser bench,
 * 256 MiB downloaded: 13 s of the shared node's time in postMessage, 7 s of the tab's in reading the messages, the
 * download 0.18x the tab's raw stream). A view is cut out first, and that copy, ours alone, is moved, not copied
 * again; bytes that are their buffer's whole may be someone else's, and are copied by the message as before.
 */
function crossing (bytes: Uint8Array): { bytes: Uint8Array, transfer: Transferable[] } {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) return { bytes, transfer: [] }
  const own = new Uint8Array(bytes) // (a copy whatever the class: a Buffer's slice() would be a view of the same memory)
  return { bytes: own, transfer: [own.buffer] }
}

/**
 * Bytes handed over (a CarSink's: the writer never uses them again) made ready to cross: moved, not copied; a view
 * is cut out first (moving its buffer would take bytes that are not its own), unless `ownBuffer` says the whole buffer
 * is handed over too: then the view crosses with it as it is (postMessage keeps its offset).
 */
function handedOver (bytes: Uint8Array, ownBuffer = false): { bytes: Uint8Array, transfer: Transferable[] } {
  return ownBuffer || (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) ? { bytes, transfer: [bytes.buffer] } : crossing(bytes)
}

const pieceResult = (w: PieceResultWire): PieceResult => ({
  digest: w.digest, v1: CID.decode(w.v1), v2: CID.decode(w.v2), ...(w.segmentRoots === undefined ? {} : { segmentRoots: w.segmentRoots })
})

export interface TabPlatforms {
  /** A tab lends its platform; `gone` is called when it closes (its calls then fail with TabGoneError). */
  add: (tab: string, caller: Caller) => { gone: () => void }
  /** How many tabs lend theirs. */
  size: () => number
  /** The node's platform over whichever tabs are open. */
  platform: WorkerPlatform
  /** The same, in `tab` while it is open (an upload packs in the tab whose file it is). */
  preferring: (tab: string) => WorkerPlatform
}

export function createTabPlatforms (local: { staging: Pick<Staging, 'open' | 'remove'>, downloads: Pick<DownloadFiles, 'file' | 'remove'> }): TabPlatforms {
  const tabs: Array<{ tab: string, caller: Caller }> = []
  /** OPFS refused this worker once (SecurityError): it will not change while the node runs, so tabs are asked from then on. */
  let opfsRefused = false
  const ownOpfsOr = async <T>(own: () => Promise<T>, tab: () => Promise<T>): Promise<T> => {
    if (!opfsRefused) {
      try { return await own() } catch (err) {
        if ((err as Error).name !== 'SecurityError') throw err
        opfsRefused = true
      }
    }
    return await tab()
  }
  const newest = (): Caller => {
    const c = tabs[tabs.length - 1]
    if (c === undefined) throw new NoTabError()
    return c.caller
  }
  const over = (pick: () => Caller): WorkerPlatform => {
    const pool: PiecePool = {
      pieceOf: async (blob, opts = {}) => pieceResult(await pick().call('pieceOf', { blob: blob as Blob }, { ...(opts.signal === undefined ? {} : { signal: opts.signal }), ...(opts.onProgress === undefined ? {} : { onProgress: opts.onProgress }) })),
      pieceStream: (opts = {}) => {
        const c = pick()
        const handle = c.call('streamOpen', {})
        handle.catch(() => {}) // each call below awaits it and fails with its error
        opts.signal?.addEventListener('abort', () => { void handle.then(async h => await c.call('streamAbort', { handle: h })).catch(() => {}) }, { once: true })
        const report = (g: PieceStreamProgress | null): void => { if (g !== null) opts.onProgress?.(g) }
        const stream: PieceStream = {
          write: async (bytes) => { const x = crossing(bytes); report(await c.call('streamWrite', { handle: await handle, bytes: x.bytes }, { transfer: x.transfer })) },
          writeAt: async (offset, bytes) => { const x = crossing(bytes); report(await c.call('streamWriteAt', { handle: await handle, offset, bytes: x.bytes }, { transfer: x.transfer })) },
          finish: async () => pieceResult(await c.call('streamFinish', { handle: await handle }))
        }
        return stream
      },
      verifyPossession: async (proofSet, seed, count, proof) => { await pick().call('verifyPossession', { proofSet, seed, count, proof }) },
      verifyAudit: async (pieceCid, paddedBytes, leaves, proof) => { await pick().call('verifyAudit', { pieceCid, paddedBytes, leaves, proof }) },
      pathSteps: async (leaf, value, path, nodes) => await pick().call('pathSteps', { leaf, value, path, nodes }),
      close: () => {}
    }

    const staging: Staging = {
      create: async (name) => {
        const c = pick()
        const handle = await c.call('stagingCreate', { name })
        return {
          write: async (bytes) => { const x = crossing(bytes); await c.call('stagingWrite', { handle, bytes: x.bytes }, { transfer: x.transfer }) },
          writeAt: async (offset, bytes) => { const x = crossing(bytes); await c.call('stagingWriteAt', { handle, offset, bytes: x.bytes }, { transfer: x.transfer }) },
          close: async () => { await c.call('stagingClose', { handle }) }
        }
      },
      open: async (name) => await ownOpfsOr(async () => await local.staging.open(name), async () => await pick().call('stagingOpen', { name })),
      remove: async (name) => { await ownOpfsOr(async () => { await local.staging.remove(name) }, async () => { await pick().call('stagingRemove', { name }) }) }
    }

    // one call per write, its bytes moved: packing wrote each run to staging and to the piece stream apart, each
    // copied by postMessage and read back out in the tab (the upload-browser bench's profile, 256 MiB: 1.3 s of
    // the shared node in postMessage, 1.3 s of the tab's worker taking the messages)
    const packSink: NonNullable<WorkerPlatform['packSink']> = async (name, opts = {}) => {
      const c = pick()
      const handle = await c.call('packOpen', { name })
      const report = (g: PieceStreamProgress | null): void => { if (g !== null) opts.onHashed?.(g) }
      return {
        write: async (bytes) => { const x = handedOver(bytes); report(await c.call('packWrite', { handle, bytes: x.bytes }, { transfer: x.transfer })) },
        writeAt: async (offset, bytes) => { const x = handedOver(bytes); report(await c.call('packWriteAt', { handle, offset, bytes: x.bytes }, { transfer: x.transfer })) },
        finish: async () => { const r = await c.call('packFinish', { handle }); return r === null ? null : pieceResult(r) },
        abort: async () => { await c.call('packAbort', { handle }) }
      }
    }

    const sink = (c: Caller, handle: number): DownloadSink => ({
      // handed over (the DownloadSink contract): a run the session joined from several leaves is its own buffer, moved
      // rather than copied (retrieval-browser bench, 256 MiB, profiled: 0.83 s of the shared node in postMessage), and
      // so is a received frame's buffer holding a run in place
      write: async (offset, bytes, ownBuffer) => { const x = handedOver(bytes, ownBuffer); await c.call('sinkWrite', { handle, offset, bytes: x.bytes }, { transfer: x.transfer }) },
      flush: async () => await c.call('sinkFlush', { handle }),
      close: async () => { await c.call('sinkClose', { handle }) }
    })
    const downloads: DownloadFiles = {
      opfs: async (name, from) => { const c = pick(); return sink(c, await c.call('sinkOpfs', { name, from })) },
      picked: async (file, journal, from) => {
        const c = pick()
        const r = await c.call('sinkPicked', { file, journal, from })
        return { sink: sink(c, r.handle), from: r.from }
      },
      file: async (name, downloadName) => await ownOpfsOr(async () => await local.downloads.file(name, downloadName), async () => await pick().call('downloadFile', { name, downloadName })),
      remove: async (name) => { await ownOpfsOr(async () => { await local.downloads.remove(name) }, async () => { await pick().call('downloadRemove', { name }) }) }
    }
    // every open tab's worker, not one picked: a cold sync's certificates are checked in all of them side by side
    const certificateHelpers = (): SignatureBatchCheck[] => tabs.map(({ caller }) => async (checks, weights) => await caller.call('verifyCertificateChecks', { checks, weights }))
    return { pool: async () => pool, staging, packSink, downloads, certificateHelpers }
  }

  return {
    add: (tab, caller) => {
      const entry = { tab, caller }
      tabs.push(entry)
      return {
        gone: () => {
          const i = tabs.indexOf(entry)
          if (i >= 0) tabs.splice(i, 1)
          caller.fail(new TabGoneError())
        }
      }
    },
    size: () => tabs.length,
    platform: over(newest),
    preferring: (tab) => over(() => tabs.find(t => t.tab === tab)?.caller ?? newest())
  }
}
