// Value on the devnet: the faucet, transfers pushed to the pool and gossiped, receipts, state proofs over
// libp2p checked against the header they name, and state that survives a restart.
import { describe, it, expect, afterEach } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { startDevnet, type Devnet } from '../../src/node/devnet'
import { FAUCET_MAX_PENDING } from '../../src/node/faucet'
import { createCofferLibp2p, requestState } from '../../src/net'
import {
  secpPublicKey, secpAddressBytes, signMessage, encodeSignedMessage, messagesTopic, parseFil, verifyActorProof,
  verifyInclusion, verifyMessageSignature, signedMessageCid, countBlockMessages, ProofBlockStore, ExitCode, BASE_FEE, TRANSFER_GAS, type Message, type CID
} from '../../src/core'
import { multiaddr } from '@multiformats/multiaddr'
import { until } from '../helpers/until'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

async function devnet (dataDir?: string, blockDelayMs = 1000): Promise<Devnet> {
  const dir = dataDir ?? await mkdtemp(path.join(tmpdir(), 'coffer-msgs-'))
  const d = await startDevnet({ dataDir: dir, distDir: '/nonexistent', serveApp: false, faucetCooldownMs: 60_000, blockDelayMs })
  cleanups.push(d.stop)
  if (dataDir === undefined) cleanups.push(async () => { await rm(dir, { recursive: true, force: true }) })
  return d
}

function account (): { secret: Uint8Array, address: Uint8Array } {
  const secret = secp256k1.utils.randomSecretKey()
  return { secret, address: secpAddressBytes(secpPublicKey(secret)) }
}

const transfer = (from: Uint8Array, to: Uint8Array, nonce: number, value: bigint): Message => ({
  version: 0, to, from, nonce, value, gasLimit: TRANSFER_GAS * 2, gasFeeCap: BASE_FEE * 2n, gasPremium: 50n, method: 0, params: new Uint8Array(0)
})

async function waitFor (d: Devnet, cid: CID): Promise<Awaited<ReturnType<Devnet['chain']['waitMessage']>>> {
  return await d.chain.waitMessage(cid, AbortSignal.timeout(20_000))
}

describe('messages on the devnet', () => {
  it('faucet funds an address; a transfer lands with a receipt; bad messages are refused by name', async () => {
    const d = await devnet()
    const alice = account()
    const bob = account()
    const funded = await waitFor(d, await d.chain.faucet(alice.address))
    expect(funded.receipt.exitCode).toBe(ExitCode.Ok)
    expect((await d.chain.getActor(alice.address))?.balance).toBe(parseFil('100'))
    await expect(d.chain.faucet(alice.address)).rejects.toMatchObject({ name: 'FaucetLimitError' })

    const sent = await waitFor(d, await d.chain.mpoolPush(signMessage(alice.secret, transfer(alice.address, bob.address, 0, parseFil('1.5')))))
    expect(sent.receipt).toMatchObject({ exitCode: ExitCode.Ok, gasUsed: TRANSFER_GAS })
    const at = sent.executedIn
    expect((await d.chain.getActor(bob.address, at))?.balance).toBe(parseFil('1.5'))
    const fee = BigInt(TRANSFER_GAS) * BASE_FEE + BigInt(TRANSFER_GAS * 2) * 50n
    expect((await d.chain.getActor(alice.address, at))).toMatchObject({ nonce: 1, balance: parseFil('100') - parseFil('1.5') - fee })

    // replay, a gap, a forged signature, more than the balance: each refused with its own error
    const replay = signMessage(alice.secret, transfer(alice.address, bob.address, 0, 1n))
    await expect(d.chain.mpoolPush(replay)).rejects.toMatchObject({ name: 'NonceError', code: 'NONCE' })
    await expect(d.chain.mpoolPush(signMessage(alice.secret, transfer(alice.address, bob.address, 5, 1n)))).rejects.toMatchObject({ name: 'NonceError' })
    const forged = signMessage(bob.secret, transfer(bob.address, bob.address, 0, 1n))
    await expect(d.chain.mpoolPush({ ...forged, message: { ...forged.message, from: alice.address, nonce: 1 } })).rejects.toMatchObject({ name: 'MessageSignatureError' })
    await expect(d.chain.mpoolPush(signMessage(alice.secret, transfer(alice.address, bob.address, 1, parseFil('1000'))))).rejects.toMatchObject({ name: 'InsufficientFundsError', code: 'FUNDS' })
    // a message too big for any block to load again, and a malleated (high-S) copy of a valid signature
    const big = { ...transfer(alice.address, bob.address, 1, 1n), params: new Uint8Array(40_000) }
    await expect(d.chain.mpoolPush(signMessage(alice.secret, big))).rejects.toMatchObject({ name: 'MessageOutOfRangeError', message: expect.stringMatching(/exceeds/) })
    const good = signMessage(alice.secret, transfer(alice.address, bob.address, 1, 1n))
    const n = secp256k1.Point.CURVE().n
    const sig = good.signature.data
    const s = BigInt('0x' + Buffer.from(sig.subarray(32, 64)).toString('hex'))
    const flipped = Uint8Array.from([...sig.subarray(0, 32), ...Buffer.from((n - s).toString(16).padStart(64, '0'), 'hex'), sig[64]! ^ 1])
    const malleated = { message: good.message, signature: { type: 1, data: flipped } }
    expect(() => verifyMessageSignature(malleated)).not.toThrow() // consensus would take it…
    await expect(d.chain.mpoolPush(malleated)).rejects.toMatchObject({ name: 'MessageSignatureError', message: expect.stringMatching(/low-S/) }) // …the pool does not
    expect(await d.chain.mpoolNonce(alice.address)).toBe(1)

    // asking for many addresses at once cannot fill the pool: the faucet stops at FAUCET_MAX_PENDING waiting
    const asks = await Promise.allSettled(Array.from({ length: FAUCET_MAX_PENDING + 5 }, async () => await d.chain.faucet(account().address)))
    expect(asks.filter(a => a.status === 'rejected').map(a => (a as PromiseRejectedResult).reason.name)).toContain('FaucetBusyError')
  })

  it('takes messages by gossip and proves balances and receipts over libp2p', async () => {
    const d = await devnet()
    const alice = account()
    const bob = account()
    await waitFor(d, await d.chain.faucet(alice.address))

    const peer = await createCofferLibp2p({ listen: [] })
    cleanups.push(async () => { await peer.stop() })
    const topic = messagesTopic(d.genesis.state.network)
    peer.services.pubsub.subscribe(topic)
    await peer.dial(multiaddr(d.bootstrap().peers[0]!))
    const sm = signMessage(alice.secret, transfer(alice.address, bob.address, 0, parseFil('2')))
    const cid = signedMessageCid(sm)
    const deadline = Date.now() + 10_000
    while (!d.chain.mpool.has(cid) && Date.now() < deadline) {
      await peer.services.pubsub.publish(topic, encodeSignedMessage(sm)).catch(() => {})
      await new Promise(resolve => setTimeout(resolve, 200))
    }
    const lookup = await waitFor(d, cid)
    expect(lookup.receipt.exitCode).toBe(ExitCode.Ok)

    // the light client's view: everything checked against headers, nothing taken on the node's word
    const head = d.head()
    const resp = await requestState(peer, d.libp2p.peerId, { kind: 'actor', address: bob.address, at: head.cid })
    expect(resp.ok).toBe(true)
    expect(verifyActorProof(head.header.parentStateRoot, bob.address, resp.blocks)?.balance).toBe(parseFil('2'))
    const nobody = account()
    const absent = await requestState(peer, d.libp2p.peerId, { kind: 'actor', address: nobody.address, at: head.cid })
    expect(verifyActorProof(head.header.parentStateRoot, nobody.address, absent.blocks)).toBeNull()

    const found = await requestState(peer, d.libp2p.peerId, { kind: 'lookup', message: cid })
    expect(found.ok).toBe(true)
    const included = await d.chain.headerByCid(found.included!)
    const executed = await d.chain.headerByCid(found.executed!)
    expect(executed!.header.parents[0]!.equals(included!.cid)).toBe(true)
    const receipt = verifyInclusion({ txMeta: included!.header.messages, receipts: executed!.header.parentMessageReceipts }, cid, found.index!, found.blocks)
    expect(receipt.exitCode).toBe(ExitCode.Ok)
  })

  it('keeps balances across a restart', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'coffer-msgs-'))
    cleanups.push(async () => { await rm(dir, { recursive: true, force: true }) })
    const alice = account()
    const first = await devnet(dir)
    const done = await waitFor(first, await first.chain.faucet(alice.address))
    await first.stop()
    const second = await devnet(dir)
    expect(second.genesis.header.cid.equals(first.genesis.header.cid)).toBe(true)
    expect((await second.chain.getActor(alice.address))?.balance).toBe(parseFil('100'))
    expect((await second.chain.searchMessage(done.message))?.receipt.exitCode).toBe(ExitCode.Ok)
    const bob = account()
    const next = await waitFor(second, await second.chain.mpoolPush(signMessage(alice.secret, transfer(alice.address, bob.address, 0, 7n))))
    expect(next.receipt.exitCode).toBe(ExitCode.Ok)
  })

  it('survives being stopped right after a block that carries messages, restart after restart', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'coffer-msgs-'))
    cleanups.push(async () => { await rm(dir, { recursive: true, force: true }) })
    const alice = account()
    const first = await devnet(dir, 2000)
    const cid = await first.chain.faucet(alice.address)
    // stop while the head includes the message and nothing has executed it yet
    await until(() => {
      const head = first.head()
      return countBlockMessages(new ProofBlockStore(first.chain.blockMessagesProof(head, false)), head.header.messages).secp > 0
    })
    await first.stop()
    for (let round = 0; round < 2; round++) {
      const d = await devnet(dir, 500)
      const found = await waitFor(d, cid)
      expect(found.receipt.exitCode).toBe(ExitCode.Ok)
      expect((await d.chain.getActor(alice.address))?.balance).toBe(parseFil('100'))
      const height = d.head().header.height
      await until(() => d.head().header.height >= height + 2)
      await d.stop()
    }
  })
})
