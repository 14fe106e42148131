// Getting a file back: the price first (each provider's verified retrieval ask × the file's size), then the
// download as the worker runs it (bytes verified, FIL paid, rate, the provider serving, each provider dropped
// and why), Pause / Resume / Cancel, and the finished file (saved where the user picked, or a download link).
// Also the share link's box (the link itself: share-link.ts) and the "Get file" card a link opens: nothing in a
// link is trusted; the worker checks each deal by a verified read.
import { useEffect, useState } from 'react'
import type { Call } from './use-light-client'
import type { DownloadQuote, DownloadView, QuoteProgress, RetrievalsView } from '../light/retrieval-service'
import { fil, filFull, mib } from './format'
import { Fil, RetrievalPrice } from './Amount'
import { useAction } from './use-action'
import { shareLink, type FileRef } from './share-link'

const rate = (bps: number | null): string => bps === null ? '' : `${(bps / 2 ** 20).toFixed(1)} MiB/s`
type SavePicker = (o: { suggestedName: string }) => Promise<FileSystemFileHandle>
const picker = (): SavePicker | undefined => {
  const p = (globalThis as { showSaveFilePicker?: unknown }).showSaveFilePicker
  return typeof p === 'function' ? p.bind(globalThis) as SavePicker : undefined
}

/** The finished file from OPFS, as a link the browser saves (the File stays disk-backed; no bytes copied here). */
function SavedLink ({ d, call }: { d: DownloadView, call: Call }): React.JSX.Element {
  const [url, setUrl] = useState<string | null>(null)
  const [error, setError] = useState<string | null>(null)
  useEffect(() => {
    let made: string | null = null
    call('downloadedFile', { id: d.id }).then(f => { made = URL.createObjectURL(f); setUrl(made) }, (err: Error) => { setError(`${err.name}: ${err.message}`) })
    return () => { if (made !== null) URL.revokeObjectURL(made) }
  }, [call, d.id])
  if (error !== null) return <span className="bad small">{error}</span>
  if (url === null) return <span className="muted small">opening the file…</span>
  return <a className="button" href={url} download={d.name} data-testid="download-link">Save {d.name}</a>
}

/** Asks again for write permission on the picked file (a click is needed); the handle is fetched ahead so the click calls the browser at once. */
function AllowSaving ({ d, call }: { d: DownloadView, call: Call }): React.JSX.Element {
  const [handle, setHandle] = useState<FileSystemFileHandle | null>(null)
  const [error, busy, run] = useAction()
  useEffect(() => { void call('downloadHandle', { id: d.id }).then(setHandle, () => {}) }, [call, d.id])
  return (
    <div className="row">
      <button type="button" data-testid="download-allow" disabled={busy || handle === null} onClick={() => {
        void run(async () => {
          const h = handle as unknown as { requestPermission: (o: { mode: 'readwrite' }) => Promise<PermissionState> }
          if (await h.requestPermission({ mode: 'readwrite' }) !== 'granted') throw new Error('permission to write the file was not given')
          await call('resumeDownload', { id: d.id })
        })
      }}>Allow saving to {d.name} and resume</button>
      {error !== null && <span className="bad small">{error}</span>}
    </div>
  )
}

export function DownloadProgress ({ d, call }: { d: DownloadView, call: Call }): React.JSX.Element {
  const [error, busy, run] = useAction()
  const running = d.stage === 'quoting' || d.stage === 'paying' || d.stage === 'fetching'
  return (
    <div className="download" data-testid="download-progress" data-stage={d.stage} data-id={d.id}>
      <div className="row">
        <strong data-testid="download-stage">{d.stage === 'paying' ? 'opening the payment channel' : d.stage}</strong>
        {d.serving !== undefined && running && <span className="small">from <span className="mono" data-testid="download-provider">{d.serving}</span></span>}
        {d.bytesPerSec !== null && <span className="small muted" data-testid="download-rate">{rate(d.bytesPerSec)}</span>}
      </div>
      <div className="bar"><progress max={Math.max(1, d.totalBytes)} value={d.verifiedBytes} /></div>
      <div className="row small">
        <span data-testid="download-bytes" data-verified={d.verifiedBytes} data-total={d.totalBytes}>{mib(d.verifiedBytes)} of {mib(d.totalBytes)} verified</span>
        <span data-testid="download-paid" data-atto={d.paid}><Fil atto={d.paid} /> paid</span>
        {d.quoted !== undefined && <span className="muted" data-testid="download-cap" data-atto={d.quoted.price}>(you agreed to at most <Fil atto={d.quoted.price} />)</span>}
      </div>
      {d.failovers.map(f => (
        <div key={f.provider} className="small bad" data-testid="download-failover" data-provider={f.provider} data-error={f.name}>
          {f.provider} dropped at byte {f.atOffset}: {f.name}{f.code === null ? '' : ` ${f.code}`}: {f.message}{f.lied ? ' (sent bad data: not asked again)' : ''}
        </div>
      ))}
      {d.waiting !== undefined && <div className="small" data-testid="download-waiting">Waiting: {d.waiting}</div>}
      {d.needsPermission === true && <AllowSaving d={d} call={call} />}
      {d.error !== undefined && <div className="small bad" data-testid="download-error">{d.error.name}: {d.error.message}</div>}
      <div className="row">
        {running && <button type="button" className="secondary" data-testid="download-pause" disabled={busy} onClick={() => { void run(async () => await call('pauseDownload', { id: d.id })) }}>Pause</button>}
        {(d.stage === 'paused' || d.stage === 'failed') && d.needsPermission !== true && <button type="button" data-testid="download-resume" disabled={busy} onClick={() => { void run(async () => await call('resumeDownload', { id: d.id })) }}>Resume</button>}
        {(running || d.stage === 'paused' || d.stage === 'failed') && <button type="button" className="secondary" data-testid="download-cancel" disabled={busy} onClick={() => { void run(async () => await call('cancelDownload', { id: d.id })) }}>Cancel</button>}
        {d.stage === 'done' && d.sink === 'opfs' && <SavedLink d={d} call={call} />}
        {d.stage === 'done' && d.sink === 'picked' && <span className="small" data-testid="download-saved">Saved to {d.name}</span>}
      </div>
      {error !== null && <div className="small bad" role="alert">{error}</div>}
    </div>
  )
}

const CHECK_LABEL: Record<QuoteProgress['kind'], string> = { deal: 'reading deal', ask: 'asking', miner: 'checking the miner record of' }

/**
 * The quote at work: each check (a deal's verified read, a provider's signed ask) as it runs and how long it took.
 * A quote is a few round trips and proofs, seconds on a laptop and much longer on a slow phone or a busy node:
 * the user sees it working, and where it waits if it does.
 */
function QuotePending ({ checks }: { checks: QuoteProgress[] }): React.JSX.Element {
  const ended = checks.filter(c => c.state !== 'running').length
  return (
    <div className="quote small" data-testid="quote-pending" data-checks={checks.length} data-ended={ended}>
      <span className="muted">Finding who holds this file and at what price{checks.length === 0 ? '…' : ':'}</span>
      {checks.map(c => (
        <div key={c.key} data-testid="quote-check" data-key={c.key} data-state={c.state} data-took-ms={c.tookMs}>
          {CHECK_LABEL[c.kind]} {c.kind === 'deal' ? String(c.dealId) : c.provider}
          {c.state === 'running' ? '…' : c.state === 'done' ? ` ✓ (${(c.tookMs! / 1000).toFixed(1)} s)` : ` ✗ (${(c.tookMs! / 1000).toFixed(1)} s)`}
        </div>
      ))}
    </div>
  )
}

/** Download for one file: its price first, then the download itself (the newest one for that root). */
export function DownloadFile ({ file, retrievals, call }: { file: FileRef, retrievals: RetrievalsView | null, call: Call }): React.JSX.Element {
  const [quote, setQuote] = useState<DownloadQuote | null>(null)
  /** The running quote's checks, by key, in the order they began. */
  const [checks, setChecks] = useState<QuoteProgress[] | null>(null)
  const [error, busy, run] = useAction()
  const current = retrievals?.downloads.find(d => d.root === file.root && d.stage !== 'cancelled')
  const best = quote?.providers[0]
  // the most the download may cost: the dearest provider quoted, which a failover may have to finish it from. It is
  // the cap the worker is given (a provider asking more is never used), so it is the figure the user agrees to.
  const most = quote === null ? undefined : quote.providers.reduce((m, p) => BigInt(p.price) > m ? BigInt(p.price) : m, 0n)

  const start = async (): Promise<void> => {
    if (quote === null || best === undefined) return
    // the picker needs this click's user activation: it is called before any other await
    const pick = picker()
    const saveHandle = pick === undefined ? undefined : await pick({ suggestedName: file.name })
    const maxPrice = (most ?? 0n).toString()
    await call('download', { ...file, ...(saveHandle === undefined ? {} : { saveHandle }), maxPrice })
    setQuote(null)
  }

  return (
    <div className="download-box" data-testid="download-box">
      {current !== undefined && <DownloadProgress d={current} call={call} />}
      {/* a failed download has Resume (its verified bytes and lanes kept): a new one would fetch and pay for them again */}
      {(current === undefined || current.stage === 'done') && quote === null && (
        <button type="button" data-testid="download-start" disabled={busy || file.dealIds.length === 0}
          onClick={() => {
            void run(async () => {
              setChecks([])
              try {
                const q = await call('quoteDownload', { root: file.root, size: file.size, ...(file.carBytes === undefined ? {} : { carBytes: file.carBytes }), dealIds: file.dealIds }, {
                  onProgress: (p) => { setChecks(cs => cs === null ? cs : cs.some(c => c.key === p.key) ? cs.map(c => c.key === p.key ? p : c) : [...cs, p]) }
                })
                setQuote(q)
              } finally { setChecks(null) }
            })
          }}>
          {busy ? 'Finding providers…' : current === undefined ? 'Download' : 'Download again'}
        </button>
      )}
      {checks !== null && quote === null && <QuotePending checks={checks} />}
      {quote !== null && (
        <div className="quote" data-testid="download-quote">
          {quote.providers.length === 0
            ? <p className="bad small">No provider verifiably holds this file.</p>
            : (
              <table className="headers">
                <thead><tr><th>Provider</th><th>Price</th><th className="opt">Per GiB</th><th className="opt">Pays every</th></tr></thead>
                <tbody>
                  {quote.providers.map(p => (
                    <tr key={p.provider} data-testid="quote-row" data-provider={p.provider} data-price={p.price}>
                      <td className="mono">{p.provider}</td><td>{p.price === '0' ? 'free' : <Fil atto={p.price} />}</td>
                      <td className="opt"><RetrievalPrice attoPerGiB={p.pricePerGiB} /></td><td className="opt">{mib(p.paymentInterval)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              )}
          {quote.refused.map(r => <div key={r.dealId} className="small muted" data-testid="quote-refused">deal {r.dealId}{r.provider === undefined ? '' : ` (${r.provider})`}: {r.reason}</div>)}
          <p className="small muted">
            Priced on {mib(quote.bytes)}: you pay as verified blocks arrive, one payment interval at a time, through a payment channel
            {best !== undefined && best.price !== '0' ? ' (opened or topped up from your wallet first)' : ''}.
            {best !== undefined && most !== undefined && most > BigInt(best.price)
              ? ` The cheapest provider is tried first (${best.price === '0' ? 'free' : fil(best.price)}); if it fails partway, a dearer one finishes the file, so it may cost up to ${fil(most.toString())}, never more.`
              : ''}
            {picker() === undefined ? ' The file is kept in this browser\'s storage, then offered as a download.' : ' You choose where the file is saved.'}
          </p>
          <div className="row">
            <button type="button" data-testid="download-confirm" disabled={busy || best === undefined} onClick={() => { void run(start) }} {...(most === undefined ? {} : { title: `at most ${filFull(most)}` })}>
              {best === undefined || most === undefined ? 'Download' : most === 0n ? 'Download (free)' : most > BigInt(best.price) ? `Download: at most ${fil(most.toString())}` : `Download for ${fil(most.toString())}`}
            </button>
            <button type="button" className="secondary" onClick={() => { setQuote(null) }}>Not now</button>
          </div>
        </div>
      )}
      {error !== null && <div className="small bad" role="alert" data-testid="download-call-error">{error}</div>}
    </div>
  )
}

/** The share link of a stored file, shown to copy. */
export function ShareLink ({ file }: { file: FileRef }): React.JSX.Element {
  const [shown, setShown] = useState(false)
  const link = shareLink(file)
  if (!shown) return <button type="button" className="secondary" data-testid="share-link" disabled={file.dealIds.length === 0} onClick={() => { setShown(true) }}>Share link</button>
  return (
    <div className="row share">
      <input readOnly className="mono small" data-testid="share-url" value={link} onFocus={e => { e.target.select() }} />
      <button type="button" className="small-btn" onClick={() => { void navigator.clipboard?.writeText(link) }}>Copy</button>
    </div>
  )
}

/** What a share link opens in any browser: the file's claimed name and size, then the same Download flow. */
export function GetFileView ({ file, retrievals, call, hasWallet }: { file: FileRef, retrievals: RetrievalsView | null, call: Call, hasWallet: boolean }): React.JSX.Element {
  return (
    <section className="wallet" aria-label="Get file">
      <div className="card" data-testid="get-file">
        <h2>Get file</h2>
        <div className="row"><strong data-testid="get-name">{file.name}</strong><span className="muted small">{mib(file.size)}</span></div>
        <div className="mono small muted" data-testid="get-root">{file.root}</div>
        <p className="small muted">
          A link says where to look, nothing more: each of its deals ({file.dealIds.join(', ') || 'none'}) is read from the chain
          with a state proof, and only a provider whose deal stores this root is asked. Every block is checked against its CID.
          {hasWallet ? '' : ' A provider that charges needs a funded wallet here (Wallet view); a free one needs none.'}
        </p>
        {retrievals?.error !== undefined && <div className="banner error" role="alert">Downloads are unavailable in this tab: {retrievals.error.message}</div>}
        <DownloadFile file={file} retrievals={retrievals} call={call} />
      </div>
    </section>
  )
}
