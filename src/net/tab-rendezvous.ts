// Tabs find each other here (issue 15 part 2): a tab that nodes' circuit relays make reachable announces its
// addresses (`…/p2p/<relay>/p2p-circuit/webrtc/p2p/<tab>`) on `/coffer/tabs/<network>` in a gossipsub signed
// envelope, so the announcement names and proves the tab that wrote it; a tab that hears one may dial it, and the
// relay carries only the WebRTC signalling before the two connect directly. Nothing a tab then says is taken on
// its word: its headers are verified as a node's are, and a tab whose data does not verify is dropped.
// libp2p's own rendezvous protocol needs a rendezvous server and its discovery a DHT; gossip through the nodes the
// tabs already hold is the smaller way, and the validator bounds what a flood costs.
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import * as dagCbor from '@ipld/dag-cbor'
import type { CofferLibp2p } from './libp2p-node'
import { gossipOf } from './gossip'
import { TokenBuckets, type TokenRate } from '../core/rate-limit'

export const tabsTopic = (network: string): string => `/coffer/tabs/${network}`

/** Addresses one announcement may carry (a tab holds a reservation on a few relays at most). */
export const MAX_TAB_ADDRS = 8
/** The largest announcement read at all: eight relayed addresses are under 1 KiB. */
export const MAX_TAB_ANNOUNCEMENT_BYTES = 2048

/**
 * Announcements taken from one author: a burst of 3, then one every 2 s (a tab announces every TAB_ANNOUNCE_MS, 5 s).
 * More are dropped unrelayed (Ignore), so a tab repeating itself fast costs the network nothing.
 */
export const TAB_ANNOUNCE_AUTHOR_RATE: TokenRate = { burst: 3, refillMs: 2000 }
/**
 * Announcements a node takes (and relays) from all authors together: a burst of 64, then 20 a second. Peer IDs are
 * free to make, so a per-author bound alone lets a flood of fresh identities through; this caps what any flood costs
 * each node and every tab behind it, at the price of some honest announcements waiting for their next turn.
 */
export const TAB_ANNOUNCE_TOTAL_RATE: TokenRate = { burst: 64, refillMs: 50 }

/** An announcement that is not a tab's relayed WebRTC addresses signed by that tab. */
export class BadTabAnnouncementError extends Error {
  static override name = 'BadTabAnnouncementError'
  override name = 'BadTabAnnouncementError'
}

/** The addresses as announced: DAG-CBOR, a list of binary multiaddrs. */
export function encodeTabAnnouncement (addrs: Multiaddr[]): Uint8Array {
  return dagCbor.encode(addrs.slice(0, MAX_TAB_ADDRS).map(a => a.bytes))
}

/** The addresses of an announcement `author` signed: each a relayed WebRTC address ending in the author's peer ID. */
export function decodeTabAnnouncement (bytes: Uint8Array, author: string): Multiaddr[] {
  if (bytes.length > MAX_TAB_ANNOUNCEMENT_BYTES) throw new BadTabAnnouncementError(`tab announcement of ${bytes.length} bytes is over ${MAX_TAB_ANNOUNCEMENT_BYTES}`)
  let raw: unknown
  try { raw = dagCbor.decode(bytes) } catch (err) { throw new BadTabAnnouncementError(`tab announcement is not DAG-CBOR: ${(err as Error).message}`) }
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_TAB_ADDRS || !raw.every(a => a instanceof Uint8Array)) {
    throw new BadTabAnnouncementError(`a tab announcement is a list of 1 to ${MAX_TAB_ADDRS} binary multiaddrs`)
  }
  return raw.map((b: Uint8Array) => {
    let a: Multiaddr
    try { a = multiaddr(b) } catch (err) { throw new BadTabAnnouncementError(`not a multiaddr: ${(err as Error).message}`) }
    const text = a.toString()
    // only what a tab can be reached at: a relay's circuit, then WebRTC, then the author itself
    if (!text.includes('/p2p-circuit/webrtc/') || !text.endsWith(`/p2p/${author}`)) throw new BadTabAnnouncementError(`${text} is not a relayed WebRTC address of ${author}`)
    return a
  })
}

/** The peer ID of the relay an address goes through (the `/p2p/<id>` before `/p2p-circuit`). */
export function relayOf (addr: Multiaddr): string | undefined {
  return /\/p2p\/([^/]+)\/p2p-circuit\//.exec(addr.toString())?.[1]
}

/**
 * Hears tabs' announcements until the returned stop: a bad one is rejected (and scored against its relay), one over
 * the rates above dropped unrelayed. `nowMs` is the clock the rates run on.
 */
export function subscribeTabs (libp2p: CofferLibp2p, network: string, onTab: (peer: string, addrs: Multiaddr[]) => void, nowMs: () => number = () => Date.now()): () => void {
  const authors = new TokenBuckets<string>(TAB_ANNOUNCE_AUTHOR_RATE)
  const total = new TokenBuckets<string>(TAB_ANNOUNCE_TOTAL_RATE)
  return gossipOf(libp2p).listen<{ author: string, addrs: Multiaddr[] }>(tabsTopic(network), (m) => {
    if (m.author === undefined) return { verdict: 'reject' }
    let addrs: Multiaddr[]
    try { addrs = decodeTabAnnouncement(m.data, m.author) } catch { return { verdict: 'reject' } }
    const now = nowMs()
    if (!authors.take(m.author, now).ok || !total.take('all', now).ok) return { verdict: 'ignore' }
    return { verdict: 'accept', value: { author: m.author, addrs } }
  }, (_m, { author, addrs }) => { onTab(author, addrs) })
}

/** This node's relayed WebRTC addresses, if it has any yet (a reservation on a relay makes them). */
export function relayedWebRtcAddrs (libp2p: CofferLibp2p): Multiaddr[] {
  return libp2p.getMultiaddrs().filter(a => a.toString().includes('/p2p-circuit/webrtc/'))
}

/** Announces this tab's relayed WebRTC addresses; resolves to how many peers it reached (0 with none to announce). */
export async function announceTab (libp2p: CofferLibp2p, network: string): Promise<number> {
  const addrs = relayedWebRtcAddrs(libp2p)
  if (addrs.length === 0) return 0
  const r = await libp2p.services.pubsub.publish(tabsTopic(network), encodeTabAnnouncement(addrs))
  return r.recipients.length
}
