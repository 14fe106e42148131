// The sans-I/O header sync machine (src/core/chain-sync/sync-machine.ts) driven by a scripted fake network
// of a few peers, all in this file: linear sync, a heavier fork arriving later (reorg path), null rounds,
// multi-block tipsets, unlinked and mismatched answers, a heavier chain that fails validation, the request
// bounds, and a failed or silent request retried on another peer. Weights are Lotus's (consensus tipsetWeight).
import { describe, it, expect } from 'vitest'
import { sealHeader, chainCid, makeTipSet, BadSignatureError, type SealedHeader, type TipSet } from '../../src/core'
import { tipsetWeight, breakWeightTie } from '../../src/core/consensus'
import {
  SyncMachine, tipSetKeyString, type EquivocationError, type SyncMachineOptions, type SyncRequest, type HeadChange, type PeerFault, type TipSetNode
} from '../../src/core/chain-sync'

const POWER = 1n << 40n // each tipset weighs 40·256 + 40·256·ΣwinCount/10: 11264 for one block of win count 1
const STUB = chainCid(new Uint8Array([0]))
const FORGER = 66 // the miner whose blocks the test's validator refuses (as a bad signature would be)

const tsk = (ts: TipSet): string => tipSetKeyString(ts.key)
const weights = new Map<string, bigint>()

function header (parent: TipSet | null, height: number, miner: number, winCount: number, salt = 0): SealedHeader {
  return sealHeader({
    miner: new Uint8Array([0, miner]),
    ticket: new Uint8Array([miner, height & 255, height >> 8, winCount]),
    electionProof: parent === null ? null : { winCount, vrfProof: new Uint8Array(96) },
    beaconEntries: [],
    winPoStProof: [],
    parents: parent?.key ?? [],
    parentWeight: parent === null ? 0n : weights.get(tsk(parent))!,
    height,
    parentStateRoot: STUB,
    parentMessageReceipts: STUB,
    messages: STUB,
    blsAggregate: null,
    timestamp: 1_800_000_000 + height + salt, // salt: another block of the same miner and height (Lotus's test moves Timestamp)
    blockSig: null,
    forkSignaling: 0,
    parentBaseFee: 100n
  })
}

/** A tipset of one block per miner on `parent`, its weight recorded by Lotus's rule. */
function tipset (parent: TipSet, height: number, miners: number[], winCount = 1): TipSet {
  const ts = makeTipSet(miners.map(m => header(parent, height, m, winCount)))
  weights.set(tsk(ts), tipsetWeight(weights.get(tsk(parent))!, POWER, miners.map(() => winCount)))
  return ts
}

/** One block per height from `miner` on top of `from`, at each of `heights` (gaps are null rounds). */
function chain (from: TipSet, heights: number[], miner: number, winCount = 1): TipSet[] {
  const out: TipSet[] = []
  for (const h of heights) out.push(tipset(out.at(-1) ?? from, h, [miner], winCount))
  return out
}

const genesis = makeTipSet([header(null, 0, 0, 0)])
weights.set(tsk(genesis), 0n)
const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i)

/** A peer of the fake network: serves chain exchange from the tipsets it holds, or fails, or stays silent. */
class Peer {
  readonly held = new Map<string, TipSet>([[tsk(genesis), genesis]])
  mode: 'serve' | 'fail' | 'silent' = 'serve'
  /** Replaces honest answers (a peer that lies about linkage). */
  lie?: (req: SyncRequest) => SealedHeader[][]
  constructor (readonly id: string, ...chains: TipSet[][]) {
    for (const c of chains) for (const ts of c) this.held.set(tsk(ts), ts)
  }

  answer (req: SyncRequest): SealedHeader[][] | null {
    if (this.lie !== undefined) return this.lie(req)
    const out: SealedHeader[][] = []
    for (let ts = this.held.get(tipSetKeyString(req.head)); ts !== undefined && out.length < req.length; ts = this.held.get(tipSetKeyString(ts.blocks[0]!.header.parents))) {
      out.push(ts.blocks)
    }
    return out.length === 0 ? null : out
  }

  /** A hello: the tipset and its own weight. */
  hello (m: SyncMachine, ts: TipSet): void { m.peerHead(this.id, ts.key, ts.height, weights.get(tsk(ts))!) }
}

/** Blocks each machine was told are valid, across drives. */
const validatedBy = new WeakMap<SyncMachine, Set<string>>()

interface Log { requests: SyncRequest[], validated: string[], faults: PeerFault[], changes: HeadChange[], equivocations: EquivocationError[] }

/**
 * Runs the machine against the peers until it wants nothing more. The validator stands in for the consensus
 * checks: a block's parents must be validated before it, its ParentWeight must be its parent's weight, and
 * the FORGER's blocks are refused.
 */
function drive (m: SyncMachine, peers: Peer[], check: () => void = () => {}): Log {
  const log: Log = { requests: [], validated: [], faults: [], changes: [], equivocations: [] }
  const byId = new Map(peers.map(p => [p.id, p]))
  const done = validatedBy.get(m) ?? new Set(genesis.key.map(String))
  validatedBy.set(m, done)
  for (let step = 0; step < 500; step++) {
    const requests = m.desiredRequests()
    for (const r of requests) {
      log.requests.push(r)
      const peer = byId.get(r.peer)!
      if (peer.mode === 'silent') continue
      const answer = peer.mode === 'fail' ? null : peer.answer(r)
      if (answer === null) m.requestFailed(r.peer, r, new Error('NotFound'))
      else m.headersArrived(r.peer, r, answer)
    }
    const tasks = m.toValidate()
    for (const { header: h, parent } of tasks) {
      for (const c of h.header.parents) expect(done.has(String(c)), 'parent validated first').toBe(true)
      expect(h.header.parentWeight).toBe(parent.weight)
      if (h.header.miner[1] === FORGER) {
        m.blockRejected(h.cid, new BadSignatureError(h.header.height))
      } else {
        m.blockValidated(h.cid)
        done.add(String(h.cid))
        log.validated.push(String(h.cid))
      }
    }
    log.faults.push(...m.peerFaults())
    log.changes.push(...m.headChanges())
    log.equivocations.push(...m.equivocations())
    check()
    if (requests.length === 0 && tasks.length === 0) return log
  }
  throw new Error('the machine never settled')
}

/** Applies head changes to a list of tipset keys, checking each revert pops what was applied. */
function replay (changes: HeadChange[], start: string[] = [tsk(genesis)]): string[] {
  const keys = [...start]
  for (const c of changes) {
    expect(keys.at(-1)).toBe(c.from.key)
    for (const r of c.reverted) expect(keys.pop()).toBe(r.key)
    for (const a of c.applied) keys.push(a.key)
    expect(keys.at(-1)).toBe(c.to.key)
  }
  return keys
}

const tieBreak = (a: TipSet, b: TipSet): boolean => breakWeightTie(a.blocks.map(x => x.header.ticket!), b.blocks.map(x => x.header.ticket!))
const weigh = (ts: TipSet, parent: TipSetNode): bigint => tipsetWeight(parent.weight, POWER, ts.blocks.map(b => b.header.electionProof!.winCount))
const machine = (opts: SyncMachineOptions = {}): SyncMachine => new SyncMachine({ root: genesis, rootWeight: 0n, weigh, tieBreak, nowMs: 0, ...opts })
const keys = (tss: TipSet[]): string[] => tss.map(tsk)

describe('SyncMachine', () => {
  it('syncs a linear chain from genesis in windows fetched backwards, applying it in order', () => {
    const a = chain(genesis, range(1, 20), 1)
    const A = new Peer('A', a)
    const m = machine({ maxRequestLength: 8 })
    A.hello(m, a[19]!)
    const log = drive(m, [A])
    expect(log.requests.map(r => [r.peer, r.head.map(String), r.length])).toEqual([
      ['A', a[19]!.key.map(String), 8], ['A', a[11]!.key.map(String), 8], ['A', a[3]!.key.map(String), 4]
    ])
    expect(replay(log.changes)).toEqual([tsk(genesis), ...keys(a)])
    expect(log.changes.every(c => c.reverted.length === 0)).toBe(true)
    expect(m.head().key).toBe(tsk(a[19]!))
    expect(m.head().weight).toBe(20n * 11264n)
    expect(log.faults).toEqual([])
    expect(m.pendingHeaders).toBe(0)
    // the chain grows by three: the next window reaches down to our head, not to genesis
    const more = chain(a[19]!, [21, 22, 23], 1)
    for (const ts of more) A.held.set(tsk(ts), ts)
    A.hello(m, more[2]!)
    const next = drive(m, [A])
    expect(next.requests.map(r => r.length)).toEqual([3])
    expect(m.head().key).toBe(tsk(more[2]!))
  })

  it('follows a heavier fork that arrives later, reporting what to revert and apply; ignores a lighter one', () => {
    const a = chain(genesis, range(1, 5), 1) // 5 · 11264 = 56320
    const b = chain(a[1]!, [3, 4], 2, 7) // 2 · 11264 + 2 · 17408 = 57344: shorter, and heavier
    const c = chain(a[1]!, [3], 3) // lighter
    const A = new Peer('A', a)
    const B = new Peer('B', a, b)
    const C = new Peer('C', a, c)
    const m = machine()
    A.hello(m, a[4]!)
    drive(m, [A])
    expect(m.head().key).toBe(tsk(a[4]!))
    C.hello(m, c[0]!)
    expect(m.desiredRequests()).toEqual([])
    B.hello(m, b[1]!)
    const log = drive(m, [A, B, C])
    expect(log.requests).toHaveLength(1)
    expect(log.changes).toHaveLength(1)
    expect(log.changes[0]!.reverted.map(n => n.key)).toEqual(keys([a[4]!, a[3]!, a[2]!]))
    expect(log.changes[0]!.applied.map(n => n.key)).toEqual(keys(b))
    expect(m.head().key).toBe(tsk(b[1]!))
  })

  it('finalizes a tipset: forks beside it go, the head moves onto its side, a fork below it is a fault', () => {
    const a = chain(genesis, range(1, 5), 1)
    const b = chain(a[1]!, [3, 4], 2, 7) // heavier than a, forks at a2
    const c = chain(a[0]!, range(2, 9), 3, 15) // far heavier, forks at a1
    const A = new Peer('A', a)
    const B = new Peer('B', a, b)
    const C = new Peer('C', a, c)
    const m = machine()
    A.hello(m, a[4]!)
    B.hello(m, b[1]!)
    drive(m, [A, B])
    expect(m.head().key).toBe(tsk(b[1]!))
    m.finalize(a[2]!.key) // a certificate finalizes a3
    expect(m.headChanges().map(ch => [ch.reverted.map(n => n.key), ch.applied.map(n => n.key)])).toEqual([[keys([b[1]!, b[0]!]), keys([a[2]!, a[3]!, a[4]!])]])
    expect(m.head().key).toBe(tsk(a[4]!))
    expect(m.tipset(b[0]!.key)).toBeUndefined()
    C.hello(m, c[7]!)
    const log = drive(m, [A, B, C])
    expect(log.faults.map(f => [f.peer, f.error.name])).toEqual([['C', 'ForkBelowFinalityError']])
    expect(m.head().key).toBe(tsk(a[4]!))
  })

  it('syncs across null rounds (heights with no tipset)', () => {
    const a = chain(genesis, [1, 2, 4, 5, 8], 1)
    const A = new Peer('A', a)
    const m = machine()
    A.hello(m, a[4]!)
    const log = drive(m, [A])
    expect(replay(log.changes)).toEqual([tsk(genesis), ...keys(a)])
    expect(m.head().height).toBe(8)
    expect(log.faults).toEqual([])
  })

  it('syncs multi-block tipsets, children only after all their parent blocks; a late block joins the head tipset', () => {
    const t1 = tipset(genesis, 1, [1, 2, 3])
    const t2 = tipset(t1, 2, [1, 2])
    const t3 = tipset(t2, 3, [2])
    const A = new Peer('A', [t1, t2, t3])
    const m = machine()
    A.hello(m, t3)
    const log = drive(m, [A])
    expect(replay(log.changes)).toEqual(keys([genesis, t1, t2, t3]))
    expect(m.tipset(t1.key)?.weight).toBe(tipsetWeight(0n, POWER, [1, 1, 1]))
    // another block of height 3 on t2, gossiped: its ParentWeight is our head's, so it is fetched and joins
    const late = header(t2, 3, 4, 1)
    const t3b = makeTipSet([...t3.blocks, late])
    A.held.set(tipSetKeyString([late.cid]), makeTipSet([late]))
    m.peerHead('A', [late.cid], 3, late.header.parentWeight)
    const more = drive(m, [A])
    expect(more.changes.map(c => [c.reverted.map(n => n.key), c.applied.map(n => n.key)])).toEqual([[[tsk(t3)], [tsk(t3b)]]])
    expect(m.head().key).toBe(tsk(t3b))
  })

  it('takes a gossiped block whole: it joins the head tipset with no fetch, and one above a gap fetches its parents from the relay', () => {
    const t1 = tipset(genesis, 1, [1, 2])
    const t2 = tipset(t1, 2, [1])
    const A = new Peer('A', [t1, t2])
    const m = machine()
    A.hello(m, t2)
    drive(m, [A])
    expect(m.head().key).toBe(tsk(t2))
    // a sibling of t2's block, gossiped: validated with no request and joining the head tipset
    const sibling = header(t1, 2, 3, 1)
    m.blockAnnounced('A', sibling)
    const joined = drive(m, [A])
    expect(joined.requests).toEqual([])
    expect(m.head().key).toBe(tsk(makeTipSet([...t2.blocks, sibling])))
    // a block two tipsets above (on t3 = the bigger t2 and t4) is held; its parents come from the relay
    const t2b = makeTipSet([...t2.blocks, sibling])
    weights.set(tsk(t2b), tipsetWeight(weights.get(tsk(t1))!, POWER, [1, 1]))
    const t3 = tipset(t2b, 3, [2])
    const top = header(t3, 4, 1, 1)
    A.held.set(tsk(t3), t3)
    m.blockAnnounced('A', top)
    const caught = drive(m, [A])
    expect(caught.requests.map(r => [r.peer, tipSetKeyString(r.head)])).toEqual([['A', tsk(t3)]])
    expect(m.head().key).toBe(tipSetKeyString([top.cid]))
    // a block built on a refused one faults its relay and is kept nowhere
    const forged = header(t3, 4, FORGER, 1)
    m.blockAnnounced('B', forged)
    const refused = drive(m, [A, new Peer('B')])
    expect(refused.faults.map(f => [f.peer, f.error.name])).toEqual([['B', 'RejectedChainError']])
    weights.set(tipSetKeyString([forged.cid]), 1n << 50n)
    m.blockAnnounced('C', header(makeTipSet([forged]), 5, 1, 1))
    expect(m.peerFaults().map(f => f.peer)).toEqual(['C'])
    expect(m.pendingHeaders).toBe(0)
  })

  it('faults a peer whose headers do not link, keeps nothing of it, and syncs from an honest one', () => {
    const a = chain(genesis, range(1, 6), 1)
    const fake = chain(genesis, range(1, 7), 5)
    const A = new Peer('A', a)
    const L = new Peer('L', fake)
    const honest = new Peer('honest', fake)
    L.lie = req => { // its first window links (and is held); the next: the asked head, then not its parent
      const chain = honest.answer(req)!
      return tipSetKeyString(req.head) === tsk(fake[6]!) ? chain : [chain[0]!, ...chain.slice(2)]
    }
    const m = machine({ maxRequestLength: 3 })
    L.hello(m, fake[6]!)
    A.hello(m, a[5]!)
    const log = drive(m, [A, L])
    expect(log.faults.map(f => [f.peer, f.error.name])).toEqual([['L', 'UnlinkedHeadersError']])
    expect(log.requests.filter(r => r.peer === 'L')).toHaveLength(2)
    expect(m.head().key).toBe(tsk(a[5]!))
    expect(m.pendingHeaders).toBe(0)
    L.hello(m, fake[6]!) // a faulted peer is not asked again
    expect(m.desiredRequests()).toEqual([])
  })

  it('faults a peer that answers with another tipset than asked, or more than asked', () => {
    const a = chain(genesis, range(1, 4), 1)
    const m = machine()
    const W = new Peer('W', a)
    W.lie = () => [a[2]!.blocks]
    const X = new Peer('X', a)
    X.lie = req => [...Array(req.length + 1)].map(() => a[3]!.blocks)
    W.hello(m, a[3]!)
    X.hello(m, a[3]!)
    const log = drive(m, [W, X])
    expect(log.faults.map(f => [f.peer, f.error.name]).sort()).toEqual([['W', 'MismatchedAnswerError'], ['X', 'MismatchedAnswerError']])
    expect(m.head().key).toBe(tsk(genesis))
  })

  it('never takes a heavier chain whose blocks fail validation; its sender and later claimants are faulted', () => {
    const a = chain(genesis, range(1, 5), 1)
    const forged = chain(a[1]!, range(3, 8), FORGER, 15) // far heavier, refused by the validator
    const A = new Peer('A', a)
    const F = new Peer('F', a, forged)
    const G = new Peer('G', a, forged)
    const H = new Peer('H', a, forged)
    const m = machine()
    F.hello(m, forged[5]!)
    G.hello(m, forged[5]!) // claims the same head; F is asked for it
    A.hello(m, a[4]!)
    const log = drive(m, [A, F, G], () => {
      const head = m.head().key
      expect(keys(forged)).not.toContain(head)
    })
    expect(log.requests.filter(r => r.peer === 'G')).toEqual([])
    expect(log.faults.map(f => [f.peer, f.error.name]).sort()).toEqual([['F', 'RejectedChainError'], ['G', 'RejectedChainError']])
    expect(log.changes.flatMap(c => c.applied.map(n => n.key)).some(k => keys(forged).includes(k))).toBe(false)
    expect(m.head().key).toBe(tsk(a[4]!))
    expect(m.pendingHeaders).toBe(0)
    // the rejected block's descendants are remembered as bad: a peer claiming them is faulted at once
    H.hello(m, forged[5]!)
    expect(m.peerFaults().map(f => [f.peer, f.error.name])).toEqual([['H', 'RejectedChainError']])
    expect(m.desiredRequests()).toEqual([])
  })

  it('bounds requests per peer, in all, and in length, and holds at most maxPendingHeaders while syncing', () => {
    const tips = [1, 2, 3].map(i => chain(genesis, range(1, 4 + i), 10 + i))
    const peers = tips.map((c, i) => new Peer(`P${i}`, c))
    const m = machine({ maxInFlightPerPeer: 1, maxInFlight: 2 })
    peers[0]!.hello(m, tips[0]!.at(-1)!)
    peers[0]!.hello(m, tips[0]![2]!) // a second head from the same peer: one request at a time to it
    peers[1]!.hello(m, tips[1]!.at(-1)!)
    peers[2]!.hello(m, tips[2]!.at(-1)!)
    const first = m.desiredRequests()
    expect(first.map(r => r.peer).sort()).toEqual(['P1', 'P2']) // the two heaviest claims, two in all
    expect(m.desiredRequests()).toEqual([])
    m.requestFailed('P2', first.find(r => r.peer === 'P2')!)
    expect(m.desiredRequests().map(r => r.peer)).toEqual(['P0'])
    // the per-peer bound alone: two heads of one peer, room for eight in all
    for (const perPeer of [1, 2]) {
      const one = machine({ maxInFlightPerPeer: perPeer })
      peers[0]!.hello(one, tips[0]!.at(-1)!)
      peers[0]!.hello(one, tips[0]![2]!)
      expect(one.desiredRequests()).toHaveLength(perPeer)
    }

    // a 30-tipset chain through a pool of 10 headers, windows of at most 4
    const long = chain(genesis, range(1, 30), 20)
    const L = new Peer('L', long)
    const pool = machine({ maxPendingHeaders: 10 })
    L.hello(pool, long[29]!)
    expect(pool.desiredRequests().map(r => r.length)).toEqual([10]) // no more than the pool holds
    const small = machine({ maxPendingHeaders: 10, maxRequestLength: 4 })
    L.hello(small, long[29]!)
    const log = drive(small, [L], () => { expect(small.pendingHeaders).toBeLessThanOrEqual(10) })
    expect(Math.max(...log.requests.map(r => r.length))).toBe(4)
    expect(small.head().key).toBe(tsk(long[29]!))
    expect(replay(log.changes)).toEqual([tsk(genesis), ...keys(long)])
  })

  it('retries a failed request on another peer that claimed the same head, and the failed one after a while', () => {
    const a = chain(genesis, range(1, 3), 1)
    const A = new Peer('A', a)
    const B = new Peer('B', a)
    const m = machine({ retryAfterMs: 5_000 })
    A.hello(m, a[2]!)
    B.hello(m, a[2]!)
    const [r1] = m.desiredRequests()
    expect(r1!.peer).toBe('A')
    m.requestFailed('A', r1!, new Error('stream reset'))
    const [r2] = m.desiredRequests()
    expect(r2!.peer).toBe('B')
    m.requestFailed('B', r2!, new Error('GoAway'))
    expect(m.desiredRequests()).toEqual([]) // both failed just now
    m.tick(5_000)
    const [r3] = m.desiredRequests()
    expect(r3!.peer).toBe('A')
    m.headersArrived('A', r3!, A.answer(r3!)!)
    m.headersArrived('B', r2!, [a[0]!.blocks]) // a late (and wrong) answer to a failed request is ignored
    const log = drive(m, [A, B])
    expect(m.head().key).toBe(tsk(a[2]!))
    expect(log.faults).toEqual([])
  })

  it('fails a request that gets no answer in time and asks another peer', () => {
    const a = chain(genesis, range(1, 3), 1)
    const S = new Peer('S', a)
    S.mode = 'silent'
    const B = new Peer('B', a)
    const m = machine({ requestTimeoutMs: 1_000 })
    S.hello(m, a[2]!)
    B.hello(m, a[2]!)
    const [r1] = m.desiredRequests()
    expect(r1!.peer).toBe('S')
    expect(m.desiredRequests()).toEqual([])
    expect(m.tick(999)).toEqual([])
    expect(m.tick(1_000)).toEqual([r1])
    const [r2] = m.desiredRequests()
    expect(r2!.peer).toBe('B')
    m.headersArrived('B', r2!, B.answer(r2!)!)
    drive(m, [S, B])
    expect(m.head().key).toBe(tsk(a[2]!))
    // a peer that goes away: its request is abandoned and the other source asked at once
    const more = chain(a[2]!, [4], 1)
    for (const p of [S, B]) p.held.set(tsk(more[0]!), more[0]!)
    S.hello(m, more[0]!)
    B.hello(m, more[0]!)
    const [r3] = m.desiredRequests()
    expect(r3!.peer).toBe('S')
    m.peerDisconnected('S')
    expect(m.desiredRequests().map(r => r.peer)).toEqual(['B'])
  })

  it('holds a block that cannot be judged yet (from the future by our clock) without faulting anyone, and offers it again once the clock reaches its retry time', () => {
    const a = chain(genesis, range(1, 3), 1)
    const A = new Peer('A', a)
    const m = machine()
    A.hello(m, a[2]!)
    for (const r of m.desiredRequests()) m.headersArrived(r.peer, r, A.answer(r)!)
    const early = a[2]!.blocks[0]!
    for (let round = 0; round < 3; round++) {
      for (const { header: h } of m.toValidate()) {
        if (h.cid.equals(early.cid)) m.blockDeferred(h.cid, 5_000)
        else m.blockValidated(h.cid)
      }
    }
    expect(m.head().key).toBe(tsk(a[1]!))
    expect(m.peerFaults()).toEqual([])
    expect(m.toValidate()).toEqual([]) // not before its time
    m.tick(4_999)
    expect(m.toValidate()).toEqual([])
    m.tick(5_000)
    const again = m.toValidate()
    expect(again.map(t => String(t.header.cid))).toEqual([String(early.cid)])
    m.blockValidated(early.cid)
    expect(m.head().key).toBe(tsk(a[2]!))
    expect(m.peerFaults()).toEqual([])
    // a temporary failure is not a rejection: the same peer's later claims are still taken
    A.hello(m, a[2]!)
    expect(m.peerFaults()).toEqual([])
  })

  it('leaves an equivocating miner\'s blocks out of the head tipset, keeps the honest chain, and blames no relay', () => {
    // Lotus store_test.go TestEquivocations, through the machine: t1 = {m1, m2}; then m1's second block at height 1 is gossiped
    const t1 = tipset(genesis, 1, [1, 2])
    const A = new Peer('A', [t1])
    const m = machine()
    A.hello(m, t1)
    drive(m, [A])
    expect(m.head().key).toBe(tsk(t1))
    const m1 = t1.blocks.find(b => b.header.miner[1] === 1)!
    const m2 = t1.blocks.find(b => b.header.miner[1] === 2)!
    const twin = makeTipSet([header(genesis, 1, 1, 1, 1)])
    weights.set(tsk(twin), tipsetWeight(0n, POWER, [1]))
    const E = new Peer('E', [twin])
    E.hello(m, twin) // its ParentWeight is our head's: fetched and validated, as Lotus would
    const log = drive(m, [A, E])
    expect(log.equivocations.map(e => [e.name, e.miner, e.height, e.first, e.second])).toEqual([
      ['EquivocationError', 't01', 1, String(m1.cid), String(twin.key[0])]
    ])
    expect(log.faults).toEqual([]) // Lotus's gossip validator accepts the block: the relay is not at fault
    expect(log.changes.map(c => [c.reverted.map(n => n.key), c.applied.map(n => n.key)])).toEqual([[[tsk(t1)], [tipSetKeyString([m2.cid])]]])
    expect(m.head().key).toBe(tipSetKeyString([m2.cid]))
    // E is still a peer in good standing: its next honest head is fetched from it
    const honest = makeTipSet([m2])
    weights.set(tsk(honest), tipsetWeight(0n, POWER, [1]))
    const t2 = tipset(honest, 2, [3])
    E.held.set(tsk(t2), t2)
    E.hello(m, t2)
    const next = drive(m, [A, E])
    expect(next.requests.map(r => r.peer)).toEqual(['E'])
    expect(m.head().key).toBe(tsk(t2))
  })

  it('keeps the honest head when a miner equivocates below it, and never takes the equivocated tipset', () => {
    const a = chain(genesis, range(1, 4), 1)
    const t2 = a[1]!
    const A = new Peer('A', a)
    const m = machine()
    A.hello(m, a[3]!)
    drive(m, [A])
    // miner 1 made another block at height 2, on a[0]; a peer serves a chain on it that is lighter than ours
    const twin = makeTipSet([header(a[0]!, 2, 1, 1, 1)])
    weights.set(tsk(twin), weights.get(tsk(t2))!)
    const onTwin = tipset(twin, 3, [7], 1)
    const E = new Peer('E', a, [twin, onTwin])
    E.hello(m, onTwin)
    const log = drive(m, [A, E], () => { expect(m.head().key).not.toBe(tsk(twin)) })
    expect(log.equivocations.map(e => [e.height, e.first, e.second])).toEqual([[2, String(t2.key[0]), String(twin.key[0])]])
    expect(log.faults).toEqual([])
    expect(log.changes).toEqual([]) // a[3] stays the head: a[1]'s descendants are not touched
    expect(m.head().key).toBe(tsk(a[3]!))
    expect(m.tipset(onTwin.key)).toBeDefined() // a child of the second block is taken, as Lotus takes it
  })
})
