// How a node that does not make every block follows the chain: block gossip judged and executed before it is
// relayed (block-validator.ts), heads heard in hellos synced by chain exchange with messages (full-node/chain-sync.ts),
// a peer that broke a rule hung up on. A full node runs it; so does the devnet's node under Expected Consensus,
// where the providers make the blocks.
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import { blocksTopic, CHAIN_EXCHANGE_PROTOCOL, type HelloMessage } from '../core'
import { requestChain, type CofferLibp2p, type Gossip } from '../net'
import type { NodeChain } from './chain'
import { ChainSync } from './full-node/chain-sync'
import { fullBlockValidator } from './full-node/block-validator'

export interface ChainFollowerInit {
  libp2p: CofferLibp2p
  gossip: Gossip
  chain: NodeChain
  nowMs: () => number
  log: (line: string) => void
}

export interface ChainFollower {
  sync: ChainSync
  /** A peer's hello: its head is synced towards (serveChainNode's onHello). */
  onHello: (peer: PeerId, hello: HelloMessage) => void
}

export function followChain (init: ChainFollowerInit): ChainFollower {
  const { libp2p, gossip, chain, nowMs, log } = init
  // after the current task: a gossip validator's Reject must reach gossipsub's score first, or the
  // peer's stats are gone (a disconnected peer with a positive score is forgotten) before it counts
  const hangUp = (peer: string): void => {
    setTimeout(() => { void libp2p.hangUp(peerIdFromString(peer)).catch(() => {}) }, 100).unref()
  }
  const request = async (peer: string, req: Parameters<typeof requestChain>[2]): ReturnType<typeof requestChain> =>
    await requestChain(libp2p, peerIdFromString(peer), req)
  let lastLogged = 0
  const sync = new ChainSync({
    chain,
    request,
    nowSecs: () => Math.floor(nowMs() / 1000),
    onPeerFault: (peer, err) => {
      log(`sync: peer ${peer} refused: ${err.name}: ${err.message}`)
      hangUp(peer)
    },
    onNetworkError: (peer, err) => { log(`sync: from ${peer}: ${err.name}: ${err.message}`) },
    onAccepted: (h) => {
      const now = nowMs()
      if (now - lastLogged >= 1000) {
        lastLogged = now
        log(`head ${h.header.height} (best known ${sync.bestKnownHeight})`)
      }
    }
  })
  // block gossip: relayed only once executed and its roots compared
  const topic = blocksTopic(chain.genesis.state.network)
  gossip.listen(topic, fullBlockValidator({
    chain,
    nowSecs: () => Math.floor(nowMs() / 1000),
    request,
    // peers that said hello on our genesis serve chain exchange (a light client says hello too, but serves none)
    otherPeers: (peer) => [...exchangePeers].filter(p => p !== peer),
    offer: (t) => sync.offer(t),
    onPeerFault: (peer) => hangUp(peer),
    log
  }))
  libp2p.addEventListener('peer:disconnect', (evt) => { sync.forgetPeer(evt.detail.toString()); exchangePeers.delete(evt.detail.toString()) })
  /** Peers that serve chain exchange (identify told us), by ID: the only ones synced from. */
  const exchangePeers = new Set<string>()
  const servesExchange = async (peer: PeerId): Promise<boolean> => {
    // not identified yet (its hello came first): tried, as before identify existed; a failure there is no fault
    try {
      const { protocols } = await libp2p.peerStore.get(peer)
      return protocols.length === 0 || protocols.includes(CHAIN_EXCHANGE_PROTOCOL)
    } catch { return true }
  }
  return {
    sync,
    onHello: (peer, hello) => {
      const cid = hello.heaviestTipSet[0]
      if (cid === undefined) return
      // a light client says hello with its head but serves no chain exchange: nothing to sync from it
      void servesExchange(peer).then(serves => {
        if (!serves) return
        exchangePeers.add(peer.toString())
        sync.offer({ peer: peer.toString(), cid, height: hello.heaviestTipSetHeight, key: hello.heaviestTipSet })
      })
    }
  }
}
