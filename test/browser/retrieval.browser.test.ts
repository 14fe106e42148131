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
/**
 * How long nothing a wait watches may stay unchanged before the step counts as stuck rather than slow. Each step
 * shows a change at least every few round trips (a block verified, a check ended, a head read), so minutes of
 * stillness is a hang on any machine this runs on, not a slow one.
 */
const STUCK_MS = 180_000

/** What a wait sees on the page: whether the step is over (or failed, and why), and what counts as its progress. */
interface Seen { done: boolean, failed?: string, progress: string }

/** When each wait's progress changed (ms from the test's start): where the time goes on a slow machine. */
const timeline: string[] = []
const t0 = performance.now()
const note = (line: string): void => { timeline.push(`${((performance.now() - t0) / 1000).toFixed(1)} s ${line}`) }

/**
 * Waits for a step to end while it keeps moving: `probe` is read every `pollMs`; the wait fails at once when
 * the step failed, and only after STUCK_MS of no change at all in what it shows.
 */
async function whileProgressing (what: string, probe: () => Promise<Seen>, pollMs = 500): Promise<void> {
  let last: string | undefined
  let changedAt = performance.now()
  const began = performance.now()
  for (;;) {
    const seen = await probe()
    if (seen.progress !== last) { last = seen.progress; changedAt = performance.now(); note(`${what}: ${seen.progress}`) }
    if (seen.done) { note(`${what}: done after ${((performance.now() - began) / 1000).toFixed(1)} s`); return }
    if (seen.failed !== undefined) throw new Error(`${what} failed: ${seen.failed}\n${timeline.join('\n')}`)
    if (performance.now() - changedAt > STUCK_MS) {
      throw new Error(`${what}: stuck, nothing changed for ${STUCK_MS / 1000} s (it showed: ${seen.progress})\n${timeline.join('\n')}`)
    }
    await new Promise(resolve => setTimeout(resolve, pollMs))
  }
}

/** A download's progress as the Files (or Get file) view shows it. */
async function downloadSeen (page: Page): Promise<{ stage: string, verified: number, progress: string, text: string }> {
  return await page.evaluate(() => {
    const box = document.querySelector('[data-testid=download-progress]')
    const bytes = box?.querySelector('[data-testid=download-bytes]')
    const stage = box?.getAttribute('data-stage') ?? 'none'
    const verified = Number(bytes?.getAttribute('data-verified') ?? 0)
    const paid = box?.querySelector('[data-testid=download-paid]')?.getAttribute('data-atto') ?? ''
    const waiting = box?.querySelector('[data-testid=download-waiting]')?.textContent ?? ''
    const sync = document.querySelector('[data-testid=sync-state]')?.textContent ?? ''
    return { stage, verified, progress: `${stage} ${verified} paid ${paid} ${waiting} (${sync})`, text: document.querySelector('[data-testid=download-box]')?.textContent ?? '' }
  })
}

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

/** Download clicked, then the quote: its checks (deal reads, the provider's ask) are its progress. */
async function quote (page: Page): Promise<void> {
  await page.click('[data-testid=download-start]')
  await whileProgressing('quote', async () => await page.evaluate(() => {
    const rows = document.querySelectorAll('[data-testid=download-quote] [data-testid=quote-row]').length
    const quote = document.querySelector('[data-testid=download-quote]')
    const error = document.querySelector('[data-testid=download-call-error]')?.textContent
    const checks = [...document.querySelectorAll('[data-testid=quote-check]')].map(c => `${c.getAttribute('data-key') ?? ''}:${c.getAttribute('data-state') ?? ''}:${c.getAttribute('data-took-ms') ?? ''}`)
    const pending = document.querySelector('[data-testid=quote-pending]') !== null
    return {
      done: rows > 0,
      ...(error != null ? { failed: error } : quote !== null && rows === 0 ? { failed: quote.textContent ?? 'no provider' } : {}),
      progress: `${pending ? 'pending' : 'idle'} [${checks.join(', ')}]`
    }
  }))
}

async function clickDownload (page: Page): Promise<void> {
  await quote(page)
  await page.click('[data-testid=download-confirm]')
}

/** Saves the finished download through its link and returns the saved bytes. */
async function saveThroughLink (page: Page): Promise<Uint8Array> {
  await whileProgressing('download', async () => {
    const d = await downloadSeen(page)
    const link = await page.locator('[data-testid=download-progress][data-stage=done] [data-testid=download-link]').count()
    return { done: link > 0, ...(d.stage === 'failed' || d.stage === 'cancelled' ? { failed: d.text } : {}), progress: d.progress }
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
      // periods of 30 epochs (the default): this test proves nothing, and on a loaded machine 5-epoch periods
      // let the provider's proofs land late three times in a row, which slashes the deal the share link needs
      dataDir, distDir, httpPort: 0, rpcPort: 0, providers: 1, provingPeriod: 30,
      // provider 0 charges (0.01 FIL/GiB); a voucher every leaf and no growth: many round trips per file
      providerOptions: () => ({ ask: { paymentInterval: INTERVAL, paymentIntervalIncrease: 0 } }),
      log: (l) => { if (process.env.COFFER_TEST_LOG !== undefined || /retriev|voucher|lane|redeem|channel/i.test(l)) logs.push(`${((performance.now() - t0) / 1000).toFixed(1)} s ${l}`) }
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
    // the upload card's stage and bars are its progress (as test/bench/upload.ts's waitForUpload watches them)
    await whileProgressing('upload', async () => await page.evaluate(() => {
      const card = document.querySelector('[data-testid=upload-card]')
      const stage = card?.getAttribute('data-stage') ?? 'none'
      const bars = [...(card?.querySelectorAll('progress') ?? [])].map(p => p.value).join(',')
      return {
        done: stage === 'done',
        ...(stage === 'failed' || stage === 'duplicate' ? { failed: `${stage}: ${card?.textContent ?? ''}` } : {}),
        progress: `${stage} ${bars}`
      }
    }))
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
