// The one typed interface between the page and the light-client worker. Errors cross as WireError
// (structured clone would drop their names).
import type { WireError } from '../core'
import type { LightClientStatus } from './status'
import type { WalletCall, WalletView } from './wallet-service'
import type { BlockDetail } from './block-detail'
import type { SignatureFigures } from './measure'
import type { DealsView, ProviderView, ProofDetail } from './deal-service'

/** Requests that expect one reply; `id` pairs the reply with its request. */
export type WorkerCall = WalletCall | { method: 'blockDetail', cid: string } | { method: 'measureSignatures', count: number } | DealCall

/** Storage: a File crosses by reference (structured clone), never copied into memory here. */
export type DealCall =
  | { method: 'upload', file: File, copies: number, periods: number, providers?: string[] }
  | { method: 'providers' }
  | { method: 'withdrawEscrow' }
  | { method: 'proofDetail', dealId: number, period: number }

/** What each call resolves to (wallet calls return an address, a CID, an export or nothing). */
export type CallResult = string | null | BlockDetail | SignatureFigures | ProviderView[] | ProofDetail

export type PageToWorker =
  | { type: 'start', bootstrapUrl: string }
  | { type: 'stop' }
  | { type: 'call', id: number, call: WorkerCall }

export type WorkerToPage =
  | { type: 'status', status: LightClientStatus }
  | { type: 'wallet', wallet: WalletView }
  | { type: 'deals', deals: DealsView }
  | { type: 'reply', id: number, ok: true, value: CallResult }
  | { type: 'reply', id: number, ok: false, error: WireError }
  | { type: 'fatal', error: WireError }
  | { type: 'stopped' }

/** The part of a MessagePort / worker scope the light client uses. */
export interface Port {
  postMessage: (msg: WorkerToPage) => void
  addEventListener: (type: 'message', listener: (evt: MessageEvent<PageToWorker>) => void) => void
}
