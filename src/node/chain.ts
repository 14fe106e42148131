// A full node's chain, state and message pool in one place, in two modes. The devnet's producer builds
// blocks (`produce`); a follower takes them from the network (`accept`), executes each and compares the
// roots its child names. Either way a block's messages are executed once it is the head (as Filecoin does:
// a header carries the state and receipts of its parent's messages), every IPLD block is kept in LevelDB,
// and the node answers the JSON-RPC and light-client queries.
import {
  produceHeader, recordReads, loadBlockMessages, executionContext, applyTipSetMessages, blockAward, makeTipSet, readPower,
  ForkTree, tipSetKeyString, breakWeightTie, tipSetTickets, singleProducerConsensus, ecTipSetWeight, validateEcBlock, readEcMinerView, ecStateRoots,
  latestBeaconEntry, VerifiedBeaconEntries, EquivocationError, FutureBlockError, makeEcHeader, BASE_FEE, ProofIncompleteError, beaconRoundsForBlock, CHAIN_FINALITY, WINNING_POST_SECTOR_SET_LOOKBACK, SYSTEM_ACTOR_ADDRESS,
  type TipSet, type TipSetNode, type TipSetKeyString, MAX_PROVING_PERIOD, storeBlockMessages, tipSetExecutionOrder, blsAggregate,
  getActor, proveActor, amtGet, decodeReceipt, messageCid, decodeSignedMessage, decodeMessage,
  countBlockMessages, readBlockMessages, proveInclusion, readTipSetInclusion, proveTipSetInclusion, RecordingGetter, MemoryBlockStore,
  BLOCK_GAS_LIMIT, MAX_BLOCK_MESSAGES, validateHeaderLink, validateHeaderProducer, validateHeaderSignature, validateHeaderRun, validateHeaderBeaconRounds, validateHeaderBeaconSignatures, beaconRoundsForChild, beaconEntryForEpoch, beaconTimingOf, checkBlockGasLimit, checkBlockSignatures, checkBlockMessageNonces,
  type BeaconEntry, type BeaconSource, type CID, type Epoch, type Genesis, type BlockGetter, type BlockStore, type BlockMessages, type SealedHeader, type SignedMessage, type Message, type Actor, type MessageInclusion, type BlsSigner
} from '../core'
import { Faucet, FaucetUnavailableError, type FaucetInit } from './faucet'
import { ParentMismatchError, StateRootMismatchError, ReceiptsRootMismatchError, MessagesMismatchError, BaseFeeMismatchError, InvalidBlockError, BlockNotYetDueError } from './block-errors'
import type { ChainDb } from './chain-db'
import type { F3View } from './rpc/backend'
import { Mpool, type PushOrigin } from './mpool'
import { threadVerifier, type SignatureVerifier } from './signature-verifier'
import { HeadEvents } from './head-events'
import { mclBeaconCheck, mclBlsSigner } from '../core/finality/mcl-bls'
import type { RpcBackend, MsgLookup, StateProofResult } from './rpc/backend'

/** Messages per block (core/wire.ts: chain exchange refuses an answer listing more). */
export { MAX_BLOCK_MESSAGES }

/** `produce` on a node that holds no producer key (a follower): only the genesis producer signs blocks. */
export class NotProducerError extends Error {
  static override name = 'NotProducerError'
  override name = 'NotProducerError'
  constructor () { super('this node holds no producer key: it follows the chain and cannot produce blocks') }
}

/** Reads through to the node's store and keeps what it writes apart, so a refused block leaves nothing behind. */
class OverlayStore implements BlockStore {
  readonly written = new Map<string, Uint8Array>()
  constructor (private readonly below: BlockGetter) {}
  get (cid: CID): Uint8Array | undefined { return this.written.get(cid.toString()) ?? this.below.get(cid) }
  put (bytes: Uint8Array): CID {
    const scratch = new MemoryBlockStore()
    const cid = scratch.put(bytes)
    this.written.set(cid.toString(), bytes)
    return cid
  }
}

export type { BeaconSource }

/** `produce` on a producer given no beacon: its blocks could not carry the entries every header must. */
export class NoBeaconError extends Error {
  static override name = 'NoBeaconError'
  override name = 'NoBeaconError'
  constructor () { super('this node has no randomness beacon to take its blocks\' beacon entries from') }
}

export interface NodeChainInit {
  db: ChainDb
  genesis: Genesis
  store: MemoryBlockStore
  head: SealedHeader
  /** The genesis producer's BLS secret key; a follower (a full node) has none and only `accept`s blocks. */
  producerKey?: Uint8Array
  /** Where a producer gets the beacon entries its blocks carry (the devnet's own beacon); a follower needs none. */
  beacon?: BeaconSource
  /** A devnet's faucet; a node without one answers `faucet` with FaucetUnavailableError. */
  faucet?: FaucetInit
  nowMs: () => number
  /** Checks pushed messages' signatures; a worker thread unless given (signature-verifier.ts). */
  verifier?: SignatureVerifier
}

/**
 * Tipsets a node keeps in its fork tree below its head: Lotus's ChainFinality for forks, plus the power lookback
 * (WINNING_POST_SECTOR_SET_LOOKBACK) an Expected Consensus block reads state at, so both are found in memory.
 */
export const FORK_TREE_DEPTH: Epoch = CHAIN_FINALITY + WINNING_POST_SECTOR_SET_LOOKBACK

/** What executing a tipset gave: the state and receipts its children name. */
interface Execution { root: CID, receiptsRoot: CID }

export class NodeChain implements RpcBackend {
  readonly mpool: Mpool
  /** The heaviest tipset (its first block is `current`, what head() answers). */
  private headNode!: TipSetNode
  private current: SealedHeader
  /** State the next block's messages apply to: the head's state after the head's own messages. */
  private nextRoot: CID
  private readonly heads = new HeadEvents()
  private readonly faucetPayer: Faucet | null
  /** Every tipset this node holds from FORK_TREE_DEPTH below its head up, on every fork, with their weights. */
  private tree!: ForkTree
  /** The tree root's parent's height (what executing the root needs: its null-round crons). */
  private rootParentHeight: Epoch = -1
  /** Tipsets executed, by key: what their children must name as ParentStateRoot and ParentMessageReceipts. */
  private readonly executions = new Map<TipSetKeyString, Execution>()
  /** Beacon entries whose signatures held: the blocks of one round carry the same ones (Expected Consensus). */
  readonly verifiedBeacon = new VerifiedBeaconEntries()
  /** Signs for this node's miners: mcl-wasm's once loaded (open), noble's before. */
  private signer: BlsSigner | undefined
  /** `accept` calls, one at a time: each checks against the head the one before left. */
  private accepting: Promise<unknown> = Promise.resolve()
  private readonly localPushHooks: Array<(sm: SignedMessage) => void> = []
  private readonly headMovedHooks: Array<(head: SealedHeader) => void> = []
  /** F3 certificates for the JSON-RPC's F3 methods, once the node's F3 service runs (issue 14). */
  finality: F3View | null = null

  private constructor (private readonly init: NodeChainInit, private readonly recent: Map<Epoch, BeaconEntry>) {
    this.current = init.head
    this.nextRoot = init.head.header.parentStateRoot
    this.mpool = new Mpool(init.store, () => this.nextRoot, { verifier: init.verifier ?? threadVerifier(), nowMs: init.nowMs })
    this.faucetPayer = init.faucet === undefined ? null : new Faucet(init.faucet, this.mpool, init.nowMs, (sm) => { this.pushedLocally(sm) })
  }

  /**
   * Calls `fn` with each message this node's own users pushed (its JSON-RPC, its faucet, an in-process
   * provider) once the pool took it: a full node publishes those on /fil/msgs/<network>, as Lotus's
   * MpoolPush does. Messages that came by gossip are not reported (gossipsub already relays them).
   */
  onLocalPush (fn: (sm: SignedMessage) => void): void { this.localPushHooks.push(fn) }

  /** Calls `fn` after each head change (without parking a waiter on the head events, which RPC waits are counted by). */
  onHeadMoved (fn: (head: SealedHeader) => void): void { this.headMovedHooks.push(fn) }

  private pushedLocally (sm: SignedMessage): void {
    for (const fn of this.localPushHooks) {
      try { fn(sm) } catch {}
    }
  }

  /** The in-memory block store's size (every block of the chain's state and messages is held in memory). */
  storeFootprint (): ReturnType<MemoryBlockStore['footprint']> { return this.init.store.footprint() }

  /** Stops the signature verifier thread. */
  async close (): Promise<void> { await this.mpool.close() }

  /** True when this chain's blocks are won by Expected Consensus (the genesis says so), not signed by one producer. */
  private get expected (): boolean { return this.init.genesis.state.consensus === 'expected' }

  static async open (init: NodeChainInit): Promise<NodeChain> {
    const { db } = init
    // challenge seeds look back at most one proving period: keep that many epochs' beacon entries at hand
    const recent = new Map<Epoch, BeaconEntry>()
    const chain = new NodeChain(init, recent)
    // every block's new drand round is checked in gossip and again on taking it (cached): mcl-wasm's check once
    // loaded (not waited for: noble's checks until then)
    if (chain.expected) void mclBeaconCheck().then(c => { chain.verifiedBeacon.useCheck(c) }, () => {})
    // and its miners sign in it once loaded (noble's until then: the same bytes)
    if (chain.expected) void mclBlsSigner().then(s => { chain.signer = s }, () => {})
    // the fork tree from FORK_TREE_DEPTH below the stored head up, over the heaviest chain's tipsets
    const headKey = (await db.headKey()) ?? [init.head.cid]
    const headHeight = (await db.header(headKey[0]!))?.header.height ?? init.head.header.height
    let rootHeight = Math.max(0, headHeight - FORK_TREE_DEPTH)
    let root = await db.tipSetAt(rootHeight)
    while (root === undefined && rootHeight > 0) root = await db.tipSetAt(--rootHeight) // a null round: the tipset below
    if (root === undefined) throw new Error(`the chain store holds no tipset at or below height ${rootHeight}`)
    if (root.height > 0) chain.rootParentHeight = (await db.header(root.blocks[0]!.header.parents[0]!))?.header.height ?? root.height - 1
    chain.tree = new ForkTree({
      root,
      rootWeight: chain.weigh(root),
      weigh: (tipset) => chain.weigh(tipset),
      tieBreak: (a, b) => breakWeightTie(tipSetTickets(a), tipSetTickets(b)),
      maxTipsets: FORK_TREE_DEPTH * 16
    })
    for (let h = root.height + 1; h <= headHeight; h++) {
      const ts = await db.tipSetAt(h)
      if (ts === undefined) continue
      for (const b of ts.blocks) chain.tree.insertBlock(b)
    }
    chain.headNode = chain.tree.get(tipSetKeyString(headKey)) ?? chain.tree.heaviest()
    chain.current = chain.headNode.tipset.blocks[0]!
    let below: Epoch | undefined
    for (let h = Math.max(root.height, headHeight - MAX_PROVING_PERIOD - 2); h <= headHeight; h++) {
      const ts = await db.tipSetAt(h)
      if (ts === undefined) continue
      // the null rounds between a tipset and the one below it are in its first block's entries
      if (below !== undefined) chain.rememberTipSet(ts, below)
      below = ts.height
    }
    // executing the head may create blocks that were never written (a stop right after a block that carried
    // messages): they stay unpersisted and go to disk with the next block
    chain.nextRoot = chain.executionOf(chain.headNode).root
    return chain
  }

  /** A tipset's weight under this chain's consensus (what its children carry as ParentWeight). */
  private weigh (tipset: TipSet): bigint {
    if (!this.expected) return singleProducerConsensus.weight(tipset, undefined)
    // Lotus filcns Weight: the total power in the tipset's ParentStateRoot
    return ecTipSetWeight(tipset, this.totalPowerBelow(tipset))
  }

  /** The network's TotalQualityAdjPower in a tipset's ParentStateRoot: what weighing it (and its children's elections' weight) reads. */
  private totalPowerBelow (tipset: TipSet): bigint {
    return readPower(this.init.store, tipset.blocks[0]!.header.parentStateRoot, SYSTEM_ACTOR_ADDRESS).totalQualityAdjPower
  }

  /** The chain's Expected Consensus configuration: its beacon's clock beside its own, and the beacon's key. */
  private ecConfig (): { timing: ReturnType<typeof beaconTimingOf>, beaconPublicKey: Uint8Array } {
    return { timing: beaconTimingOf(this.init.genesis), beaconPublicKey: this.init.genesis.state.beacon.publicKey }
  }

  /**
   * The execution of `node`'s tipset (Lotus's TipSetState): its blocks' messages applied on their ParentStateRoot,
   * null-round crons first. A genesis is not executed: its state is its own ParentStateRoot, as Lotus short-circuits
   * height 0 (no genesis miner to reward).
   */
  private executionOf (node: TipSetNode, store: BlockStore = this.init.store): Execution {
    const known = this.executions.get(node.key)
    if (known !== undefined) return known
    const ts = node.tipset
    const first = ts.blocks[0]!.header
    let out: Execution
    if (ts.height === 0) {
      out = { root: first.parentStateRoot, receiptsRoot: first.parentMessageReceipts }
    } else {
      // the parent may be a tipset only looked up (peek), not yet taken into the tree
      const parentHeight = node === this.tree.root ? this.rootParentHeight : this.tree.peek(node.parent)!.height
      const blocks = ts.blocks.map(b => ({ ...blockAward(b.header), messages: loadBlockMessages(store, b.header.messages), blsAggregate: b.header.blsAggregate }))
      const ctx = executionContext(store, this.init.genesis.state, first, (e) => this.recent.get(e))
      const applied = applyTipSetMessages(ctx, parentHeight, first.parentStateRoot, blocks)
      out = { root: applied.root, receiptsRoot: applied.receiptsRoot }
    }
    if (store === this.init.store) this.executions.set(node.key, out)
    return out
  }

  /**
   * Keeps the beacon entries of `ts`'s epochs for the challenge seeds drawn from them: its own, and those of the
   * null rounds between `parentHeight` and it, which its first block carries (beaconEntryForEpoch).
   */
  private rememberTipSet (ts: TipSet, parentHeight: Epoch): void {
    const timing = beaconTimingOf(this.init.genesis)
    for (let e = Math.max(parentHeight + 1, ts.height - MAX_PROVING_PERIOD - 1); e <= ts.height; e++) {
      const entry = beaconEntryForEpoch(timing, e, ts.blocks[0]!.header)
      if (entry !== undefined) this.recent.set(e, entry)
    }
    for (const e of this.recent.keys()) if (e < ts.height - MAX_PROVING_PERIOD - 2) this.recent.delete(e)
  }

  /** Builds, signs and stores the next block; returns it for gossip. */
  async produce (nowSecs: number): Promise<SealedHeader> {
    const { store, genesis } = this.init
    if (this.init.producerKey === undefined) throw new NotProducerError()
    if (this.init.beacon === undefined) throw new NoBeaconError()
    const parentNode = this.headNode
    const parent = this.current
    const beaconEntries = await Promise.all(beaconRoundsForChild(parent, genesis).map(async r => await this.init.beacon!.entry(r)))
    // only this method moves a producer's head, and calls are one at a time (the producer's tick awaits each)
    if (this.headNode !== parentNode) throw new Error('the head moved while the beacon was asked')
    const { root, receiptsRoot } = this.executionOf(parentNode)
    const selected = this.mpool.select(MAX_BLOCK_MESSAGES, BLOCK_GAS_LIMIT)
    const blsSigs = selected.bls.map(m => this.mpool.get(messageCid(m))!.signature)
    const next = produceHeader(parent, genesis, this.init.producerKey, nowSecs, beaconEntries, {
      parentStateRoot: root,
      parentMessageReceipts: receiptsRoot,
      messages: storeBlockMessages(store, selected),
      blsAggregate: blsSigs.length > 0 ? blsAggregate(blsSigs) : null
    })
    await this.store(next)
    return next
  }

  /**
   * Follower mode: validates `h` with the messages sent for it and stores both; `h` joins the fork tree, and
   * the head moves when the tipset it makes (or one above it) is the heaviest. The header rules are the
   * consensus's (single producer: link, timestamp, producer, signature, beacon, as the light client and the
   * gossip validator check them; Expected Consensus: validateEcBlock with the miner's view read from this
   * node's state); then, as Lotus's syncer does, its ParentStateRoot and ParentMessageReceipts must be what
   * executing its parent tipset gives, its messages must build the TxMeta its Messages names and obey the
   * block gas limit and their signatures, and its own messages must execute on the state it names. Throws a
   * BlockRejectedError naming the rule and stores nothing when any fails. Calls run one at a time; `h`
   * already stored (on any fork) is no error: false.
   */
  async accept (h: SealedHeader, messages: BlockMessages, opts: { signatureVerified?: boolean } = {}): Promise<boolean> {
    return await this.queued(async () => await this.acceptNow(h, messages, opts.signatureVerified === true ? 'signature' : 'none'))
  }

  /**
   * `accept` for a run of linked blocks (ascending), as sync hands them over: their header rules are
   * checked together first (validateHeaderRun: one batch signature check, ≈3x fewer ms per header than
   * one pairing check each), then each block as `accept` does. Returns the blocks stored (each also
   * reported to `onStored` as it is); a block that breaks a rule throws its named error once the blocks
   * below it are stored. `signaturesVerified`: the caller (sync, as each chain-exchange answer came)
   * already verified every header's producer signature, so only the cheap rules run here (a header's
   * hash-to-curve costs milliseconds; checking them twice halved sync's rate).
   */
  async acceptRun (blocks: Array<{ header: SealedHeader, messages: BlockMessages }>, onStored?: (h: SealedHeader) => void, opts: { signaturesVerified?: boolean } = {}): Promise<SealedHeader[]> {
    return await this.queued(async () => {
      const above = blocks.filter(b => b.header.header.height > this.current.header.height)
      const now = Math.floor(this.init.nowMs() / 1000)
      let checked = false
      if (!this.expected) {
        try {
          if (opts.signaturesVerified === true) {
            let parent = this.current
            for (const b of above) {
              validateHeaderLink(b.header, parent, now)
              validateHeaderProducer(b.header, this.init.genesis.state)
              validateHeaderBeaconRounds(b.header, parent, this.init.genesis)
              parent = b.header
            }
          } else {
            validateHeaderRun(above.map(b => b.header), this.current, this.init.genesis, now, (n) => crypto.getRandomValues(new Uint8Array(n)))
          }
          checked = true
        } catch {
          // some header breaks a rule: one by one below, so those before it are stored and it is named
        }
      }
      // only the blocks the run check covered (above the head, linked from it) skip the rules again
      const covered = new Set(checked ? above.map(b => String(b.header.cid)) : [])
      const stored: SealedHeader[] = []
      for (const b of blocks) {
        if (await this.acceptNow(b.header, b.messages, covered.has(String(b.header.cid)) ? 'all' : 'none')) {
          stored.push(b.header)
          onStored?.(b.header)
        }
      }
      return stored
    })
  }

  /**
   * F3 finality (issue 14): a certificate finalized `key`; from now on the head is it or a tipset above it, whatever a
   * fork beside it weighs (a head off it moves back onto it). False when the tree does not hold that tipset (this
   * node has not seen it yet, or it is below the tree's root, where every tipset descends from it already).
   */
  async finalize (key: readonly CID[]): Promise<boolean> {
    return await this.queued(async () => {
      const k = tipSetKeyString(key)
      if (this.tree.get(k) === undefined) return false
      this.tree.setFinalized(k)
      await this.moveHead()
      return true
    })
  }

  private async queued<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.accepting.then(fn)
    this.accepting = run.catch(() => {})
    return await run
  }

  /** Tipsets on `parent`'s chain, from the fork tree: what ecStateRoots reads the lookback from. */
  private chainBelow (parent: TipSetNode): { tipSetAtOrAbove: (height: Epoch) => TipSet, tipSetOf: (key: CID[]) => TipSet } {
    return {
      tipSetAtOrAbove: (height: Epoch): TipSet => {
        let node = parent
        let found = parent
        while (node.height >= height) {
          found = node
          if (node === this.tree.root) break
          node = this.tree.get(node.parent)!
        }
        if (found.height < height) throw new RangeError(`no tipset at or above ${height} below the parent`)
        return found.tipset
      },
      tipSetOf: (key: CID[]): TipSet => {
        const node = this.tree.peek(tipSetKeyString(key))
        if (node === undefined) throw new RangeError('the lookback tipset is below this node\'s fork tree')
        return node.tipset
      }
    }
  }

  /** The latest beacon entry on `parent`'s chain (Lotus's GetLatestBeaconEntry over the fork tree). */
  private prevBeaconEntry (parent: TipSetNode): BeaconEntry {
    return latestBeaconEntry(parent.tipset.blocks[0]!.header, (x) => this.tree.get(tipSetKeyString(x.parents))?.tipset.blocks[0]!.header)
  }

  /**
   * Expected Consensus mining (Lotus miner.mineOne) on the head tipset for `height` (the head's height + 1, or
   * more after null rounds), or on `base` when given: null when `miner` is not eligible or does not win; else its block, carrying the
   * pool's best messages, not yet stored: `submit` takes it once its round has started. The beacon entries the
   * block carries come from `beacon` (awaited before anything is built).
   */
  async mine (init: { miner: Uint8Array, workerSecretKey: Uint8Array, height: Epoch, beacon: BeaconSource, base?: CID[] }): Promise<SealedHeader | null> {
    if (!this.expected) throw new Error('this chain\'s blocks are made by its single producer (produce), not mined')
    const timing = beaconTimingOf(this.init.genesis)
    const entries = new Map<number, BeaconEntry>()
    // the entries the block needs depend on its parent: fetched for the head, and again if blocks that came
    // meanwhile (accepted before this call's turn) made another tipset the head
    for (let attempt = 0; ; attempt++) {
      // Lotus's mineOne takes its base: a given tipset (several miners of one node mining the same round), else the head
      const given = init.base === undefined ? undefined : this.tree.peek(tipSetKeyString(init.base))
      if (init.base !== undefined && given === undefined) throw new RangeError('the base tipset is not in this node\'s fork tree')
      const parent = given ?? this.headNode
      if (parent.height >= init.height) return null // a tipset of this round is already the head
      for (const round of beaconRoundsForBlock(timing, init.height, parent.height, this.prevBeaconEntry(parent))) {
        if (!entries.has(round)) entries.set(round, await init.beacon.entry(round))
      }
      const mined = await this.queued(async () => given !== undefined || this.headNode === parent ? await this.mineOn(parent, init, entries) : undefined)
      if (mined !== undefined) return mined
      if (attempt >= 8) return null // the head keeps moving: this round is others'
    }
  }

  /** mine's work on `parent`, the head while the caller holds the accept queue. */
  private async mineOn (parent: TipSetNode, init: { miner: Uint8Array, workerSecretKey: Uint8Array, height: Epoch }, entries: Map<number, BeaconEntry>): Promise<SealedHeader | null> {
    const { store } = this.init
    const prev = this.prevBeaconEntry(parent)
    const view = readEcMinerView(store, ecStateRoots(init.height, parent.tipset, this.chainBelow(parent)), init.miner)
    if (view === null) return null
    const execution = this.executionOf(parent)
    // the election first (most rounds lose): messages are selected only for a winner
    return makeEcHeader({
      workerSecretKey: init.workerSecretKey, miner: init.miner, parent: parent.tipset, height: init.height,
      config: this.ecConfig(), prevBeaconEntry: prev, view,
      parentTotalPower: this.totalPowerBelow(parent.tipset),
      beaconEntry: (round: number) => entries.get(round)!,
      ...(this.signer === undefined ? {} : { sign: this.signer }),
      body: () => {
        const selected = this.mpool.select(MAX_BLOCK_MESSAGES, BLOCK_GAS_LIMIT)
        const blsSigs = selected.bls.map(m => this.mpool.get(messageCid(m))!.signature)
        return {
          parentStateRoot: execution.root,
          parentMessageReceipts: execution.receiptsRoot,
          messages: storeBlockMessages(store, selected),
          blsAggregate: blsSigs.length > 0 ? blsAggregate(blsSigs) : null
        }
      }
    })
  }

  /**
   * Takes a block `mine` made as this node's own (Lotus's SyncSubmitBlock once the miner slept until its
   * timestamp): stored and into the fork tree, the head moved if its tipset is the heaviest. Not before its round
   * starts: a head dated in the future would be served to peers that refuse it.
   */
  async submit (block: SealedHeader): Promise<void> {
    await this.queued(async () => { if (!this.tree.hasBlock(block.cid)) await this.store(block) })
  }

  /** The header rules of the chain's consensus for `h` on `parent`; `checked` says what the caller already verified. */
  private validateHeaderOn (h: SealedHeader, parent: TipSetNode, checked: 'all' | 'signature' | 'none'): void {
    const { genesis, store } = this.init
    const now = Math.floor(this.init.nowMs() / 1000)
    if (this.expected) {
      const access = this.chainBelow(parent)
      validateEcBlock(h, parent.tipset, {
        config: this.ecConfig(),
        now,
        prevBeaconEntry: this.prevBeaconEntry(parent),
        parentTotalPower: this.totalPowerBelow(parent.tipset),
        minerView: (miner) => readEcMinerView(store, ecStateRoots(h.header.height, parent.tipset, access), miner),
        randomBytes: (n) => crypto.getRandomValues(new Uint8Array(n)),
        verifiedBeacon: this.verifiedBeacon
      })
      return
    }
    // one producer makes one block an epoch: its chain's tipsets hold one block
    const parentBlock = parent.tipset.blocks[0]!
    if (checked !== 'all') {
      validateHeaderLink(h, parentBlock, now)
      validateHeaderProducer(h, genesis.state)
      validateHeaderBeaconRounds(h, parentBlock, genesis)
    }
    if (checked === 'none') {
      validateHeaderSignature(h, genesis.state)
      validateHeaderBeaconSignatures(h, genesis)
    }
  }

  /**
   * `checked`: what the caller already verified of the header's rules — 'all' (a run checked together),
   * 'signature' (the gossip validator's judgeBlock verified the producer's signature and the beacon entries': one pairing check per
   * block is the most of a follower's CPU, measured at ~2/3 of it with the check made twice), or 'none'.
   */
  private async acceptNow (h: SealedHeader, messages: BlockMessages, checked: 'all' | 'signature' | 'none'): Promise<boolean> {
    const { store } = this.init
    // held: in the tree, or stored below it; a stored block the tree lacks (a fork before a restart, an insert that
    // failed) is validated and taken in again
    if (this.tree.hasBlock(h.cid)) return false
    if (h.header.height <= this.tree.root.height && (await this.init.db.header(h.cid)) !== undefined) return false
    const height = h.header.height
    // looked up, not taken in: a parent key only a block that passes every rule may add to the tree
    const parent = this.tree.peek(tipSetKeyString(h.header.parents))
    if (parent === undefined) throw new ParentMismatchError(this.current.cid.toString(), h.header.parents.map(String).join(','), height)
    try {
      this.validateHeaderOn(h, parent, checked)
    } catch (err) {
      // from the future by our clock: not (yet) invalid, and no fault of whoever sent it (Lotus's ErrTemporal)
      if (err instanceof FutureBlockError) throw new BlockNotYetDueError(height, err.timestamp, err.now)
      throw new InvalidBlockError(err as Error, height)
    }
    // the fee every message of the tipset is charged by (execution takes it from the tipset's first block)
    if (h.header.parentBaseFee !== BASE_FEE) throw new BaseFeeMismatchError(BASE_FEE, h.header.parentBaseFee, height)
    let expected: Execution
    try {
      expected = this.executionOf(parent)
    } catch (err) {
      if (err instanceof ProofIncompleteError) throw err
      // a tipset that cannot be executed (marked bad) has no state for a child to name
      throw new InvalidBlockError(err as Error, height)
    }
    const claimedRoot = String(h.header.parentStateRoot)
    const claimedReceipts = String(h.header.parentMessageReceipts)
    if (claimedRoot !== String(expected.root)) throw new StateRootMismatchError(String(expected.root), claimedRoot, height)
    if (claimedReceipts !== String(expected.receiptsRoot)) throw new ReceiptsRootMismatchError(String(expected.receiptsRoot), claimedReceipts, height)
    // its messages, in a scratch overlay: they reach the node's store only once every rule held
    const overlay = new OverlayStore(store)
    const txMeta = storeBlockMessages(overlay, messages)
    if (String(txMeta) !== String(h.header.messages)) throw new MessagesMismatchError(String(h.header.messages), String(txMeta), height)
    try {
      // Lotus's checkBlockMessages: the gas limits add up to at most the block's, every signature verifies
      checkBlockGasLimit(messages)
      checkBlockSignatures(messages, h.header.blsAggregate)
      // and the senders are accounts whose nonces follow on, in the state the block names (verified above)
      checkBlockMessageNonces(overlay, h.header.parentStateRoot, messages)
    } catch (err) {
      throw new InvalidBlockError(err as Error, height)
    }
    // its own messages now, as a tipset of this block alone on the state it names, so a block that cannot be
    // executed is refused here (before the tipset it joins is executed as a whole)
    const alone: TipSetNode = { tipset: makeTipSet([h]), key: tipSetKeyString([h.cid]), parent: parent.key, height, weight: 0n }
    // its epochs' beacon entries first: its cron draws this epoch's challenge seeds from them (the same rounds on every fork)
    this.rememberTipSet(alone.tipset, parent.height)
    let execution: Execution
    try {
      execution = this.executionOf(alone, overlay)
    } catch (err) {
      throw new InvalidBlockError(err as Error, height)
    }
    for (const bytes of overlay.written.values()) store.put(bytes)
    // the tipset of this block alone is executed now (its blocks are in the store): kept, so it is not run again
    this.executions.set(alone.key, execution)
    await this.store(h)
    // the pool's own bookkeeping once a block, as a producer's selection does it: drops the messages the
    // chain has now used and ages those stuck behind a nonce gap (selects nothing)
    this.mpool.select(0)
    return true
  }

  /**
   * Stores `h` (header and the blocks it brought) and takes it into the fork tree; then, when the heaviest
   * tipset is another than the head, moves the head there: the chain store's indexes in one batch, the pool's
   * state, the beacon entries kept, and waiters on the next head. An equivocating block is stored (a child may
   * name it) and left out of tipset formation, as Lotus does; it is refused by name.
   */
  private async store (h: SealedHeader): Promise<void> {
    const { store, db } = this.init
    const blocks = store.unpersisted()
    await db.putHeaders([h], blocks)
    store.persisted(blocks.keys())
    const parent = this.tree.peek(tipSetKeyString(h.header.parents))
    if (parent !== undefined) this.rememberTipSet(makeTipSet([h]), parent.height)
    try {
      this.tree.insertBlock(h)
    } catch (err) {
      if (!(err instanceof EquivocationError)) throw err
      // both of the miner's blocks at this height are out of every tipset formed there: the head may fall back
      await this.moveHead()
      throw new InvalidBlockError(err, h.header.height)
    }
    await this.moveHead()
  }

  private async moveHead (): Promise<void> {
    let best = this.tree.heaviest()
    let execution: Execution | undefined
    while (best.key !== this.headNode.key) {
      // a tipset is executed before it is the head: one that cannot be (each of its blocks ran alone, together they
      // do not) is marked bad, as Lotus's syncer does, and the next heaviest is taken
      try {
        for (const n of this.tree.reorgPath(this.headNode, best).applied) this.executionOf(n)
        // (best itself when nothing is applied: a fall back to an ancestor, after an equivocation or a bad tipset)
        execution = this.executionOf(best)
        break
      } catch (err) {
        if (err instanceof ProofIncompleteError) throw err // a block missing from our store is our fault, not the tipset's
        this.tree.markBad(this.badTipSetOf(best))
        best = this.tree.heaviest()
        execution = undefined
      }
    }
    if (best.key === this.headNode.key || execution === undefined) return
    const path = this.tree.reorgPath(this.headNode, best)
    const applied = path.applied.map(n => ({ tipset: n.tipset, messages: this.executedMessages(n) }))
    const blocks = this.init.store.unpersisted()
    await this.init.db.setHead(path.reverted.map(n => n.tipset), applied, blocks)
    this.init.store.persisted(blocks.keys())
    // the messages of the tipsets left behind go back to the pool (Lotus HeadChange); the next selection drops
    // those the new head used
    if (path.reverted.length > 0) this.mpool.restore(path.reverted.flatMap(n => n.tipset.blocks.map(b => loadBlockMessages(this.init.store, b.header.messages))))
    for (const n of path.applied) this.rememberTipSet(n.tipset, this.tree.get(n.parent)?.height ?? n.height - 1)
    this.headNode = best
    this.current = best.tipset.blocks[0]!
    this.nextRoot = execution.root
    this.pruneTree()
    this.heads.moved()
    for (const fn of this.headMovedHooks) {
      try { fn(this.current) } catch {}
    }
  }

  /** The lowest tipset on the path to `best` whose execution fails (the one to mark bad). */
  private badTipSetOf (best: TipSetNode): TipSetKeyString {
    for (const n of this.tree.reorgPath(this.headNode, best).applied) {
      try { this.executionOf(n) } catch { return n.key }
    }
    return best.key
  }

  /** The messages a tipset carries, in its execution order: the message index the chain store keeps for it. */
  private executedMessages (node: TipSetNode): Array<{ cid: CID, index: number }> {
    const blocks = node.tipset.blocks.map(b => ({ messages: loadBlockMessages(this.init.store, b.header.messages) }))
    return tipSetExecutionOrder(blocks).map((x, index) => ({ cid: x.cid, index }))
  }

  /** Keeps FORK_TREE_DEPTH of tipsets below the head (pruned in steps, not at every block), and their executions. */
  private pruneTree (): void {
    if (this.headNode.height - this.tree.root.height <= FORK_TREE_DEPTH + 64) return
    let node = this.headNode
    while (node.height > this.headNode.height - FORK_TREE_DEPTH) node = this.tree.get(node.parent)!
    const parent = this.tree.get(node.parent)
    this.rootParentHeight = parent?.height ?? node.height - 1
    this.tree.prune(node.key)
    for (const key of this.executions.keys()) if (this.tree.get(key) === undefined) this.executions.delete(key)
  }

  /** A stored block's messages (chain exchange's Messages option serves them), or undefined when we lack them. */
  messagesOf (h: SealedHeader): BlockMessages | undefined {
    try {
      return readBlockMessages(this.init.store, h.header.messages)
    } catch {
      return undefined
    }
  }

  get genesis (): Genesis { return this.init.genesis }

  /** Reads the state the head names (its ParentStateRoot), over the node's own blocks. */
  readState<T> (read: (store: BlockGetter, root: CID) => T, at?: SealedHeader): T {
    return read(this.init.store, (at ?? this.current).header.parentStateRoot)
  }

  /** True when this node's block store holds `cid` (a state root it can prove reads from, say). */
  holdsBlock (cid: CID): boolean { return this.init.store.get(cid) !== undefined }

  /** The blocks `read` walks in this node's store, whatever roots it starts from: what a light client replays it over. */
  proveReads (read: (store: BlockGetter) => unknown): Uint8Array[] {
    return recordReads(this.init.store, read)
  }

  /** The blocks `read` walks under `at`'s state: what a light client needs to replay it. */
  proveState (read: (store: BlockGetter, root: CID) => unknown, at: SealedHeader): Uint8Array[] {
    return recordReads(this.init.store, (g) => read(g, at.header.parentStateRoot))
  }

  // ---- RpcBackend ----
  networkName (): string { return this.init.genesis.state.network }
  blockDelaySecs (): number { return this.init.genesis.state.blockDelaySecs }
  /** The head tipset's first block (Lotus's order): every block of a tipset names the same parents and state. */
  head (): SealedHeader { return this.current }
  /** The heaviest tipset, all its blocks. */
  headTipSet (): TipSet { return this.headNode.tipset }
  /** The heaviest tipset's weight (what a hello announces; its children carry it as ParentWeight). */
  headWeight (): bigint { return this.headNode.weight }
  /** Tipsets in the fork tree (a figure for status and tests: refused blocks must not grow it). */
  get forkTreeSize (): number { return this.tree.size }
  /** True when each of these blocks is in this node's fork tree (stored and validated), whatever tipset it is in now. */
  holdsBlocks (key: readonly CID[]): boolean { return key.every(c => this.tree.hasBlock(c)) }
  /** True when the tipset of these blocks is in this node's fork tree (each block stored and validated). */
  holdsTipSet (key: readonly CID[]): boolean { return this.tree.peek(tipSetKeyString(key)) !== undefined }
  async headerAt (height: number): Promise<SealedHeader | undefined> { return await this.init.db.headerAt(height) }
  /** The first block at or above `height` on the heaviest chain up to the head (past null rounds), or undefined. */
  async headerAtOrAbove (height: Epoch): Promise<SealedHeader | undefined> { return await this.init.db.headerAtOrAbove(height, this.current.header.height) }
  /** The last block at or below `height` on the heaviest chain (past null rounds), or undefined above the head. */
  async headerAtOrBelow (height: Epoch): Promise<SealedHeader | undefined> {
    return height > this.current.header.height ? undefined : await this.init.db.headerAtOrBelow(height)
  }

  /** The beacon entry of `epoch`'s round as the heaviest chain carries it (a null round's in the block above it). */
  async beaconEntryAt (epoch: Epoch): Promise<BeaconEntry | undefined> {
    const h = await this.headerAtOrAbove(epoch)
    return h === undefined ? undefined : beaconEntryForEpoch(beaconTimingOf(this.init.genesis), epoch, h.header)
  }
  /** The heaviest chain's tipset at `height` (undefined: a null round, or not that high yet). */
  async tipSetAt (height: number): Promise<TipSet | undefined> { return await this.init.db.tipSetAt(height) }

  async headerByCid (cid: CID): Promise<SealedHeader | undefined> { return await this.init.db.header(cid) }

  async getMessage (cid: CID): Promise<Message | undefined> {
    const bytes = this.init.store.get(cid)
    if (bytes !== undefined) {
      try { return decodeSignedMessage(bytes).message } catch {}
      try { return decodeMessage(bytes) } catch {}
    }
    return this.mpool.get(cid)?.message
  }

  async getActor (address: Uint8Array, at?: SealedHeader): Promise<Actor | null> {
    return getActor(this.init.store, (at ?? this.current).header.parentStateRoot, address)
  }

  /** `from.origin` keys the pool's failure limits (the RPC client's address); `local` is for this process's own signers. */
  async mpoolPush (sm: SignedMessage, from: PushOrigin = {}): Promise<CID> {
    const cid = await this.mpool.push(sm, from)
    this.pushedLocally(sm)
    return cid
  }
  /** Past the pooled messages only: a message still being checked reserves no nonce (it may be forged). */
  async mpoolNonce (address: Uint8Array): Promise<number> { return this.mpool.nextNonce(address) }

  /**
   * Where the heaviest chain executed `cid`: the tipset that included it (`included`: its first block), the next
   * tipset above it whose ParentMessageReceipts hold the receipt (`executed`, past null rounds), the receipt's
   * index in the included tipset's execution order, and the blocks proving both against the two headers. The
   * proof is null for a tipset of several blocks (or a block that lists a message twice): there the receipt's
   * index is not the message's position in one block's TxMeta, which is all a proof of today's form ties it to.
   */
  async inclusion (cid: CID): Promise<{ included: SealedHeader, executed: SealedHeader, index: number, proof: MessageInclusion | null } | null> {
    const { store } = this.init
    const found = await this.executedAt(cid)
    if (found === null) return null
    const { at, included, executed } = found
    const first = included.blocks[0]!
    // provable when the receipt index is the message's place in the one block's TxMeta: one block, no repeats
    const listed = included.blocks.length === 1 ? loadBlockMessages(store, first.header.messages) : null
    const order = listed === null ? [] : tipSetExecutionOrder([{ messages: listed }])
    const provable = listed !== null && order.length === listed.bls.length + listed.secp.length && order[at.index]?.cid.equals(cid) === true
    const proof = provable ? proveInclusion(store, first.header.messages, executed.header.parentMessageReceipts, at.index) : null
    return { included: first, executed, index: at.index, proof }
  }

  /**
   * Where `cid` was executed on the heaviest chain, with a proof of its receipt that holds for a tipset of any
   * number of blocks (tipset-inclusion.ts): the including tipset, a block of the next tipset (whose
   * ParentMessageReceipts hold the receipt), the message's place in execution order and the proof's blocks.
   */
  async tipSetInclusion (cid: CID): Promise<{ included: TipSet, executed: SealedHeader, index: number, blocks: Uint8Array[] } | null> {
    const { store } = this.init
    const found = await this.executedAt(cid)
    if (found === null) return null
    const { included, executed } = found
    const txMetas = included.blocks.map(b => b.header.messages)
    const receipts = executed.header.parentMessageReceipts
    const { index } = readTipSetInclusion(store, txMetas, receipts, cid)
    return { included, executed, index, blocks: proveTipSetInclusion(store, txMetas, receipts, cid) }
  }

  /** The heaviest chain's tipset that included `cid` and the first block above it (past null rounds), or null until both exist. */
  private async executedAt (cid: CID): Promise<{ at: { height: Epoch, index: number }, included: TipSet, executed: SealedHeader } | null> {
    const { db } = this.init
    const at = await db.messageIndex(cid)
    if (at === undefined) return null
    const included = await db.tipSetAt(at.height)
    const executed = await db.headerAtOrAbove(at.height + 1, this.current.header.height)
    if (included === undefined || executed === undefined) return null
    return { at, included, executed }
  }

  async searchMessage (cid: CID): Promise<MsgLookup | null> {
    const found = await this.inclusion(cid)
    if (found === null) return null
    const raw = amtGet(this.init.store, found.executed.header.parentMessageReceipts, found.index, 'v0')
    // the tipset of the block whose receipts hold it: Lotus's MsgLookup.TipSet names all its blocks
    const executedTipSet = await this.init.db.canonicalKey(found.executed.header.height)
    return { message: cid, receipt: decodeReceipt(raw), executedIn: found.executed, ...(executedTipSet === undefined ? {} : { executedTipSet }) }
  }

  async nextHead (signal: AbortSignal): Promise<void> { await this.heads.next(signal) }

  async waitMessage (cid: CID, signal: AbortSignal): Promise<MsgLookup> {
    for (;;) {
      signal.throwIfAborted()
      const found = await this.searchMessage(cid)
      if (found !== null) return found
      await this.heads.next(signal)
    }
  }

  async stateProof (address: Uint8Array, at?: SealedHeader): Promise<StateProofResult> {
    const header = at ?? this.current
    const proof = proveActor(this.init.store, header.header.parentStateRoot, address)
    return { header, actor: getActor(this.init.store, header.header.parentStateRoot, address), proof }
  }

  /** The TxMeta and both AMT roots of a block (enough to count its messages), or with `full` every message. */
  blockMessagesProof (h: SealedHeader, full: boolean): Uint8Array[] {
    const rec = new RecordingGetter(this.init.store)
    // the gas rule is the reader's to apply: a block stored before it is still served as it is
    if (full) readBlockMessages(rec, h.header.messages)
    else countBlockMessages(rec, h.header.messages)
    return rec.blocks()
  }

  async faucet (address: Uint8Array): Promise<CID> {
    if (this.faucetPayer === null) throw new FaucetUnavailableError()
    return await this.faucetPayer.pay(address)
  }
}
