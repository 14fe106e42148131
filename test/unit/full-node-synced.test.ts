// A starting node is synced once it has caught up with its peers in rounds, each towards the best height known when
// the round began, stopping when a round leaves it close behind or no closer than the last: not when it is level with
// a best height that every gossiped block moves. A busy node that follows the chain behind must still get there (the
// load run's restarted provider waited 11 minutes on the old rule), and a fast one ends close to the head.
import { describe, it, expect } from 'vitest'
import { untilSynced, CLOSE_BLOCKS, type SyncProgress } from '../../src/node/full-node/synced'

interface Chase { sync: SyncProgress, head: () => number, pause: () => Promise<void>, looks: () => number, forget: () => void }

/** Each look the chain grows `grow` blocks and the node applies `apply`; `heardAfter` looks before a peer speaks. */
function chasing (start: { head: number, best: number, heardAfter?: number, grow?: number, apply?: number, liar?: number }): Chase {
  let head = start.head
  let best = start.best
  let looks = 0
  let liar = start.liar
  const heard = (): boolean => looks >= (start.heardAfter ?? 0)
  return {
    sync: {
      settled: async () => {},
      get heardFromPeers () { return heard() },
      get bestKnownHeight () { return heard() ? Math.max(best, liar ?? 0, head) : head }
    },
    head: () => head,
    pause: async () => {
      looks++
      best += start.grow ?? 1
      head = Math.min(head + (start.apply ?? 1), Math.max(best, liar ?? 0))
      if (looks > 10_000) throw new Error('never synced')
    },
    looks: () => looks,
    forget: () => { liar = undefined }
  }
}

describe('untilSynced', () => {
  it('a node that applies blocks only as fast as the chain grows gets there: two rounds, then no closer', async () => {
    const c = chasing({ head: 10, best: 40 })
    await untilSynced(c.sync, c.head, c.pause)
    // round one to 40 (the chain then at 70), round two to 70 (the chain at 100): the gap stayed 30
    expect(c.head()).toBe(70)
  })

  it('a faster node ends close behind the head', async () => {
    const c = chasing({ head: 0, best: 300, apply: 3 })
    await untilSynced(c.sync, c.head, c.pause)
    expect(c.sync.bestKnownHeight - c.head()).toBeLessThanOrEqual(CLOSE_BLOCKS)
  })

  it('waits for a peer first: its own head is no target', async () => {
    const c = chasing({ head: 10, best: 40, heardAfter: 5, apply: 2 })
    await untilSynced(c.sync, c.head, c.pause)
    expect(c.looks()).toBeGreaterThan(5)
    expect(c.sync.bestKnownHeight - c.head()).toBeLessThanOrEqual(CLOSE_BLOCKS)
  })

  it('a claim that went away with its peer is no longer waited for', async () => {
    const c = chasing({ head: 10, best: 40, liar: 1_000_000, apply: 2 })
    const done = untilSynced(c.sync, c.head, async () => { await c.pause(); if (c.looks() === 20) c.forget() })
    await done
    expect(c.head()).toBeLessThan(1000)
    expect(c.sync.bestKnownHeight - c.head()).toBeLessThanOrEqual(CLOSE_BLOCKS)
  })
})
