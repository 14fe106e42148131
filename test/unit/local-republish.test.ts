// A node's own messages are published again every few heads while its pool holds them (as Lotus republishes local
// messages): a first publish made before the gossip mesh formed reaches no one.
import { describe, it, expect } from 'vitest'
import { signMessage, secpAddressBytes, secpPublicKey, signedMessageCid, idAddressBytes, type SignedMessage } from '../../src/core'
import { localRepublisher, REPUBLISH_EVERY_HEADS } from '../../src/node/local-republish'

const key = new Uint8Array(32).fill(7)
const from = secpAddressBytes(secpPublicKey(key))
const msg = (nonce: number): SignedMessage => signMessage(key, {
  version: 0, to: idAddressBytes(1000), from, nonce, value: 1n, gasLimit: 1_000_000, gasFeeCap: 100n, gasPremium: 10n, method: 0, params: new Uint8Array(0)
})

describe('localRepublisher', () => {
  it('publishes at the push, again every REPUBLISH_EVERY_HEADS heads while pooled, and forgets a message the pool no longer holds', () => {
    const pooled = new Set<string>()
    const published: number[] = []
    const r = localRepublisher({ pooled: (cid) => pooled.has(cid), publish: (sm) => { published.push(sm.message.nonce) } })
    const [a, b] = [msg(0), msg(1)]
    pooled.add(signedMessageCid(a).toString())
    pooled.add(signedMessageCid(b).toString())
    r.pushed(a, 10)
    r.pushed(b, 11)
    expect(published).toEqual([0, 1])
    for (let h = 11; h < 10 + REPUBLISH_EVERY_HEADS; h++) r.head(h)
    expect(published).toEqual([0, 1])
    r.head(10 + REPUBLISH_EVERY_HEADS)
    expect(published).toEqual([0, 1, 0])
    r.head(11 + REPUBLISH_EVERY_HEADS)
    expect(published).toEqual([0, 1, 0, 1])
    // a included (it left the pool): forgotten; b goes on
    pooled.delete(signedMessageCid(a).toString())
    r.head(10 + 2 * REPUBLISH_EVERY_HEADS)
    expect(r.size).toBe(1)
    r.head(11 + 2 * REPUBLISH_EVERY_HEADS)
    expect(published).toEqual([0, 1, 0, 1, 1])
    pooled.clear()
    r.head(100)
    expect(r.size).toBe(0)
    expect(published).toHaveLength(5)
  })
})
