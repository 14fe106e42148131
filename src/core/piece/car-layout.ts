// Where a piece's leaf sits in the user's file: the CAR's layout (header, then each block's section:
// varint ‖ CID ‖ bytes, as go-car / @ipld/car write CAR v1), kept compactly, and the map leaf → padded
// offset → FR32 payload offset → CAR offset → header, a block's framing, file bytes, a DAG node, or padding.
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { varint } from 'multiformats'
import { CID } from 'multiformats/cid'
import { FR32_IN_BYTES } from './fr32'

const RAW = 0x55
const DAG_PB = 0x70

/**
 * A run of CAR sections in CAR order. Raw leaves of one size whose sections follow each other and whose file
 * bytes follow each other make one run (a GiB of 256 KiB chunks is ~24 runs between the DAG nodes), so the
 * layout stays a few KiB per GiB; a DAG node (or a raw block the file does not reach) is a run of one with its CID.
 */
export interface CarRun {
  /** CAR offset of the first section (its varint). */
  at: number
  count: number
  /** varint + CID bytes before each block's data. */
  prefix: number
  /** Data bytes of each block. */
  data: number
  /** Raw leaves: the file offset of the first block's bytes; null for a DAG node. */
  fileOffset: number | null
  /** The CID of a single-block run (a DAG node); raw-leaf runs do not keep theirs. */
  cid?: string
  /** Ordinal of the run's first block among the CAR's blocks. */
  block: number
}

export interface CarLayout {
  /** The header section's bytes (varint + DAG-CBOR header). */
  headerBytes: number
  carBytes: number
  fileBytes: number
  runs: CarRun[]
}

export class CarLayoutError extends RangeError {
  static override name = 'CarLayoutError'
  override name = 'CarLayoutError'
}

/**
 * Records sections as a CAR writer writes them (call `add` in writer order), keeping DAG node bytes until
 * `finish` walks the DAG for each raw leaf's file offset: put order is not file order when the importer
 * writes blocks concurrently, and a repeated chunk is stored once (it gets its first file offset).
 */
export class CarLayoutRecorder {
  private readonly sections: Array<{ cid: CID, at: number, prefix: number, data: number }> = []
  private readonly nodes = new Map<string, Uint8Array>()
  private readonly rawSizes = new Map<string, number>()
  private end = 0

  add (cid: CID, bytes: Uint8Array): void {
    const cidLen = cid.bytes.length
    const prefix = varint.encodingLength(cidLen + bytes.length) + cidLen
    this.sections.push({ cid, at: this.end, prefix, data: bytes.length })
    this.end += prefix + bytes.length
    if (cid.code === DAG_PB) this.nodes.set(cid.toString(), bytes)
    else if (cid.code === RAW) this.rawSizes.set(cid.toString(), bytes.length)
  }

  finish (root: CID, headerBytes: number): CarLayout {
    const offsets = new Map<string, number>()
    const walk = (cid: CID, at: number): number => {
      const key = cid.toString()
      if (cid.code === RAW) {
        if (!offsets.has(key)) offsets.set(key, at)
        return this.rawSizes.get(key) ?? 0
      }
      const bytes = this.nodes.get(key)
      if (bytes === undefined) throw new CarLayoutError(`block ${key} of the DAG is not in the CAR`)
      const node = dagPb.decode(bytes)
      const fs = node.Data === undefined ? null : UnixFS.unmarshal(node.Data)
      let size = fs?.data?.length ?? 0
      node.Links.forEach((l, i) => { const s = walk(l.Hash, at + size); size += fs?.blockSizes[i] !== undefined ? Number(fs.blockSizes[i]) : s })
      return size
    }
    const fileBytes = walk(root, 0)
    const runs: CarRun[] = []
    this.sections.forEach((s, block) => {
      const at = headerBytes + s.at
      const fileOffset = s.cid.code === RAW ? offsets.get(s.cid.toString()) ?? null : null
      const last = runs[runs.length - 1]
      if (fileOffset !== null && last !== undefined && last.fileOffset !== null && last.prefix === s.prefix && last.data === s.data &&
          last.at + last.count * (s.prefix + s.data) === at && last.fileOffset + last.count * s.data === fileOffset) {
        last.count++
        return
      }
      runs.push({ at, count: 1, prefix: s.prefix, data: s.data, fileOffset, block, ...(fileOffset === null ? { cid: s.cid.toString() } : {}) })
    })
    return { headerBytes, carBytes: headerBytes + this.end, fileBytes, runs }
  }
}

/** One stretch of a leaf's payload bytes (CAR offsets, end exclusive) and what the CAR holds there. */
export type LeafPart =
  | { kind: 'header', start: number, end: number }
  | { kind: 'framing', start: number, end: number, block: number, cid?: string }
  | { kind: 'file', start: number, end: number, block: number, fileStart: number, fileEnd: number }
  | { kind: 'node', start: number, end: number, block: number, cid: string }
  | { kind: 'padding', start: number, end: number }

export interface LeafPlace {
  leaf: number
  /** Byte offset of the leaf in the padded piece. */
  paddedOffset: number
  /** The payload (CAR) bytes whose bits the leaf carries: 32 or 33 bytes, the first and last maybe in part. */
  payloadStart: number
  payloadEnd: number
  parts: LeafPart[]
}

/**
 * The payload bytes a leaf carries. FR32 puts 127 payload bytes (1016 bits) in four 32-byte leaves of 254
 * bits each: leaf j of a quad carries bits [254j, 254j + 254) of its 127 bytes (fr32.ts).
 */
export function leafPayloadRange (leaf: number): { start: number, end: number } {
  if (!Number.isSafeInteger(leaf) || leaf < 0) throw new CarLayoutError(`leaf ${leaf} is not a leaf index`)
  const quad = Math.floor(leaf / 4)
  const j = leaf % 4
  const base = quad * FR32_IN_BYTES
  return { start: base + Math.floor(254 * j / 8), end: base + Math.ceil(254 * (j + 1) / 8) }
}

/** What the CAR holds at CAR offsets [start, end): header, each block's framing and data, then zero padding. */
export function carParts (layout: CarLayout, start: number, end: number): LeafPart[] {
  const parts: LeafPart[] = []
  let at = start
  if (at < Math.min(end, layout.headerBytes)) { parts.push({ kind: 'header', start: at, end: Math.min(end, layout.headerBytes) }); at = Math.min(end, layout.headerBytes) }
  // the last run starting at or before `at`
  let lo = 0
  let hi = layout.runs.length - 1
  while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (layout.runs[mid]!.at <= at) lo = mid; else hi = mid - 1 }
  for (let r = lo; at < end && at < layout.carBytes && r < layout.runs.length; r++) {
    const run = layout.runs[r]!
    const stride = run.prefix + run.data
    const runEnd = run.at + run.count * stride
    if (at >= runEnd) continue
    while (at < end && at < runEnd) {
      const k = Math.floor((at - run.at) / stride)
      const sec = run.at + k * stride
      const block = run.block + k
      if (at < sec + run.prefix) {
        const e = Math.min(end, sec + run.prefix)
        parts.push({ kind: 'framing', start: at, end: e, block, ...(run.cid === undefined ? {} : { cid: run.cid }) })
        at = e
        continue
      }
      const e = Math.min(end, sec + stride)
      const inData = at - sec - run.prefix
      if (run.fileOffset !== null) {
        const f = run.fileOffset + k * run.data + inData
        parts.push({ kind: 'file', start: at, end: e, block, fileStart: f, fileEnd: f + (e - at) })
      } else {
        parts.push({ kind: 'node', start: at, end: e, block, cid: run.cid ?? '' })
      }
      at = e
    }
  }
  if (at < end) parts.push({ kind: 'padding', start: Math.max(at, layout.carBytes), end })
  return parts
}

/** Where leaf `leaf` of the piece sits: its padded offset, its payload bytes, and what the CAR holds there. */
export function locateLeaf (layout: CarLayout, leaf: number): LeafPlace {
  const { start, end } = leafPayloadRange(leaf)
  return { leaf, paddedOffset: leaf * 32, payloadStart: start, payloadEnd: end, parts: carParts(layout, start, end) }
}
