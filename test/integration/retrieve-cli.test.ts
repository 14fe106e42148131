// `coffer retrieve` from a shell against a devnet serving its bootstrap document: the free provider needs no key;
// a priced one is refused without a key file and paid with one; a run killed mid-download and run again resumes
// from the verified bytes on the same lane and pays for the file's bytes once.
import { describe, it, expect, afterAll, beforeAll } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, mkdir, rm, writeFile, readFile } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { CarIndexer } from '@ipld/car/indexer'
import { startDevnet, type Devnet } from '../../src/node/devnet'
import { writeUnixfsCar, formatLotusExport, type DownloadState, type StoredChannel } from '../../src/light'
import { pieceDigest, pieceCidV1, readEscrow, secpAddressBytes, secpPublicKey, addressToString, formatFil, ExitCode, intervalSizeAt, RETRIEVAL_MAX_CAR_BYTES, type CID } from '../../src/core'
import { createCofferLibp2p, sendDeal, priceOfBytes } from '../../src/net'
import { devnetRetrievalPrice, devnetAsk } from '../../src/node/provider/devnet-providers'
import { until } from '../helpers/until'
import { fundedMarketClient, dealRequest } from '../helpers/market-client'

const bin = fileURLToPath(new URL('../../src/node/bin.mjs', import.meta.url))
const P = 5
const MiB = 2 ** 20
/**
 * Byte equality in one native call: vitest's deep toEqual on 10 MiB arrays holds the event loop for tens of
 * seconds, and the devnet's providers share this process (a provider then gave up waiting for a voucher it had
 * been sent: its timer fired before the socket was read).
 */
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0

const cleanups: Array<() => Promise<void>> = []
const children: ChildProcess[] = []
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {})
})

let dir: string
let d: Devnet
let file: Uint8Array
let root: CID
let dagBlockBytes = 0
let rootBlockBytes = 0
let network: string

function coffer (args: string[]): { child: ChildProcess, output: () => string, exited: Promise<number | null> } {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  let out = ''
  child.stdout!.on('data', (b: Buffer) => { out += b.toString() })
  child.stderr!.on('data', (b: Buffer) => { out += b.toString() })
  const exited = new Promise<number | null>(resolve => child.on('exit', (code) => resolve(code)))
  return { child, output: () => out, exited }
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'coffer-retrieve-cli-'))
  // the app itself is not needed: only its server's bootstrap document
  await mkdir(path.join(dir, 'dist'))
  d = await startDevnet({
    dataDir: path.join(dir, 'devnet'), distDir: path.join(dir, 'dist'), serveApp: true, httpPort: 0, rpcPort: 0, providers: 2, provingPeriod: P, faucetCooldownMs: 0,
    log: process.env.DEBUG_DEVNET === undefined ? undefined : (l) => { console.log(l) }
  })
  cleanups.push(async () => { await d.stop(); await rm(dir, { recursive: true, force: true }) })
  network = `${d.url!}/bootstrap.json`
  const node = await createCofferLibp2p({ allowLoopbackDials: true })
  cleanups.push(async () => { await node.stop() })
  for (const p of d.providers) await node.dial(p.libp2p.getMultiaddrs()[0]!)

  file = new Uint8Array(10 * MiB)
  for (let i = 0; i < file.length; i += 4) new DataView(file.buffer).setUint32(i, Math.imul(i + 7, 2654435761))
  const parts: Uint8Array[] = []
  const r = await writeUnixfsCar([file], { write: async (b: Uint8Array) => { parts.push(b.slice()) }, writeAt: async (offset: number, b: Uint8Array) => { parts[0]!.set(b, offset) } })
  const car = new Uint8Array(r.carBytes)
  let at = 0
  for (const p of parts) { car.set(p, at); at += p.length }
  root = r.root
  for await (const b of (await CarIndexer.fromBytes(car))) {
    dagBlockBytes += b.blockLength
    if (b.cid.equals(root)) rootBlockBytes = b.blockLength
  }
  const client = await fundedMarketClient(d, '1')
  await until(() => d.providers.every(p => d.chain.readState((s, r) => readEscrow(s, r, p.provider.address)).escrow > 0n), 60_000)
  const start = Math.ceil((d.head().header.height + 40) / P) * P
  const digest = pieceDigest(car)
  await Promise.all([0, 1].map(async (i) => {
    const req = dealRequest(client, i, { pieceCid: pieceCidV1(digest.root), payloadBytes: car.length, start, provingPeriod: P, label: root.toString() })
    await sendDeal(node, d.providers[i]!.libp2p.peerId, req, async function * (offset) { for (let o = offset; o < car.length; o += MiB) yield car.subarray(o, o + MiB) })
  }))
}, 240_000)

describe('coffer retrieve', () => {
  it('finds the providers from the chain\'s deals and retrieves from the free one without a key', async () => {
    const out = path.join(dir, 'free.bin')
    const run = coffer(['retrieve', root.toString(), '--out', out, '--network', network])
    expect(await run.exited).toBe(0)
    expect(same(new Uint8Array(await readFile(out)), file)).toBe(true)
    expect(run.output()).toContain(`retrieved ${file.length} bytes`)
    expect(run.output()).toContain('from t01002')
    expect(run.output()).toContain(`sha256 ${sha256(file)}`)
    expect(run.output()).toContain('paid nothing')
    // a range: just its bytes
    const part = path.join(dir, 'range.bin')
    const ranged = coffer(['retrieve', root.toString(), '--out', part, '--network', network, '--range', '1000000-3000000'])
    expect(await ranged.exited).toBe(0)
    expect(same(new Uint8Array(await readFile(part)), file.subarray(1_000_000, 3_000_000))).toBe(true)
  }, 120_000)

  it('refuses a priced provider without a key, pays it with one, and a killed run resumes and pays once', async () => {
    const out = path.join(dir, 'priced.bin')
    const nokey = coffer(['retrieve', root.toString(), '--out', out, '--network', network, '--provider', 't01001'])
    expect(await nokey.exited).toBe(1)
    expect(nokey.output()).toMatch(/t01001: PaymentRequiredError: t01001 charges .* a key to pay it with is needed/)

    const secret = secp256k1.utils.randomSecretKey()
    const address = secpAddressBytes(secpPublicKey(secret))
    expect((await d.chain.waitMessage(await d.chain.faucet(address), AbortSignal.timeout(60_000))).receipt.exitCode).toBe(ExitCode.Ok)
    const keyFile = path.join(dir, 'key')
    await writeFile(keyFile, formatLotusExport({ type: 'secp256k1', secret }))

    const args = ['retrieve', root.toString(), '--out', out, '--network', network, '--provider', 't01001', '--key', keyFile]
    const first = coffer(args)
    // killed at its first verified bytes: mid-download, with a channel, a lane and vouchers on record
    await until(() => /MiB verified/.test(first.output()) || (first.child.exitCode !== null && first.child.exitCode !== undefined), 120_000)
    first.child.kill('SIGKILL')
    await first.exited
    const records = (): { downloads: Record<string, DownloadState>, channels: StoredChannel[] } => JSON.parse(readFileSync(`${out}.retrieval.json`, 'utf8')) as { downloads: Record<string, DownloadState>, channels: StoredChannel[] }
    const cut = Object.values(records().downloads)[0]!
    expect(cut.complete).toBe(false)
    expect(cut.providers.t01001!.lane).toBe(0)

    const second = coffer(args)
    expect(await second.exited).toBe(0)
    expect(second.output()).toContain(`resuming from byte ${cut.verifiedOffset}`)
    expect(same(new Uint8Array(await readFile(out)), file)).toBe(true)
    expect(second.output()).toContain(`sha256 ${sha256(file)}`)
    const done = Object.values(records().downloads)[0]!
    const { channels } = records()
    expect(channels).toHaveLength(1)
    expect(Object.keys(channels[0]!.lanes)).toEqual(['0'])
    expect(channels[0]!.from).toBe(addressToString(address))
    // one lane for the whole download: the file's bytes paid once, only the root node (the path to the resume point) twice
    const paid = BigInt(done.providers.t01001!.paid)
    expect(channels[0]!.lanes['0']!.amount).toBe(String(paid))
    const price = devnetRetrievalPrice(0)
    // the killed run may leave what it verified after its last voucher unpaid (it pays at half an interval, and
    // checks after each frame): the provider's risk, at most an interval and a frame, never the client's
    const interval = devnetAsk(0).paymentInterval
    const unpaidAtMost = intervalSizeAt(dagBlockBytes, interval, devnetAsk(0).paymentIntervalIncrease) + RETRIEVAL_MAX_CAR_BYTES
    expect(paid).toBeGreaterThanOrEqual(priceOfBytes(Math.max(0, dagBlockBytes - unpaidAtMost), price))
    // (each stream rounds its price up to the attoFIL: one more for the second)
    expect(paid).toBeLessThanOrEqual(priceOfBytes(dagBlockBytes + rootBlockBytes, price) + 1n)
    expect(second.output()).toContain(`paid ${formatFil(paid)} to t01001`)

    // what the CLI read, as Lotus's RPC shows it to any Filecoin tool
    const rpc = async (method: string, params: unknown[]): Promise<any> => (await (await fetch(d.rpcUrl!, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })).json())
    const deals = (await rpc('Filecoin.StateMarketDeals', [null])).result as Record<string, { Proposal: { Label: string, Provider: string }, State: { SlashEpoch: number } }>
    expect(Object.values(deals).filter(x => x.Proposal.Label === root.toString()).map(x => x.Proposal.Provider).sort()).toEqual(['t01001', 't01002'])
    const info = (await rpc('Filecoin.StateMinerInfo', ['t01001', null])).result
    expect(info).toMatchObject({ Owner: addressToString(d.providers[0]!.provider.worker), Worker: addressToString(d.providers[0]!.provider.worker), PeerId: d.providers[0]!.libp2p.peerId.toString(), Multiaddrs: null })
    expect((await rpc('Filecoin.StateMinerInfo', [addressToString(address), null])).error.message).toMatch(/is not a storage miner/)
    const st = (await rpc('Filecoin.StateReadState', [channels[0]!.channel, null])).result
    expect(st.State).toMatchObject({ From: addressToString(address), To: addressToString(d.providers[0]!.provider.worker), SettlingAt: 0 })
    expect(BigInt(st.Balance)).toBeGreaterThanOrEqual(paid)
    const lanes = (await rpc('Filecoin.ChainReadObj', [st.State.LaneStates])).result as string
    expect(lanes.length).toBeGreaterThan(0)
    expect((await rpc('Filecoin.StateReadState', ['t01001', null])).error.message).toMatch(/is not decoded by this node/)
  }, 240_000)
})
