// This page makes WebRTC connections for the light node, wherever it runs (its own worker, a leader's, the shared
// one): no worker has RTCPeerConnection (src/light/bridged-rtc.ts). The connections end with the page.
import { serveRtcBridge, type RtcPageHost } from '../light/rtc-page-host'
import type { PageToWorker } from '../light/worker-protocol'

/** Serves the bridge on a new channel and sends its other end to the node with `post` (`tab`: this tab's lock name). */
export function lendRtc (post: (msg: PageToWorker, transfer: Transferable[]) => void, tab?: string): RtcPageHost {
  if (typeof RTCPeerConnection === 'undefined') return { close: () => {} } // a browser without WebRTC: WebSockets only
  const ch = new MessageChannel()
  const host = serveRtcBridge(ch.port1)
  post({ type: 'rtc', port: ch.port2, ...(tab === undefined ? {} : { tab }) }, [ch.port2])
  return host
}
