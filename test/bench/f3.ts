// F3 finality certificates (issue 14's figures), in Node, both BLS verifiers in one run with noble's as the reference:
//   1. one real certificate: Filecoin mainnet's instances 1–9 against their 1,560-participant power table (keys
//      decoded and cached, as a syncing tab has them after the first)
//   2. a synthetic certificate chain for BENCH_F3_EPOCHS (100,000) epochs at the devnet's schedule (an instance per
//      20 epochs: 5,000 certificates, three participants, two tipsets each, no power change) and at an instance per
//      100 epochs (1,000): the bytes a tab downloads for it over the certificate exchange, and the time to check it,
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
  DEFAULT_F3_PARAMS, type BdnVerifier, type FinalityCertificate, type FinalityState, type LotusCertificateJson, type LotusPowerEntryJson, type PowerEntry, type F3TipSet
} from '../../src/core'
import { encodeCertExchangeHeader } from '../../src/net'
import { mclBdnVerifier } from '../../src/light/mcl-bdn-verifier'

const here = path.dirname(fileURLToPath(import.meta.url))
const fixture = (name: string): unknown => JSON.parse(readFileSync(path.join(here, '..', 'fixtures', name), 'utf8'))
const fmt = (n: number, digits = 1): string => n.toFixed(digits)

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

  // 2. a 100,000-epoch chain at the devnet's schedule, and at an instance per 100 epochs
  const epochs = Number(process.env.BENCH_F3_EPOCHS ?? 100_000)
  const secrets = [1, 2, 3].map(i => bls12_381.utils.randomSecretKey(Uint8Array.from({ length: 48 }, (_, j) => (i * 17 + j) % 251 + 1)))
  const participants: PowerEntry[] = sortPowerTable(secrets.map((sk, i) => ({ id: 1001 + i, power: 32n << 30n, pubKey: blsPublicKey(sk) })))
  const secretOf = (id: number): Uint8Array => secrets[id - 1001]!
  const pt = powerTableCid(participants)
  const tipset = (epoch: number): F3TipSet => ({ epoch, key: tipSetKeyBytes([chainCid(Uint8Array.of(epoch & 0xff, (epoch >> 8) & 0xff, epoch >> 16))]), powerTable: pt, commitments: new Uint8Array(32) })
  const network = 'coffer-bench'
  const chainFor = (every: number): FinalityCertificate[] => {
    const chain: FinalityCertificate[] = []
    let base = tipset(0)
    for (let i = 0; (i + 1) * every <= epochs; i++) {
      const head = tipset((i + 1) * every)
      const p = { network, instance: i, ecChain: [base, head], powerTable: participants, nextPowerTable: participants }
      const payload = proposalSigningPayload(p)
      // two of three sign: a strong quorum, as on the devnet when one provider is late
      chain.push(assembleCertificate(p, new Map([0, 1].map(j => [j, f3Sign(secretOf(participants[j]!.id), payload)]))))
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
  for (const every of [DEFAULT_F3_PARAMS.instanceEpochs, 100]) {
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
  }
}
