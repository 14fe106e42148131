// Upload view: pick or drop a file, choose copies, length and (optionally) providers (the market's miners read
// from verified state, each ask verified against its on-chain record, online or offline); every stage runs in
// the light-client worker and is shown here as it goes: packing into a CAR, hashing the piece, proposing
// and escrow, sending to each provider, and the deal on chain.
import { useEffect, useState } from 'react'
import type { Call } from './use-light-client'
import type { DealsView, UploadView as Upload, ProviderView } from '../light/deal-service'
import { mib } from './format'
import { Fil, StoragePrice } from './Amount'

const STAGES = ['packing', 'hashing', 'proposing', 'sending', 'done'] as const

export function UploadView ({ deals, call, provingPeriod }: { deals: DealsView | null, call: Call, provingPeriod: number }): React.JSX.Element {
  const [copies, setCopies] = useState(2)
  const [periods, setPeriods] = useState(20)
  const [chosen, setChosen] = useState<string[]>([])
  const [error, setError] = useState<string | null>(null)
  const [dragging, setDragging] = useState(false)
  const providers: ProviderView[] = deals?.providers ?? []
  const empty = deals !== null && providers.length === 0 && deals.providerErrors.length === 0
  useEffect(() => { void call('providers', {}).catch((err: Error) => { setError(`providers: ${err.name}: ${err.message}`) }) }, [call])

  const start = async (file: File | undefined): Promise<void> => {
    if (file === undefined) return
    setError(null)
    try {
      // the prices shown are the prices accepted: a provider that raises its ask meanwhile is not used
      const shown = providers.filter(p => p.online !== false && (chosen.length === 0 || chosen.includes(p.address))).map(p => BigInt(p.pricePerGiBEpoch))
      const maxPricePerGiBEpoch = shown.length === 0 ? undefined : shown.reduce((a, b) => a > b ? a : b).toString()
      await call('upload', { file, copies, periods, ...(chosen.length > 0 ? { providers: chosen } : {}), ...(maxPricePerGiBEpoch === undefined ? {} : { maxPricePerGiBEpoch }) })
    } catch (err) { setError(`${(err as Error).name}: ${(err as Error).message}`) }
  }

  return (
    <section className="wallet" aria-label="Upload">
      <div
        className={`card form dropzone${dragging ? ' dragging' : ''}`}
        onDragOver={e => { e.preventDefault(); setDragging(true) }}
        onDragLeave={() => { setDragging(false) }}
        onDrop={e => { e.preventDefault(); setDragging(false); void start(e.dataTransfer.files[0]) }}
      >
        <h2>Store a file</h2>
        <p className="muted small">Drop a file here or pick one. It is packed as UnixFS into a CAR, hashed into a Filecoin piece, and sent to storage providers who prove every {provingPeriod} epochs that they still hold it. Nothing is paid until a provider has checked the bytes and published the deal.</p>
        <div className="row">
          <label>Copies <input type="number" min={1} max={10} value={copies} data-testid="upload-copies" onChange={e => { setCopies(Number(e.target.value)) }} /></label>
          <label>Proving periods <input type="number" min={1} max={10000} value={periods} data-testid="upload-periods" onChange={e => { setPeriods(Number(e.target.value)) }} /></label>
        </div>
        <input type="file" data-testid="upload-input" onChange={e => { void start(e.target.files?.[0]); e.target.value = '' }} />
      </div>
      {error !== null && <div className="banner error" role="alert" data-testid="upload-error">{error}</div>}
      {deals?.error !== undefined && <div className="banner error" role="alert">Storage is unavailable in this tab: {deals.error.name}: {deals.error.message}</div>}
      <div className="card">
        <div className="label">Providers (the chain's miners, each ask verified against its on-chain worker key and peer ID; tick to choose by hand, or leave all clear for the cheapest online)</div>
        <table className="headers">
          <thead><tr><th /><th>Provider</th><th title={`Storage price per GiB per 30-day month, counted in ${deals?.epochSeconds == null ? 'Filecoin\'s 30 s epochs (this chain\'s epoch length is not known here)' : `this chain's ${deals.epochSeconds} s epochs`}`}>Price</th><th className="opt">Free</th><th className="opt">Collateral / GiB</th><th>Faults seen</th><th title="Spot audits this tab ran that failed or went unanswered: such a provider is chosen after every clean one">Audits failed</th><th title="Online: its ask query answered and verified. Offline: it did not answer; it is not chosen">Status</th></tr></thead>
          <tbody>
            {providers.map(p => (
              <tr key={p.address} data-testid="provider-row" data-address={p.address} data-online={p.online !== false} className={p.online === false ? 'muted' : undefined}>
                <td><input type="checkbox" disabled={p.online === false} checked={chosen.includes(p.address)} onChange={e => { setChosen(c => e.target.checked ? [...c, p.address] : c.filter(x => x !== p.address)) }} /></td>
                <td className="mono nowrap" title={`${p.peerId ?? ''}${p.seqNo === undefined ? '' : `\nask SeqNo ${p.seqNo}, expires at epoch ${p.expiry ?? '?'}`}${p.addrSource === 'bootstrap' ? '\naddresses from the bootstrap document (none on chain)' : ''}`}>{p.address}</td><td><StoragePrice attoPerGiBEpoch={p.pricePerGiBEpoch} epochSeconds={deals?.epochSeconds} /></td><td className="opt">{mib(p.freeBytes)}</td><td className="opt"><Fil atto={p.collateralPerGiB} /></td><td>{p.faults}</td><td className={(p.failedAudits ?? 0) > 0 ? 'bad' : undefined} data-testid="provider-failed-audits">{p.failedAudits ?? 0}</td>
                <td data-testid="provider-status" className={p.online === false ? 'bad' : 'verified'}>{p.online === false ? 'offline' : '✓ online'}{p.online !== false && p.heardAtMs !== undefined && <span className="muted small" title="its signed ask was announced on gossip and verified against its on-chain record"> · announced</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {deals?.providerErrors.map(e => <div key={e.provider} className="bad small">{e.provider}: {e.error}</div>)}
        {empty && <div className="muted small">Asking providers for their terms…</div>}
      </div>
      {deals?.escrow != null && (
        <div className="card row" data-testid="escrow">
          <div>
            <div className="label">Market escrow of {deals.escrow.address}</div>
            <div><Fil atto={deals.escrow.escrow} /> <span className="muted small">(<Fil atto={deals.escrow.locked} /> locked by live deals)</span> <span className="verified">✓ verified at height {deals.escrow.height}</span></div>
          </div>
          <button type="button" className="secondary" disabled={BigInt(deals.escrow.escrow) <= BigInt(deals.escrow.locked)} onClick={() => { void call('withdrawEscrow', {}).catch((err: Error) => { setError(`${err.name}: ${err.message}`) }) }}>Withdraw free escrow</button>
        </div>
      )}
      {deals?.uploads.map(u => <UploadCard key={u.id} u={u} />)}
    </section>
  )
}

function UploadCard ({ u }: { u: Upload }): React.JSX.Element {
  const stageIndex = STAGES.indexOf(u.stage as typeof STAGES[number])
  return (
    <div className="card upload" data-testid="upload-card" data-stage={u.stage}>
      <div className="row"><strong>{u.name}</strong><span className="muted small">{mib(u.fileBytes)}</span><span className={`stage stage-${u.stage}`} data-testid="upload-stage">{u.stage}</span></div>
      <Bar label="Packing (UnixFS → CAR)" value={u.packedBytes ?? 0} max={u.fileBytes} done={stageIndex > 0} />
      {/* hashed while packing: until the CAR's size is known, the file's stands in for it (the CAR adds well under 1 %) */}
      <Bar label="Hashing the piece (WASM pool, as it packs)" value={u.hashedBytes ?? 0} max={u.carBytes ?? u.fileBytes} done={stageIndex > 1} />
      {/* the CAR's bytes sent to the likely providers while it was packed (before any proposal): bars while
          packing, then what each took, since the deal stream sends only the rest */}
      {u.stages?.map(st => stageIndex < 2
        ? <Bar key={st.provider} label={`Staging with ${st.provider} while packing`} value={u.staged?.[st.provider] ?? 0} max={u.carBytes ?? u.fileBytes} done={false} testid="stage-progress" />
        : <div key={st.provider} className="small muted" data-testid="staged" data-provider={st.provider} data-bytes={u.staged?.[st.provider] ?? 0} data-of={u.carBytes}>{mib(u.staged?.[st.provider] ?? 0)} went to {st.provider} while packing, before the proposal</div>)}
      {u.copyViews.map(c => (
        <div key={c.provider} data-testid="copy" data-start={c.startEpoch} data-state={c.state}>
          <Bar label={`Sending to ${c.provider}${c.bytesPerSec !== undefined && c.state === 'sending' ? ` · ${mib(c.bytesPerSec)}/s measured` : ''}${c.dealId !== undefined ? ` · deal ${c.dealId} published` : ''}${c.error !== undefined ? ` · ${c.error.name}: ${c.error.message}` : ''}`} value={c.held} max={c.total} done={c.state === 'published'} failed={c.state === 'failed'} testid="send-progress" />
          {c.lastReplan !== undefined && (
            <div className="small muted" data-testid="replanned" data-replans={c.replans}>
              Start moved to epoch {c.lastReplan.startEpoch} ({c.lastReplan.reason === 'slow' ? `the transfer measured ${mib(c.lastReplan.bytesPerSec)}/s, slower than planned` : 'the provider needed a later start'}; a new proposal for the same piece, no byte sent twice{c.replans !== undefined && c.replans > 1 ? `; ${c.replans} times` : ''})
            </div>
          )}
        </div>
      ))}
      {u.pieceCid !== undefined && <div className="mono small muted">piece {u.pieceCid} · payload root {u.root}</div>}
      {u.stage === 'duplicate' && <div className="small">Already stored (same piece as an earlier upload): nothing was paid again.</div>}
      {u.waiting !== undefined && <div className="small" data-testid="upload-waiting">Waiting: {u.waiting}</div>}
      {u.error !== undefined && <div className="bad small" role="alert">{u.error.name}: {u.error.message}</div>}
    </div>
  )
}

function Bar ({ label, value, max, done, failed, testid }: { label: string, value: number, max: number, done: boolean, failed?: boolean, testid?: string }): React.JSX.Element {
  return (
    <div className={`bar${failed === true ? ' failed' : ''}`} data-testid={testid}>
      <div className="small muted">{label} {done ? '✓' : max > 0 ? `${mib(value)} / ${mib(max)}` : ''}</div>
      <progress max={Math.max(1, max)} value={done ? Math.max(1, max) : value} />
    </div>
  )
}
