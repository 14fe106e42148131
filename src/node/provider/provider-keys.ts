// A storage provider's keys, kept in its own folder: the worker's BLS key (signs its blocks' election proofs, tickets
// and headers once it produces them, and its messages and asks; genesis names its f3 address as the miner's owner and
// worker) and its libp2p identity. A miner's worker must be a BLS key (builtin-actors resolve_worker_address), so a
// keys.json from before that rule, whose worker is a secp256k1 key, is refused by name.
import { readFile, writeFile, mkdir, rename } from 'node:fs/promises'
import path from 'node:path'
import { bls12_381 } from '@noble/curves/bls12-381.js'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { base64 } from 'multiformats/bases/base64'
import { blsAddressBytes, blsPublicKey } from '../../core'

export interface ProviderKeys { worker: Uint8Array, peer: PrivateKey }

/** keys.json's layout: 2 = a BLS worker key; a file without a version holds a secp256k1 worker. */
const KEYS_VERSION = 2

/** A provider folder made before workers were BLS keys: its miner's worker cannot produce blocks. */
export class OutdatedProviderKeysError extends Error {
  static override name = 'OutdatedProviderKeysError'
  override name = 'OutdatedProviderKeysError'
  readonly code = 'OUTDATED_PROVIDER_KEYS'
  constructor (readonly file: string) {
    super(`${file} holds a secp256k1 worker key from an earlier Coffer; a miner's worker must be a BLS key (it signs the blocks the miner wins): run \`coffer provider init\` in a new folder (the devnet's providers: npm start -- --reset)`)
  }
}

/** The worker's f3 address, as genesis or CreateMiner records it. */
export const workerAddress = (keys: Pick<ProviderKeys, 'worker'>): Uint8Array => blsAddressBytes(blsPublicKey(keys.worker))

export async function loadOrCreateProviderKeys (dir: string): Promise<ProviderKeys> {
  const file = path.join(dir, 'keys.json')
  let raw: { version?: number, worker: string, peer: string } | undefined
  try {
    raw = JSON.parse(await readFile(file, 'utf8')) as { version?: number, worker: string, peer: string }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`${file} is unreadable: ${(err as Error).message}`)
  }
  if (raw !== undefined) {
    if (raw.version !== KEYS_VERSION) throw new OutdatedProviderKeysError(file)
    return { worker: base64.baseDecode(raw.worker), peer: privateKeyFromProtobuf(base64.baseDecode(raw.peer)) }
  }
  await mkdir(dir, { recursive: true })
  const keys = { worker: bls12_381.longSignatures.keygen().secretKey, peer: await generateKeyPair('Ed25519') }
  const tmp = `${file}.tmp`
  await writeFile(tmp, JSON.stringify({ version: KEYS_VERSION, worker: base64.baseEncode(keys.worker), peer: base64.baseEncode(privateKeyToProtobuf(keys.peer)) }), { mode: 0o600 })
  await rename(tmp, file)
  return keys
}
