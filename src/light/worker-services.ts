// The light node's services, loaded by the worker after its first status (run-worker.ts): the bootstrap document, the
// light client with its transports, the wallet, deals and downloads, and the handler table that answers the page.
// Everything heavy (libp2p, the BLS and WASM libraries) is reached from here, so the worker's entry stays small
// and a reload shows the stored chain before this chunk has even loaded.
import { toWireError } from '../core'
import { parseBootstrap, type BootstrapDocument } from '../net'
import type { PrivateKey } from '@libp2p/interface'
import { startLightClient, type LightClient } from './light-client'
import { summarize, type StartupClock } from './starting-status'
import { olderTipSets } from './chain-page'
import { loadSavedBootstrap, saveBootstrap } from './bootstrap-cache'
import { openWalletStore } from './wallet-store'
import { createWalletService, unavailableWallet, type WalletService, type WalletCall } from './wallet-service'
import { describeBlock } from './block-detail'
import { measureSignatures } from './measure'
import { measureCertificateSync } from './measure-f3'
import { createDealService, type DealService } from './deal-service'
import { createRetrievalService, type RetrievalService } from './retrieval-service'
import { createRangeReader, type RangeReader } from './range-reader'
import { findRetrievalProviders } from './retrieval-providers'
import { wasmBlockHash, webCryptoBlockHash } from './block-hash'
import type { WorkerHandlers, TransportName } from './worker-protocol'
import type { ViewMessage } from './light-node-host'
import type { WorkerPlatform } from './run-worker'

export interface NodeServices { client: LightClient, wallet: WalletService, deals: DealService | undefined, retrievals: RetrievalService | undefined }

export interface StartServicesInit {
  bootstrapUrl: string
  transports: readonly TransportName[]
  /** Whether pages can hold WebRTC connections for this node (bridged-rtc.ts). */
  withRtc: boolean
  platform: WorkerPlatform | undefined
  privateKey: PrivateKey
  startup: StartupClock
  publish: (view: ViewMessage) => void
  /** Called at the light client's first status (the worker's stored one must not come after it). */
  onClientStatus: () => void
}

async function loadBootstrap (url: string): Promise<{ doc: BootstrapDocument, source: 'network' | 'stored' }> {
  try {
    const res = await fetch(url, { cache: 'no-store', signal: AbortSignal.timeout(5_000) })
    if (!res.ok) throw new Error(`HTTP ${res.status}`)
    const doc = parseBootstrap(await res.json())
    await saveBootstrap(doc)
    return { doc, source: 'network' }
  } catch (err) {
    const saved = await loadSavedBootstrap()
    if (saved === undefined) throw new Error(`cannot load ${url} (${(err as Error).message}) and no chain is stored yet`)
    return { doc: parseBootstrap(saved), source: 'stored' }
  }
}

/** The handler table: each declared call, answered once the light client (and its wallet and deals) runs. */
export function handlersFor (platformIn: ((tab: string) => WorkerPlatform) | undefined, services: () => Promise<NodeServices>): WorkerHandlers {
  const wallet = async <T>(c: WalletCall): Promise<T> => { const s = await services(); return await s.wallet.call(c) as T }
  const deals = async (): Promise<DealService> => {
    const s = await services()
    if (s.deals === undefined) throw new Error('storage is not available here (no wallet or no browser storage)')
    return s.deals
  }
  const retrievals = async (): Promise<RetrievalService> => {
    const s = await services()
    if (s.retrievals === undefined) throw new Error('downloads are not available here (no wallet store or no browser storage)')
    return s.retrievals
  }
  // previews read through the downloads' providers finder and payment-channel client: one reader (and cache) per worker
  let reader: RangeReader | undefined
  const ranges = async (): Promise<RangeReader> => {
    const r = await retrievals()
    const hash = await wasmBlockHash()
    const hashAsync = webCryptoBlockHash()
    reader ??= createRangeReader({
      ...(hash === undefined ? {} : { hash }),
      ...(hashAsync === undefined ? {} : { hashAsync }),
      libp2p: (await services()).client.dialer,
      find: async (root, dealIds, signal) => await findRetrievalProviders(r.finder, root, dealIds, signal),
      payer: r.payer
    })
    return reader
  }
  return {
    create: async (p) => await wallet({ method: 'create', ...p }),
    import: async (p) => await wallet({ method: 'import', ...p }),
    unlock: async (p) => await wallet({ method: 'unlock', ...p }),
    lock: async () => await wallet({ method: 'lock' }),
    export: async (p) => await wallet({ method: 'export', ...p }),
    watch: async (p) => await wallet({ method: 'watch', ...p }),
    faucet: async (p) => await wallet({ method: 'faucet', ...p }),
    send: async (p) => await wallet({ method: 'send', ...p }),
    // measuring needs no chain: it answers before the light client has started
    measureSignatures: async (p) => measureSignatures(Math.min(Math.max(1, p.count), 10_000)),
    measureCertificateSync: async (p) => await measureCertificateSync(p),
    blockDetail: async (p) => await describeBlock((await services()).client, p.cid),
    olderTipSets: async (p) => {
      const { client } = await services()
      const page = await olderTipSets(client.store, client.backfill, p.below, Math.min(Math.max(1, p.count), 200))
      return { headers: page.blocks.map(summarize), fetched: page.fetched, reachedGenesis: page.reachedGenesis }
    },
    upload: async (p, ctx) => await (await deals()).upload(p, ctx.tab === undefined ? undefined : platformIn?.(ctx.tab)),
    providers: async () => await (await deals()).refreshProviders(),
    withdrawEscrow: async () => await (await deals()).withdrawEscrow(),
    proofDetail: async (p) => await (await deals()).proofDetail(p.dealId, p.period),
    auditNow: async (p) => await (await deals()).auditNow(p.dealId),
    setAuditSchedule: async (p) => { await (await deals()).setAuditSchedule(p.minutes); return null },
    quoteDownload: async (p, ctx) => await (await retrievals()).quote(p, ctx.signal, ctx.progress),
    download: async (p) => await (await retrievals()).download(p),
    pauseDownload: async (p) => { await (await retrievals()).pause(p.id); return null },
    resumeDownload: async (p) => { await (await retrievals()).resume(p.id); return null },
    cancelDownload: async (p) => { await (await retrievals()).cancel(p.id); return null },
    downloadedFile: async (p) => await (await retrievals()).downloadedFile(p.id),
    downloadHandle: async (p) => await (await retrievals()).handle(p.id),
    channels: async () => await (await retrievals()).channels(),
    settleChannel: async (p) => await (await retrievals()).settle(p.channel),
    collectChannel: async (p) => await (await retrievals()).collect(p.channel),
    openPreview: async (p, ctx) => await (await ranges()).open(p, p.maxPaid === undefined ? {} : { maxPaid: BigInt(p.maxPaid) }, ctx.signal),
    readRange: async (p, ctx) => await (await ranges()).read(p.session, p.from, p.to, ctx.signal),
    closePreview: async (p) => { (await ranges()).close(p.session); return null }
  }
}

/** Starts the light client and the services on it, publishing their views as they change. */
export async function startServices (init: StartServicesInit): Promise<NodeServices> {
  const { bootstrapUrl, transports, platform, privateKey, startup, publish } = init
  // loaded only where a page can hold the connections (the library is not needed by a node without one), while
  // the bootstrap document comes: a start waits for the slower of the two, not for both in turn
  const { withRtc } = init
  // other tabs: reached through a node's circuit relay, then directly over WebRTC (tab-peers.ts)
  const tabToTab = withRtc && transports.includes('webrtc')
  const webrtcLoad = withRtc ? import('@libp2p/webrtc') : Promise.resolve(null)
  const relayLoad = tabToTab ? import('@libp2p/circuit-relay-v2') : Promise.resolve(null)
  // (a failed bootstrap ends the start; the loads' own failures are then nobody's)
  webrtcLoad.catch(() => {}); relayLoad.catch(() => {})
  const { doc, source } = await loadBootstrap(bootstrapUrl)
  startup.mark('bootstrap loaded')
  const webrtc = await webrtcLoad
  const relay = await relayLoad
  const direct = webrtc !== null && transports.includes('webrtc-direct')
  startup.mark('transports loaded')
  const client = await startLightClient({
    startup,
    bootstrap: doc,
    bootstrapSource: source,
    transports: [...(direct ? [webrtc.webRTCDirect()] : []), ...(webrtc !== null && relay !== null ? [webrtc.webRTC(), relay.circuitRelayTransport()] : [])],
    webSockets: transports.includes('websockets'),
    ...(tabToTab ? { listen: ['/p2p-circuit', '/webrtc'], tabPeers: true } : {}),
    privateKey,
    ...(platform?.certificateHelpers === undefined ? {} : { certificateHelpers: platform.certificateHelpers }),
    onStatus: (status) => { init.onClientStatus(); publish({ type: 'status', status }) }
  })
  // a wallet that will not open (storage full, a damaged record) must not take header sync down with it
  let storeError: unknown
  const keystore = await openWalletStore().catch((err: unknown) => { storeError = err; return null })
  const wallet: WalletService = keystore === null
    ? unavailableWallet(storeError)
    : await createWalletService({
      client,
      keystore,
      rpcUrl: doc.rpc,
      onChange: (view) => { publish({ type: 'wallet', wallet: view }) }
    }).catch(unavailableWallet)
  publish({ type: 'wallet', wallet: wallet.view() })
  let deals: DealService | undefined
  if (keystore !== null && platform !== undefined) {
    const w = wallet
    deals = await createDealService({
      client, wallet: w, keystore, bootstrap: doc, pool: platform.pool, staging: platform.staging, ...(platform.packSink === undefined ? {} : { packSink: platform.packSink }),
      onChange: (view) => { publish({ type: 'deals', deals: view }) }
    }).catch((err: unknown) => {
      publish({ type: 'deals', deals: { uploads: [], deals: [], providers: [], providerErrors: [], escrow: null, error: toWireError(err) } })
      return undefined
    })
    if (deals !== undefined) publish({ type: 'deals', deals: deals.view() })
  }
  let retrievals: RetrievalService | undefined
  if (keystore !== null && platform?.downloads !== undefined) {
    const w = wallet
    const hash = await wasmBlockHash()
    const hashAsync = webCryptoBlockHash()
    retrievals = await createRetrievalService({
      client, wallet: w, keystore, bootstrap: doc, files: platform.downloads, ...(hash === undefined ? {} : { hash }), ...(hashAsync === undefined ? {} : { hashAsync }),
      onChange: (view) => { publish({ type: 'retrievals', retrievals: view }) }
    }).catch((err: unknown) => {
      publish({ type: 'retrievals', retrievals: { downloads: [], channels: [], error: toWireError(err) } })
      return undefined
    })
    if (retrievals !== undefined) publish({ type: 'retrievals', retrievals: retrievals.view() })
  }
  return { client, wallet, deals, retrievals }
}
