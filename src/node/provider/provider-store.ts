// A provider's storage folder: pieces/ holds each published deal's payload (the CAR the client sent),
// staging/ the transfers still arriving (kept across a dropped connection, so the client resumes), and
// deals.json the index of deals it has published. The index is replaced whole (write, then rename), so a
// crash leaves the old index or the new one, never half of one. pending.json (written the same way) holds the
// publications sent to the chain whose outcome the provider has not seen yet: their pieces stay in pieces/.
// Staged bytes are named by what they are, not by the proposal that brought them: the client, the piece and
// the payload's length. A client whose proposal can no longer start in time signs a new one for the same
// piece, and its bytes are already here.
import { readFile, writeFile, rename, mkdir, stat, rm, readdir, statfs, utimes } from 'node:fs/promises'
import path from 'node:path'

/** One staged transfer on disk. */
export interface StagedFile {
  /** `<client>.<pieceCid>.<payloadBytes>`: the file's name without `.part`. */
  key: string
  client: string
  pieceCid: string
  payloadBytes: number
  /** Bytes staged so far. */
  bytes: number
  /** When it was last written or resumed (ms since the epoch). */
  touchedMs: number
}

/** The staging key of a client's piece: addresses and CIDs are base32, so `.` cannot occur inside either. */
export const stagingKey = (client: string, pieceCid: string, payloadBytes: number): string => `${client}.${pieceCid}.${payloadBytes}`

export function parseStagingName (name: string): Omit<StagedFile, 'bytes' | 'touchedMs'> | null {
  const m = /^([a-z0-9]+)\.([a-z0-9]+)\.([0-9]{1,16})\.part$/.exec(name)
  if (m === null) return null
  return { key: name.slice(0, -'.part'.length), client: m[1]!, pieceCid: m[2]!, payloadBytes: Number(m[3]) }
}

export interface StoredDeal {
  dealId: number
  proposalCid: string
  pieceCid: string
  paddedBytes: number
  payloadBytes: number
  startEpoch: number
  endEpoch: number
  /** The payload file, relative to the provider's folder. */
  file: string
  publishMessage: string
  /** The client's address (absent from deals published before it was recorded). */
  client?: string
}

/**
 * A PublishStorageDeals message signed and handed to the chain, whose receipt the provider has not seen: the
 * deal may be on chain already, so its piece stays in pieces/ until the chain says which. Recorded before the
 * message is pushed, so no crash leaves a published deal the provider has forgotten.
 */
export interface PendingPublication extends Omit<StoredDeal, 'dealId'> {
  client: string
  /** The worker's nonce the message uses: once the chain's nonce has passed it, the message can no longer land. */
  nonce: number
  /** Where the piece goes back to if the deal did not land (see stagingKey). */
  stagingKey: string
}

export class ProviderStore {
  private deals: StoredDeal[] = []
  private pending: PendingPublication[] = []
  /** Each file's last write: writes of one file run one after another (concurrent deals share deals.json and pending.json). */
  private readonly writes = new Map<string, Promise<void>>()

  private constructor (readonly dir: string) {}

  static async open (dir: string): Promise<ProviderStore> {
    const s = new ProviderStore(dir)
    await mkdir(path.join(dir, 'pieces'), { recursive: true })
    await mkdir(path.join(dir, 'staging'), { recursive: true })
    try {
      s.deals = JSON.parse(await readFile(path.join(dir, 'deals.json'), 'utf8')) as StoredDeal[]
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`${dir}/deals.json is unreadable: ${(err as Error).message}`)
    }
    try {
      s.pending = JSON.parse(await readFile(path.join(dir, 'pending.json'), 'utf8')) as PendingPublication[]
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`${dir}/pending.json is unreadable: ${(err as Error).message}`)
    }
    return s
  }

  /**
   * Replaces `name` whole (a temporary file renamed over it). Two deals finishing at once both write here: unordered,
   * the second's write of the same temporary file raced the first's rename (ENOENT, a deal refused) or interleaved
   * with its bytes. The text is taken now, so the writes land in the order of the changes.
   */
  private async writeJson (name: string, value: unknown): Promise<void> {
    const file = path.join(this.dir, name)
    const text = JSON.stringify(value, null, 1)
    const write = (this.writes.get(name) ?? Promise.resolve()).catch(() => {}).then(async () => {
      await writeFile(`${file}.tmp`, text)
      await rename(`${file}.tmp`, file)
    })
    this.writes.set(name, write)
    await write
  }

  pendingAll (): PendingPublication[] { return [...this.pending] }
  pendingByProposal (proposalCid: string): PendingPublication | undefined { return this.pending.find(p => p.proposalCid === proposalCid) }
  async addPending (p: PendingPublication): Promise<void> {
    this.pending.push(p)
    await this.writeJson('pending.json', this.pending)
  }

  async removePending (proposalCid: string): Promise<void> {
    this.pending = this.pending.filter(p => p.proposalCid !== proposalCid)
    await this.writeJson('pending.json', this.pending)
  }

  all (): StoredDeal[] { return [...this.deals] }
  byProposal (proposalCid: string): StoredDeal | undefined { return this.deals.find(d => d.proposalCid === proposalCid) }

  async add (deal: StoredDeal): Promise<void> {
    this.deals.push(deal)
    await this.writeJson('deals.json', this.deals)
  }

  /** Where the staged bytes of `key` (see stagingKey) live. */
  stagingPath (key: string): string { return path.join(this.dir, 'staging', `${key}.part`) }
  piecePath (proposalCid: string): string { return path.join(this.dir, 'pieces', `${proposalCid}.car`) }
  absolute (file: string): string { return path.join(this.dir, file) }
  relative (file: string): string { return path.relative(this.dir, file) }

  async sizeOf (file: string): Promise<number> {
    try { return (await stat(file)).size } catch { return 0 }
  }

  /** Bytes held in pieces/ (stored deals). */
  async piecesBytes (): Promise<number> {
    let used = 0
    for (const name of await readdir(path.join(this.dir, 'pieces'))) used += await this.sizeOf(path.join(this.dir, 'pieces', name))
    return used
  }

  /** What the disk under the folder still has, whatever the provider's own capacity says. */
  async diskFreeBytes (): Promise<number> {
    const s = await statfs(this.dir)
    return Number(s.bavail) * Number(s.bsize)
  }

  /** Every staged transfer, with its size and when it was last touched. */
  async stagedFiles (): Promise<StagedFile[]> {
    const out: StagedFile[] = []
    for (const name of await readdir(path.join(this.dir, 'staging'))) {
      const parsed = parseStagingName(name)
      if (parsed === null) continue
      try {
        const s = await stat(path.join(this.dir, 'staging', name))
        out.push({ ...parsed, bytes: s.size, touchedMs: s.mtimeMs })
      } catch { /* removed meanwhile */ }
    }
    return out
  }

  /** Bytes in staging/, whatever their names: all of it is disk the provider has handed out. */
  async stagingBytes (): Promise<number> {
    let used = 0
    for (const name of await readdir(path.join(this.dir, 'staging'))) used += await this.sizeOf(path.join(this.dir, 'staging', name))
    return used
  }

  /** Removes staged files `drop` picks: by their parsed name (null for a name that is not a staging key) and file name. */
  async sweepStaging (drop: (file: StagedFile | null, name: string) => boolean): Promise<string[]> {
    const dropped: string[] = []
    const staged = new Map((await this.stagedFiles()).map(f => [`${f.key}.part`, f]))
    for (const name of await readdir(path.join(this.dir, 'staging'))) {
      if (drop(staged.get(name) ?? null, name)) { await this.remove(path.join(this.dir, 'staging', name)); dropped.push(name) }
    }
    return dropped
  }

  /** Marks a file as used now (its idle time starts over). */
  async touch (file: string): Promise<void> {
    const now = new Date()
    await utimes(file, now, now).catch(() => {})
  }

  async remove (file: string): Promise<void> { await rm(file, { force: true }) }
}
