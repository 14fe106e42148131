// When a starting node counts as synced (`coffer node` logs it; `coffer provider run` serves only after it). Not "level
// with the best height known": that target moves with every block gossiped meanwhile, and a busy node follows the
// chain a few blocks behind for as long as the load lasts (the load run's provider, killed and started again, served
// again only 11 minutes later, when it happened to be level). Instead it catches up in rounds: each round's target is
// the best height known when the round began, and it is synced once a round leaves it close behind (CLOSE_BLOCKS) or
// no closer than the round before (it follows at its own pace: what it lacks, it goes on syncing while it serves).
// A target falls with the claims (a peer forgotten for a fault took its claim with it), never rises within a round.
import type { Epoch } from '../../core'

/** Blocks behind the best known head that count as caught up. */
export const CLOSE_BLOCKS = 2

export interface SyncProgress {
  /** Resolves when the sync has nothing in flight it could apply now. */
  settled: () => Promise<void>
  /** Whether any peer has told its head yet (before that, the best known height is only our own). */
  readonly heardFromPeers: boolean
  /** The highest head any connected peer announced (our own when none is higher). */
  readonly bestKnownHeight: Epoch
}

/** Resolves once `head()` has caught up with its peers as above; `pause` between looks. */
export async function untilSynced (sync: SyncProgress, head: () => Epoch, pause: () => Promise<void>): Promise<void> {
  let target: Epoch | null = null
  let lastGap = Infinity
  for (;;) {
    await sync.settled()
    if (sync.heardFromPeers) {
      const best = sync.bestKnownHeight
      if (target === null || best < target) target = best
      if (head() >= target) {
        const gap = best - head()
        if (gap <= CLOSE_BLOCKS || gap >= lastGap) return
        lastGap = gap
        target = best
      }
    }
    await pause()
  }
}
