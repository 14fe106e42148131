// Upload benchmarks (`BENCH_ONLY=upload,upload-browser`):
//   upload:         a 256 MiB file to one provider on loopback, Node client: the deal stream's throughput
//                   as a ratio to a raw libp2p stream's (same stack, same process, bytes discarded), plus
//                   packing, hashing and "last byte → published" times
//   upload-browser: a 1 GiB file dropped into the app's Upload view in Chromium: JS memory of the page and
//                   its workers while it packs, hashes and sends, and the time from drop to the deal
//                   published and to the deal active
import path from 'node:path'
import { tmpdir, availableParallelism } from 'node:os'
import { randomFillSync } from 'node:crypto'
import { open, rm, mkdtemp } from 'node:fs/promises'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import {
  secpAddressBytes, secpPublicKey, signMessage, signDealProposal, readEscrow, readDeal, getMinerInfo, gasLimitFor,
  TRANSFER_GAS_FEE_CAP, TRANSFER_GAS_PREMIUM, parseFil, CID
} from '../../src/core'
import { createCofferLibp2p } from '../../src/net'
import { startDevnet, type Devnet } from '../../src/node/devnet'
import { pieceOfFile } from '../../src/node/piece-file'
import { fileChunks } from '../../src/node/prove-possession'
import { StorageClient, writeUnixfsCar, type DealChain } from '../../src/light'
import { launchChromium } from '../helpers/chromium'
import { requireBuiltApp } from '../helpers/dist'
import { measureMemory, sampleMemory, peakOf, peaksByLabel, benchIsolated, servedAs } from './memory-sampler'
import { rawStreamSecs } from './raw-stream'
import { goalBudget, tabStreamCeilings } from './bench-page'
import { watchStalls, describeStalls } from './long-tasks'
import { countChromiumCpu, describeCpu, cpuMsPerMiB, type ChromiumCpu } from './chromium-cpu'
import { profiling, startTrace, summarizeTrace, profileSharedWorker, profileThisProcess, DEVTOOLS_PORT_FLAG } from './trace-profile'

const fmt = (n: number, digits = 1): string => n.toFixed(digits)
const MiB = 2 ** 20

/** `mib` MiB of random bytes (UnixFS would dedupe a repeated pattern into a tiny CAR). */
export async function writeRandomFile (file: string, mib: number): Promise<void> {
  const f = await open(file, 'w')
  const block = Buffer.alloc(MiB)
  try { for (let i = 0; i < mib; i++) { randomFillSync(block); await f.write(block) } } finally { await f.close() }
}

/** The chain as a Node client sees it, read straight from the devnet (this bench measures transfer, not proofs). */
export function nodeDealChain (d: Devnet, key: Uint8Array): DealChain {
  const from = secpAddressBytes(secpPublicKey(key))
  return {
    params: d.genesis.state.market,
    blockDelaySecs: d.genesis.state.blockDelaySecs,
    headHeight: () => d.head().header.height,
    escrow: async (a) => d.chain.readState((s, r) => readEscrow(s, r, a)),
    miner: async (a) => d.chain.readState((s, r) => getMinerInfo(s, r, a)),
    balance: async (a) => (await d.chain.getActor(a))?.balance ?? 0n,
    deal: async (id) => d.chain.readState((s, r) => readDeal(s, r, id)),
    waitFor: async (cid) => {
      const r = await d.chain.waitMessage(CID.parse(cid), AbortSignal.timeout(60_000))
      return { exitCode: r.receipt.exitCode, return: r.receipt.return }
    },
    send: async (m) => {
      const unsigned = { version: 0, from, nonce: await d.chain.mpoolNonce(from), gasLimit: 0, gasFeeCap: TRANSFER_GAS_FEE_CAP, gasPremium: TRANSFER_GAS_PREMIUM, ...m }
      const cid = await d.chain.mpoolPush(signMessage(key, { ...unsigned, gasLimit: gasLimitFor(unsigned) }))
      const r = await d.chain.waitMessage(cid, AbortSignal.timeout(60_000))
      return { cid: cid.toString(), exitCode: r.receipt.exitCode, return: r.receipt.return }
    }
  }
}

export async function benchUploadNode (mib = Number(process.env.BENCH_UPLOAD_MIB ?? 256)): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'coffer-bench-upload-'))
  const d = await startDevnet({ dataDir: path.join(dir, 'devnet'), distDir: '/nonexistent', serveApp: false, providers: 1, provingPeriod: 30 })
  try {
    const file = path.join(dir, 'file.bin')
    await writeRandomFile(file, mib)
    const rawSecs = await rawStreamSecs(mib * MiB)

    const carFile = path.join(dir, 'file.car')
    const car = await open(carFile, 'w')
    let t = performance.now()
    let written = 0
    const packed = await writeUnixfsCar(fileChunks(file), {
      write: async (b) => { await car.write(b, 0, b.length, written); written += b.length },
      writeAt: async (offset, b) => { await car.write(b, 0, b.length, offset) }
    })
    await car.close()
    const packSecs = (performance.now() - t) / 1000
    t = performance.now()
    const piece = await pieceOfFile(carFile)
    const hashSecs = (performance.now() - t) / 1000

    const key = secp256k1.utils.randomSecretKey()
    const address = secpAddressBytes(secpPublicKey(key))
    await d.chain.waitMessage(await d.chain.faucet(address), AbortSignal.timeout(30_000))
    const client = new StorageClient(d.libp2p, nodeDealChain(d, key), { address, sign: async (p) => signDealProposal(key, p) })
    // the client dials from its own node, as a separate process would
    const clientNode = await createCofferLibp2p({ listen: [] })
    const sc = new StorageClient(clientNode, nodeDealChain(d, key), { address, sign: async (p) => signDealProposal(key, p) })
    const { quotes } = await sc.quotes(d.bootstrap().providers!)
    const plan = sc.plan(quotes, { pieceCid: piece.v1, paddedBytes: piece.digest.paddedBytes, payloadBytes: packed.carBytes, label: packed.root.toString(), copies: 1, periods: 10 })
    await client.ensureEscrow(plan.escrowNeeded)
    const signed = await sc.sign(plan.proposals[0]!.proposal)
    let firstByte = 0
    let lastByte = 0
    t = performance.now()
    await sc.transfer(plan.proposals[0]!.provider.provider, signed, packed.carBytes, (offset) => fileChunks(carFile, offset), {
      onProgress: (held, total) => {
        if (held > 0 && firstByte === 0) firstByte = performance.now()
        if (held === total && lastByte === 0) lastByte = performance.now()
      }
    })
    const publishedAt = performance.now()
    await clientNode.stop()
    const streamSecs = (lastByte - t) / 1000
    const carMiB = packed.carBytes / MiB
    console.log(`\nupload of ${mib} MiB (random bytes) to one provider on loopback, Node client`)
    console.log(`  raw libp2p stream (ws + noise + yamux), same process:  ${fmt(mib / rawSecs)} MiB/s`)
    console.log(`  deal stream (frames, back-pressure, provider writes to disk): ${fmt(carMiB / streamSecs)} MiB/s = ${fmt((carMiB / streamSecs) / (mib / rawSecs), 2)}x the raw stream`)
    console.log(`  packing UnixFS → CAR (${fmt(carMiB)} MiB CAR): ${fmt(packSecs, 2)} s = ${fmt(mib / packSecs)} MiB/s; CommP of the CAR (${piece.hasher}): ${fmt(hashSecs, 2)} s`)
    console.log(`  last byte → provider checked CommP on disk and the deal is published on chain: ${fmt((publishedAt - lastByte) / 1000, 2)} s`)
  } finally {
    await d.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

/** What the upload page's observer keeps (page clock, performance.now() ms): the send's two ends and each stage's first showing. */
interface BenchSend { firstSent: number, allSent: number, stages: Array<[string, number]> }

/** How long an upload may show no progress at all (no stage change, no byte packed, hashed or held) before the bench calls it stuck. */
const UPLOAD_STALL_MS = 5 * 60_000

/**
 * Waits for the upload card to end (done, duplicate or failed), watching its progress rather than a clock:
 * a slow machine gets all the time it keeps making progress, a stuck or failed upload is reported at once.
 */
async function waitForUpload (page: import('playwright-core').Page): Promise<{ stage: string, detail: string }> {
  let last = ''
  let changedAt = performance.now()
  for (;;) {
    const seen = await page.evaluate(() => {
      const card = document.querySelector('[data-testid=upload-card]')
      if (card === null) return { stage: 'none', progress: '', detail: '' }
      const bars = [...card.querySelectorAll('progress')].map(p => p.value).join(',')
      return { stage: card.getAttribute('data-stage') ?? '?', progress: bars, detail: card.querySelector('[role=alert]')?.textContent ?? card.textContent ?? '' }
    })
    if (seen.stage === 'done' || seen.stage === 'failed' || seen.stage === 'duplicate') return seen
    const now = `${seen.stage}|${seen.progress}`
    if (now !== last) { last = now; changedAt = performance.now() }
    if (performance.now() - changedAt > UPLOAD_STALL_MS) return { stage: `stuck in ${seen.stage}`, detail: `no progress for ${UPLOAD_STALL_MS / 60_000} minutes: ${seen.detail}` }
    await new Promise(resolve => setTimeout(resolve, 1000))
  }
}

export async function benchUploadBrowser (mib = Number(process.env.BENCH_UPLOAD_BROWSER_MIB ?? 1024)): Promise<void> {
  const distDir = requireBuiltApp()
  // the same run's ceiling, first, with nothing else running: our libp2p stream from a worker to a Node sink
  const ceiling = await tabStreamCeilings(Math.min(mib, 256)).catch((err: Error) => { console.log(`  the tab's raw stream: FAILED: ${err.message}`); return null })
  const dir = await mkdtemp(path.join(tmpdir(), 'coffer-bench-upload-browser-'))
  const d = await startDevnet({ dataDir: path.join(dir, 'devnet'), distDir, httpPort: 0, rpcPort: 0, providers: 1, provingPeriod: 10, crossOriginIsolated: benchIsolated() })
  // BENCH_PROFILE=1 opens the DevTools port too: the shared node's worker is profiled through it
  const b = await launchChromium(profiling() ? [DEVTOOLS_PORT_FLAG] : [])
  /** Profilers still running if the upload failed: stopped in `finally`, not left sampling the sections after. */
  let endNode: (() => Promise<string[]>) | null = null
  try {
    const file = path.join(dir, 'upload.bin')
    await writeRandomFile(file, mib)
    const page = await b.context.newPage()
    await page.goto(`${d.url!}#wallet`)
    await page.fill('[data-testid=new-passphrase]', 'bench pass phrase')
    await page.fill('[data-testid=new-passphrase2]', 'bench pass phrase')
    await page.click('[data-testid=create-wallet]')
    const address = (await page.textContent('[data-testid=wallet-address]', { timeout: 30_000 }))!
    await page.click('[data-testid=faucet]')
    await page.waitForSelector(`[data-testid=balance][data-address="${address}"][data-atto="${parseFil('100')}"][data-verified=true]`, { timeout: 30_000 })
    await page.click('[data-testid=tab-upload]')
    await page.waitForSelector('[data-testid=provider-row]', { timeout: 30_000 })
    await page.fill('[data-testid=upload-copies]', '1')
    /** Each memory sample is labelled with the upload card's stage when the measurement began. */
    const stage = { selector: '[data-testid=upload-card]', attribute: 'data-stage', otherwise: 'start' }
    const baseline = (await measureMemory(page, stage))?.bytes ?? 0
    // page-side clock: the first byte the card shows gone to the provider (staged while packing, or sent), and every
    // copy's bytes all held by its provider (before the deal is published: the rest is the chain's time)
    // the CPU over exactly that stretch, counted here when the page says each end is seen
    let sendingCpu: (() => ChromiumCpu) | null = null
    let sentCpu: ChromiumCpu | undefined
    await page.exposeFunction('benchSendMark', (what: 'first' | 'all') => {
      if (what === 'first') sendingCpu = countChromiumCpu()
      else sentCpu ??= sendingCpu?.()
    })
    await page.evaluate(() => {
      const t: BenchSend = { firstSent: 0, allSent: 0, stages: [] }
      const mark = (window as unknown as { benchSendMark: (what: string) => void }).benchSendMark
      ;(window as unknown as { benchSend: BenchSend }).benchSend = t
      // (no named helper in here: the bench's TypeScript loader would wrap it in a function the page does not have)
      // The stage is read as the page changes (one attribute: cheap, and no stage is missed); the scans run in a task
      // of their own, once per batch of changes: inside the observer's callback they ran in the app's own task (the
      // one that changed the page) and lengthened it
      let queued = false
      new MutationObserver(() => {
        const stage = document.querySelector('[data-testid=upload-card]')?.getAttribute('data-stage')
        if (stage != null && t.stages.at(-1)?.[0] !== stage) t.stages.push([stage, performance.now()])
        if (queued) return
        queued = true
        setTimeout(() => {
          queued = false
          const staged = [...document.querySelectorAll<HTMLProgressElement>('[data-testid=upload-card] [data-testid=stage-progress] progress')]
          const copies = [...document.querySelectorAll<HTMLProgressElement>('[data-testid=upload-card] [data-testid=send-progress] progress')]
          if (t.firstSent === 0 && [...staged, ...copies].some(b => b.value > 0)) { t.firstSent = performance.now(); mark('first') }
          // every byte held (this bench uploads one copy): by its stage, whose line after packing counts on as the
          // stage's last acknowledgements come in (its bar while packing measures against the file's size, short of
          // the CAR's), or by the copy's deal stream; the proposal's time is not the link's
          const stagedLines = [...document.querySelectorAll('[data-testid=upload-card] [data-testid=staged]')]
          const held = (stagedLines.length > 0 && stagedLines.every(l => Number(l.getAttribute('data-bytes')) >= Number(l.getAttribute('data-of') ?? Infinity))) ||
            (copies.length > 0 && copies.every(b => b.max > 1 && b.value >= b.max))
          if (t.allSent === 0 && held) { t.allSent = performance.now(); mark('all') }
        }, 0)
      }).observe(document.body, { attributes: true, childList: true, subtree: true, characterData: true })
    })
    const stalls = await watchStalls(page)
    // where Chromium's CPU goes (/proc), and with BENCH_PROFILE=1 a trace of the page's renderer (its figures then include the sampling's cost)
    const cpu = countChromiumCpu()
    const endTrace = profiling() ? await startTrace(b.context, page, 'upload-browser') : null
    const endShared = profiling() ? await profileSharedWorker(b.userDataDir, 'upload-browser-shared-node', distDir).catch((err: Error) => { console.log(`  (no profile of the shared node: ${err.message})`); return null }) : null
    endNode = profiling() ? await profileThisProcess('upload-browser-devnet') : null
    const sampler = sampleMemory(page, stage)
    const t = performance.now()
    await page.setInputFiles('[data-testid=upload-input]', file)
    const outcome = await waitForUpload(page)
    const publishedSecs = (performance.now() - t) / 1000
    const stalled = await stalls()
    const used = cpu?.()
    const profile = endTrace === null ? null : await endTrace()
    const sharedProfile = [...(endShared === null ? [] : await endShared()), ...(endNode === null ? [] : await endNode())]
    const send = await page.evaluate(() => (window as unknown as { benchSend: BenchSend }).benchSend)
    // the drop on the page's clock: the page's now, taken midway (near enough) through one evaluate's round trip
    const asked = performance.now()
    const pageNow = await page.evaluate(() => performance.now())
    const dropAt = pageNow - ((asked + performance.now()) / 2 - t)
    // (the CAR's size, as the copy's bar counts it: read now, before the Files view replaces the Upload view)
    const carBytes = Number(await page.locator('[data-testid=send-progress] progress').first().getAttribute('max', { timeout: 5000 }).catch(() => null) ?? NaN)
    const samples = await sampler.stop()
    const top = peakOf(samples)
    const peak = top?.bytes ?? 0
    const peakBreakdown = top?.breakdown ?? ''
    const peaks = peaksByLabel(samples)
    /**
     * When each stage of the upload card was first shown (s after the drop): where the time goes. Taken by the page's
     * observer as the card changes (the memory samples' labels come late: a measurement waits for Chromium's next GC).
     */
    const stageAt = new Map<string, number>()
    for (const [k, at] of send.stages) if (!stageAt.has(k)) stageAt.set(k, Math.max(0, at - dropAt) / 1000)
    if (outcome.stage !== 'done') {
      // a bench reports a failure and moves on; it never waits out a clock for an upload that has ended
      console.log(`\nupload of ${mib} MiB through the app in Chromium: FAILED after ${fmt(publishedSecs)} s (${outcome.stage}): ${outcome.detail}`)
      console.log(`  stages first seen (s after the drop): ${[...stageAt].map(([k, v]) => `${k} ${fmt(v, 1)}`).join(', ')}`)
      return
    }
    // read on the Upload view, before the Files view replaces it
    const replanned = await page.locator('[data-testid=replanned]').count() === 0 ? null : (await page.textContent('[data-testid=replanned]'))!.trim()
    console.log(`\n${mib} MiB tab upload: drop → deal published ${fmt(publishedSecs)} s (the rest follows once the deal is active)`)
    await page.click('[data-testid=tab-files]')
    await page.waitForSelector('[data-testid=deal-status]:has-text("active")', { timeout: 900_000 })
    const activeSecs = (performance.now() - t) / 1000
    console.log(`\nupload of ${mib} MiB through the app in Chromium (UnixFS → CAR in OPFS, CommP in the worker pool, one provider), ${servedAs()}`)
    console.log(`  JS memory (page + workers): ${baseline === 0 ? 'n/a' : `${fmt(baseline / MiB)} MiB before, peak ${fmt(peak / MiB)} MiB during (+${fmt((peak - baseline) / MiB)} MiB for a ${mib} MiB file)`}`)
    if (samples.length > 0) {
      console.log(`  at the peak (MiB): ${peakBreakdown}`)
      console.log(`  peak by stage (stage when the measurement began): ${[...peaks].map(([k, v]) => `${k} ${fmt(v / MiB)} MiB`).join(', ')}`)
    }
    console.log(`  drop → deal published: ${fmt(publishedSecs)} s (${fmt(mib / publishedSecs)} MiB/s end to end); → deal active (its start epoch reached): ${fmt(activeSecs)} s`)
    console.log(`  stages first seen (s after the drop, as the page showed them): ${[...stageAt].map(([k, v]) => `${k} ${fmt(v, 1)}`).join(', ')}`)
    console.log(`  start re-planned: ${replanned === null ? 'no (the first plan held)' : `yes: ${replanned}`}`)
    // (NaN, said as such, if the page never saw a byte go or every byte held)
    const sendSecs = send.firstSent > 0 && send.allSent > 0 ? (send.allSent - send.firstSent) / 1000 : NaN
    const sendRate = (Number.isFinite(carBytes) ? carBytes : mib * MiB) / MiB / sendSecs
    console.log(`  sending (first byte staged → every byte held by the provider): ${fmt(sendSecs, 1)} s = ${fmt(sendRate)} MiB/s of CAR` +
      (ceiling === null ? '' : ` = ${fmt(sendRate / ceiling.out.mibPerSec, 2)}x the tab's raw stream out (${fmt(ceiling.out.mibPerSec)} MiB/s, a worker → Node sink; goal ≥ 0.7)`))
    // the app's upload runs in its shared node (a SharedWorker), whose own raw stream is measured apart: in Chromium it
    // differs from a dedicated worker's (issue 17: two to three times as fast here), so it is the upload's own ceiling too
    if (ceiling?.sharedOut != null) console.log(`    = ${fmt(sendRate / ceiling.sharedOut.mibPerSec, 2)}x the raw stream out of a SharedWorker (${fmt(ceiling.sharedOut.mibPerSec)} MiB/s), where the app's node sends from`)
    // The raw stream only moves bytes; the upload also packs, hashes, stages to OPFS, and its provider writes and checks
    // them while the devnet's full node goes on. On few cores that work shares the cores with the stream: the CPU of
    // both, per MiB, says how far the cores allow this upload at all.
    if (used !== undefined && ceiling?.out.cpuMsPerMiB != null) {
      const uploadMs = cpuMsPerMiB(used, Number.isFinite(carBytes) ? carBytes / MiB : mib)
      const cores = availableParallelism()
      console.log(`  CPU per MiB (Chromium and this process): the upload, drop → published, ${fmt(uploadMs, 0)} ms; the raw stream ${fmt(ceiling.out.cpuMsPerMiB, 0)} ms. ${cores} cores allow this upload at most ${fmt(cores * 1000 / uploadMs)} MiB/s: sending reached ${fmt(sendRate / (cores * 1000 / uploadMs), 2)}x that`)
    }
    if (sentCpu !== undefined && ceiling?.out.cpu != null) {
      // where the cores went while the bytes went (staging starts with packing, so this window holds the packing and
      // hashing too): the upload's side (Chromium) and its provider's (this process), each per MiB, beside the raw
      // stream's two ends; and whether the machine's cores were all busy (then the CPU per MiB sets the rate). (This
      // process's main thread is read from /proc in 10 ms ticks: its "other threads" figure is as coarse.)
      const carMiB = (Number.isFinite(carBytes) ? carBytes : mib * MiB) / MiB
      const perMiB = (secs: number, n: number): string => fmt(secs * 1000 / n, 0)
      const s = sentCpu
      const r = ceiling.out.cpu
      const rMiB = ceiling.out.mib
      console.log(`  while sending (${fmt(s.wallSecs, 1)} s): the machine's cores ${fmt(s.machineBusyCores, 2)} busy of ${availableParallelism()}; CPU per MiB: Chromium ${perMiB(s.totalSecs, carMiB)} ms ` +
        `(${s.byThread.slice(0, 5).map(([k, v]) => `${k} ${perMiB(v, carMiB)}`).join(', ')}), the devnet ${perMiB(s.processSecs, carMiB)} ms (main thread ${perMiB(s.processMainSecs, carMiB)}, its other threads ${perMiB(s.processSecs - s.processMainSecs, carMiB)})`)
      console.log(`  the raw stream out, the same way: cores ${fmt(r.machineBusyCores, 2)} busy; Chromium ${perMiB(r.totalSecs, rMiB)} ms ` +
        `(${r.byThread.slice(0, 5).map(([k, v]) => `${k} ${perMiB(v, rMiB)}`).join(', ')}), the Node sink ${perMiB(r.processSecs, rMiB)} ms`)
      // the CPU per MiB while sending, Chromium's and the devnet's: what the goal's budget is set against
      if (ceiling.sharedOut != null) console.log(`  ${goalBudget(ceiling.sharedOut, (s.totalSecs + s.processSecs) * 1000 / carMiB, 'while sending', availableParallelism())}`)
    }
    console.log(`  while it packed, hashed and sent: ${describeStalls(stalled)}`)
    if (used !== undefined) console.log(`  drop → published: ${describeCpu(used, 10)}; this process (the devnet: its provider receiving, writing and checking, its full node) ${fmt(used.processSecs, 2)} s`)
    if (profile !== null) {
      console.log(`  profile (BENCH_PROFILE=1; the figures above include its cost): ${profile}; by thread, ms by source:`)
      for (const l of [...summarizeTrace(profile, distDir), ...sharedProfile]) console.log(`    ${l}`)
    }
  } finally {
    await endNode?.().catch(() => {})
    await b.close()
    await d.stop()
    await rm(dir, { recursive: true, force: true })
  }
}
