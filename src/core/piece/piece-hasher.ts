// Streaming CommP: the payload goes in as chunks of any size and only a fixed-size batch buffer plus one
// pending node per tree level is held, so memory stays flat whatever the piece size. Payload bytes are
// FR32-padded in batches of 256 × 127 bytes (1,024 leaves); each full batch is hashed as one subtree with
// the NodeHasher's batch call, the tail leaf by leaf, and the zero padding up to a power of two comes from
// the known zero-subtree roots.
import { fr32Pad, FR32_IN_BYTES, FR32_OUT_BYTES } from './fr32'
import { nobleNodeHasher, truncatedNode, type NodeHasher } from './node-hash'
import { zeroComm, liftRoot } from './zero-comm'

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

/** The padded size of the piece `payloadBytes` make: FR32 leaves, rounded up to a power of two (at least 4). */
export function paddedPieceSize (payloadBytes: number): number {
  const leaves = Math.ceil(payloadBytes / FR32_IN_BYTES) * 4
  let height = 0
  while (2 ** height < Math.max(MIN_LEAVES, leaves)) height++
  return 32 * 2 ** height
}

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

/** A leaf's value and its Merkle path (siblings from the leaf level up), as a proof of possession carries them. */
export interface LeafPath { leaf: number, value: Uint8Array, path: Uint8Array[] }

interface Watch { leaf: number, value?: Uint8Array, path: Array<Uint8Array | undefined> }

/** The other child of the same parent (arithmetic, not `^ 1`: indexes can pass 2^31 in a 64 GiB piece). */
const sibling = (index: number): number => index % 2 === 0 ? index + 1 : index - 1

export class PieceHasher {
  private readonly input = new Uint8Array(BATCH_CHUNKS * FR32_IN_BYTES)
  private inputUsed = 0
  private readonly padded = new Uint8Array(BATCH_CHUNKS * FR32_OUT_BYTES)
  private readonly scratch = new Uint8Array(BATCH_LEAVES * 16)
  /** pending[h]: a left node at height h waiting for its right sibling. */
  private readonly pending: Array<Uint8Array | undefined> = []
  private leaves = 0
  private payloadBytes = 0
  private readonly watches: Watch[]
  private finished: PieceDigest | undefined

  /**
   * `watchLeaves`: leaf indexes whose value and Merkle path to keep while the tree is built, so a proof
   * of possession needs one pass over the bytes and no stored tree.
   */
  constructor (private readonly hasher: NodeHasher = nobleNodeHasher, watchLeaves: number[] = []) {
    this.watches = watchLeaves.map(leaf => ({ leaf, path: [] }))
  }

  write (chunk: Uint8Array): void {
    if (this.finished !== undefined) throw new Error('this piece is already digested')
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
    return this.finish()
  }

  /**
   * The root of what was written as a subtree of `height` (zeros after it): one segment of a piece split
   * across workers, which may be shorter than a whole piece may be.
   */
  rootAt (height: number): Uint8Array {
    if (this.payloadBytes === 0) throw new PieceTooSmallError(0)
    const d = this.finish()
    if (d.height > height) throw new RangeError(`${d.payloadBytes} bytes do not fit a subtree of height ${height}`)
    return liftRoot(d.root, d.height, height, this.hasher)
  }

  private finish (): PieceDigest {
    if (this.finished !== undefined) return this.finished
    const chunks = Math.ceil(this.inputUsed / FR32_IN_BYTES)
    this.input.fill(0, this.inputUsed, chunks * FR32_IN_BYTES)
    fr32Pad(this.input, 0, this.padded, 0, chunks)
    for (let l = 0; l < chunks * 4; l++) this.addNode(0, this.padded.slice(l * 32, l * 32 + 32), this.leaves + l)
    this.leaves += chunks * 4
    this.inputUsed = 0

    let height = 0
    while (2 ** height < Math.max(MIN_LEAVES, this.leaves)) height++
    // up the right edge: the last node holding real leaves at each height pairs with a zero subtree
    let node: Uint8Array | undefined
    for (let h = 0; h < height; h++) {
      const count = Math.ceil(this.leaves / 2 ** h)
      const left = this.pending[h]
      if (left !== undefined || node !== undefined) {
        if (left !== undefined && node !== undefined) node = this.pair(left, node)
        else {
          this.emit(h, count, zeroComm(h, this.hasher))
          node = this.pair(left ?? node!, zeroComm(h, this.hasher))
        }
        this.emit(h + 1, (count - 1) >> 1, node)
      }
    }
    const root = node ?? this.pending[height]!
    const paddedBytes = 32 * 2 ** height
    this.finished = { root, height, padding: paddedBytes / FR32_OUT_BYTES * FR32_IN_BYTES - this.payloadBytes, payloadBytes: this.payloadBytes, paddedBytes }
    return this.finished
  }

  /** The watched leaves' values and paths (after `digest`); leaves and siblings past the payload are zeros. */
  paths (): LeafPath[] {
    const d = this.digest()
    return this.watches.map(w => {
      if (w.leaf < 0 || w.leaf >= 2 ** d.height) throw new RangeError(`leaf ${w.leaf} is outside a piece of ${2 ** d.height} leaves`)
      const path: Uint8Array[] = []
      for (let h = 0; h < d.height; h++) path.push(w.path[h] ?? zeroComm(h, this.hasher))
      return { leaf: w.leaf, value: w.value ?? new Uint8Array(32), path }
    })
  }

  /** Keeps `node` (index `index` at height `h`) where a watched leaf needs it. */
  private emit (h: number, index: number, node: Uint8Array): void {
    for (const w of this.watches) {
      if (h === 0 && index === w.leaf) w.value = node.slice()
      if (sibling(Math.floor(w.leaf / 2 ** h)) === index) w.path[h] = node.slice()
    }
  }

  /** Emits the nodes of one batch level (`count` nodes from `first`) that watched leaves need. */
  private emitLevel (h: number, level: Uint8Array, first: number, count: number): void {
    for (const w of this.watches) {
      const want = [sibling(Math.floor(w.leaf / 2 ** h)), h === 0 ? w.leaf : -1]
      for (const index of want) {
        if (index >= first && index < first + count) this.emit(h, index, level.subarray((index - first) * 32, (index - first) * 32 + 32))
      }
    }
  }

  private hashFullBatch (): void {
    this.inputUsed = 0
    if (this.watches.length === 0 && this.hasher.subtreeRoot !== undefined) {
      this.addNode(BATCH_HEIGHT, this.hasher.subtreeRoot(this.input, BATCH_CHUNKS), this.leaves / BATCH_LEAVES)
      this.leaves += BATCH_LEAVES
      return
    }
    fr32Pad(this.input, 0, this.padded, 0, BATCH_CHUNKS)
    // the batch's 1,024 leaves to one subtree root, a level at a time
    let level = this.padded
    let count = BATCH_LEAVES
    for (let h = 0; h < BATCH_HEIGHT; h++) {
      if (this.watches.length > 0) this.emitLevel(h, level, this.leaves / 2 ** h, count)
      const out = h % 2 === 0 ? this.scratch : this.padded
      this.hasher.hashPairs(level, out, count / 2)
      level = out
      count /= 2
    }
    this.addNode(BATCH_HEIGHT, level.slice(0, 32), this.leaves / BATCH_LEAVES)
    this.leaves += BATCH_LEAVES
  }

  private pair (left: Uint8Array, right: Uint8Array): Uint8Array { return truncatedNode(left, right, this.hasher) }

  /** Places node `index` of height `height` (nodes arrive left to right), merging with pending left siblings. */
  private addNode (height: number, node: Uint8Array, index: number): void {
    let h = height
    let n = node
    let i = index
    if (this.watches.length > 0) this.emit(h, i, n)
    for (let left = this.pending[h]; left !== undefined; left = this.pending[h]) {
      this.pending[h] = undefined
      n = this.pair(left, n)
      h++
      i = Math.floor(i / 2)
      if (this.watches.length > 0) this.emit(h, i, n)
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
