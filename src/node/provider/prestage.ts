// A provider's pre-proposal staging (STAGE_PROTOCOL): bytes a peer sends before it has a proposal, kept in
// staging/ as `pre-<peer>-<transfer>.part` (so the room check counts them like any staged bytes) until that
// peer's DealRequest names the transfer and adopts them, or they expire. Nothing pays for them yet, so they are
// bounded three ways: stages per peer, bytes per peer, and bytes across all peers. A flood of fresh peer IDs can
// at most fill the shared budget, which makes later stages wait (BUSY) and their clients send after proposing,
// as before: it never takes room from proposals, whose transfers are admitted against the same disk.
import { open, rename, readdir, stat, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { base16 } from 'multiformats/bases/base16'
import { DealRejectedError } from '../../core'
import { pieceWriter, type PieceWriter } from '../piece-file'
import type { StageHandler, StageSink } from '../../net'
import type { ProviderStore } from './provider-store'

export interface PrestageLimits {
  /** Stages one peer may hold (running or waiting for its proposal). */
  maxPeerStages: number
  /** Bytes one peer may hold staged before proposing. */
  maxPeerBytes: number
  /** Bytes all peers together may hold staged before proposing. */
  maxTotalBytes: number
  /** A stage no stream has written for this long, and no proposal adopted, is removed. */
  idleMs: number
  /** Room a running stage holds beyond its bytes before the disk is checked again. */
  reserveAheadBytes: number
}

/**
 * Two stages a peer: the app stages each copy of one upload with a different provider, and a tab may start a
 * second upload while the first is proposing. Ten minutes of idleness: the proposal follows as soon as the tab
 * has hashed the last byte and its escrow has landed, a minute or two on a slow chain.
 */
export const PRESTAGE_PEER_STAGES = 2
export const PRESTAGE_IDLE_MS = 10 * 60_000

export class PrestageLimitError extends DealRejectedError {
  static override name = 'PrestageLimitError'
  override name = 'PrestageLimitError'
}

/** How a stage's file name begins in staging/ (`pre-<peer>-<transfer>.part`). */
export const PRESTAGE_FILE_PREFIX = 'pre-'
const PREFIX = PRESTAGE_FILE_PREFIX
const hex = (b: Uint8Array): string => base16.baseEncode(b)

interface Running { peer: string, staged: number, reserved: number }

/**
 * Ended stages whose piece is being kept as they were hashed (their first segment held for the header), by
 * file name. Each holds a segment or two of memory, so only the latest few are kept; an older one is hashed
 * from disk when adopted, as any resumed transfer is.
 */
export const KEPT_STAGE_HASHERS = 8

/** What adopting a stage gave: the bytes now at the target, and their piece stream when it covers them all. */
export interface Adopted { bytes: number, hasher: PieceWriter | null }

export interface PrestageInit {
  store: ProviderStore
  limits: PrestageLimits
  /** The provider's free room now (capacity and disk, less everything staged and held). */
  freeBytes: () => Promise<number>
  /** Serialises room checks with the provider's own (see StorageProvider.withRoom). */
  withRoom: <T>(fn: () => Promise<T>) => Promise<T>
  log?: (line: string) => void
  nowMs?: () => number
}

export class Prestage implements StageHandler {
  /** Stages a stream is writing, by file name. */
  private readonly running = new Map<string, Running>()
  /** Ended stages' piece streams (see KEPT_STAGE_HASHERS), oldest first. */
  private readonly hashers = new Map<string, { writer: PieceWriter, bytes: number }>()
  private readonly log: (line: string) => void
  private readonly nowMs: () => number

  constructor (private readonly init: PrestageInit) {
    this.log = init.log ?? (() => {})
    this.nowMs = init.nowMs ?? (() => Date.now())
  }

  private name (peer: string, transfer: Uint8Array): string { return `${PREFIX}${peer}-${hex(transfer)}.part` }
  private path (name: string): string { return path.join(this.init.store.dir, 'staging', name) }

  /** Room running stages hold beyond their bytes (the provider subtracts it from what it can promise). */
  heldAhead (): number {
    let n = 0
    for (const r of this.running.values()) n += Math.max(0, r.reserved - r.staged)
    return n
  }

  /** Every pre-proposal file on disk: its peer, size and last write. */
  private async files (): Promise<Array<{ name: string, peer: string, bytes: number, touchedMs: number }>> {
    const out: Array<{ name: string, peer: string, bytes: number, touchedMs: number }> = []
    for (const name of await readdir(path.join(this.init.store.dir, 'staging'))) {
      if (!name.startsWith(PREFIX)) continue
      const peer = name.slice(PREFIX.length, name.lastIndexOf('-'))
      try {
        const s = await stat(this.path(name))
        out.push({ name, peer, bytes: s.size, touchedMs: s.mtimeMs })
      } catch { /* removed meanwhile */ }
    }
    return out
  }

  async open (peer: string, transfer: Uint8Array): Promise<{ offset: number, sink: StageSink }> {
    const name = this.name(peer, transfer)
    if (this.running.has(name)) throw new DealRejectedError('BUSY', 'this transfer is already arriving on another stream')
    const file = this.path(name)
    const run: Running = { peer, staged: 0, reserved: 0 }
    this.running.set(name, run)
    try {
      await this.init.withRoom(async () => {
        const files = await this.files()
        run.staged = files.find(f => f.name === name)?.bytes ?? 0
        const mine = files.filter(f => f.peer === peer && f.name !== name)
        if (mine.length + 1 > this.init.limits.maxPeerStages) throw new PrestageLimitError('CLIENT_LIMIT', `this peer already holds ${mine.length} stages here, the most it may before proposing`)
        await this.reserve(run, files, 0)
      })
    } catch (err) {
      this.running.delete(name)
      throw err
    }
    const handle: FileHandle = await open(file, 'a').catch((err: Error) => { this.running.delete(name); throw err })
    // hashed as the bytes arrive when the stage starts from nothing, so the proposal that adopts it has its
    // piece at once; a resumed stage is hashed from disk when adopted
    this.dropHasher(name)
    let hashing: PieceWriter | null = run.staged === 0 ? await pieceWriter().catch(() => null) : null
    const drop = (): void => { hashing?.abort(); hashing = null }
    const release = async (): Promise<void> => {
      this.running.delete(name)
      await handle.close().catch(() => {})
    }
    return {
      offset: run.staged,
      sink: {
        write: async (bytes) => {
          if (run.staged + bytes.length > run.reserved) await this.init.withRoom(async () => { await this.reserve(run, await this.files(), bytes.length) })
          const h = hashing
          await Promise.all([handle.write(bytes), h?.write(bytes).catch(() => { if (hashing === h) drop() })])
          run.staged += bytes.length
        },
        end: async () => {
          if (hashing !== null) this.keepHasher(name, hashing, run.staged)
          hashing = null
          await release()
        },
        interrupted: async () => { drop(); await release() }
      }
    }
  }

  /** Holds the next stretch for `run` (at least `frame` bytes), or refuses with everything staged kept. */
  private async reserve (run: Running, files: Array<{ peer: string, bytes: number, name: string }>, frame: number): Promise<void> {
    const l = this.init.limits
    const want = run.staged + frame + l.reserveAheadBytes
    // on disk (each running stage's own file included) plus what running stages hold ahead of their bytes
    const aheadOf = (pred: (r: Running) => boolean): number => [...this.running.values()].filter(r => r !== run && pred(r)).reduce((n, r) => n + Math.max(0, r.reserved - r.staged), 0)
    const peerBytes = files.filter(f => f.peer === run.peer).reduce((n, f) => n + f.bytes, 0) - run.staged + aheadOf(r => r.peer === run.peer)
    const totalBytes = files.reduce((n, f) => n + f.bytes, 0) - run.staged + aheadOf(() => true)
    if (peerBytes + want > l.maxPeerBytes) throw new PrestageLimitError('CLIENT_LIMIT', `this peer's stages would pass the ${l.maxPeerBytes} bytes one peer may stage before proposing; propose to send the rest`)
    if (totalBytes + want > l.maxTotalBytes) throw new PrestageLimitError('BUSY', `stages before proposing already hold ${totalBytes} of the ${l.maxTotalBytes} bytes this provider allows; propose to send the rest`)
    const free = await this.init.freeBytes() + Math.max(0, run.reserved - run.staged)
    if (free < want - run.staged) throw new PrestageLimitError('SPACE', `${Math.max(0, free)} bytes free; propose to send the rest`)
    run.reserved = want
  }

  private keepHasher (name: string, writer: PieceWriter, bytes: number): void {
    this.dropHasher(name)
    this.hashers.set(name, { writer, bytes })
    for (const old of this.hashers.keys()) {
      if (this.hashers.size <= KEPT_STAGE_HASHERS) break
      this.dropHasher(old)
    }
  }

  private dropHasher (name: string): void {
    this.hashers.get(name)?.writer.abort()
    this.hashers.delete(name)
  }

  /** Takes the kept piece stream of a stage of `bytes` bytes, with `head` written over its first bytes; else null. */
  private async takeHasher (name: string, bytes: number, head: Uint8Array | undefined): Promise<PieceWriter | null> {
    const kept = this.hashers.get(name)
    this.hashers.delete(name)
    if (kept === undefined) return null
    if (kept.bytes !== bytes || (head !== undefined && head.length > 0 && kept.writer.writeAt === undefined)) { kept.writer.abort(); return null }
    try {
      if (head !== undefined && head.length > 0) await kept.writer.writeAt!(0, head.subarray(0, Math.min(head.length, bytes)))
      return kept.writer
    } catch {
      kept.writer.abort()
      return null
    }
  }

  /**
   * Moves `peer`'s stage of `transfer` to `target` (a proposal's staging file) with `head` written over its
   * first bytes, when it holds more than the target does and no stream is writing it. The bytes now at target.
   */
  async adopt (peer: string, transfer: Uint8Array, head: Uint8Array | undefined, target: string, payloadBytes: number): Promise<Adopted> {
    const name = this.name(peer, transfer)
    const file = this.path(name)
    if (this.running.has(name)) throw new DealRejectedError('BUSY', 'this transfer\'s stage is still arriving on another stream; propose again once it ends')
    const staged = await this.init.store.sizeOf(file)
    const have = await this.init.store.sizeOf(target)
    if (staged === 0 || staged <= have) { this.dropHasher(name); return { bytes: have, hasher: null } }
    if (staged > payloadBytes) {
      this.dropHasher(name)
      await this.init.store.remove(file)
      throw new DealRejectedError('TRANSFER', `${staged} bytes were staged under this transfer, more than the ${payloadBytes} proposed: they are dropped`)
    }
    if (head !== undefined && head.length > 0) {
      const h = await open(file, 'r+')
      try { await h.write(head, 0, Math.min(head.length, staged), 0) } finally { await h.close() }
    }
    const hasher = await this.takeHasher(name, staged, head)
    await rename(file, target)
    this.log(`stage ${name} (${staged} bytes) adopted as ${path.basename(target)}${hasher === null ? '' : ', hashed as it arrived'}`)
    return { bytes: staged, hasher }
  }

  /** Removes stages idle for idleMs. */
  async sweep (): Promise<void> {
    const idleSince = this.nowMs() - this.init.limits.idleMs
    for (const f of await this.files()) {
      if (this.running.has(f.name) || f.touchedMs >= idleSince) continue
      this.dropHasher(f.name)
      await this.init.store.remove(this.path(f.name))
      this.log(`stage ${f.name} (${f.bytes} bytes) expired with no proposal`)
    }
  }
}
