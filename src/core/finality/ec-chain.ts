// go-f3's ECChain (gpbft/chain.go): the tipsets an instance finalizes, the first being the base the
// previous instance ended on. A tipset here is F3's view of one: epoch, the tipset key as the
// concatenated bytes of its block CIDs, the CID of the power table, and 32 bytes of commitments.
// What participants sign is the chain's key: a merkle root over each tipset's signing bytes.
import * as dagCbor from '@ipld/dag-cbor'
import { bytesEqual } from '../address'
import { chainCid, CID } from '../cid'
import { encodeTipSetKey, decodeTipSetKey } from '../tipset'
import { CertificateError } from './finality-errors'
import { merkleRoot } from './merkle'

export interface F3TipSet {
  readonly epoch: number
  /** The tipset key: its blocks' CIDs, binary, concatenated (Lotus's TipSetKey bytes). */
  readonly key: Uint8Array
  readonly powerTable: CID
  readonly commitments: Uint8Array
}

export type EcChain = readonly F3TipSet[]

/** go-f3's limits: a chain of at most 128 tipsets, a key of at most 20 CIDs of 38 bytes. */
export const EC_CHAIN_MAX_LENGTH = 128
export const CID_MAX_BYTES = 38
export const TIPSET_KEY_MAX_BYTES = 20 * CID_MAX_BYTES

/** A tipset key as F3 carries it: Lotus's TipSetKey bytes. */
export const tipSetKeyBytes = (cids: readonly CID[]): Uint8Array => encodeTipSetKey([...cids])

/** The CIDs of a tipset key's bytes; MALFORMED when they do not parse. */
export function tipSetKeyCids (key: Uint8Array): CID[] {
  try { return decodeTipSetKey(key) } catch (e) { throw new CertificateError('MALFORMED', undefined, `tipset key is not a list of CIDs: ${(e as Error).message}`) }
}

export function encodeF3TipSetFields (ts: F3TipSet): unknown[] {
  return [ts.epoch, ts.key, ts.powerTable, ts.commitments]
}

export function decodeF3TipSet (raw: unknown, instance?: number): F3TipSet {
  if (!Array.isArray(raw) || raw.length !== 4) throw new CertificateError('MALFORMED', instance, 'a tipset is not [Epoch, Key, PowerTable, Commitments]')
  const [epoch, key, powerTable, commitments] = raw as unknown[]
  if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch)) throw new CertificateError('MALFORMED', instance, 'a tipset epoch is not an integer')
  if (!(key instanceof Uint8Array)) throw new CertificateError('MALFORMED', instance, 'a tipset key is not bytes')
  if (key.length > TIPSET_KEY_MAX_BYTES) throw new CertificateError('OVERSIZED', instance, `a tipset key of ${key.length} bytes`)
  const cid = CID.asCID(powerTable)
  if (cid === null) throw new CertificateError('MALFORMED', instance, 'a tipset power table is not a CID')
  if (!(commitments instanceof Uint8Array) || commitments.length > 32) throw new CertificateError('MALFORMED', instance, 'tipset commitments are not 32 bytes')
  return { epoch, key, powerTable: cid, commitments: padTo32(commitments) }
}

/** cbor-gen reads a [32]byte from up to 32 bytes, leaving the rest zero. */
export function padTo32 (bytes: Uint8Array): Uint8Array {
  if (bytes.length === 32) return bytes
  const out = new Uint8Array(32)
  out.set(bytes)
  return out
}

/** go-f3's ECChain.Validate: at most 128 tipsets, each with a key and a power table, epochs strictly increasing. */
export function validateEcChain (chain: EcChain, instance?: number): void {
  if (chain.length > EC_CHAIN_MAX_LENGTH) throw new CertificateError('BAD_CHAIN', instance, `chain of ${chain.length} tipsets, more than ${EC_CHAIN_MAX_LENGTH}`)
  let last = -1
  for (const [i, ts] of chain.entries()) {
    if (ts.key.length === 0) throw new CertificateError('BAD_CHAIN', instance, `tipset ${i} has an empty key`)
    if (ts.key.length > TIPSET_KEY_MAX_BYTES) throw new CertificateError('BAD_CHAIN', instance, `tipset ${i}'s key is too long`)
    if (ts.powerTable.bytes.length > CID_MAX_BYTES) throw new CertificateError('BAD_CHAIN', instance, `tipset ${i}'s power table CID is too long`)
    if (ts.epoch <= last) throw new CertificateError('BAD_CHAIN', instance, `tipset ${i}'s epoch ${ts.epoch} does not increase from ${last}`)
    last = ts.epoch
  }
}

/** go-f3's TipSet.MarshalForSigning: epoch (int64 BE) ‖ commitments ‖ CID(CBOR of the key) ‖ power table CID. */
export function f3TipSetSigningBytes (ts: F3TipSet): Uint8Array {
  const keyCid = chainCid(dagCbor.encode(ts.key)).bytes
  const pt = ts.powerTable.bytes
  const out = new Uint8Array(8 + 32 + keyCid.length + pt.length)
  new DataView(out.buffer).setBigInt64(0, BigInt(ts.epoch))
  out.set(ts.commitments, 8)
  out.set(keyCid, 40)
  out.set(pt, 40 + keyCid.length)
  return out
}

/** go-f3's ECChain.Key: the merkle root of the tipsets' signing bytes (zero for an empty chain). */
export function ecChainKey (chain: EcChain): Uint8Array {
  return merkleRoot(chain.map(f3TipSetSigningBytes))
}

export function f3TipSetsEqual (a: F3TipSet, b: F3TipSet): boolean {
  return a.epoch === b.epoch && bytesEqual(a.key, b.key) && a.powerTable.equals(b.powerTable) && bytesEqual(a.commitments, b.commitments)
}
