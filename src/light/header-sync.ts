// Header sync for the light client: learns targets from hello and gossip, fetches the missing range
// backwards with chain exchange (checking each header's CID against the link that asked for it), then
// verifies forwards from the stored head and stores in chunks. Network and storage are injected, so the
// same engine runs in the browser worker and in Node tests.
import {
  validateHeaderRun, CidMismatchError, HeightGapError, UnknownParentError, MalformedMessageError,
  HeaderRejectedError, BeaconEntryError, makeTipSet, NoBeaconEntryError, OversizedMessageError, ExchangeStatus, MAX_EXCHANGE_LENGTH,
  type CID, type TipSet, type Genesis, type SealedHeader, type ExchangeResponse, type Epoch, type UnixSeconds
} from '../core'
import type { HeaderStore } from './header-store'

export interface SyncNetwork {
  fetchChain: (peer: string, head: CID, length: number) => Promise<ExchangeResponse>
}

export interface Target { peer: string, cid: CID, height: Epoch, header?: SealedHeader }

export interface HeaderSyncInit {
  genesis: Genesis
  store: HeaderStore
  head: SealedHeader
  net: SyncNetwork
  nowSecs: () => UnixSeconds
  nowMs: () => number
  onAppend: (headers: SealedHeader[]) => void
  /** The peer broke a rule: the caller hangs up on it and shows why. */
  onRejection: (peer: string, err: Error) => void
  onNetworkError: (peer: string, err: Error) => void
  onChange: () => void
  /** For the random weights of batch signature verification. */
  randomBytes: (n: number) => Uint8Array
  /** Largest run verified and stored at once; runs start small so the first verified head shows fast. */
  maxBatch?: number
}

/** The peer answered chain exchange with GoAway: it is serving all it will; a network condition, not a fault. */
export class PeerBusyError extends Error {
  static override name = 'PeerBusyError'
  override name = 'PeerBusyError'
  constructor (readonly peer: string, detail: string) { super(`peer ${peer.slice(-8)} is busy: ${detail}`) }
}

/** True for errors that prove the peer sent something invalid (as opposed to a failed connection). */
export function isRuleViolation (err: unknown): err is Error {
  return err instanceof HeaderRejectedError || err instanceof BeaconEntryError || err instanceof NoBeaconEntryError || err instanceof MalformedMessageError || err instanceof OversizedMessageError
}

const yieldNow = async (): Promise<void> => { await new Promise(resolve => setTimeout(resolve, 0)) }

export class HeaderSync {
  head: SealedHeader
  /** One producer makes one block an epoch: none of its head moves reverts a tipset. */
  readonly reorgs = { count: 0, deepest: 0, last: null }
  backlog: { total: number, fetched: number, verified: number } | null = null
  headersVerified = 0
  verifyMs = 0
  /** Each connected peer's best announced head; the highest is what we sync towards. */
  private readonly claims = new Map<string, Target>()
  private running = false
  private idle: Promise<void> = Promise.resolve()

  constructor (private readonly init: HeaderSyncInit) {
    this.head = init.head
  }

  get bestKnownHeight (): Epoch {
    let best = this.head.header.height
    for (const t of this.claims.values()) best = Math.max(best, t.height)
    return best
  }

  /** A peer says its head is `cid` at `height` (hello, or a gossiped header). */
  offer (target: Target): void {
    const known = this.claims.get(target.peer)
    if (known !== undefined && known.height >= target.height) return
    this.claims.set(target.peer, target)
    if (target.height > this.head.header.height && !this.running) this.idle = this.drain()
  }

  /** The head as a tipset (of its one block). */
  get headTipSet (): TipSet { return makeTipSet([this.head]) }

  stop (): void {}

  /** A disconnected or dropped peer's claims no longer count. */
  forgetPeer (peer: string): void {
    this.claims.delete(peer)
  }

  private nextTarget (): Target | null {
    let best: Target | null = null
    for (const t of this.claims.values()) {
      if (t.height > this.head.header.height && (best === null || t.height > best.height)) best = t
    }
    return best
  }

  /** Resolves when no target is left to work on (tests and benchmarks wait on this). */
  async settled (): Promise<void> {
    while (this.running) await this.idle
  }

  private async drain (): Promise<void> {
    this.running = true
    try {
      for (let t = this.nextTarget(); t !== null; t = this.nextTarget()) {
        try {
          await this.catchUp(t)
        } catch (err) {
          // either way this claim is spent: retrying the same peer's same head would fail the same way
          if (this.claims.get(t.peer) === t) this.claims.delete(t.peer)
          if (isRuleViolation(err)) {
            this.forgetPeer(t.peer)
            this.init.onRejection(t.peer, err)
          } else {
            this.init.onNetworkError(t.peer, err as Error)
          }
        } finally {
          this.backlog = null
          this.init.onChange()
        }
      }
    } finally {
      this.running = false
    }
  }

  /**
   * Walks the peer's chain down from `t`, checking each header hashes to the link that asked for it, until
   * `need` headers are in hand. Returns them ascending.
   */
  private async fetchBackwards (t: Target, need: number, onProgress = true): Promise<SealedHeader[]> {
    if (t.header !== undefined && need === 1) return [t.header]
    const backlog: SealedHeader[] = []
    let cursor = t.cid
    let expected = t.height
    while (backlog.length < need) {
      const resp = await this.init.net.fetchChain(t.peer, cursor, Math.min(MAX_EXCHANGE_LENGTH, need - backlog.length))
      // a busy node says GoAway (it bounds requests per peer and in all): not a broken rule, ask again later
      if (resp.status === ExchangeStatus.GoAway) throw new PeerBusyError(t.peer, resp.errorMessage)
      if ((resp.status !== ExchangeStatus.Ok && resp.status !== ExchangeStatus.Partial) || resp.chain.length === 0) {
        throw new MalformedMessageError(`peer could not serve the head it announced (status ${resp.status}: ${resp.errorMessage})`)
      }
      for (const tipset of resp.chain) {
        // one producer means one block per tipset; anything else is not this chain
        if (tipset.length !== 1) throw new MalformedMessageError(`tipset of ${tipset.length} blocks`)
        const h = tipset[0]!
        if (!h.cid.equals(cursor)) throw new CidMismatchError(String(cursor), String(h.cid), expected)
        if (h.header.height !== expected) throw new HeightGapError(expected + 1, h.header.height)
        backlog.push(h)
        if (backlog.length === need) break
        const parent = h.header.parents[0]
        if (parent === undefined || h.header.parents.length !== 1) throw new UnknownParentError('(none)', h.header.height)
        cursor = parent
        expected--
      }
      if (onProgress) {
        this.backlog = { total: need, fetched: backlog.length, verified: 0 }
        this.init.onChange()
      }
    }
    return backlog.reverse()
  }

  /**
   * The peer's chain does not extend our head: fetch its headers down to the one whose parent we hold
   * and check them, so the rejection names the real fault (a forged signature, say). A fork that passes
   * every rule is still refused: one producer never signs two headers at a height, and this skeleton
   * does not follow forks.
   */
  private async rejectFork (peer: string, bottom: SealedHeader, above: SealedHeader[]): Promise<never> {
    const parentCid = bottom.header.parents[0]
    let ancestor = parentCid === undefined ? null : await this.init.store.get(parentCid.toString())
    let fork: SealedHeader[] = []
    if (ancestor === null && parentCid !== undefined && bottom.header.height > 1) {
      const depth = Math.min(MAX_EXCHANGE_LENGTH, bottom.header.height - 1)
      fork = await this.fetchBackwards({ peer, cid: parentCid, height: bottom.header.height - 1 }, depth, false)
      const forkParent = fork[0]!.header.parents[0]
      ancestor = forkParent === undefined ? null : await this.init.store.get(forkParent.toString())
    }
    if (ancestor !== null) {
      validateHeaderRun([...fork, ...above], ancestor, this.init.genesis, this.init.nowSecs(), this.init.randomBytes)
    }
    throw new UnknownParentError(String(parentCid), bottom.header.height)
  }

  private async catchUp (t: Target): Promise<void> {
    const need = t.height - this.head.header.height
    this.backlog = { total: need, fetched: 0, verified: 0 }
    this.init.onChange()
    const ascending = await this.fetchBackwards(t, need)
    if (!ascending[0]!.header.parents[0]?.equals(this.head.cid)) await this.rejectFork(t.peer, ascending[0]!, ascending)
    const maxBatch = this.init.maxBatch ?? 128
    let batch = 8
    for (let i = 0; i < ascending.length; i += batch, batch = Math.min(maxBatch, batch * 2)) {
      // verify a run, then store it in one transaction: a run with any bad header stores nothing
      const run = ascending.slice(i, i + batch)
      const t0 = this.init.nowMs()
      validateHeaderRun(run, this.head, this.init.genesis, this.init.nowSecs(), this.init.randomBytes)
      this.verifyMs += this.init.nowMs() - t0
      await this.init.store.append(run)
      this.headersVerified += run.length
      this.head = run[run.length - 1]!
      this.backlog = { total: need, fetched: need, verified: i + run.length }
      this.init.onAppend(run)
      this.init.onChange()
      await yieldNow()
    }
  }
}
