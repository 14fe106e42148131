// The piece pool in real Chromium: real Workers running the WASM module, a file streamed in segments,
// the piece CIDs equal to the data-segment package's, progress shown, cancel honoured, bad input named.
import { describe, it, expect, beforeAll, afterEach } from 'vitest'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { Piece } from '@web3-storage/data-segment'
import { readdirSync } from 'node:fs'
import { pieceCidV1, zeroComm, deriveChallenges, encodePossessionProof, encodeProofSet } from '../../src/core'
import { chromiumPath } from '../helpers/chromium'
import { openAppPage } from '../helpers/app-page'
import { requireBuiltApp } from '../helpers/dist'

let distDir: string
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })
beforeAll(() => { chromiumPath(); distDir = requireBuiltApp() })

describe('piece CIDs in Chromium', () => {
  it('computes a file’s piece CIDs in the worker pool, equal to data-segment’s', async () => {
    const { page, dataDir, errors } = await openAppPage(distDir, cleanups, {}, '#piece')

    // three segments and a bit: the split across workers and the combine both run
    const bytes = Buffer.alloc(13_000_000)
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24
    // from a file on disk, as a user picks one (a buffer goes over CDP base64-encoded: 30 s and more on a slow core)
    const blob = path.join(dataDir, 'blob.bin')
    await writeFile(blob, bytes)
    await page.setInputFiles('[data-testid=piece-file]', blob)
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

    // the WASM proof-of-possession verifier in a real browser worker (the app's own worker asset)
    const assets = readdirSync(path.join(distDir, 'assets'))
    const workerUrl = `/assets/${assets.find(f => /^piece-hasher\.worker.*\.js$/.test(f))!}`
    const wasmUrl = `/assets/${assets.find(f => /^piece-.*\.wasm$/.test(f))!}`
    const set = { pieces: [{ pieceCid: pieceCidV1(zeroComm(30)), paddedBytes: 32 * 2 ** 30 }] }
    const seed = new Uint8Array(32).fill(5)
    const zeroPath = Array.from({ length: 30 }, (_, h) => zeroComm(h))
    const answers = deriveChallenges(seed, set, 5).map(c => ({ ...c, value: new Uint8Array(32), path: zeroPath }))
    const good = encodePossessionProof(answers)
    const bad = encodePossessionProof(answers.map((a, i) => i === 3 ? { ...a, path: a.path.map((p, h) => h === 17 ? p.map(b => b ^ 1) : p) } : a))
    const verdicts = await page.evaluate(async ({ workerUrl, wasmUrl, setBytes, seed, proofs }) => {
      const module = await WebAssembly.compileStreaming(fetch(wasmUrl))
      const w = new Worker(workerUrl, { type: 'module' })
      const ask = async (msg: unknown): Promise<{ type: string, error?: { name: string, code?: string } }> => await new Promise(resolve => {
        w.onmessage = (e) => { if (e.data.type !== 'ready') resolve(e.data) }
        w.postMessage(msg)
      })
      w.postMessage({ type: 'init', module })
      const out = []
      for (const proof of proofs) out.push(await ask({ type: 'verify', id: 1, proofSet: new Uint8Array(setBytes), seed: new Uint8Array(seed), count: 5, proof: new Uint8Array(proof) }))
      w.terminate()
      return out
    }, { workerUrl, wasmUrl, setBytes: [...encodeProofSet(set)], seed: [...seed], proofs: [[...good], [...bad]] })
    expect(verdicts[0]).toMatchObject({ type: 'verified' })
    expect(verdicts[1]).toMatchObject({ type: 'error', error: { name: 'PossessionProofError', code: 'BAD_PATH' } })
    expect(errors).toEqual([])
  })
})
