// One light node for every tab (issue 15 part 3), in real Chromium: two pages of one profile share one node in a
// SharedWorker (one peer ID, no second set of connections at the devnet), the second page shows the verified head
// and the unlocked wallet as soon as it loads, and an upload started in the second page goes on to done after the
// first page, the one that started the SharedWorker, is closed. `?node=tab` gives a page its own node.
import { describe, it, expect, beforeAll, afterEach } from 'vitest'
import { readdirSync } from 'node:fs'
import path from 'node:path'
import type { Page } from 'playwright-core'
import { chromiumPath } from '../helpers/chromium'
import { openAppPage, fundedWallet } from '../helpers/app-page'
import { requireBuiltApp } from '../helpers/dist'
import { uploadCardSeen, whileProgressing } from './helpers/retrieval-ui'

let distDir: string
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

beforeAll(() => {
  chromiumPath()
  distDir = requireBuiltApp()
})

const ownNode = '[data-testid=own-node]'
const verifiedHeight = async (page: Page): Promise<number> => Number(await page.textContent('[data-testid=verified-height]'))

describe('one light node for every tab', () => {
  it('two pages share one node; the second shows the verified head and the wallet at once; an upload goes on after the first page closes', async () => {
    // the devnet's node lists a WebRTC-Direct address beside its WebSocket one: the tab dials both together and
    // keeps what connects (its worker has WebSockets only)
    const { devnet: d, page: a, errors } = await openAppPage(distDir, cleanups, { rpcPort: 0, providers: 1, provingPeriod: 20, faucetCooldownMs: 0, webrtcDirect: true }, '#chain')
    expect(d.bootstrap().peers.some(p => p.includes('/webrtc-direct/'))).toBe(true)
    await a.waitForSelector(`${ownNode}[data-kind=shared]`, { timeout: 60_000 })
    await a.waitForFunction(() => Number(document.querySelector('[data-testid=verified-height]')?.textContent) > 2, null, { timeout: 60_000 })
    const peer = (await a.getAttribute(ownNode, 'data-peer'))!
    expect(d.libp2p.getConnections().some(c => c.remotePeer.toString() === peer)).toBe(true)
    await a.click('[data-testid=tab-wallet]')
    const address = await fundedWallet(a, 'one node for all tabs')
    const peersBefore = new Set(d.libp2p.getConnections().map(c => c.remotePeer.toString()))
    await a.click('[data-testid=tab-chain]')
    const heightA = await verifiedHeight(a)

    // the second page: the same node, its head and its unlocked wallet shown as soon as the page runs
    const b = await a.context().newPage()
    b.on('pageerror', err => errors.push(err.message))
    const opened = performance.now()
    await b.goto(`${d.url!}#chain`)
    await b.waitForSelector(`${ownNode}[data-peer="${peer}"][data-kind=shared]`, { timeout: 60_000 })
    await b.waitForFunction((h) => Number(document.querySelector('[data-testid=verified-height]')?.textContent) >= h, heightA, { timeout: 30_000 })
    const shownMs = performance.now() - opened
    await b.click('[data-testid=tab-wallet]')
    await b.waitForSelector(`[data-testid=wallet-address]:text("${address}")`, { timeout: 10_000 })
    expect(await b.locator('[data-testid=unlock]').count()).toBe(0) // unlocked once, in the one node
    // no second set of connections: the devnet sees no new peer from this browser
    const peersAfter = new Set(d.libp2p.getConnections().map(c => c.remotePeer.toString()))
    expect([...peersAfter].filter(p => !peersBefore.has(p))).toEqual([])
    console.log(`shared node: the second page showed the verified head ${Math.round(shownMs)} ms after it was opened (page load included)`)

    // a port that sends junk to the shared node is answered by name and changes nothing for the tabs
    const script = readdirSync(path.join(distDir, 'assets')).find(f => /^light-node\.shared-worker-.*\.js$/.test(f))!
    const refused = await b.evaluate(async (url) => await new Promise<string[]>((resolve) => {
      const w = new SharedWorker(url, { type: 'module', name: 'coffer-light-node' })
      const seen: string[] = []
      w.port.onmessage = (e: MessageEvent<{ type: string, error?: { name: string } }>) => {
        if (e.data.type === 'refused' || e.data.type === 'reply') seen.push(`${e.data.type}:${e.data.error?.name ?? ''}`)
        if (seen.length === 3) { w.port.close(); resolve(seen) }
      }
      w.port.postMessage(null)
      w.port.postMessage({ type: 'nope' })
      w.port.postMessage({ type: 'call', id: 1 })
    }), `/assets/${script}`)
    expect(refused).toEqual(['refused:MalformedWorkerMessageError', 'refused:MalformedWorkerMessageError', 'reply:MalformedWorkerMessageError'])
    const before = await verifiedHeight(a)
    await a.waitForFunction((x) => Number(document.querySelector('[data-testid=verified-height]')?.textContent) > x, before, { timeout: 30_000 })

    // an upload from the second page, then the first page (the SharedWorker's creator) closes: it goes on to done
    await b.click('[data-testid=tab-upload]')
    await b.waitForSelector('[data-testid=provider-row][data-online=true]', { timeout: 30_000 })
    await b.fill('[data-testid=upload-copies]', '1')
    await b.fill('[data-testid=upload-periods]', '2')
    const file = Buffer.alloc(2 * 2 ** 20)
    for (let i = 0; i < file.length; i += 4) file.writeUInt32LE(Math.imul(i + 3, 2654435761) >>> 0, i)
    await b.setInputFiles('[data-testid=upload-input]', { name: 'shared.bin', mimeType: 'application/octet-stream', buffer: file })
    await b.waitForSelector('[data-testid=upload-card]')
    const stageAtClose = await b.getAttribute('[data-testid=upload-card]', 'data-stage')
    await a.close()
    await whileProgressing('upload', async () => await uploadCardSeen(b))
    expect(await b.getAttribute('[data-testid=upload-card]', 'data-stage')).toBe('done')
    expect(stageAtClose).not.toBe('done') // it was still under way when the first page closed
    console.log(`shared node: the upload was at '${stageAtClose}' when the first page closed, and finished`)
    // the node kept running for the page still open: it still follows the chain
    await b.click('[data-testid=tab-chain]')
    const h = await verifiedHeight(b)
    await b.waitForFunction((x) => Number(document.querySelector('[data-testid=verified-height]')?.textContent) > x, h, { timeout: 30_000 })

    // a page that asks for its own node gets one: another peer ID, said so on the page
    const own = await a.context().newPage()
    own.on('pageerror', err => errors.push(err.message))
    await own.goto(`${d.url!}?node=tab#chain`)
    await own.waitForSelector(`${ownNode}[data-kind=tab]`, { timeout: 60_000 })
    expect(await own.getAttribute(ownNode, 'data-peer')).not.toBe(peer)
    expect(errors).toEqual([])
  }, 400_000)

  it('without SharedWorker (?node=leader, as on Chrome on Android): one tab runs the node for both; when it closes, the other takes over', async () => {
    const { devnet: d, page: a, errors } = await openAppPage(distDir, cleanups, { rpcPort: 0 }, '?node=leader#chain')
    await a.waitForSelector(`${ownNode}[data-kind=leader]`, { timeout: 60_000 })
    await a.waitForFunction(() => Number(document.querySelector('[data-testid=verified-height]')?.textContent) > 2, null, { timeout: 60_000 })
    const peer = (await a.getAttribute(ownNode, 'data-peer'))!
    await a.click('[data-testid=tab-wallet]')
    const address = await fundedWallet(a, 'one leader for all tabs')
    const peersBefore = new Set(d.libp2p.getConnections().map(c => c.remotePeer.toString()))

    const b = await a.context().newPage()
    b.on('pageerror', err => errors.push(err.message))
    await b.goto(`${d.url!}?node=leader#chain`)
    // the same node, through the leader: its head and the wallet it unlocked, and calls answered
    await b.waitForSelector(`${ownNode}[data-kind=follower][data-peer="${peer}"]`, { timeout: 30_000 })
    await b.waitForFunction(() => Number(document.querySelector('[data-testid=verified-height]')?.textContent) > 2, null, { timeout: 30_000 })
    await b.click('[data-testid=tab-wallet]')
    await b.waitForSelector(`[data-testid=wallet-address]:text("${address}")`, { timeout: 10_000 })
    expect(await b.locator('[data-testid=unlock]').count()).toBe(0)
    await b.click('[data-testid=lock]') // a call from the follower, run by the leader's node: both tabs see it locked
    await a.waitForSelector('[data-testid=unlock]', { timeout: 10_000 })
    await b.waitForSelector('[data-testid=unlock]', { timeout: 10_000 })
    expect([...new Set(d.libp2p.getConnections().map(c => c.remotePeer.toString()))].filter(p => !peersBefore.has(p))).toEqual([])

    // the leader closes: the follower takes over, runs the node itself and follows the chain
    await a.close()
    await b.click('[data-testid=tab-chain]')
    await b.waitForSelector(`${ownNode}[data-kind=leader]`, { timeout: 30_000 })
    const h = Number(await b.textContent('[data-testid=verified-height]'))
    await b.waitForFunction((x) => Number(document.querySelector('[data-testid=verified-height]')?.textContent) > x, h, { timeout: 30_000 })
    await b.click('[data-testid=tab-wallet]')
    await b.waitForSelector(`[data-testid=wallet-address]:text("${address}")`, { timeout: 30_000 })
    expect(errors).toEqual([])
  }, 300_000)
})
