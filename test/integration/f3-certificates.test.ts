// F3 on a running devnet (issue 14): three providers vote, a certificate per instance follows the chain, each
// one verifies from genesis and finalizes a tipset of the heaviest chain; a full node that joins later gets the
// certificates by go-f3's certificate exchange and agrees; the exchange answers go-f3's request shape.
import { describe, it, expect, afterAll } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { startDevnet, type Devnet } from '../../src/node/devnet'
import { startFullNode, type FullNode } from '../../src/node/full-node'
import {
  readF3PowerTable, powerTableCid, validateFinalityCertificates, tipSetKeyBytes, bytesEqual, encodeCertificate, certificateFromLotusJson,
  type FinalityCertificate, type FinalityState, type LotusCertificateJson
} from '../../src/core'
import { createCofferLibp2p, requestCertificates, type CofferLibp2p } from '../../src/net'
import { until } from '../helpers/until'

const cleanups: Array<() => Promise<void>> = []
afterAll(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

const F3 = { instanceEpochs: 4, finalityDepth: 2 }

describe('F3 certificates on a devnet', () => {
  let d: Devnet
  it('the providers certify the chain as it runs; each certificate verifies from genesis and finalizes the heaviest chain', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'coffer-f3-'))
    cleanups.push(async () => { await rm(dir, { recursive: true, force: true }) })
    d = await startDevnet({ dataDir: dir, distDir: '/nonexistent', serveApp: false, rpcPort: null, providers: 3, f3: F3 })
    cleanups.push(async () => { await d.stop() })
    expect(d.genesis.state.f3).toEqual(F3)
    await until(() => (d.f3?.state().nextInstance ?? 0) >= 3, 120_000)

    const initial = d.chain.readState((s, r) => readF3PowerTable(s, r, 0), d.genesis.header)
    expect(initial.map(e => e.id)).toEqual([1001, 1002, 1003])
    const certs: FinalityCertificate[] = []
    for (let i = 0; i < 3; i++) certs.push((await d.f3!.certificate(i))!)
    const genesisF3 = { epoch: 0, key: tipSetKeyBytes([d.genesis.header.cid]), powerTable: powerTableCid(initial), commitments: new Uint8Array(32) }
    const start: FinalityState = { network: d.genesis.state.network, nextInstance: 0, powerTable: initial, finalized: genesisF3 }
    const end = validateFinalityCertificates(start, certs)
    expect(end.nextInstance).toBe(3)
    for (const c of certs) {
      const head = c.ecChain[c.ecChain.length - 1]!
      // a multiple of 4 (or the tipset below it when that round was null), on the devnet's heaviest chain
      expect(head.epoch % F3.instanceEpochs === 0 || (await d.chain.tipSetAt(head.epoch)) !== undefined).toBe(true)
      const canonical = await d.chain.tipSetAt(head.epoch)
      expect(bytesEqual(tipSetKeyBytes(canonical!.key), head.key)).toBe(true)
    }
    expect(certs.map(c => c.ecChain[1]!.epoch)).toEqual([...certs.map(c => c.ecChain[1]!.epoch)].sort((a, b) => a - b))
  }, 180_000)

  it('a full node that joins later fetches the certificates by exchange and agrees', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'coffer-f3-node-'))
    cleanups.push(async () => { await rm(dataDir, { recursive: true, force: true }) })
    const n: FullNode = await startFullNode({ dataDir, bootstrap: d.bootstrap() })
    cleanups.push(async () => { await n.stop() })
    const want = d.f3!.state().nextInstance
    await until(() => (n.f3?.state().nextInstance ?? 0) >= want, 90_000)
    for (let i = 0; i < want; i++) {
      expect(encodeCertificate((await n.f3!.certificate(i))!)).toEqual(encodeCertificate((await d.f3!.certificate(i))!))
    }
  }, 120_000)

  it('answers go-f3\'s certificate exchange: a range, the limit, the power table of the first instance', async () => {
    const asker: CofferLibp2p = await createCofferLibp2p({ listen: [], network: d.genesis.state.network })
    cleanups.push(async () => { await asker.stop() })
    const addr = d.libp2p.getMultiaddrs()[0]!
    await asker.dial(multiaddr(addr.toString()))
    const peer = peerIdFromString(addr.getComponents().find(c => c.name === 'p2p')!.value!)
    const got = await requestCertificates(asker, peer, d.genesis.state.network, { firstInstance: 0, limit: 2, includePowerTable: true })
    expect(got.certificates.map(c => c.instance)).toEqual([0, 1])
    expect(got.pendingInstance).toBeGreaterThanOrEqual(3)
    expect(powerTableCid(got.powerTable!).toString()).toBe(powerTableCid(d.chain.readState((s, r) => readF3PowerTable(s, r, 0), d.genesis.header)).toString())
    const all = await requestCertificates(asker, peer, d.genesis.state.network, { firstInstance: 1, limit: Infinity, includePowerTable: false })
    expect(all.certificates[0]!.instance).toBe(1)
    expect(all.certificates.length).toBe(all.pendingInstance - 1)
    expect(all.powerTable).toBeNull()
    // past the last certificate: the header alone
    const none = await requestCertificates(asker, peer, d.genesis.state.network, { firstInstance: 10_000, limit: 5, includePowerTable: true })
    expect(none.certificates).toEqual([])
    // each answer says what it cost on the wire (the tab shows what a cold sync received)
    expect(none.bytes).toBeGreaterThan(0)
    expect(all.bytes).toBeGreaterThan(none.bytes! + 100 * all.certificates.length)
  }, 60_000)
})

describe('Lotus\'s F3 methods on the JSON-RPC', () => {
  it('answers F3GetLatestCertificate, F3GetCertificate and F3GetPowerTableByInstance in go-f3\'s JSON', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'coffer-f3-rpc-'))
    cleanups.push(async () => { await rm(dir, { recursive: true, force: true }) })
    const d = await startDevnet({ dataDir: dir, distDir: '/nonexistent', serveApp: false, rpcPort: 0, providers: 3, f3: F3 })
    cleanups.push(async () => { await d.stop() })
    await until(() => (d.f3?.state().nextInstance ?? 0) >= 2, 120_000)
    const call = async (method: string, params: unknown[] = []): Promise<{ result?: any, error?: { message: string } }> =>
      await (await fetch(d.rpcUrl!, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })).json() as { result?: any, error?: { message: string } }
    expect((await call('Filecoin.F3IsRunning')).result).toBe(true)
    const latest = (await call('Filecoin.F3GetLatestCertificate')).result as LotusCertificateJson
    expect(latest.GPBFTInstance).toBeGreaterThanOrEqual(1)
    const first = (await call('Filecoin.F3GetCertificate', [0])).result as LotusCertificateJson
    expect(certificateFromLotusJson(first)).toEqual(await d.f3!.certificate(0))
    const table = (await call('Filecoin.F3GetPowerTableByInstance', [0])).result as Array<{ ID: number }>
    expect(table.map(e => e.ID)).toEqual([1001, 1002, 1003])
    expect((await call('Filecoin.F3GetCertificate', [100_000])).error?.message).toMatch(/no certificate/)
  }, 180_000)
})
