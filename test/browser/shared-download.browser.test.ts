// A download with one node for every tab (issue 15 part 3), in real Chromium: the shared node writes a download's
// verified bytes through a tab's own worker (a SharedWorker has no OPFS sync access handles), the newest tab's. Here
// that is a second page, closed while blocks arrive: the download started in the first page waits for a head, goes
// on through the first page's worker from its verified offset, and the saved file hashes as the original.
import { describe, it, expect, beforeAll, afterEach } from 'vitest'
import { createHash, randomFillSync } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { chromiumPath } from '../helpers/chromium'
import { fundedWallet } from '../helpers/app-page'
import { requireBuiltApp } from '../helpers/dist'
import { startDevnet } from '../../src/node/devnet'
import { downloadSeen, openPage, profile, quote, saveThroughLink, uploadThroughUi, whileProgressing } from './helpers/retrieval-ui'

let distDir: string
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })
beforeAll(() => {
  chromiumPath()
  distDir = requireBuiltApp()
})

const FILE_BYTES = 16 * 2 ** 20
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

describe('a download with one node for every tab', () => {
  it('goes on through another tab when the tab writing it closes', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'coffer-devnet-'))
    // a voucher every 256 KiB leaf: many round trips, so "while blocks arrive" is real on any machine
    const d = await startDevnet({
      dataDir, distDir, httpPort: 0, rpcPort: 0, providers: 1, provingPeriod: 30,
      providerOptions: () => ({ ask: { paymentInterval: 256 * 2 ** 10, paymentIntervalIncrease: 0 } })
    })
    cleanups.push(async () => { await d.stop(); await rm(dataDir, { recursive: true, force: true }) })
    const errors: string[] = []
    const context = await profile(cleanups) // no save picker: the download goes to OPFS and a link
    const a = await openPage(context, `${d.url!}#wallet`, errors)
    await fundedWallet(a, 'downloads through any tab')
    const file = new Uint8Array(FILE_BYTES)
    randomFillSync(file)
    const filePath = path.join(dataDir, 'kept.bin')
    await writeFile(filePath, file)
    await uploadThroughUi(a, filePath, { copies: 1, periods: 20 })

    // a second page: the newest tab, through whose worker the node opens the download's file
    const b = await openPage(context, `${d.url!}#chain`, errors)
    await b.waitForSelector('[data-testid=own-node][data-kind=shared]', { timeout: 60_000 })
    await a.click('[data-testid=tab-files]')
    await a.waitForSelector('[data-testid=file-card] [data-testid=download-start]', { timeout: 30_000 })
    await quote(a)
    await a.click('[data-testid=download-confirm]')
    let closedAt = 0
    await whileProgressing('download, until some blocks are in', async () => {
      const s = await downloadSeen(a)
      if (s.stage === 'done') throw new Error('the download finished before the second page could be closed')
      closedAt = s.verified
      return { done: s.verified > 0, ...(s.stage === 'failed' ? { failed: s.text } : {}), progress: s.progress }
    }, 20)
    await b.close()
    // it goes on in the first page's worker and ends done; the bytes are the file's
    const saved = await saveThroughLink(a)
    expect(sha256(saved)).toBe(sha256(file))
    expect(await a.locator('[data-testid=download-failover]').count()).toBe(0) // the closed tab was not the provider's fault
    expect(closedAt).toBeLessThan(FILE_BYTES)
    console.log(`shared download: ${closedAt} of ${FILE_BYTES} bytes verified when the tab writing it closed; finished through the other`)
    expect(errors).toEqual([])
  }, 600_000)
})
