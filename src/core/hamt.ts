// Filecoin's HAMT (go-hamt-ipld v3, the state tree's map): nodes are [bitfield, pointers]; a pointer is a
// link to a child node or a bucket of up to 3 [key, value] pairs sorted by key; keys are placed by the
// sha256 of the key bytes, `bitWidth` bits per level, most significant first. The layout depends only on
// the set of keys, so every node computes the same root. Deletion keeps that canonical form as go-hamt-ipld
// does (a child left with no links and at most 3 entries collapses back into one sorted bucket).
import * as dagCbor from '@ipld/dag-cbor'
import { sha256 } from '@noble/hashes/sha2.js'
import { CID } from './cid'
import { mustGet, type BlockGetter, type BlockStore } from './block-store'

export const HAMT_BUCKET_SIZE = 3
export const STATE_HAMT_BIT_WIDTH = 5

export class MalformedStateError extends Error {
  static override name = 'MalformedStateError'
  override name = 'MalformedStateError'
}

type Kv = [Uint8Array, unknown]
type Pointer = CID | Kv[]
interface HamtNode { bitfield: bigint, pointers: Pointer[] }

function bitfieldBytes (b: bigint): Uint8Array {
  if (b === 0n) return new Uint8Array(0)
  let hex = b.toString(16)
  if (hex.length % 2 === 1) hex = '0' + hex
  return Uint8Array.from(hex.match(/../g)!.map(h => parseInt(h, 16)))
}

function encodeNode (n: HamtNode): Uint8Array {
  return dagCbor.encode([bitfieldBytes(n.bitfield), n.pointers])
}

function decodeNode (bytes: Uint8Array): HamtNode {
  let raw: unknown
  try { raw = dagCbor.decode(bytes) } catch (err) { throw new MalformedStateError(`HAMT node is not DAG-CBOR: ${(err as Error).message}`) }
  if (!Array.isArray(raw) || raw.length !== 2 || !(raw[0] instanceof Uint8Array) || !Array.isArray(raw[1])) {
    throw new MalformedStateError('HAMT node is not [bitfield, pointers]')
  }
  let bitfield = 0n
  for (const b of raw[0]) bitfield = (bitfield << 8n) | BigInt(b)
  const pointers = (raw[1] as unknown[]).map((p): Pointer => {
    const link = CID.asCID(p)
    if (link !== null) return link
    if (!Array.isArray(p) || p.length === 0 || p.length > HAMT_BUCKET_SIZE) throw new MalformedStateError('HAMT bucket has the wrong size')
    return p.map((kv: unknown): Kv => {
      if (!Array.isArray(kv) || kv.length !== 2 || !(kv[0] instanceof Uint8Array)) throw new MalformedStateError('HAMT entry is not [key, value]')
      return [kv[0], kv[1]]
    })
  })
  if (popcount(bitfield) !== pointers.length) throw new MalformedStateError('HAMT bitfield does not match its pointers')
  return { bitfield, pointers }
}

function popcount (n: bigint): number {
  let c = 0
  for (; n > 0n; n &= n - 1n) c++
  return c
}

/** The `depth`-th group of `bitWidth` bits of sha256(key), most significant bits first. */
function indexAt (hash: Uint8Array, depth: number, bitWidth: number): number {
  let out = 0
  for (let i = 0; i < bitWidth; i++) {
    const bit = depth * bitWidth + i
    if (bit >= hash.length * 8) throw new MalformedStateError('HAMT deeper than its hash')
    out = (out << 1) | ((hash[bit >> 3]! >> (7 - (bit & 7))) & 1)
  }
  return out
}

const compare = (a: Uint8Array, b: Uint8Array): number => {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.length - b.length
}
const equal = (a: Uint8Array, b: Uint8Array): boolean => compare(a, b) === 0

export function emptyHamt (store: BlockStore): CID {
  return store.put(encodeNode({ bitfield: 0n, pointers: [] }))
}

/** The value stored under `key`, or undefined when the walk proves it absent. */
export function hamtGet (store: BlockGetter, root: CID, key: Uint8Array, bitWidth = STATE_HAMT_BIT_WIDTH): unknown {
  const hash = sha256(key)
  let node = decodeNode(mustGet(store, root))
  for (let depth = 0; ; depth++) {
    const idx = indexAt(hash, depth, bitWidth)
    const bit = 1n << BigInt(idx)
    if ((node.bitfield & bit) === 0n) return undefined
    const pointer = node.pointers[popcount(node.bitfield & (bit - 1n))]!
    if (!Array.isArray(pointer)) {
      node = decodeNode(mustGet(store, pointer))
      continue
    }
    return pointer.find(([k]) => equal(k, key))?.[1]
  }
}

/** Stores `value` under `key`; returns the new root. Every new node is put into `store`. */
export function hamtSet (store: BlockStore, root: CID, key: Uint8Array, value: unknown, bitWidth = STATE_HAMT_BIT_WIDTH): CID {
  const node = decodeNode(mustGet(store, root))
  setIn(store, node, sha256(key), key, value, 0, bitWidth)
  return store.put(encodeNode(node))
}

function setIn (store: BlockStore, node: HamtNode, hash: Uint8Array, key: Uint8Array, value: unknown, depth: number, bitWidth: number): void {
  const idx = indexAt(hash, depth, bitWidth)
  const bit = 1n << BigInt(idx)
  const at = popcount(node.bitfield & (bit - 1n))
  if ((node.bitfield & bit) === 0n) {
    node.bitfield |= bit
    node.pointers.splice(at, 0, [[key, value]])
    return
  }
  const pointer = node.pointers[at]!
  if (!Array.isArray(pointer)) {
    const child = decodeNode(mustGet(store, pointer))
    setIn(store, child, hash, key, value, depth + 1, bitWidth)
    node.pointers[at] = store.put(encodeNode(child))
    return
  }
  const existing = pointer.findIndex(([k]) => equal(k, key))
  if (existing >= 0) {
    node.pointers[at] = pointer.map((kv, i): Kv => i === existing ? [key, value] : kv)
    return
  }
  if (pointer.length < HAMT_BUCKET_SIZE) {
    node.pointers[at] = [...pointer, [key, value] as Kv].sort((a, b) => compare(a[0], b[0]))
    return
  }
  // a full bucket becomes a child node holding all of its entries one level down
  const child: HamtNode = { bitfield: 0n, pointers: [] }
  for (const [k, v] of [...pointer, [key, value] as Kv]) setIn(store, child, sha256(k), k, v, depth + 1, bitWidth)
  node.pointers[at] = store.put(encodeNode(child))
}

/**
 * Removes `key`; returns the new root (the same root when the key was absent). Follows go-hamt-ipld v3's
 * modifyValue/cleanChild, so the result is the root a HAMT built from the remaining keys alone would have.
 */
export function hamtDelete (store: BlockStore, root: CID, key: Uint8Array, bitWidth = STATE_HAMT_BIT_WIDTH): CID {
  const node = decodeNode(mustGet(store, root))
  if (!deleteIn(store, node, sha256(key), key, 0, bitWidth)) return root
  return store.put(encodeNode(node))
}

function deleteIn (store: BlockStore, node: HamtNode, hash: Uint8Array, key: Uint8Array, depth: number, bitWidth: number): boolean {
  const idx = indexAt(hash, depth, bitWidth)
  const bit = 1n << BigInt(idx)
  if ((node.bitfield & bit) === 0n) return false
  const at = popcount(node.bitfield & (bit - 1n))
  const pointer = node.pointers[at]!
  const drop = (): void => {
    node.bitfield &= ~bit
    node.pointers.splice(at, 1)
  }
  if (Array.isArray(pointer)) {
    const i = pointer.findIndex(([k]) => equal(k, key))
    if (i < 0) return false
    if (pointer.length === 1) drop()
    else node.pointers[at] = pointer.filter((_, j) => j !== i)
    return true
  }
  const child = decodeNode(mustGet(store, pointer))
  if (!deleteIn(store, child, hash, key, depth + 1, bitWidth)) return false
  // cleanChild: a child with links of its own, or more entries than a bucket holds, stays a node
  const buckets = child.pointers.filter((p): p is Kv[] => Array.isArray(p))
  const entries = buckets.flat()
  if (buckets.length !== child.pointers.length || entries.length > HAMT_BUCKET_SIZE) node.pointers[at] = store.put(encodeNode(child))
  else if (entries.length === 0) drop() // only reachable from a non-canonical child; never leave an empty bucket
  else node.pointers[at] = entries.sort((a, b) => compare(a[0], b[0]))
  return true
}

/**
 * Every [key, value] under `root`, in the HAMT's own order (by hash, then key), walking each node once.
 * Throws MalformedStateError past `limit` entries, so a reader never walks an unbounded map for a caller.
 */
export function hamtEntries (store: BlockGetter, root: CID, limit = Infinity): Array<[Uint8Array, unknown]> {
  const out: Array<[Uint8Array, unknown]> = []
  const walk = (cid: CID): void => {
    for (const p of decodeNode(mustGet(store, cid)).pointers) {
      if (!Array.isArray(p)) { walk(p); continue }
      for (const kv of p) {
        if (out.length >= limit) throw new MalformedStateError(`HAMT holds more than ${limit} entries`)
        out.push(kv)
      }
    }
  }
  walk(root)
  return out
}
