// Issue 9, defect 1, as a user meets it: the tab's uplink to the provider is slower than the upload was
// planned for (a real throttling proxy between Chromium and the provider), so the first proposal's start
// cannot be made. The upload must still end published, the start re-planned from measured progress with a
// newly signed proposal for the same piece, and no byte sent twice.
import { describe, it, expect, beforeAll, afterEach } from 'vitest'
import { chromiumPath } from '../helpers/chromium'
import { openAppPage, fundedWallet } from '../helpers/app-page'
import { requireBuiltApp } from '../helpers/dist'
import { startThrottleProxy, freePort } from '../helpers/throttle-proxy'
import { readDeal } from '../../src/core'

let distDir: string
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

beforeAll(() => {
  chromiumPath()
  distDir = requireBuiltApp()
})

const PASS = 'correct horse battery'
const MiB = 2 ** 20

describe('an upload slower than planned', () => {
  it('is re-planned and published, resuming from the bytes the provider holds', async () => {
    // 12 MiB at 256 KiB/s takes ~48 s; planned at the first guess (16 MiB/s) the start is at most 26 epochs away
    const fileBytes = 12 * MiB
    const proxy = await startThrottleProxy(256 * 1024)
    cleanups.push(proxy.close)
    // the provider tells peers (bootstrap and identify) only the proxy's address, so every connection to it,
    // a redial included, crosses the slow link
    const port = await freePort()
    proxy.setTarget('127.0.0.1', port)
    const { devnet: d, page, errors } = await openAppPage(distDir, cleanups, {
      rpcPort: 0, providers: 1, provingPeriod: 10,
      providerOptions: () => ({ listen: [`/ip4/127.0.0.1/tcp/${port}/ws`], announce: [`/ip4/127.0.0.1/tcp/${proxy.port}/ws`] })
    }, '#wallet')

    await fundedWallet(page, PASS)

    await page.click('[data-testid=tab-upload]')
    await page.waitForSelector('[data-testid=provider-row]', { timeout: 30_000 })
    await page.fill('[data-testid=upload-copies]', '1')
    await page.fill('[data-testid=upload-periods]', '2')
    const file = Buffer.alloc(fileBytes)
    for (let i = 0; i < file.length; i += 4) file.writeUInt32LE(Math.imul(i + 11, 2654435761) >>> 0, i)
    await page.setInputFiles('[data-testid=upload-input]', { name: 'slow.bin', mimeType: 'application/octet-stream', buffer: file })
    // the start the first proposal was signed with, planned at the first guess (16 MiB/s)
    const firstStart = Number(await page.getAttribute('[data-testid=copy]', 'data-start', { timeout: 120_000 }))

    // the tab notices and moves the start: from measured progress while bytes are still to be written, or, if
    // the transport took every byte before the first acknowledgement, when the provider refuses the old start
    // at the end (keeping the bytes); the UI says so either way
    await page.waitForSelector('[data-testid=replanned]', { timeout: 120_000 })
    expect(await page.textContent('[data-testid=replanned]')).toMatch(/slower than planned|needed a later start/)
    // a slow link has no fixed deadline here: wait on the upload's own progress, not on a guessed duration
    await page.waitForSelector('[data-testid=upload-card][data-stage=done], [data-testid=upload-card][data-stage=failed]', { timeout: 300_000 })
    expect(await page.getAttribute('[data-testid=upload-card]', 'data-stage')).toBe('done')

    // the deal on chain starts later than a 16 MiB/s plan would have put it, and keeps its two periods
    await page.click('[data-testid=tab-files]')
    await page.waitForSelector('[data-testid=deal-row]', { timeout: 60_000 })
    await page.click('[data-testid=deal-row] >> nth=0')
    const dealId = Number((await page.textContent('[data-testid=deal-view] h2', { timeout: 30_000 }))!.match(/Deal (\d+)/)![1])
    const onChain = d.chain.readState((s, r) => readDeal(s, r, dealId))!
    expect(onChain.proposal.startEpoch).toBeGreaterThan(firstStart)
    expect(onChain.proposal.endEpoch - onChain.proposal.startEpoch).toBe(20)
    // every byte crossed the slow link (no faster path around it). Bytes the provider held were never sent
    // again (it resumes every re-signed proposal from them); what a broken stream had in flight is, so the
    // total is bounded, not exact: on this link streams do break (see the closing note of issue 9)
    expect(proxy.forwarded()).toBeGreaterThan(fileBytes)
    expect(proxy.forwarded()).toBeLessThan(fileBytes * 5)
    expect(errors).toEqual([])
  }, 480_000)
})
