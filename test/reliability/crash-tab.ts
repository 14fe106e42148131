// Crashes of the tab (issue 16 part 4): the app in real Chromium on one profile, its only page closed at random
// moments while the light node (in the SharedWorker, which goes with the last page) writes IndexedDB: a verified
// header every block, and the wallet's message records as the faucet is asked and its payments land. The page is
// opened again each time. Every open must find its stores consistent: the chain view shows a verified head at least
// as high as the one the page showed before it was closed (a head the user saw verified and then lost is data lost),
// the wallet opens with its key (an error banner or a missing key is data lost), and every faucet message the page
// showed is still in the history. An uncaught page error is a crash.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Page } from 'playwright-core'
import { startDevnet, type Devnet } from '../../src/node/devnet'
import { launchChromium, type Browser } from '../helpers/chromium'
import { fundedWallet } from '../helpers/app-page'
import { requireBuiltApp } from '../helpers/dist'
import { sleep } from './harness'
import type { Row } from './table'

const shownHeight = async (page: Page): Promise<number> => Number(await page.textContent('[data-testid=verified-height]', { timeout: 1000 }).catch(() => '-1'))
const shownFaucetCids = async (page: Page): Promise<string[]> =>
  await page.locator('[data-testid=history-row][data-kind=faucet]').evaluateAll(rows => rows.map(r => r.getAttribute('data-cid') ?? ''))

export async function crashTab (opts: { closes: number }): Promise<Row> {
  const started = performance.now()
  const failures: string[] = []
  const distDir = requireBuiltApp()
  const dataDir = await mkdtemp(path.join(tmpdir(), 'coffer-crash-tab-'))
  let d: Devnet | undefined
  let b: Browser | undefined
  let tries = 0
  let lost = 0
  let crashes = 0
  try {
    d = await startDevnet({ dataDir, distDir, httpPort: 0, rpcPort: 0, faucetCooldownMs: 0, log: () => {} })
    b = await launchChromium()
    const url = d.url!
    const open = async (): Promise<Page> => {
      const page = await b!.context.newPage()
      page.on('pageerror', err => { crashes++; failures.push(`page error: ${err.message}`) })
      await page.goto(url)
      return page
    }
    let page = await open()
    await page.click('[data-testid=tab-wallet]')
    const address = await fundedWallet(page, 'tab crash passphrase')
    let seenCids = await shownFaucetCids(page)
    await page.click('[data-testid=tab-chain]')
    let seenHeight = await shownHeight(page)
    if (seenHeight < 1) throw new Error(`the chain view shows no verified head (${seenHeight})`)
    await page.close()
    for (let k = 0; k < opts.closes; k++) {
      tries++
      const t0 = Date.now()
      page = await open()
      // what the stores hold, shown before the network has said anything new
      await page.waitForFunction(() => document.querySelector('[data-testid=verified-height]') !== null, undefined, { timeout: 30_000 }).catch(() => {})
      const reopened = await page.waitForFunction((n) => Number(document.querySelector('[data-testid=verified-height]')?.textContent) >= n, seenHeight, { timeout: 30_000 }).then(() => true, () => false)
      if (!reopened) { lost++; failures.push(`open ${k}: the chain view shows ${await shownHeight(page)}, below the ${seenHeight} shown verified before the close`) }
      await page.click('[data-testid=tab-wallet]')
      const wallet = await page.waitForSelector(`[data-testid=wallet-address]:text("${address}"), [data-testid=wallet-error]`, { timeout: 30_000 }).catch(() => null)
      if (wallet === null || await wallet.getAttribute('data-testid') !== 'wallet-address') {
        lost++
        failures.push(`open ${k}: the wallet did not open with its key: ${await page.textContent('[data-testid=wallet-error]', { timeout: 500 }).catch(() => 'no key shown')}`)
      } else {
        const cids = await page.waitForFunction((want) => {
          const have = new Set([...document.querySelectorAll('[data-testid=history-row][data-kind=faucet]')].map(r => r.getAttribute('data-cid')))
          return want.every(c => have.has(c))
        }, seenCids, { timeout: 10_000 }).then(() => true, () => false)
        if (!cids) {
          const have = await shownFaucetCids(page)
          lost++
          failures.push(`open ${k}: faucet messages shown before the close are gone: ${seenCids.filter(c => !have.includes(c)).join(', ')}`)
        }
      }
      // work, then close at a random moment: a faucet payment asked now and then (its record written, then its
      // inclusion), headers written every block meanwhile
      if (k % 2 === 0) {
        await page.click('[data-testid=faucet]', { timeout: 5000 }).catch(() => {})
        await sleep(Math.floor(Math.random() * 1000))
      }
      seenCids = [...new Set([...seenCids, ...await shownFaucetCids(page).catch(() => [] as string[])])]
      await page.click('[data-testid=tab-chain]')
      await sleep(Math.floor(Math.random() * 2000))
      seenHeight = Math.max(seenHeight, await shownHeight(page))
      await page.close()
      if (k % 10 === 9 || k === opts.closes - 1) console.log(`  close ${k + 1}: head ${seenHeight} shown, ${seenCids.length} faucet messages, ${((Date.now() - t0) / 1000).toFixed(1)} s`)
    }
  } finally {
    await b?.close()
    await d?.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
  return { scenario: 'crash: the tab closed at random moments (Chromium, IndexedDB mid-write)', tries, acceptedLies: 0, crashes, dataLost: lost, ms: performance.now() - started, failures }
}
