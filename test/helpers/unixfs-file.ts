// A file packed as the tab packs it (writeUnixfsCar), as its root and blocks by CID: what a scripted provider serves.
import { CarReader } from '@ipld/car'
import { writeUnixfsCar } from '../../src/light/unixfs-car'
import type { CID } from '../../src/core'

export async function unixfsFile (bytes: Uint8Array): Promise<{ root: CID, blocks: Map<string, Uint8Array> }> {
  const parts: Uint8Array[] = []
  const sink = { write: async (b: Uint8Array) => { parts.push(b.slice()) }, writeAt: async (offset: number, b: Uint8Array) => { parts[0]!.set(b, offset) } }
  const r = await writeUnixfsCar([bytes], sink)
  const car = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) { car.set(p, at); at += p.length }
  const blocks = new Map<string, Uint8Array>()
  for await (const b of (await CarReader.fromBytes(car)).blocks()) blocks.set(b.cid.toString(), b.bytes)
  return { root: r.root, blocks }
}
