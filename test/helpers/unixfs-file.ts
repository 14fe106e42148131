// A file packed as the tab packs it (writeUnixfsCar): its CAR, or its root and blocks by CID (what a scripted provider serves).
import { CarReader } from '@ipld/car'
import { writeUnixfsCar } from '../../src/light/unixfs-car'
import type { CID } from '../../src/core'

/** The file's CAR as writeUnixfsCar writes it (its header patched in place once the root is known), in memory. */
export async function unixfsCar (bytes: Uint8Array): Promise<{ car: Uint8Array, root: CID }> {
  const parts: Uint8Array[] = []
  const sink = { write: async (b: Uint8Array) => { parts.push(b.slice()) }, writeAt: async (offset: number, b: Uint8Array) => { parts[0]!.set(b, offset) } }
  const r = await writeUnixfsCar([bytes], sink)
  const car = new Uint8Array(r.carBytes)
  let at = 0
  for (const p of parts) { car.set(p, at); at += p.length }
  return { car, root: r.root }
}

export async function unixfsFile (bytes: Uint8Array): Promise<{ root: CID, blocks: Map<string, Uint8Array> }> {
  const { car, root } = await unixfsCar(bytes)
  const blocks = new Map<string, Uint8Array>()
  for await (const b of (await CarReader.fromBytes(car)).blocks()) blocks.set(b.cid.toString(), b.bytes)
  return { root, blocks }
}
