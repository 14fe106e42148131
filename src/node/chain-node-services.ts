// What every node holding the chain serves, whether it produces blocks (the devnet) or follows them (a full
// node, a provider process): message gossip into its pool (and out of it, for what its own users push),
// verified ask announcements, chain exchange with block messages, the genesis state, state proofs and hello.
// Block gossip differs by role (a producer checks headers, a follower executes blocks) and is left to the caller.
import type { HelloMessage, SealedHeader } from '../core'
import { messagesTopic, encodeSignedMessage, getMinerInfo, listMiners, type Genesis, type MemoryBlockStore } from '../core'
import { serveChainExchange, serveState, runHello, type CofferLibp2p, type Gossip, type Hello } from '../net'
import type { PeerId } from '@libp2p/interface'
import { CID } from 'multiformats/cid'
import { subscribeAsks } from '../net/ask-gossip'
import { subscribeTabs } from '../net/tab-rendezvous'
import type { ChainDb } from './chain-db'
import type { NodeChain } from './chain'
import { messageTopicValidator } from './gossip-validators'
import { MAX_PENDING_PER_SENDER } from './mpool'
import { answerState } from './state-answers'
import { localRepublisher } from './local-republish'
import { serveGenesis } from './full-node/genesis-protocol'
import { encodeGenesisCar } from './full-node/genesis-car'

export interface ChainNodeServicesInit {
  libp2p: CofferLibp2p
  gossip: Gossip
  chain: NodeChain
  db: ChainDb
  /** Holds every genesis state block (what the genesis protocol sends). */
  store: MemoryBlockStore
  genesis: Genesis
  /** The head this node announces and judges gossip against. */
  head: () => SealedHeader
  nowMs: () => number
  log: (line: string) => void
  /** A peer on our genesis said hello (a follower syncs towards its head). */
  onHello?: (peer: PeerId, hello: HelloMessage) => void
}

export async function serveChainNode (init: ChainNodeServicesInit): Promise<Hello> {
  const { libp2p, gossip, chain, db, store, genesis, head, nowMs, log } = init
  const network = genesis.state.network
  // Filecoin's message gossip: anyone may hand the pool a signed message. As in Lotus, the validator is
  // what adds it to the pool, so a message is relayed only once our pool took it.
  const msgTopic = messagesTopic(network)
  gossip.listen(msgTopic, messageTopicValidator({
    // push is async (signatures are checked off the event loop); the author peer feeds per-peer limits
    push: async (sm, author) => await chain.mpool.push(sm, { origin: author === undefined ? undefined : `peer:${author}` }),
    // pooled and being checked: the count the pool's own MpoolFullError is decided on
    pendingCount: (from) => chain.mpool.queued(from),
    maxPendingPerSender: MAX_PENDING_PER_SENDER,
    log
  }))
  // what this node's own users push (the faucet, the JSON-RPC, a provider's worker) goes out on message
  // gossip, as Lotus's MpoolPush publishes, so other nodes hold a block's messages before the block comes
  // (and again every few heads while they wait in the pool, as Lotus republishes local messages: local-republish.ts)
  const republisher = localRepublisher({
    pooled: (cid) => chain.mpool.has(CID.parse(cid)),
    publish: (sm) => { gossip.publish(msgTopic, encodeSignedMessage(sm)).catch((err: Error) => log(`gossip: message: ${err.message}`)) }
  })
  chain.onLocalPush((sm) => { republisher.pushed(sm, head().header.height) })
  chain.onHeadMoved((h) => { if (libp2p.status === 'started') republisher.head(h.header.height) })

  // providers' signed asks (issue 12): checked against the miners' on-chain records before this node relays them
  subscribeAsks(libp2p, network, {
    minerInfoOf: (miner) => chain.readState((s, r) => getMinerInfo(s, r, miner)),
    // the miner list and each record read once per head: a flood naming unknown miners costs a set lookup
    minersOf: () => chain.readState((s, r) => listMiners(s, r)),
    headKey: () => head().cid.toString(),
    epoch: () => head().header.height,
    nowMs
  })

  // tabs' announcements of where they can be reached (issue 15 part 2): validated and relayed, never used here
  subscribeTabs(libp2p, network, () => {})

  // streamed from the stored header bytes, bounded per peer and in all (issue 9: a flood of 900-header
  // requests), with each block's messages (the exchange's Messages option) and the genesis state: what a
  // full node needs to sync from this one and re-execute every block (issue 12)
  await serveChainExchange(libp2p, { headerRun: async (key, length) => await db.headerRun(key, length), messagesOf: (h) => chain.messagesOf(h) })
  await serveGenesis(libp2p, genesis.header.cid, async () => await encodeGenesisCar(store, genesis))
  await serveState(libp2p, async (req) => await answerState(chain, req))
  return await runHello(libp2p, {
    genesisCid: genesis.header.cid,
    head,
    // the whole head tipset and its weight, as Lotus says hello (a light client under Expected Consensus fetches it whole)
    headTipSet: () => ({ key: chain.headTipSet().key, weight: chain.headWeight() }),
    ...(init.onHello === undefined ? {} : { onHello: init.onHello }),
    onError: (peer, err) => {
      if ((err as Error).name === 'GenesisMismatchError') void libp2p.hangUp(peer).catch(() => {})
    },
    clockNs: () => BigInt(nowMs()) * 1_000_000n
  })
}
