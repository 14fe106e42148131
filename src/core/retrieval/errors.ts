// Named failures of retrieval verification: each is one way a provider (or its CAR stream) can lie or break
// a limit. Callers branch on `.name` or `.code`; every one of them means "drop this provider at this block".
import type { CID } from 'multiformats/cid'
import { shownValue } from '../errors'

export type RetrievalVerifyCode =
  | 'CAR_HEADER'
  | 'CAR_HEADER_TOO_LARGE'
  | 'CAR_VERSION'
  | 'CAR_ROOT_MISMATCH'
  | 'CAR_SECTION'
  | 'CAR_SECTION_TOO_LARGE'
  | 'CAR_TRUNCATED'
  | 'UNEXPECTED_BLOCK'
  | 'HASH_MISMATCH'
  | 'UNSUPPORTED_HASH'
  | 'EXCESS_DATA'
  | 'INCOMPLETE_DAG'
  | 'MALFORMED_BLOCK'
  | 'UNSUPPORTED_CODEC'
  | 'NOT_A_FILE'
  | 'LINK_COUNT'
  | 'FILE_SIZE_MISMATCH'
  | 'BLOCK_SIZE_MISMATCH'
  | 'BLOCK_TOO_LARGE'
  | 'DAG_TOO_DEEP'
  | 'TOO_MANY_LINKS'
  | 'FILE_TOO_LARGE'
  | 'RANGE_NOT_SATISFIABLE'

/** The base of every named failure below; `code` is stable across postMessage and logs. */
export class RetrievalVerifyError extends Error {
  static override name = 'RetrievalVerifyError'
  override name = 'RetrievalVerifyError'
  constructor (readonly code: RetrievalVerifyCode, message: string) {
    super(message)
  }
}

const str = (cid: CID | null | undefined): string => cid === null || cid === undefined ? 'nothing' : cid.toString()

// ---- CAR framing (car-stream.ts) ----

/** The CAR header is not `varint | dag-cbor {version, roots: [CID…]}`. */
export class CarHeaderError extends RetrievalVerifyError {
  static override name = 'CarHeaderError'
  override name = 'CarHeaderError'
  constructor (readonly reason: string) { super('CAR_HEADER', `bad CAR header: ${reason}`) }
}

export class CarHeaderTooLargeError extends RetrievalVerifyError {
  static override name = 'CarHeaderTooLargeError'
  override name = 'CarHeaderTooLargeError'
  constructor (readonly length: number, readonly limit: number) {
    super('CAR_HEADER_TOO_LARGE', `CAR header of ${length} bytes exceeds the ${limit}-byte limit`)
  }
}

/** Retrieval streams are CAR v1 only (the header names the roots; a v2 pragma or anything else is refused). */
export class CarVersionError extends RetrievalVerifyError {
  static override name = 'CarVersionError'
  override name = 'CarVersionError'
  constructor (readonly version: unknown) { super('CAR_VERSION', `CAR version ${shownValue(version)}, expected 1`) }
}

/** The header's roots are not exactly the root that was requested. */
export class CarRootMismatchError extends RetrievalVerifyError {
  static override name = 'CarRootMismatchError'
  override name = 'CarRootMismatchError'
  constructor (readonly expected: CID, readonly roots: readonly CID[]) {
    super('CAR_ROOT_MISMATCH', `CAR header names roots [${roots.map(r => r.toString()).join(', ')}], expected [${expected.toString()}]`)
  }
}

/** A section that is not `varint(len) | CID | bytes` (zero length, a varint that is not minimal, no CID). */
export class CarSectionError extends RetrievalVerifyError {
  static override name = 'CarSectionError'
  override name = 'CarSectionError'
  constructor (readonly reason: string, readonly offset: number) { super('CAR_SECTION', `bad CAR section at byte ${offset}: ${reason}`) }
}

/** A section length above the limit, refused before anything is allocated for it. */
export class CarSectionTooLargeError extends RetrievalVerifyError {
  static override name = 'CarSectionTooLargeError'
  override name = 'CarSectionTooLargeError'
  constructor (readonly length: number, readonly limit: number, readonly offset: number) {
    super('CAR_SECTION_TOO_LARGE', `CAR section of ${length} bytes at byte ${offset} exceeds the ${limit}-byte limit`)
  }
}

/** The stream ended inside the header or inside a section. */
export class CarTruncatedError extends RetrievalVerifyError {
  static override name = 'CarTruncatedError'
  override name = 'CarTruncatedError'
  constructor (readonly within: 'header' | 'section', readonly offset: number) {
    super('CAR_TRUNCATED', `CAR stream ends inside a ${within} at byte ${offset}`)
  }
}

// ---- the verifier (car-verifier.ts) ----

/** A block other than the one the DAG walk needs next (out of order, never asked for, or re-sent). */
export class UnexpectedBlockError extends RetrievalVerifyError {
  static override name = 'UnexpectedBlockError'
  override name = 'UnexpectedBlockError'
  constructor (readonly expected: CID | null, readonly actual: CID) {
    super('UNEXPECTED_BLOCK', `received block ${actual.toString()}, expected ${str(expected)}`)
  }
}

/** The block's bytes do not hash to the digest in its CID. */
export class HashMismatchError extends RetrievalVerifyError {
  static override name = 'HashMismatchError'
  override name = 'HashMismatchError'
  constructor (readonly cid: CID) { super('HASH_MISMATCH', `block ${cid.toString()} does not hash to its CID`) }
}

/** The CID names a multihash the verifier cannot compute (sha2-256 is the one always supported). */
export class UnsupportedHashError extends RetrievalVerifyError {
  static override name = 'UnsupportedHashError'
  override name = 'UnsupportedHashError'
  constructor (readonly cid: CID, readonly hashCode: number) {
    super('UNSUPPORTED_HASH', `block ${cid.toString()} uses multihash 0x${hashCode.toString(16)}, which this verifier does not compute`)
  }
}

/** Bytes arrived after the walk was complete: more than was requested. */
export class ExcessDataError extends RetrievalVerifyError {
  static override name = 'ExcessDataError'
  override name = 'ExcessDataError'
  constructor (readonly bytes: number) { super('EXCESS_DATA', `${bytes} bytes after the last block the request needs`) }
}

/** The stream ended cleanly between sections, but the walk still needs `next`. */
export class IncompleteDagError extends RetrievalVerifyError {
  static override name = 'IncompleteDagError'
  override name = 'IncompleteDagError'
  constructor (readonly next: CID, readonly nextFileOffset: number) {
    super('INCOMPLETE_DAG', `stream ended before block ${next.toString()} (verified up to file byte ${nextFileOffset})`)
  }
}

// ---- the UnixFS walk (unixfs-walk.ts) ----

/** Not a dag-pb node, no UnixFS Data, a UnixFS protobuf that does not decode, a named file link. */
export class MalformedBlockError extends RetrievalVerifyError {
  static override name = 'MalformedBlockError'
  override name = 'MalformedBlockError'
  constructor (readonly cid: CID, readonly reason: string) { super('MALFORMED_BLOCK', `block ${cid.toString()}: ${reason}`) }
}

/** A codec a UnixFS file cannot contain (only dag-pb, raw, and identity CIDs of those). */
export class UnsupportedCodecError extends RetrievalVerifyError {
  static override name = 'UnsupportedCodecError'
  override name = 'UnsupportedCodecError'
  constructor (readonly cid: CID) { super('UNSUPPORTED_CODEC', `block ${cid.toString()} has codec 0x${cid.code.toString(16)}, not dag-pb or raw`) }
}

/** A UnixFS node that is not a file (a directory, symlink, HAMT shard…), at the root or inside a file. */
export class NotAFileError extends RetrievalVerifyError {
  static override name = 'NotAFileError'
  override name = 'NotAFileError'
  constructor (readonly cid: CID, readonly unixfsType: string, readonly isRoot: boolean) {
    super('NOT_A_FILE', `${isRoot ? 'root' : 'block'} ${cid.toString()} is a UnixFS ${unixfsType}; only files can be retrieved`)
  }
}

/** `Links` and `blocksizes` are sister lists and must be the same length (UnixFS spec: MUST reject). */
export class LinkCountMismatchError extends RetrievalVerifyError {
  static override name = 'LinkCountMismatchError'
  override name = 'LinkCountMismatchError'
  constructor (readonly cid: CID, readonly links: number, readonly blockSizes: number) {
    super('LINK_COUNT', `block ${cid.toString()} has ${links} links but ${blockSizes} blocksizes`)
  }
}

/** A node's `filesize` is not the length of its data plus the sum of its blocksizes. */
export class FileSizeMismatchError extends RetrievalVerifyError {
  static override name = 'FileSizeMismatchError'
  override name = 'FileSizeMismatchError'
  constructor (readonly cid: CID, readonly declared: bigint, readonly computed: bigint) {
    super('FILE_SIZE_MISMATCH', `block ${cid.toString()} declares filesize ${declared} but its data and blocksizes add up to ${computed}`)
  }
}

/** A child carries a different number of file bytes than its parent's blocksize for it said. */
export class BlockSizeMismatchError extends RetrievalVerifyError {
  static override name = 'BlockSizeMismatchError'
  override name = 'BlockSizeMismatchError'
  constructor (readonly cid: CID, readonly expected: number, readonly actual: number) {
    super('BLOCK_SIZE_MISMATCH', `block ${cid.toString()} carries ${actual} file bytes, its parent said ${expected}`)
  }
}

export class BlockTooLargeError extends RetrievalVerifyError {
  static override name = 'BlockTooLargeError'
  override name = 'BlockTooLargeError'
  constructor (readonly cid: CID, readonly length: number, readonly limit: number) {
    super('BLOCK_TOO_LARGE', `block ${cid.toString()} is ${length} bytes, above the ${limit}-byte limit`)
  }
}

export class DagTooDeepError extends RetrievalVerifyError {
  static override name = 'DagTooDeepError'
  override name = 'DagTooDeepError'
  constructor (readonly cid: CID, readonly limit: number) {
    super('DAG_TOO_DEEP', `block ${cid.toString()} links below the depth limit of ${limit}`)
  }
}

export class TooManyLinksError extends RetrievalVerifyError {
  static override name = 'TooManyLinksError'
  override name = 'TooManyLinksError'
  constructor (readonly cid: CID, readonly links: number, readonly limit: number) {
    super('TOO_MANY_LINKS', `block ${cid.toString()} has ${links} links, above the limit of ${limit}`)
  }
}

/** Sizes beyond 2^53 - 1 bytes: offsets are JS numbers, and no real file comes near. */
export class FileTooLargeError extends RetrievalVerifyError {
  static override name = 'FileTooLargeError'
  override name = 'FileTooLargeError'
  constructor (readonly cid: CID, readonly size: bigint) {
    super('FILE_TOO_LARGE', `block ${cid.toString()} claims ${size} bytes, beyond 2^53 - 1`)
  }
}

/** The requested range reaches past the end of the file (known once the root is decoded). */
export class RangeNotSatisfiableError extends RetrievalVerifyError {
  static override name = 'RangeNotSatisfiableError'
  override name = 'RangeNotSatisfiableError'
  constructor (readonly from: number, readonly to: number, readonly fileSize: number) {
    super('RANGE_NOT_SATISFIABLE', `range [${from}, ${to}) is outside the file of ${fileSize} bytes`)
  }
}
