// The tab's certificate sync (issue 14) against nodes that lie: one serving another network's chain is refused by name
// and the next node asked; one that withholds the latest certificates is passed over for another that has them; when
// a node claims certificates none would serve, the tab says it is behind. Real certificates, real IndexedDB code
// (fake-indexeddb), the sync's own store. And the exchange's codec refuses an oversized answer by name.
import { describe, it, expect } from 'vitest'
import * as dagCbor from '@ipld/dag-cbor'
import { encodeCertificate, NobleBdnVerifier, type FinalityCertificate, type SealedHeader } from '../../src/core'
import { decodeCertExchangeResponse, encodeCertExchangeHeader, type CertExchangeResponse } from '../../src/net'
import { F3Sync, type SignatureBatchCheck } from '../../src/light/f3-sync'
import { openF3CertStore } from '../../src/light/f3-cert-store'
import { testCertChain } from '../helpers/f3-certs'
import { until } from '../helpers/until'

const NET = 'f3-sync-test'
const ours = testCertChain(NET, 8)
const theirs = testCertChain('another-network', 8)
let n = 0

/** A node answering from `certs`, claiming `pending` (its latest + 1 unless it lies about it). */
const node = (certs: FinalityCertificate[], pending = certs.length) => async (_peer: string, req: { firstInstance: number, limit: number }): Promise<CertExchangeResponse> =>
  ({ pendingInstance: pending, powerTable: null, certificates: certs.slice(req.firstInstance, Math.min(req.firstInstance + req.limit, pending)) })

async function newSync (nodes: Record<string, ReturnType<typeof node>>, more: { helpers?: () => SignatureBatchCheck[], checkBatch?: number, onNewestFetched?: (c: FinalityCertificate) => void } = {}): Promise<{ sync: F3Sync, refused: string[], store: Awaited<ReturnType<typeof openF3CertStore>> }> {
  const refused: string[] = []
  const store = await openF3CertStore(`f3-sync-${n++}`)
  await store.accept([], ours.start) // the state a tab starts from: genesis' table, proven elsewhere
  const sync = new F3Sync({
    network: NET,
    genesis: null as unknown as SealedHeader,
    store,
    peers: () => Object.keys(nodes),
    fetchCertificates: async (peer, req) => await nodes[peer]!(peer, req),
    initialPowerTable: async () => { throw new Error('not asked: the store holds a state') },
    onRejection: (peer, err) => { refused.push(`${peer}:${(err as { code?: string }).code ?? err.name}`) },
    onNetworkError: () => {},
    onChange: () => {},
    ...more
  })
  return { sync, refused, store }
}

describe('F3Sync', () => {
  it('refuses a node serving another network\'s chain by name and takes the next node\'s', async () => {
    const { sync, refused } = await newSync({ other: node(theirs.certs), honest: node(ours.certs) })
    await sync.sync()
    expect(refused).toEqual(['other:BAD_SIGNATURE'])
    expect(sync.state!.nextInstance).toBe(8)
    expect(sync.behind).toBe(false)
  })

  it('a node that never answers holds up only itself: the others\' certificates are taken meanwhile, and a call during a pass brings one more', async () => {
    // silent until its deadline (giveUp); asked again after it, it fails at once
    let giveUp = (): void => {}
    let gaveUp = false
    const silent = async (): Promise<CertExchangeResponse> => await new Promise((_resolve, reject) => {
      if (gaveUp) reject(new Error('deadline'))
      giveUp = () => { gaveUp = true; reject(new Error('deadline')) }
    })
    const nodes: Record<string, (peer: string, req: { firstInstance: number, limit: number }) => Promise<CertExchangeResponse>> = { silent, honest: node(ours.certs.slice(0, 5)) }
    const { sync } = await newSync(nodes)
    const pass = sync.sync()
    await until(() => sync.state?.nextInstance === 5, 5000)
    // a node that joins while the pass waits on the silent one is asked in a pass that follows it
    nodes.later = node(ours.certs)
    const second = sync.sync()
    giveUp()
    await pass
    await second
    expect(sync.state!.nextInstance).toBe(8)
  })

  it('asks another node when one withholds the latest certificates, and says it is behind when none serves them', async () => {
    const a = await newSync({ stale: node(ours.certs.slice(0, 3)), fresh: node(ours.certs) })
    await a.sync.sync()
    expect(a.sync.state!.nextInstance).toBe(8)
    // a node claims 8 but serves 5; nobody else has more: the tab keeps 5 and says it is behind
    const b = await newSync({ withholding: node(ours.certs.slice(0, 5), 8) })
    await b.sync.sync()
    expect(b.sync.state!.nextInstance).toBe(5)
    expect(b.sync.behind).toBe(true)
    expect(b.sync.knownPending).toBe(8)
  })

  it('asks for the next batch while one is checked, and on a new tab fetches before the genesis table is proven', async () => {
    // a node that serves three at a time (as go-f3's server caps a response): the sync asks for 3 before 0–2 are stored
    const events: string[] = []
    const small = async (_peer: string, req: { firstInstance: number }): Promise<CertExchangeResponse> => {
      events.push(`ask ${req.firstInstance}`)
      return { pendingInstance: 8, powerTable: null, certificates: ours.certs.slice(req.firstInstance, Math.min(req.firstInstance + 3, 8)) }
    }
    const { sync, store } = await newSync({ small }, { onNewestFetched: (c) => events.push(`newest ${c.instance}`) })
    const accept = store.accept.bind(store)
    store.accept = async (certs, state) => { events.push(`stored ${certs[0]?.instance ?? '-'}`); await accept(certs, state) }
    await sync.sync()
    expect(sync.state!.nextInstance).toBe(8)
    expect(events.indexOf('ask 3')).toBeLessThan(events.indexOf('stored 0'))
    expect(events.indexOf('ask 6')).toBeLessThan(events.indexOf('stored 3'))
    // the node's newest certificate is asked for alone after the first answer, and told once, before any batch is
    // stored (the finalized tipset's headers are fetched while all of them are checked: finality-service.ts)
    expect(events.indexOf('ask 7')).toBeLessThan(events.indexOf('ask 3'))
    expect(events.filter(e => e.startsWith('newest'))).toEqual(['newest 7'])
    expect(events.indexOf('newest 7')).toBeLessThan(events.indexOf('stored 0'))

    // an empty store: the certificates are asked for while the genesis power table's proof is still on its way
    const fresh = await openF3CertStore(`f3-sync-${n++}`)
    let asked = false
    const cold = new F3Sync({
      network: NET,
      genesis: null as unknown as SealedHeader,
      store: fresh,
      peers: () => ['small'],
      fetchCertificates: async (peer, req) => { asked = true; return await small(peer, req) },
      initialPowerTable: async () => { await until(() => asked, 5000); throw new Error('no proof today') },
      onRejection: () => {},
      onNetworkError: () => {},
      onChange: () => {}
    })
    await expect(cold.sync()).rejects.toThrow('no proof today')
    expect(cold.state).toBe(null)
    expect(await fresh.state()).toBe(null)
  })

  it('checks batches\' signatures in helper threads beside its own: a helper gone or saying false changes nothing, a bad certificate is still named', async () => {
    const noble = new NobleBdnVerifier()
    let calls = 0
    const asked: number[] = []
    const helper: SignatureBatchCheck = async (checks, weights) => {
      asked.push(checks.length)
      if (checks.length > 0) calls++
      await new Promise(resolve => setTimeout(resolve, 5))
      return noble.verifyBatch(checks, weights)
    }
    const a = await newSync({ honest: node(ours.certs) }, { helpers: () => [helper], checkBatch: 2 })
    await a.sync.sync()
    expect(a.sync.state!.nextInstance).toBe(8)
    expect(asked[0]).toBe(0) // asked first with no checks: it loads its verifier while the certificates come
    expect(calls).toBeGreaterThan(0) // of the 4 batches, the helper took at least one
    expect(a.sync.threads).toBe(2)

    const gone: SignatureBatchCheck = async () => { throw new Error('TabGoneError') }
    const naysayer: SignatureBatchCheck = async () => false
    const b = await newSync({ honest: node(ours.certs) }, { helpers: () => [gone, naysayer], checkBatch: 2 })
    await b.sync.sync()
    expect(b.sync.state!.nextInstance).toBe(8)

    const bad = ours.certs.map((c, i) => i === 6 ? { ...c, signature: ours.certs[5]!.signature } : c)
    const c = await newSync({ liar: node(bad) }, { helpers: () => [helper], checkBatch: 2 })
    await c.sync.sync()
    expect(c.refused).toEqual(['liar:BAD_SIGNATURE'])
    expect(c.sync.state!.nextInstance).toBe(6)
  })

  it('keeps the valid prefix of a chain that turns bad, stored with the state after it (where a reload starts)', async () => {
    const bad = ours.certs.map((c, i) => i === 6 ? { ...c, signature: ours.certs[5]!.signature } : c)
    const { sync, refused, store } = await newSync({ liar: node(bad) })
    await sync.sync()
    expect(refused).toEqual(['liar:BAD_SIGNATURE'])
    expect(sync.state!.nextInstance).toBe(6)
    expect((await store.state())!.nextInstance).toBe(6)
    expect(encodeCertificate((await store.certificate(5))!)).toEqual(encodeCertificate(ours.certs[5]!))
  })
  it('stores what it checked while it checks more; a write the store refuses keeps those certificates for the next, and nothing is skipped', async () => {
    // a node that serves three at a time, growing between passes; the store refuses one write (a full quota, say)
    let served = 5
    const growing = async (_peer: string, req: { firstInstance: number }): Promise<CertExchangeResponse> =>
      ({ pendingInstance: served, powerTable: null, certificates: ours.certs.slice(req.firstInstance, Math.min(req.firstInstance + 3, served)) })
    const { sync, store } = await newSync({ growing })
    const accept = store.accept.bind(store)
    const writes: string[] = []
    let refusing = true
    // (it refuses at once, not in a promise: nothing of the sync's writing may stay stuck on that)
    store.accept = (certs, state) => {
      writes.push(certs.map(c => c.instance).join(','))
      if (refusing && certs.length > 0 && certs[0]!.instance === 3) throw new DOMException('the quota is full', 'QuotaExceededError')
      return accept(certs, state)
    }
    // the pass checks all five, and says the store refused some of them (however often it tried); what it did store is whole
    await expect(sync.sync()).rejects.toThrow('the quota is full')
    expect(sync.state!.nextInstance).toBe(5)
    expect((await store.state())!.nextInstance).toBe(3)
    expect(await store.certificate(3)).toBe(null)
    // the next pass stores them with what it checks now, in one write after the ones before
    served = 6
    refusing = false
    await sync.sync()
    expect((await store.state())!.nextInstance).toBe(6)
    expect(writes[0]).toBe('0,1,2')
    expect(writes.at(-1)).toBe('3,4,5')
    // a pass with nothing new writes nothing; the next with more stores it
    const before = writes.length
    await sync.sync()
    expect(writes.length).toBe(before)
    served = 8
    await sync.sync()
    expect((await store.state())!.nextInstance).toBe(8)
    for (let i = 0; i < 8; i++) expect(encodeCertificate((await store.certificate(i))!)).toEqual(encodeCertificate(ours.certs[i]!))
  })
})

describe('certificate exchange codec', () => {
  it('reads go-f3\'s response (a header, then certificates back to back) and refuses more than 256 certificates', () => {
    const bytes = (certs: FinalityCertificate[]): Uint8Array => {
      const parts = [encodeCertExchangeHeader(certs.length, null), ...certs.map(encodeCertificate)]
      const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0))
      let at = 0
      for (const p of parts) { out.set(p, at); at += p.length }
      return out
    }
    expect(decodeCertExchangeResponse(bytes(ours.certs)).certificates).toEqual(ours.certs)
    const many = Array.from({ length: 257 }, () => ours.certs[0]!)
    expect(() => decodeCertExchangeResponse(bytes(many))).toThrow(/more than 256/)
    // a header whose power table is over go-f3's limits
    const huge = dagCbor.encode([1, Array.from({ length: 9000 }, (_, i) => [i, new Uint8Array([0, 1]), new Uint8Array(48)])])
    expect(() => decodeCertExchangeResponse(huge)).toThrow(/power table of 9000 entries/)
  })
})
