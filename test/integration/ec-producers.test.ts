// Three miners, each with its own node (NodeChain over its own LevelDB folder) and its own producer, under Expected
// Consensus on a real clock: each runs the election every round with its own worker key on the heaviest tipset it
// holds, publishes what it wins at the round's start, and the others take it. They agree on one chain whose tipsets
// hold blocks of several miners, with null rounds where nobody won, and whose state pays each block its WinCount.
import { describe, it, expect, afterAll } from 'vitest'
import {
  createGenesis, blsPublicKey, blsAddressBytes, idAddressBytes, pieceDigest, pieceCidV1, ATTO_PER_FIL,
  type CID, type Genesis, type SealedHeader
} from '../../src/core'
import type { ChainDb } from '../../src/node/chain-db'
import type { NodeChain } from '../../src/node/chain'
import { startEcProducer, type EcProducer } from '../../src/node/ec-producer'
import { openEcNode } from '../helpers/ec-node'
import { TEST_BEACON, testBeaconEntry } from '../helpers/test-beacon'

const secrets = [41, 42, 43].map(n => new Uint8Array(32).fill(n))
const workers = secrets.map(s => blsAddressBytes(blsPublicKey(s)))
const miners = [1001, 1002, 1003].map(idAddressBytes)
const piece = (seed: number): { pieceCid: CID, pieceSize: number } => {
  const d = pieceDigest(new Uint8Array(3000).map((_, i) => (i * seed + 1) & 0xff))
  return { pieceCid: pieceCidV1(d.root), pieceSize: d.paddedBytes }
}

const cleanups: Array<() => Promise<void>> = []
afterAll(async () => { for (const fn of cleanups.reverse()) await fn().catch(() => {}) })

async function node (genesis: Genesis): Promise<{ chain: NodeChain, db: ChainDb }> {
  const n = await openEcNode(genesis, () => Date.now())
  cleanups.push(n.close)
  return n
}

describe('Expected Consensus producers, one per miner', { timeout: 120_000 }, () => {
  it('three miners\' nodes agree on one chain of their won blocks: several miners in a tipset, rewards paid per win', async () => {
    // genesis one second ago, 1 s rounds; three equal genesis providers (4 KiB pre-sealed each)
    const genesisTime = Math.floor(Date.now() / 1000) - 1
    const genesis = createGenesis(
      { beacon: TEST_BEACON, network: 'ec-producers', producer: idAddressBytes(1000), producerKey: blsPublicKey(new Uint8Array(32).fill(3)), blockDelaySecs: 1, consensus: 'expected' }, genesisTime, [],
      miners.map((_, i) => ({ id: 1001 + i, info: { owner: workers[i]!, worker: workers[i]!, peerId: Uint8Array.of(0, 2, 0, i) }, preseal: piece(i + 5) })))
    const nodes = await Promise.all(miners.map(async () => await node(genesis)))
    const errors: string[] = []
    const deliveries: Array<Promise<unknown>> = []
    const producers: EcProducer[] = nodes.map((own, i) => startEcProducer({
      chain: own.chain, miner: miners[i]!, workerSecretKey: secrets[i]!, beacon: { entry: async (r) => testBeaconEntry(r) },
      genesisTime, blockDelaySecs: 1, nowMs: () => Date.now(),
      onBlock: (h: SealedHeader) => {
        const messages = own.chain.messagesOf(h)!
        for (const [j, other] of nodes.entries()) {
          if (j === i) continue
          deliveries.push(other.chain.accept(h, messages).catch((err: Error) => { errors.push(`${i}→${j} at ${h.header.height}: ${err.name}: ${err.message}`) }))
        }
      },
      onError: (err) => { errors.push(`producer ${i}: ${(err as Error).name}: ${(err as Error).message}`) }
    }))
    const deadline = Date.now() + 60_000
    while (Math.min(...nodes.map(n => n.chain.head().header.height)) < 14 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 200))
    await Promise.all(producers.map(async p => { await p.stop() }))
    await Promise.all(deliveries)
    expect(errors).toEqual([])

    // every node holds the same heaviest chain below the last round (whose blocks a stop may have left unpublished)
    const top = Math.min(...nodes.map(n => n.chain.head().header.height)) - 1
    expect(top).toBeGreaterThanOrEqual(12)
    const keys = async (db: ChainDb): Promise<string[]> => {
      const out: string[] = []
      for (let h = 0; h <= top; h++) out.push(((await db.canonicalKey(h)) ?? []).map(String).join(','))
      return out
    }
    const chains = await Promise.all(nodes.map(async n => await keys(n.db)))
    expect(chains[1]).toEqual(chains[0])
    expect(chains[2]).toEqual(chains[0])

    // the blocks of that chain: every miner won some, some tipset holds several, null rounds have no tipset
    const tipsets = (await Promise.all(Array.from({ length: top }, async (_, h) => await nodes[0]!.db.tipSetAt(h + 1)))).filter(ts => ts !== undefined)
    const blocks = tipsets.flatMap(ts => ts.blocks)
    for (const m of miners) expect(blocks.some(b => String(b.header.miner) === String(m))).toBe(true)
    expect(Math.max(...tipsets.map(ts => ts.blocks.length))).toBeGreaterThanOrEqual(2)
    const stats = producers.map(p => p.stats())
    // each ran the election in rounds of its own (a machine too slow for 1 s rounds skips some: never mines a round already past)
    expect(stats.every(s => s.rounds >= 3 && s.won >= 1)).toBe(true)
    console.log(`EC producers: ${top} rounds, ${tipsets.length} tipsets, ${blocks.length} blocks (${tipsets.filter(ts => ts.blocks.length > 1).length} tipsets of several), null rounds ${top - tipsets.length}; won ${stats.map(s => s.won).join('/')} of ${stats.map(s => s.rounds).join('/')} rounds`)

    // rewards: the state at the tipset above `top` pays every tipset up to `top`, WinCount × 1 FIL each (5 FIL an epoch / 5)
    const above = await nodes[0]!.db.tipSetAt(top + 1) ?? nodes[0]!.chain.headTipSet()
    const wins = new Map<string, bigint>()
    for (const ts of tipsets) for (const b of ts.blocks) wins.set(String(b.header.miner), (wins.get(String(b.header.miner)) ?? 0n) + BigInt(b.header.electionProof!.winCount))
    for (const m of miners) {
      const balance = (await nodes[0]!.chain.getActor(m, above.blocks[0]!))!.balance
      expect(balance).toBe((wins.get(String(m)) ?? 0n) * ATTO_PER_FIL)
    }
  })
})
