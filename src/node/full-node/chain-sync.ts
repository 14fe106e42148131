// A full node's sync: learns targets from hello heads and gossiped blocks, fetches the missing headers
// backwards by chain exchange (each checked against the link that asked for it, in batches of at most
// 900, from the peer that announced them, each batch checked against the producer's key as it comes),
// checks they link to our chain, then fetches their messages
// forwards in windows and hands each block to NodeChain.accept, which executes it and compares roots.
// As Lotus's syncer: headers first (cheap, and a chain that does not link is refused before any
// execution), messages after. One producer means one chain: a chain that does not link to ours is
// refused by name (forks are issue 13's).
import {
  CidMismatchError, HeightGapError, MalformedMessageError, OversizedMessageError, HeaderRejectedError, ExchangeStatus,
  MAX_EXCHANGE_LENGTH, EXCHANGE_OPT_HEADERS, EXCHANGE_OPT_MESSAGES, ALLOWED_CLOCK_DRIFT_SECS, blockMessagesOf, validateHeaderRun, validateHeaderSignature, validateHeaderBeaconSignatures, BeaconEntryError, NoBeaconEntryError,
  tipSetKeyString, makeTipSet,
  type CID, type Epoch, type SealedHeader, type ExchangeRequest, type ExchangeResponse, type BlockMessages
} from '../../core'
import { FORK_TREE_DEPTH, type NodeChain } from '../chain'
import { BlockRejectedError } from '../block-errors'

/** A peer's head: a block's CID, or (`key`) the TipSetKey hello names, which Expected Consensus sync asks for whole. */
export interface SyncTarget { peer: string, cid: CID, height: Epoch, key?: CID[] }

export interface ChainSyncInit {
  chain: NodeChain
  /** One chain-exchange request to `peer`. */
  request: (peer: string, req: ExchangeRequest) => Promise<ExchangeResponse>
  /** The peer broke a rule (sent a block that fails validation, or an answer that does not hash): drop it. */
  onPeerFault: (peer: string, err: Error) => void
  /** A request failed for a reason that is not the peer's proven fault (timeout, busy, closed). */
  onNetworkError?: (peer: string, err: Error) => void
  /** Each block stored, as it is. */
  onAccepted?: (h: SealedHeader) => void
  nowSecs: () => number
  /** Pauses before asking a peer again after failures not its fault (SYNC_RETRY_DELAYS_MS unless given). */
  retryDelaysMs?: readonly number[]
}

/**
 * A peer announced a head no chain of ours can have reached yet: blocks are at least a second apart (a
 * child's timestamp is above its parent's), so the height after genesis is at most the seconds since
 * genesis. Refused before anything is fetched: headers are fetched before they are verified, and a
 * made-up height would otherwise have us fetch without end.
 */
export class ImpossibleHeadError extends HeaderRejectedError {
  static override name = 'ImpossibleHeadError'
  override name = 'ImpossibleHeadError'
  constructor (height: Epoch, readonly most: Epoch) {
    super('TIMESTAMP', `announced head at height ${height}, but at most ${most} blocks can follow genesis by now`, height)
  }
}

/** The peer's chain does not extend ours: it holds another block at a height we already have. */
export class UnlinkedChainError extends HeaderRejectedError {
  static override name = 'UnlinkedChainError'
  override name = 'UnlinkedChainError'
  constructor (readonly ours: string, readonly theirs: string, height: Epoch) {
    super('UNKNOWN_PARENT', `peer's chain holds ${theirs} at height ${height} where ours holds ${ours}: it does not link to our chain (one producer, one chain)`, height)
  }
}

/**
 * Expected Consensus sync walked back from a peer's head for more tipsets than this node keeps below its head
 * (FORK_TREE_DEPTH) without reaching one it holds: a fork that deep is not followed (Lotus refuses forks past
 * finality), and a peer naming one is refused.
 */
export class ForkTooDeepError extends HeaderRejectedError {
  static override name = 'ForkTooDeepError'
  override name = 'ForkTooDeepError'
  constructor (height: Epoch, readonly depth: number) {
    super('UNKNOWN_PARENT', `peer's chain reaches no tipset we hold within ${depth} tipsets below its head at ${height}`, height)
  }
}

/** A chain-exchange answer that breaks the protocol (wrong shape, wrong count, nothing for a head it announced). */
export class ExchangeAnswerError extends MalformedMessageError {
  static override name = 'ExchangeAnswerError'
  override name = 'ExchangeAnswerError'
}

/** The peer answered GoAway: busy, not at fault. */
export class PeerBusyError extends Error {
  static override name = 'PeerBusyError'
  override name = 'PeerBusyError'
  constructor (readonly peer: string, detail: string) { super(`peer ${peer} is busy: ${detail}`) }
}

/**
 * The peer answered NotFound or InternalError: it lacks what we asked for or failed serving it. Not a
 * fault (an honest node restarted from an empty folder, or one with a full disk, answers so): Lotus's
 * exchange client turns these statuses into an error for that request and tries another peer, and never
 * drops the peer for them (chain/exchange/protocol.go statusToError, client.go).
 */
export class ExchangeRefusedError extends Error {
  static override name = 'ExchangeRefusedError'
  override name = 'ExchangeRefusedError'
  constructor (readonly peer: string, readonly status: ExchangeStatus, detail: string) { super(`peer ${peer} could not serve the request (status ${status}: ${detail})`) }
}

/** Errors that prove the peer sent something invalid (as opposed to a failed or busy connection). */
export function isPeerFault (err: unknown): err is Error {
  return err instanceof BlockRejectedError || err instanceof HeaderRejectedError || err instanceof BeaconEntryError || err instanceof NoBeaconEntryError || err instanceof MalformedMessageError || err instanceof OversizedMessageError
}

/** Messages windows start small (the first blocks show fast) and grow while answers come whole. */
const FIRST_WINDOW = 32

/**
 * A peer whose request failed without its fault (busy, a timeout, a closed stream) is asked again for the same head
 * after a pause that doubles up to the last: a loaded node answers GoAway ("try later") and would otherwise leave a
 * follower stuck below its head until some other block reached it by gossip.
 */
export const SYNC_RETRY_DELAYS_MS = [2_000, 4_000, 8_000, 16_000, 30_000] as const

export class ChainSync {
  private readonly claims = new Map<string, SyncTarget>()
  private running: Promise<void> | null = null
  private heard = false
  /** Blocks applied by this sync since it started: what a sync rate is measured on. */
  applied = 0
  private window = FIRST_WINDOW
  /** Peers whose last request failed without their fault: how many times in a row, and whether a retry is pending. */
  private readonly failures = new Map<string, { count: number, waiting: boolean }>()

  constructor (private readonly init: ChainSyncInit) {}

  /** The highest head any connected peer announced (our own when none is higher). */
  get bestKnownHeight (): Epoch {
    let best = this.init.chain.head().header.height
    for (const t of this.claims.values()) best = Math.max(best, t.height)
    return best
  }

  /** True once some peer told us its head. */
  get heardFromPeers (): boolean { return this.heard }

  /** A peer says its head is `cid` at `height` (hello, or a gossiped block we cannot apply yet). */
  offer (t: SyncTarget): void {
    const genesisTime = this.init.chain.genesis.header.header.timestamp
    const most = Math.max(0, this.init.nowSecs() - genesisTime) + ALLOWED_CLOCK_DRIFT_SECS
    if (t.height > most) {
      this.forgetPeer(t.peer)
      this.init.onPeerFault(t.peer, new ImpossibleHeadError(t.height, most))
      return
    }
    this.heard = true
    const known = this.claims.get(t.peer)
    if (known === undefined || known.height < t.height) this.claims.set(t.peer, t)
    if (this.pending(t)) this.kick()
  }

  private kick (): void { this.running ??= this.drain().finally(() => { this.running = null }) }

  /** The peer's claim stays; it is asked again after a pause (SYNC_RETRY_DELAYS_MS). */
  private retryLater (peer: string): void {
    // forgotten meanwhile (it disconnected while its request ran): nothing to retry, nothing to keep
    if (!this.claims.has(peer)) { this.failures.delete(peer); return }
    const f = this.failures.get(peer) ?? { count: 0, waiting: false }
    f.count++
    f.waiting = true
    this.failures.set(peer, f)
    const delays = this.init.retryDelaysMs !== undefined && this.init.retryDelaysMs.length > 0 ? this.init.retryDelaysMs : SYNC_RETRY_DELAYS_MS
    const delay = delays[Math.min(f.count, delays.length) - 1]!
    setTimeout(() => {
      if (this.failures.get(peer) !== f) return
      f.waiting = false
      const t = this.claims.get(peer)
      if (t === undefined) { this.failures.delete(peer); return }
      if (this.pending(t)) this.kick()
    }, delay).unref?.()
  }

  /**
   * Whether a target is worth fetching: one producer, a head above ours; Expected Consensus, a tipset with a block
   * we do not hold (a fork at our height or below may be heavier: NodeChain weighs it once its blocks are in). A
   * key of blocks all held is nothing to fetch, even when no tipset of exactly those is formed here (a light
   * client's hello naming part of a tipset this node holds whole).
   */
  private pending (t: SyncTarget): boolean {
    const chain = this.init.chain
    if (chain.genesis.state.consensus === 'expected') return !chain.holdsBlocks(t.key ?? [t.cid])
    return t.height > chain.head().header.height
  }

  forgetPeer (peer: string): void { this.claims.delete(peer); this.failures.delete(peer) }

  /** Resolves when nothing is left to fetch. */
  async settled (): Promise<void> {
    while (this.running !== null) await this.running
  }

  private nextTarget (): SyncTarget | null {
    let best: SyncTarget | null = null
    for (const t of this.claims.values()) {
      if (this.failures.get(t.peer)?.waiting === true) continue
      if (this.pending(t) && (best === null || t.height > best.height)) best = t
    }
    return best
  }

  private async drain (): Promise<void> {
    for (let t = this.nextTarget(); t !== null; t = this.nextTarget()) {
      try {
        await this.catchUp(t)
        this.failures.delete(t.peer)
      } catch (err) {
        if (isPeerFault(err)) {
          this.forgetPeer(t.peer)
          this.init.onPeerFault(t.peer, err)
        } else {
          // not the peer's fault: the same head is asked for again after a pause (busy, slow, a dropped stream)
          this.init.onNetworkError?.(t.peer, err as Error)
          this.retryLater(t.peer)
        }
      }
    }
  }

  private async exchange (peer: string, req: ExchangeRequest): Promise<ExchangeResponse> {
    const resp = await this.init.request(peer, req)
    // statuses that say the peer cannot serve us now are network errors; an answer that breaks the
    // protocol (an unknown status, BadRequest to our well-formed request, Ok with nothing) stays a fault
    if (resp.status === ExchangeStatus.GoAway) throw new PeerBusyError(peer, resp.errorMessage)
    if (resp.status === ExchangeStatus.NotFound || resp.status === ExchangeStatus.InternalError) throw new ExchangeRefusedError(peer, resp.status, resp.errorMessage)
    if (resp.status !== ExchangeStatus.Ok && resp.status !== ExchangeStatus.Partial) {
      throw new ExchangeAnswerError(`peer answered status ${resp.status} (${resp.errorMessage}) to a well-formed request`)
    }
    if (resp.chain.length === 0) throw new ExchangeAnswerError(`peer answered status ${resp.status} with no tipsets`)
    if (resp.chain.length > req.length) throw new ExchangeAnswerError(`asked for ${req.length} tipsets, got ${resp.chain.length}`)
    return resp
  }

  /**
   * Headers from `t` down to (not including) height `above`, ascending; each must hash to the link that
   * named it, and each answer (at most MAX_EXCHANGE_LENGTH headers) must pass the header rules before the
   * next is asked for (checkHeaderBatch): what we hold is the producer's own chain plus at most one answer
   * being checked, and a peer serving forged headers is refused at its first answer, not after we gathered
   * everything down to our head.
   */
  private async fetchHeaders (t: SyncTarget, above: Epoch): Promise<SealedHeader[]> {
    const out: SealedHeader[] = []
    let cursor = t.cid
    let expected = t.height
    while (expected > above) {
      const resp = await this.exchange(t.peer, { head: [cursor], length: Math.min(MAX_EXCHANGE_LENGTH, expected - above), options: EXCHANGE_OPT_HEADERS })
      const checkedTo = out.length
      for (const tipset of resp.chain) {
        if (tipset.length !== 1) throw new ExchangeAnswerError(`tipset of ${tipset.length} blocks (one producer, one block per tipset)`)
        const h = tipset[0]!
        if (!h.cid.equals(cursor)) throw new CidMismatchError(String(cursor), String(h.cid), expected)
        if (h.header.height !== expected) throw new HeightGapError(expected + 1, h.header.height)
        out.push(h)
        expected--
        if (expected <= above) break
        if (h.header.parents.length !== 1) throw new ExchangeAnswerError(`block at height ${h.header.height} has ${h.header.parents.length} parents`)
        cursor = h.header.parents[0]!
      }
      this.checkHeaderBatch(out, checkedTo)
    }
    // the lowest header was each run's parent: its signatures too (block and beacon), so acceptRun need not check any again
    const lowest = out[out.length - 1]
    if (lowest !== undefined) {
      validateHeaderSignature(lowest, this.init.chain.genesis.state)
      validateHeaderBeaconSignatures(lowest, this.init.chain.genesis)
    }
    return out.reverse()
  }

  /**
   * The header rules over the answer `desc[from..]` (descending, hash-linked), batched as validateHeaderRun
   * does (one batch pairing check for all signatures). The answer's lowest header is the run's parent: its
   * own parent comes in the next answer, so it is checked with that one (or, the lowest of all, by
   * acceptRun against our head); the header above the answer (from the answer before) closes the run.
   */
  private checkHeaderBatch (desc: SealedHeader[], from: number): void {
    const run = desc.slice(Math.max(0, from - 1)).reverse()
    const parent = run.shift()
    if (parent === undefined || run.length === 0) return
    validateHeaderRun(run, parent, this.init.chain.genesis, this.init.nowSecs(), (n) => crypto.getRandomValues(new Uint8Array(n)))
  }

  /** The messages of `headers` (ascending, linked), fetched from the top of the window down. */
  private async fetchMessages (peer: string, headers: SealedHeader[]): Promise<BlockMessages[]> {
    const out: BlockMessages[] = new Array(headers.length)
    let top = headers.length - 1
    while (top >= 0) {
      const resp = await this.exchange(peer, { head: [headers[top]!.cid], length: top + 1, options: EXCHANGE_OPT_HEADERS | EXCHANGE_OPT_MESSAGES })
      if (resp.messages === undefined) throw new ExchangeAnswerError('asked for messages, got none')
      for (const [i, tipset] of resp.chain.entries()) {
        const want = headers[top]!
        // the headers come back too, so an answer for another chain is caught here rather than as a TxMeta mismatch
        if (tipset.length !== 1 || !tipset[0]!.cid.equals(want.cid)) throw new CidMismatchError(String(want.cid), String(tipset[0]?.cid), want.header.height)
        out[top] = blockMessagesOf(resp.messages[i]!, 0)
        top--
        if (top < 0) break
      }
      // an answer cut short by its byte budget: ask for windows that fit
      if (resp.status === ExchangeStatus.Partial) this.window = Math.max(1, resp.chain.length)
    }
    return out
  }

  /**
   * Expected Consensus: tipsets from the peer's head down, with their messages, until one this node holds
   * (any tipset of its fork tree: the peer's chain may be a fork), each answer's tipsets hash-linked to the key
   * that asked for them; then each block, lowest tipset first, through NodeChain.accept, which validates it
   * against the state its parent names and moves the head if its tipset is the heaviest.
   */
  private async catchUpTipsets (t: SyncTarget): Promise<void> {
    const chain = this.init.chain
    const fetched: Array<{ blocks: SealedHeader[], messages: BlockMessages[] }> = []
    let cursor = t.key ?? [t.cid]
    while (!chain.holdsTipSet(cursor)) {
      if (fetched.length >= FORK_TREE_DEPTH) throw new ForkTooDeepError(t.height, FORK_TREE_DEPTH)
      const resp = await this.exchange(t.peer, { head: cursor, length: Math.min(MAX_EXCHANGE_LENGTH, FORK_TREE_DEPTH - fetched.length), options: EXCHANGE_OPT_HEADERS | EXCHANGE_OPT_MESSAGES })
      if (resp.messages === undefined) throw new ExchangeAnswerError('asked for messages, got none')
      for (const [i, blocks] of resp.chain.entries()) {
        const want = tipSetKeyString(cursor)
        const got = tipSetKeyString(blocks.map(b => b.cid))
        if (got !== want) throw new CidMismatchError(want, got, blocks[0]?.header.height ?? t.height)
        const tipset = makeTipSet(blocks) // the blocks share height and parents (MalformedMessageError otherwise)
        fetched.push({ blocks: tipset.blocks, messages: tipset.blocks.map(b => blockMessagesOf(resp.messages![i]!, blocks.indexOf(b))) })
        cursor = tipset.blocks[0]!.header.parents
        if (tipset.height === 0 || chain.holdsTipSet(cursor)) break
      }
    }
    for (const { blocks, messages } of fetched.reverse()) {
      for (const [i, b] of blocks.entries()) {
        if (await chain.accept(b, messages[i]!)) {
          this.applied++
          this.init.onAccepted?.(b)
        }
      }
    }
  }

  private async catchUp (t: SyncTarget): Promise<void> {
    if (this.init.chain.genesis.state.consensus === 'expected') { await this.catchUpTipsets(t); return }
    const chain = this.init.chain
    const headers = await this.fetchHeaders(t, chain.head().header.height)
    if (headers.length === 0) return
    // our head may have moved (gossip) while we fetched: what we already hold must be what they sent
    let start = 0
    while (start < headers.length && headers[start]!.header.height <= chain.head().header.height) {
      const h = headers[start]!
      const ours = await chain.headerAt(h.header.height)
      if (ours === undefined || !ours.cid.equals(h.cid)) throw new UnlinkedChainError(String(ours?.cid), String(h.cid), h.header.height)
      start++
    }
    const bottom = headers[start]
    if (bottom === undefined) return
    const head = chain.head()
    if (bottom.header.height === head.header.height + 1 && !bottom.header.parents[0]?.equals(head.cid)) {
      throw new UnlinkedChainError(String(head.cid), String(bottom.header.parents[0]), head.header.height)
    }
    for (let i = start; i < headers.length;) {
      const window = headers.slice(i, i + this.window)
      const messages = await this.fetchMessages(t.peer, window)
      await chain.acceptRun(window.map((header, j) => ({ header, messages: messages[j]! })), (h) => {
        this.applied++
        this.init.onAccepted?.(h)
      }, { signaturesVerified: true })
      i += window.length
      this.window = Math.min(MAX_EXCHANGE_LENGTH, this.window * 2)
    }
  }
}
