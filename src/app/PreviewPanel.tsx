// Preview of a stored file, drawn from verified range reads only (the worker's readRange: every byte checked against
// its CID before it is handed over). Images are read whole (up to a bound) into a blob; text shows its first 64 KiB;
// audio and video play from /preview/<session>/<name>, which the service worker (public/preview-sw.js) answers with
// 206 ranges it asks this page for, and this page asks the worker for: the media element's every range is verified.
import { useEffect, useRef, useState } from 'react'
import type { Call } from './use-light-client'
import type { FileRef } from './share-link'
import type { RangeRead } from '../light/range-reader'
import { previewType, type PreviewType } from './preview-type'
import { mib } from './format'
import { Fil, RetrievalPrice } from './Amount'

/** Text shown: the first 64 KiB (a preview, not a reader; a cut last character is dropped by the streaming decode). */
const TEXT_BYTES = 64 * 1024
/** The first read: enough for every signature previewType knows, and a small file whole. */
const HEAD_BYTES = 64 * 1024
/** Images are read whole into a blob; beyond this the preview says so instead (a picture that big is a download). */
const MAX_IMAGE_BYTES = 32 * 2 ** 20
/** One read of an image: the worker refuses reads over 16 MiB; 4 MiB keeps each round trip short. */
const IMAGE_READ = 4 * 2 ** 20

/** What this preview read, all verified: shown, and read by the browser test (the furthest offset shows a seek was served by range). */
interface Served { ranges: number, bytes: number, paid: bigint, maxFrom: number }
type Relay = { call: Call, onRead: (r: RangeRead, from: number) => void }

/** Sessions this page answers the service worker for (one listener for all of them). */
const relays = new Map<string, Relay>()
let listening = false
/** Relays the service worker's range requests to the worker's readRange, bytes moved (transferred) back. */
function listen (): void {
  if (listening || !('serviceWorker' in navigator)) return
  listening = true
  navigator.serviceWorker.addEventListener('message', (evt: MessageEvent) => {
    const m = evt.data as { type?: string, session?: string, from?: number, to?: number } | null
    if (m?.type !== 'coffer-preview-read' || typeof m.session !== 'string') return
    const port = evt.ports[0]
    if (port === undefined) return
    const relay = relays.get(m.session)
    if (relay === undefined) { port.postMessage({ ok: false, name: 'UnknownPreviewError', message: 'this preview was closed' }); return }
    relay.call('readRange', { session: m.session, from: Number(m.from), to: Number(m.to) }).then(
      (r) => { relay.onRead(r, Number(m.from)); port.postMessage({ ok: true, bytes: r.bytes, size: r.size }, [r.bytes.buffer]) },
      (err: Error) => { port.postMessage({ ok: false, name: err.name, message: err.message }) }
    )
  })
  navigator.serviceWorker.startMessages()
}

/**
 * Resolves once a service worker controls this page. The first load has none until the worker activates: it claims
 * open pages then (workbox `clientsClaim`). A page loaded with the worker bypassed (shift-reload) stays uncontrolled:
 * `onWait` tells the user to reload.
 */
async function controlled (onWait: () => void): Promise<boolean> {
  if (!('serviceWorker' in navigator) || import.meta.env.DEV) return false
  if (navigator.serviceWorker.controller !== null) return true
  if (await navigator.serviceWorker.getRegistration() === undefined) return false
  onWait()
  await new Promise<void>((resolve) => {
    navigator.serviceWorker.addEventListener('controllerchange', () => { resolve() }, { once: true })
    if (navigator.serviceWorker.controller !== null) resolve()
  })
  return true
}

type Opened = { session: string, type: PreviewType, text?: string, image?: string }

export function PreviewPanel ({ file, call, onClose }: { file: FileRef, call: Call, onClose: () => void }): React.JSX.Element {
  const [opened, setOpened] = useState<Opened | null>(null)
  const [price, setPrice] = useState<{ provider: string, pricePerGiB: string, maxPrice: string } | null>(null)
  const [allowed, setAllowed] = useState<string | null>(null)
  const [stage, setStage] = useState('finding the file\'s providers…')
  const [error, setError] = useState<string | null>(null)
  const [swState, setSwState] = useState<'ready' | 'waiting' | 'none' | null>(null)
  const [served, setServed] = useState<Served>({ ranges: 0, bytes: 0, paid: 0n, maxFrom: 0 })
  const count = useRef<Served>({ ranges: 0, bytes: 0, paid: 0n, maxFrom: 0 })

  useEffect(() => {
    const ac = new AbortController()
    let session: string | null = null
    let blobUrl: string | null = null
    const onRead = (r: RangeRead, from: number): void => {
      const c = count.current
      count.current = { ranges: c.ranges + 1, bytes: c.bytes + r.bytes.length, paid: c.paid + BigInt(r.paid), maxFrom: Math.max(c.maxFrom, from) }
      setServed(count.current)
    }
    const read = async (s: string, from: number, to: number): Promise<Uint8Array> => {
      const r = await call('readRange', { session: s, from, to }, { signal: ac.signal })
      onRead(r, from)
      return r.bytes
    }
    void (async () => {
      const o = await call('openPreview', { root: file.root, size: file.size, dealIds: file.dealIds, ...(file.carBytes === undefined ? {} : { carBytes: file.carBytes }), ...(allowed === null ? {} : { maxPaid: allowed }) }, { signal: ac.signal })
      if (o.session === null) { setPrice(o.needsPayment); setStage('waiting for your say-so'); return }
      session = o.session
      if (file.size === 0) { setOpened({ session, type: { kind: 'text', mime: 'text/plain' }, text: '' }); return }
      setStage(`reading the first bytes from ${o.providers.join(', ')}…`)
      const head = await read(session, 0, Math.min(file.size, HEAD_BYTES))
      const type = previewType(file.name, head)
      if (type.kind === 'text') {
        // streamed decode: a character cut at the 64 KiB edge is left out rather than shown as U+FFFD
        setOpened({ session, type, text: new TextDecoder('utf-8').decode(head.subarray(0, TEXT_BYTES), { stream: true }) })
      } else if (type.kind === 'image') {
        if (file.size > MAX_IMAGE_BYTES) throw new RangeError(`the image is ${mib(file.size)}: previews show images up to ${mib(MAX_IMAGE_BYTES)} (download it instead)`)
        const parts: Uint8Array[] = [head]
        for (let at = head.length; at < file.size; at += IMAGE_READ) {
          setStage(`reading the image: ${mib(at)} of ${mib(file.size)}…`)
          parts.push(await read(session, at, Math.min(file.size, at + IMAGE_READ)))
        }
        blobUrl = URL.createObjectURL(new Blob(parts as BlobPart[], { type: type.mime }))
        setOpened({ session, type, image: blobUrl })
      } else if (type.kind === 'audio' || type.kind === 'video') {
        relays.set(session, { call, onRead })
        listen()
        const sw = await controlled(() => { setSwState('waiting') })
        setSwState(sw ? 'ready' : 'none')
        setOpened({ session, type })
      } else {
        setOpened({ session, type })
      }
    })().catch((err: Error) => { if (!ac.signal.aborted) setError(`${err.name}: ${err.message}`) })
    return () => {
      ac.abort()
      if (blobUrl !== null) URL.revokeObjectURL(blobUrl)
      if (session !== null) { relays.delete(session); void call('closePreview', { session }).catch(() => {}) }
    }
  }, [call, file.root, file.size, file.name, file.carBytes, file.dealIds.join(','), allowed])

  const mediaUrl = opened === null ? '' : `/preview/${encodeURIComponent(opened.session)}/${encodeURIComponent(file.name)}?${new URLSearchParams({ size: String(file.size), type: opened.type.mime }).toString()}`
  return (
    <div className="card preview" data-testid="preview" data-kind={opened?.type.kind ?? ''}>
      <div className="row">
        <strong>Preview of {file.name}</strong>
        {opened !== null && <span className="small muted">{opened.type.mime}</span>}
        <button type="button" className="secondary" data-testid="preview-close" onClick={onClose}>Close</button>
      </div>
      {error !== null && <p className="bad" data-testid="preview-error">{error}</p>}
      {error === null && opened === null && price === null && <p className="muted small" data-testid="preview-stage">{stage}</p>}
      {price !== null && allowed === null && (
        <div data-testid="preview-price">
          <p className="small">
            No free copy: <span className="mono">{price.provider}</span> charges <RetrievalPrice attoPerGiB={price.pricePerGiB} />. A preview pays
            by voucher only for the ranges it reads (each verified first), and at most <Fil atto={price.maxPrice} />: the whole file read
            once, at the dearest copy; a payment channel is opened or topped up on chain if needed.
          </p>
          <button type="button" data-testid="preview-allow" onClick={() => { setPrice(null); setAllowed(price.maxPrice) }}>Preview, paying up to <Fil atto={price.maxPrice} /></button>
        </div>
      )}
      {opened?.type.kind === 'image' && opened.image !== undefined && <img className="preview-image" data-testid="preview-image" src={opened.image} alt={file.name} />}
      {opened?.type.kind === 'text' && (
        <>
          <pre className="preview-text" data-testid="preview-text">{opened.text}</pre>
          {file.size > TEXT_BYTES && <p className="small muted">the first {mib(TEXT_BYTES)} of {mib(file.size)}</p>}
        </>
      )}
      {(opened?.type.kind === 'audio' || opened?.type.kind === 'video') && (
        swState === 'ready'
          ? (opened.type.kind === 'audio'
              ? <audio controls preload="metadata" data-testid="preview-media" src={mediaUrl} onError={(e) => { setError(mediaError(e.currentTarget)) }} />
              : <video controls preload="metadata" data-testid="preview-media" className="preview-video" src={mediaUrl} onError={(e) => { setError(mediaError(e.currentTarget)) }} />)
          : swState === 'waiting'
            ? <p className="small" data-testid="preview-stage">waiting for the service worker to take this page: if this stays, reload the page to preview</p>
            : swState === 'none' ? <p className="bad small" data-testid="preview-error">Audio and video previews are served by the app's service worker, which does not control this page: reload the page to preview.</p> : null
      )}
      {opened?.type.kind === 'none' && <p className="muted small" data-testid="preview-none">No preview for this kind of file: download it to open it.</p>}
      <p className="small muted" data-testid="preview-served" data-ranges={served.ranges} data-bytes={served.bytes} data-max-from={served.maxFrom} data-paid={served.paid.toString()}>
        {served.ranges} verified range read{served.ranges === 1 ? '' : 's'} · {mib(served.bytes)} · paid <Fil atto={served.paid} />
      </p>
    </div>
  )
}

function mediaError (el: HTMLMediaElement): string {
  const e = el.error
  return e === null ? 'the media element failed' : `the media element refused the file (code ${e.code}${e.message === '' ? '' : `: ${e.message}`})`
}
