// An open network seen from the tab, in real Chromium (issue 12): the tab talks to several nodes from the
// bootstrap document (the devnet, a second full node, a node that lies about state) and cross-checks them: the
// honest ones are shown agreeing with the verified chain, the liar named as dropped with its reason. A provider
// that joins after the page loaded, from its own process and folder (`coffer provider init` / `run`), appears in
// the Upload view from the chain's miner list (its ask verified against its on-chain record) and takes an upload;
// once it is gone it is shown offline.
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromiumPath, launchChromium } from '../helpers/chromium'
import { fundedWallet } from '../helpers/app-page'
import { requireBuiltApp } from '../helpers/dist'
import { until, untilProgress } from '../helpers/until'
import { startLyingStatePeer } from '../helpers/lying-state-peer'
import { uploadCardSeen, whileProgressing } from './helpers/retrieval-ui'
import { startDevnet, type Devnet } from '../../src/node/devnet'
import { startFullNode } from '../../src/node/full-node'

const bin = fileURLToPath(new URL('../../src/node/bin.mjs', import.meta.url))
const debug = process.env.DEBUG_DEVNET !== undefined
let distDir: string
let dir: string
const cleanups: Array<() => Promise<void>> = []
afterAll(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

beforeAll(async () => {
  chromiumPath()
  distDir = requireBuiltApp()
  dir = await mkdtemp(path.join(tmpdir(), 'coffer-open-'))
  cleanups.push(async () => { await rm(dir, { recursive: true, force: true }) })
  // Node 20 has no global WebSocket, and the in-process full node dials its peers with it (as bin.mjs does)
  if (typeof globalThis.WebSocket === 'undefined') (globalThis as { WebSocket?: unknown }).WebSocket = (await import('ws')).WebSocket
})

interface Cli { output: () => string, exited: Promise<number | null>, child: ChildProcess }

/** Runs `coffer …` as its own process group, killed whole at the end. */
function coffer (args: string[]): Cli {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let out = ''
  const take = (b: Buffer): void => { out += b.toString(); if (debug) process.stdout.write(`[${args[1]}] ${b.toString()}`) }
  child.stdout!.on('data', take)
  child.stderr!.on('data', take)
  const exited = new Promise<number | null>(resolve => child.on('exit', (code) => resolve(code)))
  cleanups.push(async () => {
    if (child.exitCode !== null) return
    try { process.kill(-child.pid!, 'SIGKILL') } catch {}
    await exited
  })
  return { child, output: () => out, exited }
}

const nodeRows = '[data-testid=node-row]'

describe('an open network in the tab', () => {
  it('cross-checks several nodes (a liar named and dropped); a provider that joined after the page loaded appears and takes an upload', async () => {
    // the bootstrap document's peers are read on each request: nodes started below are listed before the page loads
    const extraPeers: string[] = []
    // proving periods of 20 epochs (20 s): this test is not about proofs, and the genesis provider is the only one with
    // power, so one proof that misses its window on a loaded machine (a 5-epoch period gives it ~4 s) faults its deal,
    // leaves the chain without power and stops it for good, as Lotus's weight refuses a chain whose power is gone
    // (seen in CI: every later message waited forever)
    const d: Devnet = await startDevnet({
      dataDir: path.join(dir, 'devnet'), distDir, httpPort: 0, rpcPort: 0, providers: 1, provingPeriod: 20, faucetCooldownMs: 0, extraPeers,
      log: debug ? (l) => { console.log(`[devnet] ${l}`) } : undefined
    })
    cleanups.push(async () => { await d.stop() })
    // a second full node, syncing and re-executing the chain from the devnet
    const full = await startFullNode({ dataDir: path.join(dir, 'node'), bootstrap: d.bootstrap(), listen: ['/ip4/127.0.0.1/tcp/0/ws'], rpcPort: null })
    cleanups.push(async () => { await full.stop() })
    await full.synced()
    extraPeers.push(...full.libp2p.getMultiaddrs().map(String))
    // and a node that serves the honest headers but lies about state
    const liar = await startLyingStatePeer(d)
    cleanups.push(liar.stop)
    extraPeers.push(liar.addr)
    const ids = { devnet: d.libp2p.peerId.toString(), full: full.libp2p.peerId.toString(), liar: liar.libp2p.peerId.toString() }

    const b = await launchChromium()
    cleanups.push(b.close)
    const page = await b.context.newPage()
    const errors: string[] = []
    page.on('pageerror', err => errors.push(err.message))
    await page.goto(`${d.url!}#chain`)

    if (debug) {
      page.on('console', m => { console.log(`[console] ${m.text()}`) })
      const t = setInterval(() => { void page.textContent('main').then(x => { console.log(`[page] ${x}`) }, () => {}) }, 5000)
      cleanups.push(async () => { clearInterval(t) })
    }
    // the Chain view: the two honest nodes agree with the verified chain; the liar is named, with the reason
    await page.waitForSelector(`${nodeRows}[data-peer="${ids.devnet}"][data-state=agreeing]`, { timeout: 60_000 })
    await page.waitForSelector(`${nodeRows}[data-peer="${ids.full}"][data-state=agreeing]`, { timeout: 60_000 })
    const dropped = page.locator(`${nodeRows}[data-peer="${ids.liar}"][data-state=dropped]`)
    await dropped.waitFor({ timeout: 60_000 })
    expect(await page.locator(`[data-testid=node-reason][data-peer="${ids.liar}"]`).textContent()).toMatch(/^StateProofRejectedError: .*Hung up on; not used again this session\./)
    // hung up on, and not redialled: the tab holds no connection to it
    await until(() => liar.libp2p.getConnections().length === 0 ? true : undefined, 15_000)

    await page.click('[data-testid=tab-wallet]')
    await fundedWallet(page, 'open network passphrase')
    await page.click('[data-testid=tab-upload]')
    await page.waitForSelector('[data-testid=provider-row][data-address=t01001][data-online=true]', { timeout: 30_000 })

    // a provider joins now, from its own process and folder: funded by the faucet, its miner created on chain
    const providerDir = path.join(dir, 'provider')
    const init = coffer(['provider', 'init', '--network', d.url!, '--data', providerDir])
    expect(await init.exited, init.output()).toBe(0)
    const joinedAt = Date.now()
    const run = coffer(['provider', 'run', '--data', providerDir])
    // it syncs the chain by re-executing it from genesis, as any full node joins: waited for while its output moves (a
    // loaded machine syncs a few heads a second), not by a clock
    const ready = await untilProgress(() => run.output().match(/provider ready (\{.*\})/) ?? undefined, () => run.output().length, 60_000, () => run.output().slice(-3000))
    const joined = JSON.parse(ready[1]!) as { miner: string, peerId: string }
    const readyAt = Date.now()
    expect(d.bootstrap().providers?.some(p => p.address === joined.miner)).toBe(false) // the tab can only learn it from the chain

    const row = `[data-testid=provider-row][data-address=${joined.miner}][data-online=true]`
    await page.waitForSelector(row, { timeout: 60_000 })
    const shownAfterMs = Date.now() - joinedAt
    const shownAfterReadyMs = Date.now() - readyAt
    expect(await page.locator(`${row} [data-testid=provider-status]`).textContent()).toMatch(/online/)

    // it takes an upload: chosen by hand, one copy
    await page.check(`${row} input[type=checkbox]`)
    await page.fill('[data-testid=upload-copies]', '1')
    await page.fill('[data-testid=upload-periods]', '2')
    const file = Buffer.alloc(300 * 1024)
    for (let i = 0; i < file.length; i += 4) file.writeUInt32LE(Math.imul(i + 11, 2654435761) >>> 0, i)
    await page.setInputFiles('[data-testid=upload-input]', { name: 'joined.bin', mimeType: 'application/octet-stream', buffer: file })
    // waits while the card's stage and bars move (a slow machine gets all the time it keeps making progress);
    // a failed upload is reported at once with what the card said
    await whileProgressing('upload', async () => await uploadCardSeen(page)).catch(async (err: Error) => {
      // what the Chain view says of each node (a node dropped mid-upload is hung up on at every dial)
      await page.click('[data-testid=tab-chain]').catch(() => {})
      await page.waitForTimeout(1000)
      const nodes = await page.locator(`${nodeRows}, [data-testid=node-reason]`).evaluateAll(rows => rows.map(r => `${r.getAttribute('data-peer') ?? ''} ${r.getAttribute('data-state') ?? ''}: ${r.textContent ?? ''}`)).catch(() => [])
      throw new Error(`${err.message}\nnodes:\n${nodes.join('\n')}\nprovider ${joined.peerId} output:\n${run.output().slice(-3000)}`)
    })
    expect(await page.textContent('[data-testid=upload-card] [data-testid=send-progress]')).toContain(`Sending to ${joined.miner}`)

    // the provider's own node said hello too: the Chain view lists it as a provider, agreeing
    await page.click('[data-testid=tab-chain]')
    await page.waitForSelector(`${nodeRows}[data-peer="${joined.peerId}"][data-role=provider][data-state=agreeing]`, { timeout: 30_000 })
    expect(await page.locator(`${nodeRows}[data-state=agreeing]`).count()).toBeGreaterThanOrEqual(3)
    if (debug) await page.screenshot({ path: path.join(tmpdir(), 'open-network-chain.png'), fullPage: true })
    console.log(`[open-network] provider shown in the Upload view ${shownAfterMs} ms after 'coffer provider run' started (${shownAfterReadyMs} ms after it was ready)`)

    // the provider goes away: its ask query fails at the next refresh, and it is shown offline (and not offered)
    process.kill(-run.child.pid!, 'SIGKILL')
    await run.exited
    await page.click('[data-testid=tab-upload]')
    const gone = `[data-testid=provider-row][data-address=${joined.miner}][data-online=false]`
    await page.waitForSelector(gone, { timeout: 60_000 })
    expect(await page.locator(`${gone} [data-testid=provider-status]`).textContent()).toMatch(/offline/)
    expect(await page.locator(`${gone} input[type=checkbox]`).isDisabled()).toBe(true)
    if (debug) await page.screenshot({ path: path.join(tmpdir(), 'open-network-upload.png'), fullPage: true })
    expect(await page.locator('[data-testid=provider-row][data-address=t01001][data-online=true]').count()).toBe(1)
    expect(errors).toEqual([])
  }, 600_000)
})
