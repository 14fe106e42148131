// Previews in real Chromium, through the UI: a PNG and a ~2 MiB WAV are stored with two providers (t01001 priced,
// t01002 free); Preview shows the image (decoded: naturalWidth > 0) and plays the audio, seeks to the middle, and
// currentTime advances from there. The audio's bytes come through the service worker's /preview/ answers (206 ranges),
// each a verified read the page relays to the worker: the preview's counter shows the ranges it served and the
// furthest offset asked for (a seek to the middle is served by a range from there, not by reading the file through).
// The service worker is checked directly too: a Range request returns exactly those bytes of the file, with
// Content-Range; a range past the end gets 416. Printed: click-to-play and seek-to-playing times.
//
// The page opened here is the first load (no controlling service worker yet): the preview relies on the worker
// claiming the page on activation (workbox clientsClaim), never on a reload.
import { describe, it, expect, beforeAll, afterEach } from 'vitest'
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { chromiumPath } from '../helpers/chromium'
import { fundedWallet } from '../helpers/app-page'
import { requireBuiltApp } from '../helpers/dist'
import { startDevnet, type Devnet } from '../../src/node/devnet'
import { openPage, profile, uploadThroughUi, whileProgressing, elapsed } from './helpers/retrieval-ui'
import type { Page } from 'playwright-core'

let distDir: string
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })
beforeAll(() => {
  chromiumPath()
  distDir = requireBuiltApp()
})

const PASS = 'correct horse battery'
const RATE = 44_100
const SECONDS = 40

/** A PCM WAV (16-bit mono) of a tone gliding up over `seconds`: 3.5 MB at 44.1 kHz for 40 s, fourteen 256 KiB leaves. */
function wav (seconds: number): Uint8Array {
  const samples = RATE * seconds
  const out = new Uint8Array(44 + samples * 2)
  const v = new DataView(out.buffer)
  const text = (at: number, s: string): void => { for (let i = 0; i < s.length; i++) out[at + i] = s.charCodeAt(i) }
  text(0, 'RIFF'); v.setUint32(4, 36 + samples * 2, true); text(8, 'WAVE')
  text(12, 'fmt '); v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 1, true)
  v.setUint32(24, RATE, true); v.setUint32(28, RATE * 2, true); v.setUint16(32, 2, true); v.setUint16(34, 16, true)
  text(36, 'data'); v.setUint32(40, samples * 2, true)
  let phase = 0
  for (let i = 0; i < samples; i++) {
    phase += 2 * Math.PI * (220 + 440 * i / samples) / RATE
    v.setInt16(44 + i * 2, Math.round(Math.sin(phase) * 8000), true)
  }
  return out
}

/**
 * Opens the preview of the file card named `name` and waits until it shows something (or fails). Resolves to the
 * page's clock at the click: the button appears only once a deal is published, a wait that is not the preview's.
 */
async function openPreview (page: Page, name: string): Promise<number> {
  await page.click('[data-testid=tab-files]')
  const card = page.locator('[data-testid=file-card]', { hasText: name })
  const button = card.locator('[data-testid=preview-open]')
  await button.waitFor({ timeout: 60_000 })
  const clickedAt = await page.evaluate(() => performance.now())
  await button.click()
  await whileProgressing(`preview of ${name}`, async () => await page.evaluate(() => {
    const p = document.querySelector('[data-testid=preview]')
    const error = p?.querySelector('[data-testid=preview-error]')?.textContent
    const stage = p?.querySelector('[data-testid=preview-stage]')?.textContent ?? ''
    const kind = p?.getAttribute('data-kind') ?? ''
    const shown = p?.querySelector('[data-testid=preview-image], [data-testid=preview-media], [data-testid=preview-text]') !== null && p !== null
    return { done: shown, ...(error == null ? {} : { failed: error }), progress: `${kind} ${stage} ${p?.querySelector('[data-testid=preview-served]')?.textContent ?? ''}` }
  }))
  return clickedAt
}

const served = async (page: Page): Promise<{ ranges: number, bytes: number, maxFrom: number, paid: string }> => await page.evaluate(() => {
  const s = document.querySelector('[data-testid=preview-served]')!
  return { ranges: Number(s.getAttribute('data-ranges')), bytes: Number(s.getAttribute('data-bytes')), maxFrom: Number(s.getAttribute('data-max-from')), paid: s.getAttribute('data-paid') ?? '' }
})

describe('preview in Chromium', () => {
  it('shows a stored image, and plays a stored WAV from verified ranges with seeking', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'coffer-preview-'))
    const devnet: Devnet = await startDevnet({ dataDir, distDir, httpPort: 0, rpcPort: 0, providers: 2, provingPeriod: 30 })
    cleanups.push(async () => { await devnet.stop(); await rm(dataDir, { recursive: true, force: true }) })
    const errors: string[] = []
    const context = await profile(cleanups)
    const page = await openPage(context, `${devnet.url!}#wallet`, errors)
    await fundedWallet(page, PASS)

    // the image: the app's own icon, stored with both providers; the free copy serves the preview
    const png = new Uint8Array(await readFile(path.join(distDir, 'icons/icon-192.png')))
    const pngPath = path.join(dataDir, 'icon.png')
    await writeFile(pngPath, png)
    await uploadThroughUi(page, pngPath, { copies: 2, periods: 20 })
    await openPreview(page, 'icon.png')
    const img = await page.evaluate(async () => {
      const el = document.querySelector<HTMLImageElement>('[data-testid=preview-image]')!
      await el.decode()
      return { width: el.naturalWidth, height: el.naturalHeight, src: el.src }
    })
    expect(img).toMatchObject({ width: 192, height: 192 })
    expect(img.src.startsWith('blob:')).toBe(true)
    const imgServed = await served(page)
    expect(imgServed).toMatchObject({ bytes: png.length, paid: '0' })
    await page.click('[data-testid=preview-close]')

    // the audio: ~3.4 MiB, so the middle is several leaves in and a seek needs a range from there
    const audio = wav(SECONDS)
    const wavPath = path.join(dataDir, 'tone.wav')
    await writeFile(wavPath, audio)
    await uploadThroughUi(page, wavPath, { copies: 2, periods: 20 })
    const clickedAt = await openPreview(page, 'tone.wav')
    expect(await page.getAttribute('[data-testid=preview]', 'data-kind')).toBe('audio')
    // Preview clicked to playable (providers found, the type sniffed, the first range through the service worker)
    await page.waitForFunction(() => document.querySelector<HTMLAudioElement>('[data-testid=preview-media]')!.readyState >= 3, undefined, { timeout: 180_000 })
    const playableMs = await page.evaluate((t) => performance.now() - t, clickedAt)
    // the page is controlled by now: the service worker claimed it on activation (this is the profile's first load)
    expect(await page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true)

    // play (muted: headless Chromium's autoplay policy lets a muted element play without a gesture)
    const played = await page.evaluate(async () => {
      const el = document.querySelector<HTMLAudioElement>('[data-testid=preview-media]')!
      el.muted = true
      const t0 = performance.now()
      const playing = new Promise<void>(resolve => { el.addEventListener('playing', () => { resolve() }, { once: true }) })
      await el.play()
      await playing
      return { ms: performance.now() - t0, duration: el.duration }
    })
    expect(played.duration).toBeCloseTo(SECONDS, 0)
    const beforeSeek = await served(page)
    // the first bytes (the type sniffed) and at least one range the service worker asked for
    expect(beforeSeek.ranges).toBeGreaterThanOrEqual(2)

    // seek to the middle: playback resumes there and currentTime advances from it
    const mid = SECONDS / 2
    const seek = await page.evaluate(async (to) => {
      const el = document.querySelector<HTMLAudioElement>('[data-testid=preview-media]')!
      const t0 = performance.now()
      const seeked = new Promise<number>(resolve => { el.addEventListener('seeked', () => { resolve(performance.now() - t0) }, { once: true }) })
      el.currentTime = to
      const seekedMs = await seeked
      // playing again: the next timeupdate past the seek target
      await new Promise<void>(resolve => {
        const on = (): void => { if (el.currentTime > to + 0.05) { el.removeEventListener('timeupdate', on); resolve() } }
        el.addEventListener('timeupdate', on)
      })
      return { seekedMs, playingMs: performance.now() - t0, at: el.currentTime }
    }, mid)
    expect(seek.at).toBeGreaterThan(mid)
    // currentTime goes on advancing from the middle (waits for the clock the element shows, not a fixed sleep)
    await page.waitForFunction((m) => document.querySelector<HTMLAudioElement>('[data-testid=preview-media]')!.currentTime > m + 1, mid, { timeout: 120_000 })
    const after = await served(page)
    // the seek was answered by a range from the middle, not by reading the file through
    expect(after.maxFrom).toBeGreaterThanOrEqual(Math.floor(audio.length * 0.45))
    expect(after.ranges).toBeGreaterThan(beforeSeek.ranges)
    expect(after.paid).toBe('0')

    // the service worker's answers, checked byte for byte: a Range inside the file, one past its end
    const src = (await page.getAttribute('[data-testid=preview-media]', 'src'))!
    const direct = await page.evaluate(async (u) => {
      const r = await fetch(u, { headers: { Range: 'bytes=1000000-1000099' } })
      const bad = await fetch(u, { headers: { Range: 'bytes=99999999-' } })
      // no Range, and an invalid one (ignored, RFC 9110 §14.1.2): a bounded first chunk (1 MiB), said so in Content-Range
      const none = await fetch(u)
      const inverted = await fetch(u, { headers: { Range: 'bytes=500-100' } })
      return {
        status: r.status, range: r.headers.get('content-range'), via: r.headers.get('x-coffer-verified'), bytes: [...new Uint8Array(await r.arrayBuffer())], bad: bad.status,
        none: [none.status, none.headers.get('content-range'), (await none.arrayBuffer()).byteLength], inverted: [inverted.status, inverted.headers.get('content-range')]
      }
    }, src)
    expect(direct).toMatchObject({
      status: 206, range: `bytes 1000000-1000099/${audio.length}`, via: 'range-read', bad: 416,
      none: [206, `bytes 0-1048575/${audio.length}`, 1048576], inverted: [206, `bytes 0-1048575/${audio.length}`]
    })
    expect(direct.bytes).toEqual([...audio.subarray(1_000_000, 1_000_100)])

    console.log(`preview (Chromium): Preview clicked to playable (readyState >= HAVE_FUTURE_DATA) ${playableMs.toFixed(0)} ms`)
    console.log(`preview (Chromium): click play to 'playing' ${played.ms.toFixed(0)} ms; seek to the middle: 'seeked' ${seek.seekedMs.toFixed(0)} ms, playing past it ${seek.playingMs.toFixed(0)} ms; ${after.ranges} verified range reads, ${after.bytes} bytes (file ${audio.length}; the furthest range began at ${beforeSeek.maxFrom} before the seek, ${after.maxFrom} after) at ${elapsed()} s`)
    expect(errors).toEqual([])
  }, 900_000)
})
