// A provider leaving the market: after `stop-deals` it takes no new deals and proves its live ones to their end;
// `withdraw` then takes back what no deal locks: the free part of its market escrow (market WithdrawBalance,
// paid to the miner's owner) and what the miner actor holds beyond what its pledge still locks (miner
// WithdrawBalance, builtin-actors actors/miner: the actor pays min(requested, available) to the owner and
// returns the amount, WithdrawBalanceReturn being a transparent TokenAmount).
// A running provider process does the withdrawal itself when asked through its folder (withdraw-request.json):
// its messages share the worker's nonces, so two processes pushing for one worker would collide.
import path from 'node:path'
import { readFile, rm } from 'node:fs/promises'
import * as dagCbor from '@ipld/dag-cbor'
import {
  idAddressBytes, readEscrow, getActor, decodeWithdrawBalanceReturn, encodeBigInt, ExitCode, MarketMethod, MinerMethod, encodeWithdrawBalanceParams, CID,
  type AttoFil
} from '../../core'
import type { ProviderChain } from './storage-provider'
import { writeFileDurably } from './durable-write'

export interface Withdrawn {
  /** Free market escrow moved to the owner. */
  market: AttoFil
  /** Miner actor balance (pledge no longer locked) moved to the owner. */
  miner: AttoFil
  /** The owner's balance after both. */
  ownerBalance: AttoFil
}

/** A withdrawal message the chain refused. */
export class WithdrawRefusedError extends Error {
  static override name = 'WithdrawRefusedError'
  override name = 'WithdrawRefusedError'
  constructor (readonly what: string, readonly exitCode: number) { super(`${what} failed on chain (exit code ${exitCode})`) }
}

export interface WithdrawInit {
  chain: ProviderChain
  minerId: number
  owner: Uint8Array
  /** Pushes a message from the worker (value 0) in the provider's nonce order. */
  push: (to: Uint8Array, method: number, params: Uint8Array) => Promise<CID>
  signal: AbortSignal
}


export async function withdrawFunds (init: WithdrawInit): Promise<Withdrawn> {
  const miner = idAddressBytes(init.minerId)
  const send = async (to: Uint8Array, method: number, params: Uint8Array, what: string): Promise<AttoFil> => {
    const lookup = await init.chain.waitMessage(await init.push(to, method, params), init.signal)
    if (lookup.receipt.exitCode !== ExitCode.Ok) throw new WithdrawRefusedError(what, lookup.receipt.exitCode)
    return decodeWithdrawBalanceReturn(lookup.receipt.return)
  }
  // escrow no deal locks (the market works out the free part again when it executes: this is only the request)
  const escrow = init.chain.readState((s, r) => readEscrow(s, r, miner))
  const free = escrow.escrow - escrow.locked
  const market = free > 0n ? await send(idAddressBytes(5), MarketMethod.WithdrawBalance, dagCbor.encode([miner, encodeBigInt(free)]), 'market WithdrawBalance') : 0n
  // the miner actor pays out at most what its pledge no longer locks, whatever is asked: ask for its whole balance
  const held = init.chain.readState((s, r) => getActor(s, r, miner))?.balance ?? 0n
  const fromMiner = held > 0n ? await send(miner, MinerMethod.WithdrawBalance, encodeWithdrawBalanceParams(held as AttoFil), 'miner WithdrawBalance') : 0n
  const ownerBalance = init.chain.readState((s, r) => getActor(s, r, init.owner))?.balance ?? 0n
  return { market: market as AttoFil, miner: fromMiner as AttoFil, ownerBalance: ownerBalance as AttoFil }
}

export const WITHDRAW_REQUEST_FILE = 'withdraw-request.json'
export const WITHDRAW_RESULT_FILE = 'withdraw-result.json'

/** What a running process answers in withdraw-result.json: amounts as decimal attoFIL, or the error's name and message. */
export type WithdrawAnswer = { id: string, market: string, miner: string, ownerBalance: string } | { id: string, error: string, name: string }

export async function requestWithdraw (dir: string, id: string): Promise<void> {
  await rm(path.join(dir, WITHDRAW_RESULT_FILE), { force: true })
  await writeFileDurably(path.join(dir, WITHDRAW_REQUEST_FILE), JSON.stringify({ id }))
}

async function readJson (file: string): Promise<Record<string, unknown> | undefined> {
  try { return JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown> } catch { return undefined }
}

/** Run by the provider process at each head: performs a pending request once and answers it. */
export async function answerWithdrawRequest (dir: string, withdraw: () => Promise<Withdrawn>): Promise<Withdrawn | null> {
  const req = await readJson(path.join(dir, WITHDRAW_REQUEST_FILE))
  if (typeof req?.id !== 'string') return null
  await rm(path.join(dir, WITHDRAW_REQUEST_FILE), { force: true })
  let answer: WithdrawAnswer
  let done: Withdrawn | null = null
  try {
    done = await withdraw()
    answer = { id: req.id, market: done.market.toString(), miner: done.miner.toString(), ownerBalance: done.ownerBalance.toString() }
  } catch (err) {
    answer = { id: req.id, error: (err as Error).message, name: (err as Error).name }
  }
  await writeFileDurably(path.join(dir, WITHDRAW_RESULT_FILE), JSON.stringify(answer))
  return done
}

/** Waits for the running process's answer to request `id`. */
export async function awaitWithdrawAnswer (dir: string, id: string, signal: AbortSignal): Promise<WithdrawAnswer> {
  while (true) {
    const a = await readJson(path.join(dir, WITHDRAW_RESULT_FILE))
    if (a?.id === id) return a as WithdrawAnswer
    signal.throwIfAborted()
    await new Promise(resolve => setTimeout(resolve, 250))
  }
}
