// Expected Consensus in real Chromium (issue 13): the built app, served with a bootstrap document naming one full
// node of a two-partition network (real libp2p over WebSockets on loopback). The tab's worker checks every block
// by the consensus rules against state proofs; its Chain view lists the partition's tipsets (null rounds where its
// one miner lost), and when the partitions rejoin it reorganises to the heavier chain, keeps a verified head through
// it, counts the reorganisation and lists tipsets of several miners' blocks.
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { chromiumPath, launchChromium } from '../helpers/chromium'
import { requireBuiltApp } from '../helpers/dist'
import { until, untilProgress } from '../helpers/until'
import { ecNetworkGenesis, ecFullNode, join, headKeyOf, freezeHeavier, severalMinersRecently } from '../helpers/ec-network'
import { makeBootstrap } from '../../src/net'
import { startAppServer } from '../../src/node/app-server'

let distDir: string
const cleanups: Array<() => Promise<void>> = []
afterAll(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

beforeAll(async () => {
  chromiumPath()
  distDir = requireBuiltApp()
  // Node 20 has no global WebSocket, and the in-process full nodes dial their peers with it (as bin.mjs does)
  if (typeof globalThis.WebSocket === 'undefined') (globalThis as { WebSocket?: unknown }).WebSocket = (await import('ws')).WebSocket
})

// its waits are on progress (they give up when nothing moves for 30 s): the test's own timeout is only a ceiling
describe('the Chain view under Expected Consensus', { timeout: 600_000 }, () => {
  it('shows several miners\' blocks in one tipset and keeps a verified head through a reorganisation', async () => {
    const genesis = ecNetworkGenesis('ec-chain-view', 2)
    const a = await ecFullNode(genesis, [0], cleanups)
    const b = await ecFullNode(genesis, [1, 2], cleanups)
    const app = await startAppServer({ distDir, host: '127.0.0.1', port: 0, bootstrap: () => makeBootstrap(genesis, a.libp2p.getMultiaddrs().map(String)) })
    cleanups.push(app.close)
    const browser = await launchChromium()
    cleanups.push(browser.close)
    const page = await browser.context.newPage()
    const errors: string[] = []
    page.on('pageerror', err => errors.push(err.message))
    await page.goto(app.url)

    // A's partition: one miner, one block a tipset, each verified in the tab
    const verified = async (): Promise<number> => Number(await page.textContent('[data-testid=verified-height]'))
    await untilProgress(async () => (await verified()) >= 3, verified, 30_000)
    await page.waitForSelector('[data-testid=consensus-card]')
    expect(await page.isVisible('[data-testid=last-rejection]')).toBe(false)

    // A's miner stops; B's mine on until their chain is the heavier and a tipset of both their blocks is among its
    // last heights (within the tab's list), then stop: what the tab converges on has an end, so the waits below are on
    // its progress, not on this machine keeping up with two partitions' rounds
    const bHead = await freezeHeavier(a, b, async () => await severalMinersRecently(b, 6))

    // the partitions rejoin: A takes B's heavier chain, and the tab follows
    await join(a, b)
    const headCid = async (): Promise<string> => (await page.textContent('[data-testid=head-cid]') ?? '').trim()
    await untilProgress(async () => {
      return Number(await page.textContent('[data-testid=reorg-count]')) >= 1 && headKeyOf(a) === bHead && bHead.split(',').includes(await headCid())
    }, async () => [await verified(), a.chain.head().header.height], 30_000)
    // a tipset of two or more blocks, from different miners, listed as one height
    const several = await until(async () => {
      const rows = await page.$$eval('[data-testid=header-row]', trs => trs.map(tr => ({ height: tr.getAttribute('data-height'), size: Number(tr.getAttribute('data-tipset-size')), miner: tr.querySelector('[data-testid=block-miner]')?.textContent ?? '' })))
      const byHeight = new Map<string, string[]>()
      for (const r of rows) if (r.size >= 2) byHeight.set(r.height!, [...byHeight.get(r.height!) ?? [], r.miner])
      return [...byHeight.values()].find(ms => new Set(ms).size >= 2)
    }, 10_000)
    expect(several.length).toBeGreaterThanOrEqual(2)
    expect(await page.textContent('[data-testid=last-reorg]')).toMatch(/left behind/)
    expect(await page.isVisible('[data-testid=last-rejection]')).toBe(false)
    expect(errors).toEqual([])
  })
})
