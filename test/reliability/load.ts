// The load run (issue 16 part 5): a devnet (one block producer, see below) whose genesis providers run in its process, one
// more provider joined from its own folder as its own process (`coffer provider init` and `run`), and light clients,
// each a process of its own (load-client.ts), uploading (two copies each), retrieving (paid, verified) and auditing
// continuously. One genesis provider has a stored deal corrupted on disk on a schedule (`coffer provider corrupt`);
// the joined one is SIGKILLed on a schedule and started again. Afterwards every deal is read from the chain:
//  - accepted lies: wrong bytes delivered to a client, a corrupted deal the chain did not fault and charge, a period
//    settled with no proof and no penalty;
//  - data lost: a file none of its providers returned at the end, a deal terminated that nobody corrupted (the killed
//    provider's, ended by the market for missing periods it was charged for, count as caught faults);
//  - crashes: anything uncaught here, a client process that died, the joined provider exiting on its own;
// and it reports deals per minute, p50/p99 latencies, the longest the chain went without a new block, and each
// process's memory (bounded: the last third of the run may not have grown past the middle third's; the final sweep,
// a burst of retrievals after it, is another workload: its peak is reported, not compared with the run's). The devnet's
// process is judged net of its block store, which holds every block of the chain in memory by design (a known limit
// of full nodes today, reported on its own line): the chain's own growth there is not a leak, anything else is. So is
// the joined provider's, whose full node holds the same chain the same way.
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { bytesToHex } from '@noble/hashes/utils.js'
import { readDeal, addressToString, parseAddress, getMinerInfo } from '../../src/core'
import type { BootstrapProvider } from '../../src/net'
import { startDevnet, type Devnet } from '../../src/node/devnet'
import { fundMarketClient, sleep, waitFor, watchCrashes } from './harness'
import { coffer, runProvider, killHard, alive, type Running } from './processes'
import { initProvider } from './provider-net'
import type { LoadClientConfig, LoadEvent } from './load-client'
import type { Row } from './table'

const CLIENT = fileURLToPath(new URL('./load-client.ts', import.meta.url))

export interface LoadOptions {
  /** Genesis providers (in the devnet's process); one more joins as a process of its own. */
  providers: number
  clients: number
  runMs: number
  provingPeriod: number
  corruptEveryMs: number
  crashEveryMs: number
}

const percentile = (xs: number[], p: number): number => {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil(p / 100 * s.length) - 1)]!
}
const secs = (ms: number): string => Number.isNaN(ms) ? '-' : `${(ms / 1000).toFixed(1)} s`

/** Resident memory of a process, from /proc (MiB); null once it is gone. */
function rssOf (pid: number | undefined): number | null {
  if (pid === undefined) return null
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/)
    return m === null ? null : Math.round(Number(m[1]) / 1024)
  } catch { return null }
}

/** Whether a series of memory samples stayed bounded: the last third's peak not more than 25 % (and 64 MiB) over the middle third's. */
function bounded (samples: number[]): { ok: boolean, text: string } {
  if (samples.length < 6) return { ok: true, text: `${Math.max(...samples, 0)} MiB peak (too few samples to judge growth)` }
  const third = Math.floor(samples.length / 3)
  const middle = Math.max(...samples.slice(third, 2 * third))
  const last = Math.max(...samples.slice(2 * third))
  const ok = last <= middle * 1.25 || last - middle <= 64
  return { ok, text: `${middle} → ${last} MiB (middle third's peak → last third's)` }
}

/** The devnet's process, reported as measured; judged for growth as DEVNET_NET (see the header). */
const DEVNET = 'devnet + genesis providers'
const DEVNET_NET = 'devnet + genesis providers, net of its block store'
/**
 * The joined provider, reported as measured; judged net of the chain's blocks as the devnet's store holds them: its
 * full node executes the same chain and keeps every block in memory the same way (all of them loaded from its
 * LevelDB again at a restart: full-node/index.ts). Each life of the process is judged on its own samples ("memory of
 * every process bounded"): judged as one series, the long run at ceee218 compared the killed process's middle third
 * with the restarted one, which had loaded the whole chain at once (357 → 487 MiB), and called that a leak.
 */
const JOINED = 'joined provider'
const JOINED_NET = 'joined provider, net of the chain\'s blocks'
const NOT_JUDGED = new Set([DEVNET, JOINED])

export async function loadRun (o: LoadOptions): Promise<Row> {
  const started = performance.now()
  const failures: string[] = []
  const crashWatch = watchCrashes(failures)
  const dir = await mkdtemp(path.join(tmpdir(), 'coffer-load-'))
  let d: Devnet | undefined
  let joined: Running | undefined
  const clients: Array<{ child: ReturnType<typeof spawn>, exited: Promise<number | null> }> = []
  let crashes = 0
  let accepted = 0
  let lost = 0
  const events: Array<LoadEvent & { client: number }> = []
  // the run's samples, judged for growth; the final sweep's (after runEnd) only for their peak
  const memory = new Map<string, number[]>()
  const sweepPeak = new Map<string, number>()
  let sweeping = false
  const sample = (name: string, mib: number | null): void => {
    if (mib === null) return
    if (sweeping) sweepPeak.set(name, Math.max(sweepPeak.get(name) ?? 0, mib))
    else memory.set(name, [...(memory.get(name) ?? []), mib])
  }
  try {
    // one devnet key makes the blocks: on two cores, nineteen Expected Consensus producers in one process (their
    // tipsets of several blocks, each checked and executed) held a 1 s chain to one block in 7 s and starved the
    // providers (Expected Consensus under load is the ec-* tests' subject; this run's is storage)
    d = await startDevnet({ dataDir: path.join(dir, 'devnet'), distDir: '/nonexistent', serveApp: false, rpcPort: 0, providers: o.providers, provingPeriod: o.provingPeriod, faucetCooldownMs: 0, consensus: 'single', log: () => {} })
    const devnet = d
    const network = path.join(dir, 'bootstrap.json')
    await writeFile(network, JSON.stringify(devnet.bootstrap()))
    const corrupter = devnet.providers[o.providers - 1]!.address
    // ---- the joined provider, a process of its own, and the clients' funds ----
    const joinedDir = path.join(dir, 'joined')
    const [, ...keys] = await Promise.all([
      initProvider(network, joinedDir),
      ...Array.from({ length: o.clients }, async () => await fundMarketClient(devnet, '50'))
    ])
    const up = await runProvider(joinedDir, failures, 'the joined provider')
    if (up === null) throw new Error(failures.join('; '))
    joined = up.running
    const joinedInfo: BootstrapProvider = { address: up.info.miner, peerId: up.info.peerId, addrs: up.info.addrs }
    // its miner on chain before any client quotes it
    await waitFor(() => devnet.chain.readState((s, r) => getMinerInfo(s, r, parseAddress(joinedInfo.address, 't').bytes)) !== null, 120_000)
    const providers = [...devnet.bootstrap().providers!, joinedInfo]
    console.log(`  (${providers.length} providers and ${o.clients} funded clients up in ${((performance.now() - started) / 1000).toFixed(1)} s; corrupting: ${corrupter}, crashing: ${joinedInfo.address})`)

    // ---- the clients ----
    const runStart = Date.now()
    const periods = Math.ceil((o.runMs * 3 / 1000) / o.provingPeriod) + 10
    for (let i = 0; i < o.clients; i++) {
      const cfg: LoadClientConfig = {
        index: i, bootstrap: devnet.bootstrap(), rpcUrl: devnet.rpcUrl!, secret: bytesToHex(keys[i]!.secret), address: addressToString(keys[i]!.address, 't'),
        providers, runMs: 10 * o.runMs, periods
      }
      // its key goes in a file of the run's folder, not on a command line every `ps` shows
      const cfgFile = path.join(dir, `client-${i}.json`)
      await writeFile(cfgFile, JSON.stringify(cfg), { mode: 0o600 })
      // LOAD_CPU_PROF=<folder>: each client writes a V8 CPU profile there on exit (where a client's time goes)
      const prof = process.env.LOAD_CPU_PROF === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${process.env.LOAD_CPU_PROF}`]
      const child = spawn(process.execPath, [...prof, '--experimental-websocket', '--import', 'tsx', CLIENT, cfgFile], { stdio: ['pipe', 'pipe', 'pipe'] })
      const exited = new Promise<number | null>(resolve => child.on('exit', (code) => resolve(code)))
      let lastErr = ''
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (!line.startsWith('LOAD ')) return
        const e = JSON.parse(line.slice(5)) as LoadEvent
        if (e.t === 'rss') sample(`client ${i}`, e.mib)
        else events.push({ ...e, client: i })
        if (process.env.LOAD_DEBUG === '1' && e.t !== 'rss' && e.t !== 'files' && e.t !== 'paych-call') console.log(`  [client ${i}] ${line.slice(5, 300)}`)
      })
      createInterface({ input: child.stderr! }).on('line', (line) => { lastErr = line })
      void exited.then((code) => { if (code !== 0) { crashes++; failures.push(`client ${i} exited ${String(code)}: ${lastErr.slice(0, 300)}`) } })
      clients.push({ child, exited })
    }

    // ---- faults on a schedule, the chain's pulse and everyone's memory, until the clients are done ----
    const faultsUntil = runStart + o.runMs * 0.7
    const corrupted = new Map<number, number>() // deal → epoch it was corrupted at
    let kills = 0
    let nextCorrupt = runStart + o.corruptEveryMs
    let nextKill = runStart + o.crashEveryMs
    let lastHeight = devnet.head().header.height
    let lastMove = Date.now()
    let longestStall = 0
    const allDone = Promise.all(clients.map(async c => await c.exited))
    let done = false
    void allDone.then(() => { done = true })
    let tick = 0
    /** The devnet's in-memory block store, sampled with its memory: how much of its growth is the chain's own blocks. */
    const footprints: Array<ReturnType<typeof devnet.chain.storeFootprint>> = []
    /** The devnet's process's JS heap and array buffers at the same samples: where any growth beyond the blocks is. */
    const usages: Array<{ heap: number, arrayBuffers: number }> = []
    let runEnd: number | null = null
    const restartFailures: string[] = []
    let restarting: Promise<void> | null = null
    while (!done) {
      await sleep(1000)
      const h = devnet.head().header.height
      if (h > lastHeight) { lastHeight = h; lastMove = Date.now() }
      longestStall = Math.max(longestStall, Date.now() - lastMove)
      if (++tick % 10 === 0) {
        const fp = devnet.chain.storeFootprint()
        footprints.push(fp)
        const u = process.memoryUsage()
        usages.push({ heap: u.heapUsed, arrayBuffers: u.arrayBuffers })
        const rss = rssOf(process.pid)
        sample(DEVNET, rss)
        sample(DEVNET_NET, rss === null ? null : rss - Math.round(fp.bufferBytes / 2 ** 20))
        const joinedRss = rssOf(joined.child.pid)
        sample(JOINED, joinedRss)
        // each life of the process on its own: a restarted one loads the chain at once, and is another process
        sample(kills === 0 ? JOINED_NET : `${JOINED_NET}, after restart ${kills}`, joinedRss === null ? null : joinedRss - Math.round(fp.bufferBytes / 2 ** 20))
      }
      if (tick % 60 === 0) {
        const n = (t: LoadEvent['t']): number => events.filter(e => e.t === t).length
        console.log(`  ${Math.round((Date.now() - runStart) / 1000)} s: height ${h}, ${n('deal')} deals (${n('deal-failed')} attempts failed), ${n('retrieve')} retrievals (${n('retrieve-failed')} failed), ${n('audit')} audits; ${events.filter(e => e.t === 'files').length} clients done`)
        if (process.env.LOAD_DEBUG === '1') console.log(`  [joined provider] …${joined.output().slice(-400).replaceAll('\n', ' | ')}`)
      }
      const now = Date.now()
      // faults stop at 70 % of the run, so that periods settle after them; the first of each kind may come until the
      // run's end on a slow machine (the settling below waits two periods after the clients are done anyway)
      const inWindow = (count: number): boolean => count === 0 ? runEnd === null : now < faultsUntil
      // the clients stop once the run lasted runMs and each kind of fault was injected (on a slow machine the first
      // deals start late, so that may take longer), or at ten times runMs whatever happened
      if (runEnd === null && now - runStart >= o.runMs && ((corrupted.size > 0 && kills > 0) || now - runStart >= 10 * o.runMs)) {
        runEnd = now
        sweeping = true
        for (const c of clients) c.child.stdin!.end()
      }
      if (inWindow(corrupted.size) && now >= nextCorrupt) {
        // a started deal of the corrupting provider that is not corrupted yet (none yet: looked for again each second,
        // so a slow machine whose first deals start late still gets its corruption)
        const candidates = events.flatMap(e => e.t === 'deal' && e.provider === corrupter && !corrupted.has(e.dealId) ? [e.dealId] : [])
          .filter(id => { const r = devnet.chain.readState((s, root) => readDeal(s, root, id)); return r !== null && r.proposal.startEpoch <= h })
        const id = candidates[Math.floor(Math.random() * candidates.length)]
        if (id !== undefined) {
          nextCorrupt = now + o.corruptEveryMs
          const c = coffer(['provider', 'corrupt', String(id), '--data', path.join(dir, 'devnet'), '--provider', corrupter])
          if (await c.exited === 0) { corrupted.set(id, devnet.head().header.height); console.log(`  corrupted deal ${id} of ${corrupter} at epoch ${corrupted.get(id)!}`) } else failures.push(`coffer provider corrupt ${id} failed: ${c.output().slice(-300)}`)
        }
      }
      // a restart runs beside this loop (a loaded machine syncs a restarted provider for minutes: the pulse, the
      // samples and the corruptions go on meanwhile); it is given minutes of silence, and tried again if it fails
      if (restarting === null && inWindow(kills) && now >= nextKill) {
        nextKill += o.crashEveryMs
        await killHard(joined)
        kills++
        const killedAt = Date.now()
        restarting = (async () => {
          await sleep(3000)
          const again = await runProvider(joinedDir, restartFailures, `the joined provider after kill ${kills}`, 300_000)
          if (again !== null) { joined = again.running; console.log(`  killed and restarted ${joinedInfo.address} (${kills}): serving again ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`) }
        })().finally(() => { restarting = null })
      } else if (restarting === null && !alive(joined)) {
        // not one of our kills (those leave it SIGKILLed): it died on its own
        if (joined.child.signalCode !== 'SIGKILL') { crashes++; failures.push(`the joined provider exited on its own: ${joined.output().slice(-300)}`) }
        restarting = (async () => {
          const again = await runProvider(joinedDir, restartFailures, 'the joined provider, started again', 300_000)
          if (again !== null) joined = again.running
        })().finally(() => { restarting = null })
      }
    }
    await allDone
    await restarting
    if (!alive(joined)) { lost++; failures.push(`the joined provider is down at the end: ${restartFailures.slice(-1)[0] ?? ''}`) }
    const runMs = (runEnd ?? Date.now()) - runStart
    const sweepMs = Date.now() - runStart - runMs

    // ---- settle: two more periods, so every fault injected before faultsUntil has had a period settled after it ----
    const settleTo = devnet.head().header.height + 2 * o.provingPeriod + 2
    await waitFor(() => devnet.head().header.height >= settleTo, 4 * o.provingPeriod * 5000)
    const deals = events.flatMap(e => e.t === 'deal' ? [e] : [])
    let unpaidFaults = 0
    let crasherTerminated = 0
    let honestMissed = 0
    let caught = 0
    for (const e of deals) {
      const r = devnet.chain.readState((s, root) => readDeal(s, root, e.dealId))
      if (r === null) { lost++; failures.push(`deal ${e.dealId} (${e.provider}) is gone from the chain`); continue }
      const missed = r.periods.filter(p => p.settled && p.proof === null)
      for (const p of missed) if (p.penalty <= 0n) { unpaidFaults++; accepted++; failures.push(`deal ${e.dealId} (${e.provider}): a period settled with no proof and no penalty`) }
      const at = corrupted.get(e.dealId)
      if (at !== undefined) {
        // caught: a period that began after the corruption settled unproven, with its penalty paid to the client
        const periodStart = (i: number): number => r.proposal.startEpoch + i * o.provingPeriod
        const after = r.periods.some((p, i) => periodStart(i) >= at && p.settled && p.proof === null && p.penalty > 0n)
        if (after) caught++
        else { accepted++; failures.push(`deal ${e.dealId} corrupted at epoch ${at}: no penalized period after it (${r.periods.map(p => p.proof === null ? (p.settled ? 'F' : '?') : 'P').join('')})`) }
      } else if (r.state.slashEpoch !== -1 && e.provider === joinedInfo.address) {
        // the killed provider down for more consecutive periods than the market allows (a slow machine restarts it
        // slowly): the chain ended its deal and charged every missed period (checked above); the file has its other copy
        crasherTerminated++
      } else if (r.state.slashEpoch !== -1) {
        lost++
        failures.push(`deal ${e.dealId} (${e.provider}) terminated at ${r.state.slashEpoch} though nobody corrupted it`)
      } else if (e.provider !== joinedInfo.address && missed.length > 0) honestMissed += missed.length
    }
    // ---- what the clients saw ----
    const wrong = events.filter(e => e.t === 'wrong-bytes')
    accepted += wrong.length
    for (const w of wrong) failures.push(`client ${w.client}: wrong bytes delivered (${JSON.stringify(w)})`)
    const finalFailed = events.filter(e => e.t === 'retrieve-failed' && e.final)
    lost += finalFailed.length
    for (const f of finalFailed) failures.push(`client ${f.client}: a stored file could not be retrieved at the end: ${JSON.stringify(f)}`)
    const filesDone = events.filter(e => e.t === 'files').length
    // (a client that did not finish exited non-zero or was killed: counted as a crash where its exit is seen)
    if (filesDone < o.clients) failures.push(`${o.clients - filesDone} clients did not finish`)
    // a run that made no deal measured nothing: red, not a table of zeros
    if (deals.length === 0) { lost++; failures.push('the clients made no deal') }
    if (longestStall > 60_000) { lost++; failures.push(`the chain went ${secs(longestStall)} without a new block`) }
    const unbounded = [...memory.entries()].filter(([name, s]) => !NOT_JUDGED.has(name) && !bounded(s).ok)
    for (const [name, s] of unbounded) { lost++; failures.push(`${name}: memory grew: ${bounded(s).text}`) }

    const ms = (t: LoadEvent['t'], f: (e: LoadEvent) => boolean = () => true): number[] => events.filter(e => e.t === t && f(e)).map(e => (e as { ms: number }).ms)
    const dealMs = ms('deal')
    const retrieveMs = ms('retrieve', e => e.t === 'retrieve' && !e.final)
    const retrievals = events.filter(e => e.t === 'retrieve') as Array<Extract<LoadEvent, { t: 'retrieve' }>>
    const finalMs = retrievals.filter(e => e.final).map(e => e.ms)
    const auditMs = ms('audit')
    const audits = events.filter(e => e.t === 'audit') as Array<Extract<LoadEvent, { t: 'audit' }>>
    const dealFailures = new Map<string, number>()
    for (const e of events) if (e.t === 'deal-failed') { const k = `${e.provider} ${e.error.split(':')[0]!}`; dealFailures.set(k, (dealFailures.get(k) ?? 0) + 1) }
    const figures = [
      `${deals.length} deals in ${secs(runMs)}: ${(deals.length / (runMs / 60_000)).toFixed(1)} deals/min (two copies a file), then every file retrieved once more in ${secs(sweepMs)}`,
      `deal attempts refused or failed (the copy went to another provider): ${dealFailures.size === 0 ? 'none' : [...dealFailures.entries()].map(([k, n]) => `${k} ×${n}`).join(', ')}`,
      `latency p50/p99: deal ${secs(percentile(dealMs, 50))}/${secs(percentile(dealMs, 99))}, retrieval ${secs(percentile(retrieveMs, 50))}/${secs(percentile(retrieveMs, 99))} (${retrieveMs.length}), audit ${secs(percentile(auditMs, 50))}/${secs(percentile(auditMs, 99))} (${auditMs.length}, ${audits.filter(a => !a.ok).length} failed: ${audits.filter(a => !a.ok && a.provider === corrupter).length} of the corrupter, ${audits.filter(a => !a.ok && a.provider === joinedInfo.address).length} of the crasher)`,
      `retrieval's parts, p50/p99: finding the providers (verified miner info, a quote) ${secs(percentile(retrievals.map(e => e.locateMs), 50))}/${secs(percentile(retrievals.map(e => e.locateMs), 99))}, the payer (channel messages and reads) ${secs(percentile(retrievals.map(e => e.payMs), 50))}/${secs(percentile(retrievals.map(e => e.payMs), 99))}; the final sweep's retrievals ${secs(percentile(finalMs, 50))}/${secs(percentile(finalMs, 99))} (${finalMs.length}, ${retrievals.filter(e => e.final && e.attempts > 1).length} resumed after a cut attempt; ${events.filter(e => e.t === 'retrieve-retry').length} attempts cut in all)`,
      `the payer's chain calls, p50/p99: ${(['read', 'send', 'wait'] as const).map(k => { const xs = events.flatMap(e => e.t === 'paych-call' && e.kind === k ? [e.ms] : []); return `${k === 'read' ? 'verified channel reads' : k === 'send' ? 'messages sent and waited for' : 'waits on a message sent earlier'} ${secs(percentile(xs, 50))}/${secs(percentile(xs, 99))} (${xs.length})` }).join(', ')}`,
      `faults: ${corrupted.size} deals corrupted, ${caught} caught and paid on chain; ${kills} kills of ${joinedInfo.address} (${crasherTerminated} of its deals ended by consecutive faults, each period paid); ${unpaidFaults} unpaid faults; ${honestMissed} missed periods of honest providers`,
      `chain: longest without a new block ${secs(longestStall)}, height ${devnet.head().header.height}`,
      `the devnet's block store (held in memory): ${[footprints[Math.floor(footprints.length / 3)], footprints.at(-1)].filter(f => f !== undefined).map(f => `${f.blocks} blocks, ${(f.bytes / 2 ** 20).toFixed(0)} MiB (${(f.bufferBytes / 2 ** 20).toFixed(0)} MiB of buffers)`).join(' → ')}`,
      `the devnet's process (JS heap, array buffers): ${[usages[Math.floor(usages.length / 3)], usages.at(-1)].filter(u => u !== undefined).map(u => `${(u.heap / 2 ** 20).toFixed(0)} MiB, ${(u.arrayBuffers / 2 ** 20).toFixed(0)} MiB`).join(' → ')}`,
      ...[...memory.entries()].map(([name, s]) => `memory: ${name}: ${bounded(s).text}${NOT_JUDGED.has(name) ? ' (not judged: see the next line)' : ''}${sweepPeak.has(name) ? `; the final sweep's peak ${sweepPeak.get(name)!} MiB` : ''}`)
    ]
    for (const f of figures) console.log(`  ${f}`)
    const tries = deals.length + events.filter(e => e.t === 'retrieve' || e.t === 'retrieve-failed' || e.t === 'audit').length
    return { scenario: `load: ${o.providers + 1} providers, ${o.clients} clients`, tries, acceptedLies: accepted, crashes: crashes + crashWatch.count(), dataLost: lost, ms: performance.now() - started, failures, figures }
  } finally {
    for (const c of clients) c.child.kill('SIGKILL')
    if (joined !== undefined) await killHard(joined)
    await d?.stop()
    await rm(dir, { recursive: true, force: true })
    crashWatch.stop()
  }
}
