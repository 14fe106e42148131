// The one typed interface between the page and the light-client worker. Every call is declared once in
// WorkerMethods (its params, its result and, for long ones, its progress events); the page's `call` and the
// worker's handler table are both checked against it, so neither side casts. A call can be cancelled: the
// page sends `cancel` with its id and the worker aborts the handler's signal. Errors cross as WireError
// (structured clone would drop their names).
import type { WireError } from '../core'
import type { LightClientStatus } from './status'
import type { WalletView, KeyType } from './wallet-service'
import type { BlockDetail } from './block-detail'
import type { HeaderSummary } from './status'
import type { CertificateSyncRequest, CertificateSyncFigures } from './measure-f3'
import type { SignatureFigures } from './measure'
import type { AuditRecord } from './audit-store'
import type { DealsView, ProviderView, ProofDetail, UploadRequest } from './deal-service'
import type { RetrievalsView, DownloadQuoteRequest, DownloadQuote, QuoteProgress, DownloadRequest, ChannelRow } from './retrieval-service'
import type { RangeFile, PreviewOpening, RangeRead } from './range-reader'

/** One call: what it takes, what it resolves to, and what it reports on the way (never, for most). */
interface Method<P, R, G = never> { params: P, result: R, progress: G }
type NoParams = Record<string, never>

export interface WorkerMethods {
  // wallet: keys stay encrypted in the worker; an address or a message CID comes back
  create: Method<{ passphrase: string, keyType?: KeyType }, string>
  import: Method<{ hex: string, passphrase: string }, string>
  unlock: Method<{ passphrase: string }, null>
  lock: Method<NoParams, null>
  export: Method<{ address: string, passphrase: string }, string>
  watch: Method<{ address: string }, null>
  faucet: Method<{ address: string }, string>
  send: Method<{ from: string, to: string, amount: string }, string>
  // chain
  blockDetail: Method<{ cid: string }, BlockDetail>
  /** The Chain view scrolled back: up to `count` tipsets below `below`, fetched by hash link where the tab skipped them. */
  olderTipSets: Method<{ below: number, count: number }, OlderTipSetsView>
  measureSignatures: Method<{ count: number }, SignatureFigures>
  /** The bench's: F3Sync over certificate exchange responses handed in as bytes (measure-f3.ts). */
  measureCertificateSync: Method<CertificateSyncRequest, CertificateSyncFigures>
  // storage: a File crosses by reference (structured clone), never copied into memory here
  upload: Method<UploadRequest, string>
  providers: Method<NoParams, ProviderView[]>
  withdrawEscrow: Method<NoParams, string>
  proofDetail: Method<{ dealId: number, period: number }, ProofDetail>
  // spot audits (audit-service.ts): one now, and the schedule while a tab is open (minutes, 0 = off)
  auditNow: Method<{ dealId: number }, AuditRecord>
  setAuditSchedule: Method<{ minutes: number }, null>
  // retrieval: the price before anything is paid, then a download that runs (and resumes) in the worker and is
  // shown through the `retrievals` view; a picked file's handle crosses by structured clone
  quoteDownload: Method<DownloadQuoteRequest, DownloadQuote, QuoteProgress>
  download: Method<DownloadRequest, string>
  pauseDownload: Method<{ id: string }, null>
  resumeDownload: Method<{ id: string }, null>
  cancelDownload: Method<{ id: string }, null>
  /** The finished OPFS file, disk-backed (it crosses without a copy), for the page's download link. */
  downloadedFile: Method<{ id: string }, File>
  /** The picked file's handle, so a click on the page can ask for its permission again. */
  downloadHandle: Method<{ id: string }, FileSystemFileHandle>
  channels: Method<NoParams, ChannelRow[]>
  settleChannel: Method<{ channel: string }, string>
  collectChannel: Method<{ channel: string }, string>
  // previews (range-reader.ts): a session per opened file (free copies only unless `maxPaid` attoFIL is allowed),
  // then verified reads of bytes [from, to), each through a ranged retrieval or the reader's bounded cache
  openPreview: Method<RangeFile & { maxPaid?: string }, PreviewOpening>
  readRange: Method<{ session: string, from: number, to: number }, RangeRead>
  closePreview: Method<{ session: string }, null>
}

export type MethodName = keyof WorkerMethods
export type ParamsOf<M extends MethodName> = WorkerMethods[M]['params']
export type ResultOf<M extends MethodName> = WorkerMethods[M]['result']
export type ProgressOf<M extends MethodName> = WorkerMethods[M]['progress']

/** WorkerMethods in the shape port-caller.ts calls (params, result, progress of each). */
export type WorkerCallSpecs = { [M in MethodName]: { params: ParamsOf<M>, result: ResultOf<M>, progress: ProgressOf<M> } }

/** A page of older tipsets for the Chain view (chain-page.ts). */
export interface OlderTipSetsView { headers: HeaderSummary[], fetched: number, reachedGenesis: boolean }

/** What the page passes with a call: a signal that cancels it, and where its progress goes. */
export interface CallOptions<M extends MethodName> { signal?: AbortSignal, onProgress?: (p: ProgressOf<M>) => void }

/** The worker's side: one handler per method, given the call's cancel signal and a progress reporter. */
export type WorkerHandlers = {
  [M in MethodName]: (params: ParamsOf<M>, ctx: { signal: AbortSignal, progress: (p: ProgressOf<M>) => void, tab?: string }) => Promise<ResultOf<M>>
}

/** The transports a tab's node can use: to nodes (WebSockets, WebRTC-Direct), and to other tabs (WebRTC through a relay). */
export const TRANSPORT_NAMES = ['websockets', 'webrtc-direct', 'webrtc'] as const
export type TransportName = typeof TRANSPORT_NAMES[number]

export type PageToWorker =
  /** `tab`: the name of a Web Lock the tab holds while it is open (a SharedWorker's node learns it closed). */
  /** `transports`: the ones the node may use (all when left out); the first tab's start decides for a shared node. */
  | { type: 'start', bootstrapUrl: string, tab?: string, transports?: TransportName[] }
  /** The page makes the node's WebRTC connections on `port` (rtc-bridge-protocol.ts): no worker has RTCPeerConnection. */
  | { type: 'rtc', port: MessagePort, tab?: string }
  /** A tab lends the shared node its hashing and OPFS writes (platform-protocol.ts), answered on `port`. */
  | { type: 'lend', tab: string, port: MessagePort }
  /** Serve `port` as another tab's session (a leader tab bridges the other tabs' sessions to its node: tab-leader.ts). */
  | { type: 'connect', port: MessagePort }
  | { type: 'stop' }
  | { type: 'call', id: number, method: MethodName, params: unknown }
  | { type: 'cancel', id: number }

export type WorkerToPage =
  | { type: 'status', status: LightClientStatus }
  | { type: 'wallet', wallet: WalletView }
  | { type: 'deals', deals: DealsView }
  | { type: 'retrievals', retrievals: RetrievalsView }
  | { type: 'progress', id: number, progress: unknown }
  | { type: 'reply', id: number, ok: true, value: unknown }
  | { type: 'reply', id: number, ok: false, error: WireError }
  | { type: 'fatal', error: WireError }
  | { type: 'stopped' }
  /** The port sent a message the protocol does not know (worker-session.ts): nothing was done with it. */
  | { type: 'refused', error: WireError }

/** The part of a MessagePort / worker scope the light client uses. */
export interface Port {
  postMessage: (msg: WorkerToPage) => void
  addEventListener: (type: 'message', listener: (evt: MessageEvent<PageToWorker>) => void) => void
  removeEventListener?: (type: 'message', listener: (evt: MessageEvent<PageToWorker>) => void) => void
}
