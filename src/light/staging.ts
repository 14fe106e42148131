// Where an upload's CAR waits between packing and the last provider's copy: the origin private file
// system (OPFS), written through a sync access handle (dedicated workers only) so a multi-GiB file never
// sits in memory, and read back as a Blob by slices. A full quota fails the write by name; the partial file
// is removed.
export interface StagingWriter {
  write: (bytes: Uint8Array) => Promise<void>
  writeAt: (offset: number, bytes: Uint8Array) => Promise<void>
  close: () => Promise<void>
}

export interface Staging {
  create: (name: string) => Promise<StagingWriter>
  /** The staged file, or null when it is gone; throws when OPFS itself is refused (remote-platform.ts asks a tab then). */
  open: (name: string) => Promise<Blob | null>
  remove: (name: string) => Promise<void>
}

export class StagingFullError extends Error {
  static override name = 'StagingFullError'
  override name = 'StagingFullError'
}

interface SyncAccessHandle {
  write: (buffer: Uint8Array, options?: { at?: number }) => number
  flush: () => void
  close: () => void
  truncate: (size: number) => void
}

const DIR = 'coffer-uploads'

export function opfsStaging (): Staging {
  const dir = async (): Promise<FileSystemDirectoryHandle> => await (await navigator.storage.getDirectory()).getDirectoryHandle(DIR, { create: true })
  return {
    create: async (name) => {
      const handle = await (await dir()).getFileHandle(name, { create: true })
      const access = await (handle as unknown as { createSyncAccessHandle: () => Promise<SyncAccessHandle> }).createSyncAccessHandle()
      access.truncate(0)
      let at = 0
      const guard = (fn: () => void): void => {
        try { fn() } catch (err) {
          if ((err as Error).name === 'QuotaExceededError') throw new StagingFullError('the browser\'s storage quota is full: free some space or upload a smaller file')
          throw err
        }
      }
      return {
        write: async (bytes) => { guard(() => { at += access.write(bytes, { at }) }) },
        writeAt: async (offset, bytes) => { guard(() => { access.write(bytes, { at: offset }) }) },
        close: async () => { access.flush(); access.close() }
      }
    },
    open: async (name) => {
      const d = await dir()
      try { return await (await d.getFileHandle(name)).getFile() } catch { return null }
    },
    remove: async (name) => { await (await dir()).removeEntry(name).catch(() => {}) }
  }
}
