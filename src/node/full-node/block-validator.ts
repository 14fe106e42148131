// The block-topic validator of a full node: a gossiped block is relayed only once it has been executed and
// its roots compared (NodeChain.accept), not merely once its signature checks out as on a light client.
// gossip runs it before it delivers or forwards and charges a reject to the propagation source; a
// block that breaks a rule also gets that peer hung up on. A block we cannot check yet (it is more than
// one above our head) is handed to sync and ignored; one we already have is ignored.
import {
  decodeBlockMsgFull, EXCHANGE_OPT_MESSAGES, blockMessagesOf, storeBlockMessages, MemoryBlockStore, type CID, type BlockMessages, type ExchangeRequest, type ExchangeResponse, type Message, type SignedMessage, type SealedHeader, ExchangeStatus
} from '../../core'
import type { GossipMessage, GossipVerdict } from '../../net'
import { judgeBlock } from '../../net/gossip-validation'
import type { NodeChain } from '../chain'
import { BlockRejectedError, MessagesMismatchError } from '../block-errors'
import { isPeerFault, type SyncTarget } from './chain-sync'

export interface FullBlockValidatorInit {
  chain: NodeChain
  nowSecs: () => number
  /** Chain exchange to the propagation source, for the messages our pool lacks. */
  request: (peer: string, req: ExchangeRequest) => Promise<ExchangeResponse>
  /** Connected peers other than `peer` that may serve a block's messages when the one that relayed it cannot. */
  otherPeers?: (peer: string) => string[]
  /** A block above head + 1, or one whose parent we lack: sync towards it from the peer that sent it. */
  offer: (t: SyncTarget) => void
  /** The propagation source broke a rule: hang up on it (gossipsub scores it down on the Reject). */
  onPeerFault: (peer: string, err: Error) => void
  log?: (line: string) => void
}

/** The block's messages from our pool, or null when any is missing. */
function fromPool (chain: NodeChain, bls: CID[], secpk: CID[]): BlockMessages | null {
  const b: Message[] = []
  const s: SignedMessage[] = []
  for (const cid of bls) {
    const sm = chain.mpool.get(cid)
    if (sm === undefined) return null
    b.push(sm.message)
  }
  for (const cid of secpk) {
    const sm = chain.mpool.get(cid)
    if (sm === undefined) return null
    s.push(sm)
  }
  return { bls: b, secp: s }
}

export function fullBlockValidator (init: FullBlockValidatorInit): (m: GossipMessage) => Promise<GossipVerdict<SealedHeader>> {
  const { chain } = init
  const ignore = { verdict: 'ignore' } as const
  const reject = { verdict: 'reject' } as const
  return async (m) => {
    const peer = m.source
    const verdict = judgeBlock(m.data, { genesis: chain.genesis.state, head: () => chain.head(), nowSecs: init.nowSecs, verifiedBeacon: chain.verifiedBeacon })
    if (verdict.verdict === 'reject') {
      init.log?.(`gossip: block from ${peer} rejected: ${verdict.error.name}: ${verdict.error.message}`)
      init.onPeerFault(peer, verdict.error)
      return reject
    }
    if (verdict.verdict === 'ignore') return ignore
    const h = verdict.value
    const head = chain.head()
    // one producer: a block must extend our head; Expected Consensus: any tipset we hold (a second block of the
    // head's height joins its tipset, a fork may become the heaviest)
    const linkable = chain.genesis.state.consensus === 'expected'
      ? chain.holdsTipSet(h.header.parents)
      : h.header.height <= head.header.height + 1 && h.header.parents[0]?.equals(head.cid) === true
    if (!linkable) {
      // not checkable against our head yet: sync decides whether it links, and names the peer if not
      init.offer({ peer, cid: h.cid, height: h.header.height })
      return ignore
    }
    const announced = decodeBlockMsgFull(m.data)
    /** The TxMeta root `b` builds: the header's Messages when they are the block's. */
    const txMetaOf = (b: BlockMessages): CID => storeBlockMessages(new MemoryBlockStore(), b)
    let messages = fromPool(chain, announced.blsMessages, announced.secpkMessages)
    // the announced CIDs are a hint for our pool, not the block: a list that does not build the header's
    // Messages (an announcement that leaves them out) sends us to the source for the block's own
    if (messages !== null && !txMetaOf(messages).equals(h.header.messages)) messages = null
    if (messages === null) {
      // from the peer that handed the block over, else from another peer: the first to relay it may hold no
      // messages (a light client relays blocks it checked), and gossip delivers a block once, whoever sent it first
      const sources = [peer, ...(init.otherPeers?.(peer) ?? [])].slice(0, 4)
      for (const from of sources) {
        try {
          const resp = await init.request(from, { head: [h.cid], length: 1, options: EXCHANGE_OPT_MESSAGES })
          if ((resp.status !== ExchangeStatus.Ok && resp.status !== ExchangeStatus.Partial) || resp.messages?.length !== 1) {
            init.log?.(`gossip: block ${h.header.height} from ${peer}: its messages could not be fetched from ${from} (status ${resp.status}: ${resp.errorMessage})`)
            continue
          }
          const got = blockMessagesOf(resp.messages[0]!, 0)
          // checked against the header here, so that messages that do not build its Messages are charged to the peer
          // that answered (which may not be the one that relayed the block: a startup under load showed an honest
          // producer's block refused, and the producer blamed, for messages another peer sent)
          const built = txMetaOf(got)
          if (!built.equals(h.header.messages)) {
            const err = new MessagesMismatchError(String(h.header.messages), String(built), h.header.height)
            init.log?.(`gossip: block ${h.header.height} from ${peer}: the messages answer of ${from} does not build the block: ${err.message}`)
            init.onPeerFault(from, err)
            if (from === peer) return reject
            continue
          }
          messages = got
          break
        } catch (err) {
          if (isPeerFault(err)) {
            init.log?.(`gossip: block ${h.header.height} from ${peer}: the messages answer of ${from} is invalid: ${(err as Error).name}: ${(err as Error).message}`)
            init.onPeerFault(from, err)
            if (from === peer) return reject
            continue
          }
          init.log?.(`gossip: block ${h.header.height} from ${peer}: fetching its messages from ${from} failed: ${(err as Error).message}`)
        }
      }
      if (messages === null) return ignore
    }
    try {
      // judgeBlock verified its signature above: accept checks the link and the roots, not the pairing again
      return (await chain.accept(h, messages, { signatureVerified: true })) ? { verdict: 'accept', value: h } : ignore
    } catch (err) {
      if (err instanceof BlockRejectedError) {
        init.log?.(`gossip: block ${h.header.height} from ${peer} refused: ${err.name}: ${err.message}`)
        init.onPeerFault(peer, err)
        return reject
      }
      init.log?.(`gossip: block ${h.header.height} from ${peer} not applied: ${(err as Error).message}`)
      return ignore
    }
  }
}
