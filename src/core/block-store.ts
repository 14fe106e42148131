// Content-addressed blocks for Filecoin's IPLD structures (HAMT, AMT, state root). Proofs are sets of
// blocks: a verifier walks the same structure from a trusted root through a ProofBlockStore, which only
// hands out blocks whose bytes hash to the CID asked for, so a lying server can only fail the walk.
import { CID, chainCid } from './cid'

export interface BlockGetter { get: (cid: CID) => Uint8Array | undefined }
export interface BlockStore extends BlockGetter { put: (bytes: Uint8Array) => CID }

export class ProofIncompleteError extends Error {
  static override name = 'ProofIncompleteError'
  override name = 'ProofIncompleteError'
  constructor (readonly missing: string) { super(`proof lacks block ${missing} (or it does not hash to its CID)`) }
}

export class MemoryBlockStore implements BlockStore {
  readonly blocks = new Map<string, Uint8Array>()
  /** Blocks put and not yet reported `persisted`: what a caller must still write. */
  private readonly fresh = new Map<string, Uint8Array>()

  get (cid: CID): Uint8Array | undefined { return this.blocks.get(cid.toString()) }

  put (bytes: Uint8Array): CID {
    const cid = chainCid(bytes)
    const key = cid.toString()
    if (!this.blocks.has(key)) {
      // a view into a larger buffer (a block decoded out of a chain-exchange answer, a CAR, an encoder's chunk)
      // is copied: kept as it is, it would keep the whole buffer alive for as long as the block (copied by the
      // constructor: a Node Buffer's slice() is another view, and cborg's output is often a view into Node's pool)
      const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes)
      this.blocks.set(key, own)
      this.fresh.set(key, own)
    }
    return cid
  }

  /** How many blocks, their bytes, and the bytes of the buffers holding them (what they keep alive). */
  footprint (): { blocks: number, bytes: number, bufferBytes: number } {
    let bytes = 0
    const buffers = new Set<ArrayBufferLike>()
    for (const b of this.blocks.values()) { bytes += b.byteLength; buffers.add(b.buffer) }
    let bufferBytes = 0
    for (const buf of buffers) bufferBytes += buf.byteLength
    return { blocks: this.blocks.size, bytes, bufferBytes }
  }

  /**
   * A snapshot of the blocks still to write. They stay listed until `persisted` is called with them, so a
   * failed write loses nothing: the next snapshot offers them again.
   */
  unpersisted (): Map<string, Uint8Array> { return new Map(this.fresh) }

  persisted (written: Iterable<string>): void {
    for (const key of written) this.fresh.delete(key)
  }
}

/** Records each block a walk reads, so the same walk can be replayed by a verifier. */
export class RecordingGetter implements BlockGetter {
  readonly read = new Map<string, Uint8Array>()
  constructor (private readonly inner: BlockGetter) {}
  get (cid: CID): Uint8Array | undefined {
    const bytes = this.inner.get(cid)
    if (bytes !== undefined) this.read.set(cid.toString(), bytes)
    return bytes
  }

  blocks (): Uint8Array[] { return [...this.read.values()] }
}

/** The untrusted side of a proof: blocks are indexed by their own hash, never by what the sender claims. */
export class ProofBlockStore implements BlockGetter {
  private readonly byCid = new Map<string, Uint8Array>()
  constructor (blocks: Uint8Array[]) {
    for (const b of blocks) this.byCid.set(chainCid(b).toString(), b)
  }

  get (cid: CID): Uint8Array {
    const bytes = this.byCid.get(cid.toString())
    if (bytes === undefined) throw new ProofIncompleteError(cid.toString())
    return bytes
  }
}

/** Reads a block a structure links to; a missing one is a ProofIncompleteError. */
export function mustGet (store: BlockGetter, cid: CID): Uint8Array {
  const bytes = store.get(cid)
  if (bytes === undefined) throw new ProofIncompleteError(cid.toString())
  return bytes
}
