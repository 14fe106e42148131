// The light client believes a balance only when its proof walks from the state root of a header it
// verified: a node inventing a balance is caught, reported and dropped; an honest node's proof is accepted.
import { describe, it, expect, afterEach } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { startDevnet, type Devnet } from '../../src/node/devnet'
import { startLightClient, type LightClient } from '../../src/light'
import { secpAddressBytes, secpPublicKey, parseFil } from '../../src/core'
import { startLyingStatePeer } from '../helpers/lying-state-peer'
import { until } from '../helpers/until'

/**
 * The client redials its bootstrap peers (here only the liar) whenever it has none: on a loaded machine that timer
 * fired between the liar's drop and the honest dial, and the honest read went to the liar again. Redial is not
 * what these tests check, so it waits past them.
 */
const NO_REDIAL_MS = 3_600_000

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

describe('state proofs', () => {
  it('rejects a node that lies about a balance, and accepts the honest proof', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'coffer-proof-'))
    const d: Devnet = await startDevnet({ dataDir: dir, distDir: '/nonexistent', serveApp: false })
    cleanups.push(async () => { await d.stop(); await rm(dir, { recursive: true, force: true }) })
    const address = secpAddressBytes(secpPublicKey(secp256k1.utils.randomSecretKey()))
    const paid = await d.chain.waitMessage(await d.chain.faucet(address), AbortSignal.timeout(20_000))

    const liar = await startLyingStatePeer(d)
    cleanups.push(liar.stop)
    const lc: LightClient = await startLightClient({ bootstrap: { ...d.bootstrap(), peers: [liar.addr] }, bootstrapSource: 'network', onStatus: () => {}, redialMs: NO_REDIAL_MS })
    cleanups.push(lc.stop)
    await until(() => lc.status().verifiedHeight >= paid.executedIn.header.height)

    const lie = await lc.state.actor(address).then(() => null, (err: Error) => err)
    expect(lie?.name).toBe('StateProofRejectedError')
    expect((lie as Error & { cause: Error }).cause.name).toBe('ProofIncompleteError')
    const rejection = await until(() => lc.status().lastRejection ?? undefined)
    expect(rejection).toMatchObject({ name: 'StateProofRejectedError', peer: liar.libp2p.peerId.toString() })
    await until(() => lc.status().peers.length === 0)

    await lc.libp2p.dial(multiaddr(d.bootstrap().peers[0]!))
    const honest = await lc.state.actor(address)
    expect(honest.actor?.balance).toBe(parseFil('100'))
    expect(honest.header.header.height).toBe(lc.sync.head.header.height)
    expect(honest.proofBytes).toBeGreaterThan(0)
  })

  it('rejects a node that passes off another message\'s receipt as ours', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'coffer-proof-'))
    const d: Devnet = await startDevnet({ dataDir: dir, distDir: '/nonexistent', serveApp: false })
    cleanups.push(async () => { await d.stop(); await rm(dir, { recursive: true, force: true }) })
    const fresh = (): Uint8Array => secpAddressBytes(secpPublicKey(secp256k1.utils.randomSecretKey()))
    // the decoy executed before ours is sent: the two are in different blocks (a proof of a tipset that holds both
    // proves ours truly, whatever it was asked for: the tab finds the message's place itself)
    const decoy = await d.chain.faucet(fresh())
    await d.chain.waitMessage(decoy, AbortSignal.timeout(20_000))
    const ours = await d.chain.faucet(fresh())
    const done = await d.chain.waitMessage(ours, AbortSignal.timeout(20_000))

    const liar = await startLyingStatePeer(d, decoy)
    cleanups.push(liar.stop)
    const lc: LightClient = await startLightClient({ bootstrap: { ...d.bootstrap(), peers: [liar.addr] }, bootstrapSource: 'network', onStatus: () => {}, redialMs: NO_REDIAL_MS })
    cleanups.push(lc.stop)
    await until(() => lc.status().verifiedHeight >= done.executedIn.header.height)
    const lie = await lc.state.receipt(ours).then(() => null, (err: Error) => err)
    expect(lie?.name).toBe('StateProofRejectedError')
    // the decoy's proof does not place our message in its tipset (its lists stop at the decoy, or hold no receipt for ours)
    expect(['MalformedStateError', 'ProofIncompleteError']).toContain((lie as Error & { cause: Error }).cause.name)
    await until(() => lc.status().lastRejection?.name === 'StateProofRejectedError')

    await lc.libp2p.dial(multiaddr(d.bootstrap().peers[0]!))
    await until(() => lc.status().peers.length === 1 && lc.status().peers[0]!.id === d.libp2p.peerId.toString())
    expect((await lc.state.receipt(ours))?.receipt.exitCode).toBe(0)
  })
})
