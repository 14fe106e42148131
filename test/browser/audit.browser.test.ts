// Spot audits in real Chromium, through the UI only: a file uploaded to one provider, its deal opened once active,
// Audit now clicked: the audit passes (checked in the tab's WASM pool), is drawn on the proving timeline with its
// figures, and is still there after a reload (kept in IndexedDB).
import { describe, it, expect, beforeAll, afterEach } from 'vitest'
import { writeFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { chromiumPath } from '../helpers/chromium'
import { openAppPage, fundedWallet } from '../helpers/app-page'
import { requireBuiltApp } from '../helpers/dist'
import { uploadThroughUi } from './helpers/retrieval-ui'

let distDir: string
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

beforeAll(() => {
  chromiumPath()
  distDir = requireBuiltApp()
})

describe('spot audits in Chromium', () => {
  it('Audit now on an active deal passes, is drawn on the timeline with its figures, and survives a reload', async () => {
    const { page, errors } = await openAppPage(distDir, cleanups, { rpcPort: 0, providers: 1, provingPeriod: 5 }, '#wallet')
    await fundedWallet(page, 'correct horse battery')
    const dir = await mkdtemp(path.join(tmpdir(), 'coffer-audit-ui-'))
    cleanups.push(async () => { await rm(dir, { recursive: true, force: true }) })
    const file = path.join(dir, 'notes.bin')
    const bytes = new Uint8Array(2 * 2 ** 20)
    const view = new DataView(bytes.buffer)
    for (let i = 0; i < bytes.length; i += 4) view.setUint32(i, Math.imul(i + 11, 2654435761))
    await writeFile(file, bytes)
    await uploadThroughUi(page, file, { copies: 1, periods: 40 })

    await page.click('[data-testid=tab-files]')
    await page.waitForSelector('[data-testid=deal-row]', { timeout: 60_000 })
    await page.click('[data-testid=deal-row] >> nth=0')
    await page.waitForSelector('[data-testid=deal-view]')
    // the schedule (hourly by default) off, so the only audit is the one clicked; the setting is kept across the reload
    expect(await page.inputValue('[data-testid=audit-schedule]')).toBe('60')
    await page.selectOption('[data-testid=audit-schedule]', '0')
    // only an active deal (past its start, its bytes with the provider) can be audited
    await page.waitForSelector('[data-testid=deal-view-status]:text("active")', { timeout: 120_000 })
    await page.waitForSelector('[data-testid=audit-now]:not([disabled])', { timeout: 30_000 })
    await page.click('[data-testid=audit-now]')
    await page.waitForSelector('[data-testid=audit-last]', { timeout: 90_000 })
    expect(await page.getAttribute('[data-testid=audit-last]', 'data-outcome')).toBe('passed')
    expect(await page.textContent('[data-testid=audit-last]')).toMatch(/Last audit passed/)
    expect(await page.textContent('[data-testid=audit-leaves]')).toMatch(/^8: /)
    expect(await page.textContent('[data-testid=audit-round-trip]')).toMatch(/ms$/)
    expect(await page.textContent('[data-testid=audit-verify-time]')).toMatch(/ms$/)
    // drawn on the timeline, among the period cells
    const marks = await page.locator('.timeline [data-testid=audit-mark]').count()
    expect(marks).toBeGreaterThanOrEqual(1)
    expect(await page.locator('.timeline [data-testid=audit-mark]:not([data-outcome=passed])').count()).toBe(0)
    const key = await page.getAttribute('.timeline [data-testid=audit-mark] >> nth=-1', 'title')

    await page.reload()
    await page.click('[data-testid=tab-files]')
    await page.waitForSelector('[data-testid=deal-row]', { timeout: 60_000 })
    await page.click('[data-testid=deal-row] >> nth=0')
    await page.waitForSelector('.timeline [data-testid=audit-mark][data-outcome=passed]', { timeout: 60_000 })
    expect(await page.locator('.timeline [data-testid=audit-mark]').count()).toBe(marks)
    expect(await page.getAttribute('.timeline [data-testid=audit-mark] >> nth=-1', 'title')).toBe(key)
    expect(await page.getAttribute('[data-testid=audit-last]', 'data-outcome')).toBe('passed')
    expect(await page.inputValue('[data-testid=audit-schedule]')).toBe('0')
    // the audit card and the marks fit a 390 px phone screen
    await page.setViewportSize({ width: 390, height: 844 })
    expect(await page.evaluate(() => document.querySelector('[data-testid=audit-card]')!.scrollWidth <= document.documentElement.clientWidth)).toBe(true)
    if (process.env.AUDIT_SCREENSHOT !== undefined) await page.screenshot({ path: process.env.AUDIT_SCREENSHOT, fullPage: true })
    expect(errors).toEqual([])
  })
})
