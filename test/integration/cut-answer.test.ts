// A node whose link is cut in the middle of an answer is not a liar. libp2p ends a stream the same way when its
// connection is closed mid-answer (a node shutting down, a tab closing with the WebRTC connection it held) as when
// the peer finished: the client sees half an answer and a clean end. It must hang up and reach the node again, not
// drop it for the session as it drops a node whose proof does not verify (once, a tab whose only node was dropped so
// never dialled it again: the WebRTC-Direct browser test's closed-tab hand-over, on a loaded CI machine). Real libp2p
// on loopback, a real devnet's chain; the node in front of it is written by hand so that it cuts its first answer.
import { describe, it, expect, afterEach } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Stream, Connection } from '@libp2p/interface'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { startDevnet, type Devnet } from '../../src/node/devnet'
import { answerState } from '../../src/node/state-answers'
import { startLightClient, type LightClient } from '../../src/light'
import { createCofferLibp2p, serveChainExchange, runHello } from '../../src/net'
import { readAll } from '../../src/net/stream-io'
import { STATE_PROTOCOL, decodeStateRequest, encodeStateResponse, secpAddressBytes, secpPublicKey, parseFil } from '../../src/core'
import { honestHeaders } from '../helpers/lying-state-peer'
import { until } from '../helpers/until'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

describe('a node cut off mid-answer', () => {
  it('is hung up on, not dropped: the client dials it again and its next answer is taken', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'coffer-cut-'))
    const d: Devnet = await startDevnet({ dataDir: dir, distDir: '/nonexistent', serveApp: false })
    cleanups.push(async () => { await d.stop(); await rm(dir, { recursive: true, force: true }) })
    const address = secpAddressBytes(secpPublicKey(secp256k1.utils.randomSecretKey()))
    const paid = await d.chain.waitMessage(await d.chain.faucet(address), AbortSignal.timeout(20_000))

    // the devnet's chain and state, served by a node that closes its connection halfway through its first actor answer
    const node = await createCofferLibp2p({ listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
    cleanups.push(async () => { await node.stop() })
    await serveChainExchange(node, { headersFrom: honestHeaders(d) })
    let cuts = 0
    await node.handle(STATE_PROTOCOL, async (stream: Stream, connection: Connection) => {
      const req = decodeStateRequest(await readAll(stream, 1 << 16))
      const answer = encodeStateResponse(await answerState(d.chain, req))
      if (req.kind === 'actor' && cuts === 0) {
        cuts++
        stream.send(answer.subarray(0, answer.length >> 1))
        await connection.close() // its streams end as if answered: the asker has half an answer
        return
      }
      if (!stream.send(answer)) await stream.onDrain()
      await stream.close()
    })
    await runHello(node, { genesisCid: d.genesis.header.cid, head: () => d.head(), onError: () => {}, clockNs: () => BigInt(Date.now()) * 1_000_000n })
    const nodeId = node.peerId.toString()

    const lc: LightClient = await startLightClient({ bootstrap: { ...d.bootstrap(), peers: [node.getMultiaddrs()[0]!.toString()] }, bootstrapSource: 'network', onStatus: () => {}, redialMs: 200 })
    cleanups.push(lc.stop)
    await until(() => lc.status().verifiedHeight >= paid.executedIn.header.height, 30_000)

    const first = await lc.state.actor(address).then(() => null, (err: Error) => err)
    expect(first?.name).toBe('TruncatedMessageError')
    expect(cuts).toBe(1)
    // not the node's lie: nothing rejected, the node not dropped, and the client connected to it again
    expect(lc.status().lastRejection).toBeNull()
    // (hung up on, it may be out of the list until it is connected again; a dropped node stays listed as dropped)
    expect(lc.status().nodes.find(n => n.id === nodeId)?.state).not.toBe('dropped')
    await until(() => lc.libp2p.getConnections(node.peerId).some(c => c.status === 'open'), 30_000)
    const again = await lc.state.actor(address)
    expect(again.actor?.balance).toBe(parseFil('100'))
    const listed = await until(() => lc.status().nodes.find(n => n.id === nodeId), 30_000)
    expect(listed.state).not.toBe('dropped')
  })
})
