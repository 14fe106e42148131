// Deal view: one cell per proving period (proven and verified in this tab, faulted, open or pending), the
// payments and refunds the chain made for the deal, how likely the proofs so far were to catch a loss, and
// a proof's detail drawn as trees (ProofTree): each challenged leaf's path to the piece root, as checked here.
import { Fragment, useEffect, useRef, useState } from 'react'
import type { Call } from './use-light-client'
import { AuditCard, AuditMark, auditsAfter } from './AuditCard'
import type { DealView as Deal, ProofDetail, PeriodView } from '../light/deal-service'
import { percent } from './format'
import { Fil, DealPrice } from './Amount'
import { ProofTree } from './ProofTree'

/** `auditEveryMinutes` and `epochSeconds` are the tab's and the chain's, the same for every deal (DealsView). */
export function DealView ({ deal, auditEveryMinutes, epochSeconds, call, close }: { deal: Deal, auditEveryMinutes?: number | undefined, epochSeconds?: number | undefined, call: Call, close: () => void }): React.JSX.Element {
  const [detail, setDetail] = useState<ProofDetail | null>(null)
  const [error, setError] = useState<string | null>(null)
  /** The cell last clicked: a slower answer for a cell (or deal) no longer selected is dropped. */
  const selected = useRef<string | null>(null)
  useEffect(() => { setDetail(null); setError(null); selected.current = null }, [deal.dealId])
  const show = async (p: PeriodView): Promise<void> => {
    const key = `${deal.dealId}/${p.index}`
    selected.current = key
    setError(null)
    setDetail(null)
    if (p.state !== 'proven') return
    try {
      const d = await call('proofDetail', { dealId: deal.dealId, period: p.index })
      if (selected.current === key) setDetail(d)
    } catch (err) { if (selected.current === key) setError((err as Error).message) }
  }
  return (
    <section className="wallet" aria-label={`Deal ${deal.dealId}`} data-testid="deal-view">
      <div className="card detail">
        <div className="row"><button type="button" className="small-btn" onClick={close}>← Files</button><h2>Deal {deal.dealId}: {deal.name}</h2><span className={`stage stage-${deal.status}`} data-testid="deal-view-status">{deal.status}</span></div>
        <dl>
          <dt>Provider</dt><dd className="mono">{deal.provider}</dd>
          <dt>Piece</dt><dd className="mono small">{deal.pieceCid}</dd>
          <dt>Label (payload root)</dt><dd className="mono small">{deal.label}</dd>
          <dt>Epochs</dt><dd>{deal.startEpoch} → {deal.endEpoch}</dd>
          <dt>Price</dt><dd data-testid="deal-price"><DealPrice attoPerEpoch={deal.pricePerEpoch} pieceBytes={deal.pieceSize} epochSeconds={epochSeconds} /> <span className="muted small">(<Fil atto={deal.pricePerEpoch} /> per epoch)</span></dd>
          <dt>Provider collateral</dt><dd><Fil atto={deal.providerCollateral} /></dd>
          {deal.verifiedAt !== null && <><dt>State proof</dt><dd className="verified small">✓ verified at height {deal.verifiedAt.height}</dd></>}
        </dl>
      </div>
      <div className="card">
        <div className="label">Proving timeline</div>
        <div className="timeline">
          {auditsAfter(deal, null).map(a => <AuditMark key={a.key} audit={a} />)}
          {deal.periods.map(p => (
            <Fragment key={p.index}>
              <button
                type="button" className={`cell cell-${cellState(p)}`} data-testid="proof-cell" data-state={cellState(p)}
                title={`period ${p.index} (challenge epoch ${p.challengeEpoch}): ${cellState(p)}`} onClick={() => { void show(p) }}
              >{p.index}</button>
              {/* this tab's spot audits run during the period, drawn after its cell by the epoch they ran at */}
              {auditsAfter(deal, p).map(a => <AuditMark key={a.key} audit={a} />)}
            </Fragment>
          ))}
        </div>
        <div className="small muted">■ proven and verified here · ■ faulted · ■ proof failed this tab's check · □ open / pending · ✓ audit passed · ✗ audit failed · ? audit not answered</div>
      </div>
      <AuditCard deal={deal} everyMinutes={auditEveryMinutes} call={call} />
      <div className="card detail">
        <div className="label">Payments</div>
        <dl>
          <dt>Paid to the provider</dt><dd data-testid="deal-paid"><Fil atto={deal.paid} /></dd>
          <dt>Penalties paid to you</dt><dd data-testid="deal-penalties"><Fil atto={deal.penalties} /></dd>
          {deal.status === 'slashed' && <><dt>Refunded (unpaid fee)</dt><dd><Fil atto={deal.refunded} /></dd><dt>Provider collateral burnt</dt><dd><Fil atto={deal.burnt} /></dd></>}
        </dl>
        <table className="headers small">
          <thead><tr><th>Period</th><th>Proof epoch</th><th>Paid</th><th>Penalty</th></tr></thead>
          <tbody>{deal.periods.filter(p => p.state === 'proven' || p.state === 'faulted').map(p => (
            <tr key={p.index}><td>{p.index}</td><td>{p.submittedEpoch ?? '—'}</td><td>{p.settled ? <Fil atto={p.paid} /> : 'at the period\'s end'}</td><td>{p.settled ? <Fil atto={p.penalty} /> : '—'}</td></tr>
          ))}</tbody>
        </table>
      </div>
      <div className="card">
        <div className="label">Durability</div>
        <div data-testid="durability">Had 1 % of the file&apos;s bytes been lost, the {deal.durability.challengesVerified} challenges verified here would have caught it with probability <strong>{percent(deal.durability.caught)}</strong>.</div>
        <div className="small muted">Challenges fall anywhere in the padded piece; {percent(deal.durability.payloadShare)} of it is the file, the rest zero padding.</div>
      </div>
      {deal.error !== undefined && <div className="banner error">Could not refresh this deal: {deal.error.name}: {deal.error.message}</div>}
      {error !== null && <div className="banner error">{error}</div>}
      {detail !== null && detail.dealId === deal.dealId && <ProofTree detail={detail} />}
    </section>
  )
}

function cellState (p: PeriodView): string {
  if (p.state === 'proven') return p.verdict === 'verified' ? 'verified' : p.verdict === 'bad' ? 'bad' : 'proven'
  return p.state
}
