// Wallet view: keys (kept encrypted in the worker), balances shown only once verified against a header,
// the devnet faucet, a send form, and the history of sent messages from pending to their receipts.
import { useState } from 'react'
import type { WalletView, BalanceView, HistoryEntry } from '../light/wallet-service'
import type { Call } from './use-light-client'
import { useAction } from './use-action'
import { Fil } from './Amount'

/** core's TRANSFER_GAS_LIMIT × TRANSFER_GAS_FEE_CAP (1,250,000 × 300), written out: importing apply-messages would pull the chain's state code into the page. */
const SEND_FEE_ATTO = 375_000_000n

const shortCid = (cid: string): string => `${cid.slice(0, 10)}…${cid.slice(-6)}`
const shortAddr = (a: string): string => a.length > 20 ? `${a.slice(0, 10)}…${a.slice(-6)}` : a

function Balance ({ b }: { b: BalanceView | undefined }): React.JSX.Element {
  if (b === undefined) return <span className="muted">checking…</span>
  if (!b.verified) return <span className="bad" data-testid="balance-error">not verified: {b.error.message}</span>
  return (
    <span data-testid="balance" data-address={b.address} data-atto={b.attoFil} data-verified="true">
      <strong className="amount"><Fil atto={b.attoFil} /></strong>{' '}
      <span className="verified" title={`state proof of ${b.proofBytes} bytes checked in ${b.checkMs.toFixed(1)} ms against header ${b.headerCid}`}>
        ✓ verified at height {b.height}
      </span>
      {!b.exists && <span className="muted"> (no account yet)</span>}
    </span>
  )
}

function Setup ({ call }: { call: Call }): React.JSX.Element {
  const [pass, setPass] = useState('')
  const [pass2, setPass2] = useState('')
  const [hex, setHex] = useState('')
  const [error, busy, run] = useAction()
  return (
    <div className="card form">
      <h2>Create a wallet</h2>
      <p className="muted small">Keys stay inside the light-client worker, encrypted in this browser with your passphrase (PBKDF2-SHA-256, AES-GCM).</p>
      <label>Passphrase <input type="password" data-testid="new-passphrase" value={pass} onChange={e => setPass(e.target.value)} autoComplete="new-password" /></label>
      <label>Repeat <input type="password" data-testid="new-passphrase2" value={pass2} onChange={e => setPass2(e.target.value)} autoComplete="new-password" /></label>
      <div className="row">
        <button type="button" data-testid="create-wallet" disabled={busy || pass.length < 8 || pass !== pass2}
          onClick={() => { void run(async () => await call('create', { passphrase: pass })) }}>Create secp256k1 key</button>
        <span className="muted small">{pass.length > 0 && pass.length < 8 ? 'at least 8 characters' : pass !== pass2 ? 'passphrases differ' : ''}</span>
      </div>
      <h2>…or import a Lotus key</h2>
      <label>Key export (hex from <code>lotus wallet export</code>) <textarea data-testid="import-hex" value={hex} onChange={e => setHex(e.target.value)} rows={2} /></label>
      <button type="button" data-testid="import-wallet" disabled={busy || hex.trim() === '' || pass.length < 8 || pass !== pass2}
        onClick={() => { void run(async () => await call('import', { hex: hex.trim(), passphrase: pass })) }}>Import with the passphrase above</button>
      {error !== null && <div className="banner error" role="alert" data-testid="wallet-error">{error}</div>}
    </div>
  )
}

function Unlock ({ call }: { call: Call }): React.JSX.Element {
  const [pass, setPass] = useState('')
  const [error, busy, run] = useAction()
  return (
    <form className="card form" onSubmit={e => { e.preventDefault(); void run(async () => { await call('unlock', { passphrase: pass }); setPass('') }) }}>
      <label>Passphrase to unlock <input type="password" data-testid="unlock-passphrase" value={pass} onChange={e => setPass(e.target.value)} autoComplete="current-password" /></label>
      <button type="submit" data-testid="unlock" disabled={busy}>Unlock</button>
      {error !== null && <div className="banner error" role="alert" data-testid="wallet-error">{error}</div>}
    </form>
  )
}

function Send ({ wallet, call }: { wallet: WalletView, call: Call }): React.JSX.Element {
  const [from, setFrom] = useState(wallet.keys[0]?.address ?? '')
  const [to, setTo] = useState('')
  const [amount, setAmount] = useState('')
  const [sent, setSent] = useState<string | null>(null)
  const [error, busy, run] = useAction()
  return (
    <form className="card form" data-testid="send-form" onSubmit={e => {
      e.preventDefault()
      void run(async () => { setSent(await call('send', { from, to: to.trim(), amount: amount.trim() })); setAmount('') })
    }}>
      <h2>Send FIL</h2>
      <label>From <select data-testid="send-from" value={from} onChange={e => setFrom(e.target.value)}>
        {wallet.keys.map(k => <option key={k.address} value={k.address}>{k.address}</option>)}
      </select></label>
      <label>To <input data-testid="send-to" value={to} onChange={e => setTo(e.target.value)} placeholder="t1…" spellCheck={false} /></label>
      <label>Amount <input data-testid="send-amount" value={amount} onChange={e => setAmount(e.target.value)} placeholder="1.5 FIL" /></label>
      <p className="muted small">Fee: up to <Fil atto={SEND_FEE_ATTO} /> (gas limit 1,250,000 at ≤ 300 attoFIL); the nonce comes from your verified account.</p>
      <button type="submit" data-testid="send" disabled={busy || !wallet.unlocked || to === '' || amount === ''}>{wallet.unlocked ? 'Sign and send' : 'Unlock to send'}</button>
      {sent !== null && <p className="small">Sent <span className="mono">{shortCid(sent)}</span>: follow it below.</p>}
      {error !== null && <div className="banner error" role="alert" data-testid="send-error">{error}</div>}
    </form>
  )
}

function History ({ entries }: { entries: HistoryEntry[] }): React.JSX.Element {
  return (
    <table className="headers" data-testid="history">
      <thead><tr><th>Message</th><th>To</th><th>Amount</th><th>State</th></tr></thead>
      <tbody>
        {entries.map(e => (
          <tr key={e.cid} data-testid="history-row" data-state={e.state} data-cid={e.cid} data-kind={e.kind} data-included-height={e.includedHeight}>
            <td className="mono" title={e.cid}>{e.kind === 'faucet' ? 'faucet ' : ''}{shortCid(e.cid)}</td>
            <td className="mono" title={e.to}>{shortAddr(e.to)}</td>
            <td>{e.kind === 'faucet' ? '—' : <Fil atto={e.attoFil} />}</td>
            <td>
              <span className={`badge badge-${e.state === 'included' ? 'synced' : e.state === 'pending' ? 'syncing' : 'offline'}`} title={e.state === 'dropped' ? 'no receipt found although its nonce has been used (or, for the faucet, long overdue): probably replaced or lost by a pool; checked again every 10 blocks' : undefined}>{e.state}</span>
              {e.exitCode !== undefined && <span className="small muted"> exit {e.exitCode}, gas {e.gasUsed?.toLocaleString()}, in {e.includedHeight} → receipt {e.executedHeight}</span>}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

/** Asks for the passphrase in a password field (window.prompt would show it in clear text). */
function AskPassphrase ({ label, onSubmit, onCancel }: { label: string, onSubmit: (pass: string) => void, onCancel: () => void }): React.JSX.Element {
  const [pass, setPass] = useState('')
  return (
    <form className="card form" data-testid="ask-passphrase" onSubmit={e => { e.preventDefault(); onSubmit(pass) }}>
      <label>{label} <input type="password" autoFocus data-testid="ask-passphrase-input" value={pass} onChange={e => setPass(e.target.value)} autoComplete="current-password" /></label>
      <div className="row"><button type="submit" data-testid="ask-passphrase-ok">OK</button><button type="button" className="secondary" onClick={onCancel}>Cancel</button></div>
    </form>
  )
}

export function WalletPanel ({ wallet, call }: { wallet: WalletView | null, call: Call }): React.JSX.Element {
  const [exported, setExported] = useState<string | null>(null)
  const [asking, setAsking] = useState<{ label: string, then: (pass: string) => Promise<unknown> } | null>(null)
  const [watch, setWatch] = useState('')
  const [error, busy, run] = useAction()
  if (wallet === null) return <p className="muted">Opening the wallet…</p>
  if (wallet.error !== undefined) {
    return <div className="banner error" role="alert" data-testid="wallet-error">The wallet could not open: {wallet.error.name}: {wallet.error.message}. The chain view keeps working.</div>
  }
  if (wallet.keys.length === 0) return <section className="wallet"><Setup call={call} /></section>
  const balanceOf = (a: string): BalanceView | undefined => wallet.balances.find(b => b.address === a)
  const others = wallet.balances.filter(b => !wallet.keys.some(k => k.address === b.address))
  return (
    <section className="wallet" aria-label="Wallet">
      {!wallet.unlocked && <Unlock call={call} />}
      {wallet.keys.map(k => (
        <div className="card key" key={k.address} data-testid="wallet-key">
          <div className="label">{k.type} address</div>
          <div className="row">
            <span className="mono" data-testid="wallet-address">{k.address}</span>
            <button type="button" className="small-btn" onClick={() => { void navigator.clipboard?.writeText(k.address) }}>Copy</button>
          </div>
          <div className="balance-line"><Balance b={balanceOf(k.address)} /></div>
          <div className="row">
            {wallet.faucet && <button type="button" data-testid="faucet" disabled={busy} onClick={() => { void run(async () => await call('faucet', { address: k.address })) }}>Get devnet FIL</button>}
            {wallet.unlocked && <button type="button" className="secondary" disabled={busy} onClick={() => {
              setAsking({ label: `Passphrase to export ${k.address.slice(0, 10)}…`, then: async (pass) => { setExported(await call('export', { address: k.address, passphrase: pass })) } })
            }}>Export</button>}
          </div>
        </div>
      ))}
      {exported !== null && (
        <div className="card"><div className="label">Lotus key export — anyone with this controls the funds</div>
          <textarea className="mono" readOnly rows={3} value={exported} /><button type="button" onClick={() => setExported(null)}>Hide</button></div>
      )}
      <div className="row">
        {wallet.unlocked && <button type="button" className="secondary" data-testid="lock" onClick={() => { void run(async () => await call('lock', {})) }}>Lock</button>}
        {wallet.unlocked && <button type="button" className="secondary" data-testid="add-key" disabled={busy} onClick={() => {
          setAsking({ label: 'Your wallet passphrase, to encrypt the new key', then: async (pass) => await call('create', { passphrase: pass }) })
        }}>New address</button>}
      </div>
      {asking !== null && (
        <AskPassphrase label={asking.label} onCancel={() => setAsking(null)}
          onSubmit={(pass) => { const then = asking.then; setAsking(null); void run(async () => await then(pass)) }} />
      )}
      {error !== null && <div className="banner error" role="alert" data-testid="wallet-error">{error}</div>}
      <Send wallet={wallet} call={call} />
      {others.length > 0 && (
        <div className="card">
          <div className="label">Other addresses</div>
          {others.map(b => <div key={b.address} className="row" data-testid="watched"><span className="mono">{shortAddr(b.address)}</span> <Balance b={b} /></div>)}
        </div>
      )}
      <form className="row" onSubmit={e => { e.preventDefault(); void run(async () => { await call('watch', { address: watch.trim() }); setWatch('') }) }}>
        <input data-testid="watch-address" value={watch} onChange={e => setWatch(e.target.value)} placeholder="check any address's balance: t1…" spellCheck={false} />
        <button type="submit" className="secondary">Check</button>
      </form>
      <h2>History</h2>
      {wallet.history.length === 0 ? <p className="muted">Nothing sent from this tab yet.</p> : <History entries={wallet.history} />}
    </section>
  )
}
