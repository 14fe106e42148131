// The pool's defences against bad signatures (issue 9, defect 5, and its review), driven with a verifier the
// test controls and an injected clock: known-bad pairs; failure cool-downs and queue shares per origin (who
// handed the message over), never per the From anyone can forge; candidates being checked reserve no nonce
// and no funds; a wallet may pipeline its nonces; messages stuck behind a gap go after a few blocks.
import { describe, it, expect, beforeAll } from 'vitest'
import {
  createGenesis, signMessage, verifyMessageSignature, blsPublicKey, blsAddressBytes, secpPublicKey, secpAddressBytes, idAddressBytes,
  executionContext, applyBlockMessages, BASE_FEE, ATTO_PER_FIL,
  type Genesis, type Message, type SignedMessage, type CID
} from '../../src/core'
import {
  Mpool, SIGNATURE_FAILURES_ALLOWED, SIGNATURE_FAILURE_COOLDOWN_MS, MAX_VERIFYING, MAX_VERIFYING_PER_ORIGIN, MAX_VERIFYING_PER_FAILING_ORIGIN,
  MAX_PENDING_PER_SENDER, GAP_DROP_BLOCKS
} from '../../src/node/mpool'
import { messageTopicValidator } from '../../src/node/gossip-validators'
import type { SignatureVerifier } from '../../src/node/signature-verifier'
import { TEST_BEACON } from '../helpers/test-beacon'

const keys = Array.from({ length: 90 }, (_, i) => new Uint8Array(32).fill(i + 1))
const senders = keys.map(k => blsAddressBytes(blsPublicKey(k)))
const secpKey = new Uint8Array(32).fill(200)
const secpSender = secpAddressBytes(secpPublicKey(secpKey))
let genesis: Genesis
let root: CID
beforeAll(() => {
  genesis = createGenesis({ beacon: TEST_BEACON, network: 'test', producer: idAddressBytes(1000), producerKey: blsPublicKey(new Uint8Array(32).fill(99)), blockDelaySecs: 1 }, 1_800_000_000,
    [...senders.map(address => ({ address, balance: ATTO_PER_FIL })), { address: secpSender, balance: 1000n * ATTO_PER_FIL }])
  root = genesis.header.header.parentStateRoot
})

const msg = (i: number, over: Partial<Message> = {}): Message => ({
  version: 0, to: senders[0]!, from: senders[i]!, nonce: 0, value: 1n, gasLimit: 2_000_000, gasFeeCap: BASE_FEE * 2n, gasPremium: 50n, method: 0, params: new Uint8Array(0), ...over
})
const reused = (): SignedMessage['signature'] => signMessage(keys[0]!, msg(0, { value: 999n })).signature
/** A message naming `from` with someone else's signature: what anyone can push. */
const forged = (i: number, over: Partial<Message> = {}): SignedMessage => ({ message: msg(i, over), signature: reused() })

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
  for (let i = 0; i < 50; i++) { v.release(); await new Promise(resolve => setTimeout(resolve, 0)) }
  return await out
}
const caught = async (p: Promise<unknown>): Promise<unknown> => await p.then(x => x, (err: Error) => err)

describe('the pool and bad signatures', { timeout: 60_000 }, () => {
  it('remembers a failed (message, signature) pair and refuses it again without a check', async () => {
    const v = manualVerifier()
    const pool = new Mpool(genesis.store!, () => root, { verifier: v, nowMs: () => 0 })
    const bad = forged(1)
    expect(await settle(v, pool.push(bad))).toMatchObject({ name: 'MessageSignatureError' })
    await expect(pool.push(bad)).rejects.toMatchObject({ name: 'MessageSignatureError', message: expect.stringMatching(/failed before/) })
    expect(v.asked).toBe(1)
    // the same message with its real signature is not tarred by the bad pair
    expect(await settle(v, pool.push(signMessage(keys[1]!, msg(1))))).toBeTruthy()
    expect(pool.pending(senders[1]!)).toHaveLength(1)
  })

  it('refuses an origin whose signatures keep failing, whatever senders it names, and never the senders it named', async () => {
    let now = 1_000_000
    const v = manualVerifier()
    const pool = new Mpool(genesis.store!, () => root, { verifier: v, nowMs: () => now })
    // mallory names the victim (a provider's worker key, say) in every forged push
    for (let i = 0; i < SIGNATURE_FAILURES_ALLOWED; i++) {
      expect(await settle(v, pool.push(forged(2, { value: BigInt(i + 1) }), { origin: 'rpc:mallory' }))).toMatchObject({ name: 'MessageSignatureError' })
    }
    const asked = v.asked
    await expect(pool.push(forged(3), { origin: 'rpc:mallory' })).rejects.toMatchObject({ name: 'SignatureFailuresError', code: 'SIGNATURE_FAILURES', source: 'origin', retryAfterMs: SIGNATURE_FAILURE_COOLDOWN_MS })
    expect(v.asked).toBe(asked)
    // the victim itself, from its own connection, is checked and pooled as ever
    expect(await settle(v, pool.push(signMessage(keys[2]!, msg(2)), { origin: 'rpc:victim' }))).toBeTruthy()
    expect(pool.pending(senders[2]!)).toHaveLength(1)
    // after the cool-down mallory is heard again, but holds only a tight share until its failures age out
    now += SIGNATURE_FAILURE_COOLDOWN_MS
    const held = Array.from({ length: MAX_VERIFYING_PER_FAILING_ORIGIN }, (_, i) => caught(pool.push(signMessage(keys[10 + i]!, msg(10 + i)), { origin: 'rpc:mallory' })))
    await expect(pool.push(signMessage(keys[20]!, msg(20)), { origin: 'rpc:mallory' })).rejects.toMatchObject({ name: 'MpoolBusyError', reason: 'origin' })
    await settle(v, Promise.all(held))
    expect(pool.pending(senders[10]!)).toHaveLength(1)
  })

  it('a gossip author is an origin like any other: another peer relaying an honest message is unaffected', async () => {
    const v = manualVerifier()
    const pool = new Mpool(genesis.store!, () => root, { verifier: v, nowMs: () => 5 })
    for (let i = 0; i < SIGNATURE_FAILURES_ALLOWED; i++) {
      expect(await settle(v, pool.push(forged(3 + i), { origin: 'peer:mallory' }))).toMatchObject({ name: 'MessageSignatureError' })
    }
    await expect(pool.push(forged(20), { origin: 'peer:mallory' })).rejects.toMatchObject({ name: 'SignatureFailuresError', source: 'origin' })
    expect(await settle(v, pool.push(signMessage(keys[3]!, msg(3)), { origin: 'peer:alice' }))).toBeTruthy()
  })

  it('a message still being checked holds no nonce and no funds: the honest one at the same nonce is checked beside it and wins', async () => {
    const v = manualVerifier()
    const pool = new Mpool(genesis.store!, () => root, { verifier: v, nowMs: () => 0 })
    // forged first, asking for the victim's whole balance
    const bad = caught(pool.push(forged(4, { value: ATTO_PER_FIL - 10n ** 15n }), { origin: 'rpc:mallory' }))
    expect(pool.nextNonce(senders[4]!)).toBe(0) // MpoolGetNonce hands out no reserved nonce
    const good = caught(pool.push(signMessage(keys[4]!, msg(4, { value: ATTO_PER_FIL / 2n })), { origin: 'rpc:victim' }))
    expect(await settle(v, bad)).toMatchObject({ name: 'MessageSignatureError' })
    expect(await good).toBeTruthy()
    expect(pool.pending(senders[4]!).map(sm => sm.message.value)).toEqual([ATTO_PER_FIL / 2n])
    expect(pool.nextNonce(senders[4]!)).toBe(1)
    // two genuine candidates for one nonce: the first to verify takes it, the other is refused on settling
    const first = caught(pool.push(signMessage(keys[5]!, msg(5, { value: 1n }))))
    const second = caught(pool.push(signMessage(keys[5]!, msg(5, { value: 2n }))))
    await settle(v, Promise.all([first, second]))
    expect(await second).toMatchObject({ name: 'NonceError' })
    expect(pool.pending(senders[5]!).map(sm => sm.message.value)).toEqual([1n])
  })

  it('a forged message naming the faucet leaves no gap before the faucet\'s own payment', async () => {
    const v = manualVerifier()
    const pool = new Mpool(genesis.store!, () => root, { verifier: v, nowMs: () => 0 })
    const bad = caught(pool.push(forged(6), { origin: 'rpc:mallory' }))
    // the faucet signs at the pool's next nonce and pushes as local, in the same turn
    await pool.push(signMessage(keys[6]!, msg(6, { nonce: pool.nextNonce(senders[6]!), value: 7n })), { local: true })
    expect(await settle(v, bad)).toMatchObject({ name: 'MessageSignatureError' })
    expect(pool.select(10).bls.map(m => [m.nonce, m.value])).toEqual([[0, 7n]])
  })

  it('lets an honest wallet pipeline 20 consecutive nonces, and bounds what any one origin may hold of the queue', async () => {
    const v = manualVerifier()
    const pool = new Mpool(genesis.store!, () => root, { verifier: v, nowMs: () => 0 })
    const twenty = Array.from({ length: 20 }, (_, n) => caught(pool.push(signMessage(keys[7]!, msg(7, { nonce: n })), { origin: 'rpc:wallet' })))
    // a nonce past what is pooled or being checked is still a NonceError, cheaply
    await expect(pool.push(signMessage(keys[7]!, msg(7, { nonce: 22 })), { origin: 'rpc:wallet' })).rejects.toMatchObject({ name: 'NonceError' })
    const out = await settle(v, Promise.all(twenty)) as unknown[]
    expect(out.filter(x => x instanceof Error)).toEqual([])
    expect(pool.pending(senders[7]!).map(sm => sm.message.nonce)).toEqual(Array.from({ length: 20 }, (_, n) => n))

    // one origin rotating senders holds at most its share; another origin still gets in; local never waits
    const flood = Array.from({ length: MAX_VERIFYING_PER_ORIGIN }, (_, i) => caught(pool.push(forged(10 + i), { origin: 'rpc:flood' })))
    await expect(pool.push(forged(10 + MAX_VERIFYING_PER_ORIGIN), { origin: 'rpc:flood' })).rejects.toMatchObject({ name: 'MpoolBusyError', reason: 'origin' })
    const other = Array.from({ length: MAX_VERIFYING - MAX_VERIFYING_PER_ORIGIN }, (_, i) => caught(pool.push(forged(45 + i), { origin: 'rpc:flood2' })))
    await expect(pool.push(signMessage(keys[8]!, msg(8)), { origin: 'rpc:late' })).rejects.toMatchObject({ name: 'MpoolBusyError', reason: 'queue' })
    await pool.push(signMessage(keys[9]!, msg(9)), { local: true }) // an in-process provider's worker
    expect(pool.pending(senders[9]!)).toHaveLength(1)
    await settle(v, Promise.all([...flood, ...other]))
  })

  it('drops a sender\'s messages stuck behind a nonce gap after a few blocks', async () => {
    // a state where sender 11 has used nonces 0..2, then a switch back to genesis (as a reorg would): the
    // pooled 3 and 4 sit behind a gap nothing fills
    const ctx = executionContext(genesis.store!, genesis.state, genesis.header.header, () => undefined)
    const later = applyBlockMessages(ctx, root, { bls: [], secp: [] }, null).root
    const three = [0, 1, 2].map(n => signMessage(keys[11]!, msg(11, { nonce: n })))
    const { blsAggregate } = await import('../../src/core')
    const after = applyBlockMessages(ctx, later, { bls: three.map(sm => sm.message), secp: [] }, blsAggregate(three.map(sm => sm.signature))).root
    let current = after
    const pool = new Mpool(genesis.store!, () => current, { nowMs: () => 0 })
    await pool.push(signMessage(keys[11]!, msg(11, { nonce: 3 })))
    await pool.push(signMessage(keys[11]!, msg(11, { nonce: 4 })))
    current = root
    for (let b = 0; b < GAP_DROP_BLOCKS; b++) expect(pool.select(10).bls).toEqual([])
    expect(pool.pending(senders[11]!)).toHaveLength(2) // a few blocks for the missing nonce to come…
    expect(pool.select(10).bls).toEqual([])
    expect(pool.pending(senders[11]!)).toEqual([]) // …then they go
    expect(pool.nextNonce(senders[11]!)).toBe(0)
  })
})

describe('a gossiped message refused because its sender\'s queue is full', { timeout: 120_000 }, () => {
  it('is ignored, not rejected: the relay did nothing wrong (messages being checked count)', async () => {
    const v = manualVerifier()
    const pool = new Mpool(genesis.store!, () => root, { verifier: v, nowMs: () => 0 })
    const m = (nonce: number): SignedMessage => signMessage(secpKey, { ...msg(0, { nonce, gasLimit: 1_000_000 }), from: secpSender })
    for (let n = 0; n < MAX_PENDING_PER_SENDER - 1; n++) await pool.push(m(n), { local: true })
    const checking = caught(pool.push(m(MAX_PENDING_PER_SENDER - 1), { origin: 'peer:a' }))
    const validate = messageTopicValidator({
      push: async (sm, author) => await pool.push(sm, { origin: `peer:${String(author)}` }),
      pendingCount: (from) => pool.queued(from),
      maxPendingPerSender: MAX_PENDING_PER_SENDER
    })
    const { encodeSignedMessage } = await import('../../src/core')
    const relayed = { topic: 't', data: encodeSignedMessage(m(MAX_PENDING_PER_SENDER)), source: 'relay', author: undefined }
    expect(await validate(relayed)).toEqual({ verdict: 'ignore' })
    // and the pool itself says why, with a class of its own
    await expect(pool.push(m(MAX_PENDING_PER_SENDER), { origin: 'peer:b' })).rejects.toMatchObject({ name: 'MpoolFullError', code: 'MPOOL_FULL' })
    await settle(v, checking)
  })
})
