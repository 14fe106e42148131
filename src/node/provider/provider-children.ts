// The devnet's genesis providers as child processes: each runs `coffer provider run --data <its folder>`, the same
// command a provider on another machine runs, so the devnet walks the path a remote provider walks. Each child is
// its own process group (killed whole on stop), its output is prefixed into the devnet's log, and one that dies
// is started again after a backoff. What it prints once ready (its miner, peer ID, multiaddrs and gateway) is what
// the devnet's bootstrap document lists.
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const BIN = fileURLToPath(new URL('../bin.mjs', import.meta.url))

/** The line `coffer provider run` prints once it serves: `provider ready {json}`. */
export const READY_PREFIX = 'provider ready '

/** Restart delays after a crash: doubling from 1 s to 30 s, back to 1 s once a child has run a minute. */
export const RESTART_MIN_MS = 1000
export const RESTART_MAX_MS = 30_000
const HEALTHY_MS = 60_000
/**
 * Runs a child may exit in before its first ready line before whoever waits on it is told it failed. One is not
 * enough: twenty children starting at once on two cores time out their first handshakes with the node, and a run
 * that fails for that starts fine a few seconds later. A broken folder or a port in use fails every run, so the
 * devnet still fails by name, after the backoff's 1 + 2 + 4 s.
 */
export const FIRST_READY_ATTEMPTS = 4
/** How long a stopping child has between SIGTERM and SIGKILL. */
const STOP_GRACE_MS = 10_000

export interface ProviderReady { miner: string, peerId: string, addrs: string[], gateway: string, startupMs: number }

/** A child's first run exited before it printed its ready line (or it was stopped before that). */
export class ProviderChildError extends Error {
  static override name = 'ProviderChildError'
  override name = 'ProviderChildError'
}

export interface ProviderChildInit {
  dir: string
  host: string
  /** What the log lines are prefixed with (the miner's address). */
  name: string
  log: (line: string) => void
  /** Whether the child listens with WebRTC-Direct too (`coffer provider run`'s default). */
  webrtcDirect?: boolean
  /** Whether its node is a circuit relay for tabs (`coffer provider run`'s default). */
  relay?: boolean
}

export interface ProviderChild {
  readonly name: string
  /** What the child printed when it last became ready; undefined while it starts. */
  info: () => ProviderReady | undefined
  /** Resolves at the child's first ready line; rejects if it exits before. */
  ready: Promise<ProviderReady>
  pid: () => number | undefined
  /** Times it was started again after dying. */
  restarts: () => number
  stop: () => Promise<void>
}

export function superviseProviderChild (init: ProviderChildInit): ProviderChild {
  let child: ChildProcess | undefined
  let info: ProviderReady | undefined
  let stopping = false
  let restarts = 0
  let delay = RESTART_MIN_MS
  let timer: NodeJS.Timeout | undefined
  let resolveReady!: (r: ProviderReady) => void
  let rejectReady!: (e: Error) => void
  let settled = false
  const ready = new Promise<ProviderReady>((resolve, reject) => { resolveReady = resolve; rejectReady = reject })
  ready.catch(() => {})
  let exited: Promise<void> = Promise.resolve()
  /** The child's last line of output: what a child that exits before it is ready most likely died of. */
  let lastLine = ''

  const start = (): void => {
    const startedAt = Date.now()
    const lastTry = restarts + 1 >= FIRST_READY_ATTEMPTS
    // its own process group (detached), so stop() ends the child and anything it starts, and a Ctrl-C meant for the
    // devnet reaches the child only through stop(); stdin is a pipe the child watches: if the devnet dies without
    // stopping it (kill -9), the pipe closes and the child stops itself (COFFER_SUPERVISED)
    const c = child = spawn(process.execPath, [BIN, 'provider', 'run', '--data', init.dir, '--host', init.host, ...(init.webrtcDirect === false ? ['--no-webrtc-direct'] : []), ...(init.relay === false ? ['--no-relay'] : [])], {
      detached: true, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, COFFER_SUPERVISED: '1' }
    })
    const lines = (stream: NodeJS.ReadableStream): void => {
      createInterface({ input: stream }).on('line', (line) => {
        if (line.startsWith(READY_PREFIX)) {
          try {
            info = JSON.parse(line.slice(READY_PREFIX.length)) as ProviderReady
            if (!settled) { settled = true; resolveReady(info) }
          } catch { /* a malformed line is only logged */ }
        }
        if (line.trim() !== '') lastLine = line.replace(/^coffer: /, '')
        init.log(`[${init.name}] ${line.replace(/^coffer: /, '')}`)
      })
    }
    lines(c.stdout!)
    lines(c.stderr!)
    exited = new Promise<void>(resolve => {
      c.on('exit', (code, signal) => {
        resolve()
        info = undefined
        if (stopping) return
        if (Date.now() - startedAt > HEALTHY_MS) delay = RESTART_MIN_MS
        init.log(`[${init.name}] provider process ${String(c.pid)} exited (${signal ?? `code ${String(code)}`}); starting it again in ${delay / 1000} s`)
        timer = setTimeout(() => { restarts++; start() }, delay)
        timer.unref()
        delay = Math.min(delay * 2, RESTART_MAX_MS)
      })
    })
    // 'close' comes after the child's output was read to its end, so lastLine is what it printed last
    c.on('close', (code, signal) => {
      if (settled || stopping || !lastTry) return
      // every start so far failed outright (a broken folder, a port in use): say so to whoever waits (startDevnet fails
      // with it instead of waiting forever on a child that dies each time); the restarts go on in the background
      settled = true
      rejectReady(new ProviderChildError(`${init.name}: \`coffer provider run\` exited ${restarts + 1} times before it was ready (${signal ?? `code ${String(code)}`})${lastLine === '' ? '' : `: ${lastLine}`}`))
    })
    c.on('error', (err) => { init.log(`[${init.name}] ${err.message}`) })
  }

  start()
  return {
    name: init.name,
    info: () => info,
    ready,
    pid: () => child?.pid,
    restarts: () => restarts,
    stop: async () => {
      stopping = true
      clearTimeout(timer)
      if (!settled) { settled = true; rejectReady(new ProviderChildError(`${init.name} was stopped before it was ready`)) }
      const c = child
      if (c === undefined || c.exitCode !== null || c.signalCode !== null) return
      const group = (sig: NodeJS.Signals): void => { try { process.kill(-c.pid!, sig) } catch { /* gone */ } }
      group('SIGTERM')
      const kill = setTimeout(() => { group('SIGKILL') }, STOP_GRACE_MS)
      await exited
      clearTimeout(kill)
    }
  }
}
