// Retrieval benchmark (`BENCH_ONLY=retrieval`): a 256 MiB file stored with one priced provider on loopback,
// then retrieved by a Node client with the engine the tab and the CLI use (every block hashed against its CID
// with node:crypto, every interval paid with a signed voucher, the file written to disk), as a ratio to a raw
// libp2p stream's throughput measured in the same run (same stack, bytes discarded). Also: time to the first
// verified byte, with the payment channel created on chain first (a first retrieval from a provider) and
// with it already open (a later one).
import path from 'node:path'
import { tmpdir, availableParallelism } from 'node:os'
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { open, rm, mkdtemp } from 'node:fs/promises'
import type { Page } from 'playwright-core'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import {
  secpAddressBytes, secpPublicKey, signDealProposal, signVoucher, readChannel, getMinerInfo, parseAddress,
  type MultihashFn, type CID
} from '../../src/core'
import { createCofferLibp2p, type CofferLibp2p } from '../../src/net'
import { startDevnet, type Devnet } from '../../src/node/devnet'
import { pieceOfFile } from '../../src/node/piece-file'
import { fileChunks } from '../../src/node/prove-possession'
import { StorageClient, writeUnixfsCar, retrieveFile, newDownloadState, PaychClient, memoryPaychStore, type PaychChain, type DealChain } from '../../src/light'
import { launchChromium } from '../helpers/chromium'
import { requireBuiltApp } from '../helpers/dist'
import { fundedWallet } from '../helpers/app-page'
import { writeRandomFile, nodeDealChain } from './upload'
import { rawStreamSecs } from './raw-stream'
import { goalBudget, tabStreamCeilings } from './bench-page'
import { watchStalls, describeStalls } from './long-tasks'
import { countChromiumCpu, describeCpu, cpuMsPerMiB } from './chromium-cpu'
import { profiling, startTrace, summarizeTrace, profileSharedWorker, profileThisProcess, DEVTOOLS_PORT_FLAG } from './trace-profile'
import { measureMemory, sampleMemory, peakOf, mib as inMiB, benchIsolated, servedAs, type MemorySample, type SampleLabel } from './memory-sampler'

const fmt = (n: number, digits = 1): string => n.toFixed(digits)
const MiB = 2 ** 20
const nodeSha256: MultihashFn = (code, bytes) => code === 0x12 ? new Uint8Array(createHash('sha256').update(bytes).digest()) : undefined

/** A file stored with the devnet's one provider (priced): what the retrieval sections fetch back, and from whom. */
interface Stored {
  packed: { root: CID, carBytes: number }
  target: PlannedProvider
  dealId: number
  /** the storing client's key, funded from the faucet */
  key: Uint8Array
  address: Uint8Array
  dealChain: DealChain
}
type PlannedProvider = ReturnType<StorageClient['plan']>['proposals'][number]['provider']

/**
 * Packs `file` into a UnixFS CAR beside it, and stores it with the devnet's provider t01001 through the real deal
 * protocol from a Node client (quote, escrow, signed proposal, the bytes streamed, the deal published on chain;
 * re-signed with a later start when the stream is slower than planned).
 */
/** Stores `file` with the cheapest provider, or with `only.provider` (an address, t01002 …) when given. */
export async function storeWithProvider (d: Devnet, clientNode: CofferLibp2p, file: string, dir: string, only: { provider?: string } = {}): Promise<Stored> {
  const carFile = path.join(dir, 'file.car')
  const car = await open(carFile, 'w')
  let written = 0
  const packed = await writeUnixfsCar(fileChunks(file), {
    write: async (b) => { await car.write(b, 0, b.length, written); written += b.length },
    writeAt: async (offset, b) => { await car.write(b, 0, b.length, offset) }
  })
  await car.close()
  const piece = await pieceOfFile(carFile)
  const key = secp256k1.utils.randomSecretKey()
  const address = secpAddressBytes(secpPublicKey(key))
  await d.chain.waitMessage(await d.chain.faucet(address), AbortSignal.timeout(60_000))
  const dealChain = nodeDealChain(d, key)
  const sc = new StorageClient(clientNode, dealChain, { address, sign: async (p) => signDealProposal(key, p) })
  const { quotes } = await sc.quotes(d.bootstrap().providers!)
  const plan = sc.plan(quotes, { pieceCid: piece.v1, paddedBytes: piece.digest.paddedBytes, payloadBytes: packed.carBytes, label: packed.root.toString(), copies: 1, periods: 10, ...(only.provider === undefined ? {} : { chosen: [only.provider] }) })
  await sc.ensureEscrow(plan.escrowNeeded)
  const target = plan.proposals[0]!.provider
  // store, not transfer: on a loaded machine the stream can outlast the planned start, and store signs a later
  // one and goes on from the bytes the provider holds (as the tab does) instead of failing the bench
  const { dealId } = await sc.store(target.provider, await sc.sign(plan.proposals[0]!.proposal), packed.carBytes, (offset) => fileChunks(carFile, offset))
  // the CAR was only the upload's source: the provider holds its own copy
  await rm(carFile, { force: true })
  return { packed, target, dealId, key, address, dealChain }
}

/** The Node-side section's figures, the same run's reference for the Chromium one. */
export interface RetrievalReference {
  mib: number
  /** MiB of CAR per second from the first verified byte on, the channel already open */
  carMiBPerSec: number
  /** ms to the first verified byte when the first retrieval creates the channel on chain */
  coldFirstByteMs: number
}

export async function benchRetrievalNode (mib = Number(process.env.BENCH_RETRIEVAL_MIB ?? 256)): Promise<RetrievalReference> {
  const dir = await mkdtemp(path.join(tmpdir(), 'coffer-bench-retrieval-'))
  const d = await startDevnet({ dataDir: path.join(dir, 'devnet'), distDir: '/nonexistent', serveApp: false, providers: 1, provingPeriod: 30 })
  const clientNode = await createCofferLibp2p({ allowLoopbackDials: true })
  try {
    const file = path.join(dir, 'file.bin')
    await writeRandomFile(file, mib)
    const rawSecs = await rawStreamSecs(mib * MiB)

    const { packed, target, key, address, dealChain } = await storeWithProvider(d, clientNode, file, dir)

    // retrieve it, paying through a channel the first retrieval creates
    const worker = d.chain.readState((s, r) => getMinerInfo(s, r, parseAddress(target.provider.address).bytes))!.worker
    const paychChain: PaychChain = {
      channel: async (a) => d.chain.readState((s, r) => readChannel(s, r, a)),
      send: dealChain.send,
      waitFor: dealChain.waitFor,
      headEpoch: () => d.head().header.height
    }
    const payer = new PaychClient({ chain: paychChain, store: memoryPaychStore(), signer: { address, sign: async (v) => signVoucher(key, address, v) } })
    const provider = { address: target.provider.address, peerId: target.provider.peerId, addrs: target.provider.addrs, worker, quoteBytes: packed.carBytes, terms: { pricePerGiB: target.ask.retrievalPricePerGiB, paymentInterval: target.ask.paymentInterval, paymentIntervalIncrease: target.ask.paymentIntervalIncrease } }
    const run = async (): Promise<{ secs: number, firstByteMs: number, bytes: number, paid: bigint }> => {
      const out = await open(path.join(dir, 'out.bin'), 'w')
      const state = newDownloadState(packed.root)
      const t = performance.now()
      let first = 0
      try {
        const r = await retrieveFile({
          libp2p: clientNode, root: packed.root, providers: [provider], payer, state, hash: nodeSha256,
          sink: { write: async (offset, bytes) => { if (first === 0) first = performance.now(); await out.write(bytes, 0, bytes.length, offset) } },
          saveState: async () => {}
        })
        return { secs: (performance.now() - t) / 1000, firstByteMs: first - t, bytes: r.bytes, paid: r.paid }
      } finally { await out.close() }
    }
    const cold = await run()
    const warm = await run()
    const carMiB = packed.carBytes / MiB
    // the transfer alone: before its first byte the channel is topped up for the file's quote, which waits for a block
    const warmFlow = carMiB / (warm.secs - warm.firstByteMs / 1000)
    console.log(`\nretrieval of ${mib} MiB (random bytes) from one priced provider on loopback, Node client (verify + pay + write to disk)`)
    console.log(`  raw libp2p stream (ws + noise + yamux), same process: ${fmt(mib / rawSecs)} MiB/s`)
    console.log(`  retrieval, channel already open: ${fmt(warmFlow)} MiB/s of CAR from the first verified byte on = ${fmt(warmFlow / (mib / rawSecs), 2)}x the raw stream (goal >= 0.7x); ${fmt(carMiB / warm.secs)} MiB/s in all (${fmt(warm.secs, 2)} s, the channel topped up for the file first), paid ${warm.paid} attoFIL at ${target.ask.retrievalPricePerGiB} per GiB, interval ${target.ask.paymentInterval / MiB} MiB + ${target.ask.paymentIntervalIncrease / MiB} MiB per payment`)
    console.log(`  first retrieval (creates the channel on chain first): ${fmt(carMiB / cold.secs)} MiB/s overall, ${fmt(cold.secs, 2)} s`)
    console.log(`  time to first verified byte: ${fmt(warm.firstByteMs, 0)} ms with the channel open; ${fmt(cold.firstByteMs, 0)} ms when it must be created (${fmt(cold.firstByteMs / (d.genesis.state.blockDelaySecs * 1000), 1)} block times)`)
    if (warm.bytes !== mib * MiB || cold.bytes !== mib * MiB) throw new Error(`retrieved ${warm.bytes} / ${cold.bytes} bytes, expected ${mib * MiB}`)
    return { mib, carMiBPerSec: warmFlow, coldFirstByteMs: cold.firstByteMs }
  } finally {
    await clientNode.stop()
    await d.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

/** How long a download may show no progress at all (no stage change, no byte verified, nothing paid) before the bench calls it stuck. */
const DOWNLOAD_STALL_MS = 5 * 60_000
/** Proofs fall during the download, as they would for a provider in use (the Chromium retrieval test's period). */
const BROWSER_PROVING_PERIOD = 30
/** How many times a failed download is resumed (each time after progress) before the bench reports it failed. */
const MAX_RESUMES = 3
/** What each memory sample is labelled with: the verified bytes the download card showed when it began. */
const VERIFIED: SampleLabel = { selector: '[data-testid=download-bytes]', attribute: 'data-verified', otherwise: '0' }

/**
 * Waits for the download card to end (done, failed or cancelled), watching its progress rather than a clock:
 * a slow machine gets all the time it keeps making progress, a stuck or failed download is reported at once.
 */
async function waitForDownload (page: Page): Promise<{ stage: string, detail: string }> {
  let last = ''
  let changedAt = performance.now()
  for (;;) {
    const seen = await page.evaluate(() => {
      const card = document.querySelector('[data-testid=download-progress]')
      if (card === null) return { stage: 'none', progress: '', detail: document.querySelector('[data-testid=download-call-error]')?.textContent ?? '' }
      const bytes = card.querySelector('[data-testid=download-bytes]')?.getAttribute('data-verified') ?? ''
      const paid = card.querySelector('[data-testid=download-paid]')?.getAttribute('data-atto') ?? ''
      return { stage: card.getAttribute('data-stage') ?? '?', progress: `${bytes}|${paid}`, detail: card.textContent ?? '' }
    })
    if (seen.stage === 'done' || seen.stage === 'failed' || seen.stage === 'cancelled') return seen
    const now = `${seen.stage}|${seen.progress}`
    if (now !== last) { last = now; changedAt = performance.now() }
    if (performance.now() - changedAt > DOWNLOAD_STALL_MS) return { stage: `stuck in ${seen.stage}`, detail: `no progress for ${DOWNLOAD_STALL_MS / 60_000} minutes: ${seen.detail}` }
    await new Promise(resolve => setTimeout(resolve, 500))
  }
}

/** SHA-256 of a file, streamed (a 1 GiB file is never held whole). */
async function sha256File (file: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(file, { highWaterMark: 4 * MiB })) h.update(chunk as Uint8Array)
  return h.digest('hex')
}

/**
 * `retrieval-browser`: a file of `mib` MiB stored from Node with the devnet's priced provider (the real deal
 * protocol, not an upload through the tab: that is upload-browser's to measure), then fetched back in Chromium
 * through the app's UI only: a funded wallet, the share link's Get-file card, Download (the price, then
 * confirm). The page has no save picker (headless Chromium has none to click), so the worker writes to OPFS and
 * the page offers a link, which is clicked and the saved file's SHA-256 compared with the original's.
 * Measured: confirm click → first verified byte shown, MiB/s over the whole download, and JS memory of the page
 * and its workers idle (app loaded, wallet unlocked) and at its peak during the download, by quarter of the file
 * verified (flat means each quarter peaks alike). `reference` is the Node-side section's figures from this run.
 */
export async function benchRetrievalBrowser (mib = Number(process.env.BENCH_RETRIEVAL_BROWSER_MIB ?? 1024), reference?: RetrievalReference): Promise<void> {
  const distDir = requireBuiltApp()
  const dir = await mkdtemp(path.join(tmpdir(), 'coffer-bench-retrieval-browser-'))
  // The provider proves its deal every 30 epochs while it serves the download. Until it kept each piece's segment
  // roots (6daffe1), each proof streamed the whole 1 GiB piece through @noble/hashes in the serving process (~86%
  // of it, profiled): the tab's download stalled past the 30 s retrieval idle timeout and the provider missed a
  // proof, so this section then proved over 48-minute periods. The proofs that end during the download are counted.
  let proofs = 0
  let counting = false
  const log = (line: string): void => { if (counting && /proved deal \d+|cannot prove deal \d+/.test(line)) proofs++ }
  // torn down in reverse, whichever step failed (a devnet that refused to start still leaves its folder)
  const cleanups: Array<() => Promise<unknown>> = [async () => { await rm(dir, { recursive: true, force: true }) }]
  // the same run's ceiling, first, with nothing else running: our libp2p stream from a Node source into a worker
  const ceiling = await tabStreamCeilings(Math.min(mib, 256)).catch((err: Error) => { console.log(`  the tab's raw stream: FAILED: ${err.message}`); return null })
  try {
    const d = await startDevnet({ dataDir: path.join(dir, 'devnet'), distDir, httpPort: 0, rpcPort: 0, providers: 1, provingPeriod: BROWSER_PROVING_PERIOD, crossOriginIsolated: benchIsolated(), log })
    cleanups.push(d.stop)
    const clientNode = await createCofferLibp2p({ allowLoopbackDials: true })
    cleanups.push(async () => { await clientNode.stop() })
    // eager measurement: each sample answers at once (with a GC first) instead of at the next natural GC
    // (BENCH_PROFILE=1 opens the DevTools port too: the shared node's worker is profiled through it)
    const b = await launchChromium(['--enable-blink-features=ForceEagerMeasureMemory', ...(profiling() ? [DEVTOOLS_PORT_FLAG] : [])])
    cleanups.push(b.close)
    const file = path.join(dir, 'film.bin')
    await writeRandomFile(file, mib)
    const fileBytes = mib * MiB
    const t0 = performance.now()
    const stored = await storeWithProvider(d, clientNode, file, dir)
    const storeSecs = (performance.now() - t0) / 1000
    await clientNode.stop()

    // as Firefox and Safari: no save picker, so the worker writes to OPFS and the page offers a link
    await b.context.addInitScript(() => { Object.defineProperty(window, 'showSaveFilePicker', { value: undefined, configurable: true }) })
    const page = await b.context.newPage()
    const errors: string[] = []
    page.on('pageerror', err => errors.push(err.message))
    await page.goto(`${d.url!}#wallet`)
    await fundedWallet(page, 'bench pass phrase')
    const link = `${d.url!}#/get/${stored.packed.root.toString()}?${new URLSearchParams({ name: 'film.bin', size: String(fileBytes), deals: String(stored.dealId) }).toString()}`
    await page.goto(link)
    await page.waitForSelector('[data-testid=get-file] [data-testid=download-start]', { timeout: 60_000 })

    // idle: the app loaded, the wallet unlocked, the Get-file card shown (the median of three, a second apart)
    const idle: MemorySample[] = []
    for (let i = 0; i < 3; i++) {
      const m = await measureMemory(page, VERIFIED)
      if (m !== null) idle.push(m)
      await new Promise(resolve => setTimeout(resolve, 1000))
    }
    idle.sort((x, y) => x.bytes - y.bytes)
    const baseline = idle[1] ?? idle[0] ?? null

    await page.click('[data-testid=download-start]')
    await page.waitForSelector('[data-testid=download-quote] [data-testid=quote-row], [data-testid=download-quote] .bad, [data-testid=download-call-error]', { timeout: 120_000 })
    if (await page.locator('[data-testid=quote-row]').count() === 0) {
      const why = await page.textContent('[data-testid=download-box]')
      throw new Error(`no provider quoted for the stored file: ${why}`)
    }
    const quoted = (await page.getAttribute('[data-testid=quote-row]', 'data-price'))!
    // page-side clock: the confirm click, the first verified byte the card shows, and the card reaching done
    await page.evaluate(() => {
      const t = { click: 0, first: 0, done: 0 }
      ;(window as unknown as { benchTimes: typeof t }).benchTimes = t
      document.addEventListener('click', e => { if (t.click === 0 && (e.target as Element).closest('[data-testid=download-confirm]') !== null) t.click = performance.now() }, true)
      new MutationObserver(() => {
        if (t.first === 0 && Number(document.querySelector('[data-testid=download-bytes]')?.getAttribute('data-verified') ?? 0) > 0) t.first = performance.now()
        if (t.done === 0 && document.querySelector('[data-testid=download-progress]')?.getAttribute('data-stage') === 'done') t.done = performance.now()
      }).observe(document.body, { attributes: true, childList: true, subtree: true, characterData: true })
    })
    const sampler = sampleMemory(page, VERIFIED)
    const stalls = await watchStalls(page)
    // where Chromium's CPU goes (/proc), and with BENCH_PROFILE=1 the page's trace and the shared node's profile (figures then include their cost)
    const cpu = countChromiumCpu()
    const endTrace = profiling() ? await startTrace(b.context, page, 'retrieval-browser') : null
    const endShared = profiling() ? await profileSharedWorker(b.userDataDir, 'retrieval-browser-shared-node', distDir).catch((err: Error) => { console.log(`  (no profile of the shared node: ${err.message})`); return null }) : null
    const endNode = profiling() ? await profileThisProcess('retrieval-browser-devnet') : null
    // (stopped here too if the download fails: not left sampling the sections after; a second stop does nothing)
    if (endNode !== null) cleanups.push(endNode)
    counting = true
    await page.click('[data-testid=download-confirm]')
    let outcome = await waitForDownload(page)
    // a download that fails after making progress is resumed as a user would (Resume keeps its verified bytes and
    // lanes); each failure is printed, and one that made no progress since the last ends the bench's wait
    const failures: string[] = []
    let failedAt = -1
    while (outcome.stage === 'failed' && failures.length < MAX_RESUMES) {
      const at = Number(await page.getAttribute('[data-testid=download-bytes]', 'data-verified'))
      const why = (await page.textContent('[data-testid=download-error]').catch(() => null)) ?? outcome.detail
      failures.push(`at ${inMiB(at)} MiB verified: ${why}`)
      if (at <= failedAt) break
      failedAt = at
      await page.click('[data-testid=download-resume]')
      await page.waitForSelector('[data-testid=download-progress]:not([data-stage=failed])', { timeout: 60_000 })
      outcome = await waitForDownload(page)
    }
    counting = false
    const stalled = await stalls()
    const used = cpu?.()
    const profiles = [...(endTrace === null ? [] : await endTrace().then(f => [`profile ${f}`, ...summarizeTrace(f, distDir)])), ...(endShared === null ? [] : await endShared()), ...(endNode === null ? [] : await endNode())]
    const samples = await sampler.stop()
    const times = await page.evaluate(() => (window as unknown as { benchTimes: { click: number, first: number, done: number } }).benchTimes)
    if (outcome.stage !== 'done') throw new Error(`the download ended ${outcome.stage}: ${outcome.detail}${failures.length > 0 ? ` (failed before, and resumed: ${failures.join('; ')})` : ''}`)
    const after = await measureMemory(page, VERIFIED)
    const paid = (await page.getAttribute('[data-testid=download-paid]', 'data-atto'))!
    const failovers = await page.locator('[data-testid=download-failover]').count()

    // save it through the link, as a user of a browser without the picker does, and compare the bytes
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 120_000 }), page.click('[data-testid=download-link]', { timeout: 120_000 })])
    const saved = await download.path()
    const [want, got] = await Promise.all([sha256File(file), sha256File(saved)])

    const secs = (times.done - times.click) / 1000
    const fileRate = mib / secs
    const carRate = stored.packed.carBytes / MiB / secs
    const firstMs = times.first - times.click
    const peak = peakOf(samples)
    // each quarter of the file verified peaks alike when memory does not grow with the file
    const quarters = [0, 1, 2, 3].map(q => peakOf(samples.filter(s => Math.min(3, Math.floor(4 * Number(s.label) / fileBytes)) === q && Number(s.label) > 0)))
    const terms = stored.target.ask
    console.log(`\nretrieval of ${mib} MiB (random bytes) in Chromium through the app (share link → Download → worker verifies, pays and writes to OPFS → link), one priced provider on loopback, ${servedAs()}`)
    console.log(`  stored from Node first (pack, CommP, deal stream, published): ${fmt(storeSecs)} s; provider asks ${terms.retrievalPricePerGiB} attoFIL per GiB, a voucher every ${fmt(terms.paymentInterval / MiB, 2)} MiB + ${fmt(terms.paymentIntervalIncrease / MiB, 2)} MiB per payment`)
    // the transfer alone: from the first verified byte (the channel is created on chain before it) to the end
    const flowRate = stored.packed.carBytes / MiB / ((times.done - times.first) / 1000)
    const ref = reference === undefined
      ? 'no reference (the Node-side `retrieval` section did not run in this run: BENCH_ONLY=retrieval,retrieval-browser gives one)'
      : `from the first verified byte = ${fmt(flowRate / reference.carMiBPerSec, 2)}x the Node-side retrieval in this run (${fmt(reference.carMiBPerSec)} MiB/s of CAR from its first verified byte, ${reference.mib} MiB, channel open)`
    console.log(`  confirm click → done: ${fmt(secs)} s = ${fmt(fileRate)} MiB/s of file (${fmt(carRate)} MiB/s of CAR); ${ref}`)
    if (ceiling !== null) console.log(`  = ${fmt(carRate / ceiling.in.mibPerSec, 2)}x the tab's raw stream in (${fmt(ceiling.in.mibPerSec)} MiB/s, a Node source → a worker, bytes discarded; goal ≥ 0.7); from the first verified byte on ${fmt(flowRate)} MiB/s = ${fmt(flowRate / ceiling.in.mibPerSec, 2)}x`)
    // the app's download runs in its shared node (a SharedWorker): that worker's own raw stream in, measured apart
    if (ceiling?.sharedIn != null) console.log(`    against the raw stream into a SharedWorker (${fmt(ceiling.sharedIn.mibPerSec)} MiB/s), where the app's node receives: ${fmt(carRate / ceiling.sharedIn.mibPerSec, 2)}x; from the first verified byte on ${fmt(flowRate / ceiling.sharedIn.mibPerSec, 2)}x`)
    if (used !== undefined && ceiling?.in.cpuMsPerMiB != null) {
      const downloadMs = cpuMsPerMiB(used, stored.packed.carBytes / MiB)
      const cores = availableParallelism()
      console.log(`  CPU per MiB (Chromium and this process): the download ${fmt(downloadMs, 0)} ms (it verifies, pays, writes; the provider serves and proves; the full node goes on); the raw stream ${fmt(ceiling.in.cpuMsPerMiB, 0)} ms. ${cores} cores allow this download at most ${fmt(cores * 1000 / downloadMs)} MiB/s: it reached ${fmt(carRate / (cores * 1000 / downloadMs), 2)}x that`)
      if (ceiling.sharedIn != null) console.log(`  ${goalBudget(ceiling.sharedIn, downloadMs, 'confirm → done, the channel\'s creation on chain included', cores)}`)
    }
    console.log(`  while it downloaded, verified, paid and wrote: ${describeStalls(stalled)}`)
    if (used !== undefined) console.log(`  confirm → done: ${describeCpu(used, 10)}; this process (the devnet: its provider serving and proving, its full node) ${fmt(used.processSecs, 2)} s`)
    if (profiles.length > 0) console.log(`  profiles (BENCH_PROFILE=1; the figures above include their cost), by thread, ms by source:\n${profiles.map(l => `    ${l}`).join('\n')}`)
    console.log(`  the provider ended ${proofs} proofs of possession meanwhile (proving period ${BROWSER_PROVING_PERIOD} epochs; each hashes only its challenged segments of the ${fmt(stored.packed.carBytes / MiB, 0)} MiB piece, in the process that serves it)`)
    const firstRef = reference === undefined ? '' : ` = ${fmt(firstMs / reference.coldFirstByteMs, 2)}x the Node client's first retrieval (${fmt(reference.coldFirstByteMs, 0)} ms)`
    console.log(`  time to first verified byte (confirm click → the card shows one; a first retrieval from this provider: the channel is created on chain first): ${fmt(firstMs, 0)} ms = ${fmt(firstMs / (d.genesis.state.blockDelaySecs * 1000), 1)} block times${firstRef}`)
    if (baseline === null || peak === null) {
      console.log('  JS memory: n/a (performance.measureUserAgentSpecificMemory unavailable: is the page cross-origin isolated?)')
    } else {
      const grown = peak.bytes - baseline.bytes
      console.log(`  JS memory (page + workers): ${inMiB(baseline.bytes)} MiB idle, peak ${inMiB(peak.bytes)} MiB during (+${inMiB(grown)} MiB for a ${mib} MiB file; goal < 64 MiB above idle: ${grown < 64 * MiB ? 'met' : 'NOT met'}); ${after === null ? '' : `${inMiB(after.bytes)} MiB once done; `}${samples.length} samples`)
      console.log(`  idle (MiB): ${baseline.breakdown}`)
      console.log(`  at the peak (MiB, ${fmt(100 * Number(peak.label) / fileBytes, 0)} % verified): ${peak.breakdown}`)
      console.log(`  peak by quarter of the file verified (flat when alike): ${quarters.map((q, i) => `${i * 25}–${i * 25 + 25} % ${q === null ? 'n/a' : `${inMiB(q.bytes)} MiB`}`).join(', ')}`)
    }
    console.log(`  failures resumed through the Resume button: ${failures.length === 0 ? 'none' : failures.map(f => `FAILED ${f}`).join('; ')}`)
    console.log(`  paid ${paid} attoFIL (quoted ${quoted} on the file's size); ${failovers} failovers; saved file through the link: SHA-256 ${got === want ? 'equals the original\'s' : `DIFFERS (${got} vs ${want})`}`)
    if (got !== want) throw new Error(`the saved file's SHA-256 ${got} is not the original's ${want}`)
    if (errors.length > 0) console.log(`  page errors: ${errors.join(' | ')}`)
  } finally {
    for (const fn of cleanups.reverse()) await fn().catch(() => {})
  }
}
