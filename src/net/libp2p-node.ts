// The libp2p stack every Coffer node runs, browser worker and provider alike: WebSockets, Noise, Yamux,
// identify and gossipsub. One factory so both ends can never drift apart on a protocol choice.
import { createLibp2p, type Libp2p } from 'libp2p'
import { webSockets } from '@libp2p/websockets'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { identify, type Identify } from '@libp2p/identify'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import type { PrivateKey } from '@libp2p/interface'
import { MAX_BLOCK_MSG_BYTES } from '../core'

export type CofferLibp2p = Libp2p<{ identify: Identify, pubsub: GossipSub }>

export interface CofferLibp2pInit {
  privateKey?: PrivateKey
  /** Listen multiaddrs (provider nodes); a browser light client listens on nothing. */
  listen?: string[]
  /**
   * The browser build's gater refuses plain ws and loopback addresses; a devnet lives on 127.0.0.1, so
   * only loopback/devnet configurations set this.
   */
  allowLoopbackDials?: boolean
}

export async function createCofferLibp2p (init: CofferLibp2pInit = {}): Promise<CofferLibp2p> {
  return await createLibp2p({
    ...(init.privateKey === undefined ? {} : { privateKey: init.privateKey }),
    addresses: { listen: init.listen ?? [] },
    transports: [webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    ...(init.allowLoopbackDials === true ? { connectionGater: { denyDialMultiaddr: () => false } } : {}),
    services: {
      identify: identify(),
      pubsub: gossipsub({
        // a devnet producer publishes before anyone subscribes; that is not an error
        allowPublishToZeroTopicPeers: true,
        maxInboundDataLength: MAX_BLOCK_MSG_BYTES + 4096
      })
    }
  })
}
