// A Node peer that passes for a tab in tests (a liar, a flooder): reached through a relay over WebRTC
// (node-datachannel), announcing itself on the tabs' topic every second, as a tab does (src/light/tab-peers.ts).
import { webRTC } from '@libp2p/webrtc'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { multiaddr } from '@multiformats/multiaddr'
import { createCofferLibp2p, subscribeTabs, announceTab, relayedWebRtcAddrs, type CofferLibp2p } from '../../src/net'
import { until } from './until'

/** A libp2p node with a tab's transports: it listens through relays over WebRTC. */
export async function createTabPeer (network: string): Promise<CofferLibp2p> {
  return await createCofferLibp2p({ listen: ['/p2p-circuit', '/webrtc'], transports: [webRTC(), circuitRelayTransport()], network, allowLoopbackDials: true })
}

/** Reserves on `relay`, then announces the relayed address every second until the node stops. */
export async function announceThroughRelay (node: CofferLibp2p, relay: string, network: string): Promise<void> {
  subscribeTabs(node, network, () => {})
  await node.dial(multiaddr(relay))
  await until(() => relayedWebRtcAddrs(node).length > 0 ? true : undefined, 30_000)
  const timer = setInterval(() => { void announceTab(node, network).catch(() => {}) }, 1000)
  node.addEventListener('stop', () => { clearInterval(timer) })
}
