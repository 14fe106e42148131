// A new light client on a devnet whose providers certify finality (issue 14): it verifies the certificate chain from
// genesis, jumps to the finalized tipset (fetched with the run below it by hash link), and checks by Expected
// Consensus only the blocks after it; a reload starts from the certificates and headers it stored.
import { describe, it, expect, afterAll } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startDevnet, type Devnet } from '../../src/node/devnet'
import { startLightClient, type LightClient, type LightClientStatus } from '../../src/light'
import { until } from '../helpers/until'

const cleanups: Array<() => Promise<void>> = []
afterAll(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

describe('light client fast sync by F3 certificates', () => {
  let d: Devnet
  let lc1Status: LightClientStatus | undefined
  const PREFILL = 60
  it('verifies the certificates, jumps to the finalized tipset and checks only the blocks after it', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'coffer-light-f3-'))
    cleanups.push(async () => { await rm(dir, { recursive: true, force: true }) })
    // a chain with history when the tab first opens; a long proving period so the prefilled rounds keep their power
    d = await startDevnet({ dataDir: dir, distDir: '/nonexistent', serveApp: false, rpcPort: null, providers: 3, f3: { instanceEpochs: 10, finalityDepth: 2 }, prefill: PREFILL, provingPeriod: 1000 })
    cleanups.push(async () => { await d.stop() })
    await until(() => (d.f3!.state().finalized?.epoch ?? 0) >= PREFILL, 120_000)

    let last: LightClientStatus | undefined
    const lc: LightClient = await startLightClient({ bootstrap: d.bootstrap(), bootstrapSource: 'network', onStatus: (s) => { last = s }, statusIntervalMs: 20 })
    cleanups.push(lc.stop)
    const seen = (): unknown => ({ finality: lc.status().finality, verified: lc.status().verifiedHeight, err: lc.status().lastNetworkError, rej: lc.status().lastRejection, dev: d.f3!.state().nextInstance })
    // the finalized head is shown first, the lookback run below it written after (finality-service.ts): both waited for
    const jumped = (): boolean => lc.status().stats.startup.some(m => m.phase === 'jumped to the finalized tipset')
    await until(() => { const f = lc.status().finality; return f !== null && f.finalizedEpoch >= PREFILL && lc.status().verifiedHeight >= f.finalizedEpoch && jumped() }, 90_000, seen)
    const s = lc.status()
    expect(s.lastRejection).toBeNull()
    expect(s.finality!.instance).toBeGreaterThanOrEqual(5)
    expect(s.finality!.jumpedFromEpoch).not.toBeNull()
    // the finalized tipset is the devnet's own at that height
    const f = s.finality!
    expect(f.finalizedCid).toBe(String((await d.chain.tipSetAt(f.finalizedEpoch))!.key[0]))
    // blocks checked by Expected Consensus: the finalized tipset's own (checked again on its parent) and those after it, not the chain below
    expect(s.stats.headersVerified).toBeLessThan(PREFILL / 2 + (s.verifiedHeight - f.finalizedEpoch) * 3 + 6)
    expect(last).toBeDefined()
    lc1Status = lc.status()
  }, 240_000)

  it('a reload starts from the stored certificates and head', async () => {
    const before = (await (async () => { const x = d.f3!.state(); return x })())
    const stored = lc1Status!
    const statuses: LightClientStatus[] = []
    const lc2: LightClient = await startLightClient({ bootstrap: d.bootstrap(), bootstrapSource: 'network', onStatus: (s) => statuses.push(s), statusIntervalMs: 20 })
    cleanups.push(lc2.stop)
    // the first status comes from storage before libp2p starts: the stored head and finality, this session's peer ID, no peers yet
    const first = statuses[0]!
    expect(first.peers).toEqual([])
    expect(first.peerId).toBe(lc2.status().peerId)
    expect(first.verifiedHeight).toBeGreaterThanOrEqual(stored.verifiedHeight)
    expect(first.finality!.instance).toBeGreaterThanOrEqual(stored.finality!.instance)
    expect(first.finality!.finalizedEpoch).toBeGreaterThanOrEqual(stored.finality!.finalizedEpoch)
    expect(first.finality!.verified).toBe(0)
    expect(first.stats.startup.map(m => m.phase)).toEqual(['stored status'])
    expect(lc2.status().stats.startup.map(m => m.phase)).toContain('running')
    // at once, from IndexedDB: the head the first client verified, before any node answered
    expect(lc2.status().verifiedHeight).toBeGreaterThan(PREFILL / 2)
    await until(() => (lc2.status().finality?.instance ?? -1) >= before.nextInstance - 1, 60_000, () => lc2.status().finality)
    // only certificates newer than the stored ones were checked again
    expect(lc2.status().finality!.verified).toBeLessThanOrEqual(lc2.status().finality!.instance + 1 - 5)
  }, 120_000)
})
