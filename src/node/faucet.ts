// The devnet's faucet: pays devnet FIL to a key address, at most once per address per cool-down and at most
// FAUCET_BURST payments at once then one every FAUCET_REFILL_MS over all addresses (lotus-fountain's limits), with
// no more than FAUCET_MAX_PENDING of its payments waiting in the pool.
import {
  signMessage, isKeyAddress, addressToString, TRANSFER_GAS_LIMIT, TRANSFER_GAS_FEE_CAP, TRANSFER_GAS_PREMIUM, METHOD_SEND,
  type CID, type Message, type SignedMessage
} from '../core'
import { TokenBuckets } from '../core/rate-limit'
import type { Mpool } from './mpool'

export class FaucetLimitError extends Error {
  static override name = 'FaucetLimitError'
  override name = 'FaucetLimitError'
  readonly code = 'FAUCET_LIMIT'
  constructor (readonly retryAfterMs: number) { super(`faucet already paid this address; try again in ${Math.ceil(retryAfterMs / 1000)} s`) }
}

export class FaucetBusyError extends Error {
  static override name = 'FaucetBusyError'
  override name = 'FaucetBusyError'
  readonly code = 'FAUCET_BUSY'
  constructor (pending: number) { super(`the faucet has ${pending} payments waiting for a block; try again in a few seconds`) }
}

/** The faucet pays key addresses (f1/f3) only: an actor (the burn address t099, the market) or an ID address is refused. */
export class FaucetAddressError extends Error {
  static override name = 'FaucetAddressError'
  override name = 'FaucetAddressError'
  readonly code = 'FAUCET_ADDRESS'
  constructor (address: string) { super(`the faucet pays f1/f3 key addresses only, not ${address}`) }
}

/** Payments across all addresses are over the faucet's rate (fresh keys cost nothing to make). */
export class FaucetRateError extends Error {
  static override name = 'FaucetRateError'
  override name = 'FaucetRateError'
  readonly code = 'FAUCET_RATE'
  constructor (readonly retryAfterMs: number) { super(`the faucet is paying as fast as it may; try again in ${Math.ceil(retryAfterMs / 1000)} s`) }
}

/** The faucet was asked of a node that has none (a full node that is not the devnet). */
export class FaucetUnavailableError extends Error {
  static override name = 'FaucetUnavailableError'
  override name = 'FaucetUnavailableError'
  readonly code = 'FAUCET_UNAVAILABLE'
  constructor () { super('this node runs no faucet: ask the devnet\'s own JSON-RPC (its bootstrap document names it)') }
}

/** Faucet payments that may wait in the pool at once, so requests for many addresses cannot fill it. */
export const FAUCET_MAX_PENDING = 50
/**
 * The faucet's overall rate, a token bucket over all addresses as lotus-fountain's Limiter has (TotalRate,
 * TotalBurst, beside its per-wallet limit): a burst of FAUCET_MAX_PENDING, then one payment every
 * FAUCET_REFILL_MS. Issue 9 drained it at ~24 payments a second from fresh keys; now at most 30 a minute.
 */
export const FAUCET_BURST = FAUCET_MAX_PENDING
export const FAUCET_REFILL_MS = 2000

export interface FaucetInit { secretKey: Uint8Array, address: Uint8Array, amount: bigint, cooldownMs: number, burst?: number, refillMs?: number }

export class Faucet {
  /** When each address was last paid, oldest first (see markPaid). */
  private readonly paid = new Map<string, number>()
  private readonly bucket: TokenBuckets<'all'>

  constructor (private readonly init: FaucetInit, private readonly mpool: Mpool, private readonly nowMs: () => number, private readonly pushed: (sm: SignedMessage) => void) {
    // one key: the faucet's rate is over all addresses (its per-address limit is the cool-down)
    this.bucket = new TokenBuckets({ burst: init.burst ?? FAUCET_BURST, refillMs: init.refillMs ?? FAUCET_REFILL_MS })
  }

  async pay (address: Uint8Array): Promise<CID> {
    const f = this.init
    // an ID or actor address names an existing actor (t099 is the burn address): funds sent there are
    // lost or land where no user asked; a user asks for the key address a wallet made
    if (!isKeyAddress(address)) throw new FaucetAddressError(addressToString(address, 't'))
    const key = address.join(',')
    const last = this.paid.get(key)
    const now = this.nowMs()
    if (last !== undefined && now - last < f.cooldownMs) throw new FaucetLimitError(f.cooldownMs - (now - last))
    // pooled payments only: anyone can push messages naming the faucet's address, and those still being
    // checked (forged, as like as not) must neither make it busy nor take its nonces
    const waiting = this.mpool.pending(f.address).length
    if (waiting >= FAUCET_MAX_PENDING) throw new FaucetBusyError(waiting)
    const taken = this.bucket.take('all', now)
    if (!taken.ok) throw new FaucetRateError(taken.retryAfterMs)
    const message: Message = {
      version: 0, to: address, from: f.address, nonce: this.mpool.nextNonce(f.address), value: f.amount,
      gasLimit: TRANSFER_GAS_LIMIT, gasFeeCap: TRANSFER_GAS_FEE_CAP, gasPremium: TRANSFER_GAS_PREMIUM, method: METHOD_SEND, params: new Uint8Array(0)
    }
    this.markPaid(key, now)
    try {
      const signed = signMessage(f.secretKey, message)
      const cid = await this.mpool.push(signed, { local: true })
      this.pushed(signed)
      return cid
    } catch (err) {
      this.paid.delete(key)
      throw err
    }
  }

  /** How many addresses the faucet remembers paying (bounded by the cool-down; see markPaid). */
  get remembered (): number { return this.paid.size }

  /**
   * Remembers when `key` was paid. The map is keyed by addresses anyone may make up, so entries past the
   * cool-down go as new ones come: re-inserting keeps it in payment order, and the oldest are at its front.
   */
  private markPaid (key: string, now: number): void {
    for (const [k, t] of this.paid) {
      if (now - t < this.init.cooldownMs) break
      this.paid.delete(k)
    }
    this.paid.delete(key)
    this.paid.set(key, now)
  }
}
