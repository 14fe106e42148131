// Header sync as a sans-I/O state machine (smoldot lib/src/sync/all.rs: the caller asks what to fetch, does
// the I/O, reports back). It is told peer heads, chain-exchange answers, failures, validation results and the
// time; it says which requests to send, which headers to validate next, how the head moved and which peers
// broke a rule. It checks linkage only: the consensus checks are the caller's (toValidate / blockValidated).
import type { CID } from '../cid'
import type { SealedHeader } from '../block-header'
import { makeTipSet, type TipSet } from '../tipset'
import type { ChainWeight } from '../consensus/weight'
import type { Epoch } from '../units'
import { MAX_EXCHANGE_LENGTH } from '../wire'
import { ForkTree, tipSetKeyString, type ForkTreeInit, type TipSetKeyString, type TipSetNode } from './fork-tree'
import {
  EquivocationError, ForkBelowFinalityError, MismatchedAnswerError, NotAChildError, ParentNotInTreeError, RejectedChainError, RequestTimeoutError,
  SyncFaultError, UnknownTipSetError, UnlinkedHeadersError
} from './errors'

export interface SyncMachineOptions {
  /** Tipsets the fork tree keeps (ForkTreeFullError beyond; call finalize to prune). */
  maxTipsets?: number
  /**
   * Headers held before they validate. Headers are fetched newest first and validate only once they link
   * to ours, so when a lower window needs room the highest unlinked ones are dropped and asked for again later.
   */
  maxPendingHeaders?: number
  /** Tipsets asked for at once: chain exchange's MaxRequestLength (Lotus exchange/protocol.go, ChainFinality = 900). */
  maxRequestLength?: number
  /** Requests in flight to one peer: Coffer's server answers two per peer (src/net/protocols.ts CHAIN_EXCHANGE_LIMITS). */
  maxInFlightPerPeer?: number
  maxInFlight?: number
  /** An unanswered request fails after this: Lotus's server gives itself 60 s to write an answer (WriteResDeadline). */
  requestTimeoutMs?: number
  /** A peer that failed a request is not asked for the same tipsets again until this has passed. */
  retryAfterMs?: number
}

export interface SyncMachineInit extends Omit<ForkTreeInit, 'maxTipsets'>, SyncMachineOptions {
  nowMs: number
}

/** One chain-exchange request (headers only): `length` tipsets from `head` down, newest first. */
export interface SyncRequest { readonly id: number, readonly peer: string, readonly head: CID[], readonly length: number }

/** A header whose parent tipset is validated: check it, then report blockValidated or blockRejected. */
export interface ValidationTask { header: SealedHeader, parent: TipSetNode }

/** The head moved: undo `reverted` (newest first), then apply `applied` (oldest first). */
export interface HeadChange { from: TipSetNode, to: TipSetNode, reverted: TipSetNode[], applied: TipSetNode[] }

export interface PeerFault { peer: string, error: SyncFaultError }

/** Lotus's bad-block cache holds 1 << 15 CIDs (build/buildconstants BadBlockCacheSize); oldest go first here. */
export const REJECTED_CACHE_SIZE = 1 << 15

interface Pending { header: SealedHeader, sources: Set<string>, validating: boolean, notBeforeMs?: number }
interface Want { key: CID[], height: Epoch, weight: ChainWeight, sources: Set<string>, inFlight: number | null, failedAt: Map<string, number> }
interface InFlight { req: SyncRequest, want: TipSetKeyString, sentAt: number }
interface Claim { key: CID[], height: Epoch, weight: ChainWeight }

const parentKeyOf = (ts: TipSet): TipSetKeyString => tipSetKeyString(ts.blocks[0]!.header.parents)

export class SyncMachine {
  private readonly tree: ForkTree
  private readonly opts: Required<SyncMachineOptions>
  private now: number
  private current: TipSetNode
  private nextId = 1
  /** Headers received and not yet validated, by CID. */
  private readonly pending = new Map<string, Pending>()
  /** Blocks that failed validation or descend from one, with why. */
  private readonly rejected = new Map<string, string>()
  private readonly wants = new Map<TipSetKeyString, Want>()
  private readonly inFlight = new Map<number, InFlight>()
  private readonly peerLoad = new Map<string, number>()
  private readonly peerHeads = new Map<string, Claim>()
  private readonly faulted = new Set<string>()
  private changes: HeadChange[] = []
  private faults: PeerFault[] = []
  private equivocated: EquivocationError[] = []

  constructor (init: SyncMachineInit) {
    this.opts = {
      // ChainFinality (900) epochs of a few candidate tipsets each; the caller prunes with finalize
      maxTipsets: init.maxTipsets ?? 10_000,
      // four full windows of 900; Lotus headers are ~0.7 KiB, so under 3 MB
      maxPendingHeaders: init.maxPendingHeaders ?? 4_000,
      maxRequestLength: init.maxRequestLength ?? MAX_EXCHANGE_LENGTH,
      maxInFlightPerPeer: init.maxInFlightPerPeer ?? 2,
      maxInFlight: init.maxInFlight ?? 8,
      requestTimeoutMs: init.requestTimeoutMs ?? 60_000,
      retryAfterMs: init.retryAfterMs ?? 10_000
    }
    this.tree = new ForkTree({ root: init.root, rootWeight: init.rootWeight, weigh: init.weigh, tieBreak: init.tieBreak, maxTipsets: this.opts.maxTipsets })
    this.current = this.tree.heaviest()
    this.now = init.nowMs
  }

  // ---- what the machine says ----

  /** The heaviest validated tipset: the head the caller follows. */
  head (): TipSetNode { return this.current }

  tipset (key: readonly CID[]): TipSetNode | undefined { return this.tree.get(tipSetKeyString(key)) }

  /** The fork tree's root: the start it was given, or the last tipset finalized. */
  root (): TipSetNode { return this.tree.root }

  /** Head moves since the last call, each with its reorganisation path. */
  headChanges (): HeadChange[] { const out = this.changes; this.changes = []; return out }

  /** Peers that broke a rule since the last call; the machine has already stopped asking them. */
  peerFaults (): PeerFault[] { const out = this.faults; this.faults = []; return out }

  /**
   * Miners found with two validated blocks at one height since the last call, each with both CIDs. Their
   * blocks at that height are out of tipset formation already. The peers that sent them are not faulted:
   * Lotus accepts such a block on gossip (chain/sub/incoming.go: only a failed validation rejects) and in
   * chain exchange, and leaves the punishment to a ReportConsensusFault message against the miner
   * (chain/gen/slashfilter/slashsvc), which Coffer does not have yet.
   */
  equivocations (): EquivocationError[] { const out = this.equivocated; this.equivocated = []; return out }

  get pendingHeaders (): number { return this.pending.size }

  /**
   * Requests to send now. Each is in flight from this call until headersArrived, requestFailed or a tick
   * past its timeout; at most maxInFlightPerPeer per peer and maxInFlight in all. The heaviest claimed chain
   * is asked for first, from a peer that claimed it.
   */
  desiredRequests (): SyncRequest[] {
    const out: SyncRequest[] = []
    const wants = [...this.wants.entries()].sort(([, a], [, b]) => a.weight === b.weight ? b.height - a.height : (b.weight > a.weight ? 1 : -1))
    for (const [key, want] of wants) {
      if (this.inFlight.size >= this.opts.maxInFlight) break
      if (want.inFlight !== null) continue
      // held headers above the wanted tipset make way for it (see maxPendingHeaders)
      const room = this.opts.maxPendingHeaders - this.reserved() - this.heldAtOrBelow(want.height)
      if (room < 1) continue
      let peer: string | undefined
      for (const p of want.sources) {
        const failed = want.failedAt.get(p)
        if (failed !== undefined && this.now - failed < this.opts.retryAfterMs) continue
        const load = this.peerLoad.get(p) ?? 0
        if (load < this.opts.maxInFlightPerPeer && (peer === undefined || load < (this.peerLoad.get(peer) ?? 0))) peer = p
      }
      if (peer === undefined) continue
      // down to our head when the chain is above it; a fork below our head may reach down to the root
      const floor = want.height > this.current.height ? this.current.height : this.tree.root.height
      const length = Math.max(1, Math.min(this.opts.maxRequestLength, want.height - floor, room))
      const req: SyncRequest = { id: this.nextId++, peer, head: want.key, length }
      this.inFlight.set(req.id, { req, want: key, sentAt: this.now })
      this.peerLoad.set(peer, (this.peerLoad.get(peer) ?? 0) + 1)
      want.inFlight = req.id
      out.push(req)
    }
    return out
  }

  /**
   * Headers whose parent tipset is validated, lowest first; each is handed out once. Blocks of one tipset
   * come together (they share a parent), their children only after all of them validated.
   */
  toValidate (): ValidationTask[] {
    const out: ValidationTask[] = []
    for (const [cid, p] of this.pending) {
      if (p.validating || (p.notBeforeMs !== undefined && this.now < p.notBeforeMs)) continue
      const parent = this.tree.resolve(tipSetKeyString(p.header.header.parents))
      if (parent === undefined) continue
      if (p.header.header.height <= parent.height) {
        const err = new NotAChildError(p.header.header.height, parent.height)
        this.reject(cid, p, err.message)
        continue
      }
      p.validating = true
      out.push({ header: p.header, parent })
    }
    return out.sort((a, b) => a.header.header.height - b.header.header.height)
  }

  // ---- what the machine is told ----

  /**
   * A peer's head: `weight` is what the claim carries (a hello's HeaviestTipSetWeight, a gossiped block's
   * ParentWeight). It is fetched unless that is below our head's ParentWeight, as Lotus InformNewHead decides.
   */
  peerHead (peer: string, key: CID[], height: Epoch, weight: ChainWeight): void {
    if (this.faulted.has(peer) || key.length === 0) return
    const bad = key.find(c => this.rejected.has(String(c)))
    if (bad !== undefined) { this.fault(new RejectedChainError(peer, String(bad), this.rejected.get(String(bad))!)); return }
    this.peerHeads.set(peer, { key, height, weight })
    this.wantHead(peer, { key, height, weight })
  }

  /**
   * A block heard on gossip, whole (Lotus InformNewBlock): held for validation as if fetched, with its parent
   * tipset wanted from `peer` when unknown. Ignored when it is ours already, not above the fork tree's root,
   * lighter than our head (as peerHead), or when no room is left for it; a block already rejected, or built on
   * one, faults the peer.
   */
  blockAnnounced (peer: string, block: SealedHeader): void {
    const h = block.header
    const cid = String(block.cid)
    if (this.faulted.has(peer) || this.tree.hasBlock(cid)) return
    const bad = [cid, ...h.parents.map(String)].find(c => this.rejected.has(c))
    if (bad !== undefined) {
      if (bad !== cid) this.markRejected(cid, `descends from ${bad}`)
      this.fault(new RejectedChainError(peer, bad, this.rejected.get(bad)!))
      return
    }
    if (h.height <= this.tree.root.height || h.parentWeight < this.current.tipset.blocks[0]!.header.parentWeight) return
    const held = this.pending.get(cid)
    if (held !== undefined) { held.sources.add(peer); return }
    if (this.pending.size >= this.opts.maxPendingHeaders) return
    this.pending.set(cid, { header: block, sources: new Set([peer]), validating: false })
    this.peerHeads.set(peer, { key: [block.cid], height: h.height, weight: h.parentWeight })
    if (!this.known(h.parents)) this.addWant(h.parents, h.height - 1, h.parentWeight, [peer])
  }

  /** The peer is gone: its requests are abandoned, its claims no longer count. */
  peerDisconnected (peer: string): void {
    this.forget(peer)
    this.faulted.delete(peer)
  }

  /** A chain-exchange answer: the tipsets newest first, as Lotus's exchange returns them. */
  headersArrived (peer: string, request: SyncRequest, chain: SealedHeader[][]): void {
    const flight = this.finish(request, peer)
    if (flight === undefined || this.faulted.has(peer)) return // timed out, abandoned, or not ours
    let tipsets: TipSet[]
    try {
      tipsets = this.checkAnswer(flight.req, chain)
    } catch (err) {
      if (err instanceof SyncFaultError) { this.fault(err); return }
      throw err
    }
    // a chain through a rejected block: what sits on it is rejected too (Lotus collectHeaders "linked to")
    for (let i = tipsets.length - 1; i >= 0; i--) {
      const ts = tipsets[i]!
      const badParent = ts.blocks[0]!.header.parents.find(c => this.rejected.has(String(c)))
      const bad = badParent ?? ts.key.find(c => this.rejected.has(String(c)))
      if (bad === undefined) continue
      const reason = this.rejected.get(String(bad))!
      // a bad parent taints this tipset's blocks; a bad block taints only what is built on it, not its siblings
      const tainted = tipsets.slice(0, badParent !== undefined ? i + 1 : i)
      for (const above of tainted) for (const c of above.key) this.markRejected(String(c), `descends from ${String(bad)}`)
      this.fault(new RejectedChainError(peer, String(bad), reason))
      return
    }
    // below the first tipset we already validated, everything is ours
    const validated = tipsets.findIndex(ts => ts.key.every(c => this.tree.hasBlock(c)))
    const fresh = validated < 0 ? tipsets : tipsets.slice(0, validated)
    const root = this.tree.root
    const under = fresh.find(ts => ts.height <= root.height)
    if (under !== undefined) { this.fault(new ForkBelowFinalityError(peer, under.height, root.height)); return }
    // keep the oldest part that fits, after dropping held headers above it: it links to what we hold
    const unseenIn = (ts: TipSet): number => ts.blocks.filter(b => !this.pending.has(String(b.cid)) && !this.tree.hasBlock(b.cid)).length
    const need = fresh.reduce((n, ts) => n + unseenIn(ts), 0)
    let room = this.opts.maxPendingHeaders - this.pending.size
    if (need > room && fresh.length > 0) room += this.evictAbove(fresh[0]!.height, need - room)
    let keep = fresh.length
    for (let i = fresh.length - 1; i >= 0; i--) {
      const unseen = unseenIn(fresh[i]!)
      if (unseen > room) { keep = fresh.length - 1 - i; break }
      room -= unseen
    }
    const kept = fresh.slice(fresh.length - keep)
    for (const ts of kept) {
      for (const b of ts.blocks) {
        const cid = String(b.cid)
        if (this.tree.hasBlock(cid)) continue
        const p = this.pending.get(cid)
        if (p !== undefined) p.sources.add(peer)
        else this.pending.set(cid, { header: b, sources: new Set([peer]), validating: false })
      }
    }
    const bottom = kept[kept.length - 1]
    if (bottom !== undefined && validated < 0) {
      const parents = bottom.blocks[0]!.header.parents
      const sources = [peer, ...this.wants.get(flight.want)?.sources ?? []]
      if (!this.known(parents)) this.addWant(parents, bottom.height - 1, flight.weight, sources)
    }
    for (const [k, w] of this.wants) if (w.inFlight === null && this.known(w.key)) this.wants.delete(k)
  }

  /** The request failed without proving a fault (closed, busy, NotFound): another source is tried. */
  requestFailed (peer: string, request: SyncRequest, _error?: Error): void {
    const flight = this.finish(request, peer)
    if (flight !== undefined) this.wants.get(flight.want)?.failedAt.set(peer, this.now)
  }

  /**
   * The caller's consensus checks passed: the block joins the tree and the head may move. A second block of
   * its miner at its height is an equivocation (see equivocations()): both blocks are left out of the
   * tipsets of that height, and the head falls back if it held one of them.
   */
  blockValidated (cid: CID | string): void {
    const key = String(cid)
    const p = this.pending.get(key)
    if (p === undefined || !p.validating) return
    try {
      this.tree.insertBlock(p.header)
    } catch (err) {
      // its parent was pruned by finalize while it was checked: it is on a dropped fork
      if (err instanceof ParentNotInTreeError) { this.pending.delete(key); return }
      if (!(err instanceof EquivocationError)) throw err // ForkTreeFullError leaves it pending: finalize, then report it again
      this.equivocated.push(err)
    }
    this.pending.delete(key)
    this.moveHead(this.tree.heaviest())
  }

  /** The block failed validation: it, what descends from it, and every peer that sent them are done. */
  blockRejected (cid: CID | string, error: Error): void {
    const key = String(cid)
    const p = this.pending.get(key)
    if (p === undefined || !p.validating) return
    this.reject(key, p, `${error.name}: ${error.message}`)
  }

  /**
   * The block is set aside without a verdict: the caller could not judge it and will not keep trying (its state
   * could not be read from anyone), or cannot tell it from a sibling it took first. It leaves the held headers, is not
   * marked rejected and faults nobody; what is built on it waits until it is offered again.
   */
  blockAbandoned (cid: CID | string): void {
    const key = String(cid)
    const p = this.pending.get(key)
    if (p === undefined || !p.validating) return
    this.pending.delete(key)
  }

  /**
   * The block could not be judged yet, through no fault of its own or its senders: it is from the future by our
   * clock (Lotus wraps FutureBlock in consensus.ErrTemporal and sync.go's isPermanent keeps it out of the bad-block
   * cache), or a read the check needs failed. It stays pending, is offered to toValidate again once `tick` reaches
   * `retryAtMs`, and no peer is faulted.
   */
  blockDeferred (cid: CID | string, retryAtMs: number): void {
    const p = this.pending.get(String(cid))
    if (p === undefined || !p.validating) return
    p.validating = false
    p.notBeforeMs = retryAtMs
  }

  /** The time now; requests older than the timeout fail (returned, so the caller can abort them). */
  tick (nowMs: number): SyncRequest[] {
    this.now = nowMs
    const expired: SyncRequest[] = []
    for (const f of [...this.inFlight.values()]) {
      if (nowMs - f.sentAt < this.opts.requestTimeoutMs) continue
      expired.push(f.req)
      this.requestFailed(f.req.peer, f.req, new RequestTimeoutError(`no answer in ${this.opts.requestTimeoutMs} ms`))
    }
    return expired
  }

  /**
   * The tipset is final (a finality certificate, or ChainFinality deep): it becomes the fork tree's root,
   * forks beside it are dropped and the head is the heaviest tipset descending from it.
   */
  finalize (key: CID[]): void {
    const ks = tipSetKeyString(key)
    if (this.tree.get(ks) === undefined) throw new UnknownTipSetError(`tipset ${ks} is not in the tree`)
    this.moveHead(this.tree.heaviestFrom(ks)) // the path is walked while both sides are still held
    const dropped = new Set(this.tree.prune(ks))
    const height = this.tree.root.height
    for (const [k, w] of this.wants) if (w.height <= height) this.wants.delete(k)
    for (const [cid, p] of this.byHeight()) {
      const h = p.header.header
      if (!p.validating && (h.height <= height || h.parents.some(c => dropped.has(String(c))))) {
        this.pending.delete(cid)
        dropped.add(cid)
      }
    }
  }

  // ---- inside ----

  private moveHead (to: TipSetNode): void {
    if (to.key === this.current.key) return
    const { reverted, applied } = this.tree.reorgPath(this.current, to)
    this.changes.push({ from: this.current, to, reverted, applied })
    this.current = to
  }

  /**
   * Lotus chain/sync.go InformNewHead ignores a tipset whose ParentWeight is below our head's ParentWeight; a
   * block joining our head's tipset carries the same ParentWeight, so it is fetched.
   */
  private wantHead (peer: string, claim: Claim): void {
    if (this.known(claim.key) || claim.weight < this.current.tipset.blocks[0]!.header.parentWeight) return
    this.addWant(claim.key, claim.height, claim.weight, [peer])
  }

  /** Held headers at or below `height` (or being validated): what a window down to there cannot displace. */
  private heldAtOrBelow (height: Epoch): number {
    let n = 0
    for (const p of this.pending.values()) if (p.validating || p.header.header.height <= height) n++
    return n
  }

  /** Drops up to `n` waiting headers above `height`, highest first; the peer heads they served are wanted again. */
  private evictAbove (height: Epoch, n: number): number {
    const above = this.byHeight().filter(([, p]) => !p.validating && p.header.header.height > height).reverse().slice(0, n)
    for (const [cid] of above) this.pending.delete(cid)
    if (above.length > 0) for (const [peer, claim] of this.peerHeads) this.wantHead(peer, claim)
    return above.length
  }

  private known (key: readonly CID[]): boolean {
    return key.every(c => this.tree.hasBlock(c) || this.pending.has(String(c)))
  }

  private reserved (): number {
    let n = 0
    for (const f of this.inFlight.values()) n += f.req.length
    return n
  }

  private byHeight (): Array<[string, Pending]> {
    return [...this.pending.entries()].sort(([, a], [, b]) => a.header.header.height - b.header.header.height)
  }

  private addWant (key: CID[], height: Epoch, weight: ChainWeight, sources: string[]): void {
    const ks = tipSetKeyString(key)
    const want = this.wants.get(ks) ?? { key, height, weight, sources: new Set<string>(), inFlight: null, failedAt: new Map<string, number>() }
    if (weight > want.weight) want.weight = weight
    for (const s of sources) if (!this.faulted.has(s)) want.sources.add(s)
    this.wants.set(ks, want)
  }

  private finish (request: SyncRequest, peer: string): (InFlight & { weight: ChainWeight }) | undefined {
    const flight = this.inFlight.get(request.id)
    if (flight === undefined || flight.req.peer !== peer) return undefined
    this.inFlight.delete(request.id)
    this.peerLoad.set(peer, (this.peerLoad.get(peer) ?? 1) - 1)
    const want = this.wants.get(flight.want)
    if (want?.inFlight === request.id) want.inFlight = null
    return { ...flight, weight: want?.weight ?? 0n }
  }

  /** Lotus exchange client.go processResponse: non-empty, not longer than asked, headed by what was asked, each tipset its successor's parent. */
  private checkAnswer (req: SyncRequest, chain: SealedHeader[][]): TipSet[] {
    if (chain.length === 0) throw new MismatchedAnswerError(req.peer, 'answer holds no tipsets')
    if (chain.length > req.length) throw new MismatchedAnswerError(req.peer, `asked for ${req.length} tipsets, got ${chain.length}`)
    const tipsets = chain.map((blocks, i) => {
      if (new Set(blocks.map(b => String(b.cid))).size !== blocks.length) throw new UnlinkedHeadersError(req.peer, `tipset ${i} repeats a block`)
      try { return makeTipSet(blocks) } catch (err) { throw new UnlinkedHeadersError(req.peer, `tipset ${i}: ${(err as Error).message}`) }
    })
    if (tipSetKeyString(tipsets[0]!.key) !== tipSetKeyString(req.head)) throw new MismatchedAnswerError(req.peer, 'answer is headed by another tipset than asked')
    for (let i = 0; i + 1 < tipsets.length; i++) {
      const child = tipsets[i]!
      const parent = tipsets[i + 1]!
      if (parentKeyOf(child) !== tipSetKeyString(parent.key) || child.height <= parent.height) {
        throw new UnlinkedHeadersError(req.peer, `tipset at height ${child.height} is not the child of the next one (height ${parent.height})`)
      }
    }
    return tipsets
  }

  private markRejected (cid: string, reason: string): void {
    if (this.rejected.has(cid)) return
    if (this.rejected.size >= REJECTED_CACHE_SIZE) this.rejected.delete(this.rejected.keys().next().value!)
    this.rejected.set(cid, reason)
  }

  /** A held header is bad: drop it and its held descendants, and fault every peer that sent one of them. */
  private reject (cid: string, p: Pending, reason: string): void {
    this.pending.delete(cid)
    this.markRejected(cid, reason)
    const culprits = new Set(p.sources)
    for (const [c, d] of this.byHeight()) {
      if (!d.header.header.parents.some(x => this.rejected.has(String(x)))) continue
      this.pending.delete(c)
      this.markRejected(c, `descends from ${cid}`)
      for (const s of d.sources) culprits.add(s)
    }
    for (const [k, w] of this.wants) if (w.key.some(c => this.rejected.has(String(c)))) this.wants.delete(k)
    for (const [peer, head] of this.peerHeads) if (head.key.some(c => this.rejected.has(String(c)))) culprits.add(peer)
    for (const peer of culprits) this.fault(new RejectedChainError(peer, cid, reason))
  }

  private fault (error: SyncFaultError): void {
    if (this.faulted.has(error.peer)) return
    this.faulted.add(error.peer)
    this.faults.push({ peer: error.peer, error })
    this.forget(error.peer)
  }

  /** Nothing of the peer's that did not validate is kept, unless another peer sent it too. */
  private forget (peer: string): void {
    for (const f of [...this.inFlight.values()]) if (f.req.peer === peer) this.finish(f.req, peer)
    this.peerLoad.delete(peer)
    this.peerHeads.delete(peer)
    for (const [k, w] of this.wants) {
      w.sources.delete(peer)
      if (w.sources.size === 0) this.wants.delete(k)
    }
    if (!this.faulted.has(peer)) return
    for (const [cid, p] of this.pending) {
      p.sources.delete(peer)
      if (p.sources.size === 0 && !p.validating) this.pending.delete(cid)
    }
  }
}
