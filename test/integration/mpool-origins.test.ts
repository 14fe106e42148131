// The message pool's limits as an outside client meets them over the devnet's JSON-RPC (issue 9 review,
// items 1, 2, 3 and 7): a message whose signature is still being checked holds no nonce (a forged one naming
// the faucet cannot wedge it); failure cool-downs are per client address, never per the From a client names
// (an attacker on 127.0.0.2 cannot lock a victim out); an in-process provider never meets a queue others
// filled; and a wallet may pipeline a batch of consecutive nonces. Loopback is 127.0.0.0/8, so a client
// binding 127.0.0.2 is another address to the node.
import { describe, it, expect, afterEach } from 'vitest'
import http from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { base64pad } from 'multiformats/bases/base64'
import { workerAddress } from '../../src/node/provider/provider-keys'
import { startDevnet, type Devnet } from '../../src/node/devnet'
import {
  secpPublicKey, secpAddressBytes, parseAddress, blsPublicKey, blsAddressBytes, signMessage, signedMessageCid, addressToString, CID, BASE_FEE,
  type Message, type SignedMessage
} from '../../src/core'
import { SIGNATURE_FAILURES_ALLOWED, MAX_VERIFYING } from '../../src/node/mpool'
import { until } from '../helpers/until'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

async function devnet (providers = 0): Promise<Devnet> {
  const dir = await mkdtemp(path.join(tmpdir(), 'coffer-mpool-origins-'))
  const d = await startDevnet({ dataDir: dir, distDir: '/nonexistent', serveApp: false, rpcPort: 0, blockDelayMs: 1000, providers })
  cleanups.push(async () => { await rm(dir, { recursive: true, force: true }) })
  cleanups.push(d.stop)
  return d
}

const t = (a: Uint8Array): string => addressToString(a, 't')
const account = (kind: 'secp' | 'bls' = 'secp'): { secret: Uint8Array, address: Uint8Array } => {
  const secret = secp256k1.utils.randomSecretKey() // 32 random bytes below the secp order are a valid BLS scalar too
  return { secret, address: kind === 'secp' ? secpAddressBytes(secpPublicKey(secret)) : blsAddressBytes(blsPublicKey(secret)) }
}
const send = (from: Uint8Array, to: Uint8Array, nonce: number, over: Partial<Message> = {}): Message => ({
  version: 0, to, from, nonce, value: 1n, gasLimit: 2_000_000, gasFeeCap: BASE_FEE * 2n, gasPremium: 50n, method: 0, params: new Uint8Array(0), ...over
})
/** `m` signed by someone other than its From: what anyone can push. */
const forge = (m: Message): SignedMessage => {
  const other = account(m.from[0] === 3 ? 'bls' : 'secp')
  return { message: m, signature: signMessage(other.secret, { ...m, from: other.address }).signature }
}
const lotusSigned = (sm: SignedMessage): unknown => ({
  Message: {
    Version: 0, To: t(sm.message.to), From: t(sm.message.from), Nonce: sm.message.nonce, Value: sm.message.value.toString(),
    GasLimit: sm.message.gasLimit, GasFeeCap: sm.message.gasFeeCap.toString(), GasPremium: sm.message.gasPremium.toString(), Method: sm.message.method, Params: null
  },
  Signature: { Type: sm.signature.type, Data: base64pad.baseEncode(sm.signature.data) }
})

interface RpcReply { id?: number, result?: any, error?: { code: number, message: string, data?: any } }
/** One JSON-RPC request or batch over HTTP, from the local address `from` (127.0.0.x). */
async function rpc (d: Devnet, from: string, body: unknown): Promise<any> {
  const url = new URL(d.rpcUrl!)
  const text = JSON.stringify(body)
  return await new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', localAddress: from, agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => { try { resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))) } catch (err) { reject(err) } })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(text)
  })
}
const call = async (d: Devnet, from: string, method: string, params: unknown[]): Promise<RpcReply> => await rpc(d, from, { jsonrpc: '2.0', id: 1, method, params }) as RpcReply
const push = async (d: Devnet, from: string, sm: SignedMessage): Promise<RpcReply> => await call(d, from, 'Filecoin.MpoolPush', [lotusSigned(sm)])

async function funded (d: Devnet, address: Uint8Array): Promise<void> {
  await fundedAll(d, [address])
}
/**
 * The faucet's payments asked for one after another (they share its nonces), then awaited side by side: a
 * batch lands in a block or two instead of a block or two per address.
 */
async function fundedAll (d: Devnet, addresses: Uint8Array[]): Promise<void> {
  const cids: CID[] = []
  for (const address of addresses) {
    const paid = await call(d, '127.0.0.1', 'Coffer.Faucet', [t(address)])
    expect(paid.error).toBeUndefined()
    cids.push(CID.parse(paid.result['/']))
  }
  await Promise.all(cids.map(async (cid) => await d.chain.waitMessage(cid, AbortSignal.timeout(60_000))))
}
const executed = async (d: Devnet, cid: string): Promise<RpcReply> => await call(d, '127.0.0.1', 'Filecoin.StateWaitMsg', [{ '/': cid }, 0])

describe('message pool limits from outside (issue 9 review)', { timeout: 240_000 }, () => {
  it('a forged message naming the faucet, batched with a faucet request, leaves the faucet paying (item 1)', async () => {
    const d = await devnet()
    const faucet = parseAddress(d.faucetAddress).bytes
    const nonce = (await call(d, '127.0.0.2', 'Filecoin.MpoolGetNonce', [d.faucetAddress])).result as number
    const user = account()
    // the forged push starts its signature check; the faucet signs in the same batch, while it is checked
    const replies = await rpc(d, '127.0.0.2', [
      { jsonrpc: '2.0', id: 1, method: 'Filecoin.MpoolPush', params: [lotusSigned(forge(send(faucet, user.address, nonce, { value: 10n ** 18n })))] },
      { jsonrpc: '2.0', id: 2, method: 'Coffer.Faucet', params: [t(user.address)] }
    ]) as RpcReply[]
    const byId = new Map(replies.map(r => [r.id, r]))
    expect(byId.get(1)?.error?.data?.name).toBe('MessageSignatureError')
    expect(byId.get(2)?.error).toBeUndefined()
    // the payment is executed: no gap at the forged nonce holds it (and every later one) back
    const paid = await Promise.race([executed(d, byId.get(2)!.result['/']), new Promise(resolve => setTimeout(resolve, 30_000, null))]) as RpcReply | null
    expect(paid?.result?.Receipt?.ExitCode).toBe(0)
    expect((await call(d, '127.0.0.1', 'Filecoin.MpoolGetNonce', [d.faucetAddress])).result).toBe(nonce + 1)
  })

  it('a message still being checked holds no nonce: the honest push at the same nonce is taken beside a forged one (item 1)', async () => {
    const d = await devnet()
    const victim = account()
    await funded(d, victim.address)
    const forged = push(d, '127.0.0.2', forge(send(victim.address, victim.address, 0, { value: 5n })))
    // MpoolGetNonce does not hand out the nonce the forged message names while it is checked
    expect((await call(d, '127.0.0.1', 'Filecoin.MpoolGetNonce', [t(victim.address)])).result).toBe(0)
    const honest = await push(d, '127.0.0.1', signMessage(victim.secret, send(victim.address, victim.address, 0, { value: 6n })))
    expect(honest.error).toBeUndefined()
    expect((await forged).error?.data?.name).toBe('MessageSignatureError')
    expect((await executed(d, honest.result['/'])).result?.Receipt?.ExitCode).toBe(0)
  })

  it('bad-signature pushes naming a victim cool down the attacker\'s address, never the victim (item 2)', async () => {
    const d = await devnet()
    const victim = account()
    await funded(d, victim.address)
    for (let i = 0; i < SIGNATURE_FAILURES_ALLOWED; i++) {
      const r = await push(d, '127.0.0.2', forge(send(victim.address, victim.address, 0, { value: BigInt(100 + i) })))
      expect(r.error?.data?.name).toBe('MessageSignatureError')
    }
    // the attacker is refused, whatever it names next
    const again = await push(d, '127.0.0.2', forge(send(victim.address, victim.address, 0, { value: 999n })))
    expect(again.error?.data).toMatchObject({ name: 'SignatureFailuresError', code: 'SIGNATURE_FAILURES' })
    // the victim, from its own address, is not
    const honest = await push(d, '127.0.0.1', signMessage(victim.secret, send(victim.address, victim.address, 0)))
    expect(honest.error).toBeUndefined()
  })

  it('twenty pipelined pushes of consecutive nonces in one batch all land (item 7)', async () => {
    const d = await devnet()
    const wallet = account('bls') // BLS: each check is slow, so the later ones arrive while the earlier are checked
    await funded(d, wallet.address)
    const signed = Array.from({ length: 20 }, (_, n) => signMessage(wallet.secret, send(wallet.address, wallet.address, n)))
    const batch = signed.map((sm, n) => ({ jsonrpc: '2.0', id: n, method: 'Filecoin.MpoolPush', params: [lotusSigned(sm)] }))
    const replies = await rpc(d, '127.0.0.1', batch) as RpcReply[]
    expect(replies.filter(r => r.error !== undefined).map(r => r.error!.data?.name)).toEqual([])
    // every one is in the pool or already in a block: a loaded machine checks 20 BLS signatures over more than a
    // block time, so the first may be mined before the last is pooled
    const landed = async (sm: SignedMessage): Promise<boolean> => d.chain.mpool.has(signedMessageCid(sm)) || (await d.chain.inclusion(signedMessageCid(sm))) !== null
    await until(async () => (await Promise.all(signed.map(landed))).every(x => x), 30_000)
  })

  it('RPC clients filling the signature queue do not make the in-process provider busy (item 3)', async () => {
    const d = await devnet(1)
    // eight funded BLS senders (each check ~25-45 ms): the attackers rotate their From across them
    const names = Array.from({ length: 8 }, () => account('bls'))
    await fundedAll(d, names.map(a => a.address))
    const provider = d.providers[0]!
    const worker = workerAddress(provider.keys) // a BLS (f3) key: a miner's worker signs its blocks
    const chain = (provider.provider as unknown as { init: { chain: { mpoolNonce: (a: Uint8Array) => Promise<number>, mpoolPush: (sm: SignedMessage) => Promise<CID> } } }).init.chain
    const nonce = await chain.mpoolNonce(worker)
    // two client addresses, 32 forged pushes each: four names apiece, nonces 0..7 of each
    const floods = ['127.0.0.2', '127.0.0.3'].map(async (from, k) => await rpc(d, from, names.slice(4 * k, 4 * k + 4).flatMap((a, i) => [0, 1, 2, 3, 4, 5, 6, 7].map(n => ({
      jsonrpc: '2.0', id: i * 8 + n, method: 'Filecoin.MpoolPush', params: [lotusSigned(forge(send(a.address, a.address, n)))]
    })))).catch(() => undefined))
    const mpool = d.chain.mpool as unknown as { verifyingCount: number }
    await until(() => mpool.verifyingCount >= MAX_VERIFYING, 60_000)
    // the queue is full of the clients' checks: the provider pushes its worker's message now
    const sent = await chain.mpoolPush(signMessage(provider.keys.worker, send(worker, worker, nonce))).then(c => c, (err: Error) => err)
    expect(sent).toBeInstanceOf(CID)
    await Promise.all(floods)
  })
})
