// `npm run reliability` (issue 16): every scenario in its long form, one table, exit 1 when any row accepted a
// lie, lost data or crashed. Each scenario runs in a child process with a deadline, so one that hangs is a
// failed row with its name, never a run that waits forever. RELIABILITY_ONLY=name,name runs a few, in that order;
// RELIABILITY_SHORT=1 the short forms `npm test` runs; RELIABILITY_JOBS=N runs N scenarios at once (most of them
// wait on timeouts, not the CPU: the long form of all of them takes ~3.5 h one at a time). A scenario marked
// `alone` (the load run, which measures rates and latencies) runs first, with nothing beside it.
import { execFileSync, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { SCENARIOS, type Scenario } from './scenarios'
import { crashedRow, formatTable, rowFailed, type Row } from './table'

const short = process.env.RELIABILITY_SHORT === '1'
const only = process.env.RELIABILITY_ONLY?.split(',').map(s => s.trim()).filter(s => s !== '')
const jobs = Math.max(1, Number.parseInt(process.env.RELIABILITY_JOBS ?? '1', 10) || 1)

async function runChild (name: string, deadlineMs: number): Promise<Row[]> {
  const started = performance.now()
  const child = spawn(process.execPath, ['--experimental-websocket', '--import', 'tsx', fileURLToPath(new URL('./scenario-child.ts', import.meta.url)), name, short ? 'short' : 'long'], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  let partial = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (d: string) => {
    out += d
    // whole lines only, named when several scenarios share the terminal
    const lines = (partial + d).split('\n')
    partial = lines.pop() ?? ''
    for (const l of lines) if (!l.startsWith('ROWS ')) console.log(jobs > 1 ? `[${name}] ${l}` : l)
  })
  let timedOut = false
  const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL') }, deadlineMs)
  const code = await new Promise<number | null>(resolve => child.on('exit', (c) => resolve(c)))
  clearTimeout(timer)
  const line = out.split('\n').find(l => l.startsWith('ROWS '))
  if (line !== undefined) return JSON.parse(line.slice(5)) as Row[]
  const why = timedOut ? `killed after its deadline of ${Math.round(deadlineMs / 1000)} s (a hang)` : code === null ? `killed by ${String(child.signalCode)}, not by this run` : `exited ${code} without a result`
  return [crashedRow(name, performance.now() - started, why)]
}

async function runScenario (s: Scenario): Promise<Row[]> {
  console.log(`reliability: ${s.name} (${short ? 'short' : 'long'}) started`)
  const got = await runChild(s.name, short ? s.shortDeadlineMs : s.longDeadlineMs)
  // each row as it is known: a long run cut short still shows what it measured
  for (const r of got) console.log(`reliability: ${s.name}: ${r.tries} tries, ${r.acceptedLies} lies accepted, ${r.crashes} crashes, ${r.dataLost} lost${r.liarsKept === undefined ? '' : `, ${r.liarsKept} liars kept`}, ${(r.ms / 1000).toFixed(1)} s`)
  return got
}

function commitLine (): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim() !== ''
    return `${head}${dirty ? ' (with uncommitted changes)' : ''}`
  } catch { return 'unknown (not a git checkout)' }
}

// in RELIABILITY_ONLY's order when given (the longest first makes a pooled run shortest); a name that is no
// scenario is an error, not a run that silently skips it
const unknown = (only ?? []).filter(n => !SCENARIOS.some(s => s.name === n))
if (unknown.length > 0) {
  console.error(`reliability: no scenario named ${unknown.join(', ')}; the scenarios: ${SCENARIOS.map(s => s.name).join(', ')}`)
  process.exit(2)
}
const chosen = only === undefined ? SCENARIOS : only.map(n => SCENARIOS.find(s => s.name === n)!)
const started = performance.now()
console.log(`reliability: commit ${commitLine()}, ${short ? 'short' : 'long'} forms, ${chosen.length} scenario(s), ${jobs} at a time, started ${new Date().toISOString()}`)
const results = new Map<string, Row[]>()
// each `alone` one first, by itself (the load run: the one most likely to fail, so a long run says so early);
// then the others, `jobs` at a time
for (const s of chosen.filter(s => s.alone === true)) results.set(s.name, await runScenario(s))
const pooled = chosen.filter(s => s.alone !== true)
let next = 0
await Promise.all(Array.from({ length: Math.min(jobs, pooled.length) }, async () => {
  while (next < pooled.length) {
    const s = pooled[next++]!
    results.set(s.name, await runScenario(s))
  }
}))
// the table in the scenarios' own order, whatever order they ran in
const rows = SCENARIOS.flatMap(s => results.get(s.name) ?? [])
console.log('\n' + formatTable(rows))
console.log(`\nreliability: ${((performance.now() - started) / 60_000).toFixed(1)} min in all, ${jobs} scenario(s) at a time`)
const failed = rows.filter(rowFailed)
console.log(failed.length === 0 ? 'reliability: nothing lost, no lie accepted, no crash' : `reliability: ${failed.length} scenario(s) failed: ${failed.map(r => r.scenario).join(', ')}`)
process.exit(failed.length === 0 ? 0 : 1)
