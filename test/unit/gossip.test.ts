// Gossip as services see it (src/net/gossip.ts), between two real libp2p nodes on loopback: a message the validator
// accepts reaches the listener with the value the validator made of it, once; refused and ignored ones never do,
// and a refusal names its author (the signed envelope) and the relay that handed it over.
import { describe, it, expect, afterEach } from 'vitest'
import { createCofferLibp2p, gossipOf, type CofferLibp2p, type GossipMessage } from '../../src/net'
import { until } from '../helpers/until'

const nodes: CofferLibp2p[] = []
afterEach(async () => { for (const n of nodes.splice(0)) await n.stop() })

describe('gossip', () => {
  it('delivers what the validator accepts, with its value; not what it refuses or ignores', async () => {
    const a = await createCofferLibp2p({ listen: ['/ip4/127.0.0.1/tcp/0/ws'], allowLoopbackDials: true })
    const b = await createCofferLibp2p({ allowLoopbackDials: true })
    nodes.push(a, b)
    const topic = '/coffer/test/gossip'
    const judged: GossipMessage[] = []
    const delivered: Array<{ value: number, source: string }> = []
    gossipOf(b).listen<number>(topic, (m) => {
      judged.push(m)
      const n = m.data[0]!
      return n === 1 ? { verdict: 'reject' } : n === 2 ? { verdict: 'ignore' } : { verdict: 'accept', value: n * 10 }
    }, (m, value) => { delivered.push({ value, source: m.source }) })
    const ga = gossipOf(a)
    ga.listen(topic, () => ({ verdict: 'ignore' }))
    await b.dial(a.getMultiaddrs()[0]!)
    // a publish before the peer's subscription is known reaches nobody: published again until it reaches b
    await until(async () => await ga.publish(topic, new Uint8Array([3])) > 0 ? true : undefined, 10_000)
    await ga.publish(topic, new Uint8Array([1]))
    await ga.publish(topic, new Uint8Array([2]))
    await ga.publish(topic, new Uint8Array([4]))
    await until(() => delivered.some(d => d.value === 40) ? true : undefined, 10_000)
    await new Promise(resolve => setTimeout(resolve, 200))
    expect(delivered.filter(d => d.value === 40)).toHaveLength(1) // once, though gossipsub may hear it again
    expect(delivered.map(d => d.value)).not.toContain(10)
    expect(delivered.map(d => d.value)).not.toContain(20)
    expect(delivered.every(d => d.source === a.peerId.toString())).toBe(true)
    const refused = judged.find(m => m.data[0] === 1)!
    expect(refused.author).toBe(a.peerId.toString())
    expect(refused.topic).toBe(topic)
  })
})
