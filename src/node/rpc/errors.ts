// Named failures of the JSON-RPC layer. Lookups that find nothing travel to clients as JSON-RPC error
// code 1 (Lotus's code for handler errors) with `data: { name, code, … }`; bad parameters as -32602.

/** Lotus answers "loading tipset …: blockstore: block not found" for a block it does not have. */
export class BlockNotFoundError extends Error {
  static override name = 'BlockNotFoundError'
  override name = 'BlockNotFoundError'
  readonly code = 'NOT_FOUND'
  /** `what`: the CID asked for, or "at height N". */
  constructor (readonly what: string) { super(`block ${what} not found`) }
}

export class MessageNotFoundError extends Error {
  static override name = 'MessageNotFoundError'
  override name = 'MessageNotFoundError'
  readonly code = 'NOT_FOUND'
  constructor (readonly cid: string) { super(`message ${cid} not found`) }
}

/** Lotus's StateGetActor fails with "actor not found" rather than answering null. */
export class ActorNotFoundError extends Error {
  static override name = 'ActorNotFoundError'
  override name = 'ActorNotFoundError'
  readonly code = 'NOT_FOUND'
  constructor (readonly address: string) { super(`actor ${address} not found`) }
}

/** An address that names an actor with no key address behind it (StateAccountKey). */
export class NotAnAccountError extends Error {
  static override name = 'NotAnAccountError'
  override name = 'NotAnAccountError'
  readonly code = 'NOT_ACCOUNT'
  constructor (readonly address: string) { super(`${address} is not an account actor with a key address`) }
}

/** ChainGetTipSetByHeight asked for a height above the tipset it should look back from. */
export class TipSetHeightError extends Error {
  static override name = 'TipSetHeightError'
  override name = 'TipSetHeightError'
  readonly code = 'HEIGHT'
  constructor (readonly height: number, readonly anchorHeight: number) {
    super(`looking for tipset with height ${height} greater than start point ${anchorHeight}`)
  }
}

/** Positional parameters of the wrong number or kind (JSON-RPC -32602). */
export class InvalidParamsError extends TypeError {
  static override name = 'InvalidParamsError'
  override name = 'InvalidParamsError'
  readonly code = 'PARAMS'
}

/** The HTTP client went away or the server is closing: a StateWaitMsg stops waiting. */
export class RequestAbortedError extends Error {
  static override name = 'RequestAbortedError'
  override name = 'RequestAbortedError'
  readonly code = 'ABORTED'
}

export class DealNotFoundError extends Error {
  static override name = 'DealNotFoundError'
  override name = 'DealNotFoundError'
  readonly code = 'NOT_FOUND'
  // Lotus: "deal %d not found"
  constructor (readonly dealId: number) { super(`deal ${dealId} not found`) }
}

/** StateMinerInfo on an address that is no storage provider. */
export class MinerNotFoundError extends Error {
  static override name = 'MinerNotFoundError'
  override name = 'MinerNotFoundError'
  readonly code = 'NOT_FOUND'
  constructor (readonly address: string) { super(`actor ${address} is not a storage miner`) }
}

/** StateReadState on an actor whose state this node does not decode to JSON (only payment channels here). */
export class StateNotDecodableError extends Error {
  static override name = 'StateNotDecodableError'
  override name = 'StateNotDecodableError'
  readonly code = 'UNSUPPORTED'
  constructor (readonly address: string, readonly actorCode: string) { super(`state of ${address} (code ${actorCode}) is not decoded by this node`) }
}
