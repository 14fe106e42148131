// The node's chain store in LevelDB: headers by CID on any fork, the heaviest chain's tipsets by height and its
// head as a TipSetKey, head changes (reorganisations) that move both indexes in one batch, and runs of tipsets
// served from any stored head, as chain exchange answers them.
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { ChainDb, MissingTipSetError } from '../../src/node/chain-db'
import {
  createGenesis, sealHeader, makeTipSet, blsPublicKey, idAddressBytes, unsealHeader, decodeExchangeResponse, encodeExchangeResponseStart,
  encodeExchangeTipsets, ExchangeStatus, type SealedHeader, type TipSet, type CID
} from '../../src/core'
import { TEST_BEACON } from '../helpers/test-beacon'

const genesis = createGenesis({ beacon: TEST_BEACON, network: 'db-test', producer: idAddressBytes(1000), producerKey: blsPublicKey(new Uint8Array(32).fill(3)), blockDelaySecs: 1 }, 1_800_000_000)

/** A header on `parent` at `height` by miner `miner` (structure only: the store checks no consensus rule). */
function block (parent: TipSet, height: number, miner: number): SealedHeader {
  return sealHeader({ ...genesis.header.header, miner: idAddressBytes(miner), ticket: Uint8Array.of(miner, height), parents: parent.key, height, parentWeight: BigInt(height) })
}
const g = makeTipSet([genesis.header])
const keyOf = (ts: TipSet): string => ts.key.map(String).join(',')
const keys = (k: CID[] | undefined): string => (k ?? []).map(String).join(',')

let dir: string
let db: ChainDb
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'coffer-chain-db-'))
  db = await ChainDb.open(dir)
  await db.append(genesis.header)
})
afterEach(async () => {
  await db.close()
  await rm(dir, { recursive: true, force: true })
})

async function runOf (head: CID[], length: number): Promise<string[][] | null> {
  const run = await db.headerRun(head, length, 2)
  if (run === null) return null
  const out: string[][] = []
  for await (const batch of run.batches) for (const ts of batch) out.push(ts.map(b => String(unsealHeader(b).cid)))
  expect(out).toHaveLength(run.count)
  return out
}

describe('ChainDb', () => {
  it('a linear chain: heights, head, headers by CID, and runs served from any height', async () => {
    let parent = g
    const chain = [g]
    for (let h = 1; h <= 5; h++) {
      const b = block(parent, h, 1000)
      await db.append(b)
      parent = makeTipSet([b])
      chain.push(parent)
    }
    expect(await db.headHeight()).toBe(5)
    expect(keys(await db.headKey())).toBe(keyOf(chain[5]!))
    expect(String((await db.headerAt(3))!.cid)).toBe(keyOf(chain[3]!))
    expect(String((await db.header(chain[2]!.key[0]!))!.cid)).toBe(keyOf(chain[2]!))
    expect(await db.heightOf(chain[4]!.key[0]!)).toBe(4)
    expect(await runOf(chain[4]!.key, 3)).toEqual([chain[4], chain[3], chain[2]].map(ts => ts!.key.map(String)))
    // past genesis: what there is
    expect((await runOf(chain[2]!.key, 10))!.length).toBe(3)
    expect(await runOf([block(chain[5]!, 6, 1000).cid], 3)).toBeNull()
  })

  it('tipsets of several blocks, a null round, a fork served from its own head, and a reorganisation to it', async () => {
    // heaviest chain: g ← A1 ← {A2, B2} ← (null 3) ← A4
    const a1 = block(g, 1, 1000)
    await db.append(a1)
    const t1 = makeTipSet([a1])
    const t2 = makeTipSet([block(t1, 2, 1000), block(t1, 2, 1001)])
    await db.setHead([], [{ tipset: t2, messages: [{ cid: a1.cid, index: 0 }] }])
    const t4 = makeTipSet([block(t2, 4, 1000)])
    await db.setHead([], [{ tipset: t4, messages: [] }])
    expect(await db.canonicalKey(3)).toBeUndefined()
    expect((await db.tipSetAt(2))!.blocks).toHaveLength(2)
    expect(keys((await db.tipSetAt(2))!.key)).toBe(keyOf(t2))
    expect(await db.messageIndex(a1.cid)).toEqual({ height: 2, index: 0 })
    // past the null round to the block that carries its beacon entry; nothing up to a height below the next tipset
    expect(String((await db.headerAtOrAbove(3, 4))!.cid)).toBe(String(t4.key[0]))
    expect(String((await db.headerAtOrAbove(2, 4))!.cid)).toBe(String(t2.blocks[0]!.cid))
    expect(await db.headerAtOrAbove(3, 3)).toBeUndefined()
    expect(await db.headerAtOrAbove(5, 9)).toBeUndefined()

    // a fork from t1: C2 ← C3 ← C4, stored off the heaviest chain
    const c2 = makeTipSet([block(t1, 2, 1002)])
    const c3 = makeTipSet([block(c2, 3, 1002)])
    const c4 = makeTipSet([block(c3, 4, 1002), block(c3, 4, 1001)])
    await db.putHeaders([...c2.blocks, ...c3.blocks, ...c4.blocks])
    expect(keys(await db.headKey())).toBe(keyOf(t4))
    expect(keys(await db.canonicalKey(4))).toBe(keyOf(t4))
    // a run from the fork's head walks its parents down to t1, then the heaviest chain's index
    expect(await runOf(c4.key, 10)).toEqual([c4, c3, c2, t1, g].map(ts => ts.key.map(String)))
    // and the heaviest chain's own run skips the null round
    expect(await runOf(t4.key, 10)).toEqual([t4, t2, t1, g].map(ts => ts.key.map(String)))

    // the fork becomes the heaviest chain: t4 and t2 revert, c2..c4 apply, in one batch
    await db.setHead([t4, t2], [{ tipset: c2, messages: [] }, { tipset: c3, messages: [{ cid: a1.cid, index: 3 }] }, { tipset: c4, messages: [] }])
    expect(keys(await db.headKey())).toBe(keyOf(c4))
    expect(await db.headHeight()).toBe(4)
    for (const [h, ts] of [[1, t1], [2, c2], [3, c3], [4, c4]] as const) expect(keys(await db.canonicalKey(h))).toBe(keyOf(ts))
    // the message t2 executed is now where c3 executes it
    expect(await db.messageIndex(a1.cid)).toEqual({ height: 3, index: 3 })
    // the reverted headers stay stored by CID (Lotus keeps them; a reorg back needs them)
    expect(String((await db.header(t2.key[1]!))!.cid)).toBe(String(t2.key[1]))
    expect(await runOf(t4.key, 10)).toEqual([t4, t2, t1, g].map(ts => ts.key.map(String)))
  })

  it('a head change that reverts without applying moves the head to the parent; one naming unstored headers is refused', async () => {
    const t1 = makeTipSet([block(g, 1, 1000)])
    const t2 = makeTipSet([block(t1, 2, 1000)])
    await db.setHead([], [{ tipset: t1, messages: [{ cid: t1.key[0]!, index: 0 }] }, { tipset: t2, messages: [] }])
    await db.setHead([t2], [])
    expect(keys(await db.headKey())).toBe(keyOf(t1))
    expect(await db.canonicalKey(2)).toBeUndefined()
    await db.setHead([t1], [])
    expect(keys(await db.headKey())).toBe(keyOf(g))
    expect(await db.messageIndex(t1.key[0]!)).toBeUndefined()
    // reverting down to a parent this store never held
    const stray = makeTipSet([block(makeTipSet([block(g, 1, 1005)]), 2, 1005)])
    await expect(db.setHead([stray], [])).rejects.toBeInstanceOf(MissingTipSetError)
    await expect(db.setHead([], [])).rejects.toBeInstanceOf(RangeError)
  })

  it('a run is headed by the tipset asked for even when a late block joins that tipset on the heaviest chain while the run is read', async () => {
    // under Expected Consensus a block of the head's round may arrive after {A} became the head: {A, B} replaces it.
    // A run asked for {A} used to read the height index as its batches were taken, and answered {A, B}, g: an
    // answer headed by another tipset than asked, which the asker refuses (devnet-ec saw it as the tab's rejection)
    const a = block(g, 1, 1000)
    const t1 = makeTipSet([a])
    await db.setHead([], [{ tipset: t1, messages: [] }])
    const run = (await db.headerRun(t1.key, 5, 1))!
    const grown = makeTipSet([a, block(g, 1, 1001)])
    await db.setHead([t1], [{ tipset: grown, messages: [] }])
    const out: string[] = []
    for await (const batch of run.batches) for (const ts of batch) out.push(ts.map(b => String(unsealHeader(b).cid)).join(','))
    expect(out).toEqual([keyOf(t1), keyOf(g)])
    expect(out).toHaveLength(run.count)
    // asked after the change, {A} is off the heaviest chain: found by its parent, as a fork's tipset is
    expect(await runOf(t1.key, 5)).toEqual([t1.key.map(String), g.key.map(String)])
    expect(await runOf(grown.key, 5)).toEqual([grown.key.map(String), g.key.map(String)])
  })

  it('a run serves tipsets as chain exchange sends them: the streamed answer decodes to the same tipsets', async () => {
    const t1 = makeTipSet([block(g, 1, 1000), block(g, 1, 1001), block(g, 1, 1002)])
    await db.setHead([], [{ tipset: t1, messages: [] }])
    const run = (await db.headerRun(t1.key, 5))!
    const parts = [encodeExchangeResponseStart(ExchangeStatus.Partial, '', run.count)]
    for await (const batch of run.batches) parts.push(encodeExchangeTipsets(batch))
    const answer = decodeExchangeResponse(new Uint8Array(parts.flatMap(p => [...p])))
    expect(answer.chain.map(ts => ts.map(b => String(b.cid)))).toEqual([t1, g].map(ts => ts.key.map(String)))
  })
})
