// `npm run reliability` (issue 16): every scenario in its long form, one table, exit 1 when any row accepted a
// lie, lost data or crashed. Each scenario runs in a child process with a deadline, so one that hangs is a
// failed row with its name, never a run that waits forever. RELIABILITY_ONLY=name,name runs a few;
// RELIABILITY_SHORT=1 the short forms `npm test` runs.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { SCENARIOS } from './scenarios'
import { formatTable, rowFailed, type Row } from './table'

const short = process.env.RELIABILITY_SHORT === '1'
const only = process.env.RELIABILITY_ONLY?.split(',').map(s => s.trim()).filter(s => s !== '')

async function runChild (name: string, deadlineMs: number): Promise<Row[]> {
  const started = performance.now()
  const child = spawn(process.execPath, ['--experimental-websocket', '--import', 'tsx', fileURLToPath(new URL('./scenario-child.ts', import.meta.url)), name, short ? 'short' : 'long'], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (d: string) => { out += d; process.stdout.write(d.split('\n').filter(l => !l.startsWith('ROWS ')).join('\n')) })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, deadlineMs)
  const code = await new Promise<number | null>(resolve => child.on('exit', (c) => resolve(c)))
  clearTimeout(timer)
  const line = out.split('\n').find(l => l.startsWith('ROWS '))
  if (line !== undefined) return JSON.parse(line.slice(5)) as Row[]
  const why = code === null ? `killed after its deadline of ${Math.round(deadlineMs / 1000)} s (a hang)` : `exited ${code} without a result`
  return [{ scenario: name, tries: 0, acceptedLies: 0, crashes: 1, dataLost: 0, ms: performance.now() - started, failures: [why] }]
}

const rows: Row[] = []
for (const s of SCENARIOS) {
  if (only !== undefined && !only.includes(s.name)) continue
  console.log(`reliability: ${s.name} (${short ? 'short' : 'long'})`)
  const got = await runChild(s.name, short ? s.shortDeadlineMs : s.longDeadlineMs)
  rows.push(...got)
  // each row as it is known: a long run cut short still shows what it measured
  for (const r of got) console.log(`reliability: ${s.name}: ${r.tries} tries, ${r.acceptedLies} lies accepted, ${r.crashes} crashes, ${r.dataLost} lost${r.liarsKept === undefined ? '' : `, ${r.liarsKept} liars kept`}, ${(r.ms / 1000).toFixed(1)} s`)
}
console.log('\n' + formatTable(rows))
const failed = rows.filter(rowFailed)
console.log(failed.length === 0 ? '\nreliability: nothing lost, no lie accepted, no crash' : `\nreliability: ${failed.length} scenario(s) failed: ${failed.map(r => r.scenario).join(', ')}`)
process.exit(failed.length === 0 ? 0 : 1)
