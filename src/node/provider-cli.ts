// `coffer provider …`: a storage provider's life from its own folder. init (keys, the network's bootstrap document,
// a devnet faucet's funds), run (a full node plus the provider services; Ctrl-C stops it), stop-deals and withdraw
// (leaving), and corrupt|delete (damage a devnet provider's stored deal, for demonstrations of faults).
import { parseArgs } from 'node:util'
import path from 'node:path'
import { mkdir } from 'node:fs/promises'
import { existsSync, readFileSync } from 'node:fs'
import { randomUUID } from 'node:crypto'
import { addressToString, MIN_MINER_PLEDGE, formatFil } from '../core'
import { resolveNetwork } from './resolve-network'
import { startFullNode } from './full-node'
import { findStoredDeal, corruptDeal, deleteDeal } from './provider/damage'
import { loadOrCreateProviderKeys } from './provider/provider-keys'
import { saveNetwork, loadNetwork, readMiner, writeStopDeals, stopDealsFile, ProviderNotInitializedError } from './provider/provider-folder'
import { fundFromFaucet, rpcBalance, idOf, workerAddress, peerIdBytes, sendFromWorkerPush, GAS_RESERVE } from './provider/join'
import { runProviderProcess, PID_FILE } from './provider/provider-process'
import { withdrawFunds, requestWithdraw, awaitWithdrawAnswer, type Withdrawn } from './provider/leave'
import { providerChain } from './provider/devnet-providers'
import { peerIdFromMultihash } from '@libp2p/peer-id'
import * as Digest from 'multiformats/hashes/digest'

export const PROVIDER_USAGE = `coffer provider init --network <app URL | bootstrap URL | multiaddr | file> [--data ./.coffer/provider]
       coffer provider run [--data ./.coffer/provider] [--host 127.0.0.1] [--p2p-port 0] [--webrtc-port 0 | --no-webrtc-direct] [--no-relay] [--gateway-port 0] [--announce <multiaddr>…]
       coffer provider stop-deals [--data ./.coffer/provider]
       coffer provider withdraw [--data ./.coffer/provider]
       coffer provider corrupt|delete <deal ID | piece CID> [--data ./.coffer/devnet] [--provider t01001]`

export class ProviderUsageError extends Error {
  static override name = 'ProviderUsageError'
  override name = 'ProviderUsageError'
}

const DEFAULT_DIR = './.coffer/provider'
const out = (line: string): void => { process.stdout.write(`${line}\n`) }

export async function providerCommand (argv: string[]): Promise<number> {
  const [action, ...rest] = argv
  switch (action) {
    case 'init': return await init(rest)
    case 'run': return await run(rest)
    case 'stop-deals': return await stopDeals(rest)
    case 'withdraw': return await withdraw(rest)
    case 'corrupt': case 'delete': return await damage(action, rest)
    default: throw new ProviderUsageError(action === undefined ? 'provider needs an action' : `unknown provider action ${action}`)
  }
}

function parse<T extends Record<string, { type: 'string' | 'boolean', default?: string | boolean, multiple?: boolean }>> (args: string[], options: T): ReturnType<typeof parseArgs<{ args: string[], options: T, allowPositionals: true }>> {
  try {
    return parseArgs({ args, options, allowPositionals: true })
  } catch (err) { throw new ProviderUsageError((err as Error).message) }
}

async function init (args: string[]): Promise<number> {
  const { values } = parse(args, { network: { type: 'string' }, data: { type: 'string', default: DEFAULT_DIR } })
  if (typeof values.network !== 'string') throw new ProviderUsageError('provider init needs --network')
  const dir = path.resolve(String(values.data))
  await mkdir(dir, { recursive: true })
  const existed = existsSync(path.join(dir, 'keys.json'))
  const keys = await loadOrCreateProviderKeys(dir) // an existing folder keeps its keys
  const doc = await resolveNetwork(values.network)
  await saveNetwork(dir, doc)
  const worker = addressToString(workerAddress(keys), 't')
  out(`${existed ? 'kept the keys in' : 'created keys in'} ${dir}`)
  out(`network ${doc.network} (genesis ${doc.genesis.cid}), saved to ${path.join(dir, 'network.json')}`)
  out(`worker ${worker}`)
  out(`peer ID ${peerIdFromMultihash(Digest.decode(peerIdBytes(keys))).toString()}`)
  const needed = MIN_MINER_PLEDGE + GAS_RESERVE
  if (doc.rpc === undefined) {
    out(`fund ${worker} with at least ${formatFil(needed)} (the miner's pledge and gas), then run \`coffer provider run --data ${dir}\``)
    return 0
  }
  // a devnet: its faucet pays the worker, as often as it takes to cover the pledge and gas
  let balance = await rpcBalance(doc.rpc, worker)
  while (balance < needed) {
    out(`asking the devnet's faucet to fund ${worker} (${formatFil(balance)} of ${formatFil(needed)} needed)…`)
    balance = await fundFromFaucet(doc.rpc, worker)
  }
  out(`funded: ${worker} holds ${formatFil(balance)}; now run \`coffer provider run --data ${dir}\``)
  return 0
}

async function run (args: string[]): Promise<number> {
  const { values } = parse(args, {
    data: { type: 'string', default: DEFAULT_DIR }, host: { type: 'string', default: '127.0.0.1' },
    'p2p-port': { type: 'string', default: '0' }, 'gateway-port': { type: 'string', default: '0' }, announce: { type: 'string', multiple: true },
    // WebRTC-Direct by default: a browser tab reaches the provider by it without a TLS certificate (webrtc-direct.ts)
    'webrtc-port': { type: 'string', default: '0' }, 'no-webrtc-direct': { type: 'boolean', default: false },
    // its node is a circuit relay for tabs by default, as every node is
    'no-relay': { type: 'boolean', default: false }
  })
  const started = performance.now()
  // run by a devnet (provider-children.ts): its stdin pipe closes when the devnet dies, even by kill -9. Watched from
  // the start: a child whose devnet died while it was still syncing has nothing left to sync from and would wait forever
  let serving = false
  const supervisorGone = process.env.COFFER_SUPERVISED === '1'
    ? new Promise<void>(resolve => { process.stdin.on('end', () => resolve()).on('error', () => resolve()).resume() })
    : new Promise<void>(() => {})
  void supervisorGone.then(() => {
    if (serving) return
    out('coffer: the devnet that started this provider is gone; stopping before it was ready')
    process.exit(1)
  })
  const p = await runProviderProcess({
    dir: String(values.data), host: String(values.host), p2pPort: port(String(values['p2p-port']), '--p2p-port'), gatewayPort: port(String(values['gateway-port']), '--gateway-port'),
    ...(values.announce === undefined ? {} : { announce: values.announce as string[] }),
    ...(values['no-webrtc-direct'] === true ? {} : { webrtcDirect: { port: port(String(values['webrtc-port']), '--webrtc-port') } }),
    ...(values['no-relay'] === true ? { relay: false } : {}),
    log: (line) => { out(`coffer: ${line}`) }
  })
  out(`miner ${p.miner}`)
  out(`peer ID ${p.peerId}`)
  for (const a of p.multiaddrs) out(`multiaddr ${a}`)
  out(`gateway ${p.gatewayUrl}`)
  // one line a supervisor (the devnet) reads: everything above, as JSON
  out(`provider ready ${JSON.stringify({ miner: p.miner, peerId: p.peerId, addrs: p.multiaddrs, gateway: p.gatewayUrl, startupMs: Math.round(performance.now() - started) })}`)
  serving = true
  await new Promise<void>(resolve => {
    process.once('SIGINT', () => resolve())
    process.once('SIGTERM', () => resolve())
    void supervisorGone.then(resolve)
  })
  out('coffer: stopping…')
  await p.stop()
  out('coffer: stopped')
  return 0
}

async function stopDeals (args: string[]): Promise<number> {
  const { values } = parse(args, { data: { type: 'string', default: DEFAULT_DIR } })
  const dir = path.resolve(String(values.data))
  const miner = await readMiner(dir)
  if (miner === null) throw new ProviderNotInitializedError(dir, 'miner.json')
  await writeStopDeals(dir, Date.now())
  out(`${miner} takes no new deals from now on (${stopDealsFile(dir)}); its live deals are proven to their end. A running \`coffer provider run\` reads this file on every proposal and announces an ask with no room at its next block`)
  return 0
}

async function withdraw (args: string[]): Promise<number> {
  const { values } = parse(args, { data: { type: 'string', default: DEFAULT_DIR } })
  const dir = path.resolve(String(values.data))
  const miner = await readMiner(dir)
  if (miner === null) throw new ProviderNotInitializedError(dir, 'miner.json')
  let done: Withdrawn
  if (running(dir)) {
    // the running process does it: its messages share the worker's nonces
    const id = randomUUID()
    await requestWithdraw(dir, id)
    out(`asked the running provider to withdraw (${path.join(dir, 'withdraw-request.json')})…`)
    const a = await awaitWithdrawAnswer(dir, id, AbortSignal.timeout(300_000))
    if ('error' in a) throw Object.assign(new Error(a.error), { name: a.name })
    done = { market: BigInt(a.market), miner: BigInt(a.miner), ownerBalance: BigInt(a.ownerBalance) }
  } else {
    // none running: a full node of its own from the folder, for as long as the withdrawal takes
    const keys = await loadOrCreateProviderKeys(dir)
    const node = await startFullNode({ dataDir: path.join(dir, 'chain'), bootstrap: await loadNetwork(dir), privateKey: keys.peer, rpcPort: null, log: () => {} })
    try {
      await node.synced()
      const chain = providerChain(node.chain)
      const signal = AbortSignal.timeout(300_000)
      done = await withdrawFunds({ chain, minerId: idOf(miner), owner: workerAddress(keys), signal, push: sendFromWorkerPush(chain, keys) })
    } finally {
      await node.stop()
    }
  }
  out(`withdrew ${formatFil(done.market)} of free market escrow and ${formatFil(done.miner)} the pledge no longer locks from ${miner}; the owner now holds ${formatFil(done.ownerBalance)}`)
  return 0
}

/** Whether a `coffer provider run` holds this folder now (its PID file names a live process). */
function running (dir: string): boolean {
  try {
    const pid = Number(readFileSync(path.join(dir, PID_FILE), 'utf8'))
    if (!Number.isSafeInteger(pid) || pid <= 0) return false
    process.kill(pid, 0)
    return true
  } catch { return false }
}

async function damage (action: 'corrupt' | 'delete', args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { data: { type: 'string', default: './.coffer/devnet' }, provider: { type: 'string' } })
  const [which] = positionals
  if (which === undefined) throw new ProviderUsageError(`provider ${action} needs a deal ID or piece CID`)
  const { store, deal } = await findStoredDeal(path.resolve(String(values.data)), which, values.provider as string | undefined)
  if (action === 'corrupt') {
    const offset = await corruptDeal(store, deal)
    out(`corrupted deal ${deal.dealId} (${deal.pieceCid}): flipped the byte at ${offset} of ${store.absolute(deal.file)}`)
  } else {
    await deleteDeal(store, deal)
    out(`deleted deal ${deal.dealId}'s payload (${deal.pieceCid}): ${store.absolute(deal.file)}`)
  }
  return 0
}

function port (text: string, flag: string): number {
  const n = Number(text)
  if (!Number.isSafeInteger(n) || n < 0 || n > 65535) throw new ProviderUsageError(`${flag} takes a port number, not ${text}`)
  return n
}
