// The blocks one payment channel has been charged for, kept on disk beside its voucher record so that a provider
// restart does not charge them again. A block a later stream sends again (bytes lost in flight when a stream
// broke, sent again on resume) costs the client nothing more: it pays for what it verifies, once. Without this
// file a restarted provider charged such blocks twice, and a client that lost bytes in flight just before the
// restart was held at its first block and failed over.
//
// An append-only text file, one CID per line: appended (and synced) before each write of the channel's record,
// so the ledger on disk never counts a charge whose block is missing here. A crash mid-append leaves a last line
// without its newline, which is ignored (that block was in no ledger written yet).
import { open, readFile, truncate } from 'node:fs/promises'
import path from 'node:path'
import { CID } from '../../core'
import { syncDirectory } from './durable-write'

export class ChargedBlockRecordError extends Error {
  static override name = 'ChargedBlockRecordError'
  override name = 'ChargedBlockRecordError'
  constructor (readonly file: string, readonly line: number, message: string) { super(`${file}:${line}: ${message}`) }
}

export class ChargedBlocks {
  private pending: string[] = []

  private constructor (private readonly file: string, private readonly blocks: Set<string>, private created: boolean) {}

  /** The set kept in `file` (empty when there is none yet). Refuses a file with a complete line that is not a CID. */
  static async open (file: string): Promise<ChargedBlocks> {
    let text: string | undefined
    try {
      text = await readFile(file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    const lines = (text ?? '').split('\n')
    // the last element is what follows the last newline: empty, or a torn append, cut off so the next append
    // starts a line of its own (CIDs are ASCII: characters are bytes)
    const torn = lines.pop()!
    if (torn !== '') await truncate(file, text!.length - torn.length)
    const blocks = new Set<string>()
    lines.forEach((line, i) => {
      try {
        blocks.add(CID.parse(line).toString())
      } catch (err) {
        throw new ChargedBlockRecordError(file, i + 1, `not a CID: ${(err as Error).message}`)
      }
    })
    return new ChargedBlocks(file, blocks, text !== undefined)
  }

  get size (): number { return this.blocks.size }

  has (cid: string): boolean { return this.blocks.has(cid) }

  /** The blocks charged so far (a copy: what a stream starting now finds charged by earlier ones). */
  snapshot (): Set<string> { return new Set(this.blocks) }

  /** Counts `cid` as charged now; on disk at the next flush(). */
  add (cid: string): void {
    if (this.blocks.has(cid)) return
    this.blocks.add(cid)
    this.pending.push(cid)
  }

  /** Appends the blocks added since the last flush and syncs the file. */
  async flush (): Promise<void> {
    if (this.pending.length === 0) return
    const lines = this.pending
    this.pending = []
    try {
      const fh = await open(this.file, 'a')
      try {
        await fh.writeFile(lines.map(l => `${l}\n`).join(''))
        await fh.sync()
      } finally {
        await fh.close()
      }
      // the new file's entry lives in the directory: synced once, as a rename is
      if (!this.created) {
        await syncDirectory(path.dirname(this.file))
        this.created = true
      }
    } catch (err) {
      // not on disk: kept for the next flush
      this.pending = [...lines, ...this.pending]
      throw err
    }
  }
}
