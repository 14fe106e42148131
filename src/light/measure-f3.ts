// The tab's certificate sync timed where it runs, in the light-client worker (`npm run bench`, section f3-browser):
// F3Sync itself — go-f3's exchange responses decoded, each batch checked by the WASM verifier, every accepted run
// written to IndexedDB with its state — over a chain of responses the bench hands in as bytes (the network is the one
// part left out: the bench's other sections time libp2p). Noble's one-at-a-time rate on a sample is the reference.
import { decodePowerTable, unsealHeader, validateFinalityCertificates, NobleBdnVerifier } from '../core'
import { decodeCertExchangeResponse } from '../net'
import { F3Sync } from './f3-sync'
import { openF3CertStore, f3DbName } from './f3-cert-store'
import { mclBdnVerifier } from '../core/finality/mcl-bls'

export interface CertificateSyncRequest {
  network: string
  /** The genesis header the chain starts from (its CID is the first certificate's base). */
  genesis: Uint8Array
  /** The first power table, as go-f3's CBOR. */
  powerTable: Uint8Array
  /** Certificate exchange responses (header and certificates, as served), in order, 256 certificates each. */
  responses: Uint8Array[]
  /** Certificates checked one at a time by noble for the reference rate. */
  nobleSample: number
}

export interface CertificateSyncFigures {
  certificates: number
  bytes: number
  /** mcl-wasm's first load and set-up in this worker. */
  loadMs: number
  /** F3Sync.sync() from an empty store to the last certificate, stored. */
  syncMs: number
  verifier: string
  nobleMsPerCertificate: number
}

export async function measureCertificateSync (r: CertificateSyncRequest): Promise<CertificateSyncFigures> {
  const genesis = unsealHeader(r.genesis)
  const table = decodePowerTable(r.powerTable)
  const name = `bench-${genesis.cid.toString()}-${Date.now()}`
  const store = await openF3CertStore(name)
  let t = performance.now()
  const verifier = await mclBdnVerifier()
  const loadMs = performance.now() - t
  const sync = new F3Sync({
    network: r.network,
    genesis,
    store,
    peers: () => ['bench'],
    // each response decoded here, as requestCertificates decodes what the node sent
    fetchCertificates: async (_peer, req) => decodeCertExchangeResponse(r.responses[Math.floor(req.firstInstance / 256)] ?? r.responses.at(-1)!),
    initialPowerTable: async () => table,
    onRejection: (_p, err) => { throw err },
    onNetworkError: (_p, err) => { throw err },
    onChange: () => {},
    verifier: async () => verifier
  })
  t = performance.now()
  await sync.sync()
  const syncMs = performance.now() - t
  const certificates = sync.state?.nextInstance ?? 0
  store.close()
  indexedDB.deleteDatabase(f3DbName(name))
  // the reference: noble one at a time on the first certificates
  const sample = r.responses.length === 0 ? [] : decodeCertExchangeResponse(r.responses[0]!).certificates.slice(0, r.nobleSample)
  const base = sample[0]?.ecChain[0]
  t = performance.now()
  if (base !== undefined) validateFinalityCertificates({ network: r.network, nextInstance: 0, powerTable: table, finalized: base }, sample, { verifier: new NobleBdnVerifier() })
  const nobleMs = sample.length === 0 ? 0 : (performance.now() - t) / sample.length
  return { certificates, bytes: r.responses.reduce((n, b) => n + b.length, 0), loadMs, syncMs, verifier: sync.verifierName ?? 'none', nobleMsPerCertificate: nobleMs }
}
