// Verified state reads over a node's JSON-RPC (what `coffer retrieve` reads its payment channels with): a core read
// run over blocks fetched one by one with ChainReadObj, each checked against its CID before it is used, so a node
// can withhold the state but not lie about it.
import { base64pad } from 'multiformats/bases/base64'
import { CID, chainCid, ProofIncompleteError, type BlockGetter } from '../core'

/** How many verified blocks one client keeps between reads. */
export const RPC_BLOCK_CACHE_ENTRIES = 4096

/** A node answered ChainReadObj for a CID with bytes that hash to another. */
export class RpcBlockMismatchError extends Error {
  static override name = 'RpcBlockMismatchError'
  override name = 'RpcBlockMismatchError'
  constructor (readonly cid: string) { super(`the node answered ChainReadObj ${cid} with bytes that hash to another CID`) }
}

/**
 * Blocks checked against their CIDs, least recently used dropped first. Kept across reads: blocks are named by
 * their hashes, and the next head's state tree shares most of its nodes with this one's, so a second read of a
 * channel fetches the few nodes that changed, not the whole path again (under load, each fetch is a round trip to
 * a busy node).
 */
export class VerifiedBlockCache implements BlockGetter {
  private readonly byCid = new Map<string, Uint8Array>()
  constructor (private readonly limit = RPC_BLOCK_CACHE_ENTRIES) {}

  get (cid: CID): Uint8Array {
    const key = cid.toString()
    const bytes = this.byCid.get(key)
    if (bytes === undefined) throw new ProofIncompleteError(key)
    this.byCid.delete(key)
    this.byCid.set(key, bytes)
    return bytes
  }

  /** Keeps `bytes` as `cid` once they hash to it; RpcBlockMismatchError otherwise. */
  add (cid: string, bytes: Uint8Array): void {
    if (chainCid(bytes).toString() !== cid) throw new RpcBlockMismatchError(cid)
    this.byCid.set(cid, bytes)
  }

  /**
   * Drops the least recently used down to the limit: between reads, never during one (a read deeper than the limit
   * would otherwise drop the blocks it walked through and fetch them again without end).
   */
  trim (): void {
    while (this.byCid.size > this.limit) this.byCid.delete(this.byCid.keys().next().value!)
  }

  get size (): number { return this.byCid.size }
}

/** Runs `read` at `root`, fetching each block it lacks with ChainReadObj (through `readObj`) into `cache`. */
export async function readOverRpc<T> (readObj: (cid: string) => Promise<string>, cache: VerifiedBlockCache, root: CID, read: (g: BlockGetter, root: CID) => T): Promise<T> {
  cache.trim()
  // a channel read touches a few dozen blocks (state tree path, init map, lanes AMT): re-walking after each fetch is cheap
  for (let i = 0; i < 100_000; i++) {
    try {
      return read(cache, root)
    } catch (err) {
      if (!(err instanceof ProofIncompleteError)) throw err
      const missing = String(err.missing)
      cache.add(missing, base64pad.baseDecode(await readObj(missing)))
    }
  }
  throw new Error('state read did not finish')
}
