// Payment channels in the Wallet view: each channel this wallet opened to a provider, its funds, what the
// provider redeemed (ToSend), the vouchers this tab sent and whether it is settling; Settle starts the
// channel's settle delay, Collect (after it) pays the provider what it redeemed and returns the rest. Chain
// figures come from a verified read at the height shown; vouchers sent are this tab's own records.
import { useEffect, useState } from 'react'
import type { Call } from './use-light-client'
import type { ChannelRow } from '../light/retrieval-service'
import { Fil } from './Amount'

export function ChannelsPanel ({ channels, call }: { channels: ChannelRow[] | null, call: Call }): React.JSX.Element {
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState<string | null>(null)
  // a fresh verified read when the view opens; the worker pushes new figures as heads come
  useEffect(() => { void call('channels', {}).catch(() => {}) }, [call])
  const act = async (c: ChannelRow, what: 'settleChannel' | 'collectChannel'): Promise<void> => {
    setBusy(c.key)
    setError(null)
    try { await call(what, { channel: c.channel! }) } catch (err) { setError(`${(err as Error).name}: ${(err as Error).message}`) } finally { setBusy(null) }
  }
  return (
    <div className="card" data-testid="channels">
      <h2>Payment channels</h2>
      {(channels ?? []).length === 0 && <p className="muted small">None yet: a download from a provider that charges opens one.</p>}
      {(channels ?? []).map(c => (
        <div key={c.key} className="channel" data-testid="channel-row" data-channel={c.channel ?? ''} data-state={c.state}
          data-balance={c.balance ?? ''} data-redeemed={c.redeemed ?? ''} data-sent={c.sent} data-vouchers={c.vouchersSent}>
          <div className="row">
            <span className="mono small" title={c.channelId ?? ''}>{c.channel ?? 'being created…'}</span>
            <span className="small">→ <span className="mono">{c.to}</span></span>
            <span className={`badge badge-${c.state === 'open' ? 'synced' : c.state === 'creating' || c.state === 'settling' ? 'syncing' : 'offline'}`} data-testid="channel-state">{c.state}</span>
          </div>
          <div className="row small">
            <span>funds <strong data-testid="channel-balance">{c.balance === null ? '—' : <Fil atto={c.balance} />}</strong></span>
            <span>redeemed <strong data-testid="channel-redeemed">{c.redeemed === null ? '—' : <Fil atto={c.redeemed} />}</strong></span>
            <span>vouchers sent <strong data-testid="channel-sent"><Fil atto={c.sent} /></strong> ({c.vouchersSent})</span>
            {c.available !== null && <span className="muted">unpromised <Fil atto={c.available} /></span>}
          </div>
          <div className="small muted">
            {c.verifiedAt === null ? 'not on chain (yet)' : `✓ verified at height ${c.verifiedAt}`}
            {c.settlingAt !== null && c.settlingAt !== 0 ? ` · settles at epoch ${c.settlingAt}` : ''}
            {c.pending !== null ? ` · message ${c.pending.slice(0, 10)}… pending` : ''}
          </div>
          {c.lanes.length > 0 && (
            <table className="headers small">
              <thead><tr><th>Lane</th><th>Sent</th><th>Redeemed</th><th className="opt">Nonce sent / on chain</th></tr></thead>
              <tbody>
                {c.lanes.map(l => (
                  <tr key={l.lane} data-testid="lane-row" data-lane={l.lane} data-sent={l.sent} data-redeemed={l.redeemed}>
                    <td>{l.lane}</td><td><Fil atto={l.sent} /></td><td><Fil atto={l.redeemed} /></td><td className="opt">{l.sentNonce} / {l.nonce}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <div className="row">
            {c.state === 'open' && <button type="button" className="secondary" data-testid="channel-settle" disabled={busy !== null} onClick={() => { void act(c, 'settleChannel') }}>Settle</button>}
            {c.state === 'settled' && <button type="button" data-testid="channel-collect" disabled={busy !== null} onClick={() => { void act(c, 'collectChannel') }}>Collect</button>}
            {busy === c.key && <span className="small muted">waiting for the message to land…</span>}
          </div>
        </div>
      ))}
      {error !== null && <div className="banner error" role="alert" data-testid="channel-error">{error}</div>}
    </div>
  )
}
