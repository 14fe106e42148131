// The EC producer's loop against a scripted chain: a won block is taken as the node's own and published at its
// round's start, not before; stop() returns at once even while a won block waits for its round.
import { describe, it, expect } from 'vitest'
import { makeTipSet, createGenesis, idAddressBytes, blsPublicKey, type SealedHeader } from '../../src/core'
import { startEcProducer } from '../../src/node/ec-producer'
import { TEST_BEACON } from '../helpers/test-beacon'

const genesis = createGenesis({ beacon: TEST_BEACON, network: 'ec-producer-unit', producer: idAddressBytes(1000), producerKey: blsPublicKey(new Uint8Array(32).fill(3)), blockDelaySecs: 2 }, 1_800_000_000)
const block: SealedHeader = genesis.header

describe('EC producer loop', () => {
  it('submits and publishes a won block at its round\'s start, and stop() does not wait for that round', async () => {
    const genesisTime = Math.floor(Date.now() / 1000)
    const events: Array<{ what: string, at: number }> = []
    const producer = startEcProducer({
      chain: {
        headTipSet: () => makeTipSet([genesis.header]),
        mine: async ({ height }) => { events.push({ what: `mine ${height}`, at: Date.now() }); return block },
        submit: async () => { events.push({ what: 'submit', at: Date.now() }) }
      },
      miner: idAddressBytes(1001), workerSecretKey: new Uint8Array(32).fill(1), beacon: { entry: async () => { throw new Error('unused') } },
      genesisTime, blockDelaySecs: 2, propagationDelayMs: 100, nowMs: () => Date.now(),
      onBlock: () => { events.push({ what: 'publish', at: Date.now() }) },
      onError: (err) => { events.push({ what: `error ${(err as Error).message}`, at: Date.now() }) }
    })
    // round 1 is mined 100 ms into round 0 and published at round 1's start (2 s after genesis)
    while (!events.some(e => e.what === 'publish')) await new Promise(resolve => setTimeout(resolve, 20))
    const mined = events.find(e => e.what === 'mine 1')!
    const published = events.find(e => e.what === 'publish')!
    expect(events.findIndex(e => e.what === 'submit')).toBeLessThan(events.findIndex(e => e.what === 'publish'))
    expect(mined.at).toBeLessThan((genesisTime + 2) * 1000)
    expect(published.at).toBeGreaterThanOrEqual((genesisTime + 2) * 1000 - 5)
    // the next round's block is waiting for round 2 now: stop() returns without waiting for it, and it is never published
    while (!events.some(e => e.what === 'mine 2')) await new Promise(resolve => setTimeout(resolve, 20))
    const t = Date.now()
    await producer.stop()
    expect(Date.now() - t).toBeLessThan(500)
    expect(events.filter(e => e.what === 'publish')).toHaveLength(1)
    expect(events.filter(e => e.what.startsWith('error'))).toEqual([])
  })
})
