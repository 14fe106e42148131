// One scenario in its own process (run.ts): its rows on a line of their own, `ROWS <json>`, then exit.
import '../../src/net/polyfills'
// the light clients of the liar scenarios keep their chain in IndexedDB, in memory here as in the Node tests
import 'fake-indexeddb/auto'
import { SCENARIOS } from './scenarios'
import { crashedRow } from './table'

const [name, mode] = process.argv.slice(2)
const s = SCENARIOS.find(x => x.name === name)
if (s === undefined) {
  console.error(`no scenario named ${String(name)}: ${SCENARIOS.map(x => x.name).join(', ')}`)
  process.exit(2)
}
const started = performance.now()
// a scenario that throws is a failed row saying what it threw, not a child that exits without one
const rows = await s.run(mode === 'short' ? 'short' : 'long').catch((err: Error) => {
  console.error(err)
  return [crashedRow(s.name, performance.now() - started, `the scenario threw ${err.name}: ${err.message}`)]
})
console.log(`ROWS ${JSON.stringify(rows)}`)
process.exit(0)
