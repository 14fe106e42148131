// Provider process memory and time to first deal (`BENCH_ONLY=provider-memory`; issue 12's "memory of one provider
// process idle and under one upload" and "time from `coffer provider run` to the provider taking its first deal"):
// a devnet with no genesis providers, then `coffer provider init` + `coffer provider run` as child processes in a
// temp folder, as an operator runs them. The child's RSS (/proc/<pid>/status VmRSS) is sampled idle after its
// ready line, then while a Node client (its own libp2p node) finds it through its on-chain record and uploads a
// BENCH_PROVIDER_MIB (default 64) MiB file to it until the deal is published. Printed, never asserted; every wait
// is bounded, so a provider that never becomes ready or a stuck upload is reported as the section's failure.
import path from 'node:path'
import { tmpdir } from 'node:os'
import { spawn, type ChildProcess } from 'node:child_process'
import { open, readFile, rm, mkdtemp, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { secpAddressBytes, secpPublicKey, signDealProposal, getMinerInfo, parseAddress, DealRejectedError } from '../../src/core'
import { createCofferLibp2p } from '../../src/net'
import { startDevnet } from '../../src/node/devnet'
import { pieceOfFile } from '../../src/node/piece-file'
import { fileChunks } from '../../src/node/prove-possession'
import { StorageClient, writeUnixfsCar } from '../../src/light'
import { writeRandomFile, nodeDealChain } from './upload'

const fmt = (n: number, digits = 1): string => n.toFixed(digits)
const MiB = 2 ** 20
const bin = fileURLToPath(new URL('../../src/node/bin.mjs', import.meta.url))

/** Bounds: past these the section fails with what the provider printed last. */
const INIT_MS = 60_000
const READY_MS = 120_000
const UPLOAD_MS = 300_000
/** Idle samples after the ready line, one every IDLE_EVERY_MS (the idle figure is their median). */
const IDLE_SAMPLES = 25
const IDLE_EVERY_MS = 200
const UPLOAD_EVERY_MS = 100

class BenchTimeoutError extends Error {
  static override name = 'BenchTimeoutError'
  override name = 'BenchTimeoutError'
}

interface Cli { child: ChildProcess, output: () => string, exited: Promise<number | null> }

/** `coffer …` in its own process group, so the end of the section ends it and whatever it started. */
function coffer (args: string[]): Cli {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let out = ''
  child.stdout!.on('data', (b: Buffer) => { out += b.toString() })
  child.stderr!.on('data', (b: Buffer) => { out += b.toString() })
  const exited = new Promise<number | null>(resolve => child.on('exit', (code) => resolve(code)))
  return { child, output: () => out, exited }
}

async function stopGroup (cli: Cli): Promise<void> {
  if (cli.child.exitCode !== null || cli.child.signalCode !== null) return
  const group = (sig: NodeJS.Signals): void => { try { process.kill(-cli.child.pid!, sig) } catch { /* gone */ } }
  group('SIGTERM')
  const kill = setTimeout(() => { group('SIGKILL') }, 10_000)
  await cli.exited
  clearTimeout(kill)
}

/** Resolves with `p`, or fails naming `what` (and the provider's last output) after `ms`. */
async function within<T> (p: Promise<T>, ms: number, what: string, tail: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new BenchTimeoutError(`${what}: nothing after ${ms / 1000} s; the provider printed last:\n${tail()}`)) }, ms)
  })
  try { return await Promise.race([p, timeout]) } finally { clearTimeout(timer) }
}

/** Polls `fn` until it gives a value, bounded like `within`. */
async function poll<T> (fn: () => T | undefined, ms: number, what: string, tail: () => string): Promise<T> {
  const end = performance.now() + ms
  for (;;) {
    const v = fn()
    if (v !== undefined) return v
    if (performance.now() > end) throw new BenchTimeoutError(`${what}: nothing after ${ms / 1000} s; the provider printed last:\n${tail()}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

/** VmRSS of `pid` in bytes (0 once it is gone). */
async function rssBytes (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024
}

/** VmHWM of `pid` in bytes: the kernel's own peak RSS since the process started. */
async function hwmBytes (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024
}

/** Samples `pid`'s RSS every `everyMs` until stopped. */
function sampleRss (pid: number, everyMs: number): { stop: () => Promise<number[]> } {
  const samples: number[] = []
  let on = true
  const loop = (async () => {
    while (on) {
      samples.push(await rssBytes(pid))
      await new Promise(resolve => setTimeout(resolve, everyMs))
    }
  })()
  return { stop: async () => { on = false; await loop; return samples } }
}

let benchStarted = 0
/** A progress line, so a slow phase shows where the time went. */
const phase = (what: string): void => { console.log(`  [${fmt((performance.now() - benchStarted) / 1000)} s] ${what}`) }

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0

export async function benchProviderMemory (mib = Number(process.env.BENCH_PROVIDER_MIB ?? 64)): Promise<void> {
  benchStarted = performance.now()
  console.log(`\nprovider process (\`coffer provider run\` as a child process, devnet with no genesis providers), one ${mib} MiB upload from a Node client`)
  const dir = await mkdtemp(path.join(tmpdir(), 'coffer-bench-provider-'))
  const clis: Cli[] = []
  const d = await startDevnet({ dataDir: path.join(dir, 'devnet'), distDir: '/nonexistent', serveApp: false, rpcPort: 0, providers: 0, provingPeriod: 30, faucetCooldownMs: 0 })
  const clientNode = await createCofferLibp2p({ listen: [] })
  try {
    // the client's side first (file, CAR, CommP, funds), so the provider's clock below counts the provider, not the packing
    const file = path.join(dir, 'file.bin')
    await writeRandomFile(file, mib)
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
    const sc = new StorageClient(clientNode, nodeDealChain(d, key), { address, sign: async (p) => signDealProposal(key, p) })

    phase(`client ready: ${fmt(packed.carBytes / MiB)} MiB CAR packed, CommP computed, client funded`)
    const bootstrapFile = path.join(dir, 'bootstrap.json')
    await writeFile(bootstrapFile, JSON.stringify(d.bootstrap()))
    const providerDir = path.join(dir, 'provider')
    const init = coffer(['provider', 'init', '--network', bootstrapFile, '--data', providerDir])
    clis.push(init)
    const initCode = await within(init.exited, INIT_MS, '`coffer provider init`', () => init.output().slice(-2000))
    if (initCode !== 0) throw new Error(`\`coffer provider init\` exited with ${String(initCode)}:\n${init.output().slice(-2000)}`)

    phase('`coffer provider init` done (worker funded from the faucet)')
    const runStarted = performance.now()
    const run = coffer(['provider', 'run', '--data', providerDir])
    clis.push(run)
    const tail = (): string => run.output().slice(-2000)
    const exitedEarly = run.exited.then((code) => { throw new Error(`\`coffer provider run\` exited with ${String(code)}:\n${tail()}`) })
    exitedEarly.catch(() => {})
    const ready = await within(Promise.race([poll(() => /provider ready (\{.*\})/.exec(run.output())?.[1], READY_MS, 'the provider\'s ready line', tail), exitedEarly]), READY_MS + 1000, 'the provider\'s ready line', tail)
    const readyAt = performance.now()
    const info = JSON.parse(ready) as { miner: string, peerId: string, addrs: string[], gateway: string, startupMs: number }
    const pid = run.child.pid!
    phase(`provider ready: ${info.miner}`)

    const idle: number[] = []
    for (let i = 0; i < IDLE_SAMPLES; i++) {
      idle.push(await rssBytes(pid))
      await new Promise(resolve => setTimeout(resolve, IDLE_EVERY_MS))
    }

    // the client knows the provider by its on-chain record (multiaddrs without /p2p, the PeerId apart), as a tab does
    const miner = parseAddress(info.miner, 't').bytes
    const record = d.chain.readState((s, r) => getMinerInfo(s, r, miner))
    if (record === null || record.multiaddrs.length === 0) throw new Error(`${info.miner} has no multiaddrs on chain after its ready line`)
    const provider = { address: info.miner, peerId: info.peerId, addrs: info.addrs, gateway: info.gateway }
    const { quotes, failures } = await sc.quotes([provider], AbortSignal.timeout(30_000))
    if (quotes.length === 0) throw new Error(`no ask from ${info.miner}: ${failures.map(f => f.error.message).join('; ')}`)
    phase('ask answered; uploading')
    const during: number[] = []
    const sampler = sampleRss(pid, UPLOAD_EVERY_MS)
    const uploadStarted = performance.now()
    let dealId: number | undefined
    try {
      for (let attempt = 1; dealId === undefined; attempt++) {
        // planned from the devnet's head; the provider's full node follows it a block behind or so, and may refuse
        // escrow added in the latest block (FUNDS) or a start its own head makes too soon (START): try again a block on
        const plan = sc.plan(quotes, { pieceCid: piece.v1, paddedBytes: piece.digest.paddedBytes, payloadBytes: packed.carBytes, label: packed.root.toString(), copies: 1, periods: 10 })
        await sc.ensureEscrow(plan.escrowNeeded)
        const signed = await sc.sign(plan.proposals[0]!.proposal)
        try {
          dealId = (await within(Promise.race([
            sc.transfer(plan.proposals[0]!.provider.provider, signed, packed.carBytes, (offset) => fileChunks(carFile, offset), { signal: AbortSignal.timeout(UPLOAD_MS) }),
            exitedEarly
          ]), UPLOAD_MS + 1000, 'the upload', tail)).dealId
        } catch (err) {
          if (!(err instanceof DealRejectedError) || !['FUNDS', 'START'].includes(err.code) || attempt >= 4) throw err
          console.log(`  (attempt ${attempt} refused: ${err.code}, ${err.message}; again after the next block)`)
          const h = d.head().header.height
          await poll(() => d.head().header.height > h + 1 ? true : undefined, 30_000, 'the next blocks', tail)
        }
      }
    } finally {
      await sampler.stop().then(s => { during.push(...s) })
    }
    const dealAt = performance.now()
    phase(`deal ${dealId} published`)
    const hwm = await hwmBytes(pid)
    const after = await rssBytes(pid)

    const carMiB = packed.carBytes / MiB
    console.log(`  \`coffer provider run\` → ready (synced, miner created with its pledge, multiaddrs on chain): ${fmt((readyAt - runStarted) / 1000)} s (it reports ${fmt(info.startupMs / 1000)} s)`)
    console.log(`  \`coffer provider run\` → first deal taken (deal ${dealId} published on chain): ${fmt((dealAt - runStarted) / 1000)} s, of which the ${fmt(carMiB)} MiB transfer and publication ${fmt((dealAt - uploadStarted) / 1000)} s`)
    console.log(`  RSS idle after ready: ${fmt(median(idle) / MiB, 0)} MiB median of ${idle.length} samples over ${fmt(IDLE_SAMPLES * IDLE_EVERY_MS / 1000)} s (min ${fmt(Math.min(...idle) / MiB, 0)}, max ${fmt(Math.max(...idle) / MiB, 0)})`)
    console.log(`  RSS during the upload: peak ${fmt(Math.max(...during) / MiB, 0)} MiB sampled every ${UPLOAD_EVERY_MS} ms (${during.length} samples) = ${fmt(Math.max(...during) / median(idle), 2)}x idle; after the deal ${fmt(after / MiB, 0)} MiB; kernel high-water mark (VmHWM, since start) ${fmt(hwm / MiB, 0)} MiB`)
  } finally {
    for (const c of clis.reverse()) await stopGroup(c)
    await clientNode.stop()
    await d.stop()
    await rm(dir, { recursive: true, force: true })
  }
}
