// The one typed interface between the page and the light-client worker. Errors cross as WireError
// (structured clone would drop their names).
import type { WireError } from '../core'
import type { LightClientStatus } from './status'

export type PageToWorker =
  | { type: 'start', bootstrapUrl: string }
  | { type: 'stop' }

export type WorkerToPage =
  | { type: 'status', status: LightClientStatus }
  | { type: 'fatal', error: WireError }
  | { type: 'stopped' }

/** The part of a MessagePort / worker scope the light client uses. */
export interface Port {
  postMessage: (msg: WorkerToPage) => void
  addEventListener: (type: 'message', listener: (evt: MessageEvent<PageToWorker>) => void) => void
}
