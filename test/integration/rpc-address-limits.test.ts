// JSON-RPC limits per remote address (issue 9 review, item 4), against a real devnet. Loopback is all of
// 127.0.0.0/8 on Linux, so clients bound to 127.0.0.2, .3, .4 are other addresses to the node: an attacker on one
// of them must not shut out the honest client on 127.0.0.1, and parked waits (StateWaitMsg for a message that
// never comes) must not crowd out calls that do work.
import { describe, it, expect, afterEach } from 'vitest'
import http from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import WebSocket from 'ws'
import { startDevnet, type Devnet } from '../../src/node/devnet'
import { MAX_BATCH, MAX_PARKED_PER_ADDRESS, MAX_SOCKETS_PER_ADDRESS } from '../../src/node/rpc/rpc-limits'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { secpPublicKey, secpAddressBytes, addressToString } from '../../src/core'
import { until } from '../helpers/until'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

// the old code has neither limit: these stand in for it there, so that it fails on behaviour
const PARKED_PER_ADDRESS: number = MAX_PARKED_PER_ADDRESS ?? 256
const SOCKETS_PER_ADDRESS: number = MAX_SOCKETS_PER_ADDRESS ?? 32

async function devnet (): Promise<Devnet> {
  const dir = await mkdtemp(path.join(tmpdir(), 'coffer-rpc-address-'))
  const d = await startDevnet({ dataDir: dir, distDir: '/nonexistent', serveApp: false, rpcPort: 0 })
  cleanups.push(async () => { await d.stop(); await rm(dir, { recursive: true, force: true }) })
  return d
}

interface Reply { id?: unknown, result?: any, error?: { code: number, message: string, data?: any } }

/** A POST from `localAddress`, kept open until answered (or the test ends). */
function post (url: string, body: unknown, localAddress: string): Promise<{ status: number, body: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', localAddress, agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { text += c })
      res.on('end', () => { resolve({ status: res.statusCode!, body: text === '' ? undefined : JSON.parse(text) }) })
    })
    req.on('error', reject)
    cleanups.push(async () => { req.destroy() })
    req.end(JSON.stringify(body))
  })
}

/** A WebSocket from `localAddress`; resolves open, or rejects with the HTTP status of a refused upgrade. */
async function socketFrom (d: Devnet, localAddress: string): Promise<WebSocket> {
  const ws = new WebSocket(d.rpcUrl!.replace(/^http/, 'ws'), { localAddress } as WebSocket.ClientOptions)
  cleanups.push(async () => { ws.terminate() })
  return await new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws))
    ws.once('unexpected-response', (_req, res: http.IncomingMessage) => { reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode })) })
    ws.once('error', reject)
  })
}

/** Replies by id on one socket (single calls and batches alike). */
function replies (ws: WebSocket): Map<unknown, Reply> {
  const seen = new Map<unknown, Reply>()
  ws.on('message', (data: Buffer) => {
    const parsed = JSON.parse(data.toString()) as Reply | Reply[]
    for (const r of Array.isArray(parsed) ? parsed : [parsed]) seen.set(r.id, r)
  })
  return seen
}

/** A fresh key address for the faucet to pay. */
const freshAddress = (): string => addressToString(secpAddressBytes(secpPublicKey(secp256k1.utils.randomSecretKey())), 't')
const waitFor = (cid: string, id: unknown): object => ({ jsonrpc: '2.0', id, method: 'Filecoin.StateWaitMsg', params: [{ '/': cid }, 0, -1, true] })
/** StateWaitMsg calls now parked on the chain's head events (each waits for the next head). */
const parkedOnHeads = (d: Devnet): number => (d.chain as unknown as { heads: { waiters: Set<unknown> } }).heads.waiters.size

describe('JSON-RPC limits per remote address', () => {
  it('ten POSTs of 100 StateWaitMsg for a message that never comes, kept open, shut out no other HTTP client', async () => {
    const d = await devnet()
    const never = d.genesis.stateCid.toString() // a CID no message will ever have
    // the attack of the review: ten batches of 100 waits from one address, never answered while they last
    const attack = Array.from({ length: 10 }, async (_, b) =>
      await post(d.rpcUrl!, Array.from({ length: MAX_BATCH }, (_, i) => waitFor(never, b * MAX_BATCH + i)), '127.0.0.2'))
    const answered: Array<{ status: number, body: any }> = []
    for (const a of attack) a.then(r => answered.push(r), () => {})
    // the attack is under way: its waits sit on the chain's head events
    await until(() => parkedOnHeads(d) >= Math.min(PARKED_PER_ADDRESS, 200), 60_000)

    // another client (127.0.0.1, as the app's faucet button and iso-filecoin are on the devnet) over three heads:
    // every ChainHead answered, a faucet payment made and its StateWaitMsg answered with the receipt
    const start = d.head().header.height
    const statuses: number[] = []
    const paid = await post(d.rpcUrl!, { jsonrpc: '2.0', id: 1, method: 'Coffer.Faucet', params: [freshAddress()] }, '127.0.0.1')
    expect(paid.status).toBe(200)
    expect(paid.body.error).toBeUndefined()
    const waited = post(d.rpcUrl!, waitFor(paid.body.result['/'], 2), '127.0.0.1')
    while (d.head().header.height < start + 3) {
      const r = await post(d.rpcUrl!, { jsonrpc: '2.0', id: 3, method: 'Filecoin.ChainHead', params: [] }, '127.0.0.1')
      statuses.push(r.status)
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    const receipt = await waited
    expect(statuses.every(s => s === 200)).toBe(true)
    expect(receipt.status).toBe(200)
    expect(receipt.body.result.Receipt.ExitCode).toBe(0)

    // the attacker's own address holds at most its share of parked waits: the rest were refused at once
    // (LimitExceeded, ParkedLimitError), which answers every batch that got no slot at all
    await until(() => answered.length >= 10 - Math.ceil(PARKED_PER_ADDRESS / MAX_BATCH), 60_000)
    const refused = answered.flatMap(a => a.body as Reply[]).filter(r => r.error?.code === -32005 && r.error.data?.name === 'ParkedLimitError')
    console.log(`honest ChainHead statuses ${JSON.stringify([...new Set(statuses)])} over ${statuses.length} calls; attacker's waits refused at once: ${refused.length} of 1000`)
    expect(refused.length).toBeGreaterThanOrEqual((10 - Math.ceil(PARKED_PER_ADDRESS / MAX_BATCH)) * MAX_BATCH)
    expect(parkedOnHeads(d)).toBeLessThanOrEqual(PARKED_PER_ADDRESS)
  }, 300_000)

  it('a WebSocket beyond the per-address cap is refused 429 at the upgrade; other addresses still connect', async () => {
    const d = await devnet()
    const held: WebSocket[] = []
    for (let i = 0; i < SOCKETS_PER_ADDRESS; i++) held.push(await socketFrom(d, '127.0.0.3'))
    const refused = await socketFrom(d, '127.0.0.3').then(() => undefined, (err: { status?: number }) => err.status)
    expect(refused).toBe(429)
    // an honest client elsewhere connects and is answered
    const other = await socketFrom(d, '127.0.0.1')
    const seen = replies(other)
    other.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'Filecoin.ChainHead', params: [] }))
    await until(() => seen.get(1), 60_000)
    expect(seen.get(1)!.result).toBeDefined()
    // a socket closed frees its place
    held.pop()!.close()
    await until(async () => await socketFrom(d, '127.0.0.3').then(() => true, () => false), 60_000)
  }, 300_000)

  it('parked waits hold no working slot and are capped per address across sockets; other addresses still wait', async () => {
    const d = await devnet()
    const never = d.genesis.stateCid.toString()
    const attacker = await socketFrom(d, '127.0.0.4')
    const seen = replies(attacker)
    // more waits than the address may park, each a call of its own (a batch is answered only when all of it is)
    const n = PARKED_PER_ADDRESS + 44
    for (let i = 0; i < n; i++) attacker.send(JSON.stringify(waitFor(never, i)))
    await until(() => parkedOnHeads(d) >= Math.min(PARKED_PER_ADDRESS, 60), 60_000)
    // the same socket, behind its own parked waits, still gets a ChainHead answered (the old code let 64 waits
    // take every running slot of the socket, so this never started)
    attacker.send(JSON.stringify({ jsonrpc: '2.0', id: 'head', method: 'Filecoin.ChainHead', params: [] }))
    await until(() => seen.get('head'), 60_000)
    expect(seen.get('head')!.result).toBeDefined()

    // waits past the address's cap are refused at once, a second socket from the same address included
    await until(() => [...seen.values()].filter(r => r.error?.data?.name === 'ParkedLimitError').length >= n - PARKED_PER_ADDRESS, 60_000)
    const second = await socketFrom(d, '127.0.0.4')
    const seen2 = replies(second)
    second.send(JSON.stringify(waitFor(never, 'more')))
    await until(() => seen2.get('more'), 60_000)
    expect(seen2.get('more')!.error).toMatchObject({ code: -32005, data: { name: 'ParkedLimitError', scope: 'address' } })

    // an honest client on another address waits for its message and gets the receipt
    const honest = await socketFrom(d, '127.0.0.1')
    const seenHonest = replies(honest)
    const paid = await post(d.rpcUrl!, { jsonrpc: '2.0', id: 1, method: 'Coffer.Faucet', params: [freshAddress()] }, '127.0.0.1')
    expect(paid.body.error).toBeUndefined()
    honest.send(JSON.stringify(waitFor(paid.body.result['/'], 'mine')))
    await until(() => seenHonest.get('mine'), 60_000)
    expect(seenHonest.get('mine')!.result.Receipt.ExitCode).toBe(0)
  }, 300_000)
})
