// The libp2p stack every Coffer node runs, browser worker and provider alike: WebSockets (and the transports a
// platform adds: WebRTC-Direct on a Node node; WebRTC-Direct, WebRTC and circuit relay in the tab), Noise, Yamux,
// identify, gossipsub with Coffer's peer-score parameters, and a circuit relay on nodes. One factory, with a preset
// per role (CofferRole), so the ends can never drift apart on a protocol choice.
import { beaconTopic } from './beacon-gossip'
import { createLibp2p, type Libp2p, type Libp2pOptions } from 'libp2p'
import { webSockets } from '@libp2p/websockets'
import { noise, type ICryptoInterface } from '@libp2p/noise'
import { installedNoiseCrypto } from './noise-crypto'
import { yamux } from '@libp2p/yamux'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { identify, type Identify } from '@libp2p/identify'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import type { PeerScoreParams, PeerScoreThresholds, TopicScoreParams } from '@libp2p/gossipsub/score'
import type { PrivateKey } from '@libp2p/interface'
import { MAX_BLOCK_MSG_BYTES, blocksTopic, messagesTopic } from '../core'
import { askTopic } from './ask-gossip'
import { tabsTopic } from './tab-rendezvous'

export type CofferLibp2p = Libp2p<{ identify: Identify, pubsub: GossipSub }>

/**
 * What a libp2p node is for; the defaults that follow from it are set here, in one place, so the roles cannot drift:
 * - 'tab': a browser light node. It listens only through relays (relayed WebRTC, when its transports allow) and
 *   relays for nobody: a phone's tab is not infrastructure.
 * - 'node': a full node (the devnet's, a provider's, `coffer node`): it listens where told and is a circuit relay
 *   for tabs (issue 15 part 2).
 * - 'client': a one-shot dialer (the CLI resolving a network or retrieving a file): it listens on nothing.
 */
export type CofferRole = 'tab' | 'node' | 'client'

export interface CofferLibp2pInit {
  /** 'client' when left out. */
  role?: CofferRole
  privateKey?: PrivateKey
  /** The noise sessions' crypto; else the one installed for this realm (noise-crypto.ts), else @libp2p/noise's. */
  noiseCrypto?: ICryptoInterface
  /** Listen multiaddrs (provider nodes); a browser light client listens on nothing. */
  listen?: string[]
  /** Addresses to tell peers (identify) instead of the listen addresses. */
  announce?: string[]
  /**
   * The browser build's gater refuses plain ws and loopback addresses; a devnet lives on 127.0.0.1, so
   * only loopback/devnet configurations set this.
   */
  allowLoopbackDials?: boolean
  /** The chain's network name: its block and message topics are scored with the parameters below. */
  network?: string
  /**
   * Peers followed by choice (a light client's bootstrap nodes). As Lotus does for its bootstrappers,
   * they get a large application score, so a few bad messages they merely forwarded cannot cut us off.
   */
  trustedPeers?: string[]
  /** IP addresses exempt from the colocation penalty (Lotus's Pubsub.IPColocationWhitelist). */
  ipColocationWhitelist?: string[]
  /**
   * Transports besides WebSockets (a Node node's WebRTC-Direct: src/node/webrtc-direct.ts). Passed in, so the
   * browser bundle never imports a transport it cannot run in a worker.
   */
  transports?: Array<NonNullable<Libp2pOptions['transports']>[number]>
  /** Dial and listen with WebSockets (default). A tab told to use WebRTC-Direct only (`?transports=webrtc-direct`) has none. */
  webSockets?: boolean
  /**
   * Act as a circuit relay (v2) for others: tabs reserve a slot on a node and reach each other through it, then
   * connect directly over WebRTC (the relayed connection carries only the signalling: libp2p's default limits of
   * 2 minutes and 128 KiB per relayed connection are plenty and keep a relay's cost small). The role's default
   * (a 'node' relays) unless said.
   */
  relayServer?: boolean
}

/** Reservations a relay holds at once (libp2p's default, 15, ran out after a few browser pairs: NOTES.md). */
export const RELAY_MAX_RESERVATIONS = 256

// Score thresholds: Lotus's (node/modules/lp2p/pubsub.go). A single invalid message on a Lotus-weighted
// topic is -100 and the penalty is quadratic, so a source is out of IHAVE gossip after 3 invalid
// messages, out of our publishes after 4, and graylisted (its RPCs ignored) after 6.
export const GOSSIP_SCORE_THRESHOLDS: PeerScoreThresholds = {
  gossipThreshold: -500,
  publishThreshold: -1000,
  graylistThreshold: -2500,
  acceptPXThreshold: 1000,
  opportunisticGraftThreshold: 3.5
}

/** Lotus's app score for the bootstrappers a node chose to trust. */
export const TRUSTED_PEER_SCORE = 2500

/**
 * IP colocation (P6). gossipsub's defaults (threshold 10, weight -5, with its default thresholds -10/-50/
 * -80) put every peer of an address below the publish threshold once 14 share it, and graylist them at
 * 15: the 14th browser behind one office or carrier NAT, or on the all-loopback devnet, got no block
 * gossip and its own messages were dropped. Lotus (threshold 5, weight -100) is stricter still and relies
 * on operators whitelisting shared ranges. The penalty is there to keep one host's sybils out of our
 * mesh; any negative score already does that (a peer below 0 is neither grafted nor kept), so the weight
 * only has to make a crowd negative, not silence it. We let COLOCATION_FREE peers share an address at no
 * cost and weigh the surplus so that only a crowd of COLOCATION_GOSSIP_CUTOFF loses IHAVE gossip (about
 * 150 lose our publishes, about 230 are graylisted): a light client outside the mesh still gets every
 * block by flood publish from the node that produced it.
 */
export const COLOCATION_FREE = 10
export const COLOCATION_GOSSIP_CUTOFF = 110
export const COLOCATION_WEIGHT = GOSSIP_SCORE_THRESHOLDS.gossipThreshold / (COLOCATION_GOSSIP_CUTOFF - COLOCATION_FREE) ** 2

/** Loopback peers are this machine's own processes (the devnet runs all of them there): never a sybil crowd. */
export const LOOPBACK_IPS = ['127.0.0.1', '::1']

const DECAY_INTERVAL_MS = 1000
const DECAY_TO_ZERO = 0.01
/** go-libp2p-pubsub's ScoreParameterDecay: the per-interval factor that takes a counter to ~0 over `ms`. */
export const decayOver = (ms: number): number => DECAY_TO_ZERO ** (1 / (ms / DECAY_INTERVAL_MS))

const HOUR_MS = 3_600_000

/**
 * Lotus's block-topic parameters. Mesh-delivery penalties (P3, P3b) are off, as in Lotus: too little
 * traffic for a fair measure, and a small network is lopsided. Every field is given, because gossipsub
 * fills missing ones with defaults that do penalise mesh deliveries.
 */
const BLOCK_TOPIC_SCORE: TopicScoreParams = {
  topicWeight: 0.1, // single invalid message is -100
  // P1 = min(time in mesh / quantum, cap) x weight: one tick a second, capped at 3600 ticks, so it maxes at
  // ~1 after an hour in the mesh, as Lotus's comment says. Lotus's code writes TimeInMeshCap: 1, which with a
  // one-second quantum stops P1 at 0.00027 after one second; we follow the stated intent.
  timeInMeshWeight: 0.00027, // ~1/3600
  timeInMeshQuantum: 1000,
  timeInMeshCap: 3600,
  firstMessageDeliveriesWeight: 5,
  firstMessageDeliveriesDecay: decayOver(HOUR_MS),
  firstMessageDeliveriesCap: 100,
  meshMessageDeliveriesWeight: 0,
  meshMessageDeliveriesDecay: 0.5,
  meshMessageDeliveriesCap: 0,
  meshMessageDeliveriesThreshold: 0,
  meshMessageDeliveriesWindow: 10,
  meshMessageDeliveriesActivation: 60_000,
  meshFailurePenaltyWeight: 0,
  meshFailurePenaltyDecay: 0.5,
  invalidMessageDeliveriesWeight: -1000,
  invalidMessageDeliveriesDecay: decayOver(HOUR_MS)
}

/** Lotus's message-topic parameters (mesh-delivery penalties off for the same reason). */
const MESSAGE_TOPIC_SCORE: TopicScoreParams = {
  ...BLOCK_TOPIC_SCORE,
  timeInMeshWeight: 0.0002778,
  firstMessageDeliveriesWeight: 0.5,
  firstMessageDeliveriesDecay: decayOver(10 * 60_000),
  firstMessageDeliveriesCap: 100
}

/**
 * The ask topic (ask-gossip.ts): scored so that its validator's Reject counts against the relay at all (a topic
 * without parameters scores nothing, so a flood of bad announcements cost its relay nothing). Invalid deliveries
 * weigh as on the block topic: -100 for one, quadratic, so a relay is graylisted after 6. No credit for first
 * deliveries or time in the mesh: asks are few, and credit earned by forwarding genuine ones would only buy a
 * flooder room for bad ones.
 */
export const ASK_TOPIC_SCORE: TopicScoreParams = {
  ...BLOCK_TOPIC_SCORE,
  timeInMeshWeight: 0,
  firstMessageDeliveriesWeight: 0
}

export function gossipScoreParams (init: Pick<CofferLibp2pInit, 'network' | 'trustedPeers' | 'ipColocationWhitelist'> = {}): PeerScoreParams {
  const trusted = new Set(init.trustedPeers ?? [])
  return {
    topics: init.network === undefined
      ? {}
      : {
          [blocksTopic(init.network)]: BLOCK_TOPIC_SCORE,
          [messagesTopic(init.network)]: MESSAGE_TOPIC_SCORE,
          [askTopic(init.network)]: ASK_TOPIC_SCORE,
          // a forged beacon entry costs its relay as a bad ask does; genuine rounds earn nothing (any relay has them)
          [beaconTopic(init.network)]: ASK_TOPIC_SCORE,
          // so does a forged tab announcement (tab-rendezvous.ts)
          [tabsTopic(init.network)]: ASK_TOPIC_SCORE
        },
    topicScoreCap: 0, // Lotus sets none
    appSpecificScore: (peer) => trusted.has(peer) ? TRUSTED_PEER_SCORE : 0,
    appSpecificWeight: 1,
    IPColocationFactorThreshold: COLOCATION_FREE,
    IPColocationFactorWeight: COLOCATION_WEIGHT,
    IPColocationFactorWhitelist: new Set(init.ipColocationWhitelist ?? LOOPBACK_IPS),
    // Lotus's P7: broken IWANT promises and early re-grafts, decaying over an hour
    behaviourPenaltyThreshold: 6,
    behaviourPenaltyWeight: -10,
    behaviourPenaltyDecay: decayOver(HOUR_MS),
    decayInterval: DECAY_INTERVAL_MS,
    decayToZero: DECAY_TO_ZERO,
    retainScore: 6 * HOUR_MS
  }
}

/** The least time libp2p's connection monitor gives a ping before it aborts the connection (see createCofferLibp2p). */
export const CONNECTION_PING_MIN_TIMEOUT_MS = 60_000

export async function createCofferLibp2p (init: CofferLibp2pInit = {}): Promise<CofferLibp2p> {
  const noiseCrypto = init.noiseCrypto ?? await installedNoiseCrypto()
  return await createLibp2p({
    ...(init.privateKey === undefined ? {} : { privateKey: init.privateKey }),
    addresses: { listen: init.listen ?? [], ...(init.announce === undefined ? {} : { announce: init.announce }) },
    // WebSockets' and yamux's defaults are kept, measured (issue 17; upload-browser bench, 256 MiB from the tab's
    // shared node to a provider on the same two cores): a yamux stream window of 4 MiB from the start (not 256 KiB,
    // grown as yamux sees fit), or a 16 MiB WebSocket send buffer polled every 2 ms (not 4 MiB, every 10 ms), moved
    // where the stage sender waited but not the upload's rate (11.0 and 13.5 MiB/s against 12.3–14.0 with the
    // defaults): the machine's cores were 1.7 of 2 busy, the upload bound by its CPU per MiB, not by a window. The
    // larger buffer made a download slower (21.4 s for 256 MiB against 13.3–13.9).
    transports: [...(init.webSockets === false ? [] : [webSockets()]), ...(init.transports ?? [])],
    connectionEncrypters: [noise(noiseCrypto === undefined ? {} : { crypto: noiseCrypto })],
    streamMuxers: [yamux()],
    ...(init.allowLoopbackDials === true ? { connectionGater: { denyDialMultiaddr: () => false } } : {}),
    // libp2p pings every connection every 10 s and aborts it when a ping misses an adaptive timeout that
    // starts at 5 s. A ping queued behind a full transfer window, or answered by a tab whose worker is busy
    // packing, is late, not lost: at 5 s a loaded machine lost the connection (and every stream on it) in the
    // middle of an upload. A minute is past every idle timeout our protocols keep (30 s), so a dead peer is
    // still noticed by them first, and a connection is never cut for being slow.
    connectionMonitor: { pingTimeout: { minTimeout: CONNECTION_PING_MIN_TIMEOUT_MS, maxTimeout: 2 * CONNECTION_PING_MIN_TIMEOUT_MS } },
    services: {
      identify: identify(),
      ...((init.relayServer ?? init.role === 'node') ? { relay: circuitRelayServer({ reservations: { maxReservations: RELAY_MAX_RESERVATIONS } }) } : {}),
      pubsub: gossipsub({
        // a devnet producer publishes before anyone subscribes; that is not an error
        allowPublishToZeroTopicPeers: true,
        maxInboundDataLength: MAX_BLOCK_MSG_BYTES + 4096,
        scoreParams: gossipScoreParams(init),
        scoreThresholds: GOSSIP_SCORE_THRESHOLDS
      })
    }
  })
}
