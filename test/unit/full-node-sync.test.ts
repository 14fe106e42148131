// A full node's ChainSync against scripted chain-exchange peers (answers through the real wire codec):
// an honest peer's chain is taken; a peer serving forged headers is refused at its first answer, before
// more are fetched and held.
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { bls12_381 } from '@noble/curves/bls12-381.js'
import {
  produceHeader, sealHeader, encodeExchangeResponse, decodeExchangeResponse, compactBlockMessages, ExchangeStatus,
  EXCHANGE_OPT_MESSAGES, MAX_EXCHANGE_MESSAGES_RESPONSE_BYTES, type SealedHeader, type ExchangeRequest, type ExchangeResponse
} from '../../src/core'
import { ChainSync } from '../../src/node/full-node/chain-sync'
import { chainPair, T0, type ChainPair } from '../helpers/follower-chain'
import { testBeaconEntries } from '../helpers/test-beacon'

let c: ChainPair
beforeEach(async () => { c = await chainPair('sync-test') })
afterEach(async () => { await c.close() })

/** A peer answering from `served` (ascending, honest or not), with the producer's messages when asked. */
function peer (served: SealedHeader[], messagesOf: (h: SealedHeader) => ReturnType<ChainPair['producer']['messagesOf']>, most = Infinity) {
  const asked: ExchangeRequest[] = []
  const request = async (_peer: string, req: ExchangeRequest): Promise<ExchangeResponse> => {
    asked.push(req)
    const at = served.findIndex(h => h.cid.equals(req.head[0]!))
    if (at < 0) return { status: ExchangeStatus.NotFound, errorMessage: 'not found', chain: [] }
    const slice = served.slice(Math.max(0, at - Math.min(req.length, most) + 1), at + 1).reverse()
    const withMessages = (req.options & EXCHANGE_OPT_MESSAGES) !== 0
    const resp: ExchangeResponse = {
      status: ExchangeStatus.Ok,
      errorMessage: '',
      chain: slice.map(h => [h]),
      ...(withMessages ? { messages: slice.map(h => compactBlockMessages(messagesOf(h) ?? { bls: [], secp: [] })) } : {})
    }
    return decodeExchangeResponse(encodeExchangeResponse(resp), MAX_EXCHANGE_MESSAGES_RESPONSE_BYTES)
  }
  return { asked, request }
}

function sync (request: (peer: string, req: ExchangeRequest) => Promise<ExchangeResponse>, retryDelaysMs?: number[]) {
  const faults: Error[] = []
  const networkErrors: Error[] = []
  const s = new ChainSync({
    chain: c.follower,
    request,
    nowSecs: () => T0 + 100_000,
    onPeerFault: (_p, err) => faults.push(err),
    onNetworkError: (_p, err) => networkErrors.push(err),
    ...(retryDelaysMs === undefined ? {} : { retryDelaysMs })
  })
  return { s, faults, networkErrors }
}

describe('full node sync', () => {
  it('takes NotFound, InternalError and GoAway as network errors, not faults; a BadRequest to a good request is one', async () => {
    const b1 = await c.producer.produce(T0 + 1)
    for (const [status, fault] of [[ExchangeStatus.NotFound, false], [ExchangeStatus.InternalError, false], [ExchangeStatus.GoAway, false], [ExchangeStatus.BadRequest, true]] as const) {
      const { s, faults, networkErrors } = sync(async () => decodeExchangeResponse(encodeExchangeResponse({ status, errorMessage: 'cannot', chain: [] })))
      s.offer({ peer: `answers-${status}`, cid: b1.cid, height: 1 })
      await s.settled()
      expect(faults.length, `status ${status}`).toBe(fault ? 1 : 0)
      expect(networkErrors.length, `status ${status}`).toBe(fault ? 0 : 1)
    }
    expect(c.follower.head().cid.equals(c.genesis.header.cid)).toBe(true)
  })

  it('asks a busy peer again after a pause, with no new offer: GoAway twice, then its chain is taken', async () => {
    const chain: SealedHeader[] = []
    for (let i = 1; i <= 3; i++) chain.push(await c.producer.produce(T0 + i))
    const honest = peer(chain, (h) => c.producer.messagesOf(h))
    let busy = 2
    const { s, faults, networkErrors } = sync(async (p, req) => busy-- > 0
      ? decodeExchangeResponse(encodeExchangeResponse({ status: ExchangeStatus.GoAway, errorMessage: 'busy: try later', chain: [] }))
      : await honest.request(p, req), [20, 40])
    s.offer({ peer: 'loaded', cid: chain[2]!.cid, height: 3 })
    for (let i = 0; i < 200 && !c.follower.head().cid.equals(chain[2]!.cid); i++) await new Promise(resolve => setTimeout(resolve, 10))
    await s.settled()
    expect(faults).toEqual([])
    expect(networkErrors.map(e => e.name)).toEqual(['PeerBusyError', 'PeerBusyError'])
    expect(c.follower.head().cid.equals(chain[2]!.cid)).toBe(true)
  })

  it('takes an honest peer\'s chain, messages executed', async () => {
    await c.producer.mpoolPush(c.payment(0))
    const chain: SealedHeader[] = []
    for (let i = 1; i <= 4; i++) chain.push(await c.producer.produce(T0 + i))
    const p = peer(chain, (h) => c.producer.messagesOf(h))
    const { s, faults } = sync(p.request)
    s.offer({ peer: 'honest', cid: chain[3]!.cid, height: 4 })
    await s.settled()
    expect(faults).toEqual([])
    expect(c.follower.head().cid.equals(chain[3]!.cid)).toBe(true)
  })

  it('refuses a peer serving forged headers at its first answer: one request, nothing stored', async () => {
    // 40 hash-linked headers naming the producer, each carrying a signature by another key (made once: a
    // forger's cost is nothing per header), so only a signature check tells them from the real chain. The
    // peer answers 10 at a time (as it may: fewer than asked), standing in for 900-header answers down a
    // long chain, so the test needs no thousands of hash-to-curve checks.
    const other = bls12_381.longSignatures.keygen().secretKey
    const template = produceHeader(c.genesis.header, c.genesis, other, T0 + 1, testBeaconEntries(c.genesis.header, c.genesis))
    const forged: SealedHeader[] = []
    let parent = c.genesis.header
    for (let i = 1; i <= 40; i++) {
      // the beacon's entries are public: a forger copies the right ones, so only the block signature is wrong
      parent = sealHeader({ ...template.header, parents: [parent.cid], height: i, parentWeight: BigInt(i), timestamp: T0 + i, beaconEntries: testBeaconEntries(parent, c.genesis) })
      forged.push(parent)
    }
    const p = peer(forged, () => undefined, 10)
    const { s, faults } = sync(p.request)
    s.offer({ peer: 'forger', cid: forged[39]!.cid, height: 40 })
    await s.settled()
    expect(faults.map(e => e.name)).toEqual(['BadSignatureError'])
    expect(p.asked.length).toBe(1) // not the four answers it takes to reach our head
    expect(await c.follower.headerAt(1)).toBeUndefined()
    expect(c.follower.head().cid.equals(c.genesis.header.cid)).toBe(true)
  })
})
