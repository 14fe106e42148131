// A node's own message whose first publish reached no one (pushed while its connections were down, as a provider
// restarted after a crash pushes before its gossip mesh forms) still reaches the network: the node publishes its
// pending local messages again every few heads (as Lotus republishes local messages), and a block carries it.
import { describe, it, expect, afterEach } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { startDevnet } from '../../src/node/devnet'
import { startFullNode } from '../../src/node/full-node'
import { signMessage, secpPublicKey, secpAddressBytes, gasLimitFor, getActor, TRANSFER_GAS_FEE_CAP, TRANSFER_GAS_PREMIUM, type Message } from '../../src/core'
import { until } from '../helpers/until'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

describe('local messages are republished', () => {
  it('a transfer pushed to a full node cut off from every peer reaches the devnet once it reconnects, and is included', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'coffer-republish-'))
    cleanups.push(async () => { await rm(dir, { recursive: true, force: true }) })
    const d = await startDevnet({ dataDir: path.join(dir, 'devnet'), distDir: '/nonexistent', serveApp: false, faucetCooldownMs: 0 })
    cleanups.push(d.stop)
    const lines: string[] = []
    const n = await startFullNode({ dataDir: path.join(dir, 'node'), bootstrap: d.bootstrap(), log: (l) => lines.push(l) })
    cleanups.push(n.stop)
    await n.synced()

    // a funded key, known to the node's state
    const secret = secp256k1.utils.randomSecretKey()
    const from = secpAddressBytes(secpPublicKey(secret))
    await d.chain.faucet(from)
    await until(() => n.chain.readState((s, r) => getActor(s, r, from)) !== null, 60_000)

    // cut off: no connection, so the push's one publish reaches no one
    await Promise.all(n.libp2p.getConnections().map(async c => { await c.close() }))
    const m: Message = {
      version: 0, to: secpAddressBytes(secpPublicKey(secp256k1.utils.randomSecretKey())), from, nonce: 0, value: 1n, gasLimit: 0,
      gasFeeCap: TRANSFER_GAS_FEE_CAP, gasPremium: TRANSFER_GAS_PREMIUM, method: 0, params: new Uint8Array(0)
    }
    const cid = await n.chain.mpoolPush(signMessage(secret, { ...m, gasLimit: gasLimitFor(m) }))
    expect(d.chain.mpool.has(cid)).toBe(false)

    // the node redials its bootstrap peer by itself; its next heads publish the message again; the devnet includes it
    await until(async () => await d.chain.searchMessage(cid) !== null, 90_000)
    expect((await d.chain.searchMessage(cid))!.receipt.exitCode).toBe(0)
  }, 180_000)
})
