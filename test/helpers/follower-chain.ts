// Two NodeChains over their own LevelDB folders and one test genesis: a producer holding the genesis
// producer key this helper creates, and a follower (a full node's chain) that only `accept`s. Blocks the
// producer builds are real blocks a follower must take; tests forge others with the same key.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { bls12_381 } from '@noble/curves/bls12-381.js'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import {
  createGenesis, idAddressBytes, blsPublicKey, secpPublicKey, secpAddressBytes, signMessage, parseFil, MemoryBlockStore,
  TRANSFER_GAS_LIMIT, TRANSFER_GAS_FEE_CAP, TRANSFER_GAS_PREMIUM, METHOD_SEND, type Genesis, type SignedMessage, type Message
} from '../../src/core'
import { ChainDb } from '../../src/node/chain-db'
import { NodeChain } from '../../src/node/chain'
import { inlineVerifier } from '../../src/node/signature-verifier'
import { TEST_BEACON, testBeaconEntry } from './test-beacon'

/** Genesis time; the chains' clock reads T0 + 100,000 s, so no test block is from the future. */
export const T0 = 1_800_000_000

export interface ChainPair {
  genesis: Genesis
  producerKey: Uint8Array
  producer: NodeChain
  follower: NodeChain
  /** The follower's block store: what a refused block must leave unpersisted-free. */
  followerStore: MemoryBlockStore
  followerDb: ChainDb
  /** A funded secp account's message with `nonce` (and any field overridden), signed. */
  payment: (nonce: number, over?: Partial<Message>) => SignedMessage
  close: () => Promise<void>
}

async function openChain (genesis: Genesis, producerKey?: Uint8Array): Promise<{ chain: NodeChain, store: MemoryBlockStore, db: ChainDb, dir: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'coffer-follower-'))
  const db = await ChainDb.open(dir)
  const store = new MemoryBlockStore()
  for (const bytes of genesis.store!.blocks.values()) store.put(bytes)
  await db.append(genesis.header, store.unpersisted())
  store.persisted(store.unpersisted().keys())
  const chain = await NodeChain.open({
    db, genesis, store, head: genesis.header, nowMs: () => (T0 + 100_000) * 1000, verifier: inlineVerifier(), ...(producerKey === undefined ? {} : { producerKey, beacon: { entry: async (round: number) => testBeaconEntry(round) } })
  })
  return { chain, store, db, dir }
}

export async function chainPair (network = 'follower-test'): Promise<ChainPair> {
  const producerKey = bls12_381.longSignatures.keygen().secretKey
  const payer = secp256k1.utils.randomSecretKey()
  const from = secpAddressBytes(secpPublicKey(payer))
  const genesis = createGenesis({ beacon: TEST_BEACON, network, producer: idAddressBytes(1000), producerKey: blsPublicKey(producerKey), blockDelaySecs: 1 }, T0,
    [{ address: from, balance: parseFil('1000') }, { address: idAddressBytes(1001), balance: parseFil('1') }])
  const p = await openChain(genesis, producerKey)
  const f = await openChain(genesis)
  const payment = (nonce: number, over: Partial<Message> = {}): SignedMessage => signMessage(payer, {
    version: 0, to: idAddressBytes(1001), from, nonce, value: 1n, gasLimit: TRANSFER_GAS_LIMIT, gasFeeCap: TRANSFER_GAS_FEE_CAP, gasPremium: TRANSFER_GAS_PREMIUM, method: METHOD_SEND, params: new Uint8Array(0), ...over
  })
  return {
    genesis, producerKey, producer: p.chain, follower: f.chain, followerStore: f.store, followerDb: f.db, payment,
    close: async () => {
      for (const c of [p, f]) {
        await c.chain.close()
        await c.db.close()
        await rm(c.dir, { recursive: true, force: true })
      }
    }
  }
}
