// Files view: every file this tab stored, with each copy's deal and its state as of the last verified
// proof (a deal opens its proving timeline), Download (priced first), Preview (verified ranges) and a share link.
import { useState } from 'react'
import type { DealsView, DealView as Deal } from '../light/deal-service'
import type { RetrievalsView } from '../light/retrieval-service'
import type { Call } from './use-light-client'
import { DownloadFile, ShareLink } from './DownloadPanel'
import type { FileRef } from './share-link'
import { mib } from './format'
import { PreviewPanel } from './PreviewPanel'

export function FilesView ({ deals, open, retrievals, call }: { deals: DealsView | null, open: (dealId: number) => void, retrievals: RetrievalsView | null, call: Call }): React.JSX.Element {
  const files = (deals?.uploads ?? []).filter(u => u.stage === 'done' || u.stage === 'sending')
  /** The upload whose preview is open (one at a time: each holds a session, and media keeps reading). */
  const [previewing, setPreviewing] = useState<string | null>(null)
  if (files.length === 0) return <p className="muted">No stored files yet: add one in Upload.</p>
  return (
    <section className="wallet" aria-label="Files">
      {files.map(u => {
        const mine = (deals?.deals ?? []).filter(d => d.uploadId === u.id)
        const dealIds = u.copyViews.filter(c => c.state === 'published' && c.dealId !== undefined).map(c => c.dealId!)
        const ref: FileRef | null = u.root === undefined ? null : { root: u.root, name: u.name, size: u.fileBytes, ...(u.carBytes === undefined ? {} : { carBytes: u.carBytes }), dealIds }
        return (
          <div className="card" key={u.id} data-testid="file-card">
            <div className="row"><strong>{u.name}</strong><span className="muted small">{mib(u.fileBytes)}</span><span className="mono small muted">{u.root}</span></div>
            <table className="headers">
              <thead><tr><th>Deal</th><th>Provider</th><th>Status</th><th>Proofs</th><th className="opt">Epochs</th></tr></thead>
              <tbody>
                {mine.map(d => (
                  <tr key={d.dealId} className="clickable" data-testid="deal-row" onClick={() => { open(d.dealId) }}>
                    <td>{d.dealId}</td><td className="mono">{d.provider}</td><td data-testid="deal-status">{d.status}</td>
                    <td>{summary(d)}</td><td className="opt">{d.startEpoch}–{d.endEpoch}</td>
                  </tr>
                ))}
                {u.copyViews.filter(c => c.dealId === undefined || !mine.some(d => d.dealId === c.dealId)).map(c => (
                  <tr key={c.provider}>
                    <td>{c.dealId ?? '—'}</td><td className="mono">{c.provider}</td>
                    <td>{c.dealId !== undefined && c.state === 'published' ? 'published · reading its state…' : c.state}</td>
                    <td className="small bad">{c.error === undefined ? '' : `${c.error.name}: ${c.error.message}`}</td><td className="opt" />
                  </tr>
                ))}
              </tbody>
            </table>
            {ref !== null && dealIds.length > 0 && (
              <div className="row file-actions">
                <DownloadFile file={ref} retrievals={retrievals} call={call} />
                <button type="button" className="secondary" data-testid="preview-open" onClick={() => { setPreviewing(previewing === u.id ? null : u.id) }}>Preview</button>
                <ShareLink file={ref} />
              </div>
            )}
            {ref !== null && dealIds.length > 0 && previewing === u.id && <PreviewPanel file={ref} call={call} onClose={() => { setPreviewing(null) }} />}
          </div>
        )
      })}
    </section>
  )
}

function summary (d: Deal): string {
  const verified = d.periods.filter(p => p.verdict === 'verified').length
  const faulted = d.periods.filter(p => p.state === 'faulted').length
  return `${verified} verified here${faulted > 0 ? `, ${faulted} faulted` : ''} / ${d.periods.length}`
}
