// Where a chain of F3 certificates stands (FinalityState), and its bytes as a node or a tab keeps them between runs.
// Apart from validate-certificates.ts (which brings the BLS verifier) so a store can read it without the checks.
import * as dagCbor from '@ipld/dag-cbor'
import { decodeF3TipSet, encodeF3TipSetFields, type F3TipSet } from './ec-chain'
import { CertificateError } from './finality-errors'
import { decodePowerTable, encodePowerTable, type PowerEntry } from './power-table'

/** Where a certificate chain stands: what the next certificate must be and the table that validates it. */
export interface FinalityState {
  /** The network name signed into every payload (go-f3's NetworkName). */
  readonly network: string
  readonly nextInstance: number
  readonly powerTable: readonly PowerEntry[]
  /** The tipset the last accepted certificate finalized: the next one's chain must start there. None before the first. */
  readonly finalized?: F3TipSet
}

/** A FinalityState as bytes (what a node or a tab keeps between runs): [network, next instance, finalized tipset or null, power table]. */
export function encodeFinalityState (s: FinalityState): Uint8Array {
  return dagCbor.encode([s.network, s.nextInstance, s.finalized === undefined ? null : encodeF3TipSetFields(s.finalized), dagCbor.decode(encodePowerTable(s.powerTable))])
}

export function decodeFinalityState (bytes: Uint8Array): FinalityState {
  let raw: unknown
  try { raw = dagCbor.decode(bytes) } catch (e) { throw new CertificateError('MALFORMED', undefined, `finality state: ${(e as Error).message}`) }
  if (!Array.isArray(raw) || raw.length !== 4 || typeof raw[0] !== 'string' || typeof raw[1] !== 'number') throw new CertificateError('MALFORMED', undefined, 'finality state is not [network, next, finalized, table]')
  const [network, next, finalized, table] = raw as [string, number, unknown, unknown]
  return { network, nextInstance: next, powerTable: decodePowerTable(dagCbor.encode(table)), ...(finalized === null ? {} : { finalized: decodeF3TipSet(finalized) }) }
}
