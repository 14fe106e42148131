// The Chain view scrolled back (issue 14, part 3): tipsets below those already listed, a page at a time. Below the
// floor a jump to a finalized tipset left, the headers are fetched now, by hash link from the lowest one held
// (finality-service.ts backfill), and kept: a tab that jumped never fetches the chain it skipped unless asked.
import type { Epoch, SealedHeader } from '../core'
import type { HeaderStore } from './header-store'
import { fetchLinkedRun, type LinkedRunInit } from './linked-run'

/** Tipsets asked for at once below the floor (a chain exchange's longest answer). */
const BACKFILL_STEP = 900

/**
 * Makes `headers` reach down to `height` (genesis at least): the run below the lowest tipset held is fetched by hash
 * link from it and added below the floor, in steps of BACKFILL_STEP. Resolves to the tipsets fetched; throws when no
 * node served a linked run (what was added before stays). The caller keeps a jump from moving the floor meanwhile.
 */
export async function backfillBelowFloor (headers: Pick<HeaderStore, 'floor' | 'tipSetAt' | 'prepend'>, link: LinkedRunInit, height: Epoch, onLowered?: (floor: Epoch) => void): Promise<number> {
  const target = Math.max(0, height)
  let fetched = 0
  for (;;) {
    const floor = await headers.floor()
    if (floor <= target) return fetched
    const lowest = await headers.tipSetAt(floor)
    if (lowest === null) throw new Error(`no tipset stored at the floor, height ${floor}`)
    // n tipsets below the floor reach at least n epochs down (null rounds only make it further)
    const run = await fetchLinkedRun(link, lowest.key, floor, Math.min(BACKFILL_STEP, floor - target))
    if (run.length < 2) return fetched
    await headers.prepend(run.slice(0, -1))
    fetched += run.length - 1
    onLowered?.(run[0]!.height)
  }
}

export interface OlderTipSets {
  /** The blocks of up to `count` tipsets below `below`, highest first (a tipset's blocks together). */
  blocks: SealedHeader[]
  /** Tipsets fetched from the nodes (by hash link) to answer: 0 when the tab held them. */
  fetched: number
  /** True when the page reaches genesis: there is nothing older. */
  reachedGenesis: boolean
}

/** Up to `count` tipsets below height `below`; `backfill(h)` makes the store reach down to `h`. */
export async function olderTipSets (store: Pick<HeaderStore, 'floor' | 'tipSetAt'>, backfill: (height: Epoch) => Promise<number>, below: Epoch, count: number): Promise<OlderTipSets> {
  const blocks: SealedHeader[] = []
  let tipsets = 0
  let fetched = 0
  let h = below - 1
  let floor = await store.floor()
  for (; h >= 0 && tipsets < count; h--) {
    // enough for the rest of the page at once (each tipset at least an epoch lower), not one exchange per tipset
    if (h < floor) {
      fetched += await backfill(Math.max(0, h - (count - tipsets) + 1))
      floor = await store.floor()
    }
    const ts = await store.tipSetAt(h)
    if (ts === null) continue // a null round
    tipsets++
    blocks.push(...ts.blocks)
  }
  return { blocks, fetched, reachedGenesis: h < 0 }
}
