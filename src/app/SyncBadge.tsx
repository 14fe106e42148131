// The sync state as a coloured badge; the text is the state's own name so tests and users read the same.
import type { SyncState } from '../light/status'

export function SyncBadge ({ state }: { state: SyncState }): React.JSX.Element {
  return <span className={`badge badge-${state}`} data-testid="sync-state">{state}</span>
}
