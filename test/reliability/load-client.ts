// One client of the load run (issue 16 part 5), in a process of its own: a Node light client (the tab's light node:
// verified headers and state, the same storage client, retrieval session and audits) that uploads, retrieves and
// audits continuously until load.ts closes its stdin (or its cap passes), then retrieves every file it stored once more. It takes nothing on a
// node's word: deals are followed in verified state, retrieved bytes are verified block by block and compared with
// what it uploaded, audits are checked against the piece CID. It prints one JSON line per event (`LOAD {…}`) for
// load.ts to count, and its own memory every 10 s.
import '../../src/net/polyfills'
import 'fake-indexeddb/auto'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { peerIdFromString } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import {
  pieceDigest, pieceCidV1, signDealProposal, signVoucher, verifyAuditProof, addressToString, parseAddress, type AttoFil, type MinerInfo
} from '../../src/core'
import { requestAudit, type BootstrapDocument, type BootstrapProvider } from '../../src/net'
import { startLightClient, lightDealChain, StorageClient, PaychClient, memoryPaychStore, type WalletService, type RetrievalPayer } from '../../src/light'
import { retrieveFile, newDownloadState, type RetrievalProvider } from '../../src/light/retrieval-session'
import { providerOf, describeFailure } from '../../src/light/provider-directory'
import { rpcClient, rpcPaychChain } from '../../src/node/retrieve-cli'
import { unixfsCar } from '../helpers/unixfs-file'

export interface LoadClientConfig {
  index: number
  bootstrap: BootstrapDocument
  rpcUrl: string
  /** Hex of the client's secp256k1 key (funded, with market escrow, by load.ts). */
  secret: string
  address: string
  /** Every provider the client may store with (the joined one is not in the document). */
  providers: BootstrapProvider[]
  /** The longest it runs if load.ts never says stop (by closing the client's stdin). */
  runMs: number
  /** Deal length, in proving periods (past the run's end). */
  periods: number
}

export type LoadEvent =
  | { t: 'deal', ms: number, provider: string, dealId: number, bytes: number }
  | { t: 'deal-failed', provider: string, error: string }
  | { t: 'paych-call', kind: 'read' | 'wait' | 'send', ms: number }
  | { t: 'retrieve', ms: number, locateMs: number, payMs: number, provider: string, bytes: number, final: boolean, attempts: number }
  | { t: 'retrieve-retry', root: string, error: string, verifiedOffset: number }
  | { t: 'retrieve-failed', root: string, providers: string[], error: string, final: boolean, ms: number, locateMs: number, payMs: number, attempts: number }
  | { t: 'wrong-bytes', root: string, provider: string }
  | { t: 'audit', ms: number, provider: string, dealId: number, ok: boolean, reason: string | null }
  | { t: 'rss', mib: number }
  | { t: 'files', files: Array<{ root: string, deals: Array<{ dealId: number, provider: string }> }> }

const emit = (e: LoadEvent): void => { console.log(`LOAD ${JSON.stringify(e)}`) }
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }
/** `f`, reporting how long each call took (settled or not) to `took`. */
const timed = <A extends unknown[], R>(f: (...a: A) => Promise<R>, took: (ms: number) => void) => async (...a: A): Promise<R> => {
  const t = performance.now()
  try { return await f(...a) } finally { took(performance.now() - t) }
}

/** Tries of each file in the final sweep before it counts as lost. */
const FINAL_ATTEMPTS = 4
/** Rounds of asking a file's providers for a quote in the final sweep while none answers (10 s apart). */
const LOCATE_TRIES = 12

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'))

interface Stored { root: CID, bytes: Uint8Array, paddedBytes: number, pieceCid: CID, deals: Array<{ dealId: number, provider: string }> }


async function main (c: LoadClientConfig): Promise<void> {
  const secret = hex(c.secret)
  const address = parseAddress(c.address).bytes
  const rss = setInterval(() => { emit({ t: 'rss', mib: Math.round(process.memoryUsage().rss / 2 ** 20) }) }, 10_000)
  const lc = await startLightClient({ bootstrap: c.bootstrap, bootstrapSource: 'network', onStatus: () => {}, statusIntervalMs: 1000 })
  for (let i = 0; i < 600 && lc.status().verifiedHeight < 1; i++) await sleep(100)
  // the client sends no message through the light client: its escrow was funded by load.ts, its channels go through the RPC
  const chain = lightDealChain(lc, undefined as unknown as WalletService, address)
  const sc = new StorageClient(lc.dialer, chain, { address, sign: async (p) => signDealProposal(secret, p) })
  const key = { secret, address }
  const rpc = rpcClient(c.rpcUrl)
  const rpcChain = rpcPaychChain(rpc, key)
  // each of the payer's chain calls timed (a verified channel read; a message's wait, push included): where a paid
  // retrieval's time goes
  const timedCall = <A extends unknown[], R>(kind: 'read' | 'wait' | 'send', f: (...a: A) => Promise<R>) => timed(f, (ms) => { emit({ t: 'paych-call', kind, ms }) })
  // channels read as the tab reads them (a state proof from a node over libp2p, checked against the verified head);
  // messages sent and waited for through the node's RPC, as the CLI does (this client holds its key, not a wallet)
  const paychChain = { ...rpcChain, channel: timedCall('read', async (a: Uint8Array) => (await lc.state.channel(a)).value), waitFor: timedCall('wait', rpcChain.waitFor), send: timedCall('send', rpcChain.send) }
  await paychChain.head()
  // one ask at a time: at c153191 the RPC slowed under load and this poll, unguarded, piled up ChainHead calls (each an
  // HTTP connection: ~100 per client, the node's accept queue full), which slowed every StateWaitMsg behind them
  let asking = false
  setInterval(() => {
    if (asking) return
    asking = true
    void paychChain.head().catch(() => {}).finally(() => { asking = false })
  }, 2000).unref()
  const payer = new PaychClient({ chain: paychChain, store: memoryPaychStore(), signer: { address, sign: async (v) => signVoucher(secret, address, v) } })
  const stored: Stored[] = []
  /**
   * Where a provider is now, as the tab finds it (provider-directory.ts): its verified MinerInfo's peer ID and
   * multiaddrs, the bootstrap document only a hint. A provider started again on a new port records it on chain.
   */
  const located = async (addressText: string): Promise<{ provider: BootstrapProvider, info: MinerInfo | null }> => {
    const info = await chain.miner(parseAddress(addressText).bytes).catch(() => null)
    const found = info === null ? null : providerOf(addressText, info, c.providers)
    return { provider: found?.provider ?? c.providers.find(p => p.address === addressText)!, info }
  }
  const current = async (addressText: string): Promise<BootstrapProvider> => (await located(addressText)).provider

  const target = async (addressText: string): Promise<RetrievalProvider | null> => {
    const { provider: p, info } = await located(addressText)
    const { quotes } = await sc.quotes([p], AbortSignal.timeout(30_000))
    const q = quotes[0]
    if (q === undefined || info === null) return null
    return {
      address: addressText, peerId: p.peerId, addrs: p.addrs, worker: info.worker,
      terms: { pricePerGiB: q.ask.retrievalPricePerGiB as AttoFil, paymentInterval: q.ask.paymentInterval, paymentIntervalIncrease: q.ask.paymentIntervalIncrease }
    }
  }

  const upload = async (): Promise<void> => {
    const bytes = new Uint8Array(randomBytes(64 * 1024 + Math.floor(Math.random() * 192 * 1024)))
    const { car, root } = await unixfsCar(bytes)
    const digest = pieceDigest(car)
    const pieceCid = pieceCidV1(digest.root)
    // two copies with two providers picked at random (the faulty ones included: a user cannot tell them apart)
    const shuffled = [...c.providers].sort(() => Math.random() - 0.5)
    const file: Stored = { root, bytes, paddedBytes: digest.paddedBytes, pieceCid, deals: [] }
    for (const listed of shuffled) {
      if (file.deals.length === 2) break
      const p = await current(listed.address)
      const t0 = performance.now()
      try {
        const { quotes, failures } = await sc.quotes([p], AbortSignal.timeout(30_000))
        if (quotes.length === 0) throw failures[0]?.error ?? new Error('no quote')
        const plan = sc.plan(quotes, { pieceCid, paddedBytes: digest.paddedBytes, payloadBytes: car.length, label: root.toString(), copies: 1, periods: c.periods })
        const proposal = plan.proposals[0]
        if (proposal === undefined) throw new Error('no plan')
        const r = await sc.store(p, await sc.sign(proposal.proposal), car.length, async function * (offset) { yield car.subarray(offset) }, { signal: AbortSignal.timeout(180_000) })
        if (!r.confirmed) {
          const end = Date.now() + 120_000
          while (Date.now() < end && await chain.deal(r.dealId) === null) await sleep(500)
          if (await chain.deal(r.dealId) === null) throw new Error(`deal ${r.dealId} never showed in verified state`)
        }
        file.deals.push({ dealId: r.dealId, provider: p.address })
        emit({ t: 'deal', ms: performance.now() - t0, provider: p.address, dealId: r.dealId, bytes: bytes.length })
      } catch (err) {
        emit({ t: 'deal-failed', provider: p.address, error: describeFailure(err).slice(0, 300) })
      }
    }
    if (file.deals.length > 0) stored.push(file)
  }

  /** The payer, timing its calls for one retrieval: how much of a retrieval's time was the chain's (channel messages, reads). */
  const timedPayer = (spent: { ms: number }): RetrievalPayer => {
    const add = (ms: number): void => { spent.ms += ms }
    return { prepare: timed(payer.prepare.bind(payer), add), lanePaid: timed(payer.lanePaid.bind(payer), add), voucher: timed(payer.voucher.bind(payer), add) }
  }

  /**
   * One retrieval of `file`, as a user's download runs: its state kept between attempts, so an attempt cut short
   * (a 180 s cap, a provider killed or too loaded to answer) resumes where it stopped and pays nothing twice.
   * `attempts` > 1 for the final sweep: a file counts as lost only when every attempt failed, not when a loaded
   * machine made one slow.
   */
  const retrieve = async (file: Stored, final: boolean, attempts = 1): Promise<void> => {
    const state = newDownloadState(file.root)
    const out = new Uint8Array(file.bytes.length)
    let wrong = false
    const sink = {
      write: async (offset: number, b: Uint8Array) => {
        if (offset + b.length > out.length || b.some((x, i) => x !== file.bytes[offset + i])) wrong = true
        else out.set(b, offset)
      }
    }
    const started = performance.now()
    let unreached = 0
    for (let attempt = 1; ; attempt++) {
      const tLocate = performance.now()
      const providers = (await Promise.all(file.deals.map(async d => await target(d.provider).catch(() => null)))).filter((t): t is RetrievalProvider => t !== null)
      const locateMs = performance.now() - tLocate
      // no provider answered for a quote (a loaded machine times the handshake out): that says nothing of the file,
      // and is not one of its tries; asked again, for up to LOCATE_TRIES rounds
      if (providers.length === 0 && unreached < LOCATE_TRIES && attempts > 1) {
        unreached++
        attempt--
        emit({ t: 'retrieve-retry', root: file.root.toString(), error: 'no provider answered for a quote', verifiedOffset: state.verifiedOffset })
        await sleep(10_000)
        continue
      }
      const paying = { ms: 0 }
      const t0 = performance.now()
      try {
        const r = await retrieveFile({
          libp2p: lc.dialer, root: file.root, providers, payer: timedPayer(paying), state, saveState: async () => {}, idleTimeoutMs: 20_000,
          // an attempt that has not ended in this long is cut (and resumed, when another is allowed), not waited on for ever
          signal: AbortSignal.timeout(180_000),
          sink
        })
        if (wrong || state.verifiedOffset !== file.bytes.length || Buffer.compare(out, file.bytes) !== 0) emit({ t: 'wrong-bytes', root: file.root.toString(), provider: r.provider })
        else emit({ t: 'retrieve', ms: performance.now() - (attempt === 1 ? t0 : started), locateMs, payMs: paying.ms, provider: r.provider, bytes: file.bytes.length, final, attempts: attempt })
        return
      } catch (err) {
        const error = describeFailure(err).slice(0, 300)
        if (attempt >= attempts) {
          emit({ t: 'retrieve-failed', root: file.root.toString(), providers: file.deals.map(d => d.provider), error, final, ms: performance.now() - t0, locateMs, payMs: paying.ms, attempts: attempt })
          return
        }
        emit({ t: 'retrieve-retry', root: file.root.toString(), error, verifiedOffset: state.verifiedOffset })
        await sleep(5000)
      }
    }
  }

  const audit = async (file: Stored): Promise<void> => {
    const d = file.deals[Math.floor(Math.random() * file.deals.length)]!
    const p = await current(d.provider)
    const rec = await chain.deal(d.dealId).catch(() => null)
    // audits are of deals the chain shows started (a provider proves, and may be audited, from the start epoch)
    if (rec === null || rec.proposal.startEpoch > chain.headHeight()) return
    const leaves = Array.from({ length: 8 }, () => Math.floor(Math.random() * (file.paddedBytes / 32)))
    const nonce = new Uint8Array(randomBytes(16))
    const t0 = performance.now()
    let reason: string | null = null
    try {
      const reply = await requestAudit(lc.dialer, peerIdFromString(p.peerId), { dealId: d.dealId, pieceCid: file.pieceCid, leaves, nonce }, { deadlineMs: 20_000 })
      if (reply.kind === 'rejected') reason = `rejected ${reply.code}: ${reply.message}`
      else if (!reply.nonce.every((b, i) => b === nonce[i])) reason = 'the answer names another nonce'
      else {
        try { verifyAuditProof(file.pieceCid, file.paddedBytes, leaves, reply.proof) } catch (err) { reason = `the proof does not verify: ${(err as Error).message}` }
      }
    } catch (err) { reason = describeFailure(err) }
    emit({ t: 'audit', ms: performance.now() - t0, provider: d.provider, dealId: d.dealId, ok: reason === null, reason: reason?.slice(0, 200) ?? null })
  }

  // load.ts decides when the run has done enough (a time, and every kind of fault injected): not a clock here,
  // which on a slow machine would end the run before the faults it must count
  const deadline = Date.now() + c.runMs
  let stopped = false
  process.stdin.on('end', () => { stopped = true }).on('error', () => { stopped = true }).resume()
  // a phase offset per client, so the ten do not all upload at the same moment
  await sleep(c.index * 1500)
  while (!stopped && Date.now() < deadline) {
    await upload()
    const ready = stored.filter(f => f.deals.length > 0)
    if (ready.length > 0) await retrieve(ready[Math.floor(Math.random() * ready.length)]!, false)
    if (ready.length > 0) await audit(ready[Math.floor(Math.random() * ready.length)]!)
  }
  // every file once more (up to FINAL_ATTEMPTS tries, each resuming the last): one the user stored and cannot get back from any of its providers is lost
  // four at a time: a paid retrieval mostly waits on its channel's messages, and a long run's sweep of fifty-odd
  // files one by one outlasted the run itself on a loaded machine
  const queue = [...stored]
  await Promise.all(Array.from({ length: 4 }, async () => { for (let f = queue.shift(); f !== undefined; f = queue.shift()) await retrieve(f, true, FINAL_ATTEMPTS) }))
  emit({ t: 'files', files: stored.map(f => ({ root: f.root.toString(), deals: f.deals })) })
  clearInterval(rss)
  await lc.stop()
  console.log(`client ${c.index} (${addressToString(address)}) done`)
}

const config = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as LoadClientConfig
await main(config)
process.exit(0)
