// The `coffer devnet` command as an operator runs it: prints the URL, serves app and bootstrap document,
// refuses a second instance on the same data folder or port, and stops cleanly on Ctrl-C; `coffer piece`;
// `coffer provider corrupt|delete` on a provider's folder.
import { describe, it, expect, afterEach } from 'vitest'
import { Piece } from '@web3-storage/data-segment'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises'
import { statSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { requireBuiltApp } from '../helpers/dist'
import { ProviderStore } from '../../src/node/provider/provider-store'

const bin = fileURLToPath(new URL('../../src/node/bin.mjs', import.meta.url))
const children: ChildProcess[] = []
afterEach(() => { for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL') })

function coffer (args: string[]): { child: ChildProcess, output: () => string, exited: Promise<number | null> } {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  let out = ''
  child.stdout!.on('data', (b: Buffer) => { out += b.toString() })
  child.stderr!.on('data', (b: Buffer) => { out += b.toString() })
  const exited = new Promise<number | null>(resolve => child.on('exit', (code) => resolve(code)))
  return { child, output: () => out, exited }
}

async function waitFor (fn: () => RegExpMatchArray | null, ms = 30_000): Promise<RegExpMatchArray> {
  const end = Date.now() + ms
  for (;;) {
    const m = fn()
    if (m !== null) return m
    if (Date.now() > end) throw new Error('timed out')
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

// Each test starts CLI processes (tsx loading the sources: seconds each on a loaded machine), so each gets three
// minutes, a ceiling that costs nothing when it passes
describe('coffer devnet', () => {
  it('runs, serves, refuses a second instance, and stops on SIGINT', async () => {
    requireBuiltApp()
    const data = await mkdtemp(path.join(tmpdir(), 'coffer-cli-'))
    try {
      // one provider: `coffer devnet` now starts each as a `coffer provider run` child and prints the app's URL
      // once they are ready (each syncs the chain and puts its addresses on chain first), so the wait is long
      const first = coffer(['devnet', '--port', '0', '--rpc-port', '0', '--data', data, '--providers', '1'])
      const [, url] = await waitFor(() => first.output().match(/Open (http:\/\/127\.0\.0\.1:\d+)/), 150_000)
      expect(first.output()).toMatch(/\[t01001\] provider ready/)
      // the Lotus-style JSON-RPC URL is printed and answers
      const [, rpcUrl] = await waitFor(() => first.output().match(/JSON-RPC \(Lotus API\): (http:\/\/127\.0\.0\.1:\d+\/rpc\/v1)/))
      const head = await (await fetch(rpcUrl!, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'Filecoin.ChainHead', params: [] }) })).json() as { result: { Height: number, Cids: unknown[] } }
      expect(head.result.Cids).toHaveLength(1)
      expect(head.result.Height).toBeGreaterThanOrEqual(0)
      const doc = await (await fetch(`${url}/bootstrap.json`)).json() as { network: string, genesis: { cid: string }, peers: string[] }
      expect(doc.network).toBe('coffer-devnet')
      expect(doc.genesis.cid).toMatch(/^bafy2bza/)
      expect(doc.peers[0]).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/ws\/p2p\/12D3Koo/)
      const html = await (await fetch(url!)).text()
      expect(html).toContain('<div id="root">')

      // what `npm start` runs: it must refuse before rebuilding the app the first one serves
      const builtAt = statSync(`${requireBuiltApp()}/index.html`).mtimeMs
      const sameData = coffer(['devnet', '--port', '0', '--rpc-port', '0', '--data', data, '--build'])
      expect(await sameData.exited).toBe(1)
      expect(sameData.output()).toMatch(/data folder .* is in use/)
      expect(statSync(`${requireBuiltApp()}/index.html`).mtimeMs).toBe(builtAt)

      const port = new URL(url!).port
      const samePort = coffer(['devnet', '--port', port, '--rpc-port', '0', '--data', `${data}-other`])
      expect(await samePort.exited).toBe(1)
      expect(samePort.output()).toMatch(new RegExp(`port ${port} is in use`))
      await rm(`${data}-other`, { recursive: true, force: true })

      first.child.kill('SIGINT')
      expect(await first.exited).toBe(0)
      expect(first.output()).toContain('coffer: stopped')
    } finally {
      await rm(data, { recursive: true, force: true })
    }
  }, 300_000)
})

describe('coffer piece', () => {
  it('prints the piece CIDs and padded size of a file, as data-segment computes them, and names bad input', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'coffer-piece-'))
    try {
      const payload = new Uint8Array(300_000).map((_, i) => (i * 7919) & 0xff)
      await writeFile(path.join(dir, 'f.bin'), payload)
      const ok = coffer(['piece', path.join(dir, 'f.bin')])
      expect(await ok.exited).toBe(0)
      const p = Piece.fromPayload(payload)
      expect(ok.output()).toContain(`piece CID v2: ${String(Piece.toLink(p))}`)
      expect(ok.output()).toContain(`piece CID v1: ${String(Piece.toInfo(p).link)}`)
      expect(ok.output()).toContain(`padded size:  ${Piece.toInfo(p).size}`)

      await writeFile(path.join(dir, 'small.bin'), new Uint8Array(64))
      const small = coffer(['piece', path.join(dir, 'small.bin')])
      expect(await small.exited).toBe(1)
      expect(small.output()).toMatch(/at least 65 bytes/)
      const missing = coffer(['piece', path.join(dir, 'nope.bin')])
      expect(await missing.exited).toBe(1)
      expect(missing.output()).toMatch(/no such file/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }, 180_000)
})

describe('coffer provider', () => {
  it('corrupts and deletes a stored deal\'s bytes on disk, and names a deal it cannot find', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'coffer-provider-cli-'))
    try {
      const store = await ProviderStore.open(path.join(dir, 'providers', '1002'))
      const payload = new Uint8Array(1000).fill(0x5a)
      const file = store.piecePath('bafy-proposal')
      await writeFile(file, payload)
      await store.add({ dealId: 7, proposalCid: 'bafy-proposal', pieceCid: 'baga-piece', paddedBytes: 2048, payloadBytes: 1000, startEpoch: 30, endEpoch: 60, file: store.relative(file), publishMessage: 'bafy-msg' })

      // each run starts a CLI process (seconds of module loading on a loaded machine): those that do not depend on
      // one another run side by side; the refusals read only, and delete comes after corrupt
      const corrupt = coffer(['provider', 'corrupt', '7', '--data', dir])
      const other = coffer(['provider', 'delete', 'baga-piece', '--data', dir, '--provider', 't01001'])
      const usage = coffer(['provider', 'frob', '7'])
      expect(await corrupt.exited).toBe(0)
      expect(corrupt.output()).toMatch(/corrupted deal 7 \(baga-piece\): flipped the byte at 500/)
      const after = new Uint8Array(await readFile(file))
      expect(after.filter((b, i) => b !== payload[i]).length).toBe(1)
      expect(after[500]).toBe(0x5a ^ 0xff)

      expect(await other.exited).toBe(1)
      expect(other.output()).toMatch(/no provider t01001 .* stores deal or piece baga-piece/)
      const del = coffer(['provider', 'delete', 'baga-piece', '--data', dir, '--provider', 't01002'])
      expect(await del.exited).toBe(0)
      expect(existsSync(file)).toBe(false)
      expect(await usage.exited).toBe(2)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }, 180_000)
})
