// The provider's ask announcer (provider-process.ts askAnnouncer): a publish that reached no peer is not an
// announcement, so it is tried again at the next head rather than ASK_ANNOUNCE_EPOCHS later.
import { describe, it, expect } from 'vitest'
import { askAnnouncer, ASK_ANNOUNCE_EPOCHS } from '../../src/node/provider/provider-process'

function harness (recipients: number[]): { tick: (height: number, stopped?: boolean) => Promise<void>, published: number[], logs: string[] } {
  let height = 0
  let stopped = false
  const published: number[] = []
  const logs: string[] = []
  const announce = askAnnouncer({
    height: () => height,
    stopped: () => stopped,
    publish: async () => { published.push(height); return { recipients: recipients.shift() ?? 1 } },
    log: line => logs.push(line)
  })
  return { tick: async (h, s = false) => { height = h; stopped = s; await announce() }, published, logs }
}

describe('askAnnouncer', () => {
  it('publishes again at the next head while a publish reaches nobody, then waits ASK_ANNOUNCE_EPOCHS', async () => {
    const h = harness([0, 0, 2])
    for (let height = 1; height <= 3 + ASK_ANNOUNCE_EPOCHS; height++) await h.tick(height)
    expect(h.published).toEqual([1, 2, 3, 3 + ASK_ANNOUNCE_EPOCHS])
  })

  it('a publish that throws NoPeersSubscribedToTopic is retried next head without a log line; stop-deals publishes at once, logged once', async () => {
    const h = harness([])
    let first = true
    const announce = askAnnouncer({
      height: () => 1,
      stopped: () => false,
      publish: async () => { if (first) { first = false; throw Object.assign(new Error('no peers'), { name: 'NoPeersSubscribedToTopic' }) } return { recipients: 1 } },
      log: line => h.logs.push(line)
    })
    await announce()
    await announce()
    expect(first).toBe(false)
    expect(h.logs).toEqual([])
    await h.tick(1)
    await h.tick(2, true)
    await h.tick(3, true)
    expect(h.published).toEqual([1, 2])
    expect(h.logs).toEqual(['stop-deals: taking no new deals; live deals keep being proven'])
  })
})
