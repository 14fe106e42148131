// Runs the light node behind a Port, in two halves: this one (small, in the worker's entry chunk) answers the first
// `start` with the chain stored by an earlier session, while the other (worker-services.ts: libp2p, the light client,
// wallet, deals, downloads) loads as its own chunk and then fetches the bootstrap document (or falls back to the
// stored one when offline) and streams status snapshots back. The worker entry file only calls this.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { startupClock, readSavedChainStatus } from './starting-status'
import type { Staging } from './staging'
import type { PackingPlatform } from './pack-piece'
import type { DownloadFiles } from './download-files'
import type { PiecePool } from '../../workers/piece-pool'
import { TRANSPORT_NAMES, type Port, type WorkerHandlers, type TransportName } from './worker-protocol'
import type { RtcPages } from './bridged-rtc'
import { createLightNodeHost, type LightNodeHost, type LightNodeHostInit, type ViewMessage } from './light-node-host'
import type { Dispatch } from './worker-session'
import type { NodeServices } from './worker-services'
import type { SignatureBatchCheck } from './f3-sync'

/** What only a browser worker has: the WASM hashing pool (nested workers), OPFS staging and download files. */
export interface WorkerPlatform {
  pool: () => Promise<PiecePool>
  staging: Staging
  /** Its own pack sink (a shared node's, made in a tab: see PackingPlatform); without one, staging and pool are composed. */
  packSink?: PackingPlatform['packSink']
  downloads?: DownloadFiles
  /** Threads that check F3 certificates' signatures beside the node's own (a shared node's: its tabs' workers). */
  certificateHelpers?: () => SignatureBatchCheck[]
}

const loadServices = async (): Promise<typeof import('./worker-services')> => await import('./worker-services')
/** When this chunk ran, on the worker's clock: a start's record says how much of it was the worker's script arriving. */
const scriptRanAtMs = typeof performance === 'undefined' ? undefined : performance.now()

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
  let services: NodeServices | undefined
  let ready: Promise<void> | undefined
  // the heavy half (libp2p, the light client, wallet, deals): its chunk starts loading with the worker, beside the
  // stored status that needs none of it
  const heavy = loadServices()
  heavy.catch(() => {}) // (a chunk that will not load is said by the start and by each call that needs it)
  let handlers: WorkerHandlers | undefined
  // one place narrows the wire's method name to its handler: the page was type-checked against the same table
  const dispatch: Dispatch = async (method, params, ctx) => {
    handlers ??= (await heavy).handlersFor(opts.platformIn, async () => {
      await ready
      if (services === undefined) throw new Error('the light client is not running')
      return services
    })
    if (!Object.hasOwn(handlers, method)) throw new Error(`the worker has no call named ${String(method)}`)
    return await (handlers[method] as (p: unknown, c: typeof ctx) => Promise<unknown>)(params, ctx)
  }

  const start = async (bootstrapUrl: string, publish: (view: ViewMessage) => void, transports: readonly TransportName[] = TRANSPORT_NAMES): Promise<void> => {
    ready = (async () => {
      const startup = startupClock()
      if (scriptRanAtMs !== undefined) startup.mark('worker script ran', scriptRanAtMs)
      startup.mark('asked to start')
      const startedAtMs = Date.now()
      // the chain an earlier session verified is shown while the rest loads and the bootstrap document comes (a slow
      // or absent network must not hold a reload's head back); the client's own statuses replace it, and a late one
      // never overwrites theirs
      // (the session's key and the stores are read side by side: the status names the peer ID it will have)
      const keyMade = generateKeyPair('Ed25519')
      let clientSpoke = false
      void Promise.all([keyMade, readSavedChainStatus('', startup, startedAtMs)])
        .then(([key, status]) => { if (status !== null && !clientSpoke) publish({ type: 'status', status: { ...status, peerId: peerIdFromPrivateKey(key).toString() } }) }, () => {})
      const privateKey = await keyMade
      const m = await heavy
      startup.mark('services loaded')
      services = await m.startServices({
        bootstrapUrl, transports, withRtc: opts.rtcPages !== undefined, platform, privateKey, startup, publish, onClientStatus: () => { clientSpoke = true }
      })
    })()
    await ready
  }

  const { platformIn: _, rtcPages, ...hostOpts } = opts
  // a page's connections end with its tab (its lock; a dedicated worker's page takes the worker with it)
  const rtc = rtcPages === undefined ? {} : { rtc: (port: MessagePort, tab?: string) => { const { gone } = rtcPages.add(port); if (tab !== undefined) opts.watchTab?.(tab, gone) } }
  return createLightNodeHost({ ...hostOpts, ...rtc, start, dispatch, stop: async () => { await services?.client.stop() } })
}

/** A dedicated worker: its page on the worker's own port (whose `stop` stops the node), other tabs' sessions by `connect`. */
export function runLightClient (port: Port, platform?: WorkerPlatform, rtcPages?: RtcPages): void {
  createWorkerNode(platform, { stopWithLastPort: true, ...(rtcPages === undefined ? {} : { rtcPages }) }).connect(port, { owner: true })
}
