// Where a download's verified bytes go, written at their offsets as they arrive so memory stays flat: a file
// the user picked (File System Access API: the page's showSaveFilePicker hands the worker its handle), or,
// where there is no picker, a file in the origin private file system (OPFS, through a sync access handle in
// this dedicated worker) offered as a download link once complete.
//
// A picked file is written through createWritable({ keepExistingData: true }), whose writes land in a swap
// file and reach the user's file only when the stream is closed: a tab closed mid-download loses what was
// written since the last close. So the bytes since the last close are also kept in an OPFS journal (flushed
// before the download's verified offset is recorded) and replayed into the file on resume: what was verified
// and paid for is never fetched, or paid for, twice. Each close copies the file into a new swap file, so
// closes come at geometrically growing distances (a quarter of what is committed, at least JOURNAL_MIN_BYTES):
// the copying stays a small multiple of the file's size, and so does the journal.
import { StagingFullError } from './staging'

/** A download's output: verified bytes at file offsets, in order. */
export interface DownloadSink {
  /**
   * Writes `bytes` at `offset` (bytes from the start of the saved file); offsets come in order, without gaps. The
   * bytes are handed over: the caller does not read or change them after the call (a sink in another worker moves
   * a buffer that is wholly theirs instead of copying it); with `ownBuffer`, so is the rest of their buffer (a view
   * into a received frame whose other bytes nobody reads again), which is then moved too.
   */
  write: (offset: number, bytes: Uint8Array, ownBuffer?: boolean) => Promise<void>
  /** Makes everything written so far survive a closed tab; resolves with the offset that now would. */
  flush: () => Promise<number>
  /** Flushes and releases the file (the download ended or paused). */
  close: () => Promise<void>
}

export interface DownloadFiles {
  /** An OPFS file kept from `from` on (earlier bytes survive; later ones are cut, they were never recorded verified). */
  opfs: (name: string, from: number) => Promise<DownloadSink>
  /**
   * The picked file, with its journal in OPFS under `journal`. Replays a journal a closed tab left, so the sink
   * starts at `from` (the recorded verified offset); resolves with the offset it could really start at, which
   * is lower only when the journal was lost (the browser cleared site data).
   */
  picked: (handle: FileSystemFileHandle, journal: string, from: number) => Promise<{ sink: DownloadSink, from: number }>
  /**
   * The OPFS file as a disk-backed File (it crosses postMessage without being copied); null when gone; throws when
   * OPFS itself is refused (remote-platform.ts asks a tab then).
   */
  file: (name: string, downloadName: string) => Promise<File | null>
  remove: (name: string) => Promise<void>
}

/** The picked file cannot be written: its permission was not granted again after the tab reopened. */
export class SavePermissionError extends Error {
  static override name = 'SavePermissionError'
  override name = 'SavePermissionError'
}

interface SyncAccessHandle {
  read: (buffer: Uint8Array, options?: { at?: number }) => number
  write: (buffer: Uint8Array, options?: { at?: number }) => number
  flush: () => void
  close: () => void
  truncate: (size: number) => void
  getSize: () => number
}

interface WritableAt {
  write: (chunk: { type: 'write', position: number, data: Uint8Array }) => Promise<void>
  close: () => Promise<void>
  abort: () => Promise<void>
}

/** The handle as this file uses it (queryPermission is not in TypeScript's DOM types yet). */
interface PermissionHandle {
  name: string
  queryPermission?: (d: { mode: 'readwrite' }) => Promise<PermissionState>
  createWritable: (o: { keepExistingData: boolean }) => Promise<WritableAt>
}

const DIR = 'coffer-downloads'
export const JOURNAL_MIN_BYTES = 32 * 2 ** 20
const HEADER = 8

const quota = <T>(fn: () => T): T => {
  try { return fn() } catch (err) {
    if ((err as Error).name === 'QuotaExceededError') throw new StagingFullError('the browser\'s storage quota is full: free some space, or save to a file you pick')
    throw err
  }
}

async function syncHandle (name: string): Promise<SyncAccessHandle> {
  const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle(DIR, { create: true })
  const h = await dir.getFileHandle(name, { create: true })
  return await (h as unknown as { createSyncAccessHandle: () => Promise<SyncAccessHandle> }).createSyncAccessHandle()
}

export function browserDownloadFiles (): DownloadFiles {
  const dir = async (): Promise<FileSystemDirectoryHandle> => await (await navigator.storage.getDirectory()).getDirectoryHandle(DIR, { create: true })
  return {
    opfs: async (name, from) => {
      const access = await syncHandle(name)
      if (access.getSize() > from) access.truncate(from)
      let end = from
      return {
        write: async (offset, bytes) => {
          if (offset !== end) throw new RangeError(`download bytes out of order: ${offset} after ${end}`)
          quota(() => access.write(bytes, { at: offset }))
          end += bytes.length
        },
        flush: async () => { access.flush(); return end },
        close: async () => { access.flush(); access.close() }
      }
    },

    picked: async (handle, journalName, from) => {
      const h = handle as unknown as PermissionHandle
      if (h.queryPermission !== undefined && await h.queryPermission({ mode: 'readwrite' }) !== 'granted') {
        throw new SavePermissionError(`Coffer may no longer write ${handle.name}: click "Allow saving" to grant it again`)
      }
      const journal = await syncHandle(journalName)
      // the journal: [committed offset, u64 LE][the file's bytes from there on]
      const head = new Uint8Array(HEADER)
      const readCommitted = (): number => journal.getSize() >= HEADER && journal.read(head, { at: 0 }) === HEADER ? Number(new DataView(head.buffer).getBigUint64(0, true)) : 0
      const writeCommitted = (c: number): void => { new DataView(head.buffer).setBigUint64(0, BigInt(c), true); quota(() => journal.write(head, { at: 0 })) }
      let committed = readCommitted()
      let start = from
      let writable = await h.createWritable({ keepExistingData: true })
      // replay what a closed tab wrote after its last commit, as far as it was recorded verified
      const held = Math.max(0, journal.getSize() - HEADER)
      if (committed > from) committed = from // a journal ahead of the record: the record rules
      if (committed + held < from) start = committed + held // the journal lost bytes: start where it ends
      const CHUNK = 1 << 20
      for (let at = committed; at < start; at += CHUNK) {
        const buf = new Uint8Array(Math.min(CHUNK, start - at))
        journal.read(buf, { at: HEADER + at - committed })
        await writable.write({ type: 'write', position: at, data: buf })
      }
      const commit = async (end: number): Promise<void> => {
        await writable.close()
        // the file now holds everything to `end`: the journal starts over from there (a crash between the
        // two leaves an older header, whose bytes replay harmlessly onto the same offsets)
        writeCommitted(end)
        journal.truncate(HEADER)
        journal.flush()
        committed = end
      }
      await commit(start)
      writable = await h.createWritable({ keepExistingData: true })
      let end = start
      let open = true
      return {
        sink: {
          write: async (offset, bytes) => {
            if (offset !== end) throw new RangeError(`download bytes out of order: ${offset} after ${end}`)
            quota(() => journal.write(bytes, { at: HEADER + offset - committed }))
            await writable.write({ type: 'write', position: offset, data: bytes })
            end += bytes.length
            if (end - committed >= Math.max(JOURNAL_MIN_BYTES, committed / 4)) {
              journal.flush()
              await commit(end)
              writable = await h.createWritable({ keepExistingData: true })
            }
          },
          flush: async () => { journal.flush(); return end },
          close: async () => {
            if (!open) return
            open = false
            journal.flush()
            await commit(end)
            journal.close()
          }
        },
        from: start
      }
    },

    file: async (name, downloadName) => {
      const d = await dir()
      try {
        const f = await (await d.getFileHandle(name)).getFile()
        // the same disk-backed bytes under the name the user knows the file by
        return new File([f], downloadName, { type: 'application/octet-stream' })
      } catch { return null }
    },
    remove: async (name) => { await (await dir()).removeEntry(name).catch(() => {}) }
  }
}
