// Replacing a small record on disk so that a crash leaves the old one or the new one, and a completed write stays
// written: the bytes go to a temporary file that is synced, renamed over the record, and then the directory is
// synced, because the rename lives in the directory's entry and fsync of the file does not persist it (POSIX
// rename(2)/fsync(2); SQLite and LevelDB sync the directory after a rename for the same reason).
import { open, rename } from 'node:fs/promises'
import path from 'node:path'

/** Writes `bytes` to `file` through `file.tmp`: synced, renamed over `file`, and the rename synced in its directory. */
export async function writeFileDurably (file: string, bytes: Uint8Array | string): Promise<void> {
  const tmp = `${file}.tmp`
  const fh = await open(tmp, 'w')
  try {
    await fh.writeFile(bytes)
    await fh.sync()
  } finally {
    await fh.close()
  }
  await rename(tmp, file)
  await syncDirectory(path.dirname(file))
}

/** fsync of a directory: what makes a rename or an unlink in it survive a crash. */
export async function syncDirectory (dir: string): Promise<void> {
  // Windows cannot open a directory as a file (EISDIR/EPERM) and makes renames durable without it
  if (process.platform === 'win32') return
  const dh = await open(dir, 'r')
  try {
    await dh.sync()
  } finally {
    await dh.close()
  }
}
