// Filecoin's TipSet and TipSetKey. A tipset is the blocks of one height sharing parents, ordered as Lotus
// orders them (smallest ticket digest first, then CID bytes); its key is the block CIDs in that order.
// On the wire (CBOR) a TipSetKey is one byte string, the CIDs' bytes concatenated; Lotus names a key by
// the blake2b-256 CID of that CBOR. Coffer's chain has one producer, so its tipsets hold one block, but
// the rules here are Filecoin's.
import * as dagCbor from '@ipld/dag-cbor'
import { blake2b256, chainCid, CID } from './cid'
import type { SealedHeader } from './block-header'
import { MalformedMessageError } from './errors'
import type { Epoch } from './units'

export interface TipSet { blocks: SealedHeader[], key: CID[], height: Epoch }

function compareBytes (a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.length - b.length
}

/** Lotus's tipset order: by blake2b-256 of the ticket's VRF proof, ties broken by CID bytes. */
function lotusOrder (a: SealedHeader, b: SealedHeader): number {
  const ta = a.header.ticket === null ? new Uint8Array(0) : blake2b256(a.header.ticket)
  const tb = b.header.ticket === null ? new Uint8Array(0) : blake2b256(b.header.ticket)
  return compareBytes(ta, tb) || compareBytes(a.cid.bytes, b.cid.bytes)
}

/** Builds a tipset, refusing blocks that differ in height or parents (Lotus's NewTipSet checks). */
export function makeTipSet (blocks: SealedHeader[]): TipSet {
  if (blocks.length === 0) throw new MalformedMessageError('a tipset needs at least one block')
  const first = blocks[0]!.header
  const parents = first.parents.map(String).join(',')
  for (const b of blocks) {
    if (b.header.height !== first.height) throw new MalformedMessageError('tipset blocks differ in height')
    if (b.header.parents.map(String).join(',') !== parents) throw new MalformedMessageError('tipset blocks differ in parents')
  }
  const ordered = [...blocks].sort(lotusOrder)
  return { blocks: ordered, key: ordered.map(b => b.cid), height: first.height }
}

export function encodeTipSetKey (key: CID[]): Uint8Array {
  const parts = key.map(c => c.bytes)
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}

/** Splits concatenated CID bytes back into CIDs; anything left over or unreadable is malformed. */
export function decodeTipSetKey (bytes: Uint8Array): CID[] {
  const out: CID[] = []
  let rest = bytes
  while (rest.length > 0) {
    let cid: CID
    let tail: Uint8Array
    try { [cid, tail] = CID.decodeFirst(rest) } catch (err) { throw new MalformedMessageError(`TipSetKey: ${(err as Error).message}`) }
    out.push(cid)
    rest = tail
  }
  return out
}

/** Lotus's TipSetKey.Cid(): the chain CID of the key's CBOR (one byte string). */
export function tipSetKeyCid (key: CID[]): CID {
  return chainCid(dagCbor.encode(encodeTipSetKey(key)))
}
