// go-f3's certificate exchange (certexchange/protocol.go, server.go, client.go) on libp2p:
// `/f3/certexch/get/1/<network>`. The asker writes one CBOR Request [FirstInstance, Limit,
// IncludePowerTable] and closes its side; the server answers a ResponseHeader [PendingInstance,
// PowerTable] then up to 256 FinalityCertificates back to back, and closes. The same bytes as go-f3's,
// so a Lotus node could ask a Coffer node and the other way round. Every full node and provider serves it.
import type { Dialer } from './dialer'
import type { Libp2p, PeerId } from '@libp2p/interface'
import * as dagCbor from '@ipld/dag-cbor'
import { decodeFirst } from 'cborg'
import {
  encodeCertificate, certificateFromCbor, encodePowerTable, decodePowerTable, CertificateError, OversizedMessageError, TruncatedMessageError, ranOutOfBytes,
  MAX_CERTIFICATE_BYTES, MAX_POWER_TABLE_ENTRIES,
  type FinalityCertificate, type PowerEntry
} from '../core'
import { serveOneShot, requestOneShot, type OneShotLimits, type OneShotAnswer } from './stream-io'

export const certExchangeProtocol = (network: string): string => `/f3/certexch/get/1/${network}`
/** Coffer's F3 gossip (core/finality/f3-devnet-rules.ts): the providers' votes, and certificates as they are assembled. */
export const f3VotesTopic = (network: string): string => `/coffer/f3/votes/${network}`
export const f3CertificatesTopic = (network: string): string => `/coffer/f3/certificates/${network}`

/** go-f3's server answers at most 256 certificates a request (maxResponseLen). */
export const CERT_EXCHANGE_MAX_RESPONSE = 256
/** A request is three small integers: go-f3 reads it with no limit; this bounds it. */
const MAX_REQUEST_BYTES = 64
/** go-f3's client limits: a power table of 1 MiB, and each certificate too. */
export const MAX_CERT_EXCHANGE_POWER_TABLE_BYTES = 1024 * 1024
/** The most a response may be: its header and 256 certificates of the largest size we take. */
export const MAX_CERT_EXCHANGE_RESPONSE_BYTES = MAX_CERT_EXCHANGE_POWER_TABLE_BYTES + 16 * 1024 * 1024

export interface CertExchangeRequest {
  readonly firstInstance: number
  /** How many certificates; go-f3's NoLimit (2^64 − 1) reads as Infinity. */
  readonly limit: number
  readonly includePowerTable: boolean
}

export interface CertExchangeResponse {
  /** The next instance the server has no certificate for yet (0: none finalized). */
  readonly pendingInstance: number
  /** The table that validates `firstInstance`'s certificate, when asked for and the server has it. */
  readonly powerTable: readonly PowerEntry[] | null
  readonly certificates: readonly FinalityCertificate[]
  /** The response's size as received (bytes), when it came from a peer: what a cold sync's certificates cost. */
  readonly bytes?: number
}

const NO_LIMIT = 2n ** 64n - 1n

export function encodeCertExchangeRequest (r: CertExchangeRequest): Uint8Array {
  return dagCbor.encode([r.firstInstance, r.limit === Infinity ? NO_LIMIT : r.limit, r.includePowerTable])
}

export function decodeCertExchangeRequest (bytes: Uint8Array): CertExchangeRequest {
  let raw: unknown
  try { raw = dagCbor.decode(bytes) } catch (e) { throw new CertificateError('MALFORMED', undefined, `certificate request is not CBOR: ${(e as Error).message}`) }
  if (!Array.isArray(raw) || raw.length !== 3) throw new CertificateError('MALFORMED', undefined, 'certificate request is not [FirstInstance, Limit, IncludePowerTable]')
  const [first, limit, include] = raw as unknown[]
  const int = (v: unknown): number | null => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : typeof v === 'bigint' && v >= 0n ? Infinity : null
  const f = int(first)
  const l = int(limit)
  if (f === null || f === Infinity || l === null || typeof include !== 'boolean') throw new CertificateError('MALFORMED', undefined, 'certificate request fields are not integers and a boolean')
  return { firstInstance: f, limit: l, includePowerTable: include }
}

export function encodeCertExchangeHeader (pendingInstance: number, powerTable: readonly PowerEntry[] | null): Uint8Array {
  // go-f3 writes an empty PowerEntries when none is sent: an empty array
  return dagCbor.encode([pendingInstance, dagCbor.decode(encodePowerTable(powerTable ?? []))])
}

/** A response cut short is a broken link (TruncatedMessageError), not a certificate's fault; other bad bytes are. */
const undecodable = (e: unknown, what: string): Error => ranOutOfBytes(e)
  ? new TruncatedMessageError(`${what} ended too soon: ${(e as Error).message}`)
  : new CertificateError('MALFORMED', undefined, `${what}: ${(e as Error).message}`)

/** Reads a whole response: its header, then certificates until the bytes end. */
export function decodeCertExchangeResponse (bytes: Uint8Array): CertExchangeResponse {
  const options = dagCbor.decodeOptions
  let header: unknown
  let rest: Uint8Array
  try { [header, rest] = decodeFirst(bytes, options) } catch (e) { throw undecodable(e, 'certificate response header') }
  if (!Array.isArray(header) || header.length !== 2 || typeof header[0] !== 'number' || !Array.isArray(header[1])) {
    throw new CertificateError('MALFORMED', undefined, 'certificate response header is not [PendingInstance, PowerTable]')
  }
  if (header[1].length > MAX_POWER_TABLE_ENTRIES) throw new CertificateError('OVERSIZED', undefined, `a power table of ${header[1].length} entries`)
  const table = header[1].length === 0 ? null : decodePowerTable(dagCbor.encode(header[1]))
  const certificates: FinalityCertificate[] = []
  while (rest.length > 0) {
    if (certificates.length >= CERT_EXCHANGE_MAX_RESPONSE) throw new CertificateError('OVERSIZED', undefined, `more than ${CERT_EXCHANGE_MAX_RESPONSE} certificates in one response`)
    let raw: unknown
    const before = rest.length
    try { [raw, rest] = decodeFirst(rest, options) } catch (e) { throw undecodable(e, `certificate ${certificates.length} of the response`) }
    if (before - rest.length > MAX_CERTIFICATE_BYTES) throw new CertificateError('OVERSIZED', undefined, `certificate ${certificates.length} is over ${MAX_CERTIFICATE_BYTES} bytes`)
    certificates.push(certificateFromCbor(raw))
  }
  return { pendingInstance: header[0], powerTable: table, certificates }
}

/** What a server answers from: its latest certificate's successor, the table of an instance, a run of stored certificates. */
export interface CertificateSource {
  pendingInstance: () => number
  /** The power table that validates `instance`'s certificate, or null when this node cannot say. */
  powerTableFor: (instance: number) => Promise<readonly PowerEntry[] | null>
  /** Stored certificates from `first` to `last` inclusive, as their CBOR bytes, stopping at the first missing. */
  certificates: (first: number, last: number) => AsyncIterable<Uint8Array>
}

export const CERT_EXCHANGE_LIMITS: Partial<OneShotLimits> = { maxInboundStreams: 8, maxActive: 16, maxActivePerPeer: 2 }

export async function serveCertExchange (node: Libp2p, network: string, source: CertificateSource, limits: Partial<OneShotLimits> = {}): Promise<void> {
  await serveOneShot(node, certExchangeProtocol(network), MAX_REQUEST_BYTES, async (bytes): Promise<OneShotAnswer> => {
    const req = decodeCertExchangeRequest(bytes)
    const pending = source.pendingInstance()
    const table = req.includePowerTable && pending >= req.firstInstance ? await source.powerTableFor(req.firstInstance) : null
    const header = encodeCertExchangeHeader(pending, table)
    const limit = Math.min(req.limit, CERT_EXCHANGE_MAX_RESPONSE)
    // as go-f3: never past the pending instance the header just named
    const last = Math.min(req.firstInstance + limit - 1, pending - 1)
    return (async function * () {
      yield header
      if (limit > 0 && last >= req.firstInstance) yield * source.certificates(req.firstInstance, last)
    })()
  }, () => new Uint8Array(0), { limits: { ...CERT_EXCHANGE_LIMITS, ...limits } })
}

/** Asks `peer` for certificates; CertificateError for an answer that is not go-f3's shape. */
export async function requestCertificates (node: Dialer, peer: PeerId, network: string, req: CertExchangeRequest, signal?: AbortSignal): Promise<CertExchangeResponse> {
  let bytes: Uint8Array
  try {
    bytes = await requestOneShot(node, peer, certExchangeProtocol(network), encodeCertExchangeRequest(req), MAX_CERT_EXCHANGE_RESPONSE_BYTES, signal)
  } catch (err) {
    // more than any response may be is the peer's doing, not the network's: refused like a bad certificate
    if (err instanceof OversizedMessageError) throw new CertificateError('OVERSIZED', undefined, `a response over ${MAX_CERT_EXCHANGE_RESPONSE_BYTES} bytes`)
    throw err
  }
  return { ...decodeCertExchangeResponse(bytes), bytes: bytes.length }
}

export { encodeCertificate }
