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
  transfer: (proposal: ClientDealProposal, opts: TransferOptions) => Promise<{ dealId: number, message: string, confirmed: boolean }>
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

export interface TransferOptions {
  signal?: AbortSignal
  onProgress: (held: number) => void
  /** Asked before each data frame, never after the last: an error stops the stream so the copy can re-plan. */
  stopBeforeNextFrame: () => Error | undefined
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
/** BUSY answers in a row (the provider is still finishing an earlier stream for this piece) before giving up. */
export const BUSY_RETRIES = 24
export const BUSY_RETRY_MS = 5000
/**
 * Broken streams, STALLED refusals and publish timeouts in a row, with no byte moved between them, before the
 * copy is given up. The provider keeps what arrived, so each try resumes; any progress resets the count.
 */
export const MAX_RESUMES = 6
/** The first wait before resuming; doubled on each try without progress. */
export const RESUME_BACKOFF_MS = 2000
/**
 * FUNDS refusals tried again, a few block times apart. The client proposes only once its AddBalance is in its
 * verified head, but a provider's own node may be a block or two behind (issue 12: providers are full nodes of
 * their own, syncing over the network) and see the escrow as it was. Past these the refusal stands.
 */
export const FUNDS_RETRIES = 5
export const FUNDS_RETRY_BLOCKS = 2

const withStart = (p: DealProposal, start: Epoch): DealProposal => ({ ...p, startEpoch: start, endEpoch: start + (p.endEpoch - p.startEpoch) })

/** Failures a new stream can go on from: the provider keeps the bytes it has, and will answer again. */
const resumable = (err: unknown): boolean => !(err instanceof DealRejectedError) || err.code === 'STALLED' || err.code === 'TRANSFER'

export async function sendCopy (init: CopySenderInit): Promise<{ dealId: number, message: string, confirmed: boolean }> {
  let proposal = init.proposal
  let held = 0
  let lastRate: number | null = null
  let refusals = 0
  let busy = 0
  let resumes = 0
  let funds = 0
  const rate = (): number => lastRate ?? init.knownBytesPerSec ?? FIRST_GUESS_BYTES_PER_SEC
  const replan = async (start: Epoch, reason: Replan['reason']): Promise<void> => {
    proposal = await init.sign(withStart(proposal.proposal, start))
    await init.onReplan({ proposal, reason, bytesPerSec: rate(), held })
  }
  const pause = async (ms: number): Promise<void> => {
    if (init.signal === undefined) { await init.sleep(ms); return }
    const signal = init.signal
    await Promise.race([init.sleep(ms), new Promise<never>((_, reject) => {
      if (signal.aborted) { reject(signal.reason); return }
      signal.addEventListener('abort', () => { reject(signal.reason) }, { once: true })
    })])
  }

  for (;;) {
    init.signal?.throwIfAborted()
    const meter = new ThroughputMeter()
    let stop: ReplanSignal | undefined
    const heldBefore = held
    try {
      return await init.transfer(proposal, {
        ...(init.signal === undefined ? {} : { signal: init.signal }),
        stopBeforeNextFrame: () => stop,
        onProgress: (h) => {
          if (h > held) { busy = 0; resumes = 0 }
          held = h
          meter.add(init.nowMs(), h)
          lastRate = meter.bytesPerSec() ?? lastRate
          init.onProgress(h, lastRate)
          if (stop !== undefined || lastRate === null || h >= init.payloadBytes) return
          const remainingBytes = init.payloadBytes - h
          const p = { head: init.head(), remainingBytes, bytesPerSec: lastRate, blockDelaySecs: init.blockDelaySecs }
          if (startStillReachable({ ...p, start: proposal.proposal.startEpoch })) return
          // measured too slow for this start: stop before the next frame, while there is time to re-sign, not
          // after the last byte (once every byte is written the provider decides, and START keeps the bytes)
          stop = new ReplanSignal(planStartEpoch({ ...p, provingPeriod: init.provingPeriod }))
        }
      })
    } catch (err) {
      if (init.signal?.aborted === true) throw err
      if (err instanceof ReplanSignal) {
        refusals = 0
        await replan(err.start, 'slow')
        continue
      }
      const code = (err as { code?: string }).code
      if (err instanceof DealRejectedError && code === 'START') {
        // a provider refusing a start as too close: from where it says it could start, later again if it
        // still refuses with no progress between
        refusals = held > heldBefore ? 1 : refusals + 1
        if (refusals > MAX_START_REFUSALS) throw new StartRefusedError(`the provider refused ${refusals - 1} later starts in a row: ${(err as Error).message}`)
        const planned = planStartEpoch({
          head: init.head(), remainingBytes: init.payloadBytes - held, bytesPerSec: rate(), blockDelaySecs: init.blockDelaySecs,
          provingPeriod: init.provingPeriod, extraEpochs: (2 ** (refusals - 1) - 1) * init.provingPeriod
        })
        const theirs = err.earliestStart ?? 0
        await replan(Math.max(planned, theirs, proposal.proposal.startEpoch + init.provingPeriod), 'refused')
        continue
      }
      // BUSY: the provider is still finishing an earlier stream for this piece (this tab's, before it closed
      // or re-planned): its answer comes on the next try
      if (code === 'BUSY' && busy++ < BUSY_RETRIES) { await pause(BUSY_RETRY_MS); continue }
      if (code === 'FUNDS' && funds++ < FUNDS_RETRIES) { await pause(FUNDS_RETRY_BLOCKS * init.blockDelaySecs * 1000); continue }
      // a broken stream, a STALLED refusal or a publish that did not come in time: the provider keeps what it
      // has (and answers an already published proposal with its deal), so a new stream goes on from there
      if (resumable(err) && resumes < MAX_RESUMES) { await pause(RESUME_BACKOFF_MS * 2 ** resumes++); continue }
      throw err
    }
  }
}
