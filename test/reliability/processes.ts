// The reliability scenarios' child processes: `coffer …` as a user runs it (its own process group, so a SIGKILL takes
// the whole of it), its output kept, and waits that last while the output moves rather than by a clock.
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { sleep } from './harness'

const BIN = fileURLToPath(new URL('../../src/node/bin.mjs', import.meta.url))

export interface Running { child: ChildProcess, output: () => string, exited: Promise<number | null> }

/** The last `n` lines of `r`'s output matching `pattern`, on one line (what a failure quotes of a process's log). */
export const lastLines = (r: Running, pattern: RegExp, n: number): string => r.output().split('\n').filter(l => pattern.test(l)).slice(-n).join(' | ')

export function coffer (args: string[]): Running {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let out = ''
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d })
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { out += d })
  const exited = new Promise<number | null>(resolve => child.on('exit', (code) => resolve(code)))
  return { child, output: () => out, exited }
}

export const alive = (r: Running): boolean => r.child.exitCode === null && r.child.signalCode === null

/** SIGKILL to the child's whole process group, then its exit. */
export async function killHard (r: Running): Promise<void> {
  if (alive(r)) { try { process.kill(-r.child.pid!, 'SIGKILL') } catch {} }
  await r.exited
}

/** Waits for `fn` while the child's output keeps moving (a loaded machine syncs slowly); undefined if it stalls or exits. */
export async function whileMoving<T> (r: Running, fn: () => T | undefined, stallMs: number): Promise<T | undefined> {
  let seen = r.output().length
  let movedAt = Date.now()
  for (;;) {
    const v = fn()
    if (v !== undefined) return v
    if (!alive(r)) return fn()
    if (r.output().length !== seen) { seen = r.output().length; movedAt = Date.now() }
    if (Date.now() - movedAt > stallMs) return undefined
    await sleep(100)
  }
}

export interface ProviderInfo { miner: string, peerId: string, addrs: string[] }

/** `coffer provider run` on `dir`, once it says it is ready; null (its output in `failures`) when it does not come up. */
export async function runProvider (dir: string, failures: string[], why: string, stallMs = 60_000): Promise<{ running: Running, info: ProviderInfo } | null> {
  const running = coffer(['provider', 'run', '--data', dir, '--no-webrtc-direct', '--no-relay'])
  const ready = await whileMoving(running, () => running.output().match(/provider ready (\{.*\})/)?.[1], stallMs)
  if (ready === undefined) {
    failures.push(`${why}: the provider did not come up on its folder: ${running.output().slice(-600)}`)
    await killHard(running)
    return null
  }
  return { running, info: JSON.parse(ready) as ProviderInfo }
}
