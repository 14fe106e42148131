// Connecting to a peer by the addresses a record lists (a provider's on-chain Multiaddrs, a bootstrap entry): one
// rule for every service that dials (issue 15 part 4), so none reaches into libp2p's dialling itself.
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Libp2p } from '@libp2p/interface'

/**
 * What a service that asks peers needs of the node, and no more (issue 15 part 4): to dial, to open a protocol
 * stream, to see its connections. It cannot handle protocols, subscribe, hang up or stop the node: the node's
 * owner (the light client, a full node) does those. Gossip is the other narrow side (gossip.ts).
 */
export type Dialer = Pick<Libp2p, 'dial' | 'dialProtocol' | 'getConnections'>

/** How long one address may take to connect: a blocked transport (WebRTC-Direct where UDP is dropped) costs this once. */
export const PEER_ADDRESS_DIAL_TIMEOUT_MS = 10_000

/** A peer to reach: its ID, what it is called in errors, and the addresses it lists (with or without /p2p/<id>). */
export interface DialTarget { peerId: string, address?: string, addrs: readonly string[] }

/**
 * Connects to `p` unless already connected: its addresses in the order listed, each for at most
 * PEER_ADDRESS_DIAL_TIMEOUT_MS (and `signal`), the first that connects kept. Throws the last address's error.
 */
export async function connectTo (libp2p: Dialer, p: DialTarget, signal?: AbortSignal): Promise<void> {
  if (libp2p.getConnections(peerIdFromString(p.peerId)).length > 0) return
  let last: Error | undefined
  for (const a of p.addrs) {
    try {
      const addr = a.includes('/p2p/') ? a : `${a}/p2p/${p.peerId}`
      const timeout = AbortSignal.timeout(PEER_ADDRESS_DIAL_TIMEOUT_MS)
      await libp2p.dial(multiaddr(addr), { signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]) })
      return
    } catch (err) {
      last = err as Error
      if (signal?.aborted === true) break
    }
  }
  throw last ?? new Error(`${p.address ?? p.peerId} lists no address`)
}
