// Driving uploads and downloads through the app's UI in Chromium, shared by the retrieval browser tests: waits that
// watch what the page shows move (never a clock tuned to a machine's speed), the download panel as the page draws
// it, browser profiles with or without a save picker, and the blocks a provider charges for.
import { readFile } from 'node:fs/promises'
import type { BrowserContext, Page } from 'playwright-core'
import { CarBlockIterator } from '@ipld/car/iterator'
import { launchChromium } from '../../helpers/chromium'
import { writeUnixfsCar } from '../../../src/light/unixfs-car'

/**
 * How long nothing a wait watches may stay unchanged before the step counts as stuck rather than slow. Each step
 * shows a change at least every few round trips (a block verified, a check ended, a head read), so minutes of
 * stillness is a hang on any machine this runs on, not a slow one.
 */
export const STUCK_MS = 180_000

/** What a wait sees on the page: whether the step is over (or failed, and why), and what counts as its progress. */
export interface Seen { done: boolean, failed?: string, progress: string }

/** When each wait's progress changed (ms from the test file's start): where the time goes on a slow machine. */
export const timeline: string[] = []
const t0 = performance.now()
/** Seconds since this module loaded, for log lines beside the timeline. */
export const elapsed = (): string => ((performance.now() - t0) / 1000).toFixed(1)
export const note = (line: string): void => { timeline.push(`${elapsed()} s ${line}`) }

/**
 * Waits for a step to end while it keeps moving: `probe` is read every `pollMs`; the wait fails at once when
 * the step failed, and only after STUCK_MS of no change at all in what it shows.
 */
export async function whileProgressing (what: string, probe: () => Promise<Seen>, pollMs = 500): Promise<void> {
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

/** A download's progress as the Files (or Get file) view shows it (the newest download of the first file card). */
export async function downloadSeen (page: Page): Promise<{ id: string, stage: string, verified: number, paid: bigint, progress: string, text: string }> {
  const d = await page.evaluate(() => {
    const box = document.querySelector('[data-testid=download-progress]')
    const bytes = box?.querySelector('[data-testid=download-bytes]')
    const stage = box?.getAttribute('data-stage') ?? 'none'
    const verified = Number(bytes?.getAttribute('data-verified') ?? 0)
    const paid = box?.querySelector('[data-testid=download-paid]')?.getAttribute('data-atto') ?? ''
    const waiting = box?.querySelector('[data-testid=download-waiting]')?.textContent ?? ''
    const sync = document.querySelector('[data-testid=sync-state]')?.textContent ?? ''
    return { id: box?.getAttribute('data-id') ?? '', stage, verified, paid, progress: `${stage} ${verified} paid ${paid} ${waiting} (${sync})`, text: document.querySelector('[data-testid=download-box]')?.textContent ?? '' }
  })
  return { ...d, paid: BigInt(d.paid === '' ? '0' : d.paid) }
}

/**
 * A browser profile of its own. `picker: 'absent'` (the default) takes the save picker away, as Firefox and Safari
 * have none: downloads go to OPFS and a link. `picker: 'opfs'` stands in for Chromium's native save dialog, which a
 * headless test cannot click: showSaveFilePicker returns a real FileSystemFileHandle, a file in OPFS under
 * `picked/` (emptied, as the dialog leaves a file it creates or overwrites), so everything after the dialog (the
 * handle posted to the worker, its permission, createWritable, the writes and closes) is the browser's real path.
 * Each handle given out is kept in `window.__picked` for the test to read the file back through.
 */
export async function profile (cleanups: Array<() => Promise<void>>, { picker = 'absent' }: { picker?: 'absent' | 'opfs' } = {}): Promise<BrowserContext> {
  const b = await launchChromium()
  cleanups.push(b.close)
  if (picker === 'absent') {
    await b.context.addInitScript(() => { Object.defineProperty(window, 'showSaveFilePicker', { value: undefined, configurable: true }) })
  } else {
    await b.context.addInitScript(() => {
      const picked: FileSystemFileHandle[] = []
      Object.defineProperty(window, '__picked', { value: picked, configurable: true })
      Object.defineProperty(window, 'showSaveFilePicker', {
        configurable: true,
        writable: true,
        value: async ({ suggestedName }: { suggestedName?: string } = {}): Promise<FileSystemFileHandle> => {
          const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('picked', { create: true })
          const handle = await dir.getFileHandle(suggestedName ?? 'download', { create: true })
          const w = await (handle as unknown as { createWritable: (o: { keepExistingData: boolean }) => Promise<{ close: () => Promise<void> }> }).createWritable({ keepExistingData: false })
          await w.close()
          picked.push(handle)
          return handle
        }
      })
    })
  }
  return b.context
}

export async function openPage (context: BrowserContext, url: string, errors: string[]): Promise<Page> {
  const page = await context.newPage()
  page.on('pageerror', err => errors.push(err.message))
  await page.goto(url)
  return page
}

/** Stores the file at `filePath` through the Upload view, with `copies` providers for `periods` proving periods. */
export async function uploadThroughUi (page: Page, filePath: string, { copies = 1, periods = 20 }: { copies?: number, periods?: number } = {}): Promise<void> {
  await page.click('[data-testid=tab-upload]')
  await page.waitForSelector('[data-testid=provider-row]', { timeout: 30_000 })
  await page.fill('[data-testid=upload-copies]', String(copies))
  await page.fill('[data-testid=upload-periods]', String(periods))
  await page.setInputFiles('[data-testid=upload-input]', filePath)
  await whileProgressing('upload', async () => await uploadCardSeen(page))
}

/** The newest upload card's stage and bars: its progress (as test/bench/upload.ts's waitForUpload watches them). */
export async function uploadCardSeen (page: Page): Promise<Seen> {
  return await page.evaluate(() => {
    const card = document.querySelector('[data-testid=upload-card]')
    const stage = card?.getAttribute('data-stage') ?? 'none'
    const bars = [...(card?.querySelectorAll('progress') ?? [])].map(p => p.value).join(',')
    return {
      done: stage === 'done',
      ...(stage === 'failed' || stage === 'duplicate' ? { failed: `${stage}: ${card?.textContent ?? ''}` } : {}),
      progress: `${stage} ${bars}`
    }
  })
}

/** The blocks a provider charges for (every block's bytes), and those of the inner DAG nodes a resumed walk sends again. */
export async function blockBytes (file: Uint8Array): Promise<{ root: string, all: number, inner: number }> {
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
export async function quote (page: Page): Promise<void> {
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

export async function clickDownload (page: Page): Promise<void> {
  await quote(page)
  await page.click('[data-testid=download-confirm]')
}

/** Saves the finished download through its link and returns the saved bytes. */
export async function saveThroughLink (page: Page): Promise<Uint8Array> {
  await whileProgressing('download', async () => {
    const d = await downloadSeen(page)
    const link = await page.locator('[data-testid=download-progress][data-stage=done] [data-testid=download-link]').count()
    return { done: link > 0, ...(d.stage === 'failed' || d.stage === 'cancelled' ? { failed: d.text } : {}), progress: d.progress }
  })
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=download-link]')])
  return new Uint8Array(await readFile((await download.path())!))
}
