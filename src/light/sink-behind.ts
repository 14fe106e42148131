// A download's writes handed on without the reader waiting for each to land (issue 17). A shared node's sink is
// in the tab's worker, a round trip over a port plus an OPFS write away: measured in the retrieval-browser bench
// (256 MiB, 2 cores), the session's loop spent 3.2 s of its 7.0 s awaiting 354 writes (9 ms each) while it could
// have been verifying the next frame and reading the one after. The sink's contract is kept: writes land in order,
// flush (which the session's saves await before recording an offset) covers every write handed in before it, and
// a write that fails fails the next write, flush or close with its error.
import { writeBehind } from '../core/write-behind'
import type { DownloadSink } from './download-files'

/** Writes outstanding at which the reader waits: a frame's verified runs each, so a few MiB held at most. */
export const DOWNLOAD_WRITES_AHEAD = 4

export function sinkWritingBehind (sink: DownloadSink, depth = DOWNLOAD_WRITES_AHEAD): DownloadSink {
  const behind = writeBehind(async ({ offset, bytes, ownBuffer }: { offset: number, bytes: Uint8Array, ownBuffer: boolean }) => { await sink.write(offset, bytes, ownBuffer) }, depth)
  return {
    write: async (offset, bytes, ownBuffer) => { await behind.push({ offset, bytes, ownBuffer: ownBuffer === true }) },
    flush: async () => {
      await behind.drain()
      return await sink.flush()
    },
    close: async () => {
      // the file is released even when a write failed; that write's error is the one told
      const drained = await behind.drain().then(() => null, (err: unknown) => ({ err }))
      try { await sink.close() } catch (err) { if (drained === null) throw err }
      if (drained !== null) throw drained.err
    }
  }
}
