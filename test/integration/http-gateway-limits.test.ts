// What an unpaid HTTP client can make a provider's gateway do: a gateway on a real ProviderStore holding one payload
// CAR, priced (so every request without a voucher is an unpaid 402), with small limits. A flood of unpaid requests
// from one address gets 429 (ClientRateError, Retry-After) while another address is still served; requests held in
// flight past the per-client and overall limits get 429s of their own; a CAR plan reading more DAG nodes than the cap
// is refused (422, naming the limit) and an entity-bytes page of it served; half-sent request heads are cut by the
// header timeout; connections past the per-client cap are closed. Blocks are found through the PayloadIndex.
// Loopback is 127.0.0.0/8 on Linux: a second client is a second local address (127.0.0.2).
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import http from 'node:http'
import net from 'node:net'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { base64 } from 'multiformats/bases/base64'
import { CID, signVoucher, encodeSignedVoucher, secpAddressBytes, secpPublicKey, idAddressBytes, type AttoFil } from '../../src/core'
import { writeUnixfsCar } from '../../src/light/unixfs-car'
import { ProviderStore } from '../../src/node/provider/provider-store'
import { PayloadIndex } from '../../src/node/provider/payload-index'
import { startHttpGateway, VOUCHER_HEADER, type HttpGateway, type GatewayLimits } from '../../src/node/provider/http-gateway'
import { until } from '../helpers/until'

const KiB = 1024
const LEAF = 256 * KiB

let dir: string
let store: ProviderStore
let payloads: PayloadIndex
let root: CID
let file: Uint8Array
const gateways: HttpGateway[] = []

interface Answer { status: number, headers: http.IncomingHttpHeaders, body: Buffer }

/** One request from a chosen local address (a client of its own to the gateway), no keep-alive. */
async function request (gw: HttpGateway, p: string, o: { from?: string, headers?: Record<string, string>, method?: string } = {}): Promise<Answer> {
  const url = new URL(`${gw.url}${p}`)
  return await new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname + url.search, method: o.method ?? 'GET', localAddress: o.from ?? '127.0.0.1', agent: false, headers: { Accept: 'application/vnd.ipld.car', ...o.headers } }, (res) => {
      const parts: Buffer[] = []
      res.on('data', (c: Buffer) => parts.push(c))
      res.on('end', () => { resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts) }) })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

/** A voucher header that decodes (the fake payUpfront below takes any). */
function voucher (): string {
  const key = secp256k1.utils.randomSecretKey()
  return base64.baseEncode(encodeSignedVoucher(signVoucher(key, secpAddressBytes(secpPublicKey(key)), {
    channelAddr: idAddressBytes(1234), timeLockMin: 0, timeLockMax: 0, secretHash: new Uint8Array(0), extra: null,
    lane: 0, nonce: 1, amount: 10n ** 18n as AttoFil, minSettleHeight: 0, merges: [], signature: null
  })))
}

/** A priced gateway over the test store; `pay` stands in for RetrievalServer.payUpfront. */
async function gateway (limits: Partial<GatewayLimits>, pay: () => Promise<unknown> = async () => {}): Promise<HttpGateway> {
  const gw = await startHttpGateway({ host: '127.0.0.1', limits })
  gateways.push(gw)
  gw.attach({
    store, payloads, miner: 't01001', worker: 't1worker',
    retrievalTerms: () => ({ pricePerGiB: 10n ** 15n as AttoFil, paymentInterval: 1 << 20, paymentIntervalIncrease: 1 << 20 }),
    payUpfront: pay
  })
  return gw
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'coffer-gw-limits-'))
  store = await ProviderStore.open(dir)
  file = new Uint8Array(4 * LEAF + 777).map((_, i) => (i * 31 + (i >> 18) * 7) & 0xff)
  const parts: Uint8Array[] = []
  const r = await writeUnixfsCar([file], { write: async (b) => { parts.push(b.slice()) }, writeAt: async (o, b) => { parts[0]!.set(b, o) } })
  root = r.root
  await writeFile(path.join(dir, 'pieces', 'a.car'), Buffer.concat(parts))
  await store.add({ dealId: 1, proposalCid: 'a', pieceCid: 'x', paddedBytes: 2 * 2 ** 20, payloadBytes: r.carBytes, startEpoch: 0, endEpoch: 100, file: 'pieces/a.car', publishMessage: 'm' })
  payloads = new PayloadIndex(store, () => {})
})

afterAll(async () => {
  for (const gw of gateways) await gw.stop().catch(() => {})
  await rm(dir, { recursive: true, force: true })
})

describe('gateway limits', () => {
  it('a flood of unpaid requests from one address gets 429 with Retry-After; another address is still answered, and paid', async () => {
    const gw = await gateway({ rate: { burst: 10, refillMs: 3_600_000 } })
    // one after another: the in-flight limits (next test) stay out of it, this is the rate alone
    const flood: Answer[] = []
    for (let i = 0; i < 40; i++) flood.push(await request(gw, `/ipfs/${root.toString()}`))
    const counts = new Map<number, number>()
    for (const a of flood) counts.set(a.status, (counts.get(a.status) ?? 0) + 1)
    expect(counts.get(402)).toBe(10)
    expect(counts.get(429)).toBe(30)
    const refused = flood.find(a => a.status === 429)!
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1)
    expect(JSON.parse(refused.body.toString())).toMatchObject({ error: 'ClientRateError' })
    // the flooder stays refused; someone else is answered: priced (402), then paid (200, the CAR)
    expect((await request(gw, `/ipfs/${root.toString()}`)).status).toBe(429)
    expect((await request(gw, `/ipfs/${root.toString()}`, { from: '127.0.0.2' })).status).toBe(402)
    const paid = await request(gw, `/ipfs/${root.toString()}`, { from: '127.0.0.2', headers: { [VOUCHER_HEADER]: voucher() } })
    expect(paid.status).toBe(200)
    expect(Number(paid.headers['content-length'])).toBe(paid.body.length)
    expect(paid.body.length).toBeGreaterThan(file.length)
  }, 60_000)

  it('requests in flight: past a client\'s share ClientBusyError, past the total GatewayBusyError; answered once they end', async () => {
    let held = 0
    let open!: () => void
    const gate = new Promise<void>(resolve => { open = resolve })
    const gw = await gateway({ maxInFlight: 3, maxInFlightPerClient: 2, maxQueuedPerClient: 0 }, async () => { held++; await gate })
    const paidGet = async (from: string): Promise<Answer> => await request(gw, `/ipfs/${root.toString()}`, { from, headers: { [VOUCHER_HEADER]: voucher() } })
    const first = [paidGet('127.0.0.1'), paidGet('127.0.0.1')]
    await until(() => held === 2, 30_000)
    const busy = await paidGet('127.0.0.1')
    expect(busy.status).toBe(429)
    expect(JSON.parse(busy.body.toString())).toMatchObject({ error: 'ClientBusyError' })
    const third = paidGet('127.0.0.2')
    await until(() => held === 3, 30_000)
    const full = await paidGet('127.0.0.3')
    expect(full.status).toBe(429)
    expect(full.headers['retry-after']).toBeDefined()
    expect(JSON.parse(full.body.toString())).toMatchObject({ error: 'GatewayBusyError' })
    open()
    for (const a of await Promise.all([...first, third])) expect(a.status).toBe(200)
    // slots are free again
    expect((await paidGet('127.0.0.3')).status).toBe(200)
  }, 60_000)

  it('a CAR plan reading more DAG nodes than the cap is refused before payment (422 naming it); a page with entity-bytes is priced', async () => {
    const gw = await gateway({ maxPlanBlocks: 3 })
    const whole = await request(gw, `/ipfs/${root.toString()}`)
    expect(whole.status).toBe(422)
    expect(JSON.parse(whole.body.toString())).toMatchObject({ error: 'PlanTooLargeError', limit: 3, unit: 'blocks' })
    expect((await request(gw, `/ipfs/${root.toString()}?entity-bytes=0:${LEAF - 1}`)).status).toBe(402)
  }, 60_000)

  it('blocks are found through the PayloadIndex: an inner block as raw, an unknown CID 404', async () => {
    const gw = await gateway({})
    const car = await request(gw, `/ipfs/${root.toString()}`, { headers: { [VOUCHER_HEADER]: voucher() } })
    expect(car.status).toBe(200)
    const blocks = await payloads.openBlock(root)
    expect(blocks).not.toBeNull()
    const inner = [...blocks!.cids()].find(c => c !== root.toString())!
    await blocks!.close()
    const raw = await request(gw, `/ipfs/${inner}`, { headers: { Accept: 'application/vnd.ipld.raw', [VOUCHER_HEADER]: voucher() } })
    expect(raw.status).toBe(200)
    expect(raw.body.length).toBe(LEAF)
    expect((await request(gw, '/ipfs/bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')).status).toBe(404)
  }, 60_000)

  it('a request head sent halfway is cut by the header timeout; connections past the per-client cap are closed at once', async () => {
    const gw = await gateway({ headersTimeoutMs: 1_000, timeoutCheckMs: 250, maxConnectionsPerClient: 2 })
    const { port } = new URL(gw.url)
    const open = async (): Promise<{ socket: net.Socket, closed: () => boolean, data: () => string }> => {
      const socket = net.connect({ host: '127.0.0.1', port: Number(port) })
      let closed = false
      let data = ''
      socket.on('close', () => { closed = true })
      socket.on('data', (c: Buffer) => { data += c.toString() })
      socket.on('error', () => {})
      await new Promise<void>((resolve) => { socket.once('connect', () => { resolve() }); socket.once('close', () => { resolve() }) })
      return { socket, closed: () => closed, data: () => data }
    }
    const slow = await open()
    slow.socket.write(`GET /ipfs/${root.toString()} HTTP/1.1\r\nHost: x\r\n`)
    const second = await open()
    const third = await open()
    await until(() => third.closed(), 20_000)
    expect(third.data()).toBe('')
    // the slow one is answered 408 and closed once its head is late (Node's headersTimeout); the default would wait 60 s
    await until(() => slow.closed(), 20_000)
    expect(slow.data()).toMatch(/^HTTP\/1\.1 408/)
    second.socket.destroy()
  }, 60_000)
})
