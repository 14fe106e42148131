// Streaming CommP: the payload goes in as chunks of any size and only a fixed-size batch buffer plus one
// pending node per tree level is held, so memory stays flat whatever the piece size. Payload bytes are
// FR32-padded in batches of 256 × 127 bytes (1,024 leaves); each full batch is hashed as one subtree with
// the NodeHasher's batch call, the tail leaf by leaf, and the zero padding up to a power of two comes from
// the known zero-subtree roots.
import { fr32Pad, FR32_IN_BYTES, FR32_OUT_BYTES } from './fr32'
import { nobleNodeHasher, type NodeHasher } from './node-hash'
import { zeroComm } from './zero-comm'

/** FRC-0069: a payload must span more than two leaves. */
export const MIN_PIECE_PAYLOAD_BYTES = 65
/** Filecoin's largest sector is 64 GiB, so no piece can be larger once padded. */
export const MAX_PIECE_PADDED_BYTES = 64 * 2 ** 30
export const MAX_PIECE_PAYLOAD_BYTES = MAX_PIECE_PADDED_BYTES / FR32_OUT_BYTES * FR32_IN_BYTES
/** The smallest piece Filecoin has: 4 leaves, 128 padded bytes. */
const MIN_LEAVES = 4

const BATCH_CHUNKS = 256
const BATCH_LEAVES = BATCH_CHUNKS * 4
const BATCH_HEIGHT = 10 // log2(BATCH_LEAVES)

export class PieceTooSmallError extends RangeError {
  static override name = 'PieceTooSmallError'
  override name = 'PieceTooSmallError'
  constructor (readonly payloadBytes: number) { super(`a piece needs at least ${MIN_PIECE_PAYLOAD_BYTES} bytes of payload, got ${payloadBytes}`) }
}

export class PieceTooLargeError extends RangeError {
  static override name = 'PieceTooLargeError'
  override name = 'PieceTooLargeError'
  constructor () { super(`a piece holds at most ${MAX_PIECE_PAYLOAD_BYTES} payload bytes (64 GiB padded, Filecoin's largest sector)`) }
}

export interface PieceDigest {
  /** CommP: the root of the sha2-256-trunc254 tree over the FR32-padded payload. */
  root: Uint8Array
  /** log2 of the number of 32-byte leaves. */
  height: number
  /** Zero bytes appended to the payload to fill the unpadded piece (FRC-0069's `padding`). */
  padding: number
  payloadBytes: number
  /** 32 × 2^height: the padded piece size Filecoin deals and sectors count. */
  paddedBytes: number
}

export class PieceHasher {
  private readonly input = new Uint8Array(BATCH_CHUNKS * FR32_IN_BYTES)
  private inputUsed = 0
  private readonly padded = new Uint8Array(BATCH_CHUNKS * FR32_OUT_BYTES)
  private readonly scratch = new Uint8Array(BATCH_LEAVES * 16)
  /** pending[h]: a left node at height h waiting for its right sibling. */
  private readonly pending: Array<Uint8Array | undefined> = []
  private leaves = 0
  private payloadBytes = 0

  constructor (private readonly hasher: NodeHasher = nobleNodeHasher) {}

  write (chunk: Uint8Array): void {
    if (this.payloadBytes + chunk.length > MAX_PIECE_PAYLOAD_BYTES) throw new PieceTooLargeError()
    this.payloadBytes += chunk.length
    let at = 0
    while (at < chunk.length) {
      const take = Math.min(chunk.length - at, this.input.length - this.inputUsed)
      this.input.set(chunk.subarray(at, at + take), this.inputUsed)
      this.inputUsed += take
      at += take
      if (this.inputUsed === this.input.length) this.hashFullBatch()
    }
  }

  digest (): PieceDigest {
    if (this.payloadBytes < MIN_PIECE_PAYLOAD_BYTES) throw new PieceTooSmallError(this.payloadBytes)
    const chunks = Math.ceil(this.inputUsed / FR32_IN_BYTES)
    this.input.fill(0, this.inputUsed, chunks * FR32_IN_BYTES)
    fr32Pad(this.input, 0, this.padded, 0, chunks)
    for (let l = 0; l < chunks * 4; l++) this.addNode(0, this.padded.slice(l * 32, l * 32 + 32))
    this.leaves += chunks * 4
    this.inputUsed = 0

    let height = 0
    while (2 ** height < Math.max(MIN_LEAVES, this.leaves)) height++
    let node: Uint8Array | undefined
    for (let h = 0; h < height; h++) {
      const left = this.pending[h]
      if (left !== undefined) node = this.pair(left, node ?? zeroComm(h, this.hasher))
      else if (node !== undefined) node = this.pair(node, zeroComm(h, this.hasher))
    }
    const root = node ?? this.pending[height]!
    const paddedBytes = 32 * 2 ** height
    return { root, height, padding: paddedBytes / FR32_OUT_BYTES * FR32_IN_BYTES - this.payloadBytes, payloadBytes: this.payloadBytes, paddedBytes }
  }

  private hashFullBatch (): void {
    fr32Pad(this.input, 0, this.padded, 0, BATCH_CHUNKS)
    this.inputUsed = 0
    // the batch's 1,024 leaves to one subtree root, a level at a time, in place
    let level = this.padded
    let count = BATCH_LEAVES
    for (let h = 0; h < BATCH_HEIGHT; h++) {
      const out = h % 2 === 0 ? this.scratch : this.padded
      this.hasher.hashPairs(level, out, count / 2)
      level = out
      count /= 2
    }
    this.leaves += BATCH_LEAVES
    this.addNode(BATCH_HEIGHT, level.slice(0, 32))
  }

  private pair (left: Uint8Array, right: Uint8Array): Uint8Array {
    const input = new Uint8Array(64)
    input.set(left)
    input.set(right, 32)
    const out = new Uint8Array(32)
    this.hasher.hashPairs(input, out, 1)
    return out
  }

  /** Places a subtree root (leaves in left-to-right order), merging with pending left siblings upwards. */
  private addNode (height: number, node: Uint8Array): void {
    let h = height
    let n = node
    for (let left = this.pending[h]; left !== undefined; left = this.pending[h]) {
      this.pending[h] = undefined
      n = this.pair(left, n)
      h++
    }
    this.pending[h] = n
  }
}

/** CommP of a whole payload held in memory (tests, small pieces). */
export function pieceDigest (payload: Uint8Array, hasher?: NodeHasher): PieceDigest {
  const h = new PieceHasher(hasher)
  h.write(payload)
  return h.digest()
}
