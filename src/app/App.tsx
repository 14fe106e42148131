// The app shell: header with network and sync state, update prompt, and the Chain, Wallet (with payment
// channels), Upload, Files (with each deal's proving timeline, Download and share link) and Piece views, and
// the "Get file" card a share link (#/get/<root>?…) opens.
import { lazy, Suspense, useEffect, useState } from 'react'
import { useLightClient } from './use-light-client'
import { registerServiceWorker } from './service-worker'
import { ChainView } from './ChainView'
import { SyncBadge } from './SyncBadge'
import { parseShareLink } from './share-link'

// The Chain view comes with the app's first script (a reload shows the verified head before anything else); the
// other views load when first opened, so that script is smaller. The service worker precaches them all (offline).
const WalletPanel = lazy(async () => ({ default: (await import('./WalletPanel')).WalletPanel }))
const ChannelsPanel = lazy(async () => ({ default: (await import('./ChannelsPanel')).ChannelsPanel }))
const PieceView = lazy(async () => ({ default: (await import('./PieceView')).PieceView }))
const UploadView = lazy(async () => ({ default: (await import('./UploadView')).UploadView }))
const FilesView = lazy(async () => ({ default: (await import('./FilesView')).FilesView }))
const DealView = lazy(async () => ({ default: (await import('./DealView')).DealView }))
const GetFileView = lazy(async () => ({ default: (await import('./DownloadPanel')).GetFileView }))

type Tab = 'chain' | 'wallet' | 'upload' | 'files' | 'piece' | 'get'
const TABS: Array<[Tab, string]> = [['chain', 'Chain'], ['wallet', 'Wallet'], ['upload', 'Upload'], ['files', 'Files'], ['piece', 'Piece']]

export function App (): React.JSX.Element {
  const { status, wallet, deals, retrievals, fatal, call, nodeKind } = useLightClient()
  const [link, setLink] = useState(() => parseShareLink(location.hash))
  const [tab, setTab] = useState<Tab>(link !== null ? 'get' : TABS.find(([t]) => location.hash === `#${t}`)?.[0] ?? 'chain')
  // a share link pasted into an open tab opens its card too
  useEffect(() => {
    const onHash = (): void => { const l = parseShareLink(location.hash); if (l !== null) { setLink(l); setTab('get') } }
    addEventListener('hashchange', onHash)
    return () => { removeEventListener('hashchange', onHash) }
  }, [])
  const [openDeal, setOpenDeal] = useState<number | null>(null)
  const deal = openDeal === null ? undefined : deals?.deals.find(d => d.dealId === openDeal)
  const go = (t: Tab): void => { setTab(t); setOpenDeal(null); history.replaceState(null, '', `#${t}`) }
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
        {TABS.map(([t, label]) => (
          <button key={t} type="button" role="tab" aria-selected={tab === t} data-testid={`tab-${t}`} onClick={() => { go(t) }}>{label}</button>
        ))}
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
        <Suspense fallback={<p className="muted">Loading…</p>}>
          {fatal !== null && <div className="banner error" role="alert">The light client stopped: {fatal.message}</div>}
          {status === null && fatal === null && <p className="muted">Starting the light client…</p>}
          {status !== null && tab === 'chain' && <ChainView status={status} call={call} nodeKind={nodeKind} />}
          {status !== null && tab === 'wallet' && <WalletPanel wallet={wallet} call={call} />}
          {status !== null && tab === 'wallet' && (wallet?.keys.length ?? 0) > 0 && <section className="wallet"><ChannelsPanel channels={retrievals?.channels ?? null} call={call} /></section>}
          {tab === 'get' && link !== null && <GetFileView file={link} retrievals={retrievals} call={call} hasWallet={(wallet?.keys.length ?? 0) > 0} />}
          {tab === 'upload' && <UploadView deals={deals} call={call} provingPeriod={status?.provingPeriod ?? 30} />}
          {tab === 'files' && deal === undefined && <FilesView deals={deals} open={setOpenDeal} retrievals={retrievals} call={call} />}
          {tab === 'files' && deal !== undefined && <DealView deal={deal} auditEveryMinutes={deals?.auditEveryMinutes} epochSeconds={deals?.epochSeconds} call={call} close={() => { setOpenDeal(null) }} />}
          {tab === 'piece' && <PieceView />}
        </Suspense>
      </main>
    </div>
  )
}
