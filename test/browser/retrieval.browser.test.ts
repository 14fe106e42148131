// Retrieval end to end in real Chromium, through the app's UI only: a file stored with a provider that charges
// for retrieval, then Download in the Files view (priced first; no save picker, so the worker writes to OPFS
// and the page offers a link): the tab is closed mid-download and reopened, the download resumes on the same
// lane from its verified offset once the wallet is unlocked, the saved bytes hash as the original's, and the
// channel's vouchers pay each block once. Then the share link, opened in a second fresh browser profile with
// its own funded wallet, retrieves the same bytes.
//
// The provider asks for a voucher every 256 KiB (one UnixFS leaf): each is a round trip plus a write-ahead
// record, so the download takes many round trips whatever the machine's speed, and "mid-download" is real.
//
// Every wait on the app watches what the page shows move (upload stages and bars, the quote's checks, bytes
// verified, the lane's amounts) rather than a clock: a slow machine (COFFER_CPU_THROTTLE=4 on one core) gets all
// the time it keeps making progress; a step stuck or failed is reported with what the page showed.
import { describe, it, expect, beforeAll, afterEach } from 'vitest'
import { createHash, randomFillSync } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { chromiumPath } from '../helpers/chromium'
import { fundedWallet } from '../helpers/app-page'
import { requireBuiltApp } from '../helpers/dist'
import { startDevnet, type Devnet } from '../../src/node/devnet'
import { devnetRetrievalPrice } from '../../src/node/provider/devnet-providers'
import { priceOfBytes } from '../../src/net'
import { blockBytes, downloadSeen, elapsed, openPage, profile as launchProfile, quote, clickDownload, saveThroughLink, timeline, uploadThroughUi, whileProgressing } from './helpers/retrieval-ui'

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
const profile = async (): Promise<import('playwright-core').BrowserContext> => await launchProfile(cleanups)

describe('retrieval in Chromium', () => {
  it('Download resumes after the tab is closed, pays each block once, and a share link works in another browser', async () => {
    const logs: string[] = []
    cleanups.push(async () => { if (process.env.COFFER_TEST_LOG !== undefined) console.log(logs.join('\n')) })
    const dataDir = await mkdtemp(path.join(tmpdir(), 'coffer-devnet-'))
    const devnet: Devnet = await startDevnet({
      // periods of 30 epochs (the default): this test proves nothing, and on a loaded machine 5-epoch periods
      // let the provider's proofs land late three times in a row, which slashes the deal the share link needs
      dataDir, distDir, httpPort: 0, rpcPort: 0, providers: 1, provingPeriod: 30,
      // provider 0 charges (0.01 FIL/GiB); a voucher every leaf and no growth: many round trips per file
      providerOptions: () => ({ ask: { paymentInterval: INTERVAL, paymentIntervalIncrease: 0 } }),
      log: (l) => { if (process.env.COFFER_TEST_LOG !== undefined || /retriev|voucher|lane|redeem|channel/i.test(l)) logs.push(`${elapsed()} s ${l}`) }
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
    await uploadThroughUi(page, filePath, { copies: 1, periods: 20 })
    const blocks = await blockBytes(file)

    // Download: the price comes first, from the provider's verified ask
    await page.click('[data-testid=tab-files]')
    await page.waitForSelector('[data-testid=file-card] [data-testid=download-start]', { timeout: 30_000 })
    await quote(page)
    const row = page.locator('[data-testid=quote-row]')
    expect(await row.count()).toBe(1)
    expect(BigInt((await row.first().getAttribute('data-price'))!)).toBeGreaterThan(0n)
    await page.click('[data-testid=download-confirm]')

    // close the tab while blocks are arriving (past a tenth of the file, before most of it)
    let closedAt = 0
    await whileProgressing('download, until a tenth is verified', async () => {
      const d = await downloadSeen(page)
      if (d.verified > FILE_BYTES * 0.8) throw new Error(`the download passed 80 % (${d.verified} bytes) between two looks: nothing left to resume`)
      closedAt = d.verified
      return { done: d.verified > FILE_BYTES / 10, ...(d.stage === 'failed' || d.stage === 'done' ? { failed: d.text } : {}), progress: d.progress }
    }, 20) // looked at often: a fast machine's download must not run past 80 % between two looks
    await page.close()

    // reopened: the download was running, so it resumes; a priced provider needs the key, so it waits for the unlock
    const again = await openPage(context, `${devnet.url!}#files`, errors)
    // the worker starts again (headers from the store, then a node): its sync state is the progress until the download shows
    await whileProgressing('reopened tab', async () => {
      const d = await downloadSeen(again)
      return { done: d.stage !== 'none', progress: d.progress }
    })
    expect(Number(await again.getAttribute('[data-testid=download-bytes]', 'data-verified'))).toBeGreaterThan(0)
    await again.click('[data-testid=tab-wallet]')
    await again.fill('[data-testid=unlock-passphrase]', PASS)
    await again.click('[data-testid=unlock]')
    await whileProgressing('unlock', async () => await again.evaluate(() => ({
      done: document.querySelector('[data-testid=lock]') !== null,
      ...(document.querySelector('form [data-testid=wallet-error]') === null ? {} : { failed: document.querySelector('form [data-testid=wallet-error]')!.textContent ?? '' }),
      progress: `unlock ${document.querySelector('[data-testid=unlock]')?.hasAttribute('disabled') === true ? 'busy' : 'idle'}`
    })))
    await again.click('[data-testid=tab-files]')
    const saved = await saveThroughLink(again)
    expect(saved.length).toBe(file.length)
    expect(sha256(saved)).toBe(sha256(file))
    expect(await again.locator('[data-testid=download-failover]').count()).toBe(0)

    // paid once: one lane, whose cumulative voucher covers every block once; a resumed walk re-sends only the
    // inner nodes above the offset, and at most one interval went unpaid when the tab closed
    await again.click('[data-testid=tab-wallet]')
    const lane = again.locator('[data-testid=lane-row]')
    // the provider redeems what the vouchers say, and the tab reads it back from the chain: the lane settles
    // where the voucher the tab last sent and the amount the chain redeemed agree (the view refreshes with
    // the head, so both are read together until they do; each new reading is progress)
    let sent = -1n
    await whileProgressing('lane redeemed', async () => {
      const lanes = await again.evaluate(() => [...document.querySelectorAll('[data-testid=lane-row]')].map(l => ({ s: l.getAttribute('data-sent'), r: l.getAttribute('data-redeemed') })))
      const l = lanes[0]
      sent = BigInt(l?.s ?? '-1')
      // or the provider holds the rest as not worth its redeem's gas (it goes out at Settle): after a resume the
      // last stretch may be that small, and the provider says so in its log
      const rest = l?.s === null || l?.s === undefined || l.r === null ? -1n : BigInt(l.s) - BigInt(l.r)
      const held = rest > 0n && logs.some(line => line.includes(`: holding ${rest} attoFIL unredeemed, not worth a redeem`))
      return { done: lanes.length > 0 && l!.s !== null && l!.s !== '0' && (l!.s === l!.r || held), progress: `${lanes.length} lanes: ${lanes.map(l => `sent ${l.s} redeemed ${l.r}`).join('; ')}` }
    })
    expect(await lane.count()).toBe(1)
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
    await stranger.waitForSelector('[data-testid=get-file]', { timeout: 30_000 }) // drawn by the page from the link, no worker call
    expect(await stranger.textContent('[data-testid=get-root]')).toBe(blocks.root)
    await clickDownload(stranger)
    const fetched = await saveThroughLink(stranger)
    expect(sha256(fetched)).toBe(sha256(file))
    expect(errors).toEqual([])
    if (process.env.COFFER_TEST_LOG !== undefined) console.log(timeline.join('\n'))
    // every wait above ends on a stuck step (STUCK_MS without change) or a failure: this bounds only a runaway
  }, 3_600_000)
})
