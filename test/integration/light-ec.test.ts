// The light client on an Expected Consensus network over real libp2p on loopback: two full nodes (startFullNode) start
// as two partitions from one genesis, one running the producer of the miner with a third of the power, the other
// the producers of the two with two thirds. The light client follows the first's chain, every block checked by the
// consensus rules against a state proof of its miner's power; when the partitions rejoin, every node and the light
// client converge on the heavier chain, and the light client counts the reorganisation and lists the tipsets of
// several miners' blocks it took.
import { describe, it, expect, afterAll } from 'vitest'
import { makeBootstrap } from '../../src/net'
import { startLightClient, type LightClient, type LightClientStatus } from '../../src/light'
import { ecNetworkGenesis, ecFullNode, join, headKeyOf, sameChain } from '../helpers/ec-network'
import { until } from '../helpers/until'

const cleanups: Array<() => Promise<void>> = []
afterAll(async () => { for (const fn of cleanups.reverse()) await fn().catch(() => {}) })

describe('light client under Expected Consensus, over libp2p', { timeout: 180_000 }, () => {
  it('follows one partition\'s chain, and the heavier one when the partitions rejoin, checking every block', async () => {
    // 2 s rounds: three verifiers (two nodes, the light client) of ~3 blocks a round share this machine's cores
    const genesis = ecNetworkGenesis('light-ec-net', 2)
    const a = await ecFullNode(genesis, [0], cleanups)
    const b = await ecFullNode(genesis, [1, 2], cleanups)
    const statuses: LightClientStatus[] = []
    const lc: LightClient = await startLightClient({
      bootstrap: makeBootstrap(genesis, a.libp2p.getMultiaddrs().map(String)), bootstrapSource: 'network', onStatus: (s) => statuses.push(s), statusIntervalMs: 20
    })
    cleanups.push(lc.stop)

    // the light client follows A's partition: its miner's blocks alone, checked here
    // the tab's verified head is a block of A's chain (A moves on meanwhile: a moving head is not waited for)
    const onA = async (): Promise<boolean> => { const s = lc.status(); return String((await a.chain.headerAt(s.verifiedHeight))?.cid) === s.headCid }
    await until(async () => lc.status().verifiedHeight >= 4 && await onA(), 60_000)
    expect(lc.status().lastRejection).toBeNull()
    expect(lc.status().consensus).toBe('expected')
    await until(() => b.chain.head().header.height >= lc.status().verifiedHeight, 30_000)
    expect(headKeyOf(b)).not.toBe(headKeyOf(a))

    // the partitions rejoin: A dials B; both nodes and the light client end on B's heavier chain
    await join(a, b)
    const joinedAt = b.chain.head().header.height
    await until(async () => {
      const s = lc.status()
      return s.reorgs.count >= 1 && await sameChain(a, b) && s.verifiedHeight > joinedAt && await onA()
    }, 90_000)
    const s = lc.status()
    expect(s.lastRejection).toBeNull()
    expect(s.reorgs.last).not.toBeNull()
    // the chain it now lists holds B's miners' blocks, some tipsets of several
    const recent = await lc.store.recentTipSets(20)
    const minersSeen = new Set(recent.flatMap(ts => ts.blocks.map(b => String(b.header.miner))))
    expect(minersSeen.size).toBeGreaterThanOrEqual(2)
    expect(Math.max(...recent.map(ts => ts.blocks.length))).toBeGreaterThanOrEqual(2)
    // every tipset it holds on the heaviest chain is the nodes' (below the newest, which may still be growing)
    for (const ts of recent.slice(2)) expect(String((await a.chain.headerAt(ts.height))?.cid)).toBe(String(ts.key[0]))
    expect(s.stats.headersVerified).toBeGreaterThan(s.verifiedHeight / 2)
  })
})
