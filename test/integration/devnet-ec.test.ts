// A devnet under Expected Consensus (`coffer devnet --consensus expected`, issue 13 part 5): the genesis providers'
// pre-sealed deals are the power the network starts from, and the providers make the blocks, each with its own
// worker key; the devnet's own node makes none (it executes theirs as a full node does). Run as `npm start` runs
// it, each provider a child process (`coffer provider run`) producing on its own node: both win blocks, the chain holds
// theirs and no other's, a faucet payment is carried by a provider's block, and a light client checks every block
// and finds the payment's receipt in a tipset of any size. (Whether both miners' blocks of a round meet in one
// tipset depends on blocks crossing between processes within a round, i.e. on this machine's speed: the tipsets of
// several miners are asserted where the miners share a node, in light-ec and the Chromium test.) The chain never stops,
// so each wait is bounded in rounds (the heights the chain moves) as well as by a stall, and gives up naming what it
// saw (CI once ran out the test's 240 s in one of them, which one unsaid).
import { describe, it, expect, afterAll } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startDevnet } from '../../src/node/devnet'
import { addressToString, secpAddressBytes, secpPublicKey, type TipSet } from '../../src/core'
import { startLightClient } from '../../src/light'
import { untilAdvance } from '../helpers/until'

const debug = process.env.DEBUG_DEVNET !== undefined
const cleanups: Array<() => Promise<void>> = []
afterAll(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

describe('devnet under Expected Consensus', { timeout: 420_000 }, () => {
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

    const height = (): number => d.chain.head().header.height
    const keyAt = async (ts: Promise<TipSet | null | undefined>): Promise<string> => (await ts)?.key.map(String).join(',') ?? 'none'
    const seen = async (): Promise<unknown> => {
      const s = lc.status()
      const v = s.verifiedHeight
      return {
        devnetHead: height(), tabVerified: v, tabRejection: s.lastRejection, headersVerified: s.stats.headersVerified,
        atTabVerifiedLess2: { devnet: await keyAt(d.chain.tipSetAt(v - 2)), tab: await keyAt(lc.store.tipSetAt(v - 2)) },
        lastLines: lines.slice(-12)
      }
    }

    // a payment from the faucet, in the devnet's pool: gossiped to the providers, carried by one of their blocks
    const to = secpAddressBytes(secpPublicKey(new Uint8Array(32).fill(5)))
    const paid = await d.chain.faucet(to)
    const receipt = await untilAdvance(async () => await lc.state.receipt(paid).catch(() => null) ?? undefined, height, 60, 60_000, seen)
    expect(receipt.receipt.exitCode).toBe(0)

    // each provider process won and published blocks of its own, and the chain the devnet holds is theirs alone
    await untilAdvance(() => ['t01001', 't01002'].every(m => lines.some(l => l.startsWith(`[${m}] won the block`))), height, 30, 60_000, seen)
    await untilAdvance(() => height() >= 10, height, 15, 60_000, seen)
    const tipsets: TipSet[] = []
    for (let h = 1; h <= height(); h++) { const ts = await d.chain.tipSetAt(h); if (ts !== undefined) tipsets.push(ts) }
    const minersSeen = new Set(tipsets.flatMap(ts => ts.blocks.map(b => addressToString(b.header.miner, 't'))))
    expect(minersSeen.size).toBeGreaterThanOrEqual(1)
    for (const m of minersSeen) expect(['t01001', 't01002']).toContain(m)
    // the light client agrees, having checked every block itself: the same tipset (or the same null round) two rounds
    // below what it has verified (the providers' blocks of one round may fork for a round when they cross late, and a
    // late block may join the tipset of the round before on one side first: the rounds below have settled)
    await untilAdvance(async () => {
      const v = lc.status().verifiedHeight
      return v >= 10 && await keyAt(d.chain.tipSetAt(v - 2)) === await keyAt(lc.store.tipSetAt(v - 2))
    }, () => lc.status().verifiedHeight, 30, 60_000, seen)
    expect(lc.status().lastRejection).toBeNull()
  })
})
