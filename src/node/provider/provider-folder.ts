// A provider process's folder (`coffer provider init|run --data DIR`): what it keeps besides its keys
// (keys.json, provider-keys.ts) and its deals (provider-store.ts). Each record is a small JSON file replaced
// durably, so a crash leaves the old one or the new one:
//   network.json       the bootstrap document of the network it joined (resolveNetwork's answer, saved by init)
//   miner.json         { "address": "t01004" } once its miner exists on chain
//   create-miner.json  { "message": CID, "nonce": n, "signed": base64 SignedMessage } from just before its
//                      CreateMiner was pushed until the receipt is seen: a restart looks that message up, and pushes
//                      the same signed bytes again if the chain has not executed it, instead of creating a second miner
//   ask.json           optional terms of its ask (prices in attoFIL as decimal strings); built-in terms otherwise
//   stop-deals.json    { "sinceMs": … } while it takes no new deals (`coffer provider stop-deals`)
import { readFile, rm, mkdir } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { parseBootstrap, type BootstrapDocument } from '../../net'
import { base64pad } from 'multiformats/bases/base64'
import { parseAddress, decodeSignedMessage, encodeSignedMessage, signedMessageCid, type AttoFil, type SignedMessage } from '../../core'
import { writeFileDurably } from './durable-write'
import type { ProviderAskInit } from './storage-provider'

export const NETWORK_FILE = 'network.json'
export const MINER_FILE = 'miner.json'
export const CREATE_MINER_FILE = 'create-miner.json'
export const ASK_FILE = 'ask.json'
export const STOP_DEALS_FILE = 'stop-deals.json'

/** The folder has no network.json or keys.json: `coffer provider init` was not run on it. */
export class ProviderNotInitializedError extends Error {
  static override name = 'ProviderNotInitializedError'
  override name = 'ProviderNotInitializedError'
  constructor (readonly dir: string, what: string) { super(`${dir} has no ${what}: run \`coffer provider init --network <app URL | bootstrap URL | multiaddr> --data ${dir}\` first`) }
}

/** A record in the folder that does not parse: named, never overwritten by guesswork. */
export class ProviderFolderError extends Error {
  static override name = 'ProviderFolderError'
  override name = 'ProviderFolderError'
}

async function readJson (file: string): Promise<unknown> {
  let text: string
  try { text = await readFile(file, 'utf8') } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  try { return JSON.parse(text) } catch (err) { throw new ProviderFolderError(`${file} is not JSON: ${(err as Error).message}`) }
}

async function writeJson (file: string, value: unknown): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true })
  await writeFileDurably(file, `${JSON.stringify(value, null, 2)}\n`)
}

export async function saveNetwork (dir: string, doc: BootstrapDocument): Promise<void> { await writeJson(path.join(dir, NETWORK_FILE), doc) }

export async function loadNetwork (dir: string): Promise<BootstrapDocument> {
  const file = path.join(dir, NETWORK_FILE)
  const raw = await readJson(file)
  if (raw === undefined) throw new ProviderNotInitializedError(dir, NETWORK_FILE)
  try { return parseBootstrap(raw) } catch (err) { throw new ProviderFolderError(`${file}: ${(err as Error).message}`) }
}

/** The miner's ID address (t0…), or null before its CreateMiner landed. */
export async function readMiner (dir: string): Promise<string | null> {
  const file = path.join(dir, MINER_FILE)
  const raw = await readJson(file) as { address?: unknown } | undefined
  if (raw === undefined) return null
  if (typeof raw?.address !== 'string') throw new ProviderFolderError(`${file} has no "address"`)
  try { parseAddress(raw.address, 't') } catch (err) { throw new ProviderFolderError(`${file}: ${(err as Error).message}`) }
  return raw.address
}

export async function writeMiner (dir: string, address: string): Promise<void> { await writeJson(path.join(dir, MINER_FILE), { address }) }

/** A CreateMiner signed and recorded but not yet seen executed: its CID, its nonce and the signed message itself. */
export interface PendingCreateMiner { message: string, nonce: number, signed: SignedMessage }

/**
 * The pending CreateMiner, or null. The signed bytes must hash to the recorded CID and carry the recorded
 * nonce: a record that does not (hand-edited, or from before the bytes were kept) is refused by name, never
 * guessed at, since a wrong guess either hangs the provider or registers a second miner.
 */
export async function readPendingCreateMiner (dir: string): Promise<PendingCreateMiner | null> {
  const file = path.join(dir, CREATE_MINER_FILE)
  const raw = await readJson(file) as { message?: unknown, nonce?: unknown, signed?: unknown } | undefined
  if (raw === undefined) return null
  if (typeof raw?.message !== 'string' || typeof raw.nonce !== 'number' || typeof raw.signed !== 'string') {
    throw new ProviderFolderError(`${file} is not { message, nonce, signed }: if its message ${String(raw?.message)} never reached the chain, remove the file and run again`)
  }
  let signed: SignedMessage
  try { signed = decodeSignedMessage(base64pad.baseDecode(raw.signed)) } catch (err) { throw new ProviderFolderError(`${file}: signed is not a base64 SignedMessage: ${(err as Error).message}`) }
  if (signedMessageCid(signed).toString() !== raw.message || signed.message.nonce !== raw.nonce) throw new ProviderFolderError(`${file}: the signed message is not ${raw.message} with nonce ${raw.nonce}`)
  return { message: raw.message, nonce: raw.nonce, signed }
}

export async function writePendingCreateMiner (dir: string, p: PendingCreateMiner): Promise<void> {
  await writeJson(path.join(dir, CREATE_MINER_FILE), { message: p.message, nonce: p.nonce, signed: base64pad.baseEncode(encodeSignedMessage(p.signed)) })
}
export async function clearPendingCreateMiner (dir: string): Promise<void> { await rm(path.join(dir, CREATE_MINER_FILE), { force: true }) }

type AskJson = Partial<Record<keyof ProviderAskInit, string | number>>
const BIG_FIELDS = ['pricePerGiBEpoch', 'collateralPerGiB', 'retrievalPricePerGiB'] as const
const NUM_FIELDS = ['minPieceSize', 'maxPieceSize', 'capacityBytes', 'paymentInterval', 'paymentIntervalIncrease'] as const

export async function writeAsk (dir: string, ask: ProviderAskInit): Promise<void> {
  const out: AskJson = {}
  for (const k of BIG_FIELDS) out[k] = ask[k].toString()
  for (const k of NUM_FIELDS) out[k] = ask[k]
  await writeJson(path.join(dir, ASK_FILE), out)
}

/** The ask terms in ask.json laid over `defaults` (fields left out keep the default). */
export async function readAsk (dir: string, defaults: ProviderAskInit): Promise<ProviderAskInit> {
  const file = path.join(dir, ASK_FILE)
  const raw = await readJson(file) as AskJson | undefined
  if (raw === undefined) return defaults
  const ask = { ...defaults }
  for (const k of BIG_FIELDS) {
    const v = raw[k]
    if (v === undefined) continue
    if (typeof v !== 'string' || !/^\d+$/.test(v)) throw new ProviderFolderError(`${file}: ${k} is not a whole number of attoFIL written as a string`)
    ask[k] = BigInt(v) as AttoFil
  }
  for (const k of NUM_FIELDS) {
    const v = raw[k]
    if (v === undefined) continue
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new ProviderFolderError(`${file}: ${k} is not a whole number`)
    ask[k] = v
  }
  return ask
}

export const stopDealsFile = (dir: string): string => path.join(dir, STOP_DEALS_FILE)

/** Records that the provider takes no new deals; the running process reads it on every proposal and ask. */
export async function writeStopDeals (dir: string, nowMs: number): Promise<void> { await writeJson(stopDealsFile(dir), { sinceMs: nowMs }) }

/** One stat: cheap enough to ask on every proposal, so `stop-deals` takes effect at once without a signal. */
export const dealsStopped = (dir: string): boolean => existsSync(stopDealsFile(dir))
