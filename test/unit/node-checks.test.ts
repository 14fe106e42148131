// The tab's cross-checks of the nodes it talks to (pure parts): a hello head against the verified chain, two
// nodes' answers to one read, and the book that names a dropped node and never offers it again.
import { describe, it, expect } from 'vitest'
import { judgeNodeHead, judgeNodeHeads, compareReads, NodeBook, NodeHeadMismatchError, NodeAnswersDisagreeError, AGREE_SLACK } from '../../src/light/node-checks'
import { StateProofRejectedError } from '../../src/light/state-client'

describe('judgeNodeHead', () => {
  it('agrees when the head is the verified header at its height, within the slack of ours', () => {
    expect(judgeNodeHead({ height: 10, cid: 'a10' }, 10, 'a10')).toEqual({ state: 'agreeing' })
    expect(judgeNodeHead({ height: 10 - AGREE_SLACK, cid: 'x' }, 10, 'x')).toEqual({ state: 'agreeing' })
    expect(judgeNodeHead({ height: 10 - AGREE_SLACK - 1, cid: 'x' }, 10, 'x')).toEqual({ state: 'behind' })
    expect(judgeNodeHead({ height: 11, cid: 'b11' }, 10, null)).toEqual({ state: 'ahead' })
  })

  it('drops a node whose head is another header at a verified height, or one where the chain has none', () => {
    const v = judgeNodeHead({ height: 7, cid: 'fake7' }, 10, 'real7')
    expect(v.state).toBe('dropped')
    expect(v.state === 'dropped' && v.error).toBeInstanceOf(NodeHeadMismatchError)
    expect(judgeNodeHead({ height: 7, cid: 'fake7' }, 10, null).state).toBe('dropped')
  })
})

describe('compareReads', () => {
  const lie = new StateProofRejectedError('peerB', new Error('hash mismatch'))
  it('condemns the node whose proof does not verify, not the other', () => {
    expect(compareReads({ peer: 'A', outcome: { kind: 'verified', value: 'v' } }, { peer: 'B', outcome: { kind: 'lie', error: lie } }))
      .toEqual([{ peer: 'A', verdict: 'agrees' }, { peer: 'B', verdict: 'drop', error: lie }])
  })
  it('takes no answer as no verdict, and two different verified answers as a fault naming both', () => {
    const none = new Error('not kept')
    expect(compareReads({ peer: 'A', outcome: { kind: 'unavailable', error: none } }, { peer: 'B', outcome: { kind: 'verified', value: 'v' } }).map(v => v.verdict)).toEqual(['no-answer', 'agrees'])
    const both = compareReads({ peer: 'A', outcome: { kind: 'verified', value: 'v' } }, { peer: 'B', outcome: { kind: 'verified', value: 'w' } })
    expect(both.map(v => v.verdict)).toEqual(['drop', 'drop'])
    expect(both[0]!.error).toBeInstanceOf(NodeAnswersDisagreeError)
  })
})

describe('NodeBook', () => {
  it('lists nodes from their hello, judges them, and keeps a dropped one named and unused', () => {
    const book = new NodeBook(p => p.startsWith('prov') ? 'provider' : 'node')
    book.hello('nodeA', { height: 5, cid: 'c5' }, 5, '/ip4/127.0.0.1/tcp/1/ws')
    book.hello('provB', { height: 5, cid: 'c5' }, 5)
    book.hello('liar', { height: 5, cid: 'c5' }, 5)
    expect(book.usable()).toEqual([]) // not judged yet
    for (const j of book.toJudge()) book.judged(j.peer, j, judgeNodeHead(j, 5, 'c5'))
    expect(book.usable().sort()).toEqual(['liar', 'nodeA', 'provB'])
    book.drop('liar', new StateProofRejectedError('liar', new Error('proof does not reach the root')))
    expect(book.usable().sort()).toEqual(['nodeA', 'provB'])
    expect(book.isDropped('liar')).toBe(true)
    // what a dropped node says later changes nothing, and its hang-up does not erase its name
    book.hello('liar', { height: 6, cid: 'c6' }, 6)
    book.disconnected('liar')
    const s = book.summaries()
    expect(s.map(n => [n.id, n.role, n.state])).toEqual([['nodeA', 'node', 'agreeing'], ['provB', 'provider', 'agreeing'], ['liar', 'node', 'dropped']])
    expect(s[2]!.reason).toMatch(/^StateProofRejectedError: /)
    expect(s[0]!.addr).toBe('/ip4/127.0.0.1/tcp/1/ws')
  })

  it('drops a node whose head is not the verified chain\'s, and ignores a verdict on a hello it replaced', () => {
    const book = new NodeBook(() => 'node')
    book.hello('A', { height: 3, cid: 'fake' }, 4)
    const [j] = book.toJudge()
    book.hello('A', { height: 4, cid: 'c4' }, 4) // newer hello before the lookup came back
    expect(book.judged('A', j!, judgeNodeHead(j!, 4, 'c3'))).toBeNull()
    expect(book.state('A')).toBe('pending')
    const [k] = book.toJudge()
    expect(book.judged('A', k!, judgeNodeHead(k!, 9, 'other4'))).toBeInstanceOf(NodeHeadMismatchError)
    expect(book.isDropped('A')).toBe(true)
  })

  it('judges a head by how far behind it was when shown, and takes a later head from a relay or a read at our head', () => {
    const book = new NodeBook(() => 'node')
    book.hello('A', { height: 10, cid: 'c10' }, 10)
    let [j] = book.toJudge()
    // our head moved on to 50 since: the hello was current when said, so A agrees
    book.judged('A', j!, judgeNodeHead(j!, 50, 'c10'))
    expect(book.state('A')).toBe('agreeing')
    book.seen('A', { height: 51, cid: 'c51' }, 50) // it relayed block 51 first: ahead until verified
    ;[j] = book.toJudge()
    expect(judgeNodeHead(j!, 50, null)).toEqual({ state: 'ahead' })
    expect(judgeNodeHead(j!, 51, 'c51')).toEqual({ state: 'agreeing' })
    book.seen('A', { height: 40, cid: 'c40' }, 51) // an old block relayed late says nothing new
    expect(book.summaries()[0]!.headHeight).toBe(51)
    book.hello('B', { height: 10, cid: 'c10' }, 20) // said when we were at 20: behind
    const k = book.toJudge().find(x => x.peer === 'B')!
    expect(judgeNodeHead(k, 20, 'c10')).toEqual({ state: 'behind' })
    book.seen('nobody', { height: 1, cid: 'c1' }, 1) // only listed nodes are tracked
    expect(book.summaries().map(n => n.id)).toEqual(['A', 'B'])
  })

  it('pairs the nodes cross-checked least, so each takes its turn', () => {
    const book = new NodeBook(() => 'node')
    for (const p of ['A', 'B', 'C']) { book.hello(p, { height: 1, cid: 'c1' }, 1); book.judged(p, { cid: 'c1' }, { state: 'agreeing' }) }
    const seen = new Set<string>()
    for (let i = 0; i < 3; i++) {
      const pair = book.nextPair()!
      for (const p of pair) { seen.add(p); book.crossChecked(p) }
    }
    expect([...seen].sort()).toEqual(['A', 'B', 'C'])
    book.drop('A', new Error('x'))
    book.drop('B', new Error('x'))
    expect(book.nextPair()).toBeNull()
  })
})

describe('judgeNodeHeads', () => {
  it('judges every node against one snapshot of our head, though the head moves while lookups await', async () => {
    // our chain: 'c<h>' at every height; the head is at 48 when judging starts and moves to 49 meanwhile
    let head = { height: 48, cid: 'c48' }
    const cidAt = async (h: number): Promise<string | null> => { head = { height: 49, cid: 'c49' }; return `c${h}` }
    const verdicts = await judgeNodeHeads([
      { peer: 'A', height: 46, cid: 'c46', ourHeight: 48 }, // needs a lookup (during which the head moves)
      { peer: 'B', height: 48, cid: 'c48', ourHeight: 48 }, // at the snapshot's height: compared with it, not with 49
      { peer: 'C', height: 50, cid: 'c50', ourHeight: 48 },
      { peer: 'D', height: 47, cid: 'other', ourHeight: 48 }
    ], head, cidAt)
    expect(verdicts.map(v => [v.node.peer, v.verdict.state])).toEqual([['A', 'agreeing'], ['B', 'agreeing'], ['C', 'ahead'], ['D', 'dropped']])
    expect(head.height).toBe(49)
  })
})
