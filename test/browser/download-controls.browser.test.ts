// Download's controls in real Chromium, through the app's UI only, on a 390 × 844 (phone-sized) page: a file saved
// through the save picker (a stand-in dialog that hands out a real OPFS FileSystemFileHandle, so the worker's
// createWritable path is the browser's own), paused mid-way (bytes and payments stop), resumed to the end (the
// picked file hashes as the original, the lane paid for it once); then a second download cancelled mid-way (the
// panel drops it, no voucher after, its partial OPFS file removed). At every state the page must fit 390 px with
// no sideways scroll and its buttons visible and clickable.
//
// One devnet, one browser profile. The provider asks for a voucher every 256 KiB with no growth (as in
// retrieval.browser.test.ts), so a download is many round trips on any machine and Pause has something to stop.
// Every wait watches what the page shows move (test/browser/helpers/retrieval-ui.ts); the only fixed spans are the
// "nothing moves" checks after Pause and Cancel, which a slower machine can only make easier to pass.
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { createHash, randomFillSync } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Page } from 'playwright-core'
import { chromiumPath } from '../helpers/chromium'
import { fundedWallet } from '../helpers/app-page'
import { requireBuiltApp } from '../helpers/dist'
import { startDevnet, type Devnet } from '../../src/node/devnet'
import { devnetRetrievalPrice } from '../../src/node/provider/devnet-providers'
import { priceOfBytes } from '../../src/net'
import { blockBytes, downloadSeen, elapsed, openPage, profile, quote, timeline, uploadThroughUi, whileProgressing } from './helpers/retrieval-ui'

const PASS = 'correct horse battery'
const FILE_BYTES = 16 * 2 ** 20
const INTERVAL = 256 * 2 ** 10
const PHONE = { width: 390, height: 844 }
/**
 * What may still be verified between the Pause (or Cancel) click and the worker acting on it: the blocks in flight
 * (the provider sends at most one unpaid interval ahead) and those verified during the click's own trip to the
 * worker, during which vouchers still go (they no longer stop the reading) and the provider sends on. That trip is
 * slower on a loaded machine: four intervals held alone, but 1.25 MiB was seen with three browser test files
 * running side by side. A control that did not stop the download would instead run it to the end (the click
 * comes an eighth of the way into 16 MiB: some 14 MiB more).
 */
const IN_FLIGHT_BYTES = 8 * INTERVAL
/** How long a stopped download is watched for any change after it shows stopped. */
const STILL_MS = 2_500
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

const cleanups: Array<() => Promise<void>> = []
const logs: string[] = []
const errors: string[] = []
let devnet: Devnet
let page: Page
let file: Uint8Array
let blocks: { root: string, all: number, inner: number }
let price: bigint
/** What the channel's lanes had sent once the first download was done, and that download's ID. */
let firstSent = 0n
let firstId = ''

/**
 * The page fits a phone's width: nothing scrolls sideways, and each named control is drawn inside the width,
 * visible, and the topmost element at its centre (so a tap lands on it, not on something drawn over it).
 */
async function expectFitsPhone (p: Page, where: string, testids: string[]): Promise<void> {
  for (const id of testids) await p.locator(`[data-testid=${id}]`).first().scrollIntoViewIfNeeded()
  const seen = await p.evaluate((ids) => ({
    scrollWidth: document.documentElement.scrollWidth,
    bodyWidth: document.body.scrollWidth,
    // what sticks out, innermost first: names the rule to fix when the width check fails
    wide: [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5 && ![...e.children].some(c => c.getBoundingClientRect().right > window.innerWidth + 0.5))
      .slice(0, 5).map(e => `<${e.tagName.toLowerCase()} class="${e.className}" data-testid="${e.getAttribute('data-testid') ?? ''}"> ${Math.round(e.getBoundingClientRect().right)} px: ${(e.textContent ?? '').slice(0, 60)}`),
    controls: ids.map(id => {
      const el = document.querySelector(`[data-testid=${id}]`)
      if (el === null) return { id, problem: 'missing' }
      const r = el.getBoundingClientRect()
      const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2)
      const problem = r.width === 0 || r.height === 0 ? 'not drawn'
        : r.left < 0 || r.right > window.innerWidth ? `drawn at ${Math.round(r.left)}–${Math.round(r.right)} px, outside the ${window.innerWidth} px width`
          : top === null || !(el === top || el.contains(top)) ? `covered by <${top?.tagName.toLowerCase() ?? 'nothing'}>`
            : (el as HTMLButtonElement).disabled ? 'disabled' : ''
      return { id, problem }
    }).filter(c => c.problem !== '')
  }), testids)
  expect({ where, controls: seen.controls }).toEqual({ where, controls: [] })
  const wide = `sticking out: ${seen.wide.join('; ')}`
  expect(seen.scrollWidth, `${where}: the page scrolls sideways at ${PHONE.width} px (${wide})`).toBeLessThanOrEqual(PHONE.width)
  expect(seen.bodyWidth, `${where}: the body is wider than ${PHONE.width} px (${wide})`).toBeLessThanOrEqual(PHONE.width)
}

/** The download files the worker keeps in OPFS (coffer-downloads/: `<id>.bin` for the link, `<id>.journal` beside a picked file). */
async function workerFiles (p: Page): Promise<string[]> {
  return await p.evaluate(async () => {
    const root = await navigator.storage.getDirectory()
    let dir: FileSystemDirectoryHandle
    try { dir = await root.getDirectoryHandle('coffer-downloads') } catch { return [] }
    const names: string[] = []
    for await (const name of (dir as unknown as { keys: () => AsyncIterable<string> }).keys()) names.push(name)
    return names.sort()
  })
}

/**
 * The payment channels as the Wallet view draws them, and the height they were read at (the view reads them when it
 * opens and every few heads; vouchers sent are the tab's own records, as of that read).
 */
async function channelSeen (p: Page): Promise<{ channels: number, vouchers: number, sent: bigint, lanes: bigint[], height: number, progress: string }> {
  const c = await p.evaluate(() => ({
    rows: [...document.querySelectorAll('[data-testid=channel-row]')].map(r => ({
      v: r.getAttribute('data-vouchers') ?? '0', s: r.getAttribute('data-sent') ?? '0', h: Number(/verified at height (\d+)/.exec(r.textContent ?? '')?.[1] ?? -1)
    })),
    lanes: [...document.querySelectorAll('[data-testid=lane-row]')].map(l => l.getAttribute('data-sent') ?? '0')
  }))
  const vouchers = c.rows.reduce((n, r) => n + Number(r.v), 0)
  const sent = c.rows.reduce((n, r) => n + BigInt(r.s), 0n)
  const height = c.rows.reduce((n, r) => Math.max(n, r.h), -1)
  return { channels: c.rows.length, vouchers, sent, lanes: c.lanes.map(BigInt), height, progress: `${c.rows.length} channels at height ${height}, ${vouchers} vouchers, sent ${sent}, lanes ${c.lanes.join(',')}` }
}

/** Waits until the download shows `stage`, failing if it ends any other way. */
async function untilStage (what: string, stage: string): Promise<void> {
  await whileProgressing(what, async () => {
    const d = await downloadSeen(page)
    const ended = ['done', 'failed', 'cancelled'].includes(d.stage) && d.stage !== stage
    return { done: d.stage === stage, ...(ended ? { failed: d.text } : {}), progress: d.progress }
  })
}

/**
 * Waits, looking often, until the running download has verified past `from` of the file and not past `to`. Until the
 * new download's record reaches the page, the panel still shows the file's previous download (`previous`): skipped.
 */
async function untilVerified (what: string, from: number, to: number, previous?: string): Promise<void> {
  await whileProgressing(what, async () => {
    const d = await downloadSeen(page)
    if (d.id === previous) return { done: false, progress: `still the previous download ${d.id}` }
    if (d.verified > to) throw new Error(`${what}: the download passed ${to} bytes (${d.verified}) between two looks: too little left to stop`)
    return { done: d.stage === 'fetching' && d.verified > from, ...(['failed', 'done', 'cancelled', 'paused'].includes(d.stage) ? { failed: d.text } : {}), progress: d.progress }
  }, 20) // a fast machine's download must not run past `to` between two looks
}

/** Watches the download for STILL_MS and returns every distinct (stage, verified, paid) it showed. */
async function watchStill (): Promise<string[]> {
  const shown = new Set<string>()
  const end = performance.now() + STILL_MS
  while (performance.now() < end) {
    const d = await downloadSeen(page)
    shown.add(`${d.stage} ${d.verified} ${d.paid}`)
    await new Promise(resolve => setTimeout(resolve, 250))
  }
  return [...shown]
}

beforeAll(async () => {
  chromiumPath()
  const distDir = requireBuiltApp()
  const dataDir = await mkdtemp(path.join(tmpdir(), 'coffer-devnet-'))
  devnet = await startDevnet({
    // this test proves nothing: 30-epoch periods keep the provider's proofs out of the downloads' way
    dataDir, distDir, httpPort: 0, rpcPort: 0, providers: 1, provingPeriod: 30,
    // provider 0 charges; a voucher every leaf and no growth: many round trips per file
    providerOptions: () => ({ ask: { paymentInterval: INTERVAL, paymentIntervalIncrease: 0 } }),
    log: (l) => { if (process.env.COFFER_TEST_LOG !== undefined || /retriev|voucher|lane|redeem|channel/i.test(l)) logs.push(`${elapsed()} s ${l}`) }
  })
  cleanups.push(async () => { await devnet.stop(); await rm(dataDir, { recursive: true, force: true }) })
  price = devnetRetrievalPrice(0)
  expect(price).toBeGreaterThan(0n)

  const context = await profile(cleanups, { picker: 'opfs' })
  page = await openPage(context, `${devnet.url!}#wallet`, errors)
  await page.setViewportSize(PHONE) // explicit, whatever launchChromium's default becomes
  if (process.env.COFFER_TEST_LOG !== undefined) { context.on('console', m => { logs.push(`page: ${m.text()}`) }); page.on('worker', w => { w.on('console', m => { logs.push(`worker: ${m.text()}`) }) }) }
  await fundedWallet(page, PASS)

  file = new Uint8Array(FILE_BYTES)
  randomFillSync(file)
  const filePath = path.join(dataDir, 'reel.bin')
  await writeFile(filePath, file)
  await uploadThroughUi(page, filePath, { copies: 1, periods: 20 })
  blocks = await blockBytes(file)
  await page.click('[data-testid=tab-files]')
  await page.waitForSelector('[data-testid=file-card] [data-testid=download-start]', { timeout: 30_000 })
}, 600_000)

afterAll(async () => {
  if (process.env.COFFER_TEST_LOG !== undefined) console.log([...logs, ...timeline].join('\n'))
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {})
})

describe('Download controls in Chromium, 390 px wide', () => {
  it('saves to the picked file; Pause stops bytes and payments, Resume finishes it; the file hashes as the original and is paid once', async () => {
    await expectFitsPhone(page, 'Files view', ['download-start', 'share-link'])
    await quote(page)
    await expectFitsPhone(page, 'the quote', ['download-confirm'])
    await page.locator('[data-testid=download-confirm]').click()
    // the stand-in dialog was asked (the page has a picker, so it must not fall back to OPFS and a link)
    await page.waitForFunction(() => (window as unknown as { __picked: unknown[] }).__picked.length === 1, undefined, { timeout: 30_000 })

    await untilVerified('download, until an eighth is verified', FILE_BYTES / 8, FILE_BYTES * 0.6)
    await expectFitsPhone(page, 'a running download', ['download-pause', 'download-cancel'])
    // progress shows the rate beside bytes verified and FIL paid
    expect(await page.textContent('[data-testid=download-rate]')).toMatch(/^\d+\.\d MiB\/s$/)
    const atClick = await downloadSeen(page)
    expect(atClick.stage).toBe('fetching')
    await page.locator('[data-testid=download-pause]').click()
    await untilStage('pause', 'paused')
    const paused = await downloadSeen(page)
    expect(paused.verified - atClick.verified, 'bytes verified after Pause was clicked').toBeLessThanOrEqual(IN_FLIGHT_BYTES)
    // vouchers pay for verified bytes only: at most every block up to the verified offset (inner nodes included)
    expect(paused.paid).toBeGreaterThan(0n)
    expect(paused.paid).toBeLessThanOrEqual(priceOfBytes(paused.verified + blocks.inner, price) + 2n)
    // stopped: nothing verified and nothing paid while it stays paused
    expect(await watchStill()).toEqual([`paused ${paused.verified} ${paused.paid}`])
    expect(await page.locator('[data-testid=download-pause]').count()).toBe(0)
    await expectFitsPhone(page, 'a paused download', ['download-resume', 'download-cancel'])

    // the channel's vouchers agree: what the tab sent is what the panel says was paid, and no more
    await page.click('[data-testid=tab-wallet]')
    await whileProgressing('channel read while paused', async () => {
      const c = await channelSeen(page)
      return { done: c.sent === paused.paid, ...(c.sent > paused.paid ? { failed: `vouchers sent ${c.sent} > paid ${paused.paid} at the pause` } : {}), progress: c.progress }
    })
    await page.click('[data-testid=tab-files]')

    await page.locator('[data-testid=download-resume]').click()
    await whileProgressing('resumed download', async () => {
      const d = await downloadSeen(page)
      const saved = await page.locator('[data-testid=download-progress][data-stage=done] [data-testid=download-saved]').count()
      return { done: saved > 0, ...(d.stage === 'failed' || d.stage === 'cancelled' ? { failed: d.text } : {}), progress: d.progress }
    })
    const done = await downloadSeen(page)
    expect(done.verified).toBe(FILE_BYTES)
    expect(await page.locator('[data-testid=download-link]').count()).toBe(0) // saved where picked, not offered as a link
    await expectFitsPhone(page, 'a finished download', ['download-start', 'share-link'])

    // the picked file, read back through the handle the dialog gave out
    const saved = await page.evaluate(async () => {
      const h = (window as unknown as { __picked: FileSystemFileHandle[] }).__picked[0]!
      const f = await h.getFile()
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await f.arrayBuffer()))
      return { name: h.name, size: f.size, sha256: [...digest].map(b => b.toString(16).padStart(2, '0')).join('') }
    })
    expect(saved).toEqual({ name: 'reel.bin', size: FILE_BYTES, sha256: sha256(file) })
    // the journal kept beside the picked file is gone once the file is complete
    expect((await workerFiles(page)).filter(n => n.startsWith(done.id))).toEqual([])

    // paid once: the lanes' vouchers cover every block once (a resumed walk re-sends only the inner nodes above the
    // offset; at most one interval may be left unpaid at the end)
    await page.click('[data-testid=tab-wallet]')
    await expectFitsPhone(page, 'Wallet view with a channel', ['channel-settle'])
    await whileProgressing('lanes after the download', async () => {
      const c = await channelSeen(page)
      return { done: c.sent === done.paid, ...(c.sent > done.paid ? { failed: `vouchers sent ${c.sent} > the download's paid ${done.paid}` } : {}), progress: c.progress }
    })
    firstSent = done.paid
    firstId = done.id
    expect(firstSent).toBeLessThanOrEqual(priceOfBytes(blocks.all + blocks.inner, price) + 2n)
    expect(firstSent).toBeGreaterThanOrEqual(priceOfBytes(blocks.all - INTERVAL, price))
    await page.click('[data-testid=tab-files]')
  }, 600_000)

  it('Cancel mid-way: the panel drops the download, no voucher leaves after it, and its partial file in OPFS is removed', async () => {
    expect(firstSent, 'runs after the first download').toBeGreaterThan(0n)
    // this one goes to OPFS and a link (no picker on this page from now on): the worker's own partial file
    await page.evaluate(() => { (window as unknown as { showSaveFilePicker?: unknown }).showSaveFilePicker = undefined })
    await quote(page)
    await page.locator('[data-testid=download-confirm]').click()
    await untilVerified('second download, until an eighth is verified', FILE_BYTES / 8, FILE_BYTES * 0.6, firstId)
    const id = (await downloadSeen(page)).id
    expect(await workerFiles(page)).toContain(`${id}.bin`)
    // read just before the click: this download may run unpaced (the provider does not charge again for blocks it
    // sent this channel before, so it never waits for a voucher), and the bounds below are against this reading
    const atClick = await downloadSeen(page)
    await page.locator(`[data-testid=download-progress][data-id="${id}"] [data-testid=download-cancel]`).click()
    // the panel leaves it: the file card shows the finished first download again, with Download
    await whileProgressing('cancel', async () => {
      const d = await downloadSeen(page)
      return { done: d.id !== id && d.stage === 'done', ...(d.id === id && (d.stage === 'failed' || d.stage === 'done') ? { failed: d.text } : {}), progress: `${d.id} ${d.progress}` }
    })
    await expectFitsPhone(page, 'after Cancel', ['download-start', 'share-link'])
    // its partial file is removed (after the record says cancelled, so it may take a moment)
    await whileProgressing('partial file removed', async () => {
      const names = await workerFiles(page)
      return { done: !names.some(n => n.startsWith(id)), progress: names.join(',') }
    })

    // nothing paid after the cancel: the vouchers the tab sent stop, past what was in flight at the click
    await page.click('[data-testid=tab-wallet]')
    // a figure read after the cancel ended: the view may first show one read mid-download, so wait for a read at a
    // later height than the first one seen here (read after the download's record said cancelled and its file went)
    const firstLook = await channelSeen(page)
    let afterCancel = firstLook
    await whileProgressing('channel read after cancel', async () => {
      afterCancel = await channelSeen(page)
      return { done: afterCancel.height > firstLook.height && afterCancel.sent > firstSent, progress: afterCancel.progress }
    })
    // this download's lane: at least what the panel showed paid at the click, and it stopped well before the end
    // (the whole file would cost every block; a cancel acted on only at the end would have paid for all of them)
    const second = afterCancel.sent - firstSent
    expect(second).toBeGreaterThanOrEqual(atClick.paid)
    expect(second).toBeLessThan(priceOfBytes(blocks.all - INTERVAL, price))
    // watched a while (the view takes the worker's new figures as they come), then read afresh (the view reads the
    // channels again each time it opens): no more vouchers
    const shown = new Set<string>()
    for (const end = performance.now() + STILL_MS; performance.now() < end;) {
      const c = await channelSeen(page)
      shown.add(`${c.vouchers} ${c.sent}`)
      await new Promise(resolve => setTimeout(resolve, 250))
    }
    await page.click('[data-testid=tab-files]')
    await page.click('[data-testid=tab-wallet]')
    await page.waitForSelector('[data-testid=channel-row]', { timeout: 30_000 })
    const later = await channelSeen(page)
    shown.add(`${later.vouchers} ${later.sent}`)
    expect([...shown]).toEqual([`${afterCancel.vouchers} ${afterCancel.sent}`])
    expect(errors).toEqual([])
  }, 600_000)
})
