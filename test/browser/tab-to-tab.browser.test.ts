// Tab to tab (issue 15 part 2), in real Chromium with two profiles: the devnet's node is listed only to the first
// tab; the second knows nothing but a circuit relay. The first reserves a slot on the relay and announces its
// relayed WebRTC address on the tabs' topic; the second hears it through the relay, connects to the first over
// WebRTC (the relay carries only the signalling; both connections are made by the pages and bridged to the nodes in
// their workers), and syncs the chain from it, verifying every header as it would a node's. A lying tab (a Node
// peer reached the same way) serves headers signed with the wrong key: refused by name, dropped, not dialled again.
import { describe, it, expect, beforeAll, afterEach } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Page } from 'playwright-core'
import { chromiumPath, launchChromium } from '../helpers/chromium'
import { requireBuiltApp } from '../helpers/dist'
import { until } from '../helpers/until'
import { startDevnet } from '../../src/node/devnet'
import { startAppServer } from '../../src/node/app-server'
import { createCofferLibp2p, subscribeTabs } from '../../src/net'
import { startMaliciousPeer } from '../helpers/malicious-peer'

let distDir: string
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

beforeAll(() => {
  chromiumPath()
  distDir = requireBuiltApp()
})

const verifiedHeight = async (page: Page): Promise<number> => Number(await page.textContent('[data-testid=verified-height]'))
/** The verified head's height and CID as one render shows them (read apart, a new head could come between). */
const headOf = async (page: Page): Promise<{ height: number, cid: string }> => await page.evaluate(() => ({
  height: Number(document.querySelector('[data-testid=verified-height]')?.textContent),
  cid: document.querySelector('[data-testid=head-cid]')?.getAttribute('title') ?? ''
}))

describe('tab to tab', () => {
  it('a tab that reaches only a relay syncs verified headers from another tab over WebRTC', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'coffer-tabs-devnet-'))
    // the devnet's node relays for nobody here: the only way between the tabs is the relay below
    const d = await startDevnet({ dataDir, distDir, httpPort: 0, rpcPort: null, relay: false })
    cleanups.push(async () => { await d.stop(); await rm(dataDir, { recursive: true, force: true }) })
    const network = d.bootstrap().network
    // a circuit relay that holds no chain (a node of another operator, say): it relays tabs' signalling and gossip
    const relay = await createCofferLibp2p({ listen: ['/ip4/127.0.0.1/tcp/0/ws'], relayServer: true, network, allowLoopbackDials: true })
    cleanups.push(async () => { await Promise.race([relay.stop(), new Promise(resolve => setTimeout(resolve, 3000))]) })
    subscribeTabs(relay, network, () => {})
    const relayAddr = relay.getMultiaddrs().map(String).find(a => a.includes('/ws/'))!

    const serve = async (peers: string[]): Promise<string> => {
      const app = await startAppServer({ distDir, host: '127.0.0.1', port: 0, bootstrap: () => ({ ...d.bootstrap(), peers }) })
      cleanups.push(app.close)
      return app.url
    }
    const urlA = await serve([...d.bootstrap().peers, relayAddr])
    const urlB = await serve([relayAddr])
    const errors: string[] = []
    const open = async (url: string): Promise<Page> => {
      const b = await launchChromium()
      cleanups.push(b.close)
      const page = await b.context.newPage()
      page.on('pageerror', err => errors.push(err.message))
      await page.goto(`${url}#chain`)
      return page
    }

    const a = await open(urlA)
    await a.waitForFunction(() => Number(document.querySelector('[data-testid=verified-height]')?.textContent) > 3, null, { timeout: 60_000 })
    const peerA = (await a.getAttribute('[data-testid=own-node]', 'data-peer'))!
    // the first tab holds a reservation on the relay: its relayed address exists
    await until(() => relay.getConnections().some(c => c.remotePeer.toString() === peerA) ? true : undefined, 60_000)

    const opened = performance.now()
    const b = await open(urlB)
    // the second tab finds the first and says so in its Nodes table, as a tab
    await b.waitForSelector(`[data-testid=node-row][data-peer="${peerA}"][data-role=tab]`, { timeout: 90_000 })
    const target = await verifiedHeight(a)
    await b.waitForFunction((h) => Number(document.querySelector('[data-testid=verified-height]')?.textContent) >= h, target, { timeout: 90_000 })
    const syncedMs = performance.now() - opened
    // what it verified is the devnet's chain, though it never spoke to the devnet's node
    const { height: h, cid } = await headOf(b)
    expect(cid).toBe((await d.headerAt(h))!.cid.toString())
    const peerB = (await b.getAttribute('[data-testid=own-node]', 'data-peer'))!
    expect(d.libp2p.getConnections().some(c => c.remotePeer.toString() === peerB)).toBe(false)
    // directly, over WebRTC: not through the relay, whose circuit carries only the signalling
    await b.waitForSelector(`[data-testid=peer][data-peer="${peerA}"][data-transport=webrtc]`, { timeout: 10_000 })
    expect(await b.locator(`[data-testid=peer][data-peer="${peerA}"]`).count()).toBe(1)
    // and it goes on following the chain through the first tab
    await b.waitForFunction((x) => Number(document.querySelector('[data-testid=verified-height]')?.textContent) > x, h, { timeout: 60_000 })
    console.log(`tab to tab: the second tab (only a relay known) reached the first tab's verified height ${Math.round(syncedMs)} ms after opening`)

    // a lying tab: it announces itself through the relay, claims a heavier chain and serves headers signed with a
    // key that is not the chain's. The second tab checks them as a node's, refuses them by name and drops it
    const liar = await startMaliciousPeer(d.genesis, { length: d.head().header.height + 50, asTab: { relay: relayAddr, network } })
    cleanups.push(liar.stop)
    const liarId = liar.libp2p.peerId.toString()
    await b.waitForSelector(`[data-testid=node-row][data-peer="${liarId}"][data-state=dropped]`, { timeout: 90_000 })
    expect(await b.textContent('[data-testid=rejection-reason]')).toBe('BadSignatureError')
    // nothing of its chain was kept, and the chain goes on through the honest tab
    const after = await verifiedHeight(b)
    expect(after).toBeLessThan(liar.forged.at(-1)!.header.height)
    await b.waitForFunction((x) => Number(document.querySelector('[data-testid=verified-height]')?.textContent) > x, after, { timeout: 60_000 })
    const head = await headOf(b)
    expect(head.cid).toBe((await d.headerAt(head.height))?.cid.toString())
    // it is not dialled again while it goes on announcing itself
    await new Promise(resolve => setTimeout(resolve, 3000))
    const peerBNow = (await b.getAttribute('[data-testid=own-node]', 'data-peer'))!
    expect(liar.libp2p.getConnections().filter(c => c.remotePeer.toString() === peerBNow && c.limits === undefined)).toEqual([])
    expect(errors).toEqual([])
  }, 300_000)
})
