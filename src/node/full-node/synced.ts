// When a starting node counts as synced (`coffer node` logs it; `coffer provider run` serves only after it): its head
// has reached the best height its peers claimed when it began to wait. Not "level with the best height known": that
// target moves with every block gossiped meanwhile, and a busy node follows the chain a few blocks behind for as long
// as the load lasts (the load run's provider, killed and started again, served again only 11 minutes later, when it
// happened to be level). What it has not reached when it starts serving, it goes on syncing.
import type { Epoch } from '../../core'

export interface SyncProgress {
  /** Resolves when the sync has nothing in flight it could apply now. */
  settled: () => Promise<void>
  /** Whether any peer has told its head yet (before that, the best known height is only our own). */
  readonly heardFromPeers: boolean
  /** The highest head any connected peer announced (our own when none is higher). */
  readonly bestKnownHeight: Epoch
}

/** Resolves once `head()` reaches the best height peers claimed when first heard from; `pause` between looks. */
export async function untilSynced (sync: SyncProgress, head: () => Epoch, pause: () => Promise<void>): Promise<void> {
  let target: Epoch | null = null
  for (;;) {
    await sync.settled()
    if (sync.heardFromPeers) {
      target ??= sync.bestKnownHeight
      if (head() >= target) return
    }
    await pause()
  }
}
