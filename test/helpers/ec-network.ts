// An Expected Consensus network on loopback for tests: full nodes (startFullNode, real libp2p) started from one
// genesis, each running the producers of the miners it is given; nodes started alone are partitions until one
// dials another (`join`). Three genesis miners with equal pre-sealed power and BLS workers.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { idAddressBytes, tipSetKeyString, type Genesis } from '../../src/core'
import { makeBootstrap } from '../../src/net'
import { startFullNode, type FullNode } from '../../src/node/full-node'
import { ecGenesis } from './ec-node'
import { testBeaconEntry } from './test-beacon'
import { untilProgress } from './until'

export const EC_SECRETS = [81, 82, 83].map(n => new Uint8Array(32).fill(n))
export const EC_MINERS = [1001, 1002, 1003].map(idAddressBytes)
const beaconSource = { entry: async (r: number) => testBeaconEntry(r) }

/** A genesis starting now, with `blockDelaySecs` rounds and three miners of equal power. */
export function ecNetworkGenesis (network: string, blockDelaySecs: number): Genesis {
  return ecGenesis({
    network, time: Math.floor(Date.now() / 1000), blockDelaySecs, secrets: EC_SECRETS,
    payloads: [3000, 3000, 3000].map((n, i) => new Uint8Array(n).fill(i + 7))
  })
}

/** A full node holding `genesis` from the start (each partition's first node needs no peer), mining for miners `mine` (indexes). */
export async function ecFullNode (genesis: Genesis, mine: number[], cleanups: Array<() => Promise<void>>, lines: string[] = []): Promise<FullNode> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'coffer-ec-net-'))
  cleanups.push(async () => { await rm(dataDir, { recursive: true, force: true }) })
  const n = await startFullNode({
    dataDir, bootstrap: makeBootstrap(genesis, []), genesis, beaconSource, log: (l) => lines.push(l),
    miners: mine.map(i => ({ miner: EC_MINERS[i]!, workerSecretKey: EC_SECRETS[i]! }))
  })
  cleanups.push(n.stop)
  return n
}

/** Two partitions rejoin: `a` dials `b`. */
export async function join (a: FullNode, b: FullNode): Promise<void> {
  await a.libp2p.dial(multiaddr(b.libp2p.getMultiaddrs()[0]!.toString()))
}

/** `n`'s head tipset key, as the fork tree names it (order-free). */
export const headKeyOf = (n: FullNode): string => tipSetKeyString(n.chain.headTipSet().key)

/** Whether one of `n`'s tipsets in its last `heights` heights holds blocks of two or more miners. */
export async function severalMinersRecently (n: FullNode, heights: number): Promise<boolean> {
  const top = n.chain.head().header.height
  for (let h = top; h > Math.max(0, top - heights); h--) {
    const ts = await n.chain.tipSetAt(h)
    if (ts !== undefined && new Set(ts.blocks.map(b => String(b.header.miner))).size >= 2) return true
  }
  return false
}

/**
 * Ends two partitions' production so that what they converge on has an end: `a`'s miners stop, `b`'s mine on until
 * `b`'s chain is the heavier and `ready` holds, then stop. Waits on `b`'s progress, not a clock. Gives `b`'s head key.
 */
export async function freezeHeavier (a: FullNode, b: FullNode, ready: () => Promise<boolean> = async () => true): Promise<string> {
  for (const p of a.producers) await p.stop()
  await untilProgress(async () => b.chain.headWeight() > a.chain.headWeight() && await ready(), () => b.chain.head().header.height, 30_000,
    () => ({ a: [a.chain.head().header.height, String(a.chain.headWeight())], b: [b.chain.head().header.height, String(b.chain.headWeight())] }))
  for (const p of b.producers) await p.stop()
  return headKeyOf(b)
}
