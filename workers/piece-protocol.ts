// Messages between the page's piece pool and its hashing workers.
import type { WireError, PieceDigest } from '../src/core'

export type PoolToWorker =
  | { type: 'init', module: WebAssembly.Module }
  /** Root of one segment (any length up to a segment) at `height`; `bytes` is transferred. */
  | { type: 'segment', id: number, bytes: ArrayBuffer, height: number }
  /** The whole digest of a piece small enough to be one job. */
  | { type: 'digest', id: number, bytes: ArrayBuffer }
  /** Checks a proof of possession (DAG-CBOR proof set and proof) in the WASM verifier. */
  | { type: 'verify', id: number, proofSet: Uint8Array, seed: Uint8Array, count: number, proof: Uint8Array }
  /** Checks a spot audit's answer (the proof format, for exactly `leaves` of piece `pieceCid`, its CID bytes) in WASM. */
  | { type: 'verify-audit', id: number, pieceCid: Uint8Array, paddedBytes: number, leaves: number[], proof: Uint8Array }
  /** For each level k of one Merkle path: does the WASM verifier hash `value` through path[0..k] to nodes[k + 1]? */
  | { type: 'path-steps', id: number, leaf: number, value: Uint8Array, path: Uint8Array[], nodes: Uint8Array[] }

export type WorkerToPool =
  | { type: 'ready' }
  /** A segment's root, with the segment's buffer handed back (moved): a piece stream fills it again. */
  | { type: 'root', id: number, root: Uint8Array, bytes?: ArrayBuffer }
  | { type: 'digest', id: number, digest: PieceDigest }
  | { type: 'verified', id: number }
  | { type: 'path-steps', id: number, ok: boolean[] }
  | { type: 'error', id: number, error: WireError }
