// What a tab lends the shared light node (issue 15 part 3): a SharedWorker has no nested workers and no OPFS
// sync access handles in Chromium (measured: `Worker` and `createSyncAccessHandle` are undefined there), so
// hashing and every OPFS write stay in the tab's own dedicated worker, which answers these calls over a port
// (tab-platform-server.ts); the node uses them through remote-platform.ts. Objects that live across calls (a
// pack sink, a piece stream, a staging writer, a download sink) are numbered handles in the tab's worker. Reading a staged
// or downloaded file needs no sync handle: the node does that itself, except where OPFS is refused to a
// SharedWorker altogether (a cross-origin-isolated page's, in Chromium): then the tab opens and removes them too.
import type { PieceDigest, AggregateCheck } from '../core'
import type { PieceProgress, PieceStreamProgress } from '../../workers/piece-pool'

interface Call<P, R, G = never> { params: P, result: R, progress: G }
type Handle = { handle: number }

/** A PieceResult with its CIDs as bytes (structured clone keeps no class). */
export interface PieceResultWire { digest: PieceDigest, v1: Uint8Array, v2: Uint8Array, segmentRoots?: Uint8Array[] }

export interface PlatformMethods {
  pieceOf: Call<{ blob: Blob }, PieceResultWire, PieceProgress>
  streamOpen: Call<Record<string, never>, number>
  /** Each write answers with the stream's latest progress (null: none since the last). */
  streamWrite: Call<Handle & { bytes: Uint8Array }, PieceStreamProgress | null>
  streamWriteAt: Call<Handle & { offset: number, bytes: Uint8Array }, PieceStreamProgress | null>
  streamFinish: Call<Handle, PieceResultWire>
  streamAbort: Call<Handle, null>
  verifyPossession: Call<{ proofSet: Uint8Array, seed: Uint8Array, count: number, proof: Uint8Array }, null>
  verifyAudit: Call<{ pieceCid: Uint8Array, paddedBytes: number, leaves: number[], proof: Uint8Array }, null>
  pathSteps: Call<{ leaf: number, value: Uint8Array, path: Uint8Array[], nodes: Uint8Array[] }, boolean[]>
  /** A batch of F3 certificates' signatures, checked together (BdnVerifier.verifyBatch) by the tab's mcl-wasm. */
  verifyCertificateChecks: Call<{ checks: readonly AggregateCheck[], weights: readonly bigint[] }, boolean>
  /**
   * A pack sink (pack-piece.ts): the staging file `name` and a piece stream beside it, written by one call per
   * write (its bytes moved here, not copied). Each write answers with the piece's latest progress; finish
   * closes the file and gives the piece, or null when hashing could not.
   */
  packOpen: Call<{ name: string }, number>
  packWrite: Call<Handle & { bytes: Uint8Array }, PieceStreamProgress | null>
  packWriteAt: Call<Handle & { offset: number, bytes: Uint8Array }, PieceStreamProgress | null>
  packFinish: Call<Handle, PieceResultWire | null>
  packAbort: Call<Handle, null>
  stagingCreate: Call<{ name: string }, number>
  stagingWrite: Call<Handle & { bytes: Uint8Array }, null>
  stagingWriteAt: Call<Handle & { offset: number, bytes: Uint8Array }, null>
  stagingClose: Call<Handle, null>
  /** The staged file (a Blob the node reads itself), or null when it is gone. */
  stagingOpen: Call<{ name: string }, Blob | null>
  stagingRemove: Call<{ name: string }, null>
  downloadFile: Call<{ name: string, downloadName: string }, File | null>
  downloadRemove: Call<{ name: string }, null>
  sinkOpfs: Call<{ name: string, from: number }, number>
  sinkPicked: Call<{ file: FileSystemFileHandle, journal: string, from: number }, { handle: number, from: number }>
  sinkWrite: Call<Handle & { offset: number, bytes: Uint8Array }, null>
  sinkFlush: Call<Handle, number>
  sinkClose: Call<Handle, null>
}

export type PlatformMethod = keyof PlatformMethods

/** What the page says to its tab's worker itself (not on the lent port): serve the node on this port. */
export interface TabWorkerRequest { type: 'serve', port: MessagePort }
