// Length-prefixed frames (unsigned varint length, then the bytes: the framing libp2p protocols use) with
// back-pressure both ways. libp2p 3 streams deliver data as events with no limit on what piles up, so the
// reader pauses the stream while it holds more than a few frames and resumes once it has caught up; the
// pause stops yamux's window updates, which makes the sender's `send` return false until it drains.
// What the sender already had window for still arrives while paused (yamux grows a stream's window to
// 16 MiB), and libp2p resets a paused stream whose buffer passes maxReadBufferLength (4 MiB by default),
// so the reader raises that limit above the window: memory per stream stays bounded near 16 MiB.
import { varint } from 'multiformats'
import type { Stream } from '@libp2p/interface'
import { drained, sendPaced } from './send-pacing'

export class FrameError extends Error {
  static override name = 'FrameError'
  override name = 'FrameError'
}

/**
 * The stream ended with part of a frame read: the other side (or the connection) went away mid-frame, as a killed
 * process or a dropped link leaves it. A FrameError for protocols that treat any broken framing alike, but not bad
 * bytes: a retrieval client must not count it as its provider's lie (a provider killed mid-frame and restarted
 * was once skipped on every rerun of the download as a liar).
 */
export class StreamCutError extends FrameError {
  static override name = 'StreamCutError'
  override name = 'StreamCutError'
}

/** Whole frames the reader holds before it pauses the stream (resuming at half): fewer stalls the sender. */
const PAUSE_FRAMES = 8
/** yamux's largest stream window (16 MiB) plus room for the frames in flight. */
const PAUSED_BUFFER_LIMIT = 24 * 2 ** 20

export class FrameReader {
  private chunks: Uint8Array[] = []
  private buffered = 0
  private ended: Error | null | undefined
  /** How a clean end came (a cut frame's error says it: the other side's close or the whole stream's). */
  private endedHow = ''
  private wake: (() => void) | undefined
  private paused = false
  /** Frames joined from several of the stream's pieces into memory of the reader's own (see `joined`). */
  private readonly joinedFrames = new WeakSet<Uint8Array>()

  constructor (private readonly stream: Stream, private readonly maxFrame: number) {
    stream.maxReadBufferLength = Math.max(stream.maxReadBufferLength, PAUSED_BUFFER_LIMIT)
    stream.addEventListener('message', (evt) => {
      const data = evt.data
      // a message in pieces is kept in its pieces: a frame is cut out of them (one copy) when it is whole, and
      // joining each message first was a second copy of every byte (0.24 s of the shared node's 6.5 s, profiled,
      // in a 256 MiB download)
      if (data instanceof Uint8Array) this.chunks.push(data)
      else for (const piece of data) if (piece.length > 0) this.chunks.push(piece)
      this.buffered += data.byteLength
      if (this.buffered > PAUSE_FRAMES * maxFrame + 16 && !this.paused && stream.readStatus === 'readable') { this.paused = true; stream.pause() }
      this.wake?.()
    })
    stream.addEventListener('close', (evt) => {
      if (this.ended === undefined) this.endedHow = 'the stream closed'
      this.ended = evt.error ?? null
      this.wake?.()
    })
    stream.addEventListener('remoteCloseWrite', () => {
      if (this.ended === undefined) this.endedHow = 'the other side closed its end'
      this.ended ??= null
      this.wake?.()
    })
  }

  /** The next frame; null at a clean end of stream between frames. The reader keeps no view of a frame it returns. */
  async read (signal?: AbortSignal): Promise<Uint8Array | null> {
    for (;;) {
      const frame = this.take()
      if (frame !== undefined) {
        if (this.buffered <= (PAUSE_FRAMES / 2) * this.maxFrame) this.resume()
        return frame
      }
      // what is buffered is less than a frame: read on, or the frame can never complete
      this.resume()
      if (this.ended !== undefined) {
        if (this.ended !== null) throw this.ended
        if (this.buffered > 0) throw new StreamCutError(`the stream ended inside a frame (${this.endedHow}, ${this.buffered} bytes of the frame held)`)
        return null
      }
      signal?.throwIfAborted()
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => { reject(signal!.reason) }
        this.wake = () => { this.wake = undefined; signal?.removeEventListener('abort', onAbort); resolve() }
        signal?.addEventListener('abort', onAbort, { once: true })
      })
    }
  }

  /**
   * Whether `frame` (one `read` returned) was joined from the stream's pieces into memory of the reader's own, which
   * then holds that frame alone and is seen by nobody else: its holder may change it, or move its buffer elsewhere.
   * Otherwise the frame is a view of a piece the transport delivered, whose memory may not be the frame's alone.
   */
  joined (frame: Uint8Array): boolean { return this.joinedFrames.has(frame) }

  private resume (): void {
    if (!this.paused) return
    this.paused = false
    if (this.stream.readStatus === 'paused') this.stream.resume()
  }

  private take (): Uint8Array | undefined {
    if (this.buffered === 0) return undefined
    const head = this.peek(Math.min(this.buffered, 10))
    let length: number
    let prefix: number
    try { [length, prefix] = varint.decode(head) } catch {
      if (this.buffered >= 10) throw new FrameError('frame length is not a varint')
      return undefined
    }
    if (length > this.maxFrame) throw new FrameError(`a frame of ${length} bytes is over the ${this.maxFrame}-byte limit`)
    if (this.buffered < prefix + length) return undefined
    this.consume(prefix)
    return this.consume(length)
  }

  private peek (n: number): Uint8Array {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!.subarray(0, n)
    const out = new Uint8Array(n)
    let at = 0
    for (const c of this.chunks) { const k = Math.min(c.length, n - at); out.set(c.subarray(0, k), at); at += k; if (at === n) break }
    return out
  }

  private consume (n: number): Uint8Array {
    if (n === 0) return new Uint8Array(0) // an empty frame may end the buffer: there is no chunk left to cut
    const out = this.chunks[0]!.length >= n ? this.chunks[0]!.subarray(0, n) : new Uint8Array(n)
    if (out.buffer !== this.chunks[0]!.buffer) this.joinedFrames.add(out)
    let at = 0
    while (at < n) {
      const c = this.chunks[0]!
      const k = Math.min(c.length, n - at)
      if (out.buffer !== c.buffer || out.byteOffset !== c.byteOffset) out.set(c.subarray(0, k), at)
      at += k
      if (k === c.length) this.chunks.shift()
      else this.chunks[0] = c.subarray(k)
    }
    this.buffered -= n
    return out
  }
}

/**
 * Sends one frame, waiting while the stream's send buffer is full. A large frame goes in slices (sendPaced), with
 * awaits between them: one writer per stream at a time (every caller's loop awaits each frame before the next).
 */
export async function writeFrame (stream: Stream, bytes: Uint8Array, signal?: AbortSignal): Promise<void> {
  const prefix = varint.encodeTo(bytes.length, new Uint8Array(varint.encodingLength(bytes.length)))
  if (!stream.send(prefix)) await drained(stream, signal)
  await sendPaced(stream, bytes, signal)
}
