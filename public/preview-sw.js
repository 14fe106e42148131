// Coffer previews, the service worker's part (imported into workbox's generated sw.js by vite.config.ts): answers
// GET /preview/<session>/<name>?size=…&type=… with 206 partial responses whose bytes are verified range reads.
// The service worker cannot reach the tab's light-client worker: it asks the page that made the request over a
// MessageChannel, and the page asks the worker through its one typed interface (readRange). Nothing here is cached:
// every byte comes from the worker's verified reads (which keep their own bounded cache of verified chunks).
/* eslint-env serviceworker */

/**
 * A request with no Range, or an open-ended one (`bytes=N-`, what media elements send first), gets at most 1 MiB: a
 * media element takes a 206 shorter than it asked for and asks on from where it ends, so each answer costs one
 * bounded verified read (and a priced copy is paid only for what is played or sought).
 */
const PREVIEW_CHUNK = 1 << 20
/**
 * How long an answer may take before the media element is told 504: a bound on a page that never answers (closed
 * mid-read, its worker stuck), not a plan of how fast a read goes. A priced read may wait for a payment channel to
 * be created or funded on chain (blocks, and a retry) before its first byte: two minutes leaves room for that many
 * times over, on any machine, and a read still running then is one the user has given up on.
 */
const PAGE_ANSWER_MS = 120_000

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url)
  if (url.origin !== self.location.origin || !url.pathname.startsWith('/preview/') || event.request.method !== 'GET') return
  event.respondWith(answerPreview(event, url))
})

const plain = (status, text, headers = {}) => new Response(text, { status, headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...headers } })

/**
 * Its own Range parser, not the app's: this file is plain JavaScript that workbox's sw.js imports as it is, outside
 * the Vite bundle, so it cannot import the app's TypeScript modules (and the one case it serves, a media element's
 * single range, is all it needs to parse).
 *
 * [from, to) the Range header asks for inside a file of `size` bytes, or null when it cannot be met (416). A header
 * this does not parse (another unit, several ranges, bad syntax) is ignored, as RFC 9110 §14.2 lets a server do: the
 * answer starts at 0. Several ranges are not served: a media element never asks for them, and multipart adds framing.
 */
function parseRange (header, size) {
  const m = header === null ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (m === null || (m[1] === '' && m[2] === '')) return { from: 0, to: size, ranged: false }
  if (m[1] === '') {
    const suffix = Number(m[2])
    return suffix === 0 ? null : { from: Math.max(0, size - suffix), to: size, ranged: true }
  }
  const from = Number(m[1])
  // a last position before the first makes the range-spec invalid (RFC 9110 §14.1.2): ignored like bad syntax
  if (m[2] !== '' && Number(m[2]) < from) return { from: 0, to: size, ranged: false }
  const to = m[2] === '' ? size : Math.min(size, Number(m[2]) + 1)
  return from < size && to > from ? { from, to, ranged: true } : null
}

async function answerPreview (event, url) {
  const m = /^\/preview\/([^/]+)\/[^/]*$/.exec(url.pathname)
  const size = Number(url.searchParams.get('size'))
  if (m === null || !Number.isSafeInteger(size) || size <= 0) return plain(404, 'not a preview address')
  const session = decodeURIComponent(m[1])
  const type = url.searchParams.get('type') || 'application/octet-stream'
  const asked = event.request.headers.get('range')
  const range = parseRange(asked, size)
  if (range === null) return plain(416, `range ${asked} is not inside the ${size}-byte file`, { 'Content-Range': `bytes */${size}` })
  const from = range.from
  const to = Math.min(range.to, from + PREVIEW_CHUNK)
  const client = event.clientId === '' ? null : await self.clients.get(event.clientId)
  if (client === null || client === undefined) return plain(503, 'the page that opened this preview is gone: open the preview again')
  const reply = await new Promise((resolve) => {
    const channel = new MessageChannel()
    const timer = setTimeout(() => { channel.port1.close(); resolve(null) }, PAGE_ANSWER_MS)
    channel.port1.onmessage = (e) => { clearTimeout(timer); resolve(e.data); channel.port1.close() }
    client.postMessage({ type: 'coffer-preview-read', session, from, to }, [channel.port2])
  })
  if (reply === null) return plain(504, `the page did not answer the read of bytes ${from}-${to - 1} within ${PAGE_ANSWER_MS / 1000} s: open the preview again`)
  if (!reply.ok) return plain(reply.name === 'UnknownPreviewError' ? 404 : 502, `${reply.name}: ${reply.message}`)
  const bytes = reply.bytes
  // the whole file asked for without a range, and small enough to send whole: a plain 200
  const whole = !range.ranged && bytes.length === reply.size
  return new Response(bytes, {
    status: whole ? 200 : 206,
    headers: {
      'Content-Type': type,
      'Content-Length': String(bytes.length),
      'Accept-Ranges': 'bytes',
      'Cache-Control': 'no-store',
      // the page counts what it served; this tells the preview's tests which answers came from here
      'X-Coffer-Verified': 'range-read',
      ...(whole ? {} : { 'Content-Range': `bytes ${from}-${from + bytes.length - 1}/${reply.size}` })
    }
  })
}
