// A node's chain (NodeChain over its own LevelDB folder) for tests of Expected Consensus chains: genesis stored as a
// full node stores it, its clock given, signatures checked inline. `close` removes the folder.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import {
  createGenesis, blsPublicKey, DEFAULT_MARKET_PARAMS, blsAddressBytes, idAddressBytes, pieceDigest, pieceCidV1, MemoryBlockStore,
  type Genesis, type GenesisAllocation, type UnixSeconds
} from '../../src/core'
import { ChainDb } from '../../src/node/chain-db'
import { NodeChain } from '../../src/node/chain'
import { inlineVerifier } from '../../src/node/signature-verifier'
import { TEST_BEACON, testBeaconEntry } from './test-beacon'

export interface EcNode { chain: NodeChain, db: ChainDb, store: MemoryBlockStore, close: () => Promise<void> }

export async function openEcNode (genesis: Genesis, nowMs: () => number): Promise<EcNode> {
  const dir = await mkdtemp(path.join(tmpdir(), 'coffer-ec-node-'))
  const db = await ChainDb.open(dir)
  const store = new MemoryBlockStore()
  for (const bytes of genesis.store!.blocks.values()) store.put(bytes)
  await db.append(genesis.header, store.unpersisted())
  store.persisted(store.unpersisted().keys())
  const chain = await NodeChain.open({ db, genesis, store, head: genesis.header, nowMs, verifier: inlineVerifier() })
  return { chain, db, store, close: async () => { await chain.close(); await db.close(); await rm(dir, { recursive: true, force: true }) } }
}

/** Genesis providers f01001… with BLS workers from `secrets`, each pre-sealing the payload of its index (none: no power). */
export function ecGenesis (init: { network: string, time: UnixSeconds, blockDelaySecs: number, secrets: Uint8Array[], payloads: Array<Uint8Array | undefined>, allocations?: GenesisAllocation[], provingPeriod?: number }): Genesis {
  const workers = init.secrets.map(s => blsAddressBytes(blsPublicKey(s)))
  return createGenesis(
    { beacon: TEST_BEACON, network: init.network, producer: idAddressBytes(1000), producerKey: blsPublicKey(new Uint8Array(32).fill(3)), blockDelaySecs: init.blockDelaySecs, consensus: 'expected', ...(init.provingPeriod === undefined ? {} : { market: { ...DEFAULT_MARKET_PARAMS, provingPeriod: init.provingPeriod } }) }, init.time,
    init.allocations ?? [],
    workers.map((worker, i) => {
      const payload = init.payloads[i]
      const d = payload === undefined ? undefined : pieceDigest(payload)
      return { id: 1001 + i, info: { owner: worker, worker, peerId: Uint8Array.of(0, 2, 0, i) }, ...(d === undefined ? {} : { preseal: { pieceCid: pieceCidV1(d.root), pieceSize: d.paddedBytes } }) }
    }))
}

/** Mines `rounds` rounds on `n`'s head, every miner of `who` on the same base each round (null rounds where none wins). */
export async function mineRounds (n: EcNode, rounds: number, who: Array<{ miner: Uint8Array, workerSecretKey: Uint8Array }>): Promise<void> {
  const beacon = { entry: async (r: number) => testBeaconEntry(r) }
  const start = n.chain.head().header.height
  for (let h = start + 1; h <= start + rounds; h++) {
    const base = n.chain.headTipSet()
    for (const m of who) {
      const won = await n.chain.mine({ ...m, height: h, beacon, base: base.key })
      if (won !== null) await n.chain.submit(won)
    }
  }
}
