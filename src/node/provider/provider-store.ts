// A provider's storage folder: pieces/ holds each published deal's payload (the CAR the client sent),
// staging/ the transfers still arriving (kept across a dropped connection, so the client resumes), and
// deals.json the index of deals it has published. The index is replaced whole (write, then rename), so a
// crash leaves the old index or the new one, never half of one.
import { readFile, writeFile, rename, mkdir, stat, rm, readdir, statfs } from 'node:fs/promises'
import path from 'node:path'

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
}

export class ProviderStore {
  private deals: StoredDeal[] = []

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
    return s
  }

  all (): StoredDeal[] { return [...this.deals] }
  byProposal (proposalCid: string): StoredDeal | undefined { return this.deals.find(d => d.proposalCid === proposalCid) }

  async add (deal: StoredDeal): Promise<void> {
    this.deals.push(deal)
    const file = path.join(this.dir, 'deals.json')
    await writeFile(`${file}.tmp`, JSON.stringify(this.deals, null, 1))
    await rename(`${file}.tmp`, file)
  }

  stagingPath (proposalCid: string): string { return path.join(this.dir, 'staging', `${proposalCid}.part`) }
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

  /** Removes staged transfers `drop` picks (by proposal CID). */
  async sweepStaging (drop: (proposalCid: string) => boolean): Promise<void> {
    for (const name of await readdir(path.join(this.dir, 'staging'))) {
      if (name.endsWith('.part') && drop(name.slice(0, -'.part'.length))) await this.remove(path.join(this.dir, 'staging', name))
    }
  }

  async remove (file: string): Promise<void> { await rm(file, { force: true }) }
}
