// A provider's storage ask. The first eight fields are Filecoin's StorageAsk (go-fil-markets: Price per
// GiB per epoch, VerifiedPrice, MinPieceSize, MaxPieceSize, Miner, Timestamp, Expiry, SeqNo); Coffer
// appends the free space, the collateral per GiB the provider puts up, its retrieval terms and its HTTP gateway's
// URL, and the worker key signs the CBOR of the whole tuple, so a relayed ask cannot be changed on the way.
import * as dagCbor from '@ipld/dag-cbor'
import { encodeBigInt, decodeBigInt } from '../token'
import { validateAddressBytes } from '../address'
import { encodeSignature, decodeSignature, type Signature } from '../signature'
import { signAs, signedBy } from '../signer'
import type { AttoFil, Epoch } from '../units'

export const GIB = 2 ** 30

export interface StorageAsk {
  pricePerGiBEpoch: AttoFil
  verifiedPricePerGiBEpoch: AttoFil
  minPieceSize: number
  maxPieceSize: number
  miner: Uint8Array
  timestamp: Epoch
  expiry: Epoch
  seqNo: number
  freeBytes: number
  collateralPerGiB: AttoFil
  /**
   * Retrieval terms. Filecoin kept these in a separate retrieval ask (go-fil-markets retrievalmarket.Ask:
   * PricePerByte, UnsealPrice, PaymentInterval, PaymentIntervalIncrease); Coffer signs them in the same ask,
   * priced per GiB like storage (0 = free retrieval, no channel needed). Coffer stores payloads unsealed, so
   * there is no unseal price.
   */
  retrievalPricePerGiB: AttoFil
  /** Bytes the provider sends before it wants the first voucher. */
  paymentInterval: number
  /** Bytes each later interval grows by (go-fil-markets Params.NextInterval). */
  paymentIntervalIncrease: number
  /**
   * Where the provider serves the IPFS Trustless Gateway (`/ipfs/{cid}`) and FRC-0066 (`/piece/{pieceCid}`): an
   * http(s) URL with no path, query or fragment; absent when it serves no HTTP. Filecoin announces this through
   * IPNI's HTTP provider records; Coffer signs it in the ask, beside the retrieval terms it is paid under.
   */
  gatewayUrl?: string
}

/** The longest gateway URL an ask carries (a host name is at most 253 characters). */
export const MAX_GATEWAY_URL_CHARS = 512

export interface SignedStorageAsk { ask: StorageAsk, signature: Signature }

export class InvalidAskError extends Error {
  static override name = 'InvalidAskError'
  override name = 'InvalidAskError'
}

const tuple = (a: StorageAsk): unknown[] => [
  encodeBigInt(a.pricePerGiBEpoch), encodeBigInt(a.verifiedPricePerGiBEpoch), a.minPieceSize, a.maxPieceSize, a.miner,
  a.timestamp, a.expiry, a.seqNo, a.freeBytes, encodeBigInt(a.collateralPerGiB),
  encodeBigInt(a.retrievalPricePerGiB), a.paymentInterval, a.paymentIntervalIncrease,
  // one encoding per ask: no gateway is the empty string, never a shorter tuple
  a.gatewayUrl ?? ''
]

const FIELDS = 14

/** An http(s) origin (scheme, host, optional port; no credentials, path, query or fragment), or InvalidAskError. */
export function checkGatewayUrl (url: string): string {
  if (url.length > MAX_GATEWAY_URL_CHARS) throw new InvalidAskError(`ask gatewayUrl is longer than ${MAX_GATEWAY_URL_CHARS} characters`)
  let u: URL
  try { u = new URL(url) } catch { throw new InvalidAskError(`ask gatewayUrl ${url} is not a URL`) }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.username !== '' || u.password !== '' || u.search !== '' || u.hash !== '' || u.pathname !== '/' || url !== u.origin) {
    throw new InvalidAskError(`ask gatewayUrl ${url} is not an http(s) origin written as one (scheme://host[:port], no path)`)
  }
  return url
}

export const encodeStorageAsk = (a: StorageAsk): Uint8Array => dagCbor.encode(tuple(a))

export function signStorageAsk (workerKey: Uint8Array, worker: Uint8Array, ask: StorageAsk): SignedStorageAsk {
  // what the provider signs decodes: an ask with a gateway URL its readers would refuse is never sent
  if (ask.gatewayUrl !== undefined) checkGatewayUrl(ask.gatewayUrl)
  return { ask, signature: signAs(workerKey, worker, encodeStorageAsk(ask)) }
}

export const encodeSignedStorageAsk = (s: SignedStorageAsk): Uint8Array => dagCbor.encode([tuple(s.ask), encodeSignature(s.signature)])

export function decodeSignedStorageAsk (bytes: Uint8Array): SignedStorageAsk {
  let raw: unknown
  try { raw = dagCbor.decode(bytes) } catch (err) { throw new InvalidAskError(`ask is not DAG-CBOR: ${(err as Error).message}`) }
  const [t, sig] = Array.isArray(raw) && raw.length === 2 ? raw as unknown[] : []
  if (!Array.isArray(t) || t.length !== FIELDS || !(sig instanceof Uint8Array)) throw new InvalidAskError(`ask is not [[${FIELDS} fields], Signature]`)
  const [price, vprice, min, max, miner, ts, expiry, seq, free, coll, rprice, interval, increase, gateway] = t as unknown[]
  const uint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
  const big = (v: unknown): bigint => {
    if (!(v instanceof Uint8Array)) throw new InvalidAskError('ask amount is not a big int')
    const n = decodeBigInt(v)
    if (n < 0n) throw new InvalidAskError('ask amount is negative')
    return n
  }
  if (!uint(min) || !uint(max) || !(miner instanceof Uint8Array) || !uint(ts) || !uint(expiry) || !uint(seq) || !uint(free) || !uint(interval) || !uint(increase)) throw new InvalidAskError('ask fields have the wrong types')
  // a zero interval would have the provider want a voucher before its first byte, and never grow
  if (interval === 0) throw new InvalidAskError('ask paymentInterval is zero')
  if (typeof gateway !== 'string') throw new InvalidAskError('ask gatewayUrl is not a string')
  if (gateway !== '') checkGatewayUrl(gateway)
  try {
    return {
      ask: {
        pricePerGiBEpoch: big(price), verifiedPricePerGiBEpoch: big(vprice), minPieceSize: min, maxPieceSize: max, miner: validateAddressBytes(miner), timestamp: ts, expiry, seqNo: seq, freeBytes: free, collateralPerGiB: big(coll),
        retrievalPricePerGiB: big(rprice), paymentInterval: interval, paymentIntervalIncrease: increase,
        ...(gateway === '' ? {} : { gatewayUrl: gateway })
      },
      signature: decodeSignature(sig)
    }
  } catch (err) {
    if (err instanceof InvalidAskError) throw err
    throw new InvalidAskError(`ask: ${(err as Error).message}`)
  }
}

/** Throws unless the ask is signed by `worker` (the provider's on-chain worker key) and not expired at `epoch`. */
export function verifyStorageAsk (s: SignedStorageAsk, worker: Uint8Array, epoch: Epoch): void {
  if (!signedBy(worker, encodeStorageAsk(s.ask), s.signature)) throw new InvalidAskError('ask is not signed by the provider\'s worker key')
  if (s.ask.expiry < epoch) throw new InvalidAskError(`ask expired at epoch ${s.ask.expiry}`)
}

const perGiB = (amount: AttoFil, paddedBytes: number): AttoFil => (amount * BigInt(paddedBytes) + BigInt(GIB) - 1n) / BigInt(GIB)

/** What a piece of `paddedBytes` costs per epoch at this ask (rounded up to the attoFIL). */
export const askPricePerEpoch = (a: Pick<StorageAsk, 'pricePerGiBEpoch'>, paddedBytes: number): AttoFil => perGiB(a.pricePerGiBEpoch, paddedBytes)
/** The collateral the provider puts up for a piece of `paddedBytes`. */
export const askCollateral = (a: Pick<StorageAsk, 'collateralPerGiB'>, paddedBytes: number): AttoFil => perGiB(a.collateralPerGiB, paddedBytes)
/**
 * What retrieving `bytes` of block data costs at this ask: ceil(bytes × price / 2^30) attoFIL. The bytes are
 * those of every block sent (CAR section payloads, DAG nodes included), so a file's quote is its payload size.
 */
export function retrievalPrice (a: Pick<StorageAsk, 'retrievalPricePerGiB'>, bytes: number): AttoFil {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`retrieval bytes must be a non-negative integer, not ${bytes}`)
  return perGiB(a.retrievalPricePerGiB, bytes)
}
