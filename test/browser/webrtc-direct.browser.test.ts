// WebRTC-Direct from the tab (issue 15 part 1), in real Chromium: with WebSockets turned off (`?transports=
// webrtc-direct`) the tab's light node reaches the devnet's node over WebRTC-Direct, its connection made by the
// page and bridged to the node in the worker (src/light/bridged-rtc.ts), and syncs and verifies the chain; when
// the tab holding the connection closes, the shared node dials again through the other tab and goes on. An upload
// goes to the provider over it too.
import { describe, it, expect, beforeAll, afterEach } from 'vitest'
import type { Page } from 'playwright-core'
import { chromiumPath } from '../helpers/chromium'
import { openAppPage, fundedWallet } from '../helpers/app-page'
import { uploadCardSeen, whileProgressing } from './helpers/retrieval-ui'
import { requireBuiltApp } from '../helpers/dist'
import { until } from '../helpers/until'
import { createServer, type AddressInfo } from 'node:net'
import { startAppServer } from '../../src/node/app-server'

let distDir: string
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

beforeAll(() => {
  chromiumPath()
  distDir = requireBuiltApp()
})

const ownNode = '[data-testid=own-node]'
const verifiedHeight = async (page: Page): Promise<number> => Number(await page.textContent('[data-testid=verified-height]'))
const rising = async (page: Page, timeout = 30_000): Promise<void> => {
  const h = await verifiedHeight(page)
  await page.waitForFunction((x) => Number(document.querySelector('[data-testid=verified-height]')?.textContent) > x, h, { timeout })
}

describe('WebRTC-Direct from the tab', () => {
  it('with WebSockets off, the tab syncs and verifies over WebRTC-Direct; closing the tab holding the connection moves it to the other', async () => {
    const opened = performance.now()
    const { devnet: d, page: a, errors } = await openAppPage(distDir, cleanups, { webrtcDirect: true, rpcPort: 0, providers: 1, provingPeriod: 20, faucetCooldownMs: 0 }, '?transports=webrtc-direct#chain')
    await a.waitForSelector(`${ownNode}[data-kind=shared]`, { timeout: 60_000 })
    await a.waitForFunction(() => Number(document.querySelector('[data-testid=verified-height]')?.textContent) > 2, null, { timeout: 60_000 })
    const firstHeadMs = performance.now() - opened
    const peer = (await a.getAttribute(ownNode, 'data-peer'))!
    const conns = (): string[] => d.libp2p.getConnections().filter(c => c.remotePeer.toString() === peer && c.status === 'open').map(c => c.remoteAddr.toString())
    expect(conns().length).toBeGreaterThan(0)
    expect(conns().every(a => a.includes('/webrtc-direct'))).toBe(true)
    await rising(a)
    await a.waitForSelector(`[data-testid=peer][data-transport=webrtc-direct]`, { timeout: 10_000 })
    console.log(`tab over WebRTC-Direct only: page opened to a verified head in ${Math.round(firstHeadMs)} ms`)

    // an upload over it: the file's bytes go to the provider through the page's data channels
    await a.click('[data-testid=tab-wallet]')
    await fundedWallet(a, 'webrtc only')
    await a.click('[data-testid=tab-upload]')
    await a.waitForSelector('[data-testid=provider-row][data-online=true]', { timeout: 60_000 })
    await a.fill('[data-testid=upload-copies]', '1')
    await a.fill('[data-testid=upload-periods]', '2')
    const file = Buffer.alloc(3 * 2 ** 20)
    for (let i = 0; i < file.length; i += 4) file.writeUInt32LE(Math.imul(i + 7, 2654435761) >>> 0, i)
    const sent = performance.now()
    await a.setInputFiles('[data-testid=upload-input]', { name: 'rtc.bin', mimeType: 'application/octet-stream', buffer: file })
    await whileProgressing('upload', async () => await uploadCardSeen(a))
    expect(await a.getAttribute('[data-testid=upload-card]', 'data-stage')).toBe('done')
    console.log(`tab over WebRTC-Direct only: a 3 MiB upload done in ${Math.round(performance.now() - sent)} ms`)
    const provider = d.providers[0]!.libp2p
    const toProvider = provider.getConnections().filter(c => c.remotePeer.toString() === peer).map(c => c.remoteAddr.toString())
    expect(toProvider.length).toBeGreaterThan(0)
    expect(toProvider.every(x => x.includes('/webrtc-direct'))).toBe(true)
    await a.click('[data-testid=tab-chain]')

    // a second tab of the profile shares the node; the connection lives in the first page: closing it ends the
    // connection like a dropped network, and the node dials again through the second page
    const b = await a.context().newPage()
    b.on('pageerror', err => errors.push(err.message))
    await b.goto(`${d.url!}?transports=webrtc-direct#chain`)
    await b.waitForSelector(`${ownNode}[data-peer="${peer}"]`, { timeout: 60_000 })
    const before = conns()
    await a.close()
    // (on a timeout, what the second tab shows of the nodes: a node dropped for the cut is never dialled again)
    await until(() => conns().length > 0 && conns().every(c => !before.includes(c)) ? true : undefined, 60_000,
      async () => ({ before, now: conns(), nodes: await b.$$eval('[data-testid=node-row]', rows => rows.map(r => r.textContent)) }))
    expect(conns().every(a => a.includes('/webrtc-direct'))).toBe(true)
    await rising(b)
    expect(errors).toEqual([])
  }, 240_000)

  it('a node whose WebSocket address hangs is reached over WebRTC-Direct (a tab with its own node, both transports on)', async () => {
    const { devnet: d, page, errors } = await openAppPage(distDir, cleanups, { webrtcDirect: true }, '?node=tab#chain')
    // the same node's WebSocket address made to hang: a TCP port that accepts and never answers (a filtering network)
    const silent = createServer(() => {})
    const sockets = new Set<import('node:net').Socket>()
    silent.on('connection', (s) => { sockets.add(s) })
    await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', resolve))
    cleanups.push(async () => { for (const s of sockets) s.destroy(); await new Promise(resolve => silent.close(resolve)) })
    const real = d.bootstrap()
    const ws = real.peers.find(p => p.includes('/ws/'))!
    const hanging = ws.replace(/\/tcp\/\d+\//, `/tcp/${(silent.address() as AddressInfo).port}/`)
    const app = await startAppServer({ distDir, host: '127.0.0.1', port: 0, bootstrap: () => ({ ...real, peers: [hanging, ...real.peers.filter(p => p !== ws)] }) })
    cleanups.push(app.close)
    const opened = performance.now()
    await page.goto(`${app.url}?node=tab#chain`)
    await page.waitForSelector(`${ownNode}[data-kind=tab]`, { timeout: 60_000 })
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=verified-height]')?.textContent) > 2, null, { timeout: 60_000 })
    const headMs = performance.now() - opened
    await page.waitForSelector(`[data-testid=peer][data-transport=webrtc-direct]`, { timeout: 10_000 })
    expect(sockets.size).toBeGreaterThan(0) // the WebSocket address was tried, and hung
    await rising(page)
    console.log(`WebSocket address hanging: verified head over WebRTC-Direct ${Math.round(headMs)} ms after the page opened`)
    expect(errors).toEqual([])
  }, 240_000)
})
