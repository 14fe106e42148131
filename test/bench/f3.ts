// F3 finality certificates (issue 14's figures), in Node, both BLS verifiers in one run with noble's as the reference:
//   1. one real certificate: Filecoin mainnet's instances 1–9 against their 1,560-participant power table (keys
//      decoded and cached, as a syncing tab has them after the first)
//   2. a synthetic certificate chain for BENCH_F3_EPOCHS (100,000) epochs at the devnet's schedule (an instance per
//      100 epochs: 1,000 certificates, three participants, two tipsets each, no power change) and at an instance per
//      20 epochs (5,000): the bytes a tab downloads for it over the certificate exchange, and the time to check it,
//      one at a time and in the tab's batches of 32 — mcl-wasm batched on the whole chain, the others on a sample
//      (noble: BENCH_F3_NOBLE_SAMPLE, 128; mcl one at a time: 1,000) at the same per-certificate rate
// The tab's own cold sync (certificates, the jump, the headers after it) is timed in Chromium by the browser test's
// Finalized card (checked-in-ms figure); a 100,000-epoch devnet chain to sync against is not built here.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { bls12_381 } from '@noble/curves/bls12-381.js'
import {
  certificateFromLotusJson, validateFinalityCertificate, validateFinalityCertificates, validateFinalityCertificateBatch, powerTableFromLotusJson, NobleBdnVerifier,
  assembleCertificate, proposalSigningPayload, f3Sign, tipSetKeyBytes, powerTableCid, chainCid, sortPowerTable, blsPublicKey, encodeCertificate,
  DEFAULT_F3_PARAMS, decodeCertificate, prepareCertificateChecks, type AggregateCheck, type BdnVerifier, type FinalityCertificate, type FinalityState, type LotusCertificateJson, type LotusPowerEntryJson, type PowerEntry, type F3TipSet
} from '../../src/core'
import { encodeCertExchangeHeader } from '../../src/net'
import { mclBdnVerifier } from '../../src/core/finality/mcl-bls'
import { createGenesis, idAddressBytes, f3TipSetOf, encodePowerTable } from '../../src/core'
import { startAppServer } from '../../src/node/app-server'
import { launchChromium } from '../helpers/chromium'
import { requireBuiltApp } from '../helpers/dist'
import { TEST_BEACON } from '../helpers/test-beacon'
import { readdirSync } from 'node:fs'

const here = path.dirname(fileURLToPath(import.meta.url))
const fixture = (name: string): unknown => JSON.parse(readFileSync(path.join(here, '..', 'fixtures', name), 'utf8'))
const fmt = (n: number, digits = 1): string => n.toFixed(digits)

/** BLS signing by mcl-wasm (set to Filecoin's scheme by mclBdnVerifier): noble would take minutes to sign the chains. */
async function mclSigner (): Promise<(secretKey: Uint8Array, payload: Uint8Array) => Uint8Array> {
  await mclBdnVerifier()
  const mcl = await import('mcl-wasm') as unknown as typeof import('mcl-wasm') & { default?: typeof import('mcl-wasm') }
  const m = (mcl as { init?: unknown }).init === undefined && mcl.default !== undefined ? mcl.default : mcl
  const sign = (secretKey: Uint8Array, payload: Uint8Array): Uint8Array => { const f = new m.Fr(); f.setBigEndianMod(secretKey); return m.mul(m.hashAndMapToG2(payload), f).serialize() }
  // the same bytes as Coffer's own signing (noble), or the figures would be of something else
  const sk = bls12_381.utils.randomSecretKey()
  if (Buffer.compare(sign(sk, Uint8Array.of(1, 2, 3)), f3Sign(sk, Uint8Array.of(1, 2, 3))) !== 0) throw new Error('mcl-wasm signs differently from noble')
  return sign
}

export async function benchF3 (): Promise<void> {
  const mcl = await mclBdnVerifier()
  const noble = new NobleBdnVerifier()
  const verifiers: BdnVerifier[] = [noble, mcl]

  // 1. one mainnet certificate
  const table = powerTableFromLotusJson(fixture('f3-initial-power-table-filecoin.json') as LotusPowerEntryJson[])
  const certs = (fixture('f3-mainnet-certificates-0-9.json') as LotusCertificateJson[]).map(certificateFromLotusJson)
  console.log('\nF3 certificates (Node), one Filecoin mainnet certificate against 1,560 participants (instances 1–9, keys cached)')
  const perCert = new Map<string, number>()
  for (const v of verifiers) {
    const start: FinalityState = { network: 'filecoin', nextInstance: 0, powerTable: table }
    const s1 = validateFinalityCertificate(start, certs[0]!, { verifier: v }) // decodes and caches every signer's key
    const t = performance.now()
    validateFinalityCertificates(s1, certs.slice(1, 9), { verifier: v })
    perCert.set(v.name, (performance.now() - t) / 8)
  }
  const ref = perCert.get('noble')!
  for (const [name, ms] of perCert) console.log(`  ${name.padEnd(9)} ${fmt(ms)} ms a certificate = ${fmt(ref / ms, 2)}x noble's`)

  // 2. a 100,000-epoch chain at the devnet's schedule, and at an instance per 20 epochs
  const epochs = Number(process.env.BENCH_F3_EPOCHS ?? 100_000)
  const secrets = [1, 2, 3].map(i => bls12_381.utils.randomSecretKey(Uint8Array.from({ length: 48 }, (_, j) => (i * 17 + j) % 251 + 1)))
  const participants: PowerEntry[] = sortPowerTable(secrets.map((sk, i) => ({ id: 1001 + i, power: 32n << 30n, pubKey: blsPublicKey(sk) })))
  const secretOf = (id: number): Uint8Array => secrets[id - 1001]!
  const pt = powerTableCid(participants)
  const tipset = (epoch: number): F3TipSet => ({ epoch, key: tipSetKeyBytes([chainCid(Uint8Array.of(epoch & 0xff, (epoch >> 8) & 0xff, epoch >> 16))]), powerTable: pt, commitments: new Uint8Array(32) })
  const network = 'coffer-bench'
  const sign = await mclSigner()
  const chainFor = (every: number): FinalityCertificate[] => {
    const chain: FinalityCertificate[] = []
    let base = tipset(0)
    for (let i = 0; (i + 1) * every <= epochs; i++) {
      const head = tipset((i + 1) * every)
      const p = { network, instance: i, ecChain: [base, head], powerTable: participants, nextPowerTable: participants }
      const payload = proposalSigningPayload(p)
      // two of three sign: a strong quorum, as on the devnet when one provider is late
      chain.push(assembleCertificate(p, new Map([0, 1].map(j => [j, sign(secretOf(participants[j]!.id), payload)]))))
      base = head
    }
    return chain
  }
  const genesisState: FinalityState = { network, nextInstance: 0, powerTable: participants, finalized: tipset(0) }
  const randomWeights = (n: number): bigint[] => Array.from(crypto.getRandomValues(new BigUint64Array(n)), r => r | 1n)
  /** ms a certificate, checking `certs` in batches of 32 as the tab does (F3Sync's CHECK_BATCH), or one at a time. */
  const rate = (v: BdnVerifier, certs: readonly FinalityCertificate[], batched: boolean): number => {
    const t = performance.now()
    let s = genesisState
    if (batched) {
      for (let at = 0; at < certs.length; at += 32) {
        const got = validateFinalityCertificateBatch(s, certs.slice(at, at + 32), v, randomWeights)
        if (got.error !== null) throw got.error
        s = got.state
      }
    } else s = validateFinalityCertificates(s, certs, { verifier: v })
    if (s.nextInstance !== certs.length) throw new Error('the chain did not verify')
    return (performance.now() - t) / certs.length
  }
  const sample = Number(process.env.BENCH_F3_NOBLE_SAMPLE ?? 128)
  // the devnet's default (100) and the 20 it had before: what the interval costs a new tab
  for (const every of [20, DEFAULT_F3_PARAMS.instanceEpochs]) {
    const t0 = performance.now()
    const chain = chainFor(every)
    const makeMs = performance.now() - t0
    const certBytes = chain.reduce((n, c) => n + encodeCertificate(c).length, 0)
    // what the exchange sends: a header per 256 certificates, then the certificates
    const headers = Math.ceil(chain.length / 256) * encodeCertExchangeHeader(chain.length, null).length
    console.log(`\nF3 certificate chain for ${epochs.toLocaleString('en')} epochs at an instance per ${every}${every === DEFAULT_F3_PARAMS.instanceEpochs ? ' (the devnet\'s default)' : ''}: ${chain.length.toLocaleString('en')} certificates (made in ${fmt(makeMs / 1000)} s)`)
    console.log(`  downloaded: ${fmt((certBytes + headers) / 1024)} KiB (${fmt(certBytes / chain.length, 0)} bytes a certificate; goal ≤ 2 MB)`)
    const head = chain.slice(0, Math.min(chain.length, sample))
    const nobleOne = rate(noble, head, false)
    const nobleBatch = rate(noble, head, true)
    const mclOne = rate(mcl, chain.slice(0, Math.min(chain.length, 1000)), false)
    const mclBatch = rate(mcl, chain, true)
    const whole = (ms: number): string => `${fmt(ms * chain.length / 1000)} s for the chain`
    console.log(`  noble, one at a time:    ${fmt(nobleOne, 2)} ms a certificate (over ${head.length}) → ${whole(nobleOne)} (the reference)`)
    console.log(`  noble, batches of 32:    ${fmt(nobleBatch, 2)} ms a certificate (over ${head.length}) → ${whole(nobleBatch)} = ${fmt(nobleOne / nobleBatch, 2)}x`)
    console.log(`  mcl-wasm, one at a time: ${fmt(mclOne, 2)} ms a certificate → ${whole(mclOne)} = ${fmt(nobleOne / mclOne, 2)}x`)
    console.log(`  mcl-wasm, batches of 32: ${fmt(mclBatch, 2)} ms a certificate, the whole chain checked → ${whole(mclBatch)} = ${fmt(nobleOne / mclBatch, 2)}x (goal ≤ 5 s for a 100,000-epoch cold sync)`)
    if (every === DEFAULT_F3_PARAMS.instanceEpochs) console.log(await whereTheCheckGoes(chain, genesisState, mclBatch))
  }
}

/**
 * One certificate's check in mcl-wasm's batches, in parts, each timed over the whole chain (issue 14: "profile a
 * certificate batch"): decoding, go-f3's rules before the signature (the payload, the power table's CID), the
 * signature's decoding with its subgroup check, hashing the payload to G2, and the rest of the batch (multi-scalar
 * sums, Miller loops, one final exponentiation), as µs a certificate and shares of the batched rate measured above.
 */
async function whereTheCheckGoes (chain: readonly FinalityCertificate[], start: FinalityState, batchMsPerCert: number): Promise<string> {
  const mcl = await import('mcl-wasm') as unknown as typeof import('mcl-wasm') & { default?: typeof import('mcl-wasm') }
  const m = (mcl as { init?: unknown }).init === undefined && mcl.default !== undefined ? mcl.default : mcl
  const encoded = chain.map(encodeCertificate)
  const time = (fn: () => void): number => { const t = performance.now(); fn(); return (performance.now() - t) * 1000 / chain.length }
  let certs: FinalityCertificate[] = []
  const decodeUs = time(() => { certs = encoded.map(decodeCertificate) })
  let checks: readonly AggregateCheck[] = []
  const rulesUs = time(() => { checks = prepareCertificateChecks(start, certs).checks })
  const sigUs = time(() => { for (const c of certs) new m.G2().deserialize(c.signature) })
  m.verifyOrderG2(false)
  const sigNoCheckUs = time(() => { for (const c of certs) new m.G2().deserialize(c.signature) })
  m.verifyOrderG2(true)
  const hashUs = time(() => { for (const c of checks) m.hashAndMapToG2(c.message) })
  const rest = batchMsPerCert * 1000 - rulesUs - sigUs - hashUs
  const share = (us: number): string => `${fmt(us, 0)} µs (${fmt(100 * us / (batchMsPerCert * 1000), 0)}%)`
  return `  where a batched certificate's ${fmt(batchMsPerCert * 1000, 0)} µs go (mcl-wasm, each part timed over the chain): go-f3's rules before the signature ${share(rulesUs)}, ` +
    `the signature decoded with its subgroup check ${share(sigUs)} (of it the check ${fmt(sigUs - sigNoCheckUs, 0)} µs), the payload hashed to G2 ${share(hashUs)}, ` +
    `the rest (multi-scalar sums, Miller loops, final exponentiation) ${share(rest)}; decoding the certificate, before all this, ${fmt(decodeUs, 0)} µs`
}

/**
 * The tab's certificate sync in Chromium (section f3-browser): F3Sync in the light-client worker, from an empty store
 * to the last of the certificates of a 100,000-epoch chain at the devnet's default schedule (1,000), each exchange
 * response decoded, checked in batches by mcl-wasm and stored in IndexedDB; noble one at a time in the same worker is
 * the reference. The responses are handed to the worker as bytes (the network is timed by other sections); the
 * certificates are signed here by mcl-wasm (noble would take a minute to make them).
 */
export async function benchF3Browser (epochs = Number(process.env.BENCH_F3_EPOCHS ?? 100_000)): Promise<void> {
  const distDir = requireBuiltApp()
  const worker = readdirSync(path.join(distDir, 'assets')).find(f => /^light-client\.worker.*\.js$/.test(f))
  if (worker === undefined) throw new Error('no light-client worker in dist/assets')
  const signWith = await mclSigner()
  const secrets = [1, 2, 3].map(i => bls12_381.utils.randomSecretKey(Uint8Array.from({ length: 48 }, (_, j) => (i * 13 + j) % 251 + 1)))
  const table: PowerEntry[] = sortPowerTable(secrets.map((sk, i) => ({ id: 2001 + i, power: 32n << 30n, pubKey: blsPublicKey(sk) })))
  const sign = (id: number, payload: Uint8Array): Uint8Array => signWith(secrets[id - 2001]!, payload)
  const network = 'coffer-bench-browser'
  const genesis = createGenesis({ beacon: TEST_BEACON, network, producer: idAddressBytes(1000), producerKey: blsPublicKey(secrets[0]!), blockDelaySecs: 1 }, 1_800_000_000)
  const pt = powerTableCid(table)
  const every = DEFAULT_F3_PARAMS.instanceEpochs
  const tipset = (epoch: number): F3TipSet => epoch === 0
    ? f3TipSetOf({ key: [genesis.header.cid], height: 0 }, pt)
    : { epoch, key: tipSetKeyBytes([chainCid(Uint8Array.of(epoch & 0xff, (epoch >> 8) & 0xff, epoch >> 16, 7))]), powerTable: pt, commitments: new Uint8Array(32) }
  const t0 = performance.now()
  const certs: Uint8Array[] = []
  let base = tipset(0)
  for (let i = 0; (i + 1) * every <= epochs; i++) {
    const head = tipset((i + 1) * every)
    const p = { network, instance: i, ecChain: [base, head], powerTable: table, nextPowerTable: table }
    const payload = proposalSigningPayload(p)
    certs.push(encodeCertificate(assembleCertificate(p, new Map([0, 1].map(j => [j, sign(table[j]!.id, payload)])))))
    base = head
  }
  const responses: Uint8Array[] = []
  for (let at = 0; at < certs.length; at += 256) {
    const parts = [encodeCertExchangeHeader(certs.length, null), ...certs.slice(at, at + 256)]
    const out = new Uint8Array(parts.reduce((n, b) => n + b.length, 0))
    let o = 0
    for (const b of parts) { out.set(b, o); o += b.length }
    responses.push(out)
  }
  console.log(`\nF3 certificate sync in Chromium's light-client worker: ${certs.length.toLocaleString('en')} certificates for ${epochs.toLocaleString('en')} epochs at an instance per ${every} (made in ${fmt((performance.now() - t0) / 1000)} s)`)
  const server = await startAppServer({ distDir, host: '127.0.0.1', port: 0, bootstrap: () => { throw new Error('no chain in this bench') } })
  const browser = await launchChromium()
  try {
    const page = await browser.context.newPage()
    await page.goto(`${server.url}/assets/${worker}`) // an origin for the worker, without starting the app
    type Figures = { certificates: number, bytes: number, loadMs: number, syncMs: number, verifier: string, nobleMsPerCertificate: number }
    // bytes cross into the page as base64 (playwright passes no Uint8Array), and to the worker as bytes
    const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64')
    const f: Figures = await page.evaluate(async ({ url, raw }) => await new Promise<Figures>((resolve, reject) => {
      // (no named function here: tsx would wrap it in a helper the page does not have)
      const [genesisBytes, tableBytes, ...responseBytes] = [raw.genesis, raw.powerTable, ...raw.responses].map(s => Uint8Array.from(atob(s), c => c.charCodeAt(0)))
      const params = { network: raw.network, genesis: genesisBytes, powerTable: tableBytes, responses: responseBytes, nobleSample: raw.nobleSample }
      const w = new Worker(url, { type: 'module' })
      w.onmessage = (e: MessageEvent<{ type: string, ok?: boolean, value?: unknown, error?: unknown }>) => { if (e.data.type === 'reply') { w.terminate(); e.data.ok === true ? resolve(e.data.value as Figures) : reject(new Error(JSON.stringify(e.data.error))) } }
      w.postMessage({ type: 'call', id: 1, method: 'measureCertificateSync', params })
    }), { url: `/assets/${worker}`, raw: { network, genesis: b64(genesis.header.bytes), powerTable: b64(encodePowerTable(table)), responses: responses.map(b64), nobleSample: 32 } })
    if (f.certificates !== certs.length) throw new Error(`the worker accepted ${f.certificates} of ${certs.length} certificates`)
    const perCert = f.syncMs / f.certificates
    console.log(`  downloaded: ${fmt(f.bytes / 1024)} KiB (goal ≤ 2 MB)`)
    console.log(`  ${f.verifier} set-up: ${fmt(f.loadMs, 0)} ms (once per worker)`)
    console.log(`  F3Sync, empty store → last certificate stored: ${fmt(f.syncMs / 1000, 2)} s (${fmt(perCert, 2)} ms a certificate) = ${fmt(f.nobleMsPerCertificate / perCert, 2)}x noble one at a time (${fmt(f.nobleMsPerCertificate, 2)} ms a certificate, over 32, same worker)`)
    console.log(`  cold sync of certificates with the set-up: ${fmt((f.syncMs + f.loadMs) / 1000, 2)} s (goal ≤ 5 s for the whole cold sync; the jump and the headers after it: sections ec-browser and the f3-finality browser test)`)
  } finally {
    await browser.close()
    await server.close()
  }
}
