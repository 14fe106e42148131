// WebRTC-Direct on Node nodes (issue 15 part 1), on loopback: the devnet's node listens with it as well as
// WebSockets and lists both in the bootstrap document; a full node given only the WebRTC-Direct address syncs the
// chain over it (node-datachannel, a real DTLS/SCTP connection); the certificate is kept in the folder, so a restart
// keeps the certhash and the address handed out before still works. Dial times of both transports are printed.
import { describe, it, expect, afterEach } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { startDevnet, type Devnet } from '../../src/node/devnet'
import { startFullNode } from '../../src/node/full-node'
import { webRtcDirectTransport, loadOrCreateWebRtcCertificate } from '../../src/node/webrtc-direct'
import { createCofferLibp2p } from '../../src/net'
import { until } from '../helpers/until'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

async function tmp (prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix))
  cleanups.push(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

const isRtc = (a: string): boolean => a.includes('/webrtc-direct/')

describe('WebRTC-Direct between Node nodes', () => {
  it('a full node given only the devnet\'s WebRTC-Direct address syncs over it; a restart keeps the certhash', async () => {
    const dir = await tmp('coffer-rtc-devnet-')
    let d: Devnet = await startDevnet({ dataDir: dir, distDir: '/nonexistent', serveApp: false, rpcPort: null, webrtcDirect: true })
    cleanups.push(async () => { await d.stop() })
    const addrs = d.bootstrap().peers
    const rtc = addrs.filter(isRtc)
    expect(rtc).toHaveLength(1)
    expect(rtc[0]).toMatch(/^\/ip4\/127\.0\.0\.1\/udp\/\d+\/webrtc-direct\/certhash\/u[\w-]+\/p2p\/12D3/)
    expect(addrs.some(a => a.includes('/ws/'))).toBe(true)

    // a full node that may only use the WebRTC-Direct address
    const nodeDir = await tmp('coffer-rtc-node-')
    const full = await startFullNode({ dataDir: nodeDir, bootstrap: { ...d.bootstrap(), peers: rtc }, webrtcDirect: {} })
    cleanups.push(async () => { await full.stop() })
    await full.synced()
    const target = d.head().header.height + 2
    await until(() => full.chain.head().header.height >= target ? true : undefined, 60_000, () => ({ node: full.chain.head().header.height, devnet: d.head().header.height }))
    expect((await full.chain.headerAt(target))?.cid.toString()).toBe((await d.headerAt(target))?.cid.toString())
    const conns = full.libp2p.getConnections(d.libp2p.peerId)
    expect(conns.length).toBeGreaterThan(0)
    expect(conns.every(c => isRtc(c.remoteAddr.toString() + '/'))).toBe(true)
    // the full node listens with it too
    expect(full.libp2p.getMultiaddrs().map(String).some(isRtc)).toBe(true)

    // dial times of both, from a fresh node with both transports (printed, never asserted: machines differ)
    const dialer = await createCofferLibp2p({ allowLoopbackDials: true, transports: [await webRtcDirectTransport(await tmp('coffer-rtc-dialer-'))] })
    cleanups.push(async () => { await dialer.stop() })
    const figures: string[] = []
    for (const a of [addrs.find(x => x.includes('/ws/'))!, rtc[0]!]) {
      const t0 = performance.now()
      await dialer.dial(multiaddr(a))
      figures.push(`${isRtc(a) ? 'WebRTC-Direct' : 'WebSocket'} ${(performance.now() - t0).toFixed(0)} ms`)
      await dialer.hangUp(d.libp2p.peerId)
    }
    console.log(`dial + noise/identify on loopback: ${figures.join(', ')}`)

    // restarted from its folder: the same certificate, so the address handed out before still works
    const certhash = /certhash\/([^/]+)/.exec(rtc[0]!)![1]
    await d.stop()
    d = await startDevnet({ dataDir: dir, distDir: '/nonexistent', serveApp: false, rpcPort: null, webrtcDirect: true })
    const again = d.bootstrap().peers.find(isRtc)!
    expect(/certhash\/([^/]+)/.exec(again)![1]).toBe(certhash)
    expect((await loadOrCreateWebRtcCertificate(dir)).certhash).toBe(certhash)
  }, 180_000)
})
