// Issue 9, defects 4, 5 and 11, met as an outside client meets them: through the devnet's JSON-RPC.
// 4: twenty messages of GasLimit = BlockGasLimit never share a block. 5: a flood of bad BLS signatures from
// another process does not hold up block production or the RPC. 11: the faucet pays key addresses only,
// and at a bounded overall rate.
import { describe, it, expect, afterEach } from 'vitest'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { spawn } from 'node:child_process'
import http from 'node:http'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { base64pad } from 'multiformats/bases/base64'
import { startDevnet, type Devnet } from '../../src/node/devnet'
import {
  secpPublicKey, secpAddressBytes, parseAddress, blsPublicKey, blsAddressBytes, signMessage, addressToString, idAddressBytes, loadBlockMessages,
  blockGasLimit, ProofBlockStore, signedMessageCid, CID, BLOCK_GAS_LIMIT, BASE_FEE, BURNT_FUNDS_ADDRESS, STORAGE_MARKET_ADDRESS,
  type Message, type SignedMessage
} from '../../src/core'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { SIGNATURE_FAILURES_ALLOWED, MAX_VERIFYING_PER_ORIGIN } from '../../src/node/mpool'
import { until } from '../helpers/until'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

const BLOCK_MS = 1000

async function devnet (): Promise<Devnet> {
  const dir = await mkdtemp(path.join(tmpdir(), 'coffer-mpool-'))
  const d = await startDevnet({ dataDir: dir, distDir: '/nonexistent', serveApp: false, rpcPort: 0, blockDelayMs: BLOCK_MS })
  cleanups.push(async () => { await rm(dir, { recursive: true, force: true }) })
  cleanups.push(d.stop)
  return d
}

const t = (a: Uint8Array): string => addressToString(a, 't')
const secpAccount = (): { secret: Uint8Array, address: Uint8Array } => {
  const secret = secp256k1.utils.randomSecretKey()
  return { secret, address: secpAddressBytes(secpPublicKey(secret)) }
}
const blsAccount = (): { secret: Uint8Array, address: Uint8Array } => {
  const secret = secp256k1.utils.randomSecretKey() // 32 random bytes below the secp order are a valid BLS scalar too
  return { secret, address: blsAddressBytes(blsPublicKey(secret)) }
}
const send = (from: Uint8Array, to: Uint8Array, nonce: number, over: Partial<Message> = {}): Message => ({
  version: 0, to, from, nonce, value: 1n, gasLimit: 2_000_000, gasFeeCap: BASE_FEE * 2n, gasPremium: 50n, method: 0, params: new Uint8Array(0), ...over
})
const lotusSigned = (sm: SignedMessage): unknown => ({
  Message: {
    Version: 0, To: t(sm.message.to), From: t(sm.message.from), Nonce: sm.message.nonce, Value: sm.message.value.toString(),
    GasLimit: sm.message.gasLimit, GasFeeCap: sm.message.gasFeeCap.toString(), GasPremium: sm.message.gasPremium.toString(), Method: sm.message.method, Params: null
  },
  Signature: { Type: sm.signature.type, Data: base64pad.baseEncode(sm.signature.data) }
})

interface RpcReply { result?: any, error?: { code: number, message: string, data?: any } }
async function call (d: Devnet, method: string, params: unknown[]): Promise<RpcReply> {
  const res = await fetch(d.rpcUrl!, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })
  return await res.json() as RpcReply
}
/** A call from another loopback address (127.0.0.0/8): another client to the node, as a user's wallet is to an attacker. */
async function callFrom (d: Devnet, localAddress: string, method: string, params: unknown[]): Promise<RpcReply> {
  const url = new URL(d.rpcUrl!)
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method, params })
  return await new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', localAddress, agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => { try { resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as RpcReply) } catch (err) { reject(err) } })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}
async function funded (d: Devnet, address: Uint8Array): Promise<void> {
  const paid = await call(d, 'Coffer.Faucet', [t(address)])
  expect(paid.error).toBeUndefined()
  await d.chain.waitMessage(CID.parse(paid.result['/']), AbortSignal.timeout(30_000))
}

describe('the block gas limit (defect 4)', () => {
  it('fills no block past BlockGasLimit, and refuses one message asking for more than a block holds', async () => {
    const d = await devnet()
    const alice = secpAccount()
    const bob = secpAccount()
    await funded(d, alice.address)
    const start = d.head().header.height

    const tooBig = await call(d, 'Filecoin.MpoolPush', [lotusSigned(signMessage(alice.secret, send(alice.address, bob.address, 0, { gasLimit: BLOCK_GAS_LIMIT + 1 })))])
    expect(tooBig.error?.data).toMatchObject({ name: 'MessageOutOfRangeError' })

    // twenty messages of a whole block's gas each, as the attack in issue 9 sent them
    const cids: CID[] = []
    for (let nonce = 0; nonce < 20; nonce++) {
      const sm = signMessage(alice.secret, send(alice.address, bob.address, nonce, { gasLimit: BLOCK_GAS_LIMIT }))
      const r = await call(d, 'Filecoin.MpoolPush', [lotusSigned(sm)])
      expect(r.error).toBeUndefined()
      cids.push(signedMessageCid(sm))
    }
    // wait until three have executed (three blocks at least), then read every block since, as a light
    // client would: the messages the node serves, loaded and summed
    await until(async () => (await Promise.all(cids.slice(0, 3).map(async c => await d.chain.searchMessage(c)))).every(x => x !== null), 60_000)
    const end = d.head().header.height
    let included = 0
    for (let h = start; h <= end; h++) {
      const header = (await d.chain.headerAt(h))!
      const msgs = loadBlockMessages(new ProofBlockStore(d.chain.blockMessagesProof(header, true)), header.header.messages)
      expect(blockGasLimit(msgs)).toBeLessThanOrEqual(BLOCK_GAS_LIMIT)
      included += msgs.secp.length
    }
    expect(included).toBeGreaterThanOrEqual(3)
    expect(included).toBeLessThan(20)
  }, 120_000)
})

/**
 * The attacker: a separate process (so its own pace does not depend on the node's event loop) posting the
 * given MpoolPush bodies at `rate` a second, while probing Filecoin.ChainHead every 50 ms. Prints what it saw.
 */
const ATTACKER = `
const [url, bodiesFile, rate, seconds] = process.argv.slice(1)
const bodies = JSON.parse(await (await import('node:fs/promises')).readFile(bodiesFile, 'utf8'))
const replies = {}
const latencies = []
const heads = []
let sent = 0
const post = async (body) => {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
  return await res.json()
}
const total = Number(rate) * Number(seconds)
const pending = []
// probes ChainHead every 50 ms until \`until\` resolves: latencies and when each new head was first seen
const probe = async (until) => {
  const latencies = []
  const heads = []
  let done = false
  until.then(() => { done = true })
  while (!done) {
    const t0 = performance.now()
    const r = await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'Filecoin.ChainHead', params: [] }))
    const t1 = performance.now()
    latencies.push(t1 - t0)
    if (heads.length === 0 || heads[heads.length - 1][0] !== r.result.Height) heads.push([r.result.Height, t1])
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  return { latencies, heads }
}
// the same figures with no attack first: the machine's own (shared, maybe loaded) baseline
const quiet = await probe(new Promise(resolve => setTimeout(resolve, Number(seconds) * 500)))
let started
const attacked = new Promise(resolve => {
  started = performance.now()
  const attack = setInterval(() => {
    // keep to the rate over the whole run, whatever the timer's jitter
    const due = Math.min(Math.ceil((performance.now() - started) / 1000 * Number(rate)), total)
    for (; sent < due; sent++) {
      pending.push(post(bodies[sent]).then(r => { const n = r.error?.data?.name ?? 'ok'; replies[n] = (replies[n] ?? 0) + 1 }, e => { replies[e.name] = (replies[e.name] ?? 0) + 1 }))
    }
    if (sent >= total) { clearInterval(attack); resolve() }
  }, 10)
})
const flood = await probe(attacked)
const elapsed = (performance.now() - started) / 1000
await Promise.allSettled(pending)
console.log(JSON.stringify({ sent, rate: sent / elapsed, elapsed, replies, quiet, ...flood }))
process.exit(0)
`

interface Probed { latencies: number[], heads: Array<[number, number]> }
async function runAttacker (url: string, bodies: string[], rate: number, seconds: number): Promise<Probed & { sent: number, rate: number, replies: Record<string, number>, quiet: Probed }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'coffer-attacker-'))
  cleanups.push(async () => { await rm(dir, { recursive: true, force: true }) })
  const file = path.join(dir, 'bodies.json')
  await writeFile(file, JSON.stringify(bodies))
  const child = spawn(process.execPath, ['--input-type=module', '-e', ATTACKER, url, file, String(rate), String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] })
  cleanups.push(async () => { child.kill() })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
  await new Promise<void>((resolve, reject) => {
    child.on('exit', (code) => { code === 0 ? resolve() : reject(new Error(`attacker exited with ${code}`)) })
  })
  return JSON.parse(out)
}

const percentile = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!

describe('bad BLS signatures (defect 5)', () => {
  it('a flood of pushes with one reused BLS signature keeps blocks on cadence and ChainHead answering', async () => {
    const d = await devnet()
    // funded t3 senders, as the attack needs (the pool checks nonce and funds before any signature)
    const attackers = Array.from({ length: 8 }, blsAccount)
    const honest = blsAccount()
    for (const a of [...attackers, honest]) {
      const paid = await call(d, 'Coffer.Faucet', [t(a.address)])
      expect(paid.error).toBeUndefined()
    }
    await until(async () => (await d.chain.getActor(honest.address)) !== null && (await Promise.all(attackers.map(async a => await d.chain.getActor(a.address)))).every(x => x !== null), 30_000)

    // a BLS transfer before the flood: the node's first BLS block check builds noble's pairing tables (about
    // a second of one-time work on a slow machine), which is not what this test measures
    const warm = signMessage(honest.secret, send(honest.address, attackers[1]!.address, 0, { value: 1n }))
    expect((await call(d, 'Filecoin.MpoolPush', [lotusSigned(warm)])).error).toBeUndefined()
    await d.chain.waitMessage(signedMessageCid(warm), AbortSignal.timeout(30_000))

    // one valid BLS signature (a real G2 point: a full pairing check to refuse), reused on every message
    const reused = signMessage(attackers[0]!.secret, send(attackers[0]!.address, honest.address, 99)).signature
    const RATE = Number(process.env.FLOOD_RATE ?? 50)
    const SECONDS = 10
    const bodies = Array.from({ length: RATE * SECONDS + 20 }, (_, i) => {
      const from = attackers[i % attackers.length]!.address
      // a different value each time: a different message CID, so no cache of bad CIDs alone stops it
      const sm: SignedMessage = { message: send(from, honest.address, 0, { value: BigInt(i + 1) }), signature: reused }
      return JSON.stringify({ jsonrpc: '2.0', id: i, method: 'Filecoin.MpoolPush', params: [lotusSigned(sm)] })
    })

    // an honest BLS transfer pushed in the middle of the flood, from the user's own address, still lands
    const honestMsg = signMessage(honest.secret, send(honest.address, attackers[1]!.address, 1, { value: 7n }))
    const honestPush = (async () => {
      await new Promise(resolve => setTimeout(resolve, SECONDS * 500))
      return await callFrom(d, '127.0.0.3', 'Filecoin.MpoolPush', [lotusSigned(honestMsg)])
    })()
    // the node's own event loop (this process), for the report
    const loop = monitorEventLoopDelay({ resolution: 10 })
    loop.enable()
    const seen = await runAttacker(d.rpcUrl!, bodies, RATE, SECONDS)
    loop.disable()
    const maxGap = (p: Probed): number => Math.max(...p.heads.slice(1).map(([, at], i) => at - p.heads[i]![1]))
    const figures = (p: Probed): string => `largest block gap ${maxGap(p).toFixed(0)} ms; ChainHead p50 ${percentile(p.latencies, 0.5).toFixed(1)} ms, p99 ${percentile(p.latencies, 0.99).toFixed(1)} ms (${p.latencies.length} calls)`
    console.log(`bad-BLS flood: ${seen.sent} pushes (${seen.rate.toFixed(1)}/s), replies ${JSON.stringify(seen.replies)}; under flood: ${figures(seen)}; ` +
      `quiet before: ${figures(seen.quiet)}; node event-loop delay p99 ${(loop.percentile(99) / 1e6).toFixed(1)} ms, max ${(loop.max / 1e6).toFixed(1)} ms`)

    // every push was sent, at RATE a second unless the attacker's own process was starved (it is reported)
    expect(seen.sent).toBe(RATE * SECONDS)
    expect(seen.replies.ok ?? 0).toBe(0)
    // the attacker's address had its signatures checked only until it was throttled (SignatureFailuresError):
    // at most its share of the queue in flight when the first failures came back, and a few more; the rest
    // were refused cheaply, whatever senders they named
    expect(seen.replies.MessageSignatureError ?? 0).toBeLessThanOrEqual(MAX_VERIFYING_PER_ORIGIN + SIGNATURE_FAILURES_ALLOWED)
    expect(seen.replies.SignatureFailuresError ?? 0).toBeGreaterThan(0)
    // issue 9's goals: largest gap ≤ 2 block times, ChainHead p99 < 500 ms. A machine shared with other
    // work can miss them with no attack at all, so the goal stretches to what this run measured before the
    // flood (before the fix the flood gave 12.5 s gaps and 12.5 s answers, far past either)
    expect(maxGap(seen)).toBeLessThanOrEqual(Math.max(2 * BLOCK_MS, maxGap(seen.quiet) + BLOCK_MS))
    expect(percentile(seen.latencies, 0.99)).toBeLessThan(Math.max(500, 2 * percentile(seen.quiet.latencies, 0.99)))

    const pushed = await honestPush
    expect(pushed.error).toBeUndefined()
    await d.chain.waitMessage(signedMessageCid(honestMsg), AbortSignal.timeout(30_000))
  }, 180_000)
})

describe('the faucet (defect 11)', () => {
  it('pays key addresses only, and no faster than its overall rate', async () => {
    const d = await devnet()
    for (const target of [BURNT_FUNDS_ADDRESS, STORAGE_MARKET_ADDRESS, idAddressBytes(1000), idAddressBytes(123456)]) {
      const r = await call(d, 'Coffer.Faucet', [t(target)])
      expect(r.error?.data).toMatchObject({ name: 'FaucetAddressError', code: 'FAUCET_ADDRESS' })
    }
    expect((await d.chain.getActor(BURNT_FUNDS_ADDRESS))?.balance ?? 0n).toBe(0n)

    // fresh keys cost nothing: ask for many, letting blocks clear the pool so that only the rate limit stops them
    const errors: Array<{ name: string, retryAfterMs?: number }> = []
    let paid = 0
    for (let i = 0; i < 80 && errors.length === 0; i++) {
      const r = await call(d, 'Coffer.Faucet', [t(secpAccount().address)])
      if (r.error !== undefined) {
        if (r.error.data?.name === 'FaucetBusyError') { await until(() => d.chain.mpool.pending(parseAddress(d.faucetAddress).bytes).length === 0, 30_000); continue }
        errors.push(r.error.data)
      } else paid++
    }
    expect(errors[0]).toMatchObject({ name: 'FaucetRateError', code: 'FAUCET_RATE' })
    expect(errors[0]!.retryAfterMs).toBeGreaterThan(0)
    expect(errors[0]!.retryAfterMs).toBeLessThanOrEqual(2000)
    expect(paid).toBeLessThan(80)
    // the bucket refills with time: after the hinted wait, one more payment
    await new Promise(resolve => setTimeout(resolve, errors[0]!.retryAfterMs! + 50))
    expect((await call(d, 'Coffer.Faucet', [t(secpAccount().address)])).error).toBeUndefined()
  }, 120_000)
})
