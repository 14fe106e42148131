// A file as Filecoin clients store it: a UnixFS DAG (ipfs-unixfs-importer: CIDv1, raw leaves) written
// block by block into a CAR v1 (@ipld/car), streamed into a sink so memory stays flat. The root is only
// known at the end, so the header first names a placeholder of the same length and is rewritten in place.
import { importer } from 'ipfs-unixfs-importer'
import { CarWriter } from '@ipld/car/writer'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { concatBytes } from '@noble/hashes/utils.js'
import { CarLayoutRecorder, type CarLayout } from '../core/piece/car-layout'
import { writeBehind } from '../core/write-behind'

/**
 * Where a CAR is written. The bytes of each call are handed over: the writer never reads or changes them again,
 * so a sink may keep them, or move their buffer to another worker (which leaves it empty here).
 */
export interface CarSink {
  write: (bytes: Uint8Array) => Promise<void>
  /** Overwrites bytes already written (the header, once the root is known). */
  writeAt: (offset: number, bytes: Uint8Array) => Promise<void>
}

export interface UnixfsCar {
  root: CID
  carBytes: number
  fileBytes: number
  /** Where each block (and each raw leaf's file bytes) sits in the CAR: what a proof's leaf is drawn over. */
  layout: CarLayout
}

const DAG_PB = 0x70

/**
 * The CAR reaches the sink in runs of exactly this many bytes (the last one shorter). Each write is a round trip
 * for a shared node (the tab's worker stages and hashes it) and a send of its own to a staged provider: handed on
 * block part by block part (three writes for each 256 KiB leaf, two of them a few bytes), a 256 MiB upload made
 * over 3,000 of each (issue 17). 1 MiB is a deal stream's largest frame.
 */
export const SINK_WRITE_BYTES = 1 << 20

/** The leaf size of the DAGs writeUnixfsCar makes (ipfs-unixfs-importer's default chunker, raw leaves). */
const LEAF_BYTES = 256 * 1024

/**
 * The most bytes writeUnixfsCar's CAR of a `fileBytes`-byte file holds: what a file's retrieval costs at most when
 * only the file's size is known (its block bytes, which the vouchers pay for, are fewer still). Each 256 KiB leaf
 * adds ~51 bytes of link in the node above it and ~39 of section header (CID and length): measured 89.7–90.2 a
 * leaf on 64 and 300 MiB files, 115 on 1 MiB; 128 is allowed, and 4 KiB for the header and the root's node.
 */
export function carBytesAtMost (fileBytes: number): number {
  return fileBytes + Math.ceil(fileBytes / LEAF_BYTES) * 128 + 4096
}

/** Writes outstanding at which the packer waits for the sink (write-behind.ts): 4 MiB held in memory at most. */
export const SINK_WRITES_AHEAD = 4

/** The blockstore interface allows a block as a stream of parts; the importer hands whole blocks. */
async function blockBytes (value: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  if (value instanceof Uint8Array) return value
  const parts: Uint8Array[] = []
  for await (const p of value) parts.push(p)
  return concatBytes(...parts)
}

export async function writeUnixfsCar (content: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, sink: CarSink, opts: { signal?: AbortSignal, onProgress?: (fileBytes: number) => void } = {}): Promise<UnixfsCar> {
  // a root is a dag-pb or raw CIDv1 over sha2-256: 36 bytes either way, so the header keeps its length
  const placeholder = CID.createV1(DAG_PB, await sha256.digest(new Uint8Array(0)))
  const { writer, out } = CarWriter.create([placeholder])
  let header: Uint8Array | undefined
  let carBytes = 0
  // the writer hands a block on only as the pump takes it: a sink that fails (a full quota) stops the pump (at its
  // next write, a MiB on at most, or its drain), and every put after would wait for it for ever. `failed` rejects with the sink's error, and the puts race it.
  let sinkFailed: (err: unknown) => void = () => {}
  const failed = new Promise<never>((_resolve, reject) => { sinkFailed = reject })
  failed.catch(() => {})
  const pump = (async () => {
    // the writer emits each block's length, CID and bytes apart: they go on in runs of exactly SINK_WRITE_BYTES
    let run = new Uint8Array(SINK_WRITE_BYTES)
    let filled = 0
    // the pump goes on while the sink's last writes land (up to SINK_WRITES_AHEAD of them): see write-behind.ts
    const writes = writeBehind(async (bytes: Uint8Array) => { await sink.write(bytes) }, SINK_WRITES_AHEAD)
    const flush = async (): Promise<void> => {
      if (filled === 0) return
      const bytes = filled === run.length ? run : run.subarray(0, filled)
      run = new Uint8Array(SINK_WRITE_BYTES)
      filled = 0
      carBytes += bytes.length // (counted first: the sink may move the bytes)
      await writes.push(bytes)
    }
    for await (const chunk of out) {
      header ??= chunk.slice()
      for (let at = 0; at < chunk.length;) {
        const n = Math.min(chunk.length - at, run.length - filled)
        run.set(chunk.subarray(at, at + n), filled)
        filled += n
        at += n
        if (filled === run.length) await flush()
      }
    }
    await flush()
    await writes.drain()
  })()
  pump.catch((err: unknown) => { sinkFailed(err) })
  let fileBytes = 0
  const counted = async function * (): AsyncIterable<Uint8Array> {
    for await (const chunk of content) {
      opts.signal?.throwIfAborted()
      fileBytes += chunk.length
      opts.onProgress?.(fileBytes)
      yield chunk
    }
  }
  const written = new Set<string>()
  const layout = new CarLayoutRecorder()
  let root: CID | undefined
  try {
    for await (const entry of importer([{ content: counted() }], {
      put: async (cid, value) => {
        const key = cid.toString()
        if (!written.has(key)) {
          written.add(key)
          const block = { cid: CID.asCID(cid)!, bytes: await blockBytes(value) }
          layout.add(block.cid, block.bytes) // the writer's order: put serialises its sections
          await Promise.race([writer.put(block), failed])
        }
        return cid
      }
    }, { cidVersion: 1, rawLeaves: true })) root = CID.asCID(entry.cid)!
  } finally {
    // (with the pump gone the writer cannot close: the sink's error is what the caller gets, from the pump)
    await Promise.race([writer.close(), failed]).catch(() => {})
    await pump
  }
  if (root === undefined || header === undefined) throw new Error('the importer produced no root')
  const headerBytes = header.length // (read first: the rewrite is done in `header` itself, which the sink may move)
  await sink.writeAt(0, await CarWriter.updateRootsInBytes(header, [root]))
  const carLayout = layout.finish(root, headerBytes)
  if (carLayout.carBytes !== carBytes) throw new Error(`the CAR layout (${carLayout.carBytes} bytes) does not match the CAR written (${carBytes})`)
  return { root, carBytes, fileBytes, layout: carLayout }
}
