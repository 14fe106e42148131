// The app shell: header with network and sync state, update prompt, and the Chain and Wallet views.
import { useEffect, useState } from 'react'
import { useLightClient } from './use-light-client'
import { registerServiceWorker } from './service-worker'
import { ChainView } from './ChainView'
import { WalletPanel } from './WalletPanel'
import { PieceView } from './PieceView'
import { SyncBadge } from './SyncBadge'

export function App (): React.JSX.Element {
  const { status, wallet, fatal, call } = useLightClient()
  const [tab, setTab] = useState<'chain' | 'wallet' | 'piece'>(location.hash === '#wallet' ? 'wallet' : location.hash === '#piece' ? 'piece' : 'chain')
  const [applyUpdate, setApplyUpdate] = useState<(() => void) | null>(null)
  useEffect(() => { registerServiceWorker((apply) => { setApplyUpdate(() => apply) }) }, [])

  return (
    <div className="app">
      <header className="topbar">
        <div className="brand"><img src="/icons/icon-192.png" alt="" width={28} height={28} /> Coffer</div>
        <div className="topbar-right">
          {status !== null && <span className="network">{status.network}</span>}
          <SyncBadge state={status?.syncState ?? 'syncing'} />
        </div>
      </header>
      <nav className="tabs" role="tablist">
        <button type="button" role="tab" aria-selected={tab === 'chain'} data-testid="tab-chain" onClick={() => { setTab('chain'); history.replaceState(null, '', '#chain') }}>Chain</button>
        <button type="button" role="tab" aria-selected={tab === 'wallet'} data-testid="tab-wallet" onClick={() => { setTab('wallet'); history.replaceState(null, '', '#wallet') }}>Wallet</button>
        <button type="button" role="tab" aria-selected={tab === 'piece'} data-testid="tab-piece" onClick={() => { setTab('piece'); history.replaceState(null, '', '#piece') }}>Piece</button>
      </nav>
      {applyUpdate !== null && (
        <div className="banner update" role="status">
          A new version of Coffer is available.
          <button type="button" onClick={applyUpdate}>Reload to update</button>
        </div>
      )}
      {status?.syncState === 'offline' && (
        <div className="banner offline" role="status" data-testid="offline-banner">
          Offline: no devnet peer is reachable. Showing the last verified head (height {status.verifiedHeight}).
          Reconnecting on its own.
        </div>
      )}
      <main>
        {fatal !== null && <div className="banner error" role="alert">The light client stopped: {fatal.message}</div>}
        {status === null && fatal === null && <p className="muted">Starting the light client…</p>}
        {status !== null && tab === 'chain' && <ChainView status={status} call={call} />}
        {status !== null && tab === 'wallet' && <WalletPanel wallet={wallet} call={call} />}
        {tab === 'piece' && <PieceView />}
      </main>
    </div>
  )
}
