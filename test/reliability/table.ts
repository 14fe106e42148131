// The reliability table (issue 16): a row a scenario, with how often it was tried and what got through. A run
// fails when any row accepted a lie, lost data or crashed (a decoder throwing an engine error counts as a crash:
// bad input must get a named error).
export interface Row {
  scenario: string
  tries: number
  /** Lies taken as truth: a forged header stored, a wrong byte delivered, a bad proof passed. */
  acceptedLies: number
  /** Uncaught or engine exceptions (TypeError, RangeError …), hangs, processes that died on their own. */
  crashes: number
  /** Data a user had and no longer has, or paid for and did not get. */
  dataLost: number
  /** Liars that told a provable lie and were not hung up on (absent where the scenario has no liars). */
  liarsKept?: number
  ms: number
  /** The first failures, one line each, for whoever reads a red row. */
  failures: string[]
  /** Measured figures beyond the columns (the load run's rates, latencies and memory), printed under the table. */
  figures?: string[]
}

/** The row of a scenario that gave none (it threw, hung, or its process died): one crash, saying why. */
export const crashedRow = (scenario: string, ms: number, why: string): Row => ({ scenario, tries: 0, acceptedLies: 0, crashes: 1, dataLost: 0, ms, failures: [why] })

export const rowFailed = (r: Row): boolean => r.acceptedLies > 0 || r.crashes > 0 || r.dataLost > 0 || (r.liarsKept ?? 0) > 0

export function formatTable (rows: Row[]): string {
  const head = ['scenario', 'tries', 'accepted lies', 'crashes', 'data lost', 'liars kept', 'time']
  const cells = rows.map(r => [r.scenario, String(r.tries), String(r.acceptedLies), String(r.crashes), String(r.dataLost), r.liarsKept === undefined ? '-' : String(r.liarsKept), `${(r.ms / 1000).toFixed(1)} s`])
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map(c => c[i]!.length)))
  const line = (c: string[]): string => c.map((x, i) => i === 0 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!)).join('  ')
  const out = [line(head), widths.map(w => '-'.repeat(w)).join('  '), ...cells.map(line)]
  for (const r of rows) for (const f of r.figures ?? []) out.push(`  ${r.scenario}: ${f}`)
  for (const r of rows) for (const f of r.failures.slice(0, 10)) out.push(`  ${r.scenario}: ${f}`)
  return out.join('\n')
}
