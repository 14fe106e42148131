// The sync state as a coloured badge; the text is the state's own name so tests and users read the same.
import type { SyncState } from '../light/status'

const EXPLAIN: Record<SyncState, string> = {
  syncing: 'fetching and verifying headers',
  synced: 'following the chain head by gossip',
  stalled: 'connected, but no new head has come by gossip for several block times; asking peers for their heads',
  offline: 'no peer is reachable; reconnecting on its own'
}

export function SyncBadge ({ state }: { state: SyncState }): React.JSX.Element {
  return <span className={`badge badge-${state}`} data-testid="sync-state" title={EXPLAIN[state]}>{state}</span>
}
