// What the page's address asks of the light node: which node to use (`?node=`) and with which transports (`?transports=`).
import { TRANSPORT_NAMES, type TransportName } from '../light/worker-protocol'

/** How this tab reaches a node: `?node=tab|leader` asks; otherwise the SharedWorker where there is one. */
export function nodeMode (): 'shared' | 'leader' | 'tab' {
  const asked = new URLSearchParams(location.search).get('node')
  if (asked === 'tab' || typeof navigator.locks === 'undefined') return 'tab'
  if (asked !== 'leader' && typeof SharedWorker !== 'undefined') return 'shared'
  return typeof BroadcastChannel !== 'undefined' ? 'leader' : 'tab'
}

/**
 * The transports `?transports=` names (comma-separated: websockets, webrtc-direct), all when left out: a user behind a
 * network that blocks one, or a test proving the other works alone. A shared node keeps what its first tab asked.
 */
export function askedTransports (): TransportName[] | undefined {
  const asked = new URLSearchParams(location.search).get('transports')?.split(',').filter((t): t is TransportName => (TRANSPORT_NAMES as readonly string[]).includes(t))
  return asked === undefined || asked.length === 0 ? undefined : asked
}

/** The `start` message's transports field, when the address names some. */
export const transportsAsked = (): { transports?: TransportName[] } => { const t = askedTransports(); return t === undefined ? {} : { transports: t } }

