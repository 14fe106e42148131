// How bulk bytes go into a libp2p stream: waiting for the stream to take more, and in slices with the event loop
// let run between them (issue 17, measured in Chromium on a 2-core machine):
//
// - Not `stream.onDrain()`: in @libp2p/utils 7.4.1 (the newest) it keeps the promise of the stream's first drain and
//   hands it out again, already resolved, for every later wait, so a sender that waits on it feels back-pressure
//   only once and then queues its whole window in the stream's write buffer.
// - In slices: a browser worker's WebSocket is fed to the network service through a small data pipe (twice
//   Chromium's 64 KiB receive quota) that only the worker's own thread refills, between its tasks. A sender that
//   writes megabytes in one task (noise encrypts each write as it is sent, about 8 ms a MiB in JavaScript here)
//   leaves the socket idle for that whole task: the upload's profile showed 160–190 ms tasks of encryption.
import type { Stream } from '@libp2p/interface'

/** The stream closed (or was aborted) while a sender waited for it to drain. */
export class StreamClosedWhileWaitingError extends Error {
  static override name = 'StreamClosedWhileWaitingError'
  override name = 'StreamClosedWhileWaitingError'
  constructor () { super('the stream closed while waiting to send more') }
}

/**
 * Resolves once `stream` can take more bytes: at once if its transport is not full, else at its next 'drain'.
 * Rejects with the stream's error (or StreamClosedWhileWaitingError) if it closes first, or the signal's reason.
 */
export async function drained (stream: Stream, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted()
  if (!stream.writableNeedsDrain) return
  // a stream that has ended never drains
  if (stream.status === 'closed' || stream.status === 'aborted' || stream.status === 'reset') throw new StreamClosedWhileWaitingError()
  await new Promise<void>((resolve, reject) => {
    const stop = (): void => {
      stream.removeEventListener('drain', onDrain)
      stream.removeEventListener('close', onClose)
      signal?.removeEventListener('abort', onAbort)
    }
    const onDrain = (): void => { stop(); resolve() }
    const onClose = (evt: Event): void => { stop(); reject((evt as Event & { error?: Error }).error ?? new StreamClosedWhileWaitingError()) }
    const onAbort = (): void => { stop(); reject(signal!.reason) }
    stream.addEventListener('drain', onDrain)
    stream.addEventListener('close', onClose)
    signal?.addEventListener('abort', onAbort)
  })
}

/**
 * A bulk write goes into the stream this many bytes at a time, the event loop let run after each (about 2 ms of
 * encryption here, during which the WebSocket's pipe still holds what the last refill put in).
 */
export const SEND_SLICE_BYTES = 256 * 1024
/** Writes of at most this many bytes (requests, replies, acknowledgements) go in at once, not paced. */
export const UNPACED_BYTES = 64 * 1024

const host = globalThis as unknown as { setImmediate?: (fn: () => void) => unknown }
let channel: MessageChannel | undefined
const waiting: Array<() => void> = []

/**
 * Lets the event loop run other tasks (in a browser worker, the WebSocket's refills) before going on: a macrotask,
 * not a microtask. Node: setImmediate. Browsers: a posted message (not setTimeout, clamped to 4 ms when nested;
 * not scheduler.yield, whose continuation is run ahead of the tasks it should let through).
 */
export async function yieldToEventLoop (): Promise<void> {
  if (typeof host.setImmediate === 'function') {
    await new Promise<void>(resolve => { host.setImmediate!(resolve) })
    return
  }
  if (channel === undefined) {
    channel = new MessageChannel()
    channel.port1.onmessage = () => { waiting.shift()?.() }
  }
  const c = channel
  await new Promise<void>(resolve => { waiting.push(resolve); c.port2.postMessage(null) })
}

/**
 * Sends `bytes` on `stream`: at once when small, else in SEND_SLICE_BYTES slices with the event loop let run after
 * each; waits (properly) for the stream to drain whenever it says it is full.
 */
export async function sendPaced (stream: Stream, bytes: Uint8Array, signal?: AbortSignal): Promise<void> {
  if (bytes.length <= UNPACED_BYTES) {
    if (!stream.send(bytes)) await drained(stream, signal)
    return
  }
  for (let i = 0; i < bytes.length; i += SEND_SLICE_BYTES) {
    if (!stream.send(bytes.subarray(i, Math.min(bytes.length, i + SEND_SLICE_BYTES)))) await drained(stream, signal)
    else await yieldToEventLoop()
    signal?.throwIfAborted()
  }
}
