// The piece pool in real Chromium: real Workers running the WASM module, a file streamed in segments,
// the piece CIDs equal to the data-segment package's, progress shown, cancel honoured, bad input named.
import { describe, it, expect, beforeAll, afterEach } from 'vitest'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Piece } from '@web3-storage/data-segment'
import { startDevnet, type Devnet } from '../../src/node/devnet'
import { launchChromium, chromiumPath } from '../helpers/chromium'
import { requireBuiltApp } from '../helpers/dist'

let distDir: string
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })
beforeAll(() => { chromiumPath(); distDir = requireBuiltApp() })

describe('piece CIDs in Chromium', () => {
  it('computes a file’s piece CIDs in the worker pool, equal to data-segment’s', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'coffer-devnet-'))
    const d: Devnet = await startDevnet({ dataDir, distDir, httpPort: 0 })
    cleanups.push(async () => { await d.stop(); await rm(dataDir, { recursive: true, force: true }) })
    const b = await launchChromium()
    cleanups.push(b.close)
    const page = await b.context.newPage()
    const errors: string[] = []
    page.on('pageerror', err => errors.push(err.message))
    await page.goto(`${d.url!}#piece`)

    // three segments and a bit: the split across workers and the combine both run
    const bytes = Buffer.alloc(13_000_000)
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24
    await page.setInputFiles('[data-testid=piece-file]', { name: 'blob.bin', mimeType: 'application/octet-stream', buffer: bytes })
    await page.waitForSelector('[data-testid=piece-cid-v2]', { timeout: 60_000 })
    const want = Piece.fromPayload(bytes)
    expect(await page.textContent('[data-testid=piece-cid-v2]')).toBe(String(Piece.toLink(want)))
    expect(await page.textContent('[data-testid=piece-cid-v1]')).toBe(String(Piece.toInfo(want).link))
    expect(await page.textContent('[data-testid=piece-padded]')).toBe(String(Piece.toInfo(want).size))

    await page.setInputFiles('[data-testid=piece-file]', { name: 'tiny.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(10) })
    await expect.poll(async () => await page.textContent('[data-testid=piece-error]').catch(() => null), { timeout: 15_000 }).toMatch(/PieceTooSmallError/)

    // cancel a large one mid-way
    const big = path.join(dataDir, 'big.bin')
    await writeFile(big, Buffer.alloc(200_000_000, 7))
    await page.setInputFiles('[data-testid=piece-file]', big)
    await page.click('[data-testid=piece-cancel]', { timeout: 15_000 })
    await expect.poll(async () => await page.textContent('[data-testid=piece-error]').catch(() => null), { timeout: 15_000 }).toBe('Cancelled.')
    expect(errors).toEqual([])
  })
})
