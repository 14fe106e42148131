// Genesis power on a running devnet: each provider starts with a pre-sealed piece that genesis made a deal and
// counted as its power; the provider proves it every period as any deal, so its power stays, and a provider that
// stops proving loses its power where its missed period settles.
import { describe, it, expect, afterAll } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startDevnet, NoGenesisPowerError, type Devnet } from '../../src/node/devnet'
import { readClaim, readDeal, idAddressBytes } from '../../src/core'
import { presealDealOf } from '../../src/node/provider/preseal'
import { until } from '../helpers/until'

const P = 6
let d: Devnet | undefined
let dir: string | undefined
const cleanups: Array<() => Promise<void>> = []
afterAll(async () => {
  await d?.stop()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {})
})

describe('genesis power', () => {
  it('pre-sealed pieces give the providers power from genesis; proving keeps it, stopping loses it', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'coffer-genesis-power-'))
    d = await startDevnet({ dataDir: dir, distDir: '/nonexistent', serveApp: false, rpcPort: null, providers: 2, provingPeriod: P })
    const miners = [1001, 1002].map(idAddressBytes)
    const claimAt = (root: Parameters<typeof readClaim>[1], m: Uint8Array): bigint => readClaim(d!.chain.readState(s => s), root, m)!.rawBytePower
    const g = d.genesis.header.header.parentStateRoot
    expect(miners.map(m => claimAt(g, m))).toEqual([32768n, 32768n])
    const deals = miners.map(m => d!.chain.readState((s, r) => presealDealOf(s, r, m))!)
    expect(deals.map(x => x.dealId)).toEqual([0, 1])
    expect(deals[0]!.deal.proposal.startEpoch).toBe(P)

    // both prove the period opening at P; where it settles (2P) their power is unchanged
    const proven = (dealId: number, period: number): boolean => d!.chain.readState((s, r) => readDeal(s, r, dealId))!.periods[period]?.proof != null
    await until(() => proven(0, 0) && proven(1, 0), 120_000)
    await until(() => d!.head().header.height >= 2 * P + 1, 120_000)
    expect(miners.map(m => d!.chain.readState((s, r) => readClaim(s, r, m))!.rawBytePower)).toEqual([32768n, 32768n])

    // the second provider stops: its next unproven period settles as a fault and takes its power; the first keeps its own
    await d.providers[1]!.stop()
    const stoppedAt = d.head().header.height
    const settle = (Math.floor(stoppedAt / P) + 2) * P
    await until(() => d!.head().header.height >= settle + 1, 120_000)
    const claims = miners.map(m => d!.chain.readState((s, r) => readClaim(s, r, m))!.rawBytePower)
    expect(claims[1]).toBe(0n)
    expect(claims[0]).toBe(32768n)
    expect(d.chain.readState((s, r) => readDeal(s, r, 1))!.state.consecutiveFaults).toBeGreaterThan(0)
    // its rounds would load the next test's devnet
    await d.stop()
  }, 240_000)

  it('a period whose challenge epoch is a null round is proven from the beacon round the next block carries, and the power stays', async () => {
    // the devnet's clock jumps 3 s ahead while the head is two below a challenge epoch: the producers' next rounds are
    // past it, so it becomes a null round (as on a machine too slow for its rounds). A provider that waited for a block
    // at the challenge epoch itself never proved that period, and the lone provider's power, the chain's, was gone
    const P2 = 10
    let offsetMs = 0
    const dir2 = await mkdtemp(path.join(tmpdir(), 'coffer-null-challenge-'))
    const net = await startDevnet({ dataDir: dir2, distDir: '/nonexistent', serveApp: false, rpcPort: null, providers: 1, provingPeriod: P2, nowMs: () => Date.now() + offsetMs })
    cleanups.push(async () => { await net.stop(); await rm(dir2, { recursive: true, force: true }) })
    const height = (): number => net.head().header.height
    let c = 2 * P2
    for (let attempt = 0; ; attempt++) {
      await until(() => height() >= c - 2, 120_000, () => ({ height: height(), c }))
      if (height() === c - 2) offsetMs += 3000
      await until(() => height() > c, 120_000, () => ({ height: height(), c }))
      if (await net.chain.tipSetAt(c) === undefined) break
      // seen too late to skip c (the round at c was already under way): the next period's
      expect(attempt, 'no challenge epoch became a null round').toBeLessThan(3)
      c += P2
    }
    const period = (c - P2) / P2 // the genesis deal starts at P2
    const deal = (): ReturnType<typeof readDeal> => net.chain.readState((s, r) => readDeal(s, r, 0))
    await until(() => deal()!.periods[period]?.proof != null, 120_000, () => ({ height: height(), c, periods: deal()!.periods.length }))
    await until(() => height() >= c + P2 + 1, 120_000, () => ({ height: height(), settles: c + P2 }))
    expect(deal()!.state.consecutiveFaults).toBe(0)
    expect(net.chain.readState((s, r) => readClaim(s, r, idAddressBytes(1001)))!.rawBytePower).toBe(32768n)
  }, 300_000)

  it('an Expected Consensus devnet without providers is refused by name before it writes a genesis: the folder then starts a single-producer chain', async () => {
    const dir3 = await mkdtemp(path.join(tmpdir(), 'coffer-no-power-'))
    cleanups.push(async () => { await rm(dir3, { recursive: true, force: true }) })
    const init = { dataDir: dir3, distDir: '/nonexistent', serveApp: false, rpcPort: null, providers: 0 }
    await expect(startDevnet({ ...init, consensus: 'expected' })).rejects.toThrow(NoGenesisPowerError)
    const single = await startDevnet(init)
    cleanups.push(single.stop)
    expect(single.genesis.state.consensus ?? 'single').toBe('single')
    await single.stop()
  })
})
