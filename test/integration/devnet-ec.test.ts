// A devnet under Expected Consensus (`coffer devnet --consensus expected`, issue 13 part 5): the genesis providers'
// pre-sealed deals are the power the network starts from, and the providers make the blocks, each with its own
// worker key; the devnet's own node makes none (it executes theirs as a full node does). Run as `npm start` runs
// it, each provider a child process (`coffer provider run`) producing on its own node: both win blocks, the chain holds
// theirs and no other's, a faucet payment is carried by a provider's block, and a light client checks every block
// and finds the payment's receipt in a tipset of any size. (Whether both miners' blocks of a round meet in one
// tipset depends on blocks crossing between processes within a round, i.e. on this machine's speed: the tipsets of
// several miners are asserted where the miners share a node, in light-ec and the Chromium test.)
import { describe, it, expect, afterAll } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startDevnet } from '../../src/node/devnet'
import { addressToString, secpAddressBytes, secpPublicKey, type TipSet } from '../../src/core'
import { startLightClient } from '../../src/light'
import { until, untilProgress } from '../helpers/until'

const debug = process.env.DEBUG_DEVNET !== undefined
const cleanups: Array<() => Promise<void>> = []
afterAll(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

describe('devnet under Expected Consensus', { timeout: 240_000 }, () => {
  it('its providers, each in its own process, win and make the blocks; the tab checks them and proves a receipt', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'coffer-devnet-ec-'))
    const lines: string[] = []
    cleanups.push(async () => { await rm(dir, { recursive: true, force: true }) })
    const d = await startDevnet({
      dataDir: dir, distDir: '/nonexistent', serveApp: false, rpcPort: 0, providers: 2, providerProcesses: true, consensus: 'expected',
      blockDelayMs: 2000, faucetCooldownMs: 0, log: (l) => { lines.push(l); if (debug) console.log(`[devnet] ${l}`) }
    })
    cleanups.push(d.stop)
    expect(d.genesis.state.consensus).toBe('expected')
    const lc = await startLightClient({ bootstrap: d.bootstrap(), bootstrapSource: 'network', onStatus: () => {} })
    cleanups.push(lc.stop)

    // a payment from the faucet, in the devnet's pool: gossiped to the providers, carried by one of their blocks
    const to = secpAddressBytes(secpPublicKey(new Uint8Array(32).fill(5)))
    const paid = await d.chain.faucet(to)
    const receipt = await until(async () => await lc.state.receipt(paid).catch(() => null) ?? undefined, 120_000)
    expect(receipt.receipt.exitCode).toBe(0)

    // each provider process won and published blocks of its own, and the chain the devnet holds is theirs alone
    await until(() => ['t01001', 't01002'].every(m => lines.some(l => l.startsWith(`[${m}] won the block`))), 120_000)
    await until(() => d.chain.head().header.height >= 10, 120_000)
    const tipsets: TipSet[] = []
    for (let h = 1; h <= d.chain.head().header.height; h++) { const ts = await d.chain.tipSetAt(h); if (ts !== undefined) tipsets.push(ts) }
    const minersSeen = new Set(tipsets.flatMap(ts => ts.blocks.map(b => addressToString(b.header.miner, 't'))))
    expect(minersSeen.size).toBeGreaterThanOrEqual(1)
    for (const m of minersSeen) expect(['t01001', 't01002']).toContain(m)
    // the light client agrees, having checked every block itself
    // (the providers' blocks of one round may fork for a round when they cross late: the tab's block below its head
    // is the devnet's once both have settled on one, not necessarily at the instant it is first seen)
    await untilProgress(async () => {
      const v = lc.status().verifiedHeight
      return v >= 10 && String((await d.chain.headerAt(v - 1))?.cid) === String((await lc.store.byHeight(v - 1))?.cid)
    }, () => lc.status().stats.headersVerified, 30_000, () => lc.status())
    expect(lc.status().lastRejection).toBeNull()
  })
})
