// Redeeming a retrieval provider's vouchers on chain: UpdateChannelState from the worker for each lane whose best
// voucher is above what the chain has redeemed, once its retrievals have ended and the voucher is worth its gas
// (core/paych/redeem-gas.ts), or at once when the client starts settling the channel (as Lotus's paychmgr/settler
// submits the best voucher of each lane once it sees a Settle). Follows each redeem message out (landed, refused,
// never to land) and retries a failed one with a doubling backoff; forgets a channel once it is collected.
import {
  CID, readChannel, decodeSignedVoucher, updateChannelStateParams, parseAddress, getActor, PaychMethod, ExitCode, worthRedeeming, redeemGasCost,
  type AttoFil, type Epoch
} from '../../core'
import type { ChannelVouchers, HeldVoucher } from './voucher-records'
import type { ProviderChain } from './storage-provider'

/** Epochs between retries of a failed redeem, doubling per failure up to this. */
const MAX_REDEEM_BACKOFF: Epoch = 64

/** What the redeemer needs of the retrieval server that holds the vouchers. */
export interface RedeemerHost {
  readonly chain: ProviderChain
  /** The worker's key address: the sender of redeems, whose nonce tells a redeem that can never land. */
  readonly worker: Uint8Array
  /** Signs and pushes a message from the worker in the provider's own nonce order; `beforePush` learns its CID and nonce first. */
  pushFromWorker: (to: Uint8Array, method: number, params: Uint8Array, beforePush?: (cid: CID, nonce: number) => Promise<void>) => Promise<CID>
  /** The channels held (ID addresses, t0…), and what is held of one (read again after each await: vouchers keep coming). */
  channelIds: () => string[]
  channel: (id: string) => ChannelVouchers | undefined
  /** Whether a retrieval is paying on this lane now (its voucher is not final yet). */
  running: (channel: string, lane: number) => boolean
  /** Marks (or clears) the redeem message out for one lane, on disk. */
  setRedeem: (channel: string, lane: number, redeem: HeldVoucher['redeem']) => Promise<void>
  /** The channel's actor is gone (collected): what is held of it is dropped. */
  forget: (channel: string) => Promise<void>
  log: (line: string) => void
}

const laneKey = (channel: string, lane: number): string => `${channel}/${lane}`

export class LaneRedeemer {
  /** Failed redeems per lane: how many, and the epoch before which the next try waits. */
  private readonly failures = new Map<string, { count: number, retryAt: Epoch }>()
  /** Lanes whose channel settled with a voucher unredeemed (logged once). */
  private readonly lost = new Set<string>()
  /** Lanes whose best voucher is held as not yet worth its redeem's gas, with the amount last logged (logged once per amount). */
  private readonly dust = new Map<string, AttoFil>()
  /** Redeem passes run one at a time (a pass reads the chain, then pushes). */
  private redeems: Promise<unknown> = Promise.resolve()
  private readonly stopped = new AbortController()
  private loop: Promise<void> | undefined

  constructor (private readonly host: RedeemerHost) {}

  private log (line: string): void { this.host.log(line) }

  /** The redeem loop: every head, lanes that are due (retrieval ended, channel settling, a failed try to repeat). */
  start (): void {
    this.loop = (async () => {
      while (!this.stopped.signal.aborted) {
        await this.redeemDue().catch((err: Error) => { this.log(`redeem: ${err.name}: ${err.message}`) })
        await this.host.chain.nextHead(this.stopped.signal)
      }
    })().catch((err: Error) => { if (!this.stopped.signal.aborted) this.log(`redeem loop stopped: ${err.name}: ${err.message}`) })
  }

  async stop (): Promise<void> {
    this.stopped.abort()
    await this.loop
    await this.redeems.catch(() => {})
  }

  /** One pass over every channel held: what is due is redeemed, what was redeemed or collected is tidied. */
  private async redeemDue (): Promise<void> {
    for (const id of this.host.channelIds()) {
      if (this.stopped.signal.aborted) return
      await this.redeemChannel(id).catch((err: Error) => { this.log(`redeem ${id}: ${err.name}: ${err.message}`) })
    }
  }

  /** Redeems what is due on one channel now (a retrieval on it just ended), after any pass already running. */
  async redeemChannel (id: string): Promise<void> {
    const run = this.redeems.then(async () => { await this.redeemPass(id) })
    this.redeems = run.catch(() => {})
    await run
  }

  /**
   * For each lane whose best voucher is above what the chain has redeemed: follows the redeem message out (landed,
   * refused, or never to land), and sends one when the lane is due: its retrievals have ended, or the channel
   * is settling (then at once, whatever is running: after SettlingAt the chain takes no voucher). A channel
   * whose actor is gone (collected) is forgotten.
   */
  private async redeemPass (id: string): Promise<void> {
    const rec = this.host.channel(id)
    if (rec === undefined) return
    const ch = this.host.chain.readState((s, r) => readChannel(s, r, parseAddress(id).bytes))
    if (ch === null) {
      await this.host.forget(id)
      for (const l of rec.lanes) { this.failures.delete(laneKey(id, l.lane)); this.lost.delete(laneKey(id, l.lane)); this.dust.delete(laneKey(id, l.lane)) }
      this.log(`channel ${id} is collected: its vouchers are forgotten`)
      return
    }
    const epoch = this.host.chain.head().header.height
    const settling = ch.state.settlingAt !== 0
    // read before any search: a redeem executed between the two reads is then found by the search, never taken
    // for one that can no longer land (the same order as the provider's pending publications)
    const workerNonce = this.host.chain.readState((s, r) => getActor(s, r, this.host.worker))?.nonce ?? 0
    for (const snapshot of rec.lanes) {
      const key = laneKey(id, snapshot.lane)
      const redeemed = ch.lanes.find(x => x.lane === snapshot.lane)?.redeemed ?? 0n
      // the lane as it is now: a better voucher may have come in since this pass began
      const l = this.host.channel(id)?.lanes.find(x => x.lane === snapshot.lane) ?? snapshot
      if (l.amount <= redeemed) {
        if (l.redeem !== undefined) {
          this.log(`lane ${key}: ${redeemed} attoFIL redeemed (message ${l.redeem.message})`)
          await this.host.setRedeem(id, l.lane, undefined)
        }
        this.failures.delete(key)
        continue
      }
      if (settling && epoch >= ch.state.settlingAt) {
        // the chain takes no voucher once settled: nothing more can be done for this lane
        if (!this.lost.has(key)) this.log(`lane ${key}: ${l.amount - redeemed} attoFIL could not be redeemed before the channel settled at ${ch.state.settlingAt}`)
        this.lost.add(key)
        continue
      }
      if (l.redeem !== undefined) {
        const lookup = await this.host.chain.searchMessage(CID.parse(l.redeem.message))
        if (lookup === null && workerNonce <= l.redeem.nonce) continue // still on its way
        if (lookup === null) this.failed(key, epoch, `message ${l.redeem.message} will never land (the worker's nonce is ${workerNonce})`)
        else if (lookup.receipt.exitCode !== ExitCode.Ok) this.failed(key, epoch, `message ${l.redeem.message} failed with exit code ${lookup.receipt.exitCode}`)
        // else it landed and a better voucher arrived since: the redeem below takes the rest
        await this.host.setRedeem(id, l.lane, undefined)
      }
      if (!settling && this.host.running(id, l.lane)) continue
      // dust waits (until it grows or the channel settles, when the best voucher always goes out): a redeem
      // adding less than its gas would cost the provider more than it collects
      if (!settling) {
        const sv = decodeSignedVoucher(l.voucher)
        if (!worthRedeeming(l.amount - redeemed, sv)) {
          if (this.dust.get(key) !== l.amount) this.log(`lane ${key}: holding ${l.amount - redeemed} attoFIL unredeemed, not worth a redeem costing up to ${redeemGasCost(sv)} attoFIL in gas; it goes out at Settle`)
          this.dust.set(key, l.amount)
          continue
        }
      }
      this.dust.delete(key)
      const f = this.failures.get(key)
      if (f !== undefined && epoch < f.retryAt) continue
      const target = this.host.channel(id)?.address ?? rec.address
      try {
        const cid = await this.host.pushFromWorker(parseAddress(target).bytes, PaychMethod.UpdateChannelState, updateChannelStateParams(decodeSignedVoucher(l.voucher)), async (cid, nonce) => {
          // recorded before the push: from the push on it may land whatever happens to this process
          await this.host.setRedeem(id, l.lane, { message: cid.toString(), nonce, amount: l.amount })
        })
        this.log(`lane ${key}: redeeming ${l.amount} attoFIL (voucher nonce ${l.nonce})${settling ? ` before the channel settles at ${ch.state.settlingAt}` : ''}: message ${cid.toString()}`)
      } catch (err) {
        await this.host.setRedeem(id, l.lane, undefined)
        this.failed(key, epoch, `the redeem could not be sent: ${(err as Error).name}: ${(err as Error).message}`)
      }
    }
  }

  /** A redeem that did not land: logged, and tried again after a backoff that doubles per failure. */
  private failed (key: string, epoch: Epoch, why: string): void {
    const count = (this.failures.get(key)?.count ?? 0) + 1
    const wait = Math.min(MAX_REDEEM_BACKOFF, 2 ** (count - 1))
    this.failures.set(key, { count, retryAt: epoch + wait })
    this.log(`lane ${key}: redeem failed (${why}); trying again in ${wait} epochs`)
  }
}
