// Other tabs as peers (issue 15 part 2): this tab announces where it can be reached (its relayed WebRTC addresses,
// tab-rendezvous.ts) and dials a few of the tabs it hears of, so that when nodes are slow or out of reach the chain
// still comes, from a tab that verified it. A tab is asked only for what is checked here as a node's answer is (its
// headers go through the same sync and the same rejection, which drops it); it is never asked for state.
import type { Multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { subscribeTabs, announceTab, relayOf, serveChainExchange, type CofferLibp2p } from '../net'
import type { Connection } from '@libp2p/interface'
import type { TipSet } from '../core'
import type { HeaderStore } from './header-store'

/** Tabs this one keeps connections with: enough for a second opinion, few enough to cost a phone little. */
export const MAX_TAB_PEERS = 3
/** Tabs heard of and kept to dial (the newest announcements win). */
export const MAX_KNOWN_TABS = 32
/** How often a tab announces itself (and looks for tabs to dial): a new tab is found within this. */
export const TAB_ANNOUNCE_MS = 5_000
/**
 * How long one dial to a tab may take. Relayed WebRTC dials hung now and then (about 3 % in an earlier spike,
 * NOTES.md) and an immediate retry connected: a hung dial is dropped here and the tab tried again at its next turn.
 */
export const TAB_DIAL_TIMEOUT_MS = 15_000

export interface TabPeersInit {
  libp2p: CofferLibp2p
  network: string
  /** A peer this session dropped (its data did not verify): never dialled again. */
  isDropped: (peer: string) => boolean
  onChange: () => void
  onError: (peer: string, err: Error) => void
}

export interface TabPeers {
  /** Whether `peer` is a tab: it announced itself as one, or it is connected to this one over (non-direct) WebRTC. */
  isTab: (peer: string) => boolean
  /** Tabs connected now. */
  connected: () => string[]
  stop: () => void
}

/** Tabs that may connect to this one on their own (each a real RTCPeerConnection in the page): more are hung up on. */
export const MAX_INBOUND_TABS = 2 * MAX_TAB_PEERS
/** Tabs remembered as tabs (announced ones): the oldest forgotten first, so made-up identities cannot grow it. */
export const MAX_REMEMBERED_TABS = 4 * MAX_KNOWN_TABS

/** A direct WebRTC connection between tabs (WebRTC-Direct is a node's; a circuit alone is a relay's). */
const isTabConnection = (c: Connection): boolean => {
  const a = c.remoteAddr.toString()
  return c.limits === undefined && /\/webrtc(\/|$)/.test(a) && !a.includes('/webrtc-direct')
}

export function startTabPeers (init: TabPeersInit): TabPeers {
  const { libp2p } = init
  /** Tabs to dial, with the addresses they announced through relays this tab is connected to. */
  const known = new Map<string, Multiaddr[]>()
  const announced = new Set<string>()
  /** Tabs this one dialled: the ones that fill its MAX_TAB_PEERS (tabs that dial it cannot take those places). */
  const dialled = new Set<string>()
  const dialing = new Set<string>()
  let stopped = false
  const connections = (peer: string): Connection[] => libp2p.getConnections(peerIdFromString(peer))
  const hasDirect = (peer: string): boolean => connections(peer).some(isTabConnection)
  const isTab = (peer: string): boolean => announced.has(peer) || connections(peer).some(isTabConnection)
  const viaConnectedRelay = (a: Multiaddr): boolean => {
    const relay = relayOf(a)
    return relay !== undefined && connections(relay).some(c => c.limits === undefined)
  }

  const dialSome = (): void => {
    if (stopped) return
    const mine = [...dialled].filter(hasDirect).length
    const room = MAX_TAB_PEERS - mine - dialing.size
    if (room <= 0) return
    const candidates = [...known.keys()].reverse().filter(p => !init.isDropped(p) && !dialing.has(p) && connections(p).every(c => c.limits !== undefined))
    for (const peer of candidates.slice(0, room)) {
      const addrs = known.get(peer)!
      dialing.add(peer)
      libp2p.dial(addrs.length === 1 ? addrs[0]! : addrs, { signal: AbortSignal.timeout(TAB_DIAL_TIMEOUT_MS) }).then(
        () => { dialled.add(peer); init.onChange() },
        (err: Error) => { known.delete(peer); init.onError(peer, err) } // tried again once it announces itself again
      ).finally(() => { dialing.delete(peer) })
    }
  }

  const stopHearing = subscribeTabs(libp2p, init.network, (peer, addrs) => {
    // only through a relay this tab holds a connection to: an announcement cannot send it dialling other hosts
    const usable = addrs.filter(viaConnectedRelay)
    if (usable.length === 0) return
    announced.delete(peer)
    announced.add(peer)
    while (announced.size > MAX_REMEMBERED_TABS) announced.delete(announced.values().next().value!)
    known.delete(peer)
    known.set(peer, usable)
    while (known.size > MAX_KNOWN_TABS) known.delete(known.keys().next().value!)
    dialSome()
  })
  // a tab that connects on its own is taken while there is room, and hung up on past MAX_INBOUND_TABS
  const onOpen = (evt: CustomEvent<Connection>): void => {
    const c = evt.detail
    if (c.direction !== 'inbound' || !isTabConnection(c)) return
    const inbound = libp2p.getConnections().filter(x => x.direction === 'inbound' && isTabConnection(x)).length
    if (inbound > MAX_INBOUND_TABS) c.close().catch(() => {})
    else init.onChange()
  }
  libp2p.addEventListener('connection:open', onOpen)
  const turn = (): void => {
    void announceTab(libp2p, init.network).catch(() => {})
    dialSome()
  }
  const timer = setInterval(turn, TAB_ANNOUNCE_MS)
  // a reservation on a relay gives this tab its address: announced at once rather than at the next turn
  const onSelf = (): void => { turn() }
  libp2p.addEventListener('self:peer:update', onSelf)
  turn()

  return {
    isTab,
    connected: () => [...new Set(libp2p.getConnections().filter(isTabConnection).map(c => c.remotePeer.toString()))],
    stop: () => {
      stopped = true
      clearInterval(timer)
      libp2p.removeEventListener('self:peer:update', onSelf)
      libp2p.removeEventListener('connection:open', onOpen)
      stopHearing()
    }
  }
}

/** Tipsets one request to a tab gets at most (each a read of the tab's IndexedDB): an asker wanting more asks again. */
export const TAB_SERVE_MAX_TIPSETS = 200

/**
 * What a tab serves other tabs: Filecoin chain exchange over the headers it verified (its store holds no other),
 * from the asked tipset down its parents; fewer than asked (a Partial answer) where its store ends.
 */
export async function serveVerifiedChain (libp2p: CofferLibp2p, store: Pick<HeaderStore, 'tipSet'>): Promise<void> {
  await serveChainExchange(libp2p, {
    headerRun: async (key, length) => {
      let t = await store.tipSet(key)
      if (t === null) return null
      const run: TipSet[] = []
      while (t !== null && run.length < Math.min(length, TAB_SERVE_MAX_TIPSETS)) {
        run.push(t)
        const parents: TipSet['key'] = t.blocks[0]!.header.parents
        t = parents.length === 0 ? null : await store.tipSet(parents)
      }
      return { count: run.length, batches: (async function * () { yield run.map(ts => ts.blocks.map(b => b.bytes)) })() }
    }
  })
}
