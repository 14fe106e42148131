// A deal opened in the app in real Chromium, through the UI only, on one devnet, wallet and upload (the two checks
// each needed all three, ~25 s of setup): a file uploaded to one provider (its CAR layout kept), then
// - Audit now on the active deal: the audit passes (checked in the tab's WASM pool), is drawn on the proving
//   timeline with its figures, and is still there after a reload (kept in IndexedDB) (first, as when it had a file
//   of its own: the hourly audit schedule is turned off before the deal is active);
// - a proving period proven and verified in the tab, its proof opened on a 390 px phone page: the SVG has the root,
//   the leaf, each level's sibling and a ✓ per step, says how the challenge was drawn and which file bytes the
//   leaf carries, its text is at least ~11 px, and nothing scrolls sideways; then the same at desktop width.
// Each check starts from the Files tab, so either runs (and fails) on its own.
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { chromiumPath } from '../helpers/chromium'
import { openAppPage, fundedWallet, type AppPage } from '../helpers/app-page'
import { requireBuiltApp } from '../helpers/dist'
import type { Page } from 'playwright-core'

const cleanups: Array<() => Promise<void>> = []
afterAll(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

let app: AppPage

const PHONE = { width: 390, height: 844 }
const DESKTOP = { width: 1280, height: 900 }

/** What the drawing shows, read from the page. */
async function treeSeen (page: Page): Promise<{
  trees: number, levels: number[], roots: number, leaves: number, siblings: number[], steps: string[][], placeKinds: string[][],
  derivations: string[], scrollWidth: number, bodyWidth: number, minFontPx: number, svgRight: number, wide: string[]
}> {
  return await page.evaluate(() => {
    const sections = [...document.querySelectorAll('[data-testid=merkle-path]')]
    const svgs = [...document.querySelectorAll('svg[data-testid=proof-tree]')]
    // the smallest rendered text in the trees (SVG text scales with the drawing)
    const sizes = svgs.flatMap(s => [...s.querySelectorAll('text')].map(t => t.getBoundingClientRect().height > 0 ? parseFloat(getComputedStyle(t).fontSize) * (s.getBoundingClientRect().width / (s as SVGSVGElement).viewBox.baseVal.width) : Infinity))
    return {
      trees: svgs.length,
      levels: svgs.map(s => s.querySelectorAll('[data-testid=tree-step]').length),
      roots: document.querySelectorAll('[data-testid=tree-root]').length,
      leaves: document.querySelectorAll('[data-testid=tree-leaf]').length,
      siblings: svgs.map(s => new Set([...s.querySelectorAll('[data-testid=tree-sibling]')].map(e => e.getAttribute('data-level'))).size),
      steps: svgs.map(s => [...s.querySelectorAll('[data-testid=tree-step]')].map(e => `${e.getAttribute('data-level')}:${e.getAttribute('data-state')}:${e.textContent?.trim().slice(-1)}`)),
      placeKinds: sections.map(s => [...s.querySelectorAll('[data-testid=leaf-place] li')].map(l => l.getAttribute('data-kind') ?? '')),
      derivations: sections.map(s => s.querySelector('[data-testid=challenge-derivation]')?.textContent ?? ''),
      scrollWidth: document.documentElement.scrollWidth,
      bodyWidth: document.body.scrollWidth,
      minFontPx: Math.min(...sizes),
      svgRight: Math.max(...svgs.map(s => s.getBoundingClientRect().right)),
      wide: [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5 && ![...e.children].some(c => c.getBoundingClientRect().right > window.innerWidth + 0.5))
        .slice(0, 5).map(e => `<${e.tagName.toLowerCase()} class="${String(e.className)}"> ${Math.round(e.getBoundingClientRect().right)} px`)
    }
  })
}

beforeAll(async () => {
  chromiumPath()
  const distDir = requireBuiltApp()
  app = await openAppPage(distDir, cleanups, { rpcPort: 0, providers: 1, provingPeriod: 5 }, '#wallet')
  const { page } = app
  await page.setViewportSize(PHONE)
  await fundedWallet(page, 'correct horse battery')

  await page.click('[data-testid=tab-upload]')
  await page.waitForSelector('[data-testid=provider-row]', { timeout: 30_000 })
  // the provider table shows asks per GiB per month, not strings of zeros
  expect(await page.textContent('[data-testid=provider-row]')).toMatch(/(FIL|attoFIL) \/ GiB \/ month/)
  await page.fill('[data-testid=upload-copies]', '1')
  // long enough that the deal is still active for the audit, whenever that runs
  await page.fill('[data-testid=upload-periods]', '40')
  // 600 KiB: three raw leaves and a DAG node, so a 1 MiB piece whose leaves fall in file bytes, framing and padding
  const file = Buffer.alloc(600 * 1024)
  for (let i = 0; i < file.length; i += 4) file.writeUInt32LE(Math.imul(i + 11, 2654435761) >>> 0, i)
  await page.setInputFiles('[data-testid=upload-input]', { name: 'notes.bin', mimeType: 'application/octet-stream', buffer: file })
  await page.waitForSelector('[data-testid=upload-card][data-stage=done]', { timeout: 120_000 }).catch(async (err: Error) => {
    throw new Error(`${err.message}; the upload card says: ${await page.textContent('[data-testid=upload-card]').catch(() => '(none)')}`)
  })
}, 240_000)

describe('a proven deal in Chromium', () => {
  it('Audit now on an active deal passes, is drawn on the timeline with its figures, and survives a reload', async () => {
    const { page, errors } = app
    await page.setViewportSize(DESKTOP)
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
  }, 240_000)

  it('a proven period opens as a tree at 390 px (root, leaf, siblings, ✓ per step, where the leaf sits in the file) and at desktop width', async () => {
    const { devnet: d, page, errors } = app
    await page.setViewportSize(PHONE)
    await page.click('[data-testid=tab-files]')
    await page.waitForSelector('[data-testid=deal-row]', { timeout: 60_000 })
    await page.click('[data-testid=deal-row] >> nth=0')
    await page.waitForSelector('[data-testid=deal-view]')
    expect(await page.textContent('[data-testid=deal-price]')).toMatch(/\/ GiB \/ month/)
    await expect.poll(async () => await page.locator('[data-testid=proof-cell][data-state=verified]').count(), { timeout: 180_000, interval: 1000 }).toBeGreaterThanOrEqual(1)
    await page.click('[data-testid=proof-cell][data-state=verified] >> nth=0')
    await page.waitForSelector('svg[data-testid=proof-tree]', { timeout: 30_000 })

    const challenges = d.genesis.state.market.challengesPerPeriod
    const levels = Math.log2((2 ** 20) / 32) // a 600 KiB CAR pads into a 1 MiB piece: 2^15 leaves
    const phone = await treeSeen(page)
    expect(phone.trees).toBe(challenges)
    expect(phone.roots).toBe(challenges)
    expect(phone.leaves).toBe(challenges)
    expect(phone.levels).toEqual(Array(challenges).fill(levels))
    expect(phone.siblings).toEqual(Array(challenges).fill(levels))
    for (const s of phone.steps) expect(s).toEqual(Array.from({ length: levels }, (_, k) => `${levels - 1 - k}:ok:✓`))
    // how each challenge was drawn, with its values, and that the proof answers the derived leaf
    for (const t of phone.derivations) expect(t).toMatch(/Beacon round \d+ \S+ for epoch \d+, in header \S+.*seed = .*sha256\(seed ‖ \d+\).*mod 32,768 leaves = leaf [\d,]+ ✓ the leaf answered/)
    // where each leaf sits: the layout was recorded at upload, so every leaf names what it carries
    for (const kinds of phone.placeKinds) {
      expect(kinds.length).toBeGreaterThan(0)
      for (const k of kinds) expect(['file', 'framing', 'header', 'node', 'padding']).toContain(k)
    }
    expect(await page.textContent('[data-testid=proof-detail]')).toMatch(/All paths verified/)
    // each step was re-hashed by the WASM verifier, not only by the TypeScript that drew it
    expect(await page.locator('[data-testid=tree-step] title').first().textContent()).toMatch(/the WASM verifier agrees/)
    expect(phone.minFontPx, 'the smallest text in the tree').toBeGreaterThanOrEqual(10.5)
    expect(phone.scrollWidth, `the page scrolls sideways at 390 px: ${phone.wide.join('; ')}`).toBeLessThanOrEqual(PHONE.width)
    expect(phone.bodyWidth).toBeLessThanOrEqual(PHONE.width)
    expect(phone.svgRight).toBeLessThanOrEqual(PHONE.width)

    // a tap on a node shows its full value, selectable
    await page.locator('[data-testid=tree-root]').first().click()
    expect((await page.textContent('[data-testid=picked-value] code'))!).toMatch(/^[0-9a-f]{64}$/)

    if (process.env.PROOF_TREE_SHOTS !== undefined) {
      await page.locator('[data-testid=merkle-path]').first().screenshot({ path: `${process.env.PROOF_TREE_SHOTS}/phone.png` })
    }
    await page.setViewportSize(DESKTOP)
    const desk = await treeSeen(page)
    expect(desk.trees).toBe(challenges)
    expect(desk.scrollWidth).toBeLessThanOrEqual(DESKTOP.width)
    expect(desk.minFontPx).toBeGreaterThanOrEqual(10.5)
    expect(errors).toEqual([])
  }, 420_000)
})
