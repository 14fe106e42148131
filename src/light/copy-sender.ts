// Sends one copy of an upload to its provider and sees it published, whatever the link's speed: the rate
// is measured from the provider's acknowledgements, and when the bytes still to send can no longer arrive
// in time for the proposal's start, the copy is re-planned: a newly signed proposal for the same piece
// with a later start, which the provider resumes from the bytes it already staged. A provider that
// refuses a start as too close (at the end of a transfer, or when a reopened tab resumes) gets a later
// one the same way. No byte is ever sent twice for a re-plan, and the user never has to add the file again.
import {
  DealRejectedError, planStartEpoch, startStillReachable, ThroughputMeter, FIRST_GUESS_BYTES_PER_SEC,
  type ClientDealProposal, type DealProposal, type Epoch
} from '../core'

export interface CopySenderInit {
  proposal: ClientDealProposal
  payloadBytes: number
  /** Streams the payload under `proposal` (resuming where the provider stands); the published deal. */
  transfer: (proposal: ClientDealProposal, opts: { signal: AbortSignal, onProgress: (held: number) => void }) => Promise<{ dealId: number, message: string, confirmed: boolean }>
  /** Signs a proposal with the wallet; throws WalletLockedError while the wallet is locked. */
  sign: (p: DealProposal) => Promise<ClientDealProposal>
  /** The verified head's height. */
  head: () => Epoch
  nowMs: () => number
  sleep: (ms: number) => Promise<void>
  blockDelaySecs: number
  provingPeriod: Epoch
  /** This tab's rate on an earlier transfer, for when nothing is measured on this one yet. */
  knownBytesPerSec?: number
  /** A newly signed proposal replaces the old one: keep it (a reopened tab resumes with it). */
  onReplan: (replan: Replan) => Promise<void>
  onProgress: (held: number, bytesPerSec: number | null) => void
  signal?: AbortSignal
}

export interface Replan {
  proposal: ClientDealProposal
  reason: 'slow' | 'refused'
  /** The rate the new start was planned from (bytes a second). */
  bytesPerSec: number
  held: number
}

/** The provider kept refusing the start this tab offered, each time later, with no progress between. */
export class StartRefusedError extends Error {
  static override name = 'StartRefusedError'
  override name = 'StartRefusedError'
  readonly code = 'START_REFUSED'
}

/** The transfer was stopped to re-plan: not an error the user sees. */
class ReplanSignal extends Error {
  static override name = 'ReplanSignal'
  override name = 'ReplanSignal'
  constructor (readonly start: Epoch) { super('re-planning the start') }
}

/** START refusals in a row (no byte moved between them) before the copy is given up. */
export const MAX_START_REFUSALS = 6
/** BUSY answers (the provider is still finishing an earlier stream for this piece) before giving up. */
export const BUSY_RETRIES = 24
export const BUSY_RETRY_MS = 5000

const withStart = (p: DealProposal, start: Epoch): DealProposal => ({ ...p, startEpoch: start, endEpoch: start + (p.endEpoch - p.startEpoch) })

export async function sendCopy (init: CopySenderInit): Promise<{ dealId: number, message: string, confirmed: boolean }> {
  let proposal = init.proposal
  let held = 0
  let lastRate: number | null = null
  let refusals = 0
  let busy = 0
  const rate = (): number => lastRate ?? init.knownBytesPerSec ?? FIRST_GUESS_BYTES_PER_SEC
  const replan = async (start: Epoch, reason: Replan['reason']): Promise<void> => {
    proposal = await init.sign(withStart(proposal.proposal, start))
    await init.onReplan({ proposal, reason, bytesPerSec: rate(), held })
  }

  for (;;) {
    init.signal?.throwIfAborted()
    const meter = new ThroughputMeter()
    const stop = new AbortController()
    const signal = init.signal === undefined ? stop.signal : AbortSignal.any([init.signal, stop.signal])
    const heldBefore = held
    try {
      return await init.transfer(proposal, {
        signal,
        onProgress: (h) => {
          held = h
          meter.add(init.nowMs(), h)
          lastRate = meter.bytesPerSec() ?? lastRate
          init.onProgress(h, lastRate)
          if (stop.signal.aborted || lastRate === null || h >= init.payloadBytes) return
          const remainingBytes = init.payloadBytes - h
          const p = { head: init.head(), remainingBytes, bytesPerSec: lastRate, blockDelaySecs: init.blockDelaySecs }
          if (startStillReachable({ ...p, start: proposal.proposal.startEpoch })) return
          // measured too slow for this start: stop now, while there is time to re-sign, not after the last byte
          stop.abort(new ReplanSignal(planStartEpoch({ ...p, provingPeriod: init.provingPeriod })))
        }
      })
    } catch (err) {
      if (init.signal?.aborted === true) throw err
      if (stop.signal.aborted) {
        refusals = 0
        await replan((stop.signal.reason as ReplanSignal).start, 'slow')
        continue
      }
      const code = (err as { code?: string }).code
      if (err instanceof DealRejectedError && code === 'START') {
        // a provider refusing a start as too close: later, and later again if it still refuses with no progress
        refusals = held > heldBefore ? 1 : refusals + 1
        if (refusals > MAX_START_REFUSALS) throw new StartRefusedError(`the provider refused ${refusals - 1} later starts in a row: ${(err as Error).message}`)
        const start = planStartEpoch({
          head: init.head(), remainingBytes: init.payloadBytes - held, bytesPerSec: rate(), blockDelaySecs: init.blockDelaySecs,
          provingPeriod: init.provingPeriod, extraEpochs: (2 ** (refusals - 1) - 1) * init.provingPeriod
        })
        await replan(Math.max(start, proposal.proposal.startEpoch + init.provingPeriod), 'refused')
        continue
      }
      // BUSY: the provider is still finishing an earlier stream for this piece (this tab's, before it closed
      // or re-planned): its answer comes on the next try
      if (code === 'BUSY' && busy++ < BUSY_RETRIES) { await init.sleep(BUSY_RETRY_MS); continue }
      throw err
    }
  }
}
