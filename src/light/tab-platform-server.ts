// The tab's side of platform-protocol.ts: its dedicated worker's piece pool, OPFS staging and download files,
// answering the shared light node's calls over one port. Handles name the objects that live across calls; they
// die with the tab's worker, and the node learns that the tab is gone from its Web Lock (tab-lock.ts).
import type { PieceStream, PieceResult, PieceStreamProgress } from '../../workers/piece-pool'
import type { WorkerPlatform } from './run-worker'
import type { StagingWriter } from './staging'
import type { DownloadSink } from './download-files'
import type { PlatformMethods, PlatformMethod, PieceResultWire } from './platform-protocol'
import type { Port } from './worker-protocol'
import { serveSession } from './worker-session'
import { openPackSink, type PackSink } from './pack-piece'
import { mclBdnVerifier } from '../core/finality/mcl-bls'

/** A handle the node named is not (or no longer) open in this tab. */
export class UnknownHandleError extends Error {
  static override name = 'UnknownHandleError'
  override name = 'UnknownHandleError'
}

export const pieceResultToWire = (r: PieceResult): PieceResultWire => ({
  digest: r.digest, v1: r.v1.bytes, v2: r.v2.bytes, ...(r.segmentRoots === undefined ? {} : { segmentRoots: r.segmentRoots })
})

type Handlers = { [K in PlatformMethod]: (p: PlatformMethods[K]['params'], ctx: { signal: AbortSignal, progress: (g: PlatformMethods[K]['progress']) => void }) => Promise<PlatformMethods[K]['result']> }

export function serveTabPlatform (port: Port, platform: WorkerPlatform): void {
  let next = 1
  const streams = new Map<number, { stream: PieceStream, abort: AbortController, progress: PieceStreamProgress | null }>()
  const writers = new Map<number, StagingWriter>()
  const packs = new Map<number, { sink: PackSink, progress: PieceStreamProgress | null }>()
  const sinks = new Map<number, DownloadSink>()
  const get = <T>(m: Map<number, T>, h: number): T => {
    const v = m.get(h)
    if (v === undefined) throw new UnknownHandleError(`no open handle ${h} in this tab`)
    return v
  }
  const downloads = (): NonNullable<WorkerPlatform['downloads']> => {
    if (platform.downloads === undefined) throw new Error('this tab cannot write downloads')
    return platform.downloads
  }
  /** A stream's or pack's progress since its last answer (null: none). */
  const taken = (e: { progress: PieceStreamProgress | null }): PieceStreamProgress | null => {
    const p = e.progress
    e.progress = null
    return p
  }
  const handlers: Handlers = {
    pieceOf: async (p, ctx) => pieceResultToWire(await (await platform.pool()).pieceOf(p.blob, { signal: ctx.signal, onProgress: ctx.progress })),
    streamOpen: async () => {
      const h = next++
      const abort = new AbortController()
      const entry = { stream: undefined as unknown as PieceStream, abort, progress: null as PieceStreamProgress | null }
      entry.stream = (await platform.pool()).pieceStream({ signal: abort.signal, onProgress: (g) => { entry.progress = g } })
      streams.set(h, entry)
      return h
    },
    streamWrite: async (p) => { const e = get(streams, p.handle); await e.stream.write(p.bytes); return taken(e) },
    streamWriteAt: async (p) => { const e = get(streams, p.handle); await e.stream.writeAt(p.offset, p.bytes); return taken(e) },
    streamFinish: async (p) => {
      try { return pieceResultToWire(await get(streams, p.handle).stream.finish()) } finally { streams.delete(p.handle) }
    },
    streamAbort: async (p) => { streams.get(p.handle)?.abort.abort(); streams.delete(p.handle); return null },
    verifyPossession: async (p) => { await (await platform.pool()).verifyPossession(p.proofSet, p.seed, p.count, p.proof); return null },
    verifyAudit: async (p) => { await (await platform.pool()).verifyAudit(p.pieceCid, p.paddedBytes, p.leaves, p.proof); return null },
    pathSteps: async (p) => await (await platform.pool()).pathSteps(p.leaf, p.value, p.path, p.nodes),
    // (a key that is no key throws BadPublicKeyError here: the node's own pass names it)
    verifyCertificateChecks: async (p) => (await mclBdnVerifier()).verifyBatch(p.checks, p.weights),
    packOpen: async (p) => {
      const h = next++
      const entry = { sink: undefined as unknown as PackSink, progress: null as PieceStreamProgress | null }
      entry.sink = await openPackSink(platform, p.name, { onHashed: (g) => { entry.progress = g } })
      packs.set(h, entry)
      return h
    },
    packWrite: async (p) => { const e = get(packs, p.handle); await e.sink.write(p.bytes); return taken(e) },
    packWriteAt: async (p) => { const e = get(packs, p.handle); await e.sink.writeAt(p.offset, p.bytes); return taken(e) },
    packFinish: async (p) => {
      try {
        const r = await get(packs, p.handle).sink.finish()
        return r === null ? null : pieceResultToWire(r)
      } finally { packs.delete(p.handle) }
    },
    packAbort: async (p) => { const e = packs.get(p.handle); packs.delete(p.handle); await e?.sink.abort(); return null },
    stagingCreate: async (p) => { const h = next++; writers.set(h, await platform.staging.create(p.name)); return h },
    stagingWrite: async (p) => { await get(writers, p.handle).write(p.bytes); return null },
    stagingWriteAt: async (p) => { await get(writers, p.handle).writeAt(p.offset, p.bytes); return null },
    stagingClose: async (p) => { try { await get(writers, p.handle).close() } finally { writers.delete(p.handle) }; return null },
    stagingOpen: async (p) => await platform.staging.open(p.name),
    stagingRemove: async (p) => { await platform.staging.remove(p.name); return null },
    downloadFile: async (p) => await downloads().file(p.name, p.downloadName),
    downloadRemove: async (p) => { await downloads().remove(p.name); return null },
    sinkOpfs: async (p) => { const h = next++; sinks.set(h, await downloads().opfs(p.name, p.from)); return h },
    sinkPicked: async (p) => {
      const { sink, from } = await downloads().picked(p.file, p.journal, p.from)
      const h = next++
      sinks.set(h, sink)
      return { handle: h, from }
    },
    sinkWrite: async (p) => { await get(sinks, p.handle).write(p.offset, p.bytes); return null },
    sinkFlush: async (p) => await get(sinks, p.handle).flush(),
    sinkClose: async (p) => { try { await get(sinks, p.handle).close() } finally { sinks.delete(p.handle) }; return null }
  }
  serveSession<PlatformMethod>(port, async (method, params, ctx) => {
    if (!Object.hasOwn(handlers, method)) throw new Error(`the tab's platform has no call named ${String(method)}`)
    return await (handlers[method] as (p: unknown, c: typeof ctx) => Promise<unknown>)(params, ctx)
  }, () => {}, () => {})
}
