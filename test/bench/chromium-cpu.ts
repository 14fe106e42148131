// CPU time of Chromium's threads over a stretch of a bench, read from Linux's /proc (user + system ticks of every
// thread of every process whose executable is Chromium): what a V8 profile cannot show — the browser process
// reading a file for the page, the network service, threads of other processes — and how much of the machine's
// cores a run really had. Elsewhere than Linux it measures nothing (null).
import { readdirSync, readFileSync, existsSync } from 'node:fs'

const TICKS_PER_SEC = 100 // Linux's USER_HZ on every architecture Node runs on

/**
 * Ticks by "kind/thread name#pid.tid" for every Chromium thread alive now, and by "kind#pid" for each process as a
 * whole (its threads that have ended included: a worker terminated before the stretch ends is counted there).
 */
function snapshot (): Map<string, number> {
  const ticks = new Map<string, number>()
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue
    try {
      // (a zygote-forked process rewrites its command line as one string: the flags are read from the whole)
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      if (!/chrom/.test(cmd.split(/[\0 ]/)[0] ?? '')) continue
      const type = /--type=([\w-]+)/.exec(cmd)?.[1] ?? 'browser'
      const kind = type === 'utility' ? (/--utility-sub-type=([\w.]+)/.exec(cmd)?.[1]?.split('.').pop() ?? 'utility') : type
      const whole = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const w = whole.slice(whole.lastIndexOf(')') + 2).split(' ')
      ticks.set(`${kind}#${pid}`, Number(w[11]) + Number(w[12]))
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
        const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
        // the same name in one kind of process (a pool's ThreadPoolForeg…, two workers) adds up; ids keep them apart
        const key = `${kind}/${name === 'chromium' ? 'main' : name}#${pid}.${tid}`
        ticks.set(key, Number(f[11]) + Number(f[12]))
      }
    } catch { continue } // (gone meanwhile)
  }
  return ticks
}

/** Busy and total ticks of all the machine's cores (/proc/stat's first line: idle and iowait are not busy). */
function machineTicks (): { busy: number, all: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
  const all = f.slice(0, 8).reduce((a, b) => a + b, 0) // user nice system idle iowait irq softirq steal (guest is inside user)
  return { busy: all - f[3]! - f[4]!, all }
}

/** This process's main thread's ticks (its other threads: worker threads hashing or checking signatures, libuv's pool). */
function mainThreadTicks (): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return Number(f[11]) + Number(f[12])
}

export interface ChromiumCpu {
  /** Seconds of wall time the stretch took. */
  wallSecs: number
  /** CPU seconds by "process kind/thread name", busiest first (threads of one name in one kind of process summed). */
  byThread: Array<[string, number]>
  totalSecs: number
  /** This Node process's CPU seconds over the same stretch (the bench's far end: a sink, a source, a devnet). */
  processSecs: number
  /** Of which its main thread's (the rest: its worker threads and libuv's pool). */
  processMainSecs: number
  /** Cores the whole machine kept busy over the stretch, on average (every process, the kernel's work included). */
  machineBusyCores: number
}

/** Milliseconds of CPU, Chromium's and this process's together, for each MiB moved over the stretch. */
export const cpuMsPerMiB = (c: ChromiumCpu, mib: number): number => (c.totalSecs + c.processSecs) * 1000 / mib

/** Starts counting; the returned function ends the stretch and says where Chromium's CPU time went. */
export function countChromiumCpu (): (() => ChromiumCpu) | null {
  if (!existsSync('/proc/self/task')) return null
  const before = snapshot()
  const own = process.cpuUsage()
  const main = mainThreadTicks()
  const machine = machineTicks()
  const t = performance.now()
  return () => {
    const after = snapshot()
    const machineNow = machineTicks()
    const mainNow = mainThreadTicks()
    const wallSecs = (performance.now() - t) / 1000
    const sums = new Map<string, number>()
    const add = (name: string, secs: number): void => { sums.set(name, (sums.get(name) ?? 0) + secs) }
    let totalSecs = 0
    for (const [key, ticks] of after) {
      const spent = (ticks - (before.get(key) ?? 0)) / TICKS_PER_SEC
      const [name, id] = key.split('#') as [string, string]
      if (id.includes('.')) { // a thread: counted by name, and taken off its process's remainder
        add(name, spent)
        add(`${name.slice(0, name.indexOf('/'))}/(threads that ended)`, -spent)
      } else { // a process: what its live threads do not account for was spent by threads that ended meanwhile
        totalSecs += spent
        add(`${name}/(threads that ended)`, spent)
      }
    }
    const byThread = [...sums].filter(([, v]) => v >= 0.005).sort((a, b) => b[1] - a[1])
    const ownUsed = process.cpuUsage(own)
    return {
      wallSecs,
      byThread,
      totalSecs,
      processSecs: (ownUsed.user + ownUsed.system) / 1e6,
      processMainSecs: (mainNow - main) / TICKS_PER_SEC,
      machineBusyCores: (machineNow.busy - machine.busy) / TICKS_PER_SEC / wallSecs
    }
  }
}

/** One line: total cores used over the stretch, then the busiest threads in seconds. */
export function describeCpu (c: ChromiumCpu, top = 6): string {
  return `Chromium used ${(c.totalSecs / c.wallSecs).toFixed(2)} cores over ${c.wallSecs.toFixed(2)} s: ` +
    c.byThread.slice(0, top).map(([k, v]) => `${k} ${v.toFixed(2)} s`).join(' · ')
}
