// One miner's block production under Expected Consensus, as Lotus's miner loop (miner/miner.go mine) runs it:
// during round e−1, once a propagation delay has let that round's blocks arrive, take the heaviest tipset as the
// base and run the election for round e (the height follows the clock: rounds nobody won are null rounds);
// a winner's block is dated at round e's start (genesis + e × block delay, the timestamp rule every node checks)
// and taken as the node's own and published then, not before (others would refuse it as from the future). Mining never waits on this
// machine's speed: a block mined late is published late with its scheduled timestamp, which is still valid.
import { blocksTopic, encodeBlockMsg, tipSetKeyString, type BeaconSource, type Epoch, type SealedHeader, type TipSet, type UnixSeconds } from '../core'
import type { Gossip } from '../net'
import type { NodeChain } from './chain'

export interface EcProducerInit {
  /** The node's chain: its heaviest tipset, and mining on it (NodeChain.mine stores the block as its own). */
  chain: {
    headTipSet: () => TipSet
    mine: (init: { miner: Uint8Array, workerSecretKey: Uint8Array, height: Epoch, beacon: BeaconSource }) => Promise<SealedHeader | null>
    /** Takes a mined block as the node's own, at its round's start. */
    submit: (block: SealedHeader) => Promise<void>
  }
  /** The miner's ID address bytes, and its worker's BLS secret key. */
  miner: Uint8Array
  workerSecretKey: Uint8Array
  beacon: BeaconSource
  /** The genesis header's timestamp and the block delay: round e starts at genesisTime + e × blockDelaySecs. */
  genesisTime: UnixSeconds
  blockDelaySecs: number
  /** How long into a round the base is taken (Lotus PropagationDelaySecs: 6 s of 30 s); default a fifth of the block delay. */
  propagationDelayMs?: number
  nowMs: () => number
  /** A block this miner won, at its round's start: publish it. */
  onBlock: (h: SealedHeader) => void
  onError: (err: unknown) => void
}

export interface EcProducer {
  stop: () => Promise<void>
  /** Rounds mined so far: how many won, how many ran the election. */
  stats: () => { rounds: number, won: number }
}

export function startEcProducer (init: EcProducerInit): EcProducer {
  const delayMs = init.blockDelaySecs * 1000
  const propagationMs = init.propagationDelayMs ?? Math.floor(delayMs / 5)
  const roundStartMs = (round: Epoch): number => (init.genesisTime + round * init.blockDelaySecs) * 1000
  let timer: ReturnType<typeof setTimeout> | undefined
  let running: Promise<void> = Promise.resolve()
  let stopped = false
  let rounds = 0
  let won = 0

  // the wait for a won block's round: its own timer, settled by stop() too (a stop must not wait for a round)
  let publishTimer: ReturnType<typeof setTimeout> | undefined
  let endWait = (): void => {}
  const wait = async (ms: number): Promise<void> => {
    if (ms <= 0 || stopped) return
    await new Promise<void>(resolve => {
      endWait = resolve
      publishTimer = setTimeout(resolve, ms)
    })
  }

  /** Mines round `round` on the heaviest tipset, publishing at the round's start. */
  const mineRound = async (round: Epoch): Promise<void> => {
    const base = init.chain.headTipSet()
    if (base.height >= round) return // a tipset of this round is already the head: mine the next
    rounds++
    const block = await init.chain.mine({ miner: init.miner, workerSecretKey: init.workerSecretKey, height: round, beacon: init.beacon })
    if (block === null || stopped) return
    won++
    await wait(roundStartMs(round) - init.nowMs())
    if (stopped) return
    // blocks of the rounds before that came after the base was taken (from a slower machine, or a longer way
    // round) made another tipset the head: the block is made again on it, so they join one chain rather than fork.
    // The election does not depend on the base (beacon, height and miner), so a winner still wins there unless the
    // lookback state differs on that fork; then the block on the old base is published as it was
    let final = block
    const head = init.chain.headTipSet()
    if (head.height < round && tipSetKeyString(head.key) !== tipSetKeyString(block.header.parents)) {
      // a failure there (a beacon round, a state read) must not lose the block won on the old base
      final = await init.chain.mine({ miner: init.miner, workerSecretKey: init.workerSecretKey, height: round, beacon: init.beacon }).catch(() => null) ?? block
      if (stopped) return
    }
    await init.chain.submit(final)
    init.onBlock(final)
  }

  let lastRound: Epoch = -1
  const schedule = (): void => {
    if (stopped) return
    // the next round not yet mined (one behind the clock at most: a round already past is not mined late), its
    // base taken at the start of the round before it plus the propagation delay
    const now = init.nowMs()
    const current = Math.floor((now / 1000 - init.genesisTime) / init.blockDelaySecs)
    const round = Math.max(current + 1, lastRound + 1)
    const at = roundStartMs(round - 1) + propagationMs
    timer = setTimeout(() => {
      lastRound = round
      running = mineRound(round).catch(init.onError).finally(schedule)
    }, Math.max(0, at - now))
  }
  schedule()
  return {
    stats: () => ({ rounds, won }),
    stop: async () => {
      stopped = true
      clearTimeout(timer)
      clearTimeout(publishTimer)
      endWait()
      await running
    }
  }
}

/** No other key can make this chain's blocks: mining is for Expected Consensus chains only. */
export class NotExpectedConsensusError extends Error {
  static override name = 'NotExpectedConsensusError'
  override name = 'NotExpectedConsensusError'
  constructor () { super('this chain\'s blocks are made by its single producer: a node mines only under Expected Consensus') }
}

/**
 * One miner's producer on a node's chain, publishing what it wins on block gossip (with the block's messages, as
 * Lotus's BlockMsg): the service each provider runs for its own miner, and the devnet for in-process providers.
 */
export function startPublishingProducer (init: { gossip: Gossip, chain: NodeChain, beacon: BeaconSource, miner: Uint8Array, workerSecretKey: Uint8Array, nowMs: () => number, log: (line: string) => void }): EcProducer {
  const { chain, gossip, log } = init
  const genesis = chain.genesis
  if (genesis.state.consensus !== 'expected') throw new NotExpectedConsensusError()
  const topic = blocksTopic(genesis.state.network)
  // a round's failure is logged when it differs from the last one: the same failure every round (a second each) says
  // nothing new, and a chain whose power is all gone fails so every round until it is started over
  let lastFailure = ''
  return startEcProducer({
    chain,
    miner: init.miner,
    workerSecretKey: init.workerSecretKey,
    beacon: init.beacon,
    genesisTime: genesis.header.header.timestamp,
    blockDelaySecs: genesis.state.blockDelaySecs,
    nowMs: init.nowMs,
    onBlock: (h) => {
      lastFailure = ''
      log(`won the block at height ${h.header.height} (${h.header.electionProof?.winCount ?? 0} wins) on ${h.header.parents.length} parent block(s); publishing`)
      gossip.publish(topic, encodeBlockMsg(h, chain.messagesOf(h))).catch((err: Error) => { log(`gossip: block ${h.header.height}: ${err.message}`) })
    },
    onError: (err) => {
      const e = err as Error
      const line = e.name === 'NoPowerError'
        ? 'producer: no storage power is left on this chain (every provider\'s deals are faulted): no miner can win a block again; a devnet starts over with --reset'
        : `producer: ${e.name}: ${e.message}`
      if (line !== lastFailure) log(line)
      lastFailure = line
    }
  })
}
