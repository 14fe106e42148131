// `/coffer/deal/1.0.0` and `/coffer/ask/1.0.0` over libp2p streams (formats in core/market/deal-wire).
// The provider side validates a proposal before taking any byte, tells the client where to resume, and
// answers only once the bytes hash to the proposed piece and the deal is published. The client side
// streams with the stream's back-pressure, reports progress, and resumes after a dropped connection.
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import {
  DEAL_PROTOCOL, ASK_PROTOCOL, MAX_DATA_FRAME, MAX_CONTROL_FRAME, HELD_ACK_BYTES, SEND_WINDOW, DealRejectedError, encodeDealRequest, decodeDealRequest,
  encodeDealReply, decodeDealReply, encodeSignedStorageAsk, decodeSignedStorageAsk, type DealRequest, type DealReply, type SignedStorageAsk
} from '../core'
import { serveOneShot, requestOneShot } from './stream-io'
import { FrameReader, writeFrame, FrameError } from './frames'

/** How long either side waits for the other's next frame before giving up on the stream. */
export const DEAL_IDLE_TIMEOUT_MS = 30_000
/** How long a client waits, after the last byte, for the provider to check the piece and publish. */
export const DEAL_PUBLISH_TIMEOUT_MS = 5 * 60_000

/** Where a provider puts the bytes of one accepted transfer. */
export interface PayloadSink {
  write: (bytes: Uint8Array) => Promise<void>
  /** All bytes are in: check them against the proposal and publish; the deal's ID and message CID. */
  finish: () => Promise<{ dealId: number, message: string }>
  /** The stream ended early: keep what arrived (the client may resume) and release the transfer. */
  interrupted: () => Promise<void>
}

export interface DealHandler {
  /** Checks a request before any byte moves; throws DealRejectedError, or returns where to resume. */
  accept: (req: DealRequest) => Promise<{ offset: number, sink: PayloadSink } | { published: { dealId: number, message: string } }>
}

/** The next frame, or a TRANSFER rejection when the stream ends first. */
async function must (frames: FrameReader, signal: AbortSignal): Promise<Uint8Array> {
  let frame: Uint8Array | null
  try { frame = await frames.read(signal) } catch (err) {
    if (err instanceof FrameError) throw new DealRejectedError('TRANSFER', err.message)
    throw err
  }
  if (frame === null) throw new DealRejectedError('TRANSFER', 'the stream ended early')
  return frame
}

export async function serveDeals (node: Libp2p, handler: DealHandler, log: (line: string) => void = () => {}): Promise<void> {
  await node.handle(DEAL_PROTOCOL, async (stream: Stream) => {
    const frames = new FrameReader(stream, MAX_DATA_FRAME)
    const reply = async (r: DealReply): Promise<void> => { await writeFrame(stream, encodeDealReply(r), AbortSignal.timeout(DEAL_IDLE_TIMEOUT_MS)) }
    let sink: PayloadSink | undefined
    let done = false
    try {
      const first = await must(frames, AbortSignal.timeout(DEAL_IDLE_TIMEOUT_MS))
      if (first.length > MAX_CONTROL_FRAME) throw new DealRejectedError('TRANSFER', 'request frame too large')
      const req = decodeDealRequest(first)
      const accepted = await handler.accept(req)
      if ('published' in accepted) {
        await reply({ kind: 'published', ...accepted.published })
      } else {
        sink = accepted.sink
        await reply({ kind: 'accepted', offset: accepted.offset })
        let have = accepted.offset
        let acked = have
        while (have < req.payloadBytes) {
          const frame = await must(frames, AbortSignal.timeout(DEAL_IDLE_TIMEOUT_MS))
          if (frame.length === 0 || have + frame.length > req.payloadBytes) throw new DealRejectedError('TRANSFER', `a data frame runs past the ${req.payloadBytes} bytes proposed`)
          await sink.write(frame)
          have += frame.length
          // acknowledged every HELD_ACK_BYTES, and once all are in (the client then knows the check has begun)
          if (have - acked >= HELD_ACK_BYTES || have === req.payloadBytes) { acked = have; await reply({ kind: 'held', held: have }) }
        }
        done = true
        await reply({ kind: 'published', ...(await sink.finish()) })
      }
      await stream.close({ signal: AbortSignal.timeout(DEAL_IDLE_TIMEOUT_MS) })
    } catch (err) {
      if (sink !== undefined && !done) await sink.interrupted().catch(() => {})
      const e = err as Error
      log(`deal: ${e.name}: ${e.message}`)
      if (e instanceof DealRejectedError) {
        await reply({ kind: 'rejected', code: e.code, message: e.message }).then(async () => { await stream.close() }).catch(() => { stream.abort(e) })
      } else {
        stream.abort(e)
      }
    }
  })
}

export interface SendDealOptions {
  signal?: AbortSignal
  /** Bytes the provider holds so far, of `total`. */
  onProgress?: (held: number, total: number) => void
  /** Fresh connections to try after one breaks mid-transfer (resuming where the provider stands). */
  retries?: number
}

/** The payload from `offset` to the end, in any chunking. */
export type PayloadReader = (offset: number) => AsyncIterable<Uint8Array>

/** Proposes a deal and streams its payload; resolves once the provider has published it. */
export async function sendDeal (node: Libp2p, peer: PeerId, req: DealRequest, payload: PayloadReader, opts: SendDealOptions = {}): Promise<{ dealId: number, message: string }> {
  const retries = opts.retries ?? 3
  for (let attempt = 0; ; attempt++) {
    try {
      return await sendOnce(node, peer, req, payload, opts)
    } catch (err) {
      // a rejection is the provider's answer; a broken connection is worth another try from where it stands
      if (err instanceof DealRejectedError || opts.signal?.aborted === true || attempt >= retries) throw err
      await new Promise(resolve => setTimeout(resolve, 500 * (attempt + 1)))
    }
  }
}

async function sendOnce (node: Libp2p, peer: PeerId, req: DealRequest, payload: PayloadReader, opts: SendDealOptions): Promise<{ dealId: number, message: string }> {
  const idle = (): AbortSignal => opts.signal === undefined ? AbortSignal.timeout(DEAL_IDLE_TIMEOUT_MS) : AbortSignal.any([opts.signal, AbortSignal.timeout(DEAL_IDLE_TIMEOUT_MS)])
  const stream = await node.dialProtocol(peer, DEAL_PROTOCOL, { signal: idle() })
  try {
    const frames = new FrameReader(stream, MAX_CONTROL_FRAME)
    await writeFrame(stream, encodeDealRequest(req), idle())
    const first = decodeDealReply(await must(frames, idle()))
    if (first.kind === 'rejected') throw new DealRejectedError(first.code, first.message)
    if (first.kind === 'published') { opts.onProgress?.(req.payloadBytes, req.payloadBytes); return first }
    if (first.kind !== 'accepted') throw new DealRejectedError('TRANSFER', 'the provider acknowledged bytes before accepting')
    // `sent` bytes are on their way; the provider acknowledges what it has written. The window keeps the
    // bytes in flight (and so in memory, in whatever layer holds them) bounded.
    let sent = first.offset
    let held = first.offset
    opts.onProgress?.(held, req.payloadBytes)
    const nextReply = async (signal: AbortSignal): Promise<DealReply> => {
      const r = decodeDealReply(await must(frames, signal))
      if (r.kind === 'held') {
        if (r.held < held || r.held > sent) throw new DealRejectedError('TRANSFER', `the provider acknowledged ${r.held} bytes, ${sent} were sent`)
        held = r.held
        opts.onProgress?.(held, req.payloadBytes)
      }
      if (r.kind === 'rejected') throw new DealRejectedError(r.code, r.message)
      return r
    }
    for await (const chunk of payload(sent)) {
      for (let at = 0; at < chunk.length; at += MAX_DATA_FRAME) {
        const frame = chunk.subarray(at, Math.min(chunk.length, at + MAX_DATA_FRAME))
        while (sent - held >= SEND_WINDOW) {
          if ((await nextReply(idle())).kind !== 'held') throw new DealRejectedError('TRANSFER', 'the provider answered before the last byte')
        }
        await writeFrame(stream, frame, idle())
        sent += frame.length
      }
    }
    if (sent !== req.payloadBytes) throw new RangeError(`the payload gave ${sent} bytes, the proposal says ${req.payloadBytes}`)
    const waitPublish = opts.signal === undefined ? AbortSignal.timeout(DEAL_PUBLISH_TIMEOUT_MS) : AbortSignal.any([opts.signal, AbortSignal.timeout(DEAL_PUBLISH_TIMEOUT_MS)])
    let last = await nextReply(waitPublish)
    while (last.kind === 'held') last = await nextReply(waitPublish)
    if (last.kind !== 'published') throw new DealRejectedError('TRANSFER', 'the provider accepted twice')
    opts.onProgress?.(req.payloadBytes, req.payloadBytes)
    await stream.close().catch(() => {})
    return last
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
}

export async function serveAsk (node: Libp2p, ask: () => Promise<SignedStorageAsk>): Promise<void> {
  await serveOneShot(node, ASK_PROTOCOL, 16, async () => encodeSignedStorageAsk(await ask()), () => new Uint8Array(0))
}

/** The provider's signed ask; the caller checks the signature against the on-chain worker. */
export async function requestAsk (node: Libp2p, peer: PeerId, signal?: AbortSignal): Promise<SignedStorageAsk> {
  return decodeSignedStorageAsk(await requestOneShot(node, peer, ASK_PROTOCOL, new Uint8Array(0), MAX_CONTROL_FRAME, signal))
}
