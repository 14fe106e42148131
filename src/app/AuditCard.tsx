// Spot audits on the Deal view: the Audit now button and schedule, the last audit's figures, recent outcomes in
// words as well as colour, and the marks the proving timeline draws between the chain's periods.
import { useState } from 'react'
import type { Call } from './use-light-client'
import type { DealView as Deal, PeriodView } from '../light/deal-service'
import type { AuditRecord } from '../light/audit-store'

const OUTCOME_WORDS: Record<AuditRecord['outcome'], string> = { passed: 'passed', failed: 'FAILED', unanswered: 'NOT ANSWERED' }
const REASON_WORDS: Record<string, string> = {
  BAD_PATH: 'a returned path does not hash to your piece',
  WRONG_LEAVES: 'it answered for other leaves than asked',
  WRONG_NONCE: 'it sent an old answer (another request\'s nonce)',
  MALFORMED: 'its answer was not a proof',
  LOST: 'it said its copy no longer proves your piece',
  NOT_FOUND: 'it said it does not hold this deal',
  DEADLINE: 'no answer before the deadline',
  UNREACHABLE: 'the provider could not be reached',
  REFUSED: 'the provider refused (busy or broken)'
}
const SCHEDULES: Array<[number, string]> = [[0, 'off'], [10, 'every 10 minutes'], [60, 'hourly'], [360, 'every 6 hours']]

const ms = (x: number | undefined): string => x === undefined ? '—' : x < 10 ? `${x.toFixed(2)} ms` : `${Math.round(x)} ms`

function describe (a: AuditRecord): string {
  return `audit at epoch ${a.epoch}, ${new Date(a.startedAtMs).toLocaleString()}: ${OUTCOME_WORDS[a.outcome]}${a.reason === undefined ? '' : ` (${REASON_WORDS[a.reason] ?? a.reason})`}`
}

/** One audit on the timeline: a narrow mark between period cells, its outcome in its colour, symbol and title. */
export function AuditMark ({ audit }: { audit: AuditRecord }): React.JSX.Element {
  return (
    <span className={`audit-mark audit-${audit.outcome}`} data-testid="audit-mark" data-outcome={audit.outcome} title={describe(audit)} aria-label={describe(audit)}>
      {audit.outcome === 'passed' ? '✓' : audit.outcome === 'failed' ? '✗' : '?'}
    </span>
  )
}

/** The deal's audits that ran at or after `p`'s challenge epoch and before the next period's (all before the first, for `p` null). */
export function auditsAfter (deal: Deal, p: PeriodView | null): AuditRecord[] {
  const audits = deal.audits ?? []
  if (p === null) return audits.filter(a => deal.periods.length === 0 || a.epoch < deal.periods[0]!.challengeEpoch)
  const next = deal.periods[p.index + 1]
  return audits.filter(a => a.epoch >= p.challengeEpoch && (next === undefined || a.epoch < next.challengeEpoch))
}

/** `everyMinutes`: the tab's one audit schedule (DealsView.auditEveryMinutes), the same for every deal. */
export function AuditCard ({ deal, everyMinutes, call }: { deal: Deal, everyMinutes?: number | undefined, call: Call }): React.JSX.Element {
  const [running, setRunning] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const audits = deal.audits ?? []
  const last = audits.at(-1)
  const live = deal.status === 'active'
  const auditNow = async (): Promise<void> => {
    setRunning(true)
    setError(null)
    try { await call('auditNow', { dealId: deal.dealId }) } catch (err) { setError(`${(err as Error).name}: ${(err as Error).message}`) } finally { setRunning(false) }
  }
  const failures = audits.filter(a => a.outcome !== 'passed').length
  return (
    <div className="card detail" data-testid="audit-card">
      <div className="row">
        <div className="label">Spot audits</div>
        <button type="button" data-testid="audit-now" disabled={running || !live} onClick={() => { void auditNow() }}>{running ? 'Auditing…' : 'Audit now'}</button>
        <label className="small">Schedule while this tab is open{' '}
          <select data-testid="audit-schedule" value={everyMinutes ?? 60} onChange={(e) => { void call('setAuditSchedule', { minutes: Number(e.target.value) }).catch((err: Error) => { setError(err.message) }) }}>
            {SCHEDULES.map(([m, words]) => <option key={m} value={m}>{words}</option>)}
          </select>
        </label>
      </div>
      <div className="small muted">Your tab picks leaves of your file at random, asks the provider for them with their Merkle paths, and checks each path against the deal&apos;s piece CID here, between the chain&apos;s own proofs.{live ? '' : ' Only an active deal can be audited.'}</div>
      {last === undefined
        ? <div className="small">No audit yet.</div>
        : (
          <div className={`audit-last audit-${last.outcome}`} data-testid="audit-last" data-outcome={last.outcome}>
            <strong>Last audit {OUTCOME_WORDS[last.outcome]}</strong>{last.reason === undefined ? '' : `: ${REASON_WORDS[last.reason] ?? last.reason}`}
            <dl>
              <dt>When</dt><dd>epoch {last.epoch}, {new Date(last.startedAtMs).toLocaleString()} ({last.trigger === 'manual' ? 'by hand' : 'scheduled'})</dd>
              <dt>Round trip</dt><dd data-testid="audit-round-trip">{ms(last.roundTripMs)}</dd>
              <dt>Verified in WASM</dt><dd data-testid="audit-verify-time">{ms(last.verifyMs)}</dd>
              <dt>Leaves</dt><dd className="mono small" data-testid="audit-leaves">{last.leaves.length}: {last.leaves.join(', ')}</dd>
              {last.message !== undefined && <><dt>Detail</dt><dd className="small">{last.message}</dd></>}
            </dl>
          </div>
          )}
      {failures > 0 && <div className="banner error" data-testid="audit-warning">{failures} of {audits.length} audits of this deal failed or went unanswered: the tab will prefer other providers for new uploads.</div>}
      {error !== null && <div className="banner error">{error}</div>}
    </div>
  )
}
