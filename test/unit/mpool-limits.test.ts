// The pool's defences against bad signatures (issue 9, defect 5), driven with a verifier the test controls
// and an injected clock: known-bad pairs, per-sender and per-peer cool-downs, a bounded queue.
import { describe, it, expect, beforeAll } from 'vitest'
import {
  createGenesis, signMessage, verifyMessageSignature, blsPublicKey, blsAddressBytes, idAddressBytes, BASE_FEE, ATTO_PER_FIL,
  type Genesis, type Message, type SignedMessage, type CID
} from '../../src/core'
import {
  Mpool, SIGNATURE_FAILURES_ALLOWED, SIGNATURE_FAILURE_COOLDOWN_MS, MAX_VERIFYING_PER_PEER
} from '../../src/node/mpool'
import type { SignatureVerifier } from '../../src/node/signature-verifier'

const keys = Array.from({ length: 40 }, (_, i) => new Uint8Array(32).fill(i + 1))
const senders = keys.map(k => blsAddressBytes(blsPublicKey(k)))
let genesis: Genesis
let root: CID
beforeAll(() => {
  genesis = createGenesis({ network: 'test', producer: idAddressBytes(1000), producerKey: blsPublicKey(new Uint8Array(32).fill(99)), blockDelaySecs: 1 }, 1_800_000_000,
    senders.map(address => ({ address, balance: ATTO_PER_FIL })))
  root = genesis.header.header.parentStateRoot
})

const msg = (i: number, over: Partial<Message> = {}): Message => ({
  version: 0, to: senders[0]!, from: senders[i]!, nonce: 0, value: 1n, gasLimit: 2_000_000, gasFeeCap: BASE_FEE * 2n, gasPremium: 50n, method: 0, params: new Uint8Array(0), ...over
})
const reused = (): SignedMessage['signature'] => signMessage(keys[0]!, msg(0, { value: 999n })).signature

/** A verifier that answers only when told, and counts what it was asked. */
function manualVerifier (): SignatureVerifier & { asked: number, release: () => void } {
  const held: Array<() => void> = []
  const v = {
    asked: 0,
    verify: async (sm: SignedMessage) => {
      v.asked++
      await new Promise<void>(resolve => held.push(resolve))
      try { verifyMessageSignature(sm); return true } catch { return false }
    },
    close: async () => {},
    release: () => { for (const r of held.splice(0)) r() }
  }
  return v
}
const settle = async (v: { release: () => void }, p: Promise<unknown>): Promise<unknown> => {
  const out = p.then(x => x, (err: Error) => err)
  for (let i = 0; i < 20; i++) { v.release(); await new Promise(resolve => setTimeout(resolve, 0)) }
  return await out
}

describe('the pool and bad signatures', { timeout: 60_000 }, () => {
  it('remembers a failed (message, signature) pair and refuses it again without a check', async () => {
    const v = manualVerifier()
    const pool = new Mpool(genesis.store!, () => root, { verifier: v, nowMs: () => 0 })
    const bad = { message: msg(1), signature: reused() }
    expect(await settle(v, pool.push(bad))).toMatchObject({ name: 'MessageSignatureError' })
    await expect(pool.push(bad)).rejects.toMatchObject({ name: 'MessageSignatureError', message: expect.stringMatching(/failed before/) })
    expect(v.asked).toBe(1)
    // the same message with its real signature is not tarred by the bad pair
    expect(await settle(v, pool.push(signMessage(keys[1]!, msg(1))))).toBeTruthy()
    expect(pool.pending(senders[1]!)).toHaveLength(1)
  })

  it('refuses a sender whose signatures keep failing, for a cool-down, then checks it again', async () => {
    let now = 1_000_000
    const v = manualVerifier()
    const pool = new Mpool(genesis.store!, () => root, { verifier: v, nowMs: () => now })
    for (let i = 0; i < SIGNATURE_FAILURES_ALLOWED; i++) {
      expect(await settle(v, pool.push({ message: msg(2, { value: BigInt(i + 1) }), signature: reused() }))).toMatchObject({ name: 'MessageSignatureError' })
    }
    const asked = v.asked
    await expect(pool.push({ message: msg(2, { value: 77n }), signature: reused() })).rejects.toMatchObject({ name: 'SignatureFailuresError', code: 'SIGNATURE_FAILURES', source: 'sender', retryAfterMs: SIGNATURE_FAILURE_COOLDOWN_MS })
    expect(v.asked).toBe(asked)
    now += SIGNATURE_FAILURE_COOLDOWN_MS
    expect(await settle(v, pool.push(signMessage(keys[2]!, msg(2))))).toBeTruthy()
    expect(pool.pending(senders[2]!)).toHaveLength(1)
  })

  it('refuses a gossip peer whose messages keep failing, whatever senders they name', async () => {
    const v = manualVerifier()
    const pool = new Mpool(genesis.store!, () => root, { verifier: v, nowMs: () => 5 })
    for (let i = 0; i < SIGNATURE_FAILURES_ALLOWED; i++) {
      expect(await settle(v, pool.push({ message: msg(3 + i), signature: reused() }, { peer: 'mallory' }))).toMatchObject({ name: 'MessageSignatureError' })
    }
    await expect(pool.push({ message: msg(20), signature: reused() }, { peer: 'mallory' })).rejects.toMatchObject({ name: 'SignatureFailuresError', source: 'peer' })
    // another peer relaying an honest message is unaffected
    expect(await settle(v, pool.push(signMessage(keys[20]!, msg(20)), { peer: 'alice' }))).toBeTruthy()
  })

  it('bounds what waits for a check: per peer, and a push behind one still being checked is refused cheaply', async () => {
    const v = manualVerifier()
    const pool = new Mpool(genesis.store!, () => root, { verifier: v, nowMs: () => 0 })
    const waiting = Array.from({ length: MAX_VERIFYING_PER_PEER }, (_, i) => pool.push(signMessage(keys[i + 1]!, msg(i + 1)), { peer: 'p' }).catch((e: Error) => e))
    await expect(pool.push(signMessage(keys[30]!, msg(30)), { peer: 'p' })).rejects.toMatchObject({ name: 'MpoolBusyError', reason: 'peer' })
    // the sender's nonce 0 is being checked: another nonce-0 message is a NonceError, nonce 1 may queue behind it
    await expect(pool.push({ message: msg(1, { value: 5n }), signature: reused() })).rejects.toMatchObject({ name: 'NonceError' })
    expect(pool.nextNonce(senders[1]!)).toBe(1)
    await settle(v, Promise.all(waiting))
    expect(pool.pending(senders[1]!)).toHaveLength(1)
  })
})
