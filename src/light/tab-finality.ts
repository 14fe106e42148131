// The light client's F3 wiring (issue 14): the certificate store for this genesis, the finality service asking the
// chain's nodes over go-f3's certificate exchange, header sync held until the first pass over them has said whether
// the tab jumps, and certificate gossip taken as a hint to ask. Only under Expected Consensus with F3 in genesis.
import { peerIdFromString } from '@libp2p/peer-id'
import { EXCHANGE_OPT_HEADERS, type Genesis } from '../core'
import { requestChain, requestCertificates, serveCertExchange, encodeCertificate, f3CertificatesTopic, type CofferLibp2p, type Gossip } from '../net'
import type { EcHeaderSync } from './ec-header-sync'
import type { HeaderStore } from './header-store'
import type { StateClient } from './state-client'
import type { F3CertStore } from './f3-cert-store'
import { startFinality, type FinalityService } from './finality-service'
import { mclBdnVerifier } from '../core/finality/mcl-bls'
import type { SignatureBatchCheck } from './f3-sync'

/** How long header sync waits for the first pass over the nodes' certificates before it goes on without. */
const FIRST_PASS_WAIT_MS = 20_000

export interface TabFinalityInit {
  libp2p: CofferLibp2p
  /** This genesis's certificate store, opened (and closed) by the caller: it shows what the store holds before libp2p starts. */
  certs: F3CertStore
  gossip: Gossip
  genesis: Genesis
  headers: HeaderStore
  sync: EcHeaderSync
  state: StateClient
  /** The chain's nodes to ask, in order. */
  peers: () => string[]
  onRejection: (peer: string, err: Error) => void
  onNetworkError: (peer: string, err: Error) => void
  onChange: () => void
  /** Serve the certificates this tab checked to other tabs. */
  serveCertificates?: boolean
  /** Notes that a step of the first sync ended (the node's startup record). */
  mark?: (phase: string) => void
  /** Other threads that check certificates' signatures beside this one (f3-sync.ts). */
  helpers?: () => SignatureBatchCheck[]
}

export interface TabFinality {
  service: FinalityService
  /** One pass over the nodes (the first also lets header sync go on); errors go to onNetworkError's caller. */
  syncNow: () => Promise<void>
  close: () => void
}

export async function startTabFinality (init: TabFinalityInit): Promise<TabFinality> {
  const { libp2p, genesis, sync, certs } = init
  const service = startFinality({
    genesis,
    headers: init.headers,
    certs,
    sync,
    peers: init.peers,
    fetchCertificates: async (peer, req) => await requestCertificates(libp2p, peerIdFromString(peer), genesis.state.network, req, AbortSignal.timeout(30_000)),
    fetchChain: async (peer, key, length) => await requestChain(libp2p, peerIdFromString(peer), { head: key, length, options: EXCHANGE_OPT_HEADERS }),
    initialPowerTable: async () => (await init.state.f3PowerTable(genesis.header)).value,
    // mcl-wasm where it loads (a certificate in ~4 ms batched, not noble's ~20–30); noble's if it does not
    verifier: mclBdnVerifier,
    onRejection: init.onRejection,
    onNetworkError: init.onNetworkError,
    onChange: init.onChange,
    ...(init.mark === undefined ? {} : { mark: init.mark }),
    ...(init.helpers === undefined ? {} : { helpers: init.helpers })
  })
  // the live status never shows less than the stored one the worker showed first (starting-status.ts)
  await service.loaded.catch(() => {})
  // a new tab (or one long closed) asks for certificates before it checks blocks from where it stands: the first
  // pass decides whether it jumps; header sync waits for it (at most FIRST_PASS_WAIT_MS, should no node answer)
  sync.pause()
  let resumed = false
  const resume = (): void => { if (!resumed) { resumed = true; sync.resume() } }
  const hold = setTimeout(resume, FIRST_PASS_WAIT_MS) as unknown as { unref?: () => void }
  hold.unref?.() // a stopped client (a test's) must not keep Node alive for it
  const certTopic = f3CertificatesTopic(genesis.state.network)
  // taken as a hint to ask the nodes (the exchange checks and stores it); like blocks, the tab relays none
  init.gossip.listen(certTopic, (m) => { service.offerCertificate(m.data); return { verdict: 'ignore' } })
  // other tabs may ask this one for the certificates it checked (issue 15 part 2), in go-f3's exchange as a node serves them
  if (init.serveCertificates === true) {
    await serveCertExchange(libp2p, genesis.state.network, {
      pendingInstance: () => service.status().instance + 1,
      powerTableFor: async (instance) => { const st = await certs.state(); return st !== null && st.nextInstance === instance ? st.powerTable : null },
      certificates: async function * (first, last) {
        for (let i = first; i <= last; i++) {
          const c = await certs.certificate(i)
          if (c === null) return
          yield encodeCertificate(c)
        }
      }
    })
  }
  return {
    service,
    syncNow: async () => { try { await service.syncNow() } finally { resume() } },
    close: () => { clearTimeout(hold as unknown as ReturnType<typeof setTimeout>) }
  }
}
