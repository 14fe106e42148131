// Filecoin's AMT (go-amt-ipld v4, the array behind block messages and receipts): root
// [bitWidth, height, count, node], node [bmap, links, values], 2^bitWidth slots per node, bit i of bmap
// (least significant bit of byte i/8 first) marks slot i as used. Blocks build their arrays once, from a
// dense list, so only building and reading are needed.
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
export function buildAmt (store: BlockStore, items: unknown[]): CID {
  let height = 0
  while (WIDTH ** (height + 1) < items.length) height++
  return store.put(dagCbor.encode([AMT_BIT_WIDTH, height, items.length, nodeTuple(buildNode(store, items, height))]))
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

export function readAmtRoot (store: BlockGetter, root: CID): AmtRoot {
  const raw = decode(mustGet(store, root))
  if (!Array.isArray(raw) || raw.length !== 4 || raw[0] !== AMT_BIT_WIDTH || !Number.isSafeInteger(raw[1]) ||
      raw[1] < 0 || raw[1] > 20 || !Number.isSafeInteger(raw[2]) || raw[2] < 0) throw new MalformedStateError('AMT root is not [3, height, count, node]')
  return { bitWidth: raw[0], height: raw[1], count: raw[2], node: decodeNode(raw[3]) }
}

/** The value at `index`, or undefined if that slot is empty. */
export function amtGet (store: BlockGetter, root: CID, index: number): unknown {
  const r = readAmtRoot(store, root)
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

/** All values in index order (for blocks, which are small). */
export function amtValues (store: BlockGetter, root: CID): unknown[] {
  const r = readAmtRoot(store, root)
  if (r.count > MAX_BLOCK_AMT_COUNT) throw new MalformedStateError(`AMT of ${r.count} entries is larger than any block holds`)
  const out: unknown[] = []
  for (let i = 0; i < r.count; i++) out.push(amtGet(store, root, i))
  return out
}
