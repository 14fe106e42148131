// The rule that keeps F3 safe on the devnet (core/finality/f3-devnet-rules.ts): a provider signs one value per
// instance, recorded on disk before it leaves. A provider whose record holds another value for the current instance
// (it signed it before a crash) sends that same vote again after the restart and signs nothing new; the other two
// providers' votes are a strong quorum by themselves, so the instance is certified without it.
import { describe, it, expect, afterAll } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startDevnet } from '../../src/node/devnet'
import { ChainDb } from '../../src/node/chain-db'
import { F3Store } from '../../src/node/f3'
import { loadOrCreateProviderKeys } from '../../src/node/provider/provider-keys'
import { providerDir } from '../../src/node/provider/devnet-providers'
import {
  certificateSigningPayload, f3Sign, chainCid, tipSetKeyBytes, decodeRlePlus, encodeF3Vote,
  type F3Vote, type F3TipSet
} from '../../src/core'
import { until } from '../helpers/until'

const cleanups: Array<() => Promise<void>> = []
afterAll(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })
const F3 = { instanceEpochs: 4, finalityDepth: 2 }

describe('one value per instance, across a restart', () => {
  it('a provider that signed another value before a crash keeps it; the others certify the instance without it', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'coffer-f3-once-'))
    cleanups.push(async () => { await rm(dir, { recursive: true, force: true }) })
    const d = await startDevnet({ dataDir: dir, distDir: '/nonexistent', serveApp: false, rpcPort: null, providers: 3, f3: F3 })
    await until(() => (d.f3?.state().nextInstance ?? 0) >= 1, 120_000)
    await d.stop()

    // what f01001 "signed before the crash": a value naming a tipset that is not the chain's, for the pending instance
    const db = await ChainDb.open(dir)
    const store = new F3Store(db)
    const state = (await store.loadState())!
    const instance = state.nextInstance
    const base = state.finalized!
    const fake: F3TipSet = { epoch: base.epoch + 3, key: tipSetKeyBytes([chainCid(Uint8Array.of(1, 2, 3))]), powerTable: base.powerTable, commitments: new Uint8Array(32) }
    const supplementalData = { commitments: new Uint8Array(32), powerTable: base.powerTable }
    const secret = (await loadOrCreateProviderKeys(providerDir(dir, 0))).worker
    const other: F3Vote = { sender: 1001, instance, ecChain: [base, fake], supplementalData, signature: f3Sign(secret, certificateSigningPayload(state.network, instance, supplementalData, [base, fake])) }
    await store.recordVote(other)
    await db.close()

    const d2 = await startDevnet({ dataDir: dir, distDir: '/nonexistent', serveApp: false, rpcPort: null, providers: 3, f3: F3 })
    cleanups.push(async () => { await d2.stop() })
    await until(() => (d2.f3?.state().nextInstance ?? 0) > instance, 120_000)
    const cert = (await d2.f3!.certificate(instance))!
    const table = state.powerTable
    const signers = decodeRlePlus(cert.signers).map(i => table[i]!.id)
    expect(signers).not.toContain(1001)
    expect(signers.sort()).toEqual([1002, 1003])
    // the honest value was certified, not the one f01001 holds
    expect(cert.ecChain[1]!.key).not.toEqual(fake.key)
    // and f01001's record still holds the vote it signed first
    const kept = await d2.f3!.recordedVote(1001, instance)
    expect(encodeF3Vote(kept!)).toEqual(encodeF3Vote(other))
  }, 300_000)
})
