// Retrieval end to end in real Chromium, through the app's UI only: a file stored with a provider that charges
// for retrieval, then Download in the Files view (priced first; no save picker, so the worker writes to OPFS
// and the page offers a link): the tab is closed mid-download and reopened, the download resumes on the same
// lane from its verified offset once the wallet is unlocked, the saved bytes hash as the original's, and the
// channel's vouchers pay each block once. Then the share link, opened in a second fresh browser profile with
// its own funded wallet, retrieves the same bytes.
//
// The provider asks for a voucher every 256 KiB (one UnixFS leaf): each is a round trip plus a write-ahead
// record, so the download takes many round trips whatever the machine's speed, and "mid-download" is real.
import { describe, it, expect, beforeAll, afterEach } from 'vitest'
import { createHash, randomFillSync } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { BrowserContext, Page } from 'playwright-core'
import { CarBlockIterator } from '@ipld/car/iterator'
import { chromiumPath, launchChromium } from '../helpers/chromium'
import { fundedWallet } from '../helpers/app-page'
import { requireBuiltApp } from '../helpers/dist'
import { startDevnet, type Devnet } from '../../src/node/devnet'
import { devnetRetrievalPrice } from '../../src/node/provider/devnet-providers'
import { writeUnixfsCar } from '../../src/light/unixfs-car'
import { priceOfBytes } from '../../src/net'

let distDir: string
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })
beforeAll(() => {
  chromiumPath()
  distDir = requireBuiltApp()
})

const PASS = 'correct horse battery'
const FILE_BYTES = 32 * 2 ** 20
const INTERVAL = 256 * 2 ** 10
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

/** A browser profile of its own whose pages have no save picker (as Firefox and Safari): downloads go to OPFS and a link. */
async function profile (): Promise<BrowserContext> {
  const b = await launchChromium()
  cleanups.push(b.close)
  await b.context.addInitScript(() => { Object.defineProperty(window, 'showSaveFilePicker', { value: undefined, configurable: true }) })
  return b.context
}

async function openPage (context: BrowserContext, url: string, errors: string[]): Promise<Page> {
  const page = await context.newPage()
  page.on('pageerror', err => errors.push(err.message))
  await page.goto(url)
  return page
}

/** The blocks a provider charges for (every block's bytes), and those of the inner DAG nodes a resumed walk sends again. */
async function blockBytes (file: Uint8Array): Promise<{ root: string, all: number, inner: number }> {
  const chunks: Uint8Array[] = []
  const car = await writeUnixfsCar([file], {
    write: async (b) => { chunks.push(b.slice()) },
    writeAt: async (offset, b) => { chunks[0]!.set(b, offset) } // the header, rewritten once the root is known
  })
  let all = 0
  let inner = 0
  for await (const block of await CarBlockIterator.fromIterable((async function * () { yield * chunks })())) {
    all += block.bytes.length
    if (block.cid.code !== 0x55) inner += block.bytes.length
  }
  return { root: car.root.toString(), all, inner }
}

async function clickDownload (page: Page): Promise<void> {
  await page.click('[data-testid=download-start]')
  await page.waitForSelector('[data-testid=download-quote] [data-testid=quote-row]', { timeout: 60_000 })
  await page.click('[data-testid=download-confirm]')
}

/** Saves the finished download through its link and returns the saved bytes. */
async function saveThroughLink (page: Page): Promise<Uint8Array> {
  await page.waitForSelector('[data-testid=download-progress][data-stage=done] [data-testid=download-link]', { timeout: 120_000 }).catch(async (err: Error) => {
    // say where the download stood, not only that it did not finish
    throw new Error(`${err.message}\nthe download shows: ${await page.textContent('[data-testid=download-box]').catch(() => '(nothing)')}`)
  })
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=download-link]')])
  return new Uint8Array(await readFile((await download.path())!))
}

describe('retrieval in Chromium', () => {
  it('Download resumes after the tab is closed, pays each block once, and a share link works in another browser', async () => {
    const logs: string[] = []
    cleanups.push(async () => { if (process.env.COFFER_TEST_LOG !== undefined) console.log(logs.join('\n')) })
    const dataDir = await mkdtemp(path.join(tmpdir(), 'coffer-devnet-'))
    const devnet: Devnet = await startDevnet({
      dataDir, distDir, httpPort: 0, rpcPort: 0, providers: 1, provingPeriod: 5,
      // provider 0 charges (0.01 FIL/GiB); a voucher every leaf and no growth: many round trips per file
      providerOptions: () => ({ ask: { paymentInterval: INTERVAL, paymentIntervalIncrease: 0 } }),
      log: (l) => { if (/retriev|voucher|lane|redeem|channel/i.test(l)) logs.push(l) }
    })
    cleanups.push(async () => { await devnet.stop(); await rm(dataDir, { recursive: true, force: true }) })
    const price = devnetRetrievalPrice(0)
    expect(price).toBeGreaterThan(0n)

    const errors: string[] = []
    const context = await profile()
    const page = await openPage(context, `${devnet.url!}#wallet`, errors)
    if (process.env.COFFER_TEST_LOG !== undefined) context.on('console', m => { logs.push(`page: ${m.text()}`) })
    await fundedWallet(page, PASS)

    // store the file with the one provider
    const file = new Uint8Array(FILE_BYTES)
    randomFillSync(file)
    const filePath = path.join(dataDir, 'film.bin')
    await writeFile(filePath, file)
    await page.click('[data-testid=tab-upload]')
    await page.waitForSelector('[data-testid=provider-row]', { timeout: 30_000 })
    await page.fill('[data-testid=upload-copies]', '1')
    await page.fill('[data-testid=upload-periods]', '20')
    await page.setInputFiles('[data-testid=upload-input]', filePath)
    await page.waitForSelector('[data-testid=upload-card][data-stage=done]', { timeout: 120_000 })
    const blocks = await blockBytes(file)

    // Download: the price comes first, from the provider's verified ask
    await page.click('[data-testid=tab-files]')
    await page.waitForSelector('[data-testid=file-card] [data-testid=download-start]', { timeout: 30_000 })
    await page.click('[data-testid=download-start]')
    const row = page.locator('[data-testid=quote-row]')
    await row.first().waitFor({ timeout: 60_000 })
    expect(await row.count()).toBe(1)
    expect(BigInt((await row.first().getAttribute('data-price'))!)).toBeGreaterThan(0n)
    await page.click('[data-testid=download-confirm]')

    // close the tab while blocks are arriving (between a tenth and most of the file)
    await page.waitForFunction((total) => {
      const el = document.querySelector('[data-testid=download-bytes]')
      const v = Number(el?.getAttribute('data-verified') ?? 0)
      return v > total / 10 && v < total * 0.8
    }, FILE_BYTES, { timeout: 120_000, polling: 20 })
    const closedAt = Number(await page.getAttribute('[data-testid=download-bytes]', 'data-verified'))
    await page.close()

    // reopened: the download was running, so it resumes; a priced provider needs the key, so it waits for the unlock
    const again = await openPage(context, `${devnet.url!}#files`, errors)
    await again.waitForSelector('[data-testid=download-progress]', { timeout: 60_000 })
    expect(Number(await again.getAttribute('[data-testid=download-bytes]', 'data-verified'))).toBeGreaterThan(0)
    await again.click('[data-testid=tab-wallet]')
    await again.fill('[data-testid=unlock-passphrase]', PASS)
    await again.click('[data-testid=unlock]')
    await again.waitForSelector('[data-testid=lock]', { timeout: 15_000 })
    await again.click('[data-testid=tab-files]')
    const saved = await saveThroughLink(again)
    expect(saved.length).toBe(file.length)
    expect(sha256(saved)).toBe(sha256(file))
    expect(await again.locator('[data-testid=download-failover]').count()).toBe(0)

    // paid once: one lane, whose cumulative voucher covers every block once; a resumed walk re-sends only the
    // inner nodes above the offset, and at most one interval went unpaid when the tab closed
    await again.click('[data-testid=tab-wallet]')
    const lane = again.locator('[data-testid=lane-row]')
    await lane.first().waitFor({ timeout: 30_000 })
    expect(await lane.count()).toBe(1)
    // the provider redeems what the vouchers say, and the tab reads it back from the chain: the lane settles
    // where the voucher the tab last sent and the amount the chain redeemed agree (the view refreshes with
    // the head, so both are read together until they do)
    let sent = -1n
    await expect.poll(async () => {
      const [s, r] = await Promise.all([lane.first().getAttribute('data-sent'), lane.first().getAttribute('data-redeemed')])
      sent = BigInt(s ?? '-1'); if (process.env.COFFER_TEST_LOG !== undefined) console.log('lane', s, r)
      return s !== null && s !== '0' && s === r
    }, { timeout: 90_000, interval: 1000 }).toBe(true)
    expect(sent).toBeLessThanOrEqual(priceOfBytes(blocks.all + blocks.inner, price) + 2n)
    expect(sent).toBeGreaterThanOrEqual(priceOfBytes(blocks.all - INTERVAL, price))
    // paying again for what came before the close would cost at least this much more
    expect(priceOfBytes(blocks.all + closedAt, price)).toBeGreaterThan(priceOfBytes(blocks.all + blocks.inner, price) + 2n)
    expect(await again.getAttribute('[data-testid=channel-row]', 'data-vouchers')).not.toBe('0')

    // the share link, in a fresh browser profile with its own wallet
    await again.click('[data-testid=tab-files]')
    await again.click('[data-testid=share-link]')
    const link = await again.inputValue('[data-testid=share-url]')
    expect(link).toContain(`#/get/${blocks.root}?`)
    const other = await profile()
    const stranger = await openPage(other, `${devnet.url!}#wallet`, errors)
    await fundedWallet(stranger, PASS)
    await stranger.goto(link)
    await stranger.waitForSelector('[data-testid=get-file]', { timeout: 30_000 })
    expect(await stranger.textContent('[data-testid=get-root]')).toBe(blocks.root)
    await clickDownload(stranger)
    const fetched = await saveThroughLink(stranger)
    expect(sha256(fetched)).toBe(sha256(file))
    expect(errors).toEqual([])
  }, 300_000)
})
