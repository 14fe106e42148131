// Tab to tab (issue 15 part 2), in real Chromium with two profiles: the devnet's node is listed only to the first
// tab; the second knows nothing but a circuit relay. The first reserves a slot on the relay and announces its
// relayed WebRTC address on the tabs' topic; the second hears it through the relay, connects to the first over
// WebRTC (the relay carries only the signalling; both connections are made by the pages and bridged to the nodes in
// their workers), and syncs the chain from it, verifying every header as it would a node's. A lying tab (a Node
// peer reached the same way) serves headers signed with the wrong key: refused by name, dropped, not dialled again;
// a tab that floods chain-exchange requests is answered within bounds while sync goes on; a tab whose WebRTC dial
// hangs is given up; and when the relay goes, the tabs' direct connection carries the chain on.
// Under Expected Consensus with F3 (the default devnet's rules) the first tab also serves the certificates and the
// block state proofs it checked, and the second checks them as it would a node's.
import { describe, it, expect, beforeAll, afterEach } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Page } from 'playwright-core'
import { chromiumPath, launchChromium } from '../helpers/chromium'
import { requireBuiltApp } from '../helpers/dist'
import { until } from '../helpers/until'
import { startDevnet, type Devnet, type DevnetInit } from '../../src/node/devnet'
import { startAppServer } from '../../src/node/app-server'
import { createCofferLibp2p, subscribeTabs, requestChain, tabsTopic, encodeTabAnnouncement, type CofferLibp2p } from '../../src/net'
import { CID, EXCHANGE_OPT_HEADERS } from '../../src/core'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { startMaliciousPeer } from '../helpers/malicious-peer'
import { createTabPeer, announceThroughRelay } from '../helpers/test-tab'
import { STUCK_MS } from './helpers/retrieval-ui'

let distDir: string
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

beforeAll(() => {
  chromiumPath()
  distDir = requireBuiltApp()
})

const verifiedHeight = async (page: Page): Promise<number> => Number(await page.textContent('[data-testid=verified-height]'))
/**
 * Waits for `page`'s verified height to reach `min`, failing only once it has not moved for STUCK_MS: how fast it
 * gets there is the machine's business (one core throttled ×4 takes several times longer), a hang is not.
 */
async function heightReaches (page: Page, min: number, what: string): Promise<void> {
  let last = -1
  let movedAt = performance.now()
  for (;;) {
    const h = await verifiedHeight(page)
    if (h >= min) return
    if (h !== last) { last = h; movedAt = performance.now() }
    if (performance.now() - movedAt > STUCK_MS) {
      const seen = await page.evaluate(() => ({
        peers: [...document.querySelectorAll('[data-testid=peer]')].map(e => `${e.getAttribute('data-transport') ?? ''} ${e.getAttribute('title') ?? ''}`),
        nodes: [...document.querySelectorAll('[data-testid=node-row]')].map(e => `${e.getAttribute('data-role') ?? ''} ${e.getAttribute('data-state') ?? ''} ${e.getAttribute('data-peer') ?? ''}`)
      }))
      throw new Error(`${what}: the verified height stayed at ${h} for ${STUCK_MS} ms (wanted ${min}); ${JSON.stringify(seen)}`)
    }
    await new Promise(resolve => setTimeout(resolve, 500))
  }
}

/** The verified head's height and CID as one render shows them (read apart, a new head could come between). */
const headOf = async (page: Page): Promise<{ height: number, cid: string }> => await page.evaluate(() => ({
  height: Number(document.querySelector('[data-testid=verified-height]')?.textContent),
  cid: document.querySelector('[data-testid=head-cid]')?.getAttribute('title') ?? ''
}))

interface TwoTabs { d: Devnet, relay: CofferLibp2p, relayAddr: string, network: string, a: Page, peerA: string, b: Page, errors: string[], openedB: number }

/**
 * A devnet, a relay of its own (a node of another operator, say) and two profiles: the first tab is told of the
 * devnet's node and the relay, the second only of the relay. The devnet's node relays for nobody, so the only way
 * between the tabs is the relay.
 */
async function twoTabs (init: Partial<DevnetInit>): Promise<TwoTabs> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'coffer-tabs-devnet-'))
  const d = await startDevnet({ dataDir, distDir, httpPort: 0, rpcPort: null, relay: false, ...init })
  cleanups.push(async () => { await d.stop(); await rm(dataDir, { recursive: true, force: true }) })
  const network = d.bootstrap().network
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
  await heightReaches(a, 4, 'the first tab syncs from the devnet')
  const peerA = (await a.getAttribute('[data-testid=own-node]', 'data-peer'))!
  // the first tab holds a reservation on the relay: its relayed address exists
  await until(() => relay.getConnections().some(c => c.remotePeer.toString() === peerA) ? true : undefined, STUCK_MS)
  const openedB = performance.now()
  const b = await open(urlB)
  return { d, relay, relayAddr, network, a, peerA, b, errors, openedB }
}

/** The second tab finds the first, syncs to the height it had verified, from it alone, and follows the chain on. */
async function syncsFromTheOther ({ d, a, peerA, b, openedB }: TwoTabs, what: string): Promise<void> {
  await b.waitForSelector(`[data-testid=node-row][data-peer="${peerA}"][data-role=tab]`, { timeout: STUCK_MS })
  const target = await verifiedHeight(a)
  await heightReaches(b, target, 'the second tab syncs from the first')
  const syncedMs = performance.now() - openedB
  // what it verified is the devnet's chain, though it never spoke to the devnet's node
  const { height: h, cid } = await headOf(b)
  expect(cid).toBe((await d.headerAt(h))!.cid.toString())
  const peerB = (await b.getAttribute('[data-testid=own-node]', 'data-peer'))!
  expect(d.libp2p.getConnections().some(c => c.remotePeer.toString() === peerB)).toBe(false)
  // directly, over WebRTC: not through the relay, whose circuit carries only the signalling
  await b.waitForSelector(`[data-testid=peer][data-peer="${peerA}"][data-transport=webrtc]`, { timeout: 30_000 })
  expect(await b.locator(`[data-testid=peer][data-peer="${peerA}"]`).count()).toBe(1)
  // and it goes on following the chain through the first tab
  await heightReaches(b, h + 1, 'the second tab follows the chain through the first')
  console.log(`tab to tab (${what}): the second tab (only a relay known) reached the first tab's verified height ${Math.round(syncedMs)} ms after opening`)
}

describe('tab to tab', () => {
  it('a tab that reaches only a relay syncs verified headers from another tab over WebRTC; a lying tab is dropped, a flooding one bounded, a hung dial given up, a lost relay survived', async () => {
    const tabs = await twoTabs({})
    const { d, b, relayAddr, network, errors } = tabs
    await syncsFromTheOther(tabs, 'one producer')

    // a lying tab: it announces itself through the relay, claims a heavier chain and serves headers signed with a
    // key that is not the chain's. The second tab checks them as a node's, refuses them by name and drops it
    const liar = await startMaliciousPeer(d.genesis, { length: d.head().header.height + 50, asTab: { relay: relayAddr, network } })
    cleanups.push(liar.stop)
    const liarId = liar.libp2p.peerId.toString()
    await b.waitForSelector(`[data-testid=node-row][data-peer="${liarId}"][data-state=dropped]`, { timeout: STUCK_MS })
    // caught by its forged signature when the tab syncs toward its heavier head; or, when the tab got to it only
    // after its own chain passed the liar's announced height (its lead is 50 blocks: CI's loaded 2 cores took longer
    // once), by that head not being the verified chain's header at its height. Either way by name, and dropped
    const reason = await b.textContent('[data-testid=rejection-reason]')
    expect(['BadSignatureError', 'NodeHeadMismatchError']).toContain(reason)
    console.log(`tab to tab: the lying tab was dropped for ${String(reason)}`)
    // nothing of its chain was kept (the verified head is the devnet's, and every header under it is its parent's), and
    // the chain goes on through the honest tab
    const after = await verifiedHeight(b)
    await heightReaches(b, after + 1, 'the second tab goes on after the liar')
    const head = await headOf(b)
    expect(head.cid).toBe((await d.headerAt(head.height))?.cid.toString())
    // it is not dialled again while it goes on announcing itself
    await new Promise(resolve => setTimeout(resolve, 3000))
    const peerBNow = (await b.getAttribute('[data-testid=own-node]', 'data-peer'))!
    expect(liar.libp2p.getConnections().filter(c => c.remotePeer.toString() === peerBNow && c.limits === undefined)).toEqual([])

    // a tab that floods: once the second tab has dialled it, 300 chain-exchange requests at once for its head. Each
    // is answered or refused within bounds (GoAway past the per-peer and overall limits, a reset past the streams
    // allowed), and the second tab goes on syncing from the honest one
    const flooder = await createTabPeer(network)
    cleanups.push(async () => { await Promise.race([flooder.stop(), new Promise(resolve => setTimeout(resolve, 3000))]) })
    await announceThroughRelay(flooder, relayAddr, network)
    const direct = (): boolean => flooder.getConnections().some(c => c.remotePeer.toString() === peerBNow && c.limits === undefined)
    await until(() => direct() ? true : undefined, STUCK_MS)
    const headB = await headOf(b)
    const outcomes = await Promise.allSettled(Array.from({ length: 300 }, async () =>
      await requestChain(flooder, peerIdFromString(peerBNow), { head: [CID.parse(headB.cid)], length: 900, options: EXCHANGE_OPT_HEADERS }, AbortSignal.timeout(60_000))))
    const answered = outcomes.filter(o => o.status === 'fulfilled' && (o.value.status === 0 || o.value.status === 101)).length
    const busy = outcomes.filter(o => o.status === 'fulfilled' && o.value.status === 202).length
    const refused = outcomes.filter(o => o.status === 'rejected').length
    console.log(`tab to tab: a flood of 300 chain-exchange requests: ${answered} answered, ${busy} GoAway, ${refused} refused or timed out (streams over the limit, or not answered within 60 s)`)
    // how many get through depends on how fast the tab answers (none did on one core throttled ×4): only the bound is
    // the tab's to keep
    expect(answered + busy).toBeLessThan(300)
    const during = await verifiedHeight(b)
    await heightReaches(b, during + 1, 'the second tab goes on during the flood')

    // a tab whose WebRTC dial hangs: it is reached through the relay but never answers the signalling. The second tab
    // gives that dial up (its signalling stream is closed) and goes on
    const silent = await createCofferLibp2p({ listen: ['/p2p-circuit'], transports: [circuitRelayTransport()], network, allowLoopbackDials: true })
    cleanups.push(async () => { await Promise.race([silent.stop(), new Promise(resolve => setTimeout(resolve, 3000))]) })
    const signalling: Array<{ from: string, closed: boolean }> = []
    await silent.handle('/webrtc-signaling/0.0.1', (stream, connection) => {
      const seen = { from: connection.remotePeer.toString(), closed: false }
      signalling.push(seen)
      stream.addEventListener('close', () => { seen.closed = true })
    }, { runOnLimitedConnection: true })
    subscribeTabs(silent, network, () => {})
    await silent.dial(multiaddr(relayAddr))
    await until(() => silent.getMultiaddrs().some(a => a.toString().includes('/p2p-circuit')) ? true : undefined, STUCK_MS)
    const silentAddr = multiaddr(`${relayAddr}/p2p-circuit/webrtc/p2p/${silent.peerId.toString()}`)
    const announcing = setInterval(() => { void silent.services.pubsub.publish(tabsTopic(network), encodeTabAnnouncement([silentAddr])).catch(() => {}) }, 1000)
    cleanups.push(async () => { clearInterval(announcing) })
    const fromB = (): { from: string, closed: boolean } | undefined => signalling.find(x => x.from === peerBNow)
    await until(() => fromB(), STUCK_MS)
    await until(() => fromB()?.closed === true ? true : undefined, STUCK_MS)
    const stalled = await verifiedHeight(b)
    await heightReaches(b, stalled + 1, 'the second tab goes on after a hung dial')

    // the relay goes: the tabs' direct connection never needed it, and the chain still comes through the first tab
    await tabs.relay.stop()
    const relayGone = await verifiedHeight(b)
    await heightReaches(b, relayGone + 2, 'the second tab goes on without the relay')
    expect(errors).toEqual([])
  }, 900_000)

  it('under Expected Consensus with F3, the second tab syncs by the first tab\'s certificates and block proofs', async () => {
    // the default devnet's rules: the providers win the blocks; a new tab checks certificates, then each block against
    // its miner's state: proofs the first tab checked and now serves, as it serves its headers
    const tabs = await twoTabs({ providers: 1, f3: { instanceEpochs: 10, finalityDepth: 2 }, provingPeriod: 1000 })
    await syncsFromTheOther(tabs, 'Expected Consensus')
    await tabs.b.waitForSelector('[data-testid=finality-verified]', { timeout: STUCK_MS })
    expect(tabs.errors).toEqual([])
  }, 900_000)
})
