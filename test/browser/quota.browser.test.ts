// A tab over its storage quota (issue 16 part 6), in Chromium with the origin's quota made small through the DevTools
// protocol (Storage.overrideQuotaForOrigin, what a full disk or a browser's eviction pressure gives a real user): an
// upload that cannot be staged fails by name, saying what to do; nothing else is harmed (the chain keeps verifying,
// the wallet opens, no page error); once the quota is back the same file uploads and its deal is published.
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { chromiumPath } from '../helpers/chromium'
import { requireBuiltApp } from '../helpers/dist'
import { openAppPage, fundedWallet } from '../helpers/app-page'

const cleanups: Array<() => Promise<void>> = []
afterAll(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })
let distDir: string
beforeAll(() => { chromiumPath(); distDir = requireBuiltApp() })

const MiB = 2 ** 20

describe('a tab over its storage quota', () => {
  it('fails the upload by name, harms nothing else, and uploads the same file once the quota is back', async () => {
    const { devnet: d, page, errors } = await openAppPage(distDir, cleanups, { rpcPort: 0, providers: 1, provingPeriod: 5 }, '#wallet')
    const address = await fundedWallet(page, 'quota passphrase')
    await page.click('[data-testid=tab-upload]')
    await page.waitForSelector('[data-testid=provider-row]', { timeout: 30_000 })
    await page.fill('[data-testid=upload-copies]', '1')
    await page.fill('[data-testid=upload-periods]', '2')

    // what the origin holds now (app cache, chain, wallet) and 1 MiB more: no room for a 6 MiB file's staged CAR
    const origin = new URL(d.url!).origin
    const usage = await page.evaluate(async () => (await navigator.storage.estimate()).usage ?? 0)
    const cdp = await page.context().newCDPSession(page)
    await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: usage + MiB })
    const file = Buffer.alloc(6 * MiB)
    for (let i = 0; i < file.length; i += 4) file.writeUInt32LE(Math.imul(i + 3, 2654435761) >>> 0, i)
    await page.setInputFiles('[data-testid=upload-input]', { name: 'big.bin', mimeType: 'application/octet-stream', buffer: file })
    const failed = page.locator('[data-testid=upload-card][data-stage=failed] [role=alert], [data-testid=upload-error]')
    await failed.first().waitFor({ timeout: 60_000 }).catch(async (err: Error) => {
      throw new Error(`${err.message}; the card: ${await page.locator('[data-testid=upload-card]').first().textContent().catch(() => 'none')}; usage ${JSON.stringify(await page.evaluate(async () => await navigator.storage.estimate()))}, quota set ${usage + MiB}`)
    })
    expect(await failed.first().textContent()).toMatch(/StagingFullError: the browser's storage quota is full/)

    // nothing else harmed: the chain view goes on verifying, the wallet still opens with its key
    await page.click('[data-testid=tab-chain]')
    const h = Number(await page.textContent('[data-testid=verified-height]'))
    await page.waitForFunction((n) => Number(document.querySelector('[data-testid=verified-height]')?.textContent) > n + 1, h, { timeout: 30_000 })
    await page.click('[data-testid=tab-wallet]')
    expect(await page.textContent('[data-testid=wallet-address]')).toBe(address)

    // the quota back: the same file goes through to a published deal
    await cdp.send('Storage.overrideQuotaForOrigin', { origin })
    await page.click('[data-testid=tab-upload]')
    await page.waitForSelector('[data-testid=provider-row]', { timeout: 30_000 })
    await page.fill('[data-testid=upload-copies]', '1')
    await page.fill('[data-testid=upload-periods]', '2')
    // (the input is enabled once the view has what an upload needs: a slow machine takes longer)
    await page.setInputFiles('[data-testid=upload-input]', { name: 'big.bin', mimeType: 'application/octet-stream', buffer: file }, { timeout: 120_000 })
    await page.waitForSelector('[data-testid=upload-card][data-stage=done]', { timeout: 180_000 })
    expect(errors).toEqual([])
  }, 300_000)
})
