// A storage provider's services on a libp2p node and a chain it is handed: the HTTP gateway, the ask, deal,
// staging, retrieval and audit protocols, the proving loop and the voucher-redeeming loop. The devnet runs
// these on a node of their own next to its chain (devnet-providers.ts); a provider process runs them on its
// full node (provider-process.ts). Who owns the libp2p node stops it: `stop` here leaves it running.
import { addressToString, idAddressBytes } from '../../core'
import { serveAsk, serveDeals, serveRetrievals, serveStaging, type CofferLibp2p } from '../../net'
import type { ProviderKeys } from './provider-keys'
import { ProviderStore } from './provider-store'
import { StorageProvider, type ProviderChain, type ProviderAskInit, type ProviderLimits } from './storage-provider'
import { RetrievalServer } from './retrieval-server'
import { startHttpGateway, type HttpGateway } from './http-gateway'
import { serveProviderAudits } from './audit-server'
import { sharedNodePiecePool } from '../piece-pool-node'

/** What a test (or an operator) changes of a provider: its ask, its limits, its gateway port, its clock. */
export interface ProviderServiceOptions {
  ask?: Partial<ProviderAskInit>
  limits?: Partial<ProviderLimits>
  /**
   * How long its deal and stage servers wait with no byte arriving; DEAL_IDLE_TIMEOUT_MS (30 s) when left out.
   * A test of behaviour at the idle timeout sets a few seconds instead of waiting out the 30.
   */
  idleTimeoutMs?: number
  /** The port its HTTP gateway binds on the provider's host; 0 (any free port) when left out. */
  gatewayPort?: number
  /** The provider's clock for idle expiry (stages, staging); Date.now when left out. A test moves it on instead of waiting. */
  nowMs?: () => number
  /** False while the provider takes no new deals (StorageProviderInit.acceptingDeals). */
  acceptingDeals?: () => boolean
}

export interface ProviderServicesInit {
  libp2p: CofferLibp2p
  chain: ProviderChain
  keys: ProviderKeys
  /** The miner actor's ID (1001 for t01001). */
  minerId: number
  /** The provider's folder: its deal index, staging and pieces. */
  dir: string
  /** Where its HTTP gateway binds. */
  host: string
  /** Its ask, less the gateway URL (learnt once the gateway listens). */
  ask: ProviderAskInit
  options?: ProviderServiceOptions
  log: (line: string) => void
}

export interface ProviderServices {
  provider: StorageProvider
  /** Serves `/coffer/retrieval/1.0.0` and redeems the vouchers it is paid with. */
  retrieval: RetrievalServer
  libp2p: CofferLibp2p
  /** Its HTTP gateway (IPFS Trustless Gateway and FRC-0066 piece gateway); its URL is in the provider's ask. */
  gateway: HttpGateway
  keys: ProviderKeys
  /** t01001 … */
  address: string
  /** Stops the gateway, the retrieval server and the provider's loops; not the libp2p node. */
  stop: () => Promise<void>
}

export async function startProviderServices (init: ProviderServicesInit): Promise<ProviderServices> {
  const { libp2p, options, log } = init
  const address = idAddressBytes(init.minerId)
  // the gateway listens first: its URL goes into the ask the provider signs
  const gateway = await startHttpGateway({ host: init.host, port: options?.gatewayPort ?? 0, log })
  let provider: StorageProvider | undefined
  let retrieval: RetrievalServer | undefined
  const stop = async (): Promise<void> => {
    await gateway.stop()
    await retrieval?.stop()
    await provider?.stop()
  }
  try {
    const p = provider = new StorageProvider({
      id: init.minerId, store: await ProviderStore.open(init.dir), workerKey: init.keys.worker, chain: init.chain,
      ask: { ...init.ask, gatewayUrl: gateway.url, ...options?.ask }, limits: options?.limits, log,
      ...(options?.nowMs === undefined ? {} : { nowMs: options.nowMs }),
      ...(options?.acceptingDeals === undefined ? {} : { acceptingDeals: options.acceptingDeals })
    })
    await serveAsk(libp2p, async () => await p.ask())
    const idle = options?.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: options.idleTimeoutMs }
    await serveDeals(libp2p, p, { log, rateFloor: p.limits.rateFloor, ...idle })
    await serveStaging(libp2p, p.prestage, { log, rateFloor: p.limits.rateFloor, ...idle })
    const r = retrieval = await RetrievalServer.open({ provider: p, log })
    await serveRetrievals(libp2p, r, { log })
    await serveProviderAudits(libp2p, { store: p.store, log })
    gateway.attach({
      store: p.store, payloads: r.payloads, retrievalTerms: () => p.retrievalTerms(), miner: addressToString(address), worker: addressToString(p.worker),
      payUpfront: async (voucher, price, bytes) => await r.payUpfront(voucher, price, bytes)
    })
    p.start()
    r.start()
    // a provider's transfers are hashed on the process's piece pool, whose threads each load tsx and the WASM
    // module when it starts (1.9 s of CPU, 1 s of wall time here, measured): started now, not while the first
    // upload's bytes arrive (the upload-browser bench's 256 MiB stage paid it then, some 7 ms of CPU per MiB)
    void sharedNodePiecePool().catch(() => {})
    return { provider: p, retrieval: r, libp2p, gateway, keys: init.keys, address: addressToString(address), stop }
  } catch (err) {
    await stop().catch(() => {})
    throw err
  }
}
