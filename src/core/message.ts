// Filecoin's Message and SignedMessage: the 10-field CBOR tuple Lotus writes, its blake2b-256 CID, and
// signing as Lotus signs (secp256k1 and BLS both sign the CID bytes of the unsigned message).
// A secp message is addressed by the CID of the SignedMessage tuple; a BLS message by the CID of the
// bare Message, because blocks carry BLS messages unsigned beside one aggregate signature.
import * as dagCbor from '@ipld/dag-cbor'
import { CID, chainCid } from './cid'
import { encodeBigInt, decodeBigInt, TOTAL_FIL_ATTO } from './token'
import { validateAddressBytes, Protocol } from './address'
import { encodeSignature, decodeSignature, SIG_TYPE_BLS, type Signature } from './signature'
import { signAs, signedBy } from './signer'
import { MalformedChainMessageError, MessageOutOfRangeError, MessageSignatureError, shownValue } from './errors'
import type { AttoFil, GasUnits } from './units'

export interface Message {
  version: number
  to: Uint8Array
  from: Uint8Array
  nonce: number
  value: AttoFil
  gasLimit: GasUnits
  gasFeeCap: AttoFil
  gasPremium: AttoFil
  method: number
  params: Uint8Array
}

export interface SignedMessage { message: Message, signature: Signature }

/** Lotus's build.BlockGasLimit: no single message may ask for more. */
export const BLOCK_GAS_LIMIT: GasUnits = 10_000_000_000
/** Messages larger than this are refused, as Lotus's mpool refuses them (32 KiB). */
export const MAX_MESSAGE_BYTES = 32 * 1024
export const METHOD_SEND = 0

function tuple (m: Message): unknown[] {
  return [m.version, m.to, m.from, m.nonce, encodeBigInt(m.value), m.gasLimit, encodeBigInt(m.gasFeeCap),
    encodeBigInt(m.gasPremium), m.method, m.params]
}

export function encodeMessage (m: Message): Uint8Array { return dagCbor.encode(tuple(m)) }
export function messageCid (m: Message): CID { return chainCid(encodeMessage(m)) }

export function encodeSignedMessage (sm: SignedMessage): Uint8Array {
  return dagCbor.encode([tuple(sm.message), encodeSignature(sm.signature)])
}

export function signedMessageCid (sm: SignedMessage): CID {
  return sm.signature.type === SIG_TYPE_BLS ? messageCid(sm.message) : chainCid(encodeSignedMessage(sm))
}

const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0

function messageFromTuple (raw: unknown): Message {
  if (!Array.isArray(raw) || raw.length !== 10) throw new MalformedChainMessageError('expected a 10-field tuple')
  const [version, to, from, nonce, value, gasLimit, feeCap, premium, method, params] = raw as unknown[]
  if (version !== 0) throw new MalformedChainMessageError(`unknown version ${shownValue(version)}`)
  const bytes = (v: unknown, name: string): Uint8Array => {
    if (!(v instanceof Uint8Array)) throw new MalformedChainMessageError(`field ${name} is not bytes`)
    return v
  }
  const address = (v: unknown, name: string): Uint8Array => {
    try { return validateAddressBytes(bytes(v, name)) } catch (err) { throw new MalformedChainMessageError(`field ${name}: ${(err as Error).message}`) }
  }
  const big = (v: unknown, name: string): bigint => {
    try { return decodeBigInt(bytes(v, name)) } catch (err) { throw new MalformedChainMessageError(`field ${name}: ${(err as Error).message}`) }
  }
  if (!isUint(nonce)) throw new MalformedChainMessageError('field Nonce is not an unsigned integer')
  if (typeof gasLimit !== 'number' || !Number.isSafeInteger(gasLimit)) throw new MalformedChainMessageError('field GasLimit is not an integer')
  if (!isUint(method)) throw new MalformedChainMessageError('field Method is not an unsigned integer')
  return {
    version, to: address(to, 'To'), from: address(from, 'From'), nonce, value: big(value, 'Value'), gasLimit,
    gasFeeCap: big(feeCap, 'GasFeeCap'), gasPremium: big(premium, 'GasPremium'), method, params: bytes(params, 'Params')
  }
}

function decodeCbor (bytes: Uint8Array): unknown {
  if (bytes.length > MAX_MESSAGE_BYTES) throw new MessageOutOfRangeError(`message of ${bytes.length} bytes exceeds ${MAX_MESSAGE_BYTES}`)
  try { return dagCbor.decode(bytes) } catch (err) { throw new MalformedChainMessageError(`not DAG-CBOR (${(err as Error).message})`) }
}

export function decodeMessage (bytes: Uint8Array): Message {
  return messageFromTuple(decodeCbor(bytes))
}

export function decodeSignedMessage (bytes: Uint8Array): SignedMessage {
  const raw = decodeCbor(bytes)
  if (!Array.isArray(raw) || raw.length !== 2 || !(raw[1] instanceof Uint8Array) || raw[1].length < 1) {
    throw new MalformedChainMessageError('expected [Message, Signature]')
  }
  return { message: messageFromTuple(raw[0]), signature: decodeSignature(raw[1]) }
}

/**
 * Lotus's Message.ValidForBlockInclusion: amounts within total supply and non-negative, premium not
 * above fee cap, a gas limit a block can hold. Checked before anything is applied.
 */
export function validateMessageFields (m: Message): void {
  const amount = (v: bigint, name: string): void => {
    if (v < 0n) throw new MessageOutOfRangeError(`${name} is negative`)
    if (v > TOTAL_FIL_ATTO) throw new MessageOutOfRangeError(`${name} exceeds Filecoin's total supply`)
  }
  amount(m.value, 'Value')
  amount(m.gasFeeCap, 'GasFeeCap')
  amount(m.gasPremium, 'GasPremium')
  if (m.gasPremium > m.gasFeeCap) throw new MessageOutOfRangeError('GasPremium is above GasFeeCap')
  if (m.gasLimit <= 0 || m.gasLimit > BLOCK_GAS_LIMIT) throw new MessageOutOfRangeError(`GasLimit must be in 1..${BLOCK_GAS_LIMIT}`)
  if (m.from[0] === Protocol.ACTOR || m.from[0] === Protocol.DELEGATED) throw new MessageOutOfRangeError('sender must be an account (f0, f1 or f3)')
}

/** Signs as `lotus wallet sign` does for messages: over the CID bytes of the unsigned message. */
export function signMessage (secretKey: Uint8Array, m: Message): SignedMessage {
  return { message: m, signature: signAs(secretKey, m.from, messageCid(m).bytes) }
}

/** Throws MessageSignatureError unless the signature is From's key signing this message's CID. */
export function verifyMessageSignature (sm: SignedMessage): void {
  if (!signedBy(sm.message.from, messageCid(sm.message).bytes, sm.signature)) {
    throw new MessageSignatureError(`signature does not match sender of message ${String(messageCid(sm.message))}`)
  }
}
