// What an actor method sees while it runs: a small slice of Filecoin's actor Runtime (builtin-actors
// runtime/src/runtime/mod.rs). State is a value: a method takes the state root and returns the next one.
import type { BeaconEntry } from '../block-header'
import type { CID } from '../cid'
import type { BlockStore } from '../block-store'
import type { PathCheck } from '../pdp'
import type { MarketParams } from '../market/market-params'
import type { InvokeResult } from './actor-error'
import type { AttoFil, Epoch } from '../units'

/** The payment-channel parameters a chain fixes at genesis. */
export interface PaychParams {
  /** Epochs between Settle and the earliest Collect (builtin-actors SETTLE_DELAY, 12 h on Filecoin). */
  settleDelay: Epoch
}

/**
 * For a genesis that names no paych parameters (one made before channels existed): 120 epochs, two minutes
 * of the devnet's 1 s epochs. Long enough for a provider to land its best voucher once it sees a Settle,
 * short enough for a test or a user to get the rest back the same session (Filecoin's 12 h would not be).
 */
export const DEFAULT_PAYCH_PARAMS: PaychParams = { settleDelay: 120 }

/** What the top-level message fixes for every call it makes (FVM call manager state). */
export interface MessageScope {
  /** The message's From, as written (ref-fvm's origin_address). */
  readonly origin: Uint8Array
  /** The message's Nonce (ref-fvm's `nonce`, the origin's sequence). */
  readonly nonce: number
  /** Actors created so far by this message (ref-fvm's num_actors_created); bumped by each creation. */
  actorsCreated: number
}

export interface ActorRuntime {
  readonly store: BlockStore
  readonly epoch: Epoch
  /** The immediate caller: the message's From for a top-level call, the calling actor's address otherwise. */
  readonly caller: Uint8Array
  /** The actor running, by its ID address (an f2 a message named is resolved before the call). */
  readonly receiver: Uint8Array
  /** Already credited to the receiver's balance in the root the method is given (Filecoin moves it first). */
  readonly valueReceived: AttoFil
  readonly message: MessageScope
  /** The chain's genesis parameters that actors read. */
  readonly market: MarketParams
  readonly paych: PaychParams
  readonly beaconAt: (epoch: Epoch) => BeaconEntry | undefined
  readonly pathCheck?: PathCheck
  /**
   * Filecoin's send from the running actor: moves `value` from the receiver to `to` (creating an account for
   * a key address) and, for method ≠ 0, runs `to`'s method with the receiver as caller. Throws ActorError.
   */
  send: (root: CID, to: Uint8Array, method: number, params: Uint8Array, value: AttoFil) => InvokeResult
}

export type MethodHandler = (rt: ActorRuntime, root: CID, params: Uint8Array) => InvokeResult

/** One actor code's methods, by Filecoin method number (0, Send, is never dispatched: it only moves value). */
export interface ActorCode { name: string, code: CID, methods: ReadonlyMap<number, MethodHandler> }
