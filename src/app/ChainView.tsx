// Chain view: live verified height, head, peers, the nodes this tab cross-checks (agreeing, behind, dropped
// with the reason), backlog progress, last rejection, the last 20 tipsets (under Expected Consensus: several
// miners' blocks at one height, null rounds between, reorganisations counted) with their message counts; a
// header opens to its decoded fields and messages.
import { Fragment, useEffect, useState } from 'react'
import type { LightClientStatus, HeaderSummary } from '../light/status'
import type { NodeSummary } from '../light/node-checks'
import type { BlockDetail } from '../light/block-detail'
import type { Call } from './use-light-client'
import type { NodeKind } from './light-client-port'

const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`

const shortCid = (cid: string): string => `${cid.slice(0, 10)}…${cid.slice(-6)}`
const shortPeer = (id: string): string => `…${id.slice(-10)}`
/** How a connection was made, from its address: the user may ask for one transport (`?transports=`) and check it here. */
const transportOf = (addr: string): 'webrtc-direct' | 'webrtc' | 'relayed' | 'websockets' | 'other' =>
  addr.includes('/webrtc-direct')
    ? 'webrtc-direct'
    // another tab, met through a relay and connected to directly; a circuit alone is the relay carrying the bytes
    : /\/webrtc(\/|$)/.test(addr) ? 'webrtc' : addr.includes('/p2p-circuit') ? 'relayed' : /\/wss?(\/|$)|\/tls\/ws/.test(addr) ? 'websockets' : 'other'
const TRANSPORT_WORDS = { 'webrtc-direct': 'WebRTC-Direct', webrtc: 'WebRTC (a tab)', relayed: 'through a relay', websockets: 'WebSocket', other: '' } as const
const time = (secs: number): string => new Date(secs * 1000).toLocaleTimeString()

function HeaderDetail ({ cid, call, onClose }: { cid: string, call: Call, onClose: () => void }): React.JSX.Element {
  const [detail, setDetail] = useState<BlockDetail | null>(null)
  const [error, setError] = useState<string | null>(null)
  useEffect(() => {
    setDetail(null)
    setError(null)
    call('blockDetail', { cid }).then(d => setDetail(d), (err: Error) => setError(err.message))
  }, [cid, call])
  return (
    <div className="card detail" data-testid="header-detail">
      <div className="row"><h2>Header {detail?.height ?? ''}</h2><button type="button" className="small-btn" onClick={onClose}>Close</button></div>
      <div className="mono small">{cid}</div>
      {error !== null && <div className="banner error">{error}</div>}
      {detail !== null && (
        <>
          <dl>{detail.fields.map(([k, v]) => <Fragment key={k}><dt>{k}</dt><dd className="mono small" data-field={k}>{v}</dd></Fragment>)}</dl>
          <h2>Messages ({detail.messages.length}, checked against Messages)</h2>
          {detail.messagesError !== undefined && <div className="banner error">{detail.messagesError}</div>}
          {detail.messages.map(m => (
            <div key={m.cid} className="small mono" data-testid="detail-message">{m.cid.slice(0, 14)}… {m.from.slice(0, 12)}… → {m.to.slice(0, 12)}… {m.value} (nonce {m.nonce}, {m.signature})</div>
          ))}
        </>
      )}
    </div>
  )
}

/** The blocks highest first, grouped by height (a tipset each), with the null rounds between them (and below `above`). */
type ChainRow = { kind: 'tipset', height: number, blocks: HeaderSummary[] } | { kind: 'null', from: number, to: number }
function chainRows (recent: HeaderSummary[], above?: number): ChainRow[] {
  const rows: ChainRow[] = []
  const top = recent[0]?.height
  if (above !== undefined && top !== undefined && above - top > 1) rows.push({ kind: 'null', from: top + 1, to: above - 1 })
  for (const h of recent) {
    const last = rows.at(-1)
    if (last?.kind === 'tipset' && last.height === h.height) { last.blocks.push(h); continue }
    if (last?.kind === 'tipset' && last.height - h.height > 1) rows.push({ kind: 'null', from: h.height + 1, to: last.height - 1 })
    rows.push({ kind: 'tipset', height: h.height, blocks: [h] })
  }
  return rows
}

/** Older pages of the chain, a button press each: `anchor` is the height the first page started below. */
interface OlderPages { anchor: number, lowest: number, headers: HeaderSummary[], fetched: number, reachedGenesis: boolean }
const OLDER_PAGE = 20
function useOlderTipSets (call: Call): { pages: OlderPages | null, loading: boolean, error: string | null, more: (below: number) => void } {
  const [pages, setPages] = useState<OlderPages | null>(null)
  const [loading, setLoading] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const more = (below: number): void => {
    setLoading(true)
    setError(null)
    call('olderTipSets', { below, count: OLDER_PAGE }).then(page => {
      setPages(p => ({
        anchor: p?.anchor ?? below,
        lowest: page.headers.at(-1)?.height ?? 0,
        headers: [...(p?.headers ?? []), ...page.headers],
        fetched: (p?.fetched ?? 0) + page.fetched,
        reachedGenesis: page.reachedGenesis
      }))
    }, (err: Error) => { setError(err.message) }).finally(() => { setLoading(false) })
  }
  return { pages, loading, error, more }
}

/** What a rejection was about, by its error's name. */
function rejectedWhat (name: string): string {
  if (name === 'StateProofRejectedError') return 'a state proof'
  if (name === 'NodeAnswersDisagreeError') return 'a state answer'
  if (name === 'NodeHeadMismatchError') return 'the head announced'
  if (name.startsWith('Ask')) return 'an ask announcement'
  return 'a header'
}

const NODE_STATE: Record<NodeSummary['state'], string> = {
  agreeing: 'agreeing', behind: 'behind', ahead: 'ahead (not verified yet)', fork: 'on another fork', pending: 'no hello yet', dropped: 'dropped'
}

/** The nodes this tab talks to: each head checked against the verified chain, each state answer verified. */
function NodesPanel ({ nodes, verifiedHeight }: { nodes: NodeSummary[], verifiedHeight: number }): React.JSX.Element {
  const agreeing = nodes.filter(n => n.state === 'agreeing').length
  return (
    <div className="card" data-testid="nodes">
      <div className="label">Nodes: <span data-testid="nodes-agreeing">{agreeing}</span> of {nodes.filter(n => n.state !== 'dropped').length} agree with the verified chain</div>
      <table className="headers">
        <thead><tr><th>Peer</th><th>Role</th><th>Head</th><th>Verdict</th><th className="opt" title="State answers from this node that verified here, in cross-checks (the same read asked of two nodes)">Answers verified</th></tr></thead>
        <tbody>
          {nodes.map(n => (
            <Fragment key={n.id}>
              <tr data-testid="node-row" data-peer={n.id} data-role={n.role} data-state={n.state}>
                <td className="mono nowrap" title={`${n.id}${n.addr === null ? '' : `\n${n.addr}`}`}>{shortPeer(n.id)}</td>
                <td>{n.role}</td>
                <td className="nowrap" title={n.headCid ?? undefined}>{n.headHeight ?? '…'}{n.headHeight !== null && n.state !== 'dropped' && n.headHeight < verifiedHeight ? <span className="muted small"> ({verifiedHeight - n.headHeight} back)</span> : null}</td>
                <td className={n.state === 'dropped' ? 'bad' : n.state === 'agreeing' ? 'verified' : undefined} data-testid="node-state">
                  {n.state === 'agreeing' ? '✓ ' : ''}{NODE_STATE[n.state]}
                </td>
                <td className="opt">{n.verifiedAnswers}</td>
              </tr>
              {/* the reason on a row of its own: an error name and message are long, the columns above are not */}
              {n.reason !== undefined && <tr><td colSpan={5} className="bad small" data-testid="node-reason" data-peer={n.id}>{n.reason}. Hung up on; not used again this session.</td></tr>}
            </Fragment>
          ))}
        </tbody>
      </table>
      {nodes.length === 0 && <div className="muted small">No node has said hello yet.</div>}
    </div>
  )
}

const NODE_KIND_WORDS: Record<NodeKind, string> = {
  shared: ', shared by every tab of the app',
  tab: ', this tab\'s own',
  leader: ', run by this tab for every tab of the app',
  follower: ', run by another tab of the app for this one'
}

export function ChainView ({ status, call, nodeKind }: { status: LightClientStatus, call: Call, nodeKind: NodeKind | null }): React.JSX.Element {
  const { backlog, lastRejection } = status
  const [open, setOpen] = useState<string | null>(null)
  const older = useOlderTipSets(call)
  const recentLowest = status.recent.at(-1)?.height
  // when this page first showed a verified head (the bench's reload figure: what the user sees, not the load event)
  useEffect(() => {
    if (status.verifiedHeight > 0 && performance.getEntriesByName('coffer: head shown').length === 0) performance.mark('coffer: head shown', { detail: { height: status.verifiedHeight, finalityInstance: status.finality?.instance ?? null } })
  }, [status])
  return (
    <section className="chain" aria-label="Chain">
      <div className="cards">
        <div className="card">
          <div className="label">Verified height</div>
          <div className="big" data-testid="verified-height">{status.verifiedHeight}</div>
          <div className="muted">best known {status.bestKnownHeight}</div>
        </div>
        <div className="card wide">
          <div className="label">Head</div>
          <div className="mono" data-testid="head-cid" title={status.headCid}>{status.headCid}</div>
          <div className="muted">produced {time(status.headTimestamp)}</div>
        </div>
        {status.consensus === 'expected' && (
          <div className="card" data-testid="consensus-card">
            <div className="label">Head tipset</div>
            <div className="big" data-testid="head-blocks">{status.headBlocks} block{status.headBlocks === 1 ? '' : 's'}</div>
            <div className="muted small">won by storage power (Expected Consensus)</div>
            <div className="small">
              Reorganisations: <span data-testid="reorg-count">{status.reorgs.count}</span>
              {status.reorgs.last !== null && <span data-testid="last-reorg"> · last at height {status.reorgs.last.height}, {status.reorgs.last.depth} tipset{status.reorgs.last.depth === 1 ? '' : 's'} left behind, {new Date(status.reorgs.last.atMs).toLocaleTimeString()}</span>}
            </div>
          </div>
        )}
        {status.finality !== null && (
          <div className="card" data-testid="finality-card">
            <div className="label">Finalized (F3 certificates)</div>
            <div className="big" data-testid="finalized-height">{status.finality.instance < 0 ? '—' : status.finality.finalizedEpoch}</div>
            <div className="muted small">
              {status.finality.instance < 0
                ? 'no certificate yet'
                : <>instance <span data-testid="finality-instance">{status.finality.instance}</span> · head <span data-testid="head-beyond">{status.finality.headBeyond}</span> epoch{status.finality.headBeyond === 1 ? '' : 's'} beyond</>}
            </div>
            {status.finality.behind && (
              <div className="small warn" data-testid="finality-behind">
                behind: a node claims {status.finality.knownInstances} certificates, none served past {status.finality.instance + 1}
              </div>
            )}
            {status.finality.verified > 0 && (
              <div className="muted small" data-testid="finality-verified">{status.finality.verified} certificate{status.finality.verified === 1 ? '' : 's'} checked here in {status.finality.verifyMs} ms (<span data-testid="finality-verifier">{status.finality.verifier}</span>{status.finality.verifyThreads > 1 && <>, <span data-testid="finality-threads">{status.finality.verifyThreads}</span> threads</>})</div>
            )}
            {status.finality.certificateBytes + status.finality.headerBytes > 0 && (
              <div className="muted small" data-testid="finality-received" data-certificate-bytes={status.finality.certificateBytes} data-header-bytes={status.finality.headerBytes}>
                received here: {kib(status.finality.certificateBytes)} of certificates, {kib(status.finality.headerBytes)} of headers by hash link
              </div>
            )}
            {status.finality.jumpedFromEpoch !== null && (
              <div className="muted small" data-testid="finality-jump">
                synced by certificates{status.finality.lowestHeight > 0 && <>: headers below <span data-testid="lowest-height">{status.finality.lowestHeight}</span> not fetched until needed</>}
              </div>
            )}
          </div>
        )}
        <div className="card">
          <div className="label">Peers</div>
          <div className="big" data-testid="peer-count">{status.peers.length}</div>
          {/* with nobody connected, why: the last dial or answer that failed (the node keeps dialling meanwhile) */}
          {status.peers.length === 0 && status.lastNetworkError !== null && (
            <div className="muted small" data-testid="network-error">last failure: {status.lastNetworkError}</div>
          )}
          <ul className="peers">
            {status.peers.map(p => (
              <li key={p.id} title={p.addr} data-testid="peer" data-peer={p.id} data-transport={transportOf(p.addr)}>
                <span className="mono">{shortPeer(p.id)}</span> <span className="muted small">{TRANSPORT_WORDS[transportOf(p.addr)]}</span>
              </li>
            ))}
          </ul>
          <div className="muted small" data-testid="own-node" data-peer={status.peerId} data-kind={nodeKind ?? ''}>
            this node <span className="mono" title={status.peerId}>{shortPeer(status.peerId)}</span>
            {nodeKind === null ? '' : NODE_KIND_WORDS[nodeKind]}
          </div>
        </div>
      </div>

      <NodesPanel nodes={status.nodes ?? []} verifiedHeight={status.verifiedHeight} />

      {backlog !== null && backlog.total > 1 && (
        <div className="card progress" data-testid="sync-progress">
          <div className="label">Catching up: {backlog.verified} of {backlog.total} headers verified ({backlog.fetched} fetched)</div>
          <progress max={backlog.total} value={backlog.verified} />
        </div>
      )}

      {lastRejection !== null && (
        <div className="banner error" role="alert" data-testid="last-rejection">
          <strong>Rejected {rejectedWhat(lastRejection.name)} from peer {shortPeer(lastRejection.peer)}</strong>
          {lastRejection.height !== undefined && <> at height {lastRejection.height}</>}: <span data-testid="rejection-reason">{lastRejection.name}</span> — {lastRejection.message}.
          The peer was disconnected and nothing it sent was stored.
        </div>
      )}

      <h2>Last verified {status.consensus === 'expected' ? 'tipsets' : 'headers'}</h2>
      <table className="headers" data-testid="header-list">
        <thead><tr><th>Height</th><th>CID</th><th>Msgs</th><th className="opt">Miner</th>{status.consensus === 'expected' && <th className="opt">Wins</th>}<th>Time</th><th className="opt">Size</th></tr></thead>
        <tbody>
          {chainRows(status.recent).map(row => row.kind === 'null'
            ? (
              <tr key={`null-${row.from}`} data-testid="null-round" data-from={row.from} data-to={row.to} className="muted">
                <td>{row.from === row.to ? row.from : `${row.from}–${row.to}`}</td>
                <td colSpan={status.consensus === 'expected' ? 6 : 5} className="small">null round{row.from === row.to ? '' : 's'}: no miner won</td>
              </tr>
              )
            : row.blocks.map((h, i) => (
              <tr key={h.cid} data-testid="header-row" data-height={h.height} data-tipset-size={row.blocks.length} className="clickable" onClick={() => setOpen(h.cid)} aria-selected={open === h.cid}>
                {i === 0 && <td rowSpan={row.blocks.length} data-testid="tipset-height">{h.height}{row.blocks.length > 1 && <div className="muted small" data-testid="tipset-size">{row.blocks.length} blocks</div>}</td>}
                <td className="mono" title={h.cid}>{shortCid(h.cid)}</td>
                <td data-testid="message-count">{h.messageCount ?? '…'}</td>
                <td className="opt" data-testid="block-miner">{h.miner}</td>
                {status.consensus === 'expected' && <td className="opt">{h.winCount ?? ''}</td>}
                <td>{time(h.timestamp)}</td>
                <td className="opt">{h.sizeBytes} B</td>
              </tr>
            )))}
          {older.pages !== null && recentLowest !== undefined && recentLowest > older.pages.anchor && (
            <tr className="muted" data-testid="older-gap"><td>{older.pages.anchor}–{recentLowest - 1}</td><td colSpan={6} className="small">newer than the pages below: not listed</td></tr>
          )}
          {older.pages !== null && chainRows(older.pages.headers, older.pages.anchor).map(row => row.kind === 'null'
            ? <tr key={`older-null-${row.from}`} className="muted"><td>{row.from === row.to ? row.from : `${row.from}–${row.to}`}</td><td colSpan={6} className="small">null round{row.from === row.to ? '' : 's'}</td></tr>
            : row.blocks.map((h, i) => (
              <tr key={h.cid} data-testid="older-row" data-height={h.height} className="clickable" onClick={() => setOpen(h.cid)} aria-selected={open === h.cid}>
                {i === 0 && <td rowSpan={row.blocks.length}>{h.height}</td>}
                <td className="mono" title={h.cid}>{shortCid(h.cid)}</td>
                <td>—</td>
                <td className="opt">{h.miner}</td>
                {status.consensus === 'expected' && <td className="opt">{h.winCount ?? ''}</td>}
                <td>{time(h.timestamp)}</td>
                <td className="opt">{h.sizeBytes} B</td>
              </tr>
            )))}
        </tbody>
      </table>
      {recentLowest !== undefined && recentLowest > 0 && older.pages?.reachedGenesis !== true && (
        <p>
          <button type="button" data-testid="older-button" disabled={older.loading} onClick={() => { older.more(older.pages?.lowest ?? recentLowest) }}>
            {older.loading ? 'Fetching older tipsets…' : 'Show older tipsets'}
          </button>
        </p>
      )}
      {older.pages !== null && older.pages.fetched > 0 && (
        <p className="muted small" data-testid="older-fetched">{older.pages.fetched} older tipset{older.pages.fetched === 1 ? '' : 's'} fetched from the nodes and checked by hash link (below the finalized tipset the tab jumped to)</p>
      )}
      {older.error !== null && <div className="banner error" data-testid="older-error">Older tipsets: {older.error}</div>}
      {open !== null && <HeaderDetail cid={open} call={call} onClose={() => setOpen(null)} />}
      <p className="muted small">
        Genesis {status.genesisCid} · <span data-testid="verify-stats" data-startup={JSON.stringify(status.stats.startup)} data-startup-origin={status.stats.startupOriginMs} title={`this node's start: ${status.stats.startup.map(m => `${m.phase} at ${m.atMs} ms`).join(', ')}`}>{status.stats.headersVerified} headers verified in this tab session
        {status.stats.verifyMs > 0 && <> at {Math.round(status.stats.headersVerified / (status.stats.verifyMs / 1000))} headers/s</>}</span>
        {status.bootstrapSource === 'stored' ? ' · network settings from the last online visit' : ''}
      </p>
    </section>
  )
}
