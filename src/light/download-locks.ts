// One tab at a time runs a download: each download has a Web Lock, and only the tab holding it runs the download
// and writes its record, so no tab writes back a copy older than another tab's. Where locks are missing (Node),
// the callers just run.

interface DownloadLocks { request: (name: string, opts: { ifAvailable?: boolean }, cb: (lock: unknown) => Promise<void>) => Promise<void> }
const downloadLocks = (): DownloadLocks | undefined => (globalThis.navigator as { locks?: DownloadLocks } | undefined)?.locks

/**
 * Runs `fn` holding this download's Web Lock, if no other tab holds it; false when one does. Only the lock's holder
 * writes a download's record, so no tab writes back a copy older than another tab's. Where locks are missing (Node), just runs it.
 */
export async function tryDownloadLock (id: string, fn: () => Promise<void>): Promise<boolean> {
  const locks = downloadLocks()
  if (locks === undefined) { await fn(); return true }
  let got = false
  await locks.request(`coffer-download-${id}`, { ifAvailable: true }, async (lock) => { if (lock !== null) { got = true; await fn() } })
  return got
}

/**
 * Runs `fn` holding this download's Web Lock, so two tabs never run one download. When another tab holds it, calls
 * `queued` and waits in the lock's queue: this tab takes the download over when that one closes or lets it go.
 */
export async function withDownloadLock (id: string, queued: () => void, fn: () => Promise<void>): Promise<void> {
  if (await tryDownloadLock(id, fn)) return
  queued()
  await downloadLocks()!.request(`coffer-download-${id}`, {}, fn)
}
