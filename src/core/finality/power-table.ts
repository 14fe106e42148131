// The F3 power table (go-f3 gpbft.PowerEntries): who may sign a certificate and with what weight.
// Entries sorted by power descending then actor ID ascending; weight is the power scaled to 0xffff of
// the total (integer division, as go-f3's scalePower); a strong quorum is at least ⌈2·total/3⌉; the
// table is named by the blake2b-256 DAG-CBOR CID of its CBOR, and moves from one instance to the next
// by a PowerTableDelta, applied under go-f3's rules (certs.ApplyPowerTableDiffs).
import * as dagCbor from '@ipld/dag-cbor'
import { bytesEqual } from '../address'
import { chainCid, type CID } from '../cid'
import { decodeBigInt, encodeBigInt } from '../token'
import { CertificateError } from './finality-errors'

/** One participant: a miner's actor ID, its quality-adjusted power (bytes) and its 48-byte BLS key. */
export interface PowerEntry {
  readonly id: number
  readonly power: bigint
  readonly pubKey: Uint8Array
}

/** One participant's change between two tables (go-f3 certs.PowerTableDelta); an empty key leaves the key as it was. */
export interface PowerTableDelta {
  readonly participantId: number
  readonly powerDelta: bigint
  readonly signingKey: Uint8Array
}

/** go-f3's limits on what it decodes (cbor-gen maxlen): a key is 48 bytes, a delta list 8,192 entries. */
export const MAX_POWER_TABLE_ENTRIES = 8192
export const MAX_PUBKEY_BYTES = 48
/** Scaled powers sum to at most this (go-f3's maxPower). */
export const MAX_SCALED_POWER = 0xffff

export function comparePowerEntries (a: PowerEntry, b: PowerEntry): number {
  if (a.power !== b.power) return a.power > b.power ? -1 : 1
  return a.id - b.id
}

export function sortPowerTable (entries: readonly PowerEntry[]): PowerEntry[] {
  return [...entries].sort(comparePowerEntries)
}

export function encodePowerTable (entries: readonly PowerEntry[]): Uint8Array {
  return dagCbor.encode(entries.map(e => [e.id, encodeBigInt(e.power), e.pubKey]))
}

/** A power table from its CBOR; refused by name (MALFORMED, OVERSIZED) when it is not one. */
export function decodePowerTable (bytes: Uint8Array, maxEntries = MAX_POWER_TABLE_ENTRIES): PowerEntry[] {
  let raw: unknown
  try { raw = dagCbor.decode(bytes) } catch (e) { throw new CertificateError('MALFORMED', undefined, `power table is not CBOR: ${(e as Error).message}`) }
  if (!Array.isArray(raw)) throw new CertificateError('MALFORMED', undefined, 'power table is not a CBOR array')
  if (raw.length > maxEntries) throw new CertificateError('OVERSIZED', undefined, `power table has ${raw.length} entries, more than ${maxEntries}`)
  return raw.map((e, i) => decodePowerEntry(e, i))
}

function decodePowerEntry (e: unknown, i: number): PowerEntry {
  if (!Array.isArray(e) || e.length !== 3) throw new CertificateError('MALFORMED', undefined, `power entry ${i} is not [ID, Power, PubKey]`)
  const [id, power, pubKey] = e as unknown[]
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) throw new CertificateError('MALFORMED', undefined, `power entry ${i} has no actor ID`)
  if (!(power instanceof Uint8Array) || !(pubKey instanceof Uint8Array)) throw new CertificateError('MALFORMED', undefined, `power entry ${i} has a power or key that is not bytes`)
  if (pubKey.length > MAX_PUBKEY_BYTES) throw new CertificateError('OVERSIZED', undefined, `power entry ${i} has a ${pubKey.length}-byte key`)
  return { id, power: decodeBigIntOrThrow(power, `power entry ${i}`), pubKey }
}

export function decodeBigIntOrThrow (bytes: Uint8Array, what: string, instance?: number): bigint {
  try { return decodeBigInt(bytes) } catch (e) { throw new CertificateError('MALFORMED', instance, `${what}: ${(e as Error).message}`) }
}

/** go-f3's MakePowerTableCID: the table as it is, not re-sorted or checked. */
export function powerTableCid (entries: readonly PowerEntry[]): CID {
  return chainCid(encodePowerTable(entries))
}

export interface ScaledPowerTable {
  readonly scaled: readonly number[]
  readonly total: number
}

/** go-f3's PowerEntries.Scaled: every entry's share of 0xffff, rounded down; a non-positive power is refused. */
export function scalePowerTable (entries: readonly PowerEntry[]): ScaledPowerTable {
  let unscaled = 0n
  for (const e of entries) {
    if (e.power <= 0n) throw new CertificateError('BAD_POWER_DELTA', undefined, `participant ${e.id} has non-positive power ${e.power}`)
    unscaled += e.power
  }
  const scaled = entries.map(e => Number((BigInt(MAX_SCALED_POWER) * e.power) / unscaled))
  return { scaled, total: scaled.reduce((a, b) => a + b, 0) }
}

/** go-f3's IsStrongQuorum: part ≥ ⌈2·whole/3⌉. */
export function isStrongQuorum (part: number, whole: number): boolean {
  return part >= Math.ceil((2 * whole) / 3)
}

/**
 * go-f3's ApplyPowerTableDiffs: deltas sorted by participant, none empty, a key never "changed" to
 * itself, a new participant with a key and positive power, no key for one left with none; power 0
 * leaves the table. The result is sorted by power descending, then ID.
 */
export function applyPowerTableDelta (table: readonly PowerEntry[], delta: readonly PowerTableDelta[], instance?: number): readonly PowerEntry[] {
  // most instances change nothing: the same (already sorted) table, so what is derived from it is derived once
  if (delta.length === 0 && isSorted(table)) return table
  const byId = new Map<number, PowerEntry>(table.map(e => [e.id, e]))
  const bad = (reason: string): CertificateError => new CertificateError('BAD_POWER_DELTA', instance, reason)
  let last = -1
  for (const [i, d] of delta.entries()) {
    if (i > 0 && d.participantId <= last) throw bad('power-table delta is not sorted by participant ID')
    if (d.powerDelta === 0n && d.signingKey.length === 0) throw bad(`power-table delta has an empty change for participant ${d.participantId}`)
    last = d.participantId
    const old = byId.get(d.participantId)
    let next: PowerEntry
    if (old !== undefined) {
      if (bytesEqual(d.signingKey, old.pubKey)) throw bad(`power-table delta "changes" participant ${old.id}'s key to the same key`)
      const power = old.power + d.powerDelta
      if (d.signingKey.length > 0 && power === 0n) throw bad(`power-table delta removes all of participant ${old.id}'s power while giving it a new key`)
      next = { id: old.id, power, pubKey: d.signingKey.length > 0 ? d.signingKey : old.pubKey }
    } else {
      if (d.powerDelta <= 0n) throw bad(`power-table delta adds participant ${d.participantId} with non-positive power`)
      if (d.signingKey.length === 0) throw bad(`power-table delta adds participant ${d.participantId} without a signing key`)
      next = { id: d.participantId, power: d.powerDelta, pubKey: d.signingKey }
    }
    if (next.power === 0n) byId.delete(next.id)
    else if (next.power > 0n) byId.set(next.id, next)
    else throw bad(`power-table delta leaves participant ${next.id} with negative power`)
  }
  return sortPowerTable([...byId.values()])
}

function isSorted (table: readonly PowerEntry[]): boolean {
  for (let i = 1; i < table.length; i++) if (comparePowerEntries(table[i - 1]!, table[i]!) >= 0) return false
  return true
}

/** go-f3's MakePowerTableDiff: what turns `before` into `after`, sorted by participant ID. */
export function makePowerTableDelta (before: readonly PowerEntry[], after: readonly PowerEntry[]): PowerTableDelta[] {
  const old = new Map<number, PowerEntry>(before.map(e => [e.id, e]))
  const out: PowerTableDelta[] = []
  for (const e of after) {
    const o = old.get(e.id)
    if (o !== undefined) {
      old.delete(e.id)
      const d = { participantId: e.id, powerDelta: e.power - o.power, signingKey: bytesEqual(e.pubKey, o.pubKey) ? new Uint8Array(0) : e.pubKey }
      if (d.powerDelta !== 0n || d.signingKey.length > 0) out.push(d)
    } else {
      out.push({ participantId: e.id, powerDelta: e.power, signingKey: e.pubKey })
    }
  }
  for (const o of old.values()) out.push({ participantId: o.id, powerDelta: -o.power, signingKey: new Uint8Array(0) })
  return out.sort((a, b) => a.participantId - b.participantId)
}
