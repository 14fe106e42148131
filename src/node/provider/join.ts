// How a provider joins a running network from its own process: its worker funded (from a devnet's faucet, over
// the JSON-RPC, or by whoever the operator asks), its miner created on chain by a CreateMiner to the power actor
// with the pledge as the message's value, and its on-chain PeerId and Multiaddrs kept equal to the node it runs.
// Every message is signed by the worker key and pushed to the provider's own full node, as any provider's would be.
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import {
  signMessage, signedMessageCid, gasLimitFor, addressToString, idAddressBytes, bytesEqual, getActor, getMinerInfo,
  parseAddress, ExitCode, TRANSFER_GAS_FEE_CAP, TRANSFER_GAS_PREMIUM, CID,
  POWER_ACTOR_ADDRESS, PowerMethod, MinerMethod, MIN_MINER_PLEDGE, encodeCreateMinerParams, decodeCreateMinerReturn,
  encodeChangePeerIdParams, encodeChangeMultiaddrsParams, DEFAULT_WINDOW_POST_PROOF_TYPE, MinerExit, ActorExit, type Message, type AttoFil
} from '../../core'
import type { ProviderChain } from './storage-provider'
import { workerAddress, type ProviderKeys } from './provider-keys'
import { readMiner, writeMiner, readPendingCreateMiner, writePendingCreateMiner, clearPendingCreateMiner } from './provider-folder'
import type { MsgLookup } from '../rpc/backend'

/** The chain refused the provider's CreateMiner: the exit code, and the reason the power actor names for it. */
export class CreateMinerRefusedError extends Error {
  static override name = 'CreateMinerRefusedError'
  override name = 'CreateMinerRefusedError'
  constructor (readonly exitCode: number, message: string) { super(message) }
}

/**
 * The CreateMiner this folder recorded can never land: the worker's on-chain nonce is past the one it was signed
 * with and the chain has not executed it (another message of the worker's took that nonce). No miner came of it;
 * the record is cleared, so the next attempt sends a new CreateMiner.
 */
export class CreateMinerSupersededError extends Error {
  static override name = 'CreateMinerSupersededError'
  override name = 'CreateMinerSupersededError'
  constructor (readonly messageCid: string, readonly nonce: number, readonly workerNonce: number) {
    super(`the CreateMiner ${messageCid} (nonce ${nonce}) will never land: the worker's nonce on chain is ${workerNonce} and the chain has not executed it`)
  }
}

/** A worker message's nonce was taken by another message before the chain executed it: it will never land. */
export class WorkerMessageSupersededError extends Error {
  static override name = 'WorkerMessageSupersededError'
  override name = 'WorkerMessageSupersededError'
  constructor (readonly what: string, readonly messageCid: string, readonly nonce: number, readonly workerNonce: number) {
    super(`the ${what} ${messageCid} (nonce ${nonce}) will never land: the worker's nonce on chain is ${workerNonce} and the chain has not executed it`)
  }
}

/** The devnet's faucet did not pay the worker. */
export class FaucetRequestError extends Error {
  static override name = 'FaucetRequestError'
  override name = 'FaucetRequestError'
}

/** The worker holds less than a CreateMiner needs (the pledge and gas). */
export class WorkerUnfundedError extends Error {
  static override name = 'WorkerUnfundedError'
  override name = 'WorkerUnfundedError'
  constructor (readonly worker: string, readonly balance: AttoFil, readonly needed: AttoFil) {
    super(`the worker ${worker} holds ${balance} attoFIL; creating the miner needs ${needed} (the pledge and gas): fund ${worker}`)
  }
}

export { workerAddress }
export const peerIdBytes = (keys: ProviderKeys): Uint8Array => peerIdFromPrivateKey(keys.peer).toMultihash().bytes

/** Gas the worker keeps for its messages (publications, proofs, redeems) when it moves FIL into the market or a pledge. */
export const GAS_RESERVE: AttoFil = 10n ** 18n

async function rpc<T> (url: string, method: string, params: unknown[], signal?: AbortSignal): Promise<T> {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }), signal })
  const body = await res.json() as { result?: T, error?: { message: string } }
  if (body.error !== undefined || !('result' in body)) throw new FaucetRequestError(`${method}: ${body.error?.message ?? `HTTP ${res.status}`}`)
  return body.result as T
}

/**
 * Asks a devnet's faucet (Coffer.Faucet over its JSON-RPC) to pay `address`, and waits for the payment to land
 * (Filecoin.StateWaitMsg). Returns the worker's balance after it, in attoFIL.
 */
export async function fundFromFaucet (rpcUrl: string, address: string, opts: { timeoutMs?: number } = {}): Promise<AttoFil> {
  const signal = AbortSignal.timeout(opts.timeoutMs ?? 120_000)
  const sent = await rpc<{ '/': string }>(rpcUrl, 'Coffer.Faucet', [address], signal)
  const lookup = await rpc<{ Receipt: { ExitCode: number } }>(rpcUrl, 'Filecoin.StateWaitMsg', [sent, 1], signal)
  if (lookup.Receipt.ExitCode !== ExitCode.Ok) throw new FaucetRequestError(`the faucet's payment ${sent['/']} failed (exit code ${lookup.Receipt.ExitCode})`)
  return await rpcBalance(rpcUrl, address, signal)
}

/** `address`'s balance as the node behind `rpcUrl` sees it (Filecoin.WalletBalance). */
export async function rpcBalance (rpcUrl: string, address: string, signal = AbortSignal.timeout(30_000)): Promise<AttoFil> {
  return BigInt(await rpc<string>(rpcUrl, 'Filecoin.WalletBalance', [address], signal)) as AttoFil
}

export interface JoinInit {
  chain: ProviderChain
  keys: ProviderKeys
  dir: string
  /** The multiaddrs this run listens on (or announces), recorded in MinerInfo.Multiaddrs. */
  multiaddrs: string[]
  log: (line: string) => void
  signal: AbortSignal
}

/** Signs a message from the worker with its next nonce. */
async function workerMessage (init: Pick<JoinInit, 'chain' | 'keys'>, to: Uint8Array, method: number, params: Uint8Array, value: AttoFil): Promise<{ signed: ReturnType<typeof signMessage>, nonce: number }> {
  const worker = workerAddress(init.keys)
  const m: Message = {
    version: 0, to, from: worker, nonce: await init.chain.mpoolNonce(worker), value, gasLimit: 0,
    gasFeeCap: TRANSFER_GAS_FEE_CAP, gasPremium: TRANSFER_GAS_PREMIUM, method, params
  }
  return { signed: signMessage(init.keys.worker, { ...m, gasLimit: gasLimitFor(m) }), nonce: m.nonce }
}

/**
 * Pushes a message from the worker and waits for its receipt; a non-zero exit throws `refused(exitCode)`. A message
 * whose nonce another one took (one the worker sent before a crash, still in another node's pool, that this
 * restarted node's pool did not know of) never gets a receipt: signed again with the next nonce, up to
 * SEND_ATTEMPTS times, instead of waited on for ever.
 */
export async function sendFromWorker (init: JoinInit, to: Uint8Array, method: number, params: Uint8Array, value: AttoFil, what: string): Promise<MsgLookup> {
  for (let attempt = 1; ; attempt++) {
    const { signed, nonce } = await workerMessage(init, to, method, params, value)
    const cid = await init.chain.mpoolPush(signed)
    const lookup = await awaitWorkerMessage(init, cid, nonce)
    if ('superseded' in lookup) {
      const err = new WorkerMessageSupersededError(what, cid.toString(), nonce, lookup.superseded)
      if (attempt >= SEND_ATTEMPTS) throw err
      init.log(`${err.message}; signing it again`)
      continue
    }
    if (lookup.receipt.exitCode !== ExitCode.Ok) throw new Error(`${what} failed on chain (exit code ${lookup.receipt.exitCode})`)
    return lookup
  }
}

/** Times sendFromWorker signs a message whose nonce was taken before it gives up. */
const SEND_ATTEMPTS = 3

/** A push from the worker with its next nonce (value 0), for when no provider runs to order the worker's messages. */
export function sendFromWorkerPush (chain: ProviderChain, keys: ProviderKeys): (to: Uint8Array, method: number, params: Uint8Array) => Promise<CID> {
  return async (to, method, params) => {
    const { signed } = await workerMessage({ chain, keys }, to, method, params, 0n)
    return await chain.mpoolPush(signed)
  }
}

const multiaddrBytes = (addrs: string[]): Uint8Array[] => addrs.map(a => multiaddr(a).bytes)

/**
 * The provider's miner: the one miner.json names, else the one a CreateMiner recorded before a crash created,
 * else a new one. The signed CreateMiner is written to create-miner.json before it is pushed, so after a crash
 * anywhere (kill -9 between the write and the push included) a restart finds that message: executed, it is
 * settled; not yet, the same signed bytes are pushed again (same CID: the pool takes it once) and waited for;
 * past hope (its nonce taken by another message), a new one is sent. Never a second miner, never a wait on a
 * message no node has.
 */
export async function ensureMiner (init: JoinInit): Promise<{ address: string, id: number, created: boolean }> {
  const known = await readMiner(init.dir)
  if (known !== null) return { address: known, id: idOf(known), created: false }
  const worker = workerAddress(init.keys)
  const pending = await readPendingCreateMiner(init.dir)
  if (pending !== null) {
    const cid = CID.parse(pending.message)
    const found = await lookUpCreateMiner(init, cid, pending.nonce)
    if (found instanceof CreateMinerSupersededError) {
      init.log(`${found.name}: ${found.message}; sending another`)
      await clearPendingCreateMiner(init.dir)
    } else if (found !== null) {
      return await settleCreateMiner(init, cid, found)
    } else {
      init.log(`pushing again the CreateMiner sent before a restart (${pending.message}) and waiting for it`)
      return await settleCreateMiner(init, cid, await pushCreateMiner(init, pending.signed, cid, pending.nonce))
    }
  }
  const balance = init.chain.readState((s, r) => getActor(s, r, worker))?.balance ?? 0n
  const needed = MIN_MINER_PLEDGE + GAS_RESERVE
  if (balance < needed) throw new WorkerUnfundedError(addressToString(worker, 't'), balance, needed)
  const params = encodeCreateMinerParams({ owner: worker, worker, windowPoStProofType: DEFAULT_WINDOW_POST_PROOF_TYPE, peer: peerIdBytes(init.keys), multiaddrs: multiaddrBytes(init.multiaddrs) })
  const { signed, nonce } = await workerMessage(init, POWER_ACTOR_ADDRESS, PowerMethod.CreateMiner, params, MIN_MINER_PLEDGE)
  const cid = signedMessageCid(signed)
  await writePendingCreateMiner(init.dir, { message: cid.toString(), nonce, signed })
  init.log(`creating the miner: CreateMiner ${cid.toString()} pledging ${MIN_MINER_PLEDGE} attoFIL`)
  try {
    await init.chain.mpoolPush(signed)
  } catch (err) {
    // refused by the pool: it never reached the chain, so nothing is pending
    await clearPendingCreateMiner(init.dir)
    throw err
  }
  return await settleCreateMiner(init, cid, await awaitCreateMiner(init, cid, nonce))
}

/**
 * A worker message's receipt if the chain executed it; `superseded` (the worker's nonce on chain) if it never can
 * be; null while it still may be. The worker's nonce is read before the search, so a message executed between the
 * two reads is found by the search rather than taken for superseded.
 */
async function lookUpWorkerMessage (init: JoinInit, cid: CID, nonce: number): Promise<MsgLookup | { superseded: number } | null> {
  const workerNonce = init.chain.readState((s, r) => getActor(s, r, workerAddress(init.keys)))?.nonce ?? 0
  const found = await init.chain.searchMessage(cid)
  if (found !== null) return found
  return workerNonce > nonce ? { superseded: workerNonce } : null
}

/**
 * Waits head by head for a worker message's receipt, or until its nonce is taken (then it never gets one, and a
 * wait on the CID alone would last for ever). The node republishes it meanwhile (local-republish.ts).
 */
async function awaitWorkerMessage (init: JoinInit, cid: CID, nonce: number): Promise<MsgLookup | { superseded: number }> {
  for (;;) {
    init.signal.throwIfAborted()
    const now = await lookUpWorkerMessage(init, cid, nonce)
    if (now !== null) return now
    await init.chain.nextHead(init.signal)
  }
}

/** The recorded CreateMiner's receipt if the chain executed it; CreateMinerSupersededError if it never can be; null while it still may be. */
async function lookUpCreateMiner (init: JoinInit, cid: CID, nonce: number): Promise<MsgLookup | CreateMinerSupersededError | null> {
  const now = await lookUpWorkerMessage(init, cid, nonce)
  return now !== null && 'superseded' in now ? new CreateMinerSupersededError(cid.toString(), nonce, now.superseded) : now
}

/** Pushes the recorded signed CreateMiner again (the pool keeps one copy of a CID) and waits for it. */
async function pushCreateMiner (init: JoinInit, signed: ReturnType<typeof signMessage>, cid: CID, nonce: number): Promise<MsgLookup> {
  try {
    await init.chain.mpoolPush(signed)
  } catch (err) {
    // executed (or superseded) between the look-up and the push: the pool refuses its nonce; the chain says which
    const now = await lookUpCreateMiner(init, cid, nonce)
    if (now === null) throw err
    if (now instanceof CreateMinerSupersededError) { await clearPendingCreateMiner(init.dir); throw now }
    return now
  }
  return await awaitCreateMiner(init, cid, nonce)
}

/** Waits for the CreateMiner's receipt; its nonce taken by another message: CreateMinerSupersededError (record cleared). */
async function awaitCreateMiner (init: JoinInit, cid: CID, nonce: number): Promise<MsgLookup> {
  const now = await awaitWorkerMessage(init, cid, nonce)
  if (!('superseded' in now)) return now
  await clearPendingCreateMiner(init.dir)
  throw new CreateMinerSupersededError(cid.toString(), nonce, now.superseded)
}

async function settleCreateMiner (init: JoinInit, cid: CID, lookup: MsgLookup): Promise<{ address: string, id: number, created: boolean }> {
  if (lookup.receipt.exitCode !== ExitCode.Ok) {
    await clearPendingCreateMiner(init.dir)
    throw new CreateMinerRefusedError(lookup.receipt.exitCode, `the power actor refused CreateMiner ${cid.toString()} (exit code ${lookup.receipt.exitCode}${refusalReason(lookup.receipt.exitCode)})`)
  }
  const { idAddress } = decodeCreateMinerReturn(lookup.receipt.return)
  const address = addressToString(idAddress, 't')
  await writeMiner(init.dir, address)
  await clearPendingCreateMiner(init.dir)
  init.log(`miner ${address} created`)
  return { address, id: idOf(address), created: true }
}

/** The reason behind the exit codes a CreateMiner ends with (the miner constructor's, through the power actor). */
function refusalReason (exitCode: number): string {
  switch (exitCode) {
    case MinerExit.ErrPeerIdTaken: return ': another miner holds this peer ID'
    case MinerExit.ErrPledgeTooLow: return `: the pledge is below the minimum of ${MIN_MINER_PLEDGE} attoFIL`
    case ActorExit.ErrIllegalArgument: return ': illegal argument'
    case ActorExit.ErrForbidden: return ': forbidden'
    default: return ''
  }
}

/** The actor ID of an ID address (t01004 → 1004). */
export function idOf (address: string): number {
  parseAddress(address, 't')
  if (!/^t0\d+$/.test(address)) throw new Error(`${address} is not an ID address`)
  return Number(address.slice(2))
}

/**
 * Sends ChangePeerID / ChangeMultiaddrs when the miner's on-chain record names another peer or other addresses
 * than this run's (a new key folder, another host or port); returns what it changed.
 */
export async function syncMinerInfo (init: JoinInit, minerId: number): Promise<string[]> {
  const miner = idAddressBytes(minerId)
  const info = init.chain.readState((s, r) => getMinerInfo(s, r, miner))
  if (info === null) throw new Error(`${addressToString(miner, 't')} is not a miner on chain`)
  if (!bytesEqual(info.worker, workerAddress(init.keys))) throw new Error(`${addressToString(miner, 't')}'s worker on chain is ${addressToString(info.worker, 't')}, not this folder's key`)
  const changed: string[] = []
  const peer = peerIdBytes(init.keys)
  if (!bytesEqual(info.peerId, peer)) {
    await sendFromWorker(init, miner, MinerMethod.ChangePeerID, encodeChangePeerIdParams(peer), 0n, 'ChangePeerID')
    changed.push('peer ID')
  }
  const addrs = multiaddrBytes(init.multiaddrs)
  const onChain = info.multiaddrs ?? []
  if (onChain.length !== addrs.length || onChain.some((a, i) => !bytesEqual(a, addrs[i]!))) {
    await sendFromWorker(init, miner, MinerMethod.ChangeMultiaddrs, encodeChangeMultiaddrsParams(addrs), 0n, 'ChangeMultiaddrs')
    changed.push('multiaddrs')
  }
  return changed
}
