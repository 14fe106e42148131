// Full-node sync rate: a devnet pre-filled with BENCH_FULLNODE_BLOCKS blocks (default 10,000; produced and
// executed like any block, kept between runs under .coffer/) and a fresh full node (startFullNode) that
// fetches the genesis state, syncs by chain exchange with messages and re-executes every block. Printed:
// blocks/s from start to synced, against the same run's header-only rate (the signature batch check alone,
// the least a node that verifies headers must do) as a ratio.
import path from 'node:path'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { startDevnet } from '../../src/node/devnet'
import { startFullNode } from '../../src/node/full-node'
import { validateHeaderRun, type SealedHeader } from '../../src/core'

const fmt = (n: number, digits = 1): string => n.toFixed(digits)

export async function benchFullNodeSync (root: string, blocks = Number(process.env.BENCH_FULLNODE_BLOCKS ?? 10_000)): Promise<void> {
  const dataDir = path.join(root, '.coffer', `bench-fullnode-${blocks}`)
  const t0 = performance.now()
  const devnet = await startDevnet({ dataDir, distDir: '/nonexistent', serveApp: false, prefill: blocks }).catch(async (err: Error) => {
    if (err.name !== 'OldDataDirError') throw err
    return await startDevnet({ dataDir, distDir: '/nonexistent', serveApp: false, prefill: blocks, reset: true })
  })
  const nodeDir = await mkdtemp(path.join(tmpdir(), 'coffer-bench-node-'))
  try {
    console.log(`\nfull-node sync: devnet with ${devnet.head().header.height} blocks ready in ${fmt((performance.now() - t0) / 1000)} s (kept in ${path.relative(root, dataDir)})`)
    const start = performance.now()
    const node = await startFullNode({ dataDir: nodeDir, bootstrap: devnet.bootstrap() })
    const started = performance.now()
    await node.synced()
    const secs = (performance.now() - started) / 1000
    const applied = node.sync.applied
    const rss = process.memoryUsage().rss
    await node.stop()

    // the same headers' rules alone (batch signature check), in runs of 128 as a light client verifies them
    const headers: SealedHeader[] = []
    for (let h = 0; h <= Math.min(devnet.head().header.height, 2000); h++) headers.push((await devnet.headerAt(h))!)
    const v0 = performance.now()
    for (let i = 1; i < headers.length; i += 128) {
      const run = headers.slice(i, i + 128)
      validateHeaderRun(run, headers[i - 1]!, devnet.genesis, Math.floor(Date.now() / 1000) + 60, (n) => crypto.getRandomValues(new Uint8Array(n)))
    }
    const headerRate = (headers.length - 1) / ((performance.now() - v0) / 1000)
    const rate = applied / secs
    console.log(`  node start (genesis state fetched) ${fmt(started - start, 0)} ms; ${applied} blocks synced and re-executed in ${fmt(secs)} s = ${fmt(rate)} blocks/s (${fmt(1000 / rate)} ms per block)`)
    console.log(`  header rules alone (batch signature check): ${fmt(headerRate)} headers/s; full validation runs at ${fmt(rate / headerRate, 2)}x that`)
    console.log(`  process RSS after the sync (devnet and node in one process): ${fmt(rss / 2 ** 20, 0)} MiB`)
  } finally {
    await devnet.stop()
    await rm(nodeDir, { recursive: true, force: true })
  }
}
