// The devnet's long-lived keys, created on first start and kept in the chain database: the producer's
// BLS key (signs headers), the beacon's BLS key (signs rounds), the faucet's secp256k1 key and the libp2p identity (so the peer ID, and thus the bootstrap address, is stable).
import { bls12_381 } from '@noble/curves/bls12-381.js'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import type { ChainDb } from './chain-db'

export async function loadOrCreateProducerKey (db: ChainDb): Promise<Uint8Array> {
  const existing = await db.getBytes('key/producer')
  if (existing !== undefined) return existing
  const secret = bls12_381.longSignatures.keygen().secretKey
  await db.putAll({ 'key/producer': secret })
  return secret
}

/** The faucet's secp256k1 key: genesis funds its f1 address. */
export async function loadOrCreateFaucetKey (db: ChainDb): Promise<Uint8Array> {
  const existing = await db.getBytes('key/faucet')
  if (existing !== undefined) return existing
  const secret = secp256k1.utils.randomSecretKey()
  await db.putAll({ 'key/faucet': secret })
  return secret
}

/** The devnet beacon's BLS secret key (drand's scheme signs on G1 with a G2 public key, which genesis holds). */
export async function loadOrCreateBeaconKey (db: ChainDb): Promise<Uint8Array> {
  const existing = await db.getBytes('key/beacon')
  if (existing !== undefined) return existing
  const secret = bls12_381.shortSignatures.keygen().secretKey
  await db.putAll({ 'key/beacon': secret })
  return secret
}

export async function loadOrCreatePeerKey (db: ChainDb): Promise<PrivateKey> {
  const existing = await db.getBytes('key/libp2p')
  if (existing !== undefined) return privateKeyFromProtobuf(existing)
  const key = await generateKeyPair('Ed25519')
  await db.putAll({ 'key/libp2p': privateKeyToProtobuf(key) })
  return key
}
