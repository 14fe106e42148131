// The deal protocol's idle timeout on the provider's side, between two libp2p nodes on loopback (issue 9
// review, item 6): the provider gives up on a peer that sends no byte for the idle time, and never on one
// whose bytes keep coming, however far it is from a whole frame.
import { describe, it, expect, afterAll, beforeAll } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { varint } from 'multiformats'
import { randomBytes } from 'node:crypto'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import {
  secpPublicKey, secpAddressBytes, idAddressBytes, pieceCidV1, signDealProposal, encodeDealRequest, decodeDealReply,
  DEAL_PROTOCOL, MAX_CONTROL_FRAME, type DealReply
} from '../../src/core'
import { createCofferLibp2p, serveDeals, FrameReader, writeFrame, type CofferLibp2p, type PayloadSink } from '../../src/net'

const IDLE_MS = 1500
let provider: CofferLibp2p
let client: CofferLibp2p
const written: Uint8Array[] = []

beforeAll(async () => {
  provider = await createCofferLibp2p({ listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
  client = await createCofferLibp2p({ allowLoopbackDials: true })
  // a handler that takes every proposal: what is tested is the stream, not the provider's checks
  await serveDeals(provider, {
    accept: async () => {
      const sink: PayloadSink = {
        write: async (bytes) => { written.push(bytes) },
        finish: async () => ({ dealId: 7, message: 'bafy-test' }),
        interrupted: async () => {}
      }
      return { offset: 0, sink }
    }
  }, { idleTimeoutMs: IDLE_MS })
  await client.dial(multiaddr(provider.getMultiaddrs()[0]!.toString()))
}, 60_000)
afterAll(async () => { await client?.stop(); await provider?.stop() })

async function open (payloadBytes: number): Promise<{ send: (b: Uint8Array) => void, next: () => Promise<DealReply | Error> }> {
  const secret = secp256k1.utils.randomSecretKey()
  const address = secpAddressBytes(secpPublicKey(secret))
  const proposal = signDealProposal(secret, {
    pieceCid: pieceCidV1(randomBytes(32)), pieceSize: 128, verifiedDeal: false, client: address, provider: idAddressBytes(1001), label: '',
    startEpoch: 100, endEpoch: 200, storagePricePerEpoch: 0n, providerCollateral: 0n, clientCollateral: 0n
  })
  const stream = await client.dialProtocol(provider.peerId, DEAL_PROTOCOL)
  const replies = new FrameReader(stream, MAX_CONTROL_FRAME)
  await writeFrame(stream, encodeDealRequest({ proposal, payloadBytes }))
  const next = async (): Promise<DealReply | Error> => {
    try {
      const f = await replies.read(AbortSignal.timeout(60_000))
      return f === null ? new Error('the stream ended') : decodeDealReply(f)
    } catch (err) { return err as Error }
  }
  expect(await next()).toEqual({ kind: 'accepted', offset: 0 })
  return { send: (b) => { stream.send(b) }, next }
}

describe('serveDeals idle timeout', () => {
  it('drops a peer that goes quiet inside a frame, TRANSFER after the idle time', async () => {
    const s = await open(100)
    s.send(Uint8Array.of(100, 1, 2, 3)) // a 100-byte frame's prefix and 3 of its bytes, then nothing
    const started = performance.now()
    const r = await s.next()
    expect(r).toMatchObject({ kind: 'rejected', code: 'TRANSFER' })
    expect((r as { message: string }).message).toMatch(/no byte arrived for 1.5 s/)
    expect(performance.now() - started).toBeGreaterThanOrEqual(IDLE_MS - 50)
  }, 60_000)

  it('keeps a peer whose bytes keep coming though its frame takes several idle times to complete', async () => {
    written.length = 0
    const payload = randomBytes(30)
    const s = await open(payload.length)
    const prefix = new Uint8Array(varint.encodingLength(payload.length))
    varint.encodeTo(payload.length, prefix)
    s.send(prefix)
    // one byte every 300 ms: the frame takes 9 s, six times the idle time, with no gap near it
    for (const b of payload) { s.send(Uint8Array.of(b)); await new Promise(resolve => setTimeout(resolve, 300)) }
    expect(await s.next()).toEqual({ kind: 'held', held: payload.length })
    expect(await s.next()).toMatchObject({ kind: 'published', dealId: 7 })
    expect(Buffer.concat(written).equals(payload)).toBe(true)
  }, 60_000)
})
