// A watchdog for a test process whose event loop stops turning. Vitest's test and hook timeouts are timers in
// the test's own process: a loop blocked in native code or a synchronous spin never lets them fire, and the
// whole run then waits until CI kills it (a run of stop 30 went silent for over an hour after one file, with no
// name for the culprit). A thread beside the loop sees the heartbeat stop, prints which file and test were
// running, and kills the process, so vitest fails that file by name and goes on with the others.
import { Worker } from 'node:worker_threads'

/** Longer than any synchronous stretch a test may legitimately hold the loop (hashing in JS takes seconds); LOOP_WATCHDOG_SECS sets it (a probe that spins shows the message). */
const STUCK_SECS = Number(process.env.LOOP_WATCHDOG_SECS ?? 180)

const WATCHER = `
const { workerData } = require('node:worker_threads')
const { writeSync } = require('node:fs')
const beat = new Int32Array(workerData.beat)
const label = new Uint8Array(workerData.label)
setInterval(() => {
  const now = Math.floor(Date.now() / 1000)
  const last = Atomics.load(beat, 0)
  if (now - last < workerData.stuckSecs) return
  const end = label.indexOf(0)
  const running = new TextDecoder().decode(label.slice(0, end < 0 ? label.length : end))
  writeSync(2, '\\nloop-watchdog: the event loop of ' + workerData.file + ' has not turned for ' + (now - last) + ' s (running: ' + running + '); killing the process so the run goes on\\n')
  process.kill(process.pid, 'SIGKILL')
}, 5000)
`

export interface LoopWatchdog {
  /** Names what runs now, for the message if the loop blocks. */
  running: (what: string) => void
}

export function startLoopWatchdog (file: string): LoopWatchdog {
  const beat = new Int32Array(new SharedArrayBuffer(4))
  const label = new Uint8Array(new SharedArrayBuffer(512))
  // the clock read here and now, before any test can fake Date (vi.useFakeTimers) and stop the heartbeat's time
  const realNow = Date.now
  const tick = (): void => { Atomics.store(beat, 0, Math.floor(realNow() / 1000)) }
  tick()
  setInterval(tick, 1000).unref()
  const worker = new Worker(WATCHER, { eval: true, workerData: { beat: beat.buffer, label: label.buffer, file, stuckSecs: STUCK_SECS } })
  worker.unref()
  return {
    running: (what) => {
      const bytes = new TextEncoder().encode(what).slice(0, label.length - 1)
      label.fill(0)
      label.set(bytes)
    }
  }
}
