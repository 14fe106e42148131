// Produces one signed header per epoch on top of the stored head and hands it to `onHeader` (gossip).
import { produceHeader, type Genesis, type SealedHeader } from '../core'
import type { ChainDb } from './chain-db'

export interface Producer { stop: () => Promise<void>, head: () => SealedHeader }

export function startProducer (opts: {
  db: ChainDb
  genesis: Genesis
  secretKey: Uint8Array
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
    const next = produceHeader(head, opts.genesis, opts.secretKey, Math.floor(opts.nowMs() / 1000))
    await opts.db.append(next)
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
