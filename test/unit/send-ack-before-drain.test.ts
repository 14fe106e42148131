// A sender's write that waits for its stream to drain may resume after the receiver has read the frame and
// acknowledged it. The acknowledgement must be taken, not refused as beyond what was sent: CI once failed a deal
// that way under load (the provider's PIECE_MISMATCH came back as the client's own TRANSFER). Here every write
// waits 20 ms for a drain that a real transport would give at once, while the receiver acknowledges in a
// millisecond: the order that load produced, made certain.
import { describe, it, expect } from 'vitest'
import { streamPair } from '@libp2p/utils'
import { peerIdFromString } from '@libp2p/peer-id'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import type { Stream } from '@libp2p/interface'
import { sendDeal } from '../../src/net/deal-protocol'
import { STAGE_ACK_BYTES, sendStage } from '../../src/net/stage-protocol'
import { FrameReader, writeFrame } from '../../src/net/frames'
import type { Dialer } from '../../src/net/dialer'
import {
  DealRejectedError, HELD_ACK_BYTES, MAX_DATA_FRAME, encodeDealReply, idAddressBytes, pieceCidV1, secpAddressBytes,
  secpPublicKey, signDealProposal, type DealReply
} from '../../src/core'

const PEER = peerIdFromString('12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN')

/** The stream as a slow transport shows it: every send reports a full buffer, and the drain comes 20 ms later. */
function drainingLate (stream: Stream): Stream {
  const drains = new EventTarget()
  let pending = false
  return new Proxy(stream, {
    get (target, prop) {
      if (prop === 'send') {
        return (bytes: Uint8Array) => {
          target.send(bytes)
          pending = true
          setTimeout(() => { pending = false; drains.dispatchEvent(new Event('drain')) }, 20)
          return false
        }
      }
      if (prop === 'writableNeedsDrain') return pending
      if (prop === 'addEventListener' || prop === 'removeEventListener') {
        return (type: string, fn: EventListener, o?: unknown) => {
          const on = (type === 'drain' ? drains : target) as EventTarget
          if (prop === 'addEventListener') on.addEventListener(type, fn, o as AddEventListenerOptions)
          else on.removeEventListener(type, fn)
        }
      }
      const v = Reflect.get(target, prop, target) as unknown
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
    }
  })
}

/**
 * A receiver that acknowledges every `ackBytes` as soon as they are read, as the providers do: a deal's at the
 * last byte too, then `last`; a stage's once the sender ends its side.
 */
async function receive (stream: Stream, ackBytes: number, total: number, last: DealReply | undefined): Promise<void> {
  const frames = new FrameReader(stream, MAX_DATA_FRAME)
  const reply = async (r: DealReply): Promise<void> => { await writeFrame(stream, encodeDealReply(r)) }
  await frames.read() // the request
  await reply({ kind: 'accepted', offset: 0 })
  let have = 0
  let acked = 0
  for (;;) {
    const frame = have < total || last === undefined ? await frames.read() : null
    if (frame === null) break
    have += frame.length
    if (have - acked >= ackBytes || (have === total && last !== undefined)) { acked = have; await reply({ kind: 'held', held: have }) }
  }
  await reply(last ?? { kind: 'held', held: have })
  await stream.close()
}

async function pair (): Promise<{ dialer: Dialer, inbound: Stream }> {
  const [outbound, inbound] = await streamPair()
  const dialer = { dialProtocol: async () => drainingLate(outbound), dial: async () => { throw new Error('unused') }, getConnections: () => [] } as unknown as Dialer
  return { dialer, inbound }
}

const BYTES = 3 * HELD_ACK_BYTES

describe('a send whose acknowledgement comes before its write returns', () => {
  it('a deal gets the provider’s own answer (PIECE_MISMATCH), not a refused acknowledgement', async () => {
    const { dialer, inbound } = await pair()
    const key = secp256k1.utils.randomSecretKey()
    const proposal = signDealProposal(key, {
      pieceCid: pieceCidV1(new Uint8Array(32)), pieceSize: 2 ** 24, verifiedDeal: false, client: secpAddressBytes(secpPublicKey(key)),
      provider: idAddressBytes(1001), label: 'x', startEpoch: 100, endEpoch: 200, storagePricePerEpoch: 1n, providerCollateral: 0n, clientCollateral: 0n
    })
    const served = receive(inbound, HELD_ACK_BYTES, BYTES, { kind: 'rejected', code: 'PIECE_MISMATCH', message: 'the bytes hash to another piece' })
    const payload = new Uint8Array(BYTES)
    const err = await sendDeal(dialer, PEER, { proposal, payloadBytes: BYTES }, async function * (offset) { yield payload.subarray(offset) }, { retries: 0 }).catch(e => e as Error)
    await served
    expect(err).toBeInstanceOf(DealRejectedError)
    expect({ code: (err as DealRejectedError).code, message: err.message }).toEqual({ code: 'PIECE_MISMATCH', message: 'the bytes hash to another piece' })
  })

  it('a stage is held whole', async () => {
    const { dialer, inbound } = await pair()
    const served = receive(inbound, STAGE_ACK_BYTES, BYTES, undefined)
    const held = await sendStage(dialer, PEER, new Uint8Array(16), (async function * () { yield new Uint8Array(BYTES) })())
    await served
    expect(held).toBe(BYTES)
  })
})
