// Named failures of the protocol rules. Callers branch on `.name` (or `.code`), never on message text,
// and these survive postMessage because `toWire`/`fromWire` carry name, code and message explicitly.

export type HeaderRejectCode =
  | 'MALFORMED'
  | 'OVERSIZED'
  | 'CID_MISMATCH'
  | 'UNKNOWN_PARENT'
  | 'HEIGHT_GAP'
  | 'TIMESTAMP'
  | 'WRONG_PRODUCER'
  | 'BAD_SIGNATURE'
  | 'GENESIS_MISMATCH'

/** A header (or a message carrying headers) broke a chain rule; the sender should be dropped. */
export class HeaderRejectedError extends Error {
  static override name = 'HeaderRejectedError'
  override name = 'HeaderRejectedError'
  constructor (readonly code: HeaderRejectCode, message: string, readonly height?: number) {
    super(message)
  }
}

export class MalformedHeaderError extends HeaderRejectedError {
  static override name = 'MalformedHeaderError'
  override name = 'MalformedHeaderError'
  constructor (message: string) { super('MALFORMED', `malformed header: ${message}`) }
}

export class OversizedMessageError extends HeaderRejectedError {
  static override name = 'OversizedMessageError'
  override name = 'OversizedMessageError'
  constructor (readonly size: number, readonly limit: number) {
    super('OVERSIZED', `message of ${size} bytes exceeds the ${limit}-byte limit`)
  }
}

export class CidMismatchError extends HeaderRejectedError {
  static override name = 'CidMismatchError'
  override name = 'CidMismatchError'
  constructor (expected: string, actual: string, height?: number) {
    super('CID_MISMATCH', `header hashes to ${actual}, expected ${expected}`, height)
  }
}

export class UnknownParentError extends HeaderRejectedError {
  static override name = 'UnknownParentError'
  override name = 'UnknownParentError'
  constructor (parent: string, height?: number) {
    super('UNKNOWN_PARENT', `parent ${parent} is not the verified header below it`, height)
  }
}

export class HeightGapError extends HeaderRejectedError {
  static override name = 'HeightGapError'
  override name = 'HeightGapError'
  constructor (parentHeight: number, height: number) {
    super('HEIGHT_GAP', `height ${height} does not follow parent height ${parentHeight}`, height)
  }
}

export class TimestampError extends HeaderRejectedError {
  static override name = 'TimestampError'
  override name = 'TimestampError'
  constructor (message: string, height?: number) { super('TIMESTAMP', message, height) }
}

export class WrongProducerError extends HeaderRejectedError {
  static override name = 'WrongProducerError'
  override name = 'WrongProducerError'
  constructor (miner: string, height?: number) {
    super('WRONG_PRODUCER', `header is from ${miner}, not the genesis producer`, height)
  }
}

export class BadSignatureError extends HeaderRejectedError {
  static override name = 'BadSignatureError'
  override name = 'BadSignatureError'
  constructor (height?: number) {
    super('BAD_SIGNATURE', `bad signature on header at height ${height ?? '?'}`, height)
  }
}

export class GenesisMismatchError extends HeaderRejectedError {
  static override name = 'GenesisMismatchError'
  override name = 'GenesisMismatchError'
  constructor (expected: string, actual: string) {
    super('GENESIS_MISMATCH', `peer follows genesis ${actual}, expected ${expected}`)
  }
}

/** A wire message (hello, exchange request/response, gossip) that does not decode to its layout. */
export class MalformedMessageError extends Error {
  static override name = 'MalformedMessageError'
  override name = 'MalformedMessageError'
}

/**
 * An answer whose bytes ended before its message did. Not proof of a lie, unlike a MalformedMessageError: a
 * connection cut mid-answer ends the stream the way the peer's own end would (libp2p's WebRTC ends a stream whose
 * data channel closed as if the peer had finished, and a node shutting down closes its streams rather than
 * resetting them), so the asker hangs up and asks again, or elsewhere, using nothing of it.
 */
export class TruncatedMessageError extends Error {
  static override name = 'TruncatedMessageError'
  override name = 'TruncatedMessageError'
}

/**
 * cborg's words for input that ran out before the item did: nothing at all, a string or number cut short, a list or
 * map with entries missing, a tag with nothing after it. Any other failure is bytes that no prefix of a message could be. (The words are pinned
 * by test/unit/truncated-message.test.ts, so an upgrade of cborg that changes them fails there.)
 */
const RAN_OUT = /did not find any content|not enough data|not enough entries|tag content missing/

/** Whether `err`, thrown by cborg's decoder, says the bytes ended too soon. */
export const ranOutOfBytes = (err: unknown): boolean => err instanceof Error && RAN_OUT.test(err.message)

/** The named error for bytes that did not decode as CBOR: TruncatedMessageError when they only ended too soon. */
export function cborDecodeError (err: unknown, what: string): MalformedMessageError | TruncatedMessageError {
  const message = `${what} is not DAG-CBOR: ${(err as Error)?.message ?? String(err)}`
  return ranOutOfBytes(err) ? new TruncatedMessageError(message) : new MalformedMessageError(message)
}

export interface WireError { name: string, code?: string, message: string }

export function toWireError (err: unknown): WireError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    return { name: err.name, message: err.message, ...(typeof code === 'string' ? { code } : {}) }
  }
  return { name: 'Error', message: String(err) }
}

export type MessageRejectCode = 'MALFORMED' | 'OUT_OF_RANGE' | 'BAD_SIGNATURE' | 'NONCE' | 'FUNDS' | 'GAS' | 'SENDER'

/** A Filecoin message broke a rule before or while being applied: it changes no state. */
export class MessageRejectedError extends Error {
  static override name = 'MessageRejectedError'
  override name = 'MessageRejectedError'
  constructor (readonly code: MessageRejectCode, message: string) { super(message) }
}

export class MalformedChainMessageError extends MessageRejectedError {
  static override name = 'MalformedChainMessageError'
  override name = 'MalformedChainMessageError'
  constructor (message: string) { super('MALFORMED', `malformed message: ${message}`) }
}

export class MessageOutOfRangeError extends MessageRejectedError {
  static override name = 'MessageOutOfRangeError'
  override name = 'MessageOutOfRangeError'
  constructor (message: string) { super('OUT_OF_RANGE', message) }
}

export class MessageSignatureError extends MessageRejectedError {
  static override name = 'MessageSignatureError'
  override name = 'MessageSignatureError'
  constructor (message: string) { super('BAD_SIGNATURE', message) }
}

export class NonceError extends MessageRejectedError {
  static override name = 'NonceError'
  override name = 'NonceError'
  constructor (readonly expected: number, readonly actual: number) {
    super('NONCE', `nonce ${actual} is not the sender's next nonce ${expected}`)
  }
}

/** A block carries a message whose sender is no account actor in the state it applies to (Lotus checkBlockMessages). */
export class SenderNotAccountError extends MessageRejectedError {
  static override name = 'SenderNotAccountError'
  override name = 'SenderNotAccountError'
  constructor (readonly sender: string) { super('SENDER', `sender ${sender} is not an account actor in the block's parent state`) }
}

export class InsufficientFundsError extends MessageRejectedError {
  static override name = 'InsufficientFundsError'
  override name = 'InsufficientFundsError'
  constructor (readonly needed: bigint, readonly balance: bigint) {
    super('FUNDS', `needs ${needed} attoFIL, sender has ${balance}`)
  }
}

/**
 * A block whose messages together ask for more gas than a block may hold (Lotus's checkBlockMessages:
 * "block gas limit exceeded"; build.BlockGasLimit). The whole block is invalid, whatever its messages do.
 */
export class BlockGasLimitError extends Error {
  static override name = 'BlockGasLimitError'
  override name = 'BlockGasLimitError'
  readonly code = 'BLOCK_GAS_LIMIT'
  constructor (readonly gasLimit: number, readonly limit: number) {
    super(`block gas limit exceeded: its messages ask for ${gasLimit} gas, a block holds ${limit}`)
  }
}

/** A write refused for want of room: no space left on the device (ENOSPC), or over the user's disk quota (EDQUOT). */
export function isDiskFullError (err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return code === 'ENOSPC' || code === 'EDQUOT'
}

/**
 * A decoded value, for an error's message, that never throws itself: `String(v)` throws on a decoded map whose key
 * "toString" holds no function (found by the long fuzz run: decodeMessage's version field), and a template literal
 * on it too. Numbers, strings, booleans and null as they are; bytes, lists and maps by kind.
 */
export function shownValue (v: unknown): string {
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean' || v === null || v === undefined) return String(v)
  if (typeof v === 'string') return JSON.stringify(v.length > 64 ? `${v.slice(0, 64)}…` : v)
  if (v instanceof Uint8Array) return `${v.length} bytes`
  if (Array.isArray(v)) return `a list of ${v.length}`
  return 'a map'
}
