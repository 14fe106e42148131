// Filecoin's AMT: node [bmap, links, values], 8 slots per node, bit i of bmap (least significant bit of
// byte i/8 first) marks slot i as used. Two root layouts exist and both are in use on Filecoin:
//  - 'v0' [height, count, node] (go-amt-ipld v2, specs-actors v0 adt): block messages (TxMeta) and
//    receipts, which Lotus and Forest still build this way;
//  - 'v3' [bitWidth, height, count, node] (go-amt-ipld v3/v4): actor state arrays.
// Arrays are built whole: from a dense list (block messages, receipts, deals) or from (index, value) pairs
// for sparse ones (payment-channel lanes); only building and reading are needed. A built array has the
// minimal height for its largest index and no empty nodes, the canonical form go-amt-ipld keeps.
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from './cid'
import { mustGet, type BlockGetter, type BlockStore } from './block-store'
import { MalformedStateError } from './hamt'

export const AMT_BIT_WIDTH = 3
const WIDTH = 1 << AMT_BIT_WIDTH
/** Bound on what a block's message or receipt array may claim to hold (Lotus's 10,000-message cap). */
export const MAX_BLOCK_AMT_COUNT = 10_000

interface AmtNode { bmap: Uint8Array, links: CID[], values: unknown[] }
export interface AmtRoot { bitWidth: number, height: number, count: number, node: AmtNode }
export type AmtLayout = 'v0' | 'v3'

const nodeTuple = (n: AmtNode): unknown[] => [n.bmap, n.links, n.values]

function buildNode (store: BlockStore, items: unknown[], height: number): AmtNode {
  const bmap = new Uint8Array(WIDTH / 8)
  const span = WIDTH ** height
  const links: CID[] = []
  const values: unknown[] = []
  for (let slot = 0; slot < WIDTH && slot * span < items.length; slot++) {
    bmap[slot >> 3]! |= 1 << (slot & 7)
    if (height === 0) values.push(items[slot])
    else links.push(store.put(dagCbor.encode(nodeTuple(buildNode(store, items.slice(slot * span, (slot + 1) * span), height - 1)))))
  }
  return { bmap, links, values }
}

/** Builds the AMT of `items` at indexes 0..n-1 and returns its root CID. */
export function buildAmt (store: BlockStore, items: unknown[], layout: AmtLayout = 'v3'): CID {
  let height = 0
  while (WIDTH ** (height + 1) < items.length) height++
  const node = nodeTuple(buildNode(store, items, height))
  return store.put(dagCbor.encode(layout === 'v0' ? [height, items.length, node] : [AMT_BIT_WIDTH, height, items.length, node]))
}

function decodeNode (raw: unknown): AmtNode {
  if (!Array.isArray(raw) || raw.length !== 3 || !(raw[0] instanceof Uint8Array) || raw[0].length !== WIDTH / 8 ||
      !Array.isArray(raw[1]) || !Array.isArray(raw[2])) throw new MalformedStateError('AMT node is not [bmap, links, values]')
  const links = (raw[1] as unknown[]).map(l => {
    const cid = CID.asCID(l)
    if (cid === null) throw new MalformedStateError('AMT link is not a CID')
    return cid
  })
  return { bmap: raw[0], links, values: raw[2] }
}

function decode (bytes: Uint8Array): unknown {
  try { return dagCbor.decode(bytes) } catch (err) { throw new MalformedStateError(`AMT block is not DAG-CBOR: ${(err as Error).message}`) }
}

export function readAmtRoot (store: BlockGetter, root: CID, layout: AmtLayout = 'v3'): AmtRoot {
  const raw = decode(mustGet(store, root))
  const fields = layout === 'v0' ? 3 : 4
  if (!Array.isArray(raw) || raw.length !== fields || (layout === 'v3' && raw[0] !== AMT_BIT_WIDTH)) {
    throw new MalformedStateError(layout === 'v0' ? 'AMT root is not [height, count, node]' : 'AMT root is not [3, height, count, node]')
  }
  const [height, count, node] = layout === 'v0' ? raw : raw.slice(1)
  if (!Number.isSafeInteger(height) || height < 0 || height > 20 || !Number.isSafeInteger(count) || count < 0) {
    throw new MalformedStateError('AMT root height or count out of range')
  }
  return { bitWidth: AMT_BIT_WIDTH, height, count, node: decodeNode(node) }
}

/** The value at `index`, or undefined if that slot is empty. */
export function amtGet (store: BlockGetter, root: CID, index: number, layout: AmtLayout = 'v3'): unknown {
  const r = readAmtRoot(store, root, layout)
  // a fractional or NaN index would otherwise be floored onto a real slot (verifyInclusion takes a peer's index)
  if (!Number.isSafeInteger(index) || index < 0 || index >= WIDTH ** (r.height + 1)) return undefined
  let node = r.node
  for (let height = r.height; ; height--) {
    const slot = Math.floor(index / WIDTH ** height) % WIDTH
    if ((node.bmap[slot >> 3]! & (1 << (slot & 7))) === 0) return undefined
    let pos = 0
    for (let s = 0; s < slot; s++) if ((node.bmap[s >> 3]! & (1 << (s & 7))) !== 0) pos++
    if (height === 0) {
      if (pos >= node.values.length) throw new MalformedStateError('AMT bmap points past its values')
      return node.values[pos]
    }
    const link = node.links[pos]
    if (link === undefined) throw new MalformedStateError('AMT bmap points past its links')
    node = decodeNode(decode(mustGet(store, link)))
  }
}

/** All values in index order; a root claiming more than `limit` entries (by default, more than a block holds) is refused. */
export function amtValues (store: BlockGetter, root: CID, layout: AmtLayout = 'v3', limit = MAX_BLOCK_AMT_COUNT): unknown[] {
  const r = readAmtRoot(store, root, layout)
  if (r.count > limit) throw new MalformedStateError(`AMT of ${r.count} entries is more than the ${limit} expected here`)
  const out: unknown[] = []
  for (let i = 0; i < r.count; i++) out.push(amtGet(store, root, i, layout))
  return out
}

/** Highest index an AMT here may hold: JS numbers index exactly up to 2^53 − 1 (Filecoin allows 2^64 − 1). */
export const MAX_AMT_INDEX = Number.MAX_SAFE_INTEGER

function buildSparseNode (store: BlockStore, entries: Array<[number, unknown]>, height: number, base: number): AmtNode {
  const bmap = new Uint8Array(WIDTH / 8)
  const span = WIDTH ** height
  const links: CID[] = []
  const values: unknown[] = []
  for (let slot = 0, from = 0; slot < WIDTH && from < entries.length; slot++) {
    const end = base + (slot + 1) * span
    let to = from
    while (to < entries.length && entries[to]![0] < end) to++
    if (to === from) continue
    bmap[slot >> 3]! |= 1 << (slot & 7)
    if (height === 0) values.push(entries[from]![1])
    else links.push(store.put(dagCbor.encode(nodeTuple(buildSparseNode(store, entries.slice(from, to), height - 1, base + slot * span)))))
    from = to
  }
  return { bmap, links, values }
}

/**
 * Builds the AMT holding `entries` (index → value, any order, indexes unique in 0..MAX_AMT_INDEX) and
 * returns its root CID. With indexes 0..n-1 it is the same array `buildAmt` builds.
 */
export function buildSparseAmt (store: BlockStore, entries: Iterable<readonly [number, unknown]>, layout: AmtLayout = 'v3'): CID {
  const sorted = [...entries].map(([i, v]): [number, unknown] => [i, v]).sort((a, b) => a[0] - b[0])
  sorted.forEach(([i], n) => {
    if (!Number.isSafeInteger(i) || i < 0) throw new RangeError(`AMT index ${i} is not an integer in 0..${MAX_AMT_INDEX}`)
    if (n > 0 && sorted[n - 1]![0] === i) throw new RangeError(`AMT index ${i} given twice`)
  })
  const last = sorted.length === 0 ? 0 : sorted[sorted.length - 1]![0]
  let height = 0
  while (WIDTH ** (height + 1) <= last) height++
  const node = nodeTuple(buildSparseNode(store, sorted, height, 0))
  return store.put(dagCbor.encode(layout === 'v0' ? [height, sorted.length, node] : [AMT_BIT_WIDTH, height, sorted.length, node]))
}

/**
 * Every (index, value) in index order, walking only the nodes that exist. A root claiming more than `limit`
 * entries is refused before the walk, and one whose nodes hold a different number than it claims is malformed.
 */
export function amtEntries (store: BlockGetter, root: CID, layout: AmtLayout = 'v3', limit = MAX_BLOCK_AMT_COUNT): Array<[number, unknown]> {
  const r = readAmtRoot(store, root, layout)
  if (r.count > limit) throw new MalformedStateError(`AMT of ${r.count} entries is more than the ${limit} expected here`)
  const out: Array<[number, unknown]> = []
  const walk = (node: AmtNode, height: number, base: number): void => {
    const span = WIDTH ** height
    let pos = 0
    for (let slot = 0; slot < WIDTH; slot++) {
      if ((node.bmap[slot >> 3]! & (1 << (slot & 7))) === 0) continue
      if (height === 0) {
        if (pos >= node.values.length) throw new MalformedStateError('AMT bmap points past its values')
        out.push([base + slot, node.values[pos++]])
        if (out.length > r.count) throw new MalformedStateError(`AMT holds more entries than its count ${r.count}`)
        continue
      }
      const link = node.links[pos++]
      if (link === undefined) throw new MalformedStateError('AMT bmap points past its links')
      walk(decodeNode(decode(mustGet(store, link))), height - 1, base + slot * span)
    }
    if (pos !== (height === 0 ? node.values.length : node.links.length)) throw new MalformedStateError('AMT node holds entries its bmap does not mark')
  }
  walk(r.node, r.height, 0)
  if (out.length !== r.count) throw new MalformedStateError(`AMT holds ${out.length} entries, its root claims ${r.count}`)
  return out
}
