// Runs the light client behind a Port: fetches the bootstrap document (or falls back to the stored one
// when offline) and streams status snapshots back. The worker entry file only calls this.
import { toWireError } from '../core'
import { parseBootstrap, type BootstrapDocument } from '../net'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { startLightClient, STALL_BLOCK_TIMES, type LightClient } from './light-client'
import { startupClock, summarize, readSavedChainStatus } from './starting-status'
import { olderTipSets } from './chain-page'
import { loadSavedBootstrap, saveBootstrap } from './bootstrap-cache'
import { openWalletStore } from './wallet-store'
import { createWalletService, unavailableWallet, type WalletService, type WalletCall } from './wallet-service'
import { describeBlock } from './block-detail'
import { measureSignatures } from './measure'
import { measureCertificateSync } from './measure-f3'
import { createDealService, type DealService } from './deal-service'
import type { Staging } from './staging'
import { createRetrievalService, type RetrievalService } from './retrieval-service'
import type { DownloadFiles } from './download-files'
import { createRangeReader, type RangeReader } from './range-reader'
import { findRetrievalProviders } from './retrieval-providers'
import type { PiecePool } from '../../workers/piece-pool'
import { TRANSPORT_NAMES, type Port, type WorkerHandlers, type TransportName } from './worker-protocol'
import type { RtcPages } from './bridged-rtc'
import { createLightNodeHost, type LightNodeHost, type LightNodeHostInit, type ViewMessage } from './light-node-host'
import type { Dispatch } from './worker-session'

/** What only a browser worker has: the WASM hashing pool (nested workers), OPFS staging and download files. */
export interface WorkerPlatform { pool: () => Promise<PiecePool>, staging: Staging, downloads?: DownloadFiles }

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
function handlersFor (platformIn: ((tab: string) => WorkerPlatform) | undefined, services: () => Promise<{ client: LightClient, wallet: WalletService, deals: DealService | undefined, retrievals: RetrievalService | undefined }>): WorkerHandlers {
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
    reader ??= createRangeReader({
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

/**
 * The light node a worker runs, served to every port that connects (light-node-host.ts): its services start on the
 * first port's `start` and publish their views to all ports.
 */
export function createWorkerNode (
  platform: WorkerPlatform | undefined,
  opts: Pick<LightNodeHostInit, 'stopWithLastPort' | 'watchTab' | 'lend'> & {
    /** A shared node's platform in one tab (it packs that tab's uploads). */
    platformIn?: (tab: string) => WorkerPlatform
    /** The pages that make WebRTC connections for this node (a browser worker's: bridged-rtc.ts); none, no WebRTC. */
    rtcPages?: RtcPages
  }
): LightNodeHost {
  let client: LightClient | undefined
  let wallet: WalletService | undefined
  let deals: DealService | undefined
  let retrievals: RetrievalService | undefined
  let ready: Promise<void> | undefined

  const handlers = handlersFor(opts.platformIn, async () => {
    await ready
    if (client === undefined || wallet === undefined) throw new Error('the light client is not running')
    return { client, wallet, deals, retrievals }
  })
  // one place narrows the wire's method name to its handler: the page was type-checked against the same table
  const dispatch: Dispatch = async (method, params, ctx) => {
    if (!Object.hasOwn(handlers, method)) throw new Error(`the worker has no call named ${String(method)}`)
    return await (handlers[method] as (p: unknown, c: typeof ctx) => Promise<unknown>)(params, ctx)
  }

  const start = async (bootstrapUrl: string, publish: (view: ViewMessage) => void, transports: readonly TransportName[] = TRANSPORT_NAMES): Promise<void> => {
    ready = (async () => {
      const startup = startupClock()
      startup.mark('asked to start')
      const startedAtMs = Date.now()
      // the chain an earlier session verified is shown while the bootstrap document comes (a slow or absent network
      // must not hold a reload's head back); the client's own statuses replace it, and a late one never overwrites theirs
      const privateKey = await generateKeyPair('Ed25519')
      let clientSpoke = false
      void readSavedChainStatus(peerIdFromPrivateKey(privateKey).toString(), (blockMs) => STALL_BLOCK_TIMES * blockMs, startup, startedAtMs)
        .then((status) => { if (status !== null && !clientSpoke) publish({ type: 'status', status }) }, () => {})
      // loaded only where a page can hold the connections (the library is not needed by a node without one), while
      // the bootstrap document comes: a start waits for the slower of the two, not for both in turn
      const withRtc = opts.rtcPages !== undefined
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
      client = await startLightClient({
        startup,
        bootstrap: doc,
        bootstrapSource: source,
        transports: [...(direct ? [webrtc.webRTCDirect()] : []), ...(webrtc !== null && relay !== null ? [webrtc.webRTC(), relay.circuitRelayTransport()] : [])],
        webSockets: transports.includes('websockets'),
        ...(tabToTab ? { listen: ['/p2p-circuit', '/webrtc'], tabPeers: true } : {}),
        privateKey,
        onStatus: (status) => { clientSpoke = true; publish({ type: 'status', status }) }
      })
      const lc = client
      // a wallet that will not open (storage full, a damaged record) must not take header sync down with it
      let storeError: unknown
      const keystore = await openWalletStore().catch((err: unknown) => { storeError = err; return null })
      wallet = keystore === null
        ? unavailableWallet(storeError)
        : await createWalletService({
          client: lc,
          keystore,
          rpcUrl: doc.rpc,
          onChange: (view) => { publish({ type: 'wallet', wallet: view }) }
        }).catch(unavailableWallet)
      publish({ type: 'wallet', wallet: wallet.view() })
      if (keystore !== null && platform !== undefined) {
        const w = wallet
        deals = await createDealService({
          client: lc, wallet: w, keystore, bootstrap: doc, pool: platform.pool, staging: platform.staging,
          onChange: (view) => { publish({ type: 'deals', deals: view }) }
        }).catch((err: unknown) => {
          publish({ type: 'deals', deals: { uploads: [], deals: [], providers: [], providerErrors: [], escrow: null, error: toWireError(err) } })
          return undefined
        })
        if (deals !== undefined) publish({ type: 'deals', deals: deals.view() })
      }
      if (keystore !== null && platform?.downloads !== undefined) {
        const w = wallet
        retrievals = await createRetrievalService({
          client: lc, wallet: w, keystore, bootstrap: doc, files: platform.downloads,
          onChange: (view) => { publish({ type: 'retrievals', retrievals: view }) }
        }).catch((err: unknown) => {
          publish({ type: 'retrievals', retrievals: { downloads: [], channels: [], error: toWireError(err) } })
          return undefined
        })
        if (retrievals !== undefined) publish({ type: 'retrievals', retrievals: retrievals.view() })
      }
    })()
    await ready
  }

  const { platformIn: _, rtcPages, ...hostOpts } = opts
  // a page's connections end with its tab (its lock; a dedicated worker's page takes the worker with it)
  const rtc = rtcPages === undefined ? {} : { rtc: (port: MessagePort, tab?: string) => { const { gone } = rtcPages.add(port); if (tab !== undefined) opts.watchTab?.(tab, gone) } }
  return createLightNodeHost({ ...hostOpts, ...rtc, start, dispatch, stop: async () => { await client?.stop() } })
}

/** A dedicated worker: its page on the worker's own port (whose `stop` stops the node), other tabs' sessions by `connect`. */
export function runLightClient (port: Port, platform?: WorkerPlatform, rtcPages?: RtcPages): void {
  createWorkerNode(platform, { stopWithLastPort: true, ...(rtcPages === undefined ? {} : { rtcPages }) }).connect(port, { owner: true })
}
