// Lying peers on finality certificates (issue 16 part 2): go-f3's certificate exchange, which a new tab believes to
// jump over the headers before the finalized tipset. A fresh light client knows only a liar, which follows the honest
// chain (headers, state and hello are honest) and lies about certificates; then the honest node is dialled.
// A try fails if a certificate the honest chain did not make reaches the client's store or its finalized tipset is
// not the honest one (accepted), if anything escapes uncaught (crash), if a provable liar stays connected (kept), or
// if the client does not then reach the honest finalized instance (lost: the user's finality stalled).
import { setMaxListeners } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import type { Stream } from '@libp2p/interface'
import { chainCid, decodeRlePlus, encodeRlePlus, encodeCertificate, tipSetKeyBytes, type FinalityCertificate } from '../../src/core'
import {
  createCofferLibp2p, serveChainExchange, serveState, serveCertExchange, certExchangeProtocol, encodeCertExchangeHeader, runHello, type CofferLibp2p
} from '../../src/net'
import { readAll } from '../../src/net/stream-io'
import { startDevnet, type Devnet } from '../../src/node/devnet'
import { answerState } from '../../src/node/state-answers'
import { startLightClient } from '../../src/light'
import type { NodeSummary } from '../../src/light/node-checks'
import { chainDbName } from '../../src/light/header-store'
import { f3DbName, openF3CertStore } from '../../src/light/f3-cert-store'
import { testCertChain } from '../helpers/f3-certs'
import { watchCrashes, waitFor } from './harness'
import type { Row } from './table'

export const CERT_LIES = {
  'a certificate over another tipset': { provable: true },
  'signers below two thirds': { provable: true },
  'a signer set that did not sign': { provable: true },
  'a wrong power-table delta': { provable: true },
  'another network\'s certificates': { provable: true },
  'a chain signed by keys of its own': { provable: true },
  'a skipped instance': { provable: true },
  'a repeated instance': { provable: true },
  // a cut link sends the same bytes (a clean end mid-answer): hung up on, not dropped for the session
  'truncated answer': { provable: 'hung up' },
  'junk bytes': { provable: true },
  'oversized answer': { provable: true },
  'withholds the latest': { provable: false },
  'claims certificates it never serves': { provable: false },
  'never answers': { provable: false }
} as const
export type CertLie = keyof typeof CERT_LIES

/** The honest certificates from 0 while they last. */
async function honestCerts (honest: Devnet): Promise<FinalityCertificate[]> {
  const out: FinalityCertificate[] = []
  for (let i = 0; i < honest.f3!.state().nextInstance; i++) {
    const c = await honest.f3!.certificate(i)
    if (c === undefined) break
    out.push(c)
  }
  return out
}

/** The honest run with certificate 1 (the second: the first is taken, so the lie is met mid-run) changed by `f`. */
const alterSecond = (certs: FinalityCertificate[], f: (c: FinalityCertificate) => FinalityCertificate): FinalityCertificate[] =>
  certs.map((c, i) => i === 1 ? f(c) : c)

/**
 * A chain of 8 certificates signed by keys of the liar's own, made once per network name: the liar serves it on every
 * request, and signing it again each time (two BLS signatures a certificate) would starve the client it attacks.
 */
const foreignChains = new Map<string, FinalityCertificate[]>()
const foreignChain = (network: string): FinalityCertificate[] => {
  let c = foreignChains.get(network)
  if (c === undefined) { c = testCertChain(network, 8).certs; foreignChains.set(network, c) }
  return c
}

function liedCerts (lie: CertLie, certs: FinalityCertificate[], network: string): FinalityCertificate[] {
  switch (lie) {
    case 'a certificate over another tipset':
      return alterSecond(certs, c => ({ ...c, ecChain: c.ecChain.map((ts, i) => i === c.ecChain.length - 1 ? { ...ts, key: tipSetKeyBytes([chainCid(Uint8Array.of(7, 7, 7))]) } : ts) }))
    case 'signers below two thirds':
      return alterSecond(certs, c => ({ ...c, signers: encodeRlePlus([decodeRlePlus(c.signers)[0]!]) }))
    case 'a signer set that did not sign':
      return alterSecond(certs, c => {
        const signed = decodeRlePlus(c.signers)
        // another set as large where one is missing, else one fewer: either way not the keys in the aggregate
        const others = [0, 1, 2, 3].filter(i => !signed.includes(i))
        return { ...c, signers: encodeRlePlus(others.length > 0 && signed.length > 1 ? [...signed.slice(1), others[0]!].sort((a, b) => a - b) : signed.slice(1)) }
      })
    case 'a wrong power-table delta':
      return alterSecond(certs, c => ({ ...c, powerTableDelta: [...c.powerTableDelta, { participantId: 1000, powerDelta: 1n << 40n, signingKey: new Uint8Array(0) }] }))
    case 'another network\'s certificates':
      return foreignChain(`${network}-not`)
    case 'a chain signed by keys of its own':
      return foreignChain(network)
    case 'a skipped instance':
      return certs.slice(1)
    case 'a repeated instance':
      return [certs[0]!, ...certs]
    default:
      return certs
  }
}

interface Liar { libp2p: CofferLibp2p, addr: string, stop: () => Promise<void> }

async function startLiar (honest: Devnet, lie: CertLie): Promise<Liar> {
  const network = honest.genesis.state.network
  const libp2p = await createCofferLibp2p({ role: 'client', listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
  const stop = new AbortController()
  setMaxListeners(Infinity, stop.signal)
  // every block of each tipset, as the honest node serves them (the devnet's providers make several a height)
  await serveChainExchange(libp2p, { headerRun: honest.headerRun })
  await serveState(libp2p, async (req) => await answerState(honest.chain, req))
  let served: FinalityCertificate[] = []
  const refresh = async (): Promise<void> => {
    const honestRun = await honestCerts(honest)
    served = lie === 'withholds the latest' ? honestRun.slice(0, Math.max(1, honestRun.length >> 1)) : liedCerts(lie, honestRun, network)
  }
  if (lie === 'truncated answer' || lie === 'junk bytes' || lie === 'oversized answer' || lie === 'never answers' || lie === 'a skipped instance' || lie === 'a repeated instance') {
    // answers no server would write: by hand on the stream
    await libp2p.handle(certExchangeProtocol(network), async (stream: Stream) => {
      try {
        await readAll(stream, 64)
        const send = async (b: Uint8Array): Promise<void> => { if (!stream.send(b)) await stream.onDrain() }
        await refresh()
        const header = encodeCertExchangeHeader(honest.f3!.state().nextInstance, null)
        if (lie === 'truncated answer') {
          const whole = new Uint8Array([...header, ...served.flatMap(c => [...encodeCertificate(c)])])
          await send(whole.slice(0, whole.length - 40))
        } else if (lie === 'junk bytes') await send(Uint8Array.from({ length: 5000 }, (_, i) => (i * 7919) & 0xff))
        else if (lie === 'oversized answer') {
          // a well-formed header, then more than any response may be (1 MiB of table and 16 MiB of certificates)
          await send(header)
          for (let i = 0; i < 72; i++) await send(new Uint8Array(256 * 1024).fill(0x9f))
        } else if (lie === 'never answers') await new Promise(resolve => stop.signal.addEventListener('abort', resolve, { once: true }))
        // the skipped and repeated runs do not start at the asked instance: sent whole, whatever was asked
        else for (const b of [header, ...served.map(encodeCertificate)]) await send(b)
        await stream.close()
      } catch { stream.abort(new Error('liar done')) }
    })
  } else {
    await serveCertExchange(libp2p, network, {
      pendingInstance: () => lie === 'claims certificates it never serves'
        ? honest.f3!.state().nextInstance + 1000
        : (served.length === 0 ? 0 : served[0]!.instance + served.length),
      powerTableFor: async () => null,
      certificates: async function * (first, last) {
        for (const c of served) if (c.instance >= first && c.instance <= last) yield encodeCertificate(c)
      }
    })
    // each request sees the chain as it now stands (with the lie applied); the header's pending instance is read
    // before the certificates, so the run is refreshed as each hello brings the client to ask
    await refresh()
    const timer = setInterval(() => { void refresh() }, 1000)
    stop.signal.addEventListener('abort', () => { clearInterval(timer) }, { once: true })
  }
  await runHello(libp2p, { genesisCid: honest.genesis.header.cid, head: () => honest.head(), onError: () => {}, clockNs: () => BigInt(Date.now()) * 1_000_000n })
  return { libp2p, addr: libp2p.getMultiaddrs()[0]!.toString(), stop: async () => { stop.abort(); await Promise.race([libp2p.stop(), new Promise(resolve => setTimeout(resolve, 3000))]) } }
}

/** What the client stored that the honest chain did not certify: one line per certificate or a wrong finalized tipset. */
async function foreignInStore (honest: Devnet, genesisCid: string): Promise<string[]> {
  const store = await openF3CertStore(genesisCid)
  const out: string[] = []
  try {
    const st = await store.state()
    if (st === null) return out
    for (let i = 0; i < st.nextInstance; i++) {
      const mine = await store.certificate(i)
      const real = await honest.f3!.certificate(i)
      if (mine === null) { out.push(`the state names instance ${i} but the store lacks it`); continue }
      if (real === undefined || !bytesEqual(encodeCertificate(mine), encodeCertificate(real))) out.push(`instance ${i}: a certificate the honest chain did not make`)
    }
    const f = st.finalized
    const ts = f === undefined ? null : await honest.chain.tipSetAt(f.epoch)
    if (f !== undefined && f.epoch > 0 && (ts == null || !bytesEqual(tipSetKeyBytes(ts.key), f.key))) out.push(`finalized tipset at ${f.epoch} is not the honest chain's`)
  } finally {
    store.close()
  }
  return out
}

const bytesEqual = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i])

export async function certLiars (opts: { repeats: number, lies?: CertLie[] }): Promise<Row> {
  const started = performance.now()
  const failures: string[] = []
  const crashes = watchCrashes(failures)
  const dir = await mkdtemp(path.join(tmpdir(), 'coffer-liars-certs-'))
  // a chain with history and certificates when the client first opens (as light-f3.test.ts)
  const PREFILL = 40
  const honest = await startDevnet({
    dataDir: dir, distDir: '/nonexistent', serveApp: false, rpcPort: null, providers: 3, f3: { instanceEpochs: 10, finalityDepth: 2 }, prefill: PREFILL, provingPeriod: 1000, log: () => {}
  })
  const genesisCid = honest.genesis.header.cid.toString()
  let tries = 0
  let accepted = 0
  let lost = 0
  let kept = 0
  try {
    if (!await waitFor(() => (honest.f3!.state().finalized?.epoch ?? 0) >= PREFILL, 180_000)) throw new Error(`the devnet certified only to ${honest.f3!.state().finalized?.epoch ?? 0}`)
    for (let r = 0; r < opts.repeats; r++) {
      for (const lie of opts.lies ?? Object.keys(CERT_LIES) as CertLie[]) {
        tries++
        const t0 = Date.now()
        const before = failures.length
        const liar = await startLiar(honest, lie)
        const liarId = liar.libp2p.peerId.toString()
        // no redial: the liar is the only peer until the honest node is dialled by hand
        const lc = await startLightClient({ bootstrap: { ...honest.bootstrap(), peers: [liar.addr] }, bootstrapSource: 'network', onStatus: () => {}, redialMs: 3_600_000, statusIntervalMs: 50 })
        try {
          const liarNode = (): NodeSummary | undefined => lc.status().nodes.find(n => n.id === liarId)
          if (CERT_LIES[lie].provable === 'hung up') {
            // an answer cut short is no proof (a cut link ends so too): hung up on for it, and not dropped
            const hungUp = await waitFor(() => /ended too soon/.test(lc.status().lastNetworkError ?? '') && lc.status().peers.every(p => p.id !== liarId), 60_000)
            if (!hungUp) { kept++; failures.push(`${lie}: the liar is still connected (last network error: ${lc.status().lastNetworkError ?? 'none'})`) }
            if (liarNode()?.state === 'dropped') failures.push(`${lie}: the liar was dropped for an answer a cut link also gives (${liarNode()?.reason ?? ''})`)
          } else if (CERT_LIES[lie].provable) {
            // dropped by name for the certificates (not for something else it did) and hung up on
            const dropped = await waitFor(() => liarNode()?.state === 'dropped' && lc.status().peers.every(p => p.id !== liarId), 60_000)
            if (!dropped) { kept++; failures.push(`${lie}: the liar is still connected (${liarNode()?.state ?? 'never seen'}; finality ${JSON.stringify(lc.status().finality)}, last network error: ${lc.status().lastNetworkError ?? 'none'})`) }
            else if (!/^CertificateError/.test(liarNode()?.reason ?? '')) failures.push(`${lie}: the liar was dropped, but for ${liarNode()?.reason ?? 'no reason'}`)
          } else {
            // one pass over the liar has ended (it answered, or the exchange's deadline passed) and header sync went on
            await waitFor(() => lc.status().verifiedHeight > 0 && (lie === 'never answers' || (lc.status().finality?.knownInstances ?? 0) > 0), 40_000)
          }
          const t1 = Date.now()
          const foreign = await foreignInStore(honest, genesisCid)
          if (foreign.length > 0) { accepted++; failures.push(`${lie}: ${foreign.join('; ')}`) }
          // the honest node: the client reaches its finalized instance (as it stood when dialled) on the honest tipset
          const target = honest.f3!.state().nextInstance - 1
          await lc.libp2p.dial(multiaddr(honest.bootstrap().peers[0]!))
          const reached = await waitFor(() => (lc.status().finality?.instance ?? -1) >= target, 60_000)
          const after = await foreignInStore(honest, genesisCid)
          if (after.length > 0 && foreign.length === 0) { accepted++; failures.push(`${lie} (after the honest node): ${after.join('; ')}`) }
          if (!reached) { lost++; failures.push(`${lie}: with the honest node the client reached instance ${lc.status().finality?.instance ?? -1} of ${target} (last rejection: ${lc.status().lastRejection?.message ?? 'none'}, network: ${lc.status().lastNetworkError ?? 'none'})`) }
          console.log(`  ${lie}: ${failures.length === before ? 'refused' : 'FAILED'} in ${((Date.now() - t0) / 1000).toFixed(1)} s (${((t1 - t0) / 1000).toFixed(1)} s with the liar alone)`)
        } finally {
          await lc.stop()
          await liar.stop()
          indexedDB.deleteDatabase(chainDbName(genesisCid))
          indexedDB.deleteDatabase(f3DbName(genesisCid))
        }
      }
    }
  } finally {
    await honest.stop()
    await rm(dir, { recursive: true, force: true })
    crashes.stop()
  }
  return { scenario: 'liars: finality certificates (exchange)', tries, acceptedLies: accepted, crashes: crashes.count(), dataLost: lost, liarsKept: kept, ms: performance.now() - started, failures }
}
