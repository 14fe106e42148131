// A full node's chain, state and message pool in one place, in two modes. The devnet's producer builds
// blocks (`produce`); a follower takes them from the network (`accept`), executes each and compares the
// roots its child names. Either way a block's messages are executed once it is the head (as Filecoin does:
// a header carries the state and receipts of its parent's messages), every IPLD block is kept in LevelDB,
// and the node answers the JSON-RPC and light-client queries.
import {
  produceHeader, recordReads, loadBlockMessages, applyBlockMessages, executionContext, MAX_PROVING_PERIOD, storeBlockMessages, tipSetExecutionOrder, blsAggregate,
  getActor, proveActor, amtGet, decodeReceipt, messageCid, decodeSignedMessage, decodeMessage,
  signMessage, countBlockMessages, readBlockMessages, proveInclusion, RecordingGetter, MemoryBlockStore, TRANSFER_GAS_LIMIT, TRANSFER_GAS_FEE_CAP, TRANSFER_GAS_PREMIUM, METHOD_SEND,
  BLOCK_GAS_LIMIT, MAX_BLOCK_MESSAGES, isKeyAddress, addressToString, validateHeaderLink, validateHeaderProducer, validateHeaderSignature, validateHeaderRun, validateHeaderBeaconRounds, validateHeaderBeaconSignatures, beaconRoundsForChild, beaconEntryForEpoch, beaconTimingOf, checkBlockGasLimit, checkBlockSignatures,
  type BeaconEntry, type BeaconSource, type CID, type Epoch, type Genesis, type BlockGetter, type BlockStore, type BlockMessages, type SealedHeader, type SignedMessage, type Message, type Actor, type MessageInclusion
} from '../core'
import { TokenBuckets } from '../core/rate-limit'
import type { ChainDb } from './chain-db'
import { Mpool, type PushOrigin } from './mpool'
import { threadVerifier, type SignatureVerifier } from './signature-verifier'
import { HeadEvents } from './head-events'
import type { RpcBackend, MsgLookup, StateProofResult } from './rpc/backend'

/** Messages per block (core/wire.ts: chain exchange refuses an answer listing more). */
export { MAX_BLOCK_MESSAGES }

export class FaucetLimitError extends Error {
  static override name = 'FaucetLimitError'
  override name = 'FaucetLimitError'
  readonly code = 'FAUCET_LIMIT'
  constructor (readonly retryAfterMs: number) { super(`faucet already paid this address; try again in ${Math.ceil(retryAfterMs / 1000)} s`) }
}

export class FaucetBusyError extends Error {
  static override name = 'FaucetBusyError'
  override name = 'FaucetBusyError'
  readonly code = 'FAUCET_BUSY'
  constructor (pending: number) { super(`the faucet has ${pending} payments waiting for a block; try again in a few seconds`) }
}

/** The faucet pays key addresses (f1/f3) only: an actor (the burn address t099, the market) or an ID address is refused. */
export class FaucetAddressError extends Error {
  static override name = 'FaucetAddressError'
  override name = 'FaucetAddressError'
  readonly code = 'FAUCET_ADDRESS'
  constructor (address: string) { super(`the faucet pays f1/f3 key addresses only, not ${address}`) }
}

/** Payments across all addresses are over the faucet's rate (fresh keys cost nothing to make). */
export class FaucetRateError extends Error {
  static override name = 'FaucetRateError'
  override name = 'FaucetRateError'
  readonly code = 'FAUCET_RATE'
  constructor (readonly retryAfterMs: number) { super(`the faucet is paying as fast as it may; try again in ${Math.ceil(retryAfterMs / 1000)} s`) }
}

/** `produce` on a node that holds no producer key (a follower): only the genesis producer signs blocks. */
export class NotProducerError extends Error {
  static override name = 'NotProducerError'
  override name = 'NotProducerError'
  constructor () { super('this node holds no producer key: it follows the chain and cannot produce blocks') }
}

/** The faucet was asked of a node that has none (a full node that is not the devnet). */
export class FaucetUnavailableError extends Error {
  static override name = 'FaucetUnavailableError'
  override name = 'FaucetUnavailableError'
  readonly code = 'FAUCET_UNAVAILABLE'
  constructor () { super('this node runs no faucet: ask the devnet\'s own JSON-RPC (its bootstrap document names it)') }
}

/**
 * Why a follower refused a block. Every one is the block's fault (any node executing it finds the same),
 * so the peer that handed it over broke a rule; `height` is the refused block's.
 */
export class BlockRejectedError extends Error {
  static override name = 'BlockRejectedError'
  override name = 'BlockRejectedError'
  constructor (message: string, readonly height: Epoch) { super(message) }
}

/** The block does not extend our head (one producer means one chain; forks are issue 13's). */
export class ParentMismatchError extends BlockRejectedError {
  static override name = 'ParentMismatchError'
  override name = 'ParentMismatchError'
  readonly code = 'PARENT_MISMATCH'
  constructor (readonly head: string, readonly parents: string, height: Epoch) {
    super(`block at height ${height} has parents ${parents || '(none)'}, not our head ${head}`, height)
  }
}

/** Executing the parent's messages on the parent's state does not give the header's ParentStateRoot. */
export class StateRootMismatchError extends BlockRejectedError {
  static override name = 'StateRootMismatchError'
  override name = 'StateRootMismatchError'
  readonly code = 'STATE_ROOT_MISMATCH'
  constructor (readonly expected: string, readonly claimed: string, height: Epoch) {
    super(`block at height ${height} claims state root ${claimed}; executing its parent gives ${expected}`, height)
  }
}

/** Executing the parent's messages does not give the header's ParentMessageReceipts. */
export class ReceiptsRootMismatchError extends BlockRejectedError {
  static override name = 'ReceiptsRootMismatchError'
  override name = 'ReceiptsRootMismatchError'
  readonly code = 'RECEIPTS_ROOT_MISMATCH'
  constructor (readonly expected: string, readonly claimed: string, height: Epoch) {
    super(`block at height ${height} claims receipts root ${claimed}; executing its parent gives ${expected}`, height)
  }
}

/** The messages handed over with a block do not build the TxMeta its header's Messages names. */
export class MessagesMismatchError extends BlockRejectedError {
  static override name = 'MessagesMismatchError'
  override name = 'MessagesMismatchError'
  readonly code = 'MESSAGES_MISMATCH'
  constructor (readonly expected: string, readonly built: string, height: Epoch) {
    super(`messages sent for block at height ${height} build TxMeta ${built}, not its Messages ${expected}`, height)
  }
}

/** The block breaks a header rule (link, timestamp, producer, signature) or its messages' rules (gas, signatures). */
export class InvalidBlockError extends BlockRejectedError {
  static override name = 'InvalidBlockError'
  override name = 'InvalidBlockError'
  readonly code = 'INVALID_BLOCK'
  constructor (override readonly cause: Error, height: Epoch) { super(`block at height ${height} is invalid: ${cause.name}: ${cause.message}`, height) }
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

/** The CIDs of a block's messages in the order their receipts come: a message carried twice runs (and has a receipt) once. */
const executedCids = (msgs: BlockMessages): CID[] => tipSetExecutionOrder([{ messages: msgs }]).map(x => x.cid)

/** Faucet payments that may wait in the pool at once, so requests for many addresses cannot fill it. */
export const FAUCET_MAX_PENDING = 50
/**
 * The faucet's overall rate, a token bucket over all addresses as lotus-fountain's Limiter has (TotalRate,
 * TotalBurst, beside its per-wallet limit): a burst of FAUCET_MAX_PENDING, then one payment every
 * FAUCET_REFILL_MS. Issue 9 drained it at ~24 payments a second from fresh keys; now at most 30 a minute.
 */
export const FAUCET_BURST = FAUCET_MAX_PENDING
export const FAUCET_REFILL_MS = 2000

export interface FaucetInit { secretKey: Uint8Array, address: Uint8Array, amount: bigint, cooldownMs: number, burst?: number, refillMs?: number }

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

export class NodeChain implements RpcBackend {
  readonly mpool: Mpool
  private current: SealedHeader
  /** State the next block's messages apply to: the head's state after the head's own messages. */
  private nextRoot: CID
  private readonly heads = new HeadEvents()
  private readonly faucetPaid = new Map<string, number>()
  private readonly faucetBucket: TokenBuckets<'all'>
  /** The head's own messages executed: what its child must name as ParentStateRoot and ParentMessageReceipts. */
  private executed: { cid: CID, root: CID, receiptsRoot: CID } | null = null
  /** `accept` calls, one at a time: each checks against the head the one before left. */
  private accepting: Promise<unknown> = Promise.resolve()
  private readonly localPushHooks: Array<(sm: SignedMessage) => void> = []

  private constructor (private readonly init: NodeChainInit, private readonly recent: Map<Epoch, BeaconEntry>) {
    this.current = init.head
    this.nextRoot = init.head.header.parentStateRoot
    this.mpool = new Mpool(init.store, () => this.nextRoot, { verifier: init.verifier ?? threadVerifier(), nowMs: init.nowMs })
    // one key: the faucet's rate is over all addresses (its per-address limit is the cool-down)
    this.faucetBucket = new TokenBuckets({ burst: init.faucet?.burst ?? FAUCET_BURST, refillMs: init.faucet?.refillMs ?? FAUCET_REFILL_MS })
  }

  /**
   * Calls `fn` with each message this node's own users pushed (its JSON-RPC, its faucet, an in-process
   * provider) once the pool took it: a full node publishes those on /fil/msgs/<network>, as Lotus's
   * MpoolPush does. Messages that came by gossip are not reported (gossipsub already relays them).
   */
  onLocalPush (fn: (sm: SignedMessage) => void): void { this.localPushHooks.push(fn) }

  private pushedLocally (sm: SignedMessage): void {
    for (const fn of this.localPushHooks) {
      try { fn(sm) } catch {}
    }
  }

  /** Stops the signature verifier thread. */
  async close (): Promise<void> { await this.mpool.close() }

  static async open (init: NodeChainInit): Promise<NodeChain> {
    // challenge seeds look back at most one proving period: keep that many epochs' beacon entries at hand
    const recent = new Map<Epoch, BeaconEntry>()
    for (let h = Math.max(0, init.head.header.height - MAX_PROVING_PERIOD - 1); h <= init.head.header.height; h++) {
      const header = await init.db.headerAt(h)
      const entry = header === undefined ? undefined : beaconEntryForEpoch(beaconTimingOf(init.genesis), h, header.header)
      if (entry !== undefined) recent.set(h, entry)
    }
    const chain = new NodeChain(init, recent)
    // re-executing the head may create blocks that were never written (a stop right after a block that
    // carried messages): they stay unpersisted and go to disk with the next block
    const out = chain.execute(init.head)
    chain.executed = { cid: init.head.cid, root: out.root, receiptsRoot: out.receiptsRoot }
    chain.nextRoot = out.root
    return chain
  }

  private execute (h: SealedHeader, store: BlockStore = this.init.store): { root: CID, receiptsRoot: CID, cids: CID[] } {
    const { genesis } = this.init
    const msgs = loadBlockMessages(store, h.header.messages)
    const ctx = executionContext(store, genesis.state, h.header, (e) => this.recent.get(e))
    const out = applyBlockMessages(ctx, h.header.parentStateRoot, msgs, h.header.blsAggregate)
    return { root: out.root, receiptsRoot: out.receiptsRoot, cids: executedCids(msgs) }
  }

  /** Keeps `h`'s epoch's beacon entry for the challenge seeds drawn from it. */
  private remember (h: SealedHeader): void {
    const entry = beaconEntryForEpoch(beaconTimingOf(this.init.genesis), h.header.height, h.header)
    if (entry !== undefined) this.recent.set(h.header.height, entry)
  }

  /** The head's execution, from the cache `accept` and `open` keep. */
  private executedHead (): { root: CID, receiptsRoot: CID } {
    if (this.executed === null || !this.executed.cid.equals(this.current.cid)) {
      const out = this.execute(this.current)
      this.executed = { cid: this.current.cid, root: out.root, receiptsRoot: out.receiptsRoot }
    }
    return this.executed
  }

  /** Builds, signs and stores the next block; returns it for gossip. */
  async produce (nowSecs: number): Promise<SealedHeader> {
    const { store, genesis } = this.init
    if (this.init.producerKey === undefined) throw new NotProducerError()
    if (this.init.beacon === undefined) throw new NoBeaconError()
    const parent = this.current
    const beaconEntries = await Promise.all(beaconRoundsForChild(parent, genesis).map(async r => await this.init.beacon!.entry(r)))
    // only this method moves a producer's head, and calls are one at a time (the producer's tick awaits each)
    if (!this.current.cid.equals(parent.cid)) throw new Error('the head moved while the beacon was asked')
    const { root, receiptsRoot } = this.executedHead()
    this.nextRoot = root
    const selected = this.mpool.select(MAX_BLOCK_MESSAGES, BLOCK_GAS_LIMIT)
    const blsSigs = selected.bls.map(m => this.mpool.get(messageCid(m))!.signature)
    const next = produceHeader(this.current, genesis, this.init.producerKey, nowSecs, beaconEntries, {
      parentStateRoot: root,
      parentMessageReceipts: receiptsRoot,
      messages: storeBlockMessages(store, selected),
      blsAggregate: blsSigs.length > 0 ? blsAggregate(blsSigs) : null
    })
    const blocks = store.unpersisted()
    await this.init.db.append(next, blocks, executedCids(selected).map((cid, index) => ({ cid, index })))
    store.persisted(blocks.keys())
    this.remember(next)
    this.recent.delete(next.header.height - MAX_PROVING_PERIOD - 2)
    this.current = next
    this.heads.moved()
    return next
  }

  /**
   * Follower mode: validates `h` with the messages sent for it and stores both, making `h` the head.
   * The header rules are the light client's and the gossip validator's (link to our head, timestamp,
   * producer, signature); then, as Lotus's syncer does, its ParentStateRoot and ParentMessageReceipts must
   * be what executing our head's messages on our head's state gives, its messages must build the TxMeta
   * its Messages names and obey the block gas limit and their signatures, and its own messages are
   * executed (so its child can be checked, and the pool checks against the state after it). Throws a
   * BlockRejectedError naming the rule and stores nothing when any fails. Calls run one at a time;
   * `h` already stored (our head or below) is no error: false.
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
      const stored: SealedHeader[] = []
      for (const b of blocks) {
        if (await this.acceptNow(b.header, b.messages, checked ? 'all' : 'none')) {
          stored.push(b.header)
          onStored?.(b.header)
        }
      }
      return stored
    })
  }

  private async queued<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.accepting.then(fn)
    this.accepting = run.catch(() => {})
    return await run
  }

  /**
   * `checked`: what the caller already verified of the header's rules — 'all' (a run checked together),
   * 'signature' (the gossip validator's judgeBlock verified the producer's signature and the beacon entries': one pairing check per
   * block is the most of a follower's CPU, measured at ~2/3 of it with the check made twice), or 'none'.
   */
  private async acceptNow (h: SealedHeader, messages: BlockMessages, checked: 'all' | 'signature' | 'none'): Promise<boolean> {
    const { store, genesis } = this.init
    if (h.header.height <= this.current.header.height && (await this.init.db.heightOf(h.cid)) !== undefined) return false
    const height = h.header.height
    const parents = h.header.parents
    if (parents.length !== 1 || !parents[0]!.equals(this.current.cid)) {
      throw new ParentMismatchError(this.current.cid.toString(), parents.map(String).join(','), height)
    }
    try {
      if (checked !== 'all') {
        validateHeaderLink(h, this.current, Math.floor(this.init.nowMs() / 1000))
        validateHeaderProducer(h, genesis.state)
        validateHeaderBeaconRounds(h, this.current, genesis)
      }
      if (checked === 'none') {
        validateHeaderSignature(h, genesis.state)
        validateHeaderBeaconSignatures(h, genesis)
      }
    } catch (err) {
      throw new InvalidBlockError(err as Error, height)
    }
    const expected = this.executedHead()
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
    } catch (err) {
      throw new InvalidBlockError(err as Error, height)
    }
    // its own messages now, on the state it names, so a block that cannot be executed is refused here
    this.remember(h)
    let out: { root: CID, receiptsRoot: CID, cids: CID[] }
    try {
      out = this.execute(h, overlay)
    } catch (err) {
      this.recent.delete(height)
      throw new InvalidBlockError(err as Error, height)
    }
    for (const bytes of overlay.written.values()) store.put(bytes)
    const blocks = store.unpersisted()
    await this.init.db.append(h, blocks, out.cids.map((cid, index) => ({ cid, index })))
    store.persisted(blocks.keys())
    this.recent.delete(height - MAX_PROVING_PERIOD - 2)
    this.current = h
    this.executed = { cid: h.cid, root: out.root, receiptsRoot: out.receiptsRoot }
    this.nextRoot = out.root
    // the pool's own bookkeeping once a block, as a producer's selection does it: drops the messages the
    // chain has now used and ages those stuck behind a nonce gap (selects nothing)
    this.mpool.select(0)
    this.heads.moved()
    return true
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

  /** The blocks `read` walks under `at`'s state: what a light client needs to replay it. */
  proveState (read: (store: BlockGetter, root: CID) => unknown, at: SealedHeader): Uint8Array[] {
    return recordReads(this.init.store, (g) => read(g, at.header.parentStateRoot))
  }

  // ---- RpcBackend ----
  networkName (): string { return this.init.genesis.state.network }
  blockDelaySecs (): number { return this.init.genesis.state.blockDelaySecs }
  head (): SealedHeader { return this.current }
  async headerAt (height: number): Promise<SealedHeader | undefined> { return await this.init.db.headerAt(height) }

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

  /** Where `cid` was included and executed, with the blocks proving both against the two headers. */
  async inclusion (cid: CID): Promise<{ included: SealedHeader, executed: SealedHeader, proof: MessageInclusion } | null> {
    const at = await this.init.db.messageIndex(cid)
    if (at === undefined) return null
    const included = await this.init.db.headerAt(at.height)
    const executed = await this.init.db.headerAt(at.height + 1)
    if (included === undefined || executed === undefined) return null
    const proof = proveInclusion(this.init.store, included.header.messages, executed.header.parentMessageReceipts, at.index)
    return { included, executed, proof }
  }

  async searchMessage (cid: CID): Promise<MsgLookup | null> {
    const found = await this.inclusion(cid)
    if (found === null) return null
    const raw = amtGet(this.init.store, found.executed.header.parentMessageReceipts, found.proof.index, 'v0')
    return { message: cid, receipt: decodeReceipt(raw), executedIn: found.executed }
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
    const f = this.init.faucet
    if (f === undefined) throw new FaucetUnavailableError()
    // an ID or actor address names an existing actor (t099 is the burn address): funds sent there are
    // lost or land where no user asked; a user asks for the key address a wallet made
    if (!isKeyAddress(address)) throw new FaucetAddressError(addressToString(address, 't'))
    const key = address.join(',')
    const last = this.faucetPaid.get(key)
    const now = this.init.nowMs()
    if (last !== undefined && now - last < f.cooldownMs) throw new FaucetLimitError(f.cooldownMs - (now - last))
    // pooled payments only: anyone can push messages naming the faucet's address, and those still being
    // checked (forged, as like as not) must neither make it busy nor take its nonces
    const waiting = this.mpool.pending(f.address).length
    if (waiting >= FAUCET_MAX_PENDING) throw new FaucetBusyError(waiting)
    this.takeFaucetToken(now)
    const message: Message = {
      version: 0, to: address, from: f.address, nonce: this.mpool.nextNonce(f.address), value: f.amount,
      gasLimit: TRANSFER_GAS_LIMIT, gasFeeCap: TRANSFER_GAS_FEE_CAP, gasPremium: TRANSFER_GAS_PREMIUM, method: METHOD_SEND, params: new Uint8Array(0)
    }
    this.markFaucetPaid(key, now)
    try {
      const signed = signMessage(f.secretKey, message)
      const cid = await this.mpool.push(signed, { local: true })
      this.pushedLocally(signed)
      return cid
    } catch (err) {
      this.faucetPaid.delete(key)
      throw err
    }
  }

  /**
   * Remembers when `key` was paid. The map is keyed by addresses anyone may make up, so entries past the
   * cool-down go as new ones come: re-inserting keeps it in payment order, and the oldest are at its front.
   */
  private markFaucetPaid (key: string, now: number): void {
    const cooldownMs = this.init.faucet?.cooldownMs ?? 0
    for (const [k, t] of this.faucetPaid) {
      if (now - t < cooldownMs) break
      this.faucetPaid.delete(k)
    }
    this.faucetPaid.delete(key)
    this.faucetPaid.set(key, now)
  }

  /** Takes one payment from the faucet's token bucket (refilled by elapsed time), or throws FaucetRateError. */
  private takeFaucetToken (now: number): void {
    const taken = this.faucetBucket.take('all', now)
    if (!taken.ok) throw new FaucetRateError(taken.retryAfterMs)
  }
}
