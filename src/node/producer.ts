// Produces one block per epoch (through `produce`, which builds, signs and stores it) and hands it to
// `onHeader` (gossip).
import type { SealedHeader } from '../core'

export interface Producer { stop: () => Promise<void>, head: () => SealedHeader }

export function startProducer (opts: {
  produce: (nowSecs: number) => Promise<SealedHeader>
  head: SealedHeader
  blockDelayMs: number
  nowMs: () => number
  onHeader: (h: SealedHeader) => void
  onError: (err: unknown) => void
}): Producer {
  let head = opts.head
  let timer: ReturnType<typeof setTimeout> | undefined
  let running: Promise<void> = Promise.resolve()
  let stopped = false

  const tick = async (): Promise<void> => {
    const next = await opts.produce(Math.floor(opts.nowMs() / 1000))
    head = next
    opts.onHeader(next)
  }
  const schedule = (): void => {
    if (stopped) return
    // aligned to epoch boundaries, so headers keep a steady cadence whatever signing costs
    const wait = opts.blockDelayMs - (opts.nowMs() % opts.blockDelayMs)
    timer = setTimeout(() => {
      running = tick().catch(opts.onError).finally(schedule)
    }, wait)
  }
  schedule()
  return {
    head: () => head,
    stop: async () => {
      stopped = true
      clearTimeout(timer)
      await running
    }
  }
}
