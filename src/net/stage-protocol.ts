// `/coffer/stage/1.0.0` (format in core/market/deal-wire): an upload's bytes sent to a provider before the
// proposal exists, while the tab is still packing and hashing them, so drop → published is about the slower of
// hashing and sending rather than their sum. Best effort on both sides: the provider bounds what it holds for
// proposals it has not seen (and may refuse), the client gives up on a stage that stalls, and whatever was
// staged is adopted by the deal stream that follows, which resumes from it as it would from a broken stream.
import type { Dialer } from './dialer'
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import {
  STAGE_PROTOCOL, MAX_DATA_FRAME, MAX_CONTROL_FRAME, SEND_WINDOW, DealRejectedError,
  encodeStageRequest, decodeStageRequest, encodeDealReply, decodeDealReply, type DealReply
} from '../core'
import { FrameReader, writeFrame } from './frames'
import { SendWindow } from './windowed-transfer'
import { DEAL_IDLE_TIMEOUT_MS, DEFAULT_TRANSFER_RATE_FLOOR, WINDOW_SECS, endStream, nextFrame, nextFrameOrEnd, watchRateFloor, type ServeDealsOptions } from './deal-protocol'

/** Where a provider puts one peer's pre-proposal bytes. */
/**
 * A stage is acknowledged every frame (a deal every four): its window starts, and on a slow link stays, at two
 * frames, so the asks and the proposal that share its connection wait behind seconds of bytes, not a minute
 * (a one-shot request gives up after REQUEST_TIMEOUT_MS).
 */
export const STAGE_ACK_BYTES = MAX_DATA_FRAME
const STAGE_WINDOW_FLOOR = STAGE_ACK_BYTES + MAX_DATA_FRAME

export interface StageSink {
  write: (bytes: Uint8Array) => Promise<void>
  /** The client ended its side cleanly: every byte it meant to stage is in. */
  end: () => Promise<void>
  /** The stream broke: keep what arrived (a later stream or the deal resumes from it) and release it. */
  interrupted: () => Promise<void>
}

export interface StageHandler {
  /** A stage for `transfer` of `peer`'s: where it resumes, or DealRejectedError (BUSY, SPACE, CLIENT_LIMIT). */
  open: (peer: string, transfer: Uint8Array) => Promise<{ offset: number, sink: StageSink }>
}

export async function serveStaging (node: Libp2p, handler: StageHandler, opts: ServeDealsOptions = {}): Promise<void> {
  const log = opts.log ?? (() => {})
  const floor = opts.rateFloor ?? DEFAULT_TRANSFER_RATE_FLOOR
  const nowMs = opts.nowMs ?? (() => performance.now())
  const idleMs = opts.idleTimeoutMs ?? DEAL_IDLE_TIMEOUT_MS
  await node.handle(STAGE_PROTOCOL, async (stream: Stream, connection) => {
    const frames = new FrameReader(stream, MAX_DATA_FRAME)
    const reply = async (r: DealReply): Promise<void> => { await writeFrame(stream, encodeDealReply(r), AbortSignal.timeout(DEAL_IDLE_TIMEOUT_MS)) }
    let received = 0
    let lastByteMs = nowMs()
    stream.addEventListener('message', (evt) => { received += evt.data.byteLength; lastByteMs = nowMs() })
    const stalled = new AbortController()
    let watch: ReturnType<typeof setInterval> | undefined
    let sink: StageSink | undefined
    let ended = false
    try {
      const first = await nextFrame(frames, () => lastByteMs, nowMs, idleMs)
      if (first.length > MAX_CONTROL_FRAME) throw new DealRejectedError('TRANSFER', 'request frame too large')
      const req = decodeStageRequest(first)
      const opened = await handler.open(connection.remotePeer.toString(), req.transfer)
      sink = opened.sink
      await reply({ kind: 'accepted', offset: opened.offset })
      // the same floor as a deal's transfer: holding a stage open costs the holder bandwidth
      watch = watchRateFloor(floor, nowMs, () => received, (rate) => {
        stalled.abort(new DealRejectedError('STALLED', `the stage ran at ${rate.toFixed(0)} bytes/s, below the ${floor.bytesPerSecond} bytes/s this provider requires; the bytes received are kept`))
      })
      let have = opened.offset
      let acked = have
      for (;;) {
        const frame = await nextFrameOrEnd(frames, () => lastByteMs, nowMs, idleMs, stalled.signal)
        if (frame === null) break
        if (frame.length === 0) throw new DealRejectedError('TRANSFER', 'an empty data frame')
        await sink.write(frame)
        have += frame.length
        if (have - acked >= STAGE_ACK_BYTES) { acked = have; await reply({ kind: 'held', held: have }) }
      }
      clearInterval(watch)
      ended = true
      await sink.end()
      await reply({ kind: 'held', held: have })
      await stream.close({ signal: AbortSignal.timeout(DEAL_IDLE_TIMEOUT_MS) })
    } catch (err) {
      clearInterval(watch)
      if (sink !== undefined && !ended) await sink.interrupted().catch(() => {})
      const e = err as Error
      log(`stage: ${e.name}: ${e.message}`)
      await endStream(stream, e, reply)
    }
  })
}

export interface SendStageOptions {
  signal?: AbortSignal
  /** Bytes the provider holds so far. */
  onProgress?: (held: number) => void
}

/**
 * Stages `payload` (from the start; chunks as the packer makes them) under `transfer` with the provider, then
 * ends the stream cleanly. Resolves with the bytes the provider holds. It rejects when the provider refuses or
 * shows no progress for DEAL_IDLE_TIMEOUT_MS with bytes out: the caller drops the stage (best effort) and the
 * deal stream sends the rest. The iterable is always drained or returned, so a packer feeding it is never left
 * waiting.
 */
export async function sendStage (node: Dialer, peer: PeerId, transfer: Uint8Array, payload: AsyncIterable<Uint8Array>, opts: SendStageOptions = {}): Promise<number> {
  const idle = (): AbortSignal => opts.signal === undefined ? AbortSignal.timeout(DEAL_IDLE_TIMEOUT_MS) : AbortSignal.any([opts.signal, AbortSignal.timeout(DEAL_IDLE_TIMEOUT_MS)])
  const stream = await node.dialProtocol(peer, STAGE_PROTOCOL, { signal: idle() })
  let watchdog: ReturnType<typeof setTimeout> | undefined
  try {
    const frames = new FrameReader(stream, MAX_CONTROL_FRAME)
    await writeFrame(stream, encodeStageRequest({ transfer }), idle())
    const first = decodeDealReply(await readOrThrow(frames, idle()))
    if (first.kind === 'rejected') throw new DealRejectedError(first.code, first.message)
    if (first.kind !== 'accepted') throw new DealRejectedError('TRANSFER', 'the provider did not accept the stage')
    const readerAbort = new AbortController()
    const live = opts.signal === undefined ? readerAbort.signal : AbortSignal.any([opts.signal, readerAbort.signal])
    // progress is judged by acknowledgements while bytes are out (or the last word is awaited); a packer that
    // is slow to hand the next chunk is the client's own time, not the provider's
    const arm = (): void => {
      clearTimeout(watchdog)
      watchdog = setTimeout(() => { if (window.unacked > 0 || finished) readerAbort.abort(new DealRejectedError('TRANSFER', `the provider acknowledged nothing for ${DEAL_IDLE_TIMEOUT_MS / 1000} s`)); else arm() }, DEAL_IDLE_TIMEOUT_MS)
    }
    // sized to the link as a deal's is, and starting at its floor rather than a full window until measured: a
    // stage is best effort, and a full window on a slow link is a minute of bytes that every other stream on
    // the connection (the asks and the proposal that follow) would queue behind
    const startedMs = performance.now()
    const window = new SendWindow(first.offset, (w) => {
      const secs = (performance.now() - startedMs) / 1000
      if (w.acked === first.offset || secs <= 0) return STAGE_WINDOW_FLOOR
      return Math.min(SEND_WINDOW, Math.max(STAGE_WINDOW_FLOOR, Math.ceil((w.acked - first.offset) / secs * WINDOW_SECS)))
    })
    opts.onProgress?.(first.offset)
    let finished = false
    const replies = (async (): Promise<number> => {
      for (;;) {
        const r = decodeDealReply(await readOrThrow(frames, live))
        if (r.kind === 'rejected') throw new DealRejectedError(r.code, r.message)
        if (r.kind !== 'held') throw new DealRejectedError('TRANSFER', 'an unexpected reply to a stage')
        window.ack(r.held)
        opts.onProgress?.(r.held)
        arm()
        if (finished && r.held === window.sent) return r.held
      }
    })()
    replies.catch((err) => {
      window.fail(err)
      if (!readerAbort.signal.aborted) readerAbort.abort(err)
      stream.abort(err as Error)
    })
    arm()
    // bytes before the offset the provider already holds are skipped, not sent again
    let at = 0
    try {
      for await (const chunk of payload) {
        const from = Math.max(0, window.sent - at)
        at += chunk.length
        for (let i = from; i < chunk.length; i += MAX_DATA_FRAME) {
          const frame = chunk.subarray(i, Math.min(chunk.length, i + MAX_DATA_FRAME))
          await window.room()
          // counted when handed to the stream (see sendOnce in deal-protocol): its acknowledgement may come first
          window.wrote(frame.length)
          await writeFrame(stream, frame, live)
        }
      }
      finished = true
      await stream.close({ signal: live })
    } catch (err) {
      if (!readerAbort.signal.aborted) readerAbort.abort(err)
      await replies.catch(() => {})
      throw window.failed instanceof DealRejectedError ? window.failed : err
    }
    return await replies
  } catch (err) {
    stream.abort(err as Error)
    throw err
  } finally {
    clearTimeout(watchdog)
  }
}

async function readOrThrow (frames: FrameReader, signal: AbortSignal): Promise<Uint8Array> {
  const frame = await frames.read(signal)
  if (frame === null) throw new DealRejectedError('TRANSFER', 'the provider ended the stage stream early')
  return frame
}
