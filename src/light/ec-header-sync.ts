// Header sync for the light client under Expected Consensus (issue 13, part 6): core's sans-I/O SyncMachine says
// what to fetch and which headers to check; this driver does the I/O. Every block is checked by the consensus
// rules in full (validateEcBlock: beacon entries, election proof and win count, ticket, block signature, parent
// weight, timestamp) against its miner's state at the lookback, read from a full node as a proof the tab replays
// under state roots named by headers it verified itself (state-client.ts ecBlockState). The machine follows forks
// to the heaviest chain; each head move is written to the store in one transaction (a reorganisation included).
import {
  SyncMachine, validateEcBlock, ecTipSetWeight, isHeavierTipSet, lookbackState, latestBeaconEntry, beaconTimingOf, tipSetKeyString,
  FutureBlockError, VerifiedBeaconEntries, EC_ALLOWED_CLOCK_DRIFT_SECS, ExchangeStatus, MalformedMessageError, TruncatedMessageError, WINNING_POST_SECTOR_SET_LOOKBACK, CHAIN_FINALITY,
  type CID, type Genesis, type SealedHeader, type TipSet, type TipSetNode, type ExchangeResponse, type Epoch, type EcBlockState,
  type SyncRequest, type ValidationTask, type HeadChange, type StoragePower, type OneSignerBatchVerifier
} from '../core'
import type { HeaderStore } from './header-store'
import type { EcBlockHeaders } from './state-client'
import { PeerBusyError } from './header-sync'

export interface EcSyncNetwork {
  fetchChain: (peer: string, head: CID[], length: number) => Promise<ExchangeResponse>
}

export interface EcHeaderSyncInit {
  genesis: Genesis
  store: HeaderStore
  /** The stored head tipset, as this tab verified it before. */
  head: TipSet
  /**
   * Its parent tipset, from the store: the fork tree's root, so the head's siblings that come later (a block of the
   * same round) can still join its tipset; the stored head's own blocks are checked again on top of it. Left out
   * (genesis), the head is the root.
   */
  headParent?: TipSet
  /** Weights for batching each block's signatures (validateEcBlock); one by one when left out. */
  randomBytes?: (n: number) => Uint8Array
  /** Checks each block's worker signatures as one batch (the tab's mcl-wasm once loaded); noble's when left out. */
  workerBatch?: OneSignerBatchVerifier
  net: EcSyncNetwork
  /** readEcBlockState at `at`'s roots, verified (state-client.ts ecBlockState); asked of `from` when given. */
  blockState: (miner: Uint8Array, at: EcBlockHeaders, from?: string) => Promise<EcBlockState>
  nowMs: () => number
  /** Tipsets newly on the heaviest chain, oldest first (after a reorganisation, the new side's). */
  onAppend: (applied: SealedHeader[], change: { reverted: TipSet[], applied: TipSet[] }) => void
  /** The peer broke a rule: the caller hangs up on it and shows why. */
  onRejection: (peer: string, err: Error) => void
  onNetworkError: (peer: string, err: Error) => void
  onChange: () => void
  /** Lotus's lookback (WINNING_POST_SECTOR_SET_LOOKBACK) unless the chain says otherwise. */
  lookback?: Epoch
}

/** A block names the same parents as a validated sibling but another state root, receipts or base fee: one of them is wrong, and the tab cannot tell which (reported, nobody blamed). */
export class TipSetStateMismatchError extends Error {
  static override name = 'TipSetStateMismatchError'
  override name = 'TipSetStateMismatchError'
  constructor (readonly height: Epoch, field: string) { super(`block at height ${height} disagrees with its tipset's other blocks on ${field}`) }
}

/**
 * Tipsets the tab keeps in its fork tree below the head: finality (forks deeper are not followed, as Lotus) plus
 * the lookback, so a block's lookback tipset is in the tree or on the stored chain below its root.
 */
export const EC_FORK_TREE_DEPTH: Epoch = CHAIN_FINALITY + WINNING_POST_SECTOR_SET_LOOKBACK
/** A block whose state could not be read (no peer, busy, a lying peer dropped) is offered again after this… */
const STATE_RETRY_MS = 1_000
/** …this many times in all, then set aside unjudged. */
const MAX_STATE_TRIES = 6

/** The source the stored head's blocks are offered under when they are checked again at start. */
const STORED = '(stored)'

/** Entries kept in the per-block bookkeeping maps (who sent a block, why one was refused, power by state root): the oldest go first. */
const KEEP_ENTRIES = 8192
const capped = <K, V>(m: Map<K, V>): void => { while (m.size > KEEP_ENTRIES) m.delete(m.keys().next().value!) }

const yieldNow = async (): Promise<void> => { await new Promise(resolve => setTimeout(resolve, 0)) }

export class EcHeaderSync {
  headTipSet: TipSet
  backlog: { total: number, fetched: number, verified: number } | null = null
  headersVerified = 0
  verifyMs = 0
  /** Head moves that left tipsets behind (reorganisations): how many, the deepest, and the last one's new head height and depth. */
  reorgs: { count: number, deepest: number, last: { height: Epoch, depth: number } | null } = { count: 0, deepest: 0, last: null }
  private machine: SyncMachine
  /** Each peer's last announced head, offered again to a new machine after `reanchor`. */
  private readonly peerHeads = new Map<string, { key: CID[], height: Epoch, weight: bigint }>()
  /** The network's TotalQualityAdjPower by state root, from verified proofs: what weighs a tipset (Lotus filcns Weight). */
  private readonly powerAt = new Map<string, StoragePower>()
  /** The first validated block's state fields per (height, parents): its siblings must agree. */
  private readonly tipSetState = new Map<string, string>()
  /** Who sent each held block (the peer asked for its state: it holds that fork). */
  private readonly sourceOf = new Map<string, string>()
  /** State reads tried for a held block. */
  private readonly stateTries = new Map<string, number>()
  private readonly claims = new Map<string, Epoch>()
  /** Blocks validated since the last store write, by CID. */
  private unwritten = new Map<string, SealedHeader>()
  private writing: Promise<void> = Promise.resolve()
  private pumping = false
  /** While paused nothing is fetched or checked (a new tab asks for certificates first: issue 14). */
  private paused = false
  /** Bumped by `reanchor`: fetches, checks and writes begun under an older machine are dropped when they finish. */
  private generation = 0
  private again = false
  private inFlight = 0
  private stopped = false
  private timer: ReturnType<typeof setTimeout> | undefined
  private readonly config
  /** Beacon entries whose signatures held: every block of a round carries the same ones, verified once. */
  readonly verifiedBeacon = new VerifiedBeaconEntries()

  constructor (private readonly init: EcHeaderSyncInit) {
    this.headTipSet = init.head
    this.config = { timing: beaconTimingOf(init.genesis), beaconPublicKey: init.genesis.state.beacon.publicKey }
    this.machine = this.newMachine(init.head, init.headParent)
  }

  private newMachine (head: TipSet, headParent: TipSet | undefined): SyncMachine {
    const root = headParent ?? head
    const machine = new SyncMachine({
      root,
      // a lower bound: every tipset in the tree descends from the root and weighs more (its own ParentWeight is checked)
      rootWeight: root.blocks[0]!.header.parentWeight,
      weigh: (tipset) => this.weigh(tipset),
      tieBreak: (a, b) => isHeavierTipSet({ tipset: a, weight: 0n }, { tipset: b, weight: 0n }),
      nowMs: this.init.nowMs(),
      maxTipsets: EC_FORK_TREE_DEPTH * 8
    })
    if (headParent !== undefined) for (const b of head.blocks) machine.blockAnnounced(STORED, b)
    return machine
  }

  /**
   * Starts over from a tipset finalized by certificate (issue 14): `write` stores `head` and the run below it that
   * its blocks' lookback reads (queued after this sync's own writes, none of which lands after it); `head` becomes
   * the head and its parent the fork tree's root at once — a certificate verified it, so it is shown while the run
   * is written (some hundred milliseconds of IndexedDB on a new tab) — but nothing is fetched or checked on top of it
   * until the write is done, since those checks read the lookback from the store. A write that fails puts the old
   * head back. What was being fetched or checked is dropped, and the peers' heads are offered again.
   */
  async reanchor (head: TipSet, headParent: TipSet, write: () => Promise<void>): Promise<void> {
    this.generation++ // fetches, checks and writes of the old machine are void from here
    const wasPaused = this.paused
    this.paused = true
    const before = { machine: this.machine, head: this.headTipSet }
    try {
      const written = this.writing.then(write)
      this.writing = written.catch(() => {})
      this.machine = this.newMachine(head, headParent)
      this.headTipSet = head
      this.backlog = null
      this.unwritten = new Map()
      this.tipSetState.clear()
      this.stateTries.clear()
      for (const [peer, h] of this.peerHeads) this.machine.peerHead(peer, h.key, h.height, h.weight)
      this.init.onChange()
      try {
        await written
      } catch (err) {
        this.machine = before.machine
        this.headTipSet = before.head
        this.init.onChange()
        throw err
      }
    } finally {
      this.paused = wasPaused
    }
    this.init.onChange()
    this.pump()
  }

  /** The head tipset's first block: every block of a tipset names the same parents and state root. */
  get head (): SealedHeader { return this.headTipSet.blocks[0]! }

  get bestKnownHeight (): Epoch {
    return Math.max(this.head.header.height, ...this.claims.values())
  }

  /** A peer's head from hello: its key, height and weight. */
  offerHead (peer: string, key: CID[], height: Epoch, weight: bigint): void {
    this.claims.set(peer, Math.max(height, this.claims.get(peer) ?? 0))
    this.peerHeads.set(peer, { key, height, weight })
    this.machine.peerHead(peer, key, height, weight)
    this.pump()
  }

  /** A block heard on gossip (already judged by the gossip validator): checked in full like any other. */
  offerBlock (peer: string, block: SealedHeader): void {
    this.claims.set(peer, Math.max(block.header.height, this.claims.get(peer) ?? 0))
    this.sourceOf.set(String(block.cid), peer)
    capped(this.sourceOf)
    this.machine.blockAnnounced(peer, block)
    this.pump()
  }

  forgetPeer (peer: string): void {
    this.claims.delete(peer)
    this.peerHeads.delete(peer)
    this.machine.peerDisconnected(peer)
    this.pump()
  }

  /** Resolves once nothing is being fetched, checked or written (tests and benchmarks wait on this). */
  async settled (): Promise<void> {
    for (;;) {
      const writes = this.writing
      await writes
      // writes queued while that one ran are waited for too
      if (writes === this.writing && !this.pumping && this.inFlight === 0) return
      await new Promise(resolve => setTimeout(resolve, 10))
    }
  }

  stop (): void {
    this.stopped = true
    clearTimeout(this.timer)
  }

  private weigh (tipset: TipSet): bigint {
    const power = this.powerAt.get(String(tipset.blocks[0]!.header.parentStateRoot))
    // a tipset joins the tree only after one of its blocks was validated, which recorded this
    if (power === undefined) throw new Error('no verified power for the tipset\'s state root')
    return ecTipSetWeight(tipset, power)
  }

  /** Runs the machine: sends what it wants, checks what it hands out, writes head moves; again whenever something lands. */
  /** Holds fetching and checking until `resume` (peers' heads and blocks are still taken and kept). */
  pause (): void { this.paused = true }
  resume (): void {
    if (!this.paused) return
    this.paused = false
    this.pump()
  }

  private pump (): void {
    if (this.stopped || this.paused) return
    if (this.pumping) { this.again = true; return }
    this.pumping = true
    try {
      do {
        this.again = false
        for (const req of this.machine.tick(this.init.nowMs())) this.init.onNetworkError(req.peer, new Error('chain exchange timed out'))
        for (const req of this.machine.desiredRequests()) void this.fetch(req)
        for (const task of this.machine.toValidate()) void this.validate(task)
        this.collect()
      } while (this.again)
    } finally {
      this.pumping = false
    }
    // deferred blocks and request timeouts need the clock to move
    clearTimeout(this.timer)
    if (this.machine.pendingHeaders > 0 || this.inFlight > 0) this.timer = setTimeout(() => { this.pump() }, 250)
  }

  private async fetch (req: SyncRequest): Promise<void> {
    this.inFlight++
    const gen = this.generation
    try {
      const resp = await this.init.net.fetchChain(req.peer, req.head, req.length)
      if (gen !== this.generation) return
      if (resp.status === ExchangeStatus.GoAway) throw new PeerBusyError(req.peer, resp.errorMessage)
      if ((resp.status !== ExchangeStatus.Ok && resp.status !== ExchangeStatus.Partial) || resp.chain.length === 0) {
        throw new MalformedMessageError(`peer could not serve the head it announced (status ${resp.status}: ${resp.errorMessage})`)
      }
      for (const ts of resp.chain) for (const b of ts) if (!this.sourceOf.has(String(b.cid))) this.sourceOf.set(String(b.cid), req.peer)
      capped(this.sourceOf)
      this.machine.headersArrived(req.peer, req, resp.chain)
      const held = this.machine.pendingHeaders
      this.backlog = held > 1 ? { total: held + this.headersVerified, fetched: held + this.headersVerified, verified: this.headersVerified } : null
    } catch (err) {
      if (gen !== this.generation) return
      this.machine.requestFailed(req.peer, req, err as Error)
      this.init.onNetworkError(req.peer, err as Error)
    } finally {
      this.inFlight--
      this.pump()
    }
  }

  /** The headers whose ParentStateRoots `block`'s checks read (ec-miner-view.ts ecStateRoots, from the tab's own chain). */
  private async rootHeaders (block: SealedHeader, parent: TipSetNode): Promise<EcBlockHeaders> {
    const parentBlock = parent.tipset.blocks[0]!
    const where = lookbackState(block.header.height, parent.height, this.init.lookback)
    if (where.kind === 'genesis') return { lookback: parentBlock, lookbackParent: parentBlock, parent: parentBlock, block }
    // the first tipset at or above the round on the parent's chain: in the fork tree, else on the stored chain below its root
    const target = where.firstTipSetAtOrAbove
    let found: TipSet = parent.tipset
    let node: TipSetNode | undefined = parent
    const root = this.machine.root()
    while (node !== undefined && node.height >= target) {
      found = node.tipset
      node = node.key === root.key ? undefined : this.machine.tipset(node.tipset.blocks[0]!.header.parents)
    }
    if (found.height > target && found === root.tipset) {
      const below = await this.init.store.tipSetAtOrAbove(target, root.height - 1)
      if (below !== null) found = below
    }
    const parentsOf = found.blocks[0]!.header.parents
    const lookbackTipSet = this.machine.tipset(parentsOf)?.tipset ?? await this.init.store.tipSet(parentsOf)
    if (lookbackTipSet === null) throw new Error('the lookback tipset is not stored')
    return { lookback: found.blocks[0]!, lookbackParent: lookbackTipSet.blocks[0]!, parent: parentBlock, block }
  }

  private async validate ({ header: block, parent }: ValidationTask): Promise<void> {
    this.inFlight++
    const gen = this.generation
    const cid = String(block.cid)
    let state: EcBlockState
    const tries = (this.stateTries.get(cid) ?? 0) + 1
    this.stateTries.set(cid, tries)
    try {
      const at = await this.rootHeaders(block, parent)
      // the peer that sent the block first (it holds that fork), then any full node: the proof depends on the roots alone
      state = await this.init.blockState(block.header.miner, at, tries <= 2 ? this.sourceOf.get(cid) : undefined)
      this.stateTries.delete(cid)
    } catch (err) {
      if (gen !== this.generation) { this.inFlight--; this.pump(); return }
      // no peer, a busy one, a proof that lied (its peer is dropped by the state client): not this block's fault.
      // Asked again a while, then set aside unjudged: a block whose state nobody proves cannot hold the sync up
      if (err instanceof Error && err.name === 'LookbackError') this.refuse(block, err)
      else if (tries >= MAX_STATE_TRIES) { this.stateTries.delete(cid); this.machine.blockAbandoned(cid) } else this.machine.blockDeferred(cid, this.init.nowMs() + STATE_RETRY_MS)
      // named against the block's sender, except an answer cut short: the state client has hung up on the peer
      // that gave it, which may be another than the sender (onNetworkError hangs up on the peer it is given)
      this.init.onNetworkError(err instanceof TruncatedMessageError ? '' : this.sourceOf.get(cid) ?? '', err as Error)
      this.inFlight--
      this.pump()
      return
    }
    if (gen !== this.generation) { this.inFlight--; this.pump(); return }
    const t0 = this.init.nowMs()
    try {
      const prevBeaconEntry = latestBeaconEntry(parent.tipset.blocks[0]!.header, (x) => this.machine.tipset(x.parents)?.tipset.blocks[0]!.header)
      validateEcBlock(block, parent.tipset, {
        config: this.config,
        now: Math.floor(this.init.nowMs() / 1000),
        prevBeaconEntry,
        parentTotalPower: state.parentTotalPower,
        minerView: () => state.view,
        verifiedBeacon: this.verifiedBeacon,
        ...(this.init.randomBytes === undefined ? {} : { randomBytes: this.init.randomBytes }),
        ...(this.init.workerBatch === undefined ? {} : { workerBatch: this.init.workerBatch })
      })
      if (!this.agreesWithSiblings(block)) {
        // a light client cannot tell which of two disagreeing siblings is right: the first taken stays, this one is
        // set aside unjudged (nobody blamed), and the tipsets its children name decide
        this.verifyMs += this.init.nowMs() - t0
        this.machine.blockAbandoned(cid)
        this.init.onNetworkError(this.sourceOf.get(cid) ?? '', new TipSetStateMismatchError(block.header.height, 'ParentStateRoot, ParentMessageReceipts or ParentBaseFee'))
        return
      }
      this.verifyMs += this.init.nowMs() - t0
      this.powerAt.set(String(block.header.parentStateRoot), state.ownTotalPower)
      capped(this.powerAt)
      this.headersVerified++
      this.unwritten.set(cid, block)
      this.machine.blockValidated(cid)
    } catch (err) {
      this.verifyMs += this.init.nowMs() - t0
      if (err instanceof FutureBlockError) {
        // from the future by our clock (Lotus's ErrTemporal): held until it is not, nobody faulted
        this.machine.blockDeferred(cid, (block.header.timestamp - EC_ALLOWED_CLOCK_DRIFT_SECS) * 1000)
      } else {
        this.refuse(block, err as Error)
      }
    } finally {
      this.inFlight--
      this.pump()
      await yieldNow()
    }
  }

  private agreesWithSiblings (block: SealedHeader): boolean {
    const h = block.header
    const group = `${h.height}|${tipSetKeyString(h.parents)}`
    const fields = `${String(h.parentStateRoot)}|${String(h.parentMessageReceipts)}|${h.parentBaseFee}`
    const first = this.tipSetState.get(group)
    if (first === undefined) { this.tipSetState.set(group, fields); return true }
    return first === fields
  }

  private readonly refusedWhy = new Map<string, Error>()

  private refuse (block: SealedHeader, err: Error): void {
    this.refusedWhy.set(String(block.cid), err)
    capped(this.refusedWhy)
    this.machine.blockRejected(block.cid, err)
  }

  /** Reports faults and writes head moves (one store transaction each batch, in order). */
  private collect (): void {
    for (const f of this.machine.peerFaults()) {
      if (f.peer === STORED) continue // the tab's own store is no peer to hang up on (its blocks were checked under older rules)
      // the rule the block broke, by name, when this tab checked it; else the machine's own reason
      const block = (f.error as { block?: string }).block
      const why = block === undefined ? undefined : this.refusedWhy.get(block)
      this.claims.delete(f.peer)
      this.init.onRejection(f.peer, why ?? f.error)
    }
    for (const e of this.machine.equivocations()) this.init.onNetworkError('', e)
    const changes = this.machine.headChanges()
    if (changes.length === 0 && this.unwritten.size === 0) return
    const blocks = [...this.unwritten.values()]
    this.unwritten = new Map()
    if (changes.length === 0) {
      // validated blocks that did not move the head (a lighter fork): kept by CID all the same
      const gen = this.generation
      this.writing = this.writing.then(async () => { if (gen === this.generation) await this.init.store.moveHead({ to: this.headTipSet, reverted: [], applied: [], blocks }) }).catch(err => { this.init.onNetworkError('', err as Error) })
      return
    }
    const merged = mergeChanges(changes)
    const gen = this.generation
    this.writing = this.writing.then(async () => {
      if (gen !== this.generation) return // the machine was replaced by a jump to a finalized tipset: its moves are void
      await this.init.store.moveHead({ to: merged.to.tipset, reverted: merged.reverted.map(n => n.tipset), applied: merged.applied.map(n => n.tipset), blocks })
      const lost = leftBehind(merged.reverted, merged.applied)
      if (lost > 0) this.reorgs = { count: this.reorgs.count + 1, deepest: Math.max(this.reorgs.deepest, lost), last: { height: merged.to.height, depth: lost } }
      this.headTipSet = merged.to.tipset
      this.backlog = this.machine.pendingHeaders > 1 ? this.backlog : null
      this.init.onAppend(merged.applied.flatMap(n => n.tipset.blocks), { reverted: merged.reverted.map(n => n.tipset), applied: merged.applied.map(n => n.tipset) })
      this.init.onChange()
      this.prune()
    }).catch(err => { this.init.onNetworkError('', err as Error) })
  }

  /** Past EC_FORK_TREE_DEPTH (and a margin, so it is not every block) the tree's root moves up the heaviest chain. */
  private prune (): void {
    const head = this.machine.head()
    const root = this.machine.root()
    if (head.height - root.height < EC_FORK_TREE_DEPTH + 100) return
    let node: TipSetNode | undefined = head
    while (node !== undefined && node.height > head.height - EC_FORK_TREE_DEPTH) node = this.machine.tipset(node.tipset.blocks[0]!.header.parents)
    if (node !== undefined) this.machine.finalize(node.tipset.key)
    for (const [group] of this.tipSetState) if (Number(group.slice(0, group.indexOf('|'))) <= (node?.height ?? 0)) this.tipSetState.delete(group)
  }
}

/**
 * Tipsets a head move truly left behind: a reverted tipset whose blocks are all in the applied tipset of its height
 * only grew (a late block joined the head tipset) and is no reorganisation to a user.
 */
function leftBehind (reverted: TipSetNode[], applied: TipSetNode[]): number {
  const at = new Map(applied.map(n => [n.height, new Set(n.tipset.key.map(String))]))
  return reverted.filter(r => { const now = at.get(r.height); return now === undefined || r.tipset.key.some(c => !now.has(String(c))) }).length
}

/** Several head moves as one: undo what the first reverted and the later ones did not re-apply, then apply to the last head. */
function mergeChanges (changes: HeadChange[]): { to: TipSetNode, reverted: TipSetNode[], applied: TipSetNode[] } {
  const reverted: TipSetNode[] = []
  let applied: TipSetNode[] = []
  for (const c of changes) {
    for (const r of c.reverted) {
      const i = applied.findIndex(a => a.key === r.key)
      if (i >= 0) applied.splice(i, 1)
      else reverted.push(r)
    }
    applied = [...applied, ...c.applied]
  }
  return { to: changes[changes.length - 1]!.to, reverted, applied }
}
