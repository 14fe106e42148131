// A file's share link (#/get/<root>?name=…&size=…&deals=…): made for a stored file, read when the app opens. Its own
// module so that the app's first script, which reads the page's link, carries none of the download views.

export interface FileRef { root: string, name: string, size: number, carBytes?: number, dealIds: number[] }

/** The app URL that opens a "Get file" card for `f` in any browser. */
export function shareLink (f: FileRef): string {
  const q = new URLSearchParams({ name: f.name, size: String(f.size), deals: f.dealIds.join(',') })
  return `${location.origin}${location.pathname}#/get/${f.root}?${q.toString()}`
}

/** A share link's claims (untrusted: only where to start looking), or null when the hash is not one. */
export function parseShareLink (hash: string): FileRef | null {
  const m = /^#\/get\/([A-Za-z0-9]+)(?:\?(.*))?$/.exec(hash)
  if (m === null) return null
  const q = new URLSearchParams(m[2] ?? '')
  const size = Number(q.get('size'))
  const dealIds = (q.get('deals') ?? '').split(',').filter(s => /^\d+$/.test(s)).map(Number)
  return { root: m[1]!, name: (q.get('name') ?? '').replace(/[/\\]/g, '_') || m[1]!, size: Number.isSafeInteger(size) && size >= 0 ? size : 0, dealIds }
}
