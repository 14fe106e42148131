// Past beacon rounds asked of peers (/coffer/beacon/rounds/1.0.0): gossip only carries the round now due, but a
// producer's first block after a stall carries every round since the last block. A relay asks its peers, keeps
// what verifies under the genesis key, skips a peer whose entries do not (another key's signatures), and says
// BeaconUnavailableError when no peer has the round.
import { describe, it, expect, afterAll } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { beaconPublicKey, signBeaconRound, verifyBeaconEntry } from '../../src/core'
import { createCofferLibp2p, BeaconRelay, type CofferLibp2p } from '../../src/net'

const secret = new Uint8Array(32).fill(66)
// one round a second since a minute ago: rounds 1…60 are past
const beacon = { publicKey: beaconPublicKey(secret), genesisTime: Math.floor(Date.now() / 1000) - 60, periodSecs: 1 }
const nowMs = (): number => Date.now()
const network = 'beacon-rounds'

const nodes: CofferLibp2p[] = []
afterAll(async () => { for (const n of nodes) await n.stop() })

async function relay (serve?: (round: number) => Promise<{ round: number, data: Uint8Array } | undefined>): Promise<{ node: CofferLibp2p, relay: BeaconRelay }> {
  const node = await createCofferLibp2p({ allowLoopbackDials: true, network, listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
  nodes.push(node)
  const r = new BeaconRelay(node, network, { beacon, nowMs, graceRounds: 0, ...(serve === undefined ? {} : { serve }) })
  r.start()
  return { node, relay: r }
}

describe('past beacon rounds from peers', () => {
  it('are fetched from a peer that holds them and verified; a peer serving another key\'s signatures is passed over', async () => {
    const honest = await relay(async (round) => ({ round, data: signBeaconRound(secret, round) }))
    const liar = await relay(async (round) => ({ round, data: signBeaconRound(new Uint8Array(32).fill(9), round) }))
    const client = await relay()
    // the liar first: its answer does not verify, so the honest peer is asked
    await client.node.dial(multiaddr(liar.node.getMultiaddrs()[0]!.toString()))
    await client.node.dial(multiaddr(honest.node.getMultiaddrs()[0]!.toString()))
    const e = await client.relay.entry(5)
    expect(e.round).toBe(5)
    verifyBeaconEntry(beacon.publicKey, e)
    // the rounds after it came in the same answer: no further request needed for them
    await honest.node.stop()
    const next = await client.relay.entry(6)
    verifyBeaconEntry(beacon.publicKey, next)
  })

  it('is BeaconUnavailableError when no peer holds a verified copy', async () => {
    const liar = await relay(async (round) => ({ round, data: signBeaconRound(new Uint8Array(32).fill(9), round) }))
    const client = await relay()
    await client.node.dial(multiaddr(liar.node.getMultiaddrs()[0]!.toString()))
    await expect(client.relay.entry(3)).rejects.toThrow(expect.objectContaining({ name: 'BeaconUnavailableError' }))
  })
})
