// A devnet serving the built app and a fresh Chromium page on it, both torn down by the caller's cleanups:
// the start of every browser test that drives the app.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Page } from 'playwright-core'
import { parseFil } from '../../src/core'
import { startDevnet, type Devnet, type DevnetInit } from '../../src/node/devnet'
import { launchChromium } from './chromium'

export interface AppPage { devnet: Devnet, page: Page, dataDir: string, /** uncaught page errors, to assert empty */ errors: string[] }

export async function openAppPage (distDir: string, cleanups: Array<() => Promise<void>>, init: Partial<DevnetInit> = {}, hash = ''): Promise<AppPage> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'coffer-devnet-'))
  const devnet = await startDevnet({ dataDir, distDir, httpPort: 0, ...init })
  cleanups.push(async () => { await devnet.stop(); await rm(dataDir, { recursive: true, force: true }) })
  const b = await launchChromium()
  cleanups.push(b.close)
  const page = await b.context.newPage()
  const errors: string[] = []
  page.on('pageerror', err => errors.push(err.message))
  await page.goto(`${devnet.url!}${hash}`)
  return { devnet, page, dataDir, errors }
}

/** Creates a wallet in the app's Wallet view with `passphrase` and waits for the faucet's 100 FIL, verified. */
export async function fundedWallet (page: Page, passphrase: string): Promise<string> {
  await page.fill('[data-testid=new-passphrase]', passphrase)
  await page.fill('[data-testid=new-passphrase2]', passphrase)
  await page.click('[data-testid=create-wallet]')
  const address = (await page.textContent('[data-testid=wallet-address]', { timeout: 30_000 }))!
  await page.click('[data-testid=faucet]')
  // a ceiling, not a plan: the faucet payment waits for a block and the tab's verified read, which a CPU throttled
  // 4x on one core took over 30 s to show
  await page.waitForSelector(`[data-testid=balance][data-address="${address}"][data-atto="${parseFil('100')}"][data-verified=true]`, { timeout: 120_000 })
  return address
}
