// The app served cross-origin isolated (COOP same-origin + COEP require-corp, as a deployment that wants
// SharedArrayBuffer or precise memory figures serves it): Chromium refuses OPFS to the shared node's SharedWorker
// there (navigator.storage.getDirectory() throws SecurityError), so the node opens and removes its staged CAR
// through the tab's worker (remote-platform.ts). An upload of a file picked from disk goes through to its deal;
// before, the send found no staged CAR and the upload failed with that SecurityError.
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { writeFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { chromiumPath } from '../helpers/chromium'
import { requireBuiltApp } from '../helpers/dist'
import { openAppPage, fundedWallet } from '../helpers/app-page'

const cleanups: Array<() => Promise<void>> = []
afterAll(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })
let distDir: string
beforeAll(() => { chromiumPath(); distDir = requireBuiltApp() })

describe('the app served cross-origin isolated', () => {
  it('uploads a file from disk through the shared node to a published deal', async () => {
    const { page, errors } = await openAppPage(distDir, cleanups, { rpcPort: 0, providers: 1, provingPeriod: 5, crossOriginIsolated: true }, '#chain')
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true)
    // the node is the SharedWorker's (the default where the browser has SharedWorker)
    await page.waitForSelector('[data-testid=own-node][data-kind=shared]', { timeout: 60_000 })
    await page.click('[data-testid=tab-wallet]')
    await fundedWallet(page, 'isolated passphrase')
    await page.click('[data-testid=tab-upload]')
    await page.waitForSelector('[data-testid=provider-row]', { timeout: 30_000 })
    await page.fill('[data-testid=upload-copies]', '1')
    await page.fill('[data-testid=upload-periods]', '2')
    const dir = await mkdtemp(path.join(tmpdir(), 'coffer-coi-'))
    cleanups.push(async () => { await rm(dir, { recursive: true, force: true }) })
    const file = path.join(dir, 'isolated.bin')
    const bytes = Buffer.alloc(3 * 2 ** 20)
    for (let i = 0; i < bytes.length; i += 4) bytes.writeUInt32LE(Math.imul(i + 7, 2654435761) >>> 0, i)
    await writeFile(file, bytes)
    // picked from disk, as a user picks one (a buffer would make a file in memory)
    await page.setInputFiles('[data-testid=upload-input]', file, { timeout: 120_000 })
    const card = page.locator('[data-testid=upload-card]').first()
    await page.waitForSelector('[data-testid=upload-card][data-stage=done], [data-testid=upload-card][data-stage=failed]', { timeout: 180_000 })
    expect(`${await card.getAttribute('data-stage')}: ${await card.textContent()}`).toMatch(/^done/)
    expect(errors).toEqual([])
  }, 300_000)
})
