// Five tabs of the app, in real Chromium against a devnet: one shared light node (SharedWorker) against a node per
// tab (`?node=tab`, how every tab ran before issue 15), each measured in the same run. Figures: the browser's whole
// memory (resident set of Chromium's process tree), the libp2p connections the devnet holds from the browser, and
// how long each tab took from opening to a verified head on its page.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startDevnet } from '../../src/node/devnet'
import { launchChromium } from '../helpers/chromium'
import { requireBuiltApp } from '../helpers/dist'

const fmt = (n: number, digits = 1): string => n.toFixed(digits)

/** A process's proportional set size (shared pages divided among the processes sharing them), in bytes; RSS where unreadable. */
function pss (pid: number, rssKb: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))
    if (m !== null) return Number(m[1]) * 1024
  } catch {}
  return rssKb * 1024
}

/**
 * Memory of `root` and every process below it, in bytes: the sum of their PSS (Linux), so the pages Chromium's
 * processes share count once, not once per tab as a sum of RSS would.
 */
function treeMemory (root: number): number {
  const rows = execFileSync('ps', ['-eo', 'pid=,ppid=,rss='], { encoding: 'utf8' }).trim().split('\n').map(l => l.trim().split(/\s+/).map(Number))
  const kids = new Map<number, number[]>()
  for (const [pid, ppid] of rows) kids.set(ppid!, [...(kids.get(ppid!) ?? []), pid!])
  const rss = new Map(rows.map(([pid, , kb]) => [pid!, kb!]))
  let sum = 0
  const stack = [root]
  while (stack.length > 0) { const p = stack.pop()!; sum += pss(p, rss.get(p) ?? 0); stack.push(...(kids.get(p) ?? [])) }
  return sum
}

/** The browser's main process: the one whose arguments name this profile's folder. */
function browserPid (profileHint: string): number {
  const rows = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).trim().split('\n')
  const main = rows.map(l => l.trim()).find(l => l.includes(`--user-data-dir=${profileHint}`) && !l.includes('--type='))
  if (main === undefined) throw new Error('cannot find the browser process')
  return Number(main.split(/\s+/)[0])
}

interface TabsFigures { rssBytes: number, connections: number, peers: number, shownMs: number[] }

export async function benchTabs (tabs = Number(process.env.BENCH_TABS ?? 5)): Promise<void> {
  const distDir = requireBuiltApp()
  const dataDir = await mkdtemp(path.join(tmpdir(), 'coffer-bench-tabs-'))
  const d = await startDevnet({ dataDir, distDir, httpPort: 0, rpcPort: null, providers: 1 })
  console.log(`\n${tabs} tabs of the app in Chromium (one profile), against the devnet:`)
  try {
    const run = async (mode: 'shared' | 'tab'): Promise<TabsFigures> => {
      const before = new Set(d.libp2p.getConnections().map(c => c.remotePeer.toString()))
      const b = await launchChromium()
      try {
        const shownMs: number[] = []
        const peers = new Set<string>()
        for (let i = 0; i < tabs; i++) {
          const page = await b.context.newPage()
          const t0 = performance.now()
          await page.goto(`${d.url!}${mode === 'tab' ? '?node=tab' : ''}#chain`)
          await page.waitForFunction(() => Number(document.querySelector('[data-testid=verified-height]')?.textContent) > 0, null, { timeout: 120_000 })
          shownMs.push(performance.now() - t0)
          peers.add((await page.getAttribute('[data-testid=own-node]', 'data-peer'))!)
        }
        // settle: every node has dialled what it will
        await new Promise(resolve => setTimeout(resolve, 3000))
        const rssBytes = treeMemory(browserPid(b.userDataDir))
        const connections = d.libp2p.getConnections().filter(c => !before.has(c.remotePeer.toString())).length
        return { rssBytes, connections, peers: peers.size, shownMs }
      } finally { await b.close() }
    }
    const separate = await run('tab')
    const shared = await run('shared')
    const line = (name: string, f: TabsFigures): void => {
      console.log(`  ${name}: ${f.peers} light node(s), ${f.connections} connection(s) at the devnet, browser memory ${fmt(f.rssBytes / 2 ** 20, 0)} MiB; verified head shown after ${f.shownMs.map(ms => fmt(ms, 0)).join(', ')} ms (tab 1..${tabs})`)
    }
    line(`a node per tab (?node=tab, the reference)`, separate)
    line('one shared node (SharedWorker)', shared)
    const later = (f: TabsFigures): number => f.shownMs.slice(1).reduce((a, b) => a + b, 0) / Math.max(1, f.shownMs.length - 1)
    console.log(`  shared / per tab: memory ${fmt(shared.rssBytes / separate.rssBytes, 2)}x, connections ${fmt(shared.connections / Math.max(1, separate.connections), 2)}x, tabs 2..${tabs} to a verified head ${fmt(later(shared) / later(separate), 2)}x (${fmt(later(shared), 0)} vs ${fmt(later(separate), 0)} ms on average)`)
  } finally {
    await d.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
}
