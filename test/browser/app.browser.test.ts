// The whole path in real Chromium: the PWA's worker light client syncs verified headers from a devnet,
// keeps them in IndexedDB, opens offline from the service worker, and rejects a lying peer.
import { describe, it, expect, beforeAll, afterEach } from 'vitest'
import { mkdtemp, rm, cp, appendFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Page } from 'playwright-core'
import { startDevnet, type Devnet } from '../../src/node/devnet'
import { startAppServer } from '../../src/node/app-server'
import { launchChromium, chromiumPath, type Browser } from '../helpers/chromium'
import { requireBuiltApp } from '../helpers/dist'
import { startMaliciousPeer } from '../helpers/malicious-peer'

let distDir: string
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

beforeAll(() => {
  chromiumPath() // fails here, clearly, when no Chromium is installed
  distDir = requireBuiltApp()
})

async function devnet (serveApp = true): Promise<Devnet> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'coffer-devnet-'))
  const d = await startDevnet({ dataDir, distDir, httpPort: 0, serveApp })
  cleanups.push(async () => { await d.stop(); await rm(dataDir, { recursive: true, force: true }) })
  return d
}

async function browser (): Promise<Browser> {
  const b = await launchChromium()
  cleanups.push(b.close)
  return b
}

const height = async (page: Page): Promise<number> => Number(await page.textContent('[data-testid=verified-height]'))

async function waitForHeight (page: Page, atLeast: number): Promise<void> {
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid=verified-height]')?.textContent) >= n, atLeast, { timeout: 60_000 })
}

/** Reads the tab's IndexedDB directly: which of `cids` are stored, and how many headers in all. */
async function storedHeaders (page: Page, genesisCid: string, cids: string[]): Promise<{ count: number, present: string[] }> {
  return await page.evaluate(async ({ db, cids }) => {
    const open = await new Promise<IDBDatabase>((resolve, reject) => {
      const req = indexedDB.open(db)
      req.onsuccess = () => resolve(req.result)
      req.onerror = () => reject(req.error)
    })
    // schema v2 (header-store.ts): every verified header by CID in `blocks`
    const tx = open.transaction('blocks')
    const ask = <T>(r: IDBRequest<T>): Promise<T> => new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error) })
    const count = await ask(tx.objectStore('blocks').count())
    const present: string[] = []
    for (const cid of cids) if (await ask(tx.objectStore('blocks').getKey(cid)) !== undefined) present.push(cid)
    open.close()
    return { count, present }
  }, { db: `coffer-chain-${genesisCid}`, cids })
}

describe('Coffer PWA in Chromium', () => {
  it('syncs verified headers into IndexedDB, then opens offline from the service worker with the stored head', async () => {
    const d = await devnet()
    const { context } = await browser()
    const page = await context.newPage()
    await page.goto(d.url!)
    // (a) the chain advances in the UI, verified in the worker
    await waitForHeight(page, 5)
    await page.waitForSelector('[data-testid=sync-state]:text("synced")')
    expect(await page.textContent('[data-testid=peer-count]')).toBe('1')
    expect(await page.locator('[data-testid=header-row]').count()).toBeGreaterThanOrEqual(5)
    // installable: Chromium's own check of manifest, icons and service worker finds nothing missing
    await page.evaluate(async () => { await navigator.serviceWorker.ready })
    const cdp = await context.newCDPSession(page)
    const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors')
    expect(installabilityErrors).toEqual([])
    const genesis = d.genesis.header.cid.toString()
    const stored = await storedHeaders(page, genesis, [genesis])
    expect(stored.present).toEqual([genesis])
    expect(stored.count).toBeGreaterThanOrEqual(6)

    // (b) devnet and web server gone: a reload still opens the app, with the last verified head, offline
    await d.stop()
    const before = await height(page)
    const headBefore = await page.textContent('[data-testid=head-cid]')
    expect(before).toBeGreaterThanOrEqual(5)
    await page.reload()
    await page.waitForSelector('[data-testid=sync-state]:text("offline")', { timeout: 30_000 })
    expect(await page.isVisible('[data-testid=offline-banner]')).toBe(true)
    // and why nobody is connected: the dial to the node that is gone
    await page.waitForSelector('[data-testid=network-error]:has-text("dial")', { timeout: 30_000 })
    const after = await height(page)
    // the head shown is one this tab verified and stored before going offline
    expect(after).toBeGreaterThanOrEqual(before)
    expect(after).toBeLessThanOrEqual(before + 1)
    if (after === before) expect(await page.textContent('[data-testid=head-cid]')).toBe(headBefore)
    expect((await storedHeaders(page, genesis, [])).count).toBe(after + 1)
  })

  it('rejects a peer that serves a header with a bad signature, stores none of it, and shows why', async () => {
    const d = await devnet(false)
    const evil = await startMaliciousPeer(d.genesis, { length: 30 })
    cleanups.push(evil.stop)
    const app = await startAppServer({
      distDir, host: '127.0.0.1', port: 0,
      bootstrap: () => ({ ...d.bootstrap(), peers: [evil.addr, ...d.bootstrap().peers] })
    })
    cleanups.push(app.close)
    const { context } = await browser()
    const page = await context.newPage()
    await page.goto(app.url)
    const rejection = page.locator('[data-testid=last-rejection]')
    await rejection.waitFor({ timeout: 60_000 })
    expect(await page.textContent('[data-testid=rejection-reason]')).toBe('BadSignatureError')
    expect(await rejection.textContent()).toContain(evil.libp2p.peerId.toString().slice(-10))
    // the honest chain still syncs, and the liar is gone
    await waitForHeight(page, 3)
    await page.waitForFunction(() => document.querySelector('[data-testid=peer-count]')?.textContent === '1')
    const stored = await storedHeaders(page, d.genesis.header.cid.toString(), evil.forged.map(h => h.cid.toString()))
    expect(stored.present).toEqual([])
  })

  it('offers a new version through the update prompt, and applies it on request', async () => {
    const d = await devnet(false)
    // a private copy of the build, so this test can publish a "new version" without touching dist/
    const copy = await mkdtemp(path.join(tmpdir(), 'coffer-dist-'))
    cleanups.push(async () => { await rm(copy, { recursive: true, force: true }) })
    await cp(distDir, copy, { recursive: true })
    const app = await startAppServer({ distDir: copy, host: '127.0.0.1', port: 0, bootstrap: d.bootstrap })
    const { context } = await browser()
    const page = await context.newPage()
    await page.goto(app.url)
    await page.evaluate(async () => { await navigator.serviceWorker.ready })
    await page.reload() // now the page is controlled by the installed worker
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null)
    expect(await page.isVisible('text=A new version of Coffer is available')).toBe(false)

    // deploy a new release: the server restarts on the same origin with a changed service worker
    await app.close()
    await appendFile(path.join(copy, 'sw.js'), '\n// next release\n')
    const next = await startAppServer({ distDir: copy, host: '127.0.0.1', port: app.port, bootstrap: d.bootstrap })
    cleanups.push(next.close)
    await page.reload() // the browser checks sw.js on navigation, installs the new one, and it waits
    const prompt = page.locator('text=A new version of Coffer is available')
    await prompt.waitFor({ timeout: 30_000 })
    await Promise.all([
      page.waitForEvent('load', { timeout: 30_000 }),
      page.click('button:text("Reload to update")')
    ])
    await page.waitForSelector('[data-testid=verified-height]')
    expect(await page.isVisible('text=A new version of Coffer is available')).toBe(false)
  })
})
