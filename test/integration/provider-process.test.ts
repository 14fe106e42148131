// A provider that joins a running devnet from its own process and folder (issue 12): `coffer provider init` funds
// its worker from the faucet, `coffer provider run` syncs its own full node, creates its miner on chain with a
// pledge and serves; a client finds it through the chain alone (listMiners, then its MinerInfo's PeerId and
// Multiaddrs), takes its ask, makes a deal that is proven and paid. Then it leaves: stop-deals refuses a new deal
// by name while the live one is still proven, and withdraw moves only what no deal locks. Bad input: a CreateMiner
// with another miner's peer ID, and one without the pledge, are refused by name and create nothing.
// Where network namespaces can be made (root on Linux), the provider runs in its own with its own address.
import { bls12_381 } from '@noble/curves/bls12-381.js'
import { describe, it, expect, afterAll, beforeAll } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { startDevnet, type Devnet } from '../../src/node/devnet'
import {
  listMiners, hasLiveDeals, getMinerInfo, getMinerState, readDeal, readEscrow, getActor, addressToString, parseAddress, verifyStorageAsk, pieceDigest, pieceCidV1, paddedPieceSize,
  askPricePerEpoch, askCollateral, signDealProposal, secpAddressBytes, secpPublicKey, signMessage, gasLimitFor, encodeCreateMinerParams,
  POWER_ACTOR_ADDRESS, PowerMethod, MinerExit, MIN_MINER_PLEDGE, DEFAULT_WINDOW_POST_PROOF_TYPE, DealRejectedError,
  TRANSFER_GAS_FEE_CAP, TRANSFER_GAS_PREMIUM, type DealRequest, type SignedStorageAsk, type Message
} from '../../src/core'
import { createCofferLibp2p, sendDeal, requestAsk, type CofferLibp2p, type PayloadReader } from '../../src/net'
import { ensureMiner, workerAddress, CreateMinerRefusedError } from '../../src/node/provider/join'
import { providerChain } from '../../src/node/provider/devnet-providers'
import { generateKeyPair, privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import { base64 } from 'multiformats/bases/base64'
import { until } from '../helpers/until'
import { MarketClientPool, type MarketClient } from '../helpers/market-client'
import { makeNetns, type Netns } from '../helpers/netns'

/** Epochs per proving period: a proof lands within P epochs of its challenge (storage-deals.test: 10 was safe on a loaded machine). */
const P = 6
/**
 * Periods of the deal the provider takes. It must still be live when the last test's withdrawal executes, or the
 * miner actor rightly releases the pledge (a 6-period deal, 36 epochs, ended while `coffer provider withdraw` ran).
 * 100 periods are 600 epochs, and the devnet makes at most one block a second: longer than the three tests' timeouts
 * together (540 s), so the deal outlives any run that does not time out; it costs the client a few µFIL.
 */
const DEAL_PERIODS = 100
const bin = fileURLToPath(new URL('../../src/node/bin.mjs', import.meta.url))
const debug = process.env.DEBUG_DEVNET !== undefined

const cleanups: Array<() => Promise<void>> = []
afterAll(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

interface Cli { child: ChildProcess, output: () => string, exited: Promise<number | null> }

/** Runs `coffer …` as its own process group (killed whole at the end), optionally inside a network namespace. */
function coffer (args: string[], netns?: string): Cli {
  const cmd = netns === undefined ? [process.execPath, bin, ...args] : ['ip', 'netns', 'exec', netns, process.execPath, bin, ...args]
  const child = spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let out = ''
  const take = (b: Buffer): void => { out += b.toString(); if (debug) process.stdout.write(`[${args[1]}] ${b.toString()}`) }
  child.stdout!.on('data', take)
  child.stderr!.on('data', take)
  const exited = new Promise<number | null>(resolve => child.on('exit', (code) => resolve(code)))
  cleanups.push(async () => {
    if (child.exitCode !== null) return
    try { process.kill(-child.pid!, 'SIGKILL') } catch {}
    await exited
  })
  return { child, output: () => out, exited }
}

let dir: string
let d: Devnet
let node: CofferLibp2p
let pool: MarketClientPool
let netns: Netns | undefined

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'coffer-provider-process-'))
  cleanups.push(async () => { await rm(dir, { recursive: true, force: true }) })
  const made = makeNetns('p')
  if (typeof made === 'string') console.log(`provider-process: no network namespace (${made}); the provider runs on loopback`)
  else { netns = made; cleanups.push(made.remove) }
  // no genesis providers: the only one is the one that joins
  d = await startDevnet({
    dataDir: path.join(dir, 'devnet'), distDir: '/nonexistent', serveApp: false, rpcPort: 0, providers: 0, provingPeriod: P, faucetCooldownMs: 0,
    host: netns?.hostIp ?? '127.0.0.1', log: debug ? (l) => { console.log(`[devnet] ${l}`) } : undefined
  })
  cleanups.push(async () => { await d.stop() })
  node = await createCofferLibp2p({ allowLoopbackDials: true })
  cleanups.push(async () => { await node.stop() })
  await writeFile(path.join(dir, 'bootstrap.json'), JSON.stringify(d.bootstrap()))
  pool = await MarketClientPool.fill(d, { 1: 2, 5: 2 })
}, 120_000)

const head = (): number => d.head().header.height
const whole = (bytes: Uint8Array): PayloadReader => async function * (offset) { yield bytes.subarray(offset) }

function proposal (c: MarketClient, miner: Uint8Array, ask: SignedStorageAsk, bytes: Uint8Array, start: number, periods: number): DealRequest {
  const pieceSize = paddedPieceSize(bytes.length)
  return {
    proposal: signDealProposal(c.secret, {
      pieceCid: pieceCidV1(pieceDigest(bytes).root), pieceSize, verifiedDeal: false, client: c.address, provider: miner, label: 'joined',
      startEpoch: start, endEpoch: start + periods * P, storagePricePerEpoch: askPricePerEpoch(ask.ask, pieceSize),
      providerCollateral: askCollateral(ask.ask, pieceSize), clientCollateral: 0n
    }),
    payloadBytes: bytes.length
  }
}

/** Sends a deal, re-signing a later start if the provider says the first came too soon (as a client's sendCopy does). */
async function makeDeal (c: MarketClient, miner: Uint8Array, peer: ReturnType<typeof peerIdFromString>, ask: SignedStorageAsk, bytes: Uint8Array, periods: number): Promise<number> {
  let start = Math.ceil((head() + 10) / P) * P
  for (let attempt = 0; ; attempt++) {
    try {
      return (await sendDeal(node, peer, proposal(c, miner, ask, bytes, start, periods), whole(bytes), { retries: 1 })).dealId
    } catch (err) {
      if (!(err instanceof DealRejectedError) || err.code !== 'START' || attempt >= 3) throw err
      start = Math.ceil(((err.earliestStart ?? head()) + P) / P) * P
    }
  }
}

describe('a provider in its own process', () => {
  let providerDir: string
  let run: Cli
  let miner: Uint8Array
  let peer: ReturnType<typeof peerIdFromString>
  let dealId: number

  it('inits from the bootstrap document (faucet-funded), creates its miner, is found on chain, takes a deal that is proven for two periods and paid', async () => {
    providerDir = path.join(dir, 'provider-a')
    const init = coffer(['provider', 'init', '--network', path.join(dir, 'bootstrap.json'), '--data', providerDir])
    expect(await init.exited, init.output()).toBe(0)
    expect(init.output()).toMatch(/funded: t3\w+ holds/)
    const keysBefore = await readFile(path.join(providerDir, 'keys.json'), 'utf8')

    const started = Date.now()
    run = coffer(['provider', 'run', '--data', providerDir, '--host', netns?.peerIp ?? '127.0.0.1'], netns?.ns)
    const ready = await until(() => run.output().match(/provider ready (\{.*\})/) ?? undefined, 90_000)
    const info = JSON.parse(ready[1]!) as { miner: string, peerId: string, addrs: string[], gateway: string }
    expect(await readFile(path.join(providerDir, 'keys.json'), 'utf8')).toBe(keysBefore)
    expect(JSON.parse(await readFile(path.join(providerDir, 'miner.json'), 'utf8'))).toEqual({ address: info.miner })

    // the client knows nothing but the chain: the miner is listed, and its record says where to dial it
    miner = parseAddress(info.miner, 't').bytes
    await until(() => d.chain.readState((s, r) => listMiners(s, r)).some(m => addressToString(m) === info.miner), 30_000)
    const record = await until(() => { const m = d.chain.readState((s, r) => getMinerInfo(s, r, miner)); return m !== null && m.multiaddrs.length > 0 ? m : undefined }, 30_000)
    peer = peerIdFromString(info.peerId)
    expect(record.peerId).toEqual(peer.toMultihash().bytes)
    const addr = multiaddr(record.multiaddrs[0]!).encapsulate(`/p2p/${info.peerId}`)
    // it listens with WebRTC-Direct too, by default, and its record says so (a browser dials that with no TLS certificate)
    expect(info.addrs.some(a => a.includes('/webrtc-direct/certhash/'))).toBe(true)
    expect(record.multiaddrs.some(m => multiaddr(m).toString().includes('/webrtc-direct/certhash/'))).toBe(true)
    if (netns !== undefined) expect(addr.toString()).toContain(`/ip4/${netns.peerIp}/`)
    await node.dial(addr)
    const ask = await requestAsk(node, peer)
    verifyStorageAsk(ask, record.worker, head())
    expect(ask.ask.miner).toEqual(miner)
    // its escrow for collateral came from its faucet-funded worker, keeping gas
    await until(() => d.chain.readState((s, r) => readEscrow(s, r, miner)).escrow > 0n, 60_000)

    const c = pool.take('1')
    const clientBefore = d.chain.readState((s, r) => readEscrow(s, r, c.address)).escrow
    // the provider checks its escrow on its own node, which may be a block behind the devnet's: as a user would, the
    // deal is proposed again while it says to try again shortly
    dealId = await until(async () => {
      try { return await makeDeal(c, miner, peer, ask, randomBytes(100_000), DEAL_PERIODS) } catch (err) {
        if (/try again shortly/.test((err as Error).message)) return undefined
        throw err
      }
    }, 60_000)
    console.log(`provider-process: from \`coffer provider run\` to its first deal taken: ${((Date.now() - started) / 1000).toFixed(1)} s (startup ${(JSON.parse(ready[1]!) as { startupMs: number }).startupMs} ms)${netns === undefined ? '' : ', in its own network namespace'}`)

    const proven = await until(() => {
      const r = d.chain.readState((s, root) => readDeal(s, root, dealId))
      return r !== null && r.periods.filter(p => p.proof !== null && p.paid > 0n).length >= 2 ? r : undefined
    }, 90_000)
    const paid = proven.periods.reduce((sum, p) => sum + p.paid, 0n)
    expect(paid).toBeGreaterThan(0n)
    // what the provider was paid left the client's escrow
    expect(clientBefore - d.chain.readState((s, r) => readEscrow(s, r, c.address)).escrow).toBeGreaterThanOrEqual(paid)
    const rss = Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${run.child.pid!}/status`, 'utf8'))?.[1] ?? 0)
    console.log(`provider-process: RSS of the provider process with one deal: ${(rss / 1024).toFixed(0)} MiB`)
  }, 240_000)

  it('refuses a CreateMiner with another miner\'s peer ID, and one without the pledge, by name; neither creates a miner', async () => {
    const before = d.chain.readState((s, r) => listMiners(s, r)).length
    // a second provider's folder holding the first one's libp2p key: its worker is its own, funded
    const otherDir = path.join(dir, 'provider-b')
    const blsWorker = bls12_381.longSignatures.keygen().secretKey
    await d.chain.waitMessage(await d.chain.faucet(workerAddress({ worker: blsWorker })), AbortSignal.timeout(60_000))
    const keys = JSON.parse(await readFile(path.join(providerDir, 'keys.json'), 'utf8')) as { peer: string }
    const err = await ensureMiner({
      chain: providerChain(d.chain), dir: otherDir, multiaddrs: ['/ip4/127.0.0.1/tcp/1/ws'], log: () => {}, signal: AbortSignal.timeout(60_000),
      keys: { worker: blsWorker, peer: privateKeyFromProtobuf(base64.baseDecode(keys.peer)) }
    }).then(() => null, (e: Error) => e)
    expect(err).toBeInstanceOf(CreateMinerRefusedError)
    expect((err as CreateMinerRefusedError).exitCode).toBe(MinerExit.ErrPeerIdTaken)
    expect(err!.message).toMatch(/another miner holds this peer ID/)

    // a CreateMiner with no value: the pledge is missing
    const secret = secp256k1.utils.randomSecretKey()
    const who = { secret, address: secpAddressBytes(secpPublicKey(secret)) }
    const paidCid = await d.chain.faucet(who.address)
    await d.chain.waitMessage(paidCid, AbortSignal.timeout(60_000))
    const m: Message = {
      version: 0, to: POWER_ACTOR_ADDRESS, from: who.address, nonce: await d.chain.mpoolNonce(who.address), value: 0n, gasLimit: 0, gasFeeCap: TRANSFER_GAS_FEE_CAP, gasPremium: TRANSFER_GAS_PREMIUM,
      method: PowerMethod.CreateMiner,
      params: encodeCreateMinerParams({ owner: who.address, worker: who.address, windowPoStProofType: DEFAULT_WINDOW_POST_PROOF_TYPE, peer: (await generateKeyPair('Ed25519')).publicKey.toMultihash().bytes, multiaddrs: [] })
    }
    const lookup = await d.chain.waitMessage(await d.chain.mpoolPush(signMessage(secret, { ...m, gasLimit: gasLimitFor(m) })), AbortSignal.timeout(60_000))
    expect(lookup.receipt.exitCode).toBe(MinerExit.ErrPledgeTooLow)
    expect(d.chain.readState((s, r) => listMiners(s, r)).length).toBe(before)
  }, 120_000)

  it('stop-deals: a new deal is refused CLOSED and the ask offers no room while the live deal keeps being proven; withdraw moves only free funds', async () => {
    const stop = coffer(['provider', 'stop-deals', '--data', providerDir])
    expect(await stop.exited, stop.output()).toBe(0)
    const c = pool.take('1')
    const ask = await requestAsk(node, peer)
    expect(ask.ask.freeBytes).toBe(0)
    expect(ask.ask.maxPieceSize).toBe(0)
    const refused = await makeDeal(c, miner, peer, { ...ask, ask: { ...ask.ask, maxPieceSize: 2 ** 30 } }, randomBytes(2000), 2).then(() => null, (e: Error) => e)
    expect(refused).toBeInstanceOf(DealRejectedError)
    expect((refused as DealRejectedError).code).toBe('CLOSED')

    // withdraw while the deal is live: the free escrow moves, the locked collateral and the pledge stay
    const locked = d.chain.readState((s, r) => readEscrow(s, r, miner)).locked
    expect(locked).toBeGreaterThan(0n)
    // the miner actor's view: its deal is live, so its pledge stays locked
    expect(d.chain.readState((s, r) => hasLiveDeals(s, r, miner, head()))).toBe(true)
    const paidSoFar = (s: Parameters<typeof readDeal>[0], r: Parameters<typeof readDeal>[1]): bigint => readDeal(s, r, dealId)!.periods.reduce((sum, p) => sum + p.paid, 0n)
    const paidBefore = d.chain.readState(paidSoFar)
    const withdraw = coffer(['provider', 'withdraw', '--data', providerDir])
    expect(await withdraw.exited, withdraw.output()).toBe(0)
    // the premise: live at a later head, so live when the withdrawal executed (a deal never turns live again)
    expect(d.chain.readState((s, r) => hasLiveDeals(s, r, miner, head())), 'the deal ended before the withdrawal: make DEAL_PERIODS longer').toBe(true)
    expect(d.chain.readState((s, r) => getMinerState(s, r, miner))!.initialPledge).toBe(MIN_MINER_PLEDGE)
    expect(withdraw.output()).toMatch(/withdrew [\d.]+ FIL of free market escrow and 0 FIL the pledge no longer locks/)
    // all that was free went; what is free now can only be the fees of periods settled since (the deal goes on paying)
    const after = d.chain.readState((s, r) => ({ ...readEscrow(s, r, miner), paid: paidSoFar(s, r) }))
    expect(after.locked).toBeGreaterThan(0n)
    expect(after.escrow - after.locked).toBeLessThanOrEqual(after.paid - paidBefore)
    expect(d.chain.readState((s, r) => getActor(s, r, miner))!.balance).toBeGreaterThanOrEqual(MIN_MINER_PLEDGE)

    // the live deal is still proven after the provider stopped taking deals
    const provenBefore = d.chain.readState((s, r) => readDeal(s, r, dealId))!.periods.filter(p => p.proof !== null).length
    await until(() => d.chain.readState((s, r) => readDeal(s, r, dealId))!.periods.filter(p => p.proof !== null).length > provenBefore, 60_000)
  }, 180_000)
})
