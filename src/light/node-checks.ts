// The nodes the tab talks to, each checked against what the tab verified itself (issue 12: the tab believes no
// single node). A node's hello head must be the verified chain's header at that height; its state answers
// must verify against the tab's own headers; two nodes asked the same read must agree. A node that fails any
// of these is named (peer, reason), hung up on and not used again this session. The judging here is pure:
// the light client feeds it hellos, verified heads and answers, and does the I/O.
import type { Epoch } from '../core'

/** A chain node, a provider's node, or another tab (tab-peers.ts). */
export type NodeRole = 'node' | 'provider' | 'tab'
/**
 * agreeing: the head it last showed is the verified chain's header at that height, and was within AGREE_SLACK
 * of our head when it showed it; behind: on the verified chain, but more than AGREE_SLACK epochs back then;
 * ahead: its head is above what we verified, not judged yet; pending: not judged yet; dropped: it disagreed or
 * served what does not verify. A node shows its head by its hello, by relaying us a new block first, and by
 * answering a cross-check read at our head (it holds that state).
 */
/** 'fork': under Expected Consensus, its head is not on the verified chain: another fork, lighter or not fetched yet (no fault). */
export type NodeState = 'pending' | 'agreeing' | 'behind' | 'ahead' | 'fork' | 'dropped'

/** What the page is shown of one node. */
export interface NodeSummary {
  id: string
  role: NodeRole
  addr: string | null
  headHeight: Epoch | null
  headCid: string | null
  state: NodeState
  /** Why it was dropped: the error name and what it did. */
  reason?: string
  /** State answers from it that verified (reads, cross-checks). */
  verifiedAnswers: number
  /** Cross-checks it took part in (the same read asked of two nodes) that agreed. */
  crossChecks: number
}

/**
 * Epochs a node's head may trail ours and still count as agreeing: a hello is a snapshot, and a block or two
 * in flight on a 1 s chain is not a node falling behind.
 */
export const AGREE_SLACK = 3

/** A node's head is not the verified chain's header at that height: another chain, or a lie. */
export class NodeHeadMismatchError extends Error {
  static override name = 'NodeHeadMismatchError'
  override name = 'NodeHeadMismatchError'
  constructor (readonly height: Epoch, readonly theirs: string, readonly ours: string | null) {
    super(`its head at height ${height} is ${theirs.slice(0, 12)}…, the verified chain has ${ours === null ? 'no header there' : `${ours.slice(0, 12)}…`}`)
  }
}

/** Two nodes gave different verified answers to the same read at the same header (one of them cannot be). */
export class NodeAnswersDisagreeError extends Error {
  static override name = 'NodeAnswersDisagreeError'
  override name = 'NodeAnswersDisagreeError'
}

export type HeadVerdict =
  | { state: 'agreeing' | 'behind' | 'ahead' | 'fork' }
  | { state: 'dropped', error: NodeHeadMismatchError }

/**
 * Judges a node's announced head against the verified chain: `ourCidAt(h)` is the CID of the verified header
 * at height h (null when the verified chain has none there). A head above ours cannot be judged yet.
 */
export function judgeNodeHead (theirs: { height: Epoch, cid: string, ourHeight?: Epoch }, ourHeight: Epoch, ourCidAt: string | null, forks = false): HeadVerdict {
  if (theirs.height > ourHeight) return { state: 'ahead' }
  // under Expected Consensus two honest nodes may hold different heads at one height (a fork, a tipset one block
  // bigger): the sync follows the heavier, and a lie in a block is caught there; only one producer cannot fork
  if (ourCidAt !== theirs.cid && forks) return { state: 'fork' }
  if (ourCidAt !== theirs.cid) return { state: 'dropped', error: new NodeHeadMismatchError(theirs.height, theirs.cid, ourCidAt) }
  // how far behind it was when it showed that head (a head shown long ago says nothing of how far it is now)
  return { state: (theirs.ourHeight ?? ourHeight) - theirs.height <= AGREE_SLACK ? 'agreeing' : 'behind' }
}

/**
 * Judges each node's last shown head against one snapshot of our verified head (`head`, read once) and the
 * verified headers below it (`cidAt`, which may await storage). The snapshot matters: our head moves while the
 * lookups await, and a node at the old head's height compared with the new head would look like another chain
 * (a loaded tab dropped an honest provider's node that way, NodeHeadMismatchError at its own height).
 */
export async function judgeNodeHeads<J extends { peer: string, height: Epoch, cid: string, ourHeight: Epoch }> (
  toJudge: J[], head: { height: Epoch, cid: string }, cidAt: (height: Epoch, theirs: string) => Promise<string | null>, forks = false
): Promise<Array<{ node: J, verdict: HeadVerdict }>> {
  const out: Array<{ node: J, verdict: HeadVerdict }> = []
  for (const j of toJudge) {
    if (j.height > head.height) { out.push({ node: j, verdict: { state: 'ahead' } }); continue }
    // under Expected Consensus a tipset has several blocks: cidAt answers theirs when the verified tipset holds it
    const ours = j.height === head.height && !forks ? head.cid : await cidAt(j.height, j.cid)
    out.push({ node: j, verdict: judgeNodeHead(j, head.height, ours, forks) })
  }
  return out
}

/** One node's answer to a cross-check read: verified (with a key for the value), refused, a lie, or no answer. */
export type ReadOutcome =
  | { kind: 'verified', value: string }
  | { kind: 'lie', error: Error }
  | { kind: 'unavailable', error: Error }

/**
 * The verdicts of asking two nodes the same read at the same verified header. A proof that does not verify
 * condemns its node alone. Two verified answers that differ cannot both be proofs under one root, so this
 * is a fault in the tab's checks, not the nodes': both are named, and neither is used for the read. A node
 * with no answer (it may not keep that state) is no verdict.
 */
export function compareReads (a: { peer: string, outcome: ReadOutcome }, b: { peer: string, outcome: ReadOutcome }): Array<{ peer: string, verdict: 'agrees' | 'no-answer' | 'drop', error?: Error }> {
  const one = (x: typeof a): { peer: string, verdict: 'agrees' | 'no-answer' | 'drop', error?: Error } =>
    x.outcome.kind === 'lie' ? { peer: x.peer, verdict: 'drop', error: x.outcome.error } : { peer: x.peer, verdict: x.outcome.kind === 'verified' ? 'agrees' : 'no-answer' }
  if (a.outcome.kind === 'verified' && b.outcome.kind === 'verified' && a.outcome.value !== b.outcome.value) {
    const err = new NodeAnswersDisagreeError(`nodes ${a.peer.slice(-8)} and ${b.peer.slice(-8)} gave different verified answers to one read`)
    return [{ peer: a.peer, verdict: 'drop', error: err }, { peer: b.peer, verdict: 'drop', error: err }]
  }
  return [one(a), one(b)]
}

/** A head a node showed, and our verified height when it did. */
interface Shown { height: Epoch, cid: string, ourHeight: Epoch }
interface NodeRecord extends NodeSummary { lastHello: Shown | null }

/**
 * The tab's nodes, by peer ID. A dropped node stays listed (with its reason) and is never used again this
 * session, whatever it sends later.
 */
export class NodeBook {
  private readonly nodes = new Map<string, NodeRecord>()
  /** Kept dropped nodes at most: a peer ID is free to make, so the list of the condemned must not grow for ever. */
  static readonly MAX_NODES = 256

  constructor (private readonly roleOf: (peer: string) => NodeRole) {}

  private record (peer: string): NodeRecord {
    let r = this.nodes.get(peer)
    if (r === undefined) {
      r = { id: peer, role: this.roleOf(peer), addr: null, headHeight: null, headCid: null, state: 'pending', verifiedAnswers: 0, crossChecks: 0, lastHello: null }
      this.nodes.set(peer, r)
      if (this.nodes.size > NodeBook.MAX_NODES) {
        // forget the oldest node that is not dropped (connections come and go); dropped ones keep their names
        for (const [id, n] of this.nodes) if (n.state !== 'dropped' && id !== peer) { this.nodes.delete(id); break }
      }
    }
    return r
  }

  /** Nodes are listed from their first hello (a peer that never says one on our genesis is no node). The peer
   * hung up (or we did): a node that was never dropped leaves the list. */
  disconnected (peer: string): void { const r = this.nodes.get(peer); if (r !== undefined && r.state !== 'dropped') this.nodes.delete(peer) }

  /** Records a hello head; the caller judges it (judge) once it can look up our header at that height. */
  hello (peer: string, head: { height: Epoch, cid: string }, ourHeight: Epoch, addr: string | null = null): void {
    const r = this.record(peer)
    if (r.state === 'dropped') return
    if (addr !== null) r.addr = addr
    this.show(r, head, ourHeight)
  }

  /**
   * A listed node showed a head other than by hello: it relayed us a new block first, or answered a read at
   * our head. A head lower than one it showed before is no news (a relay of an old block).
   */
  seen (peer: string, head: { height: Epoch, cid: string }, ourHeight: Epoch): void {
    const r = this.nodes.get(peer)
    if (r === undefined || r.state === 'dropped' || (r.headHeight !== null && head.height < r.headHeight)) return
    this.show(r, head, ourHeight)
  }

  private show (r: NodeRecord, head: { height: Epoch, cid: string }, ourHeight: Epoch): void {
    r.lastHello = { ...head, ourHeight }
    r.headHeight = head.height
    r.headCid = head.cid
  }

  /** Nodes whose last shown head is to be judged against the verified chain: heights to look up. */
  toJudge (): Array<{ peer: string, height: Epoch, cid: string, ourHeight: Epoch }> {
    return [...this.nodes.values()].filter(r => r.state !== 'dropped' && r.lastHello !== null).map(r => ({ peer: r.id, ...r.lastHello! }))
  }

  /** Applies a head verdict; a mismatch drops the node and returns the error to report. */
  judged (peer: string, head: { cid: string }, v: HeadVerdict): Error | null {
    const r = this.nodes.get(peer)
    // a newer hello came meanwhile: this verdict is about an old one
    if (r === undefined || r.state === 'dropped' || r.lastHello?.cid !== head.cid) return null
    if (v.state === 'dropped') { this.drop(peer, v.error); return v.error }
    r.state = v.state
    return null
  }

  answered (peer: string): void { const r = this.nodes.get(peer); if (r !== undefined) r.verifiedAnswers++ }
  crossChecked (peer: string): void { const r = this.nodes.get(peer); if (r !== undefined) r.crossChecks++ }

  drop (peer: string, err: Error): void {
    const r = this.record(peer)
    if (r.state === 'dropped') return
    r.state = 'dropped'
    r.reason = `${err.name}: ${err.message}`
    r.lastHello = null
  }

  isDropped (peer: string): boolean { return this.nodes.get(peer)?.state === 'dropped' }
  state (peer: string): NodeState | undefined { return this.nodes.get(peer)?.state }

  /** Nodes that may be asked (said hello, not dropped), agreeing ones first. */
  usable (): string[] {
    const rank = (s: NodeState): number => s === 'agreeing' ? 0 : s === 'ahead' ? 1 : s === 'behind' ? 2 : s === 'fork' ? 3 : 4
    return [...this.nodes.values()].filter(r => r.state !== 'dropped' && r.state !== 'pending').sort((a, b) => rank(a.state) - rank(b.state)).map(r => r.id)
  }

  /**
   * The next pair to ask the same read: the two nodes cross-checked least (so every node takes its turn),
   * agreeing ones before others; fewer than two usable nodes is no pair.
   */
  nextPair (): [string, string] | null {
    const rank = (s: NodeState): number => s === 'agreeing' ? 0 : 1
    const c = [...this.nodes.values()].filter(r => r.state !== 'dropped' && r.state !== 'pending')
      .sort((a, b) => (a.crossChecks - b.crossChecks) || (rank(a.state) - rank(b.state)) || a.id.localeCompare(b.id))
    return c.length < 2 ? null : [c[0]!.id, c[1]!.id]
  }

  summaries (): NodeSummary[] {
    return [...this.nodes.values()].map(({ lastHello, ...s }) => { void lastHello; return { ...s, role: this.roleOf(s.id) } })
      .sort((a, b) => (a.state === 'dropped' ? 1 : 0) - (b.state === 'dropped' ? 1 : 0) || a.id.localeCompare(b.id))
  }
}
