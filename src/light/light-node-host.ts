// One light node served to as many ports as connect: the tabs of a SharedWorker, or the one page of a dedicated
// worker. The node starts on the first port's `start`; the last of each view (status, wallet, deals, retrievals,
// a fatal error) is kept and replayed to a port that starts later, so a new tab shows the current state at once;
// every change goes to every port. Calls belong to their port (worker-session.ts): closing one port aborts its
// calls still running and nothing of another's.
import { toWireError } from '../core/errors'
import type { Port, PageToWorker, WorkerToPage, TransportName } from './worker-protocol'
import { serveSession, type Dispatch } from './worker-session'

/** The views a port is sent whenever they change, and the last of each on connecting. */
export type ViewMessage = Extract<WorkerToPage, { type: 'status' | 'wallet' | 'deals' | 'retrievals' | 'fatal' }>

export interface LightNodeHostInit {
  /** Starts the node once (the first port's `start`); `publish` sends a view to every port and keeps it. */
  start: (bootstrapUrl: string, publish: (view: ViewMessage) => void, transports?: TransportName[]) => Promise<void>
  /** Answers one call for any port. */
  dispatch: Dispatch
  /** Stops the node: a dedicated worker's page asks for it; a SharedWorker's node lives while any tab does. */
  stop: () => Promise<void>
  /** Whether a port's `stop` stops the node when no other port is connected (a dedicated worker: yes). */
  stopWithLastPort: boolean
  /** A port's `start` named the Web Lock its tab holds: `gone` is to be called once the tab has closed. */
  watchTab?: (tab: string, gone: () => void) => void
  /** A tab lends its platform on `port` (a SharedWorker's node; a dedicated worker has its own). */
  lend?: (tab: string, port: MessagePort) => void
  /** A page makes the node's WebRTC connections on `port` (bridged-rtc.ts); `tab` names its lock, when it has one. */
  rtc?: (port: MessagePort, tab?: string) => void
}

export interface LightNodeHost {
  /**
   * Serves `port` until it sends `stop` or `close` is called (its tab is gone). An `owner` port's stop stops the node
   * whoever else is connected (a dedicated worker's page, which is about to end the worker).
   */
  connect: (port: Port, opts?: { owner?: boolean }) => { close: () => void }
  /** How many ports are connected. */
  ports: () => number
}

export function createLightNodeHost (init: LightNodeHostInit): LightNodeHost {
  const views = new Map<ViewMessage['type'], ViewMessage>()
  const started = new Set<Port>()
  const connected = new Set<Port>()
  let starting: Promise<void> | undefined

  const publish = (view: ViewMessage): void => {
    views.set(view.type, view)
    for (const p of started) p.postMessage(view)
  }

  const connect = (port: Port, opts: { owner?: boolean } = {}): { close: () => void } => {
    connected.add(port)
    let tab: string | undefined
    const onControl = (msg: Extract<PageToWorker, { type: 'start' | 'stop' | 'lend' | 'connect' | 'rtc' }>): void => {
      if (msg.type === 'lend') { init.lend?.(msg.tab, msg.port); return }
      if (msg.type === 'rtc') { init.rtc?.(msg.port, msg.tab); return }
      if (msg.type === 'connect') { connect(msg.port as unknown as Port); msg.port.start(); return }
      if (msg.type === 'start') {
        if (started.has(port)) return
        started.add(port)
        if (msg.tab !== undefined) { tab = msg.tab; init.watchTab?.(msg.tab, () => { session.close() }) }
        for (const v of views.values()) port.postMessage(v)
        starting ??= init.start(msg.bootstrapUrl, publish, msg.transports).catch((err: unknown) => { publish({ type: 'fatal', error: toWireError(err) }) })
        return
      }
      session.close()
      if (opts.owner === true || (init.stopWithLastPort && connected.size === 0)) void init.stop().finally(() => { port.postMessage({ type: 'stopped' }) })
      else port.postMessage({ type: 'stopped' })
    }
    const session = serveSession(port, init.dispatch, onControl, () => {
      connected.delete(port)
      started.delete(port)
    }, () => tab)
    return { close: () => { session.close() } }
  }

  return { connect, ports: () => connected.size }
}
