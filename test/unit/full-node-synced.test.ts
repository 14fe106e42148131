// A starting node is synced once its head reaches the best height its peers claimed when it began to wait, not when it
// is level with a best height that every gossiped block moves: a busy node that follows the chain a block or more
// behind must still get there (the load run's restarted provider waited 11 minutes on the old rule).
import { describe, it, expect } from 'vitest'
import { untilSynced, type SyncProgress } from '../../src/node/full-node/synced'

/** A chain that grows one block per look, and a node that applies one per look: always a block behind the best known. */
function chasing (start: { head: number, best: number, heardAfter: number }): { sync: SyncProgress, head: () => number, pause: () => Promise<void>, looks: () => number } {
  let head = start.head
  let best = start.best
  let looks = 0
  return {
    sync: { settled: async () => {}, get heardFromPeers () { return looks >= start.heardAfter }, get bestKnownHeight () { return looks >= start.heardAfter ? best : head } },
    head: () => head,
    pause: async () => { looks++; head++; best++; if (looks > 10_000) throw new Error('never synced') },
    looks: () => looks
  }
}

describe('untilSynced', () => {
  it('resolves once the head reaches the height best known when the node first heard a peer, though the chain moves on', async () => {
    const c = chasing({ head: 10, best: 40, heardAfter: 0 })
    await untilSynced(c.sync, c.head, c.pause)
    expect(c.head()).toBe(40)
    expect(c.looks()).toBe(30)
  })

  it('waits for a peer first: its own head is no target', async () => {
    const c = chasing({ head: 10, best: 40, heardAfter: 5 })
    await untilSynced(c.sync, c.head, c.pause)
    // heard at look 5 (head 15, best 45): synced at 45
    expect(c.head()).toBe(45)
  })
})
