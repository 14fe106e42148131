// What the page sends the retrieval service and what it sees back (the worker interface's retrieval part), and the
// named conditions a download can stop on.
import type { WireError, MultihashFn, AsyncMultihashFn } from '../core'
import type { BootstrapDocument } from '../net'
import type { LightClient } from './light-client'
import type { WalletService } from './wallet-service'
import type { WalletStore } from './wallet-store'
import type { DownloadFiles } from './download-files'
import type { ProviderFailure } from './retrieval-session'
import type { DownloadRecord } from './retrieval-store'
import type { RetrievalPayer } from './paych-client'
import type { FinderContext } from './retrieval-providers'

export interface DownloadQuoteRequest {
  root: string
  size: number
  /** The payload CAR's size when this tab stored the file (what a provider charges for, nearly); else the file's size. */
  carBytes?: number
  dealIds: number[]
}

export interface ProviderQuoteView {
  provider: string
  dealId: number
  /** attoFIL per GiB sent ('0': free), and the payment intervals (bytes), from the provider's verified ask. */
  pricePerGiB: string
  paymentInterval: number
  paymentIntervalIncrease: number
  /** attoFIL for the whole file at that price. */
  price: string
}

export interface DownloadQuote {
  root: string
  /** The bytes priced: the payload CAR's size when known, else the file's. */
  bytes: number
  /** Providers that verifiably hold the file, cheapest first. */
  providers: ProviderQuoteView[]
  /** Deals that did not check out, and why (another payload, ended, provider unknown here, no ask). */
  refused: Array<{ dealId: number, provider?: string, reason: string }>
}

/**
 * One check a quote makes, reported as it starts and as it ends, so the page shows a quote at work (each check is
 * a network round trip and a proof to verify; on a slow phone or a busy node a quote takes tens of seconds) and a
 * stuck one says where it stands. `key` names the check ('deal 12', 'ask t01000', 'miner t01000').
 */
export interface QuoteProgress {
  key: string
  kind: 'deal' | 'ask' | 'miner'
  dealId?: number
  provider?: string
  state: 'running' | 'done' | 'refused'
  /** ms since the quote began, when this was reported; and, once it ended, how long the check took. */
  atMs: number
  tookMs?: number
}

export interface DownloadRequest {
  root: string
  name: string
  size: number
  carBytes?: number
  dealIds: number[]
  /** A file the page had the user pick (showSaveFilePicker); OPFS and a download link when absent. */
  saveHandle?: FileSystemFileHandle
  range?: { from: number, to: number }
  /** The quote the user accepted (attoFIL): providers asking more than that by now are not used. */
  maxPrice?: string
}

/** One provider dropped from a download, named. */
export interface FailoverView extends ProviderFailure { provider: string }

/** A download as the page shows it: its record's own fields (see DownloadRecord), and what the running session adds. */
export interface DownloadView extends Pick<DownloadRecord,
'id' | 'root' | 'name' | 'size' | 'range' | 'dealIds' | 'sink' | 'stage' | 'serving' | 'quoted' | 'needsPermission' | 'waiting' | 'error' | 'createdAtMs' | 'doneAtMs'> {
  /** File bytes verified and written so far (from the range's start), and the total. */
  verifiedBytes: number
  totalBytes: number
  /** attoFIL promised by vouchers in all lanes of this download. */
  paid: string
  /** Verified bytes a second in this run, while fetching. */
  bytesPerSec: number | null
  lanes: Array<{ provider: string, channel: string, lane: number, paid: string }>
  failovers: FailoverView[]
}

export interface ChannelRow {
  key: string
  /** t2… once created (null while the create message is pending), and its ID address. */
  channel: string | null
  channelId: string | null
  from: string
  to: string
  /** From the verified read at `verifiedAt`; null when the channel is not (or no longer) on chain. */
  balance: string | null
  /** Redeemed by the provider (the channel's ToSend): what Collect pays it. */
  redeemed: string | null
  /** Balance not promised by any voucher this tab signed. */
  available: string | null
  settlingAt: number | null
  /** Every lane's best voucher amount this tab sent (attoFIL). */
  sent: string
  vouchersSent: number
  lanes: Array<{ lane: number, redeemed: string, nonce: number, sent: string, sentNonce: number, vouchers: number }>
  state: 'creating' | 'open' | 'settling' | 'settled' | 'collected'
  /** A create or top-up message sent and not yet seen executed. */
  pending: string | null
  verifiedAt: number | null
}

export interface RetrievalsView {
  downloads: DownloadView[]
  channels: ChannelRow[]
  /** Why downloads cannot run in this tab, when they cannot. */
  error?: WireError
}

export interface RetrievalServiceInit {
  client: LightClient
  wallet: WalletService
  keystore: WalletStore
  bootstrap: BootstrapDocument
  files: DownloadFiles
  onChange: (view: RetrievalsView) => void
  /** The blocks' hash (block-hash.ts); the verifier's own noble SHA-256 when left out. */
  hash?: MultihashFn
  /** The blocks' hash when asynchronous (block-hash.ts webCryptoBlockHash): used instead of `hash` where given. */
  hashAsync?: AsyncMultihashFn
}

export interface RetrievalService {
  view: () => RetrievalsView
  quote: (req: DownloadQuoteRequest, signal?: AbortSignal, onProgress?: (p: QuoteProgress) => void) => Promise<DownloadQuote>
  /** Starts (or, for a file already downloading, shows) a download; its id. */
  download: (req: DownloadRequest) => Promise<string>
  pause: (id: string) => Promise<void>
  resume: (id: string) => Promise<void>
  cancel: (id: string) => Promise<void>
  downloadedFile: (id: string) => Promise<File>
  handle: (id: string) => Promise<FileSystemFileHandle>
  channels: () => Promise<ChannelRow[]>
  settle: (channel: string) => Promise<string>
  collect: (channel: string) => Promise<string>
  /** The payment-channel client downloads use, for previews' range reads (throws WalletLockedError / NoWalletKeyError). */
  payer: () => Promise<RetrievalPayer>
  /** What findRetrievalProviders needs, shared with previews. */
  finder: FinderContext
}


/** None of the file's deals leads to a provider that verifiably holds it and answers. */
export class NoRetrievalProviderError extends Error {
  static override name = 'NoRetrievalProviderError'
  override name = 'NoRetrievalProviderError'
  constructor (readonly refused: DownloadQuote['refused']) {
    super(`no provider can serve this file: ${refused.length === 0 ? 'no deal given' : refused.map(r => `deal ${r.dealId}${r.provider === undefined ? '' : ` (${r.provider})`}: ${r.reason}`).join('; ')}`)
  }
}

export class UnknownDownloadError extends Error {
  static override name = 'UnknownDownloadError'
  override name = 'UnknownDownloadError'
  constructor (readonly id: string) { super(`no download ${id} in this browser`) }
}

/** The download has not finished (or its file was saved elsewhere): there is no file to hand out. */
export class DownloadNotReadyError extends Error {
  static override name = 'DownloadNotReadyError'
  override name = 'DownloadNotReadyError'
}

/** No full node could be asked about the file's deals yet (the tab has just opened, or is offline): not the file's fault. */
export class NoChainPeerError extends Error {
  static override name = 'NoChainPeerError'
  override name = 'NoChainPeerError'
  constructor () { super('no full node is connected yet to read the file\'s deals from: going on once one is') }
}

/**
 * Whether `err` says no full node could answer a chain read (none connected, or none held the answer): the
 * download waits for one, at the next head, rather than blaming the provider or the file.
 */
export const isChainUnanswered = (err: Error): boolean => ['NoChainPeerError', 'NoPeerError', 'StateUnavailableError'].includes(err.name)

/** Another tab of this browser is running the download (it holds the download's lock): only that tab can pause or cancel it. */
export class DownloadInOtherTabError extends Error {
  static override name = 'DownloadInOtherTabError'
  override name = 'DownloadInOtherTabError'
  constructor (readonly id: string) { super('this download is running in another tab of this browser: pause or cancel it there (this tab takes it over when that one closes)') }
}
