// How an actor method fails: Filecoin's exit codes (go-state-types/exitcode) and the error that carries one out
// of a method to the message's receipt. Every actor (market, init, payment channel) throws it.
import type { CID } from '../cid'

/** Filecoin's actor exit codes (go-state-types/exitcode). */
export const ActorExit = {
  ErrIllegalArgument: 16,
  ErrNotFound: 17,
  ErrForbidden: 18,
  ErrInsufficientFunds: 19,
  ErrIllegalState: 20,
  ErrSerialization: 21,
  ErrUnhandledMessage: 22
} as const

export class ActorError extends Error {
  static override name = 'ActorError'
  override name = 'ActorError'
  constructor (readonly exitCode: number, message: string) { super(message) }
}

/** What a method that succeeded leaves: the actor's next state root and its return value (DAG-CBOR). */
export interface InvokeResult { root: CID, return: Uint8Array }
