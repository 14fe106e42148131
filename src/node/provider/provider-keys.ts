// A storage provider's keys, kept in its own folder: the worker's secp256k1 key (signs its messages and
// asks; genesis names its f1 address as the miner's owner and worker) and its libp2p identity.
import { readFile, writeFile, mkdir, rename } from 'node:fs/promises'
import path from 'node:path'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { base64 } from 'multiformats/bases/base64'

export interface ProviderKeys { worker: Uint8Array, peer: PrivateKey }

export async function loadOrCreateProviderKeys (dir: string): Promise<ProviderKeys> {
  const file = path.join(dir, 'keys.json')
  try {
    const raw = JSON.parse(await readFile(file, 'utf8')) as { worker: string, peer: string }
    return { worker: base64.baseDecode(raw.worker), peer: privateKeyFromProtobuf(base64.baseDecode(raw.peer)) }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`${file} is unreadable: ${(err as Error).message}`)
  }
  await mkdir(dir, { recursive: true })
  const keys = { worker: secp256k1.utils.randomSecretKey(), peer: await generateKeyPair('Ed25519') }
  const tmp = `${file}.tmp`
  await writeFile(tmp, JSON.stringify({ worker: base64.baseEncode(keys.worker), peer: base64.baseEncode(privateKeyToProtobuf(keys.peer)) }), { mode: 0o600 })
  await rename(tmp, file)
  return keys
}
