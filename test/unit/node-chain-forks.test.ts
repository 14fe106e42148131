// A node's chain under Expected Consensus: blocks won by genesis providers' power (their views read from the node's
// own state), tipsets of several blocks, null rounds, a heavier fork taken as the head with the chain store's
// indexes moved in one batch, and blocks that break a consensus rule refused by name with nothing stored.
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import {
  createGenesis, makeTipSet, blsPublicKey, blsAddressBytes, idAddressBytes, pieceDigest, pieceCidV1, readPower, beaconTimingOf, maxBeaconRoundForEpoch,
  executionContext, applyTipSetMessages, blockAward, latestBeaconEntry, EMPTY_TXMETA_CID,
  makeEcHeader, readEcMinerView, ecStateRoots, tipSetKeyString, headerSigningBytes, blsSign, sealHeader,
  type TipSet, type SealedHeader, type CID, type Genesis, type EcChainConfig, type BeaconEntry, type BlockHeader
} from '../../src/core'
import type { ChainDb } from '../../src/node/chain-db'
import type { NodeChain } from '../../src/node/chain'
import { InvalidBlockError, BlockNotYetDueError, BlockRejectedError } from '../../src/node/block-errors'
import { openEcNode } from '../helpers/ec-node'
import { TEST_BEACON, testBeaconEntry } from '../helpers/test-beacon'

const T0 = 1_800_000_000
const DELAY = 30
const secrets = [31, 32, 33, 34].map(n => new Uint8Array(32).fill(n))
const workers = secrets.map(s => blsAddressBytes(blsPublicKey(s)))
const miners = [1001, 1002, 1003, 1004].map(idAddressBytes)
const piece = (seed: number): { pieceCid: CID, pieceSize: number } => {
  const d = pieceDigest(new Uint8Array(3000).map((_, i) => (i * seed + 1) & 0xff))
  return { pieceCid: pieceCidV1(d.root), pieceSize: d.paddedBytes }
}
// three providers of equal power from genesis; f01004 holds none
const genesis: Genesis = createGenesis(
  { beacon: TEST_BEACON, network: 'ec-forks', producer: idAddressBytes(1000), producerKey: blsPublicKey(new Uint8Array(32).fill(3)), blockDelaySecs: DELAY, consensus: 'expected' }, T0, [],
  miners.map((_, i) => ({ id: 1001 + i, info: { owner: workers[i]!, worker: workers[i]!, peerId: Uint8Array.of(0, 2, 0, i) }, ...(i === 3 ? {} : { preseal: piece(i + 3) }) })))
const store = genesis.store!
const config: EcChainConfig = { timing: beaconTimingOf(genesis), beaconPublicKey: TEST_BEACON.publicKey }
const beaconAt = (e: number): BeaconEntry => testBeaconEntry(maxBeaconRoundForEpoch(config.timing, e))

// the miners' side: every tipset mined, by key, and what executing each gives
const tipsets = new Map<string, TipSet>()
const g = makeTipSet([genesis.header])
tipsets.set(tipSetKeyString(g.key), g)
const parentOf = (ts: TipSet): TipSet => tipsets.get(tipSetKeyString(ts.blocks[0]!.header.parents))!
function exec (ts: TipSet): { root: CID, receiptsRoot: CID } {
  const first = ts.blocks[0]!.header
  if (ts.height === 0) return { root: first.parentStateRoot, receiptsRoot: first.parentMessageReceipts }
  const blocks = ts.blocks.map(b => ({ ...blockAward(b.header), messages: { bls: [], secp: [] }, blsAggregate: null }))
  const out = applyTipSetMessages(executionContext(store, genesis.state, first, beaconAt), parentOf(ts).height, first.parentStateRoot, blocks)
  return { root: out.root, receiptsRoot: out.receiptsRoot }
}
function access (parent: TipSet): Parameters<typeof ecStateRoots>[2] {
  return {
    tipSetAtOrAbove: (h) => { let ts = parent; let found = parent; while (ts.height >= h) { found = ts; if (ts.height === 0) break; ts = parentOf(ts) } return found },
    tipSetOf: (key) => tipsets.get(tipSetKeyString(key))!
  }
}
/** Miner i's block at `height` on `parent` if it wins there, else null. */
function mine (i: number, parent: TipSet, height: number): SealedHeader | null {
  const e = exec(parent)
  const view = readEcMinerView(store, ecStateRoots(height, parent, access(parent)), miners[i]!)!
  return makeEcHeader({
    workerSecretKey: secrets[i]!, miner: miners[i]!, parent, height, config, view, beaconEntry: testBeaconEntry,
    // every block carries its epoch's round (the beacon is faster than the chain) and genesis Lotus's round 0
    prevBeaconEntry: latestBeaconEntry(parent.blocks[0]!.header, () => undefined),
    parentTotalPower: readPower(store, parent.blocks[0]!.header.parentStateRoot, miners[0]!).totalQualityAdjPower,
    body: { parentStateRoot: e.root, parentMessageReceipts: e.receiptsRoot, messages: EMPTY_TXMETA_CID, blsAggregate: null }
  })
}
/** The next tipset on `parent` of the blocks `who` win at the first height where all of them win (null rounds skipped). */
function next (parent: TipSet, who: number[]): TipSet {
  for (let height = parent.height + 1; height < parent.height + 40; height++) {
    const blocks = who.map(i => mine(i, parent, height))
    if (blocks.every(b => b !== null)) {
      const ts = makeTipSet(blocks as SealedHeader[])
      tipsets.set(tipSetKeyString(ts.key), ts)
      return ts
    }
  }
  throw new Error('no height within 40 where all of them win')
}
const resign = (b: SealedHeader, changes: Partial<BlockHeader>, i: number): SealedHeader => {
  const unsigned = { ...b.header, ...changes, blockSig: null }
  return sealHeader({ ...unsigned, blockSig: blsSign(secrets[i]!, headerSigningBytes(unsigned)) })
}

let db: ChainDb
let chain: NodeChain
const none = { bls: [], secp: [] }
const keyOf = (k: readonly CID[]): string => k.map(String).join(',')

let close = async (): Promise<void> => {}
beforeAll(async () => {
  const n = await openEcNode(genesis, () => (T0 + 100_000) * 1000)
  chain = n.chain
  db = n.db
  close = n.close
})
afterAll(async () => { await close() })

describe('a node\'s chain under Expected Consensus', () => {
  it('holds a block from the future by its clock as not yet due (no rule broken, nothing stored) and takes it once due', async () => {
    const a1 = next(g, [0])
    const blk = a1.blocks[0]!
    let clock = (blk.header.timestamp - 10) * 1000
    const early = await openEcNode(genesis, () => clock)
    try {
      const err = await early.chain.accept(blk, none).then(() => null, (e: Error) => e)
      expect(err).toBeInstanceOf(BlockNotYetDueError)
      expect(err).not.toBeInstanceOf(BlockRejectedError) // sync and gossip do not blame the sender
      expect(early.chain.holdsBlocks([blk.cid])).toBe(false)
      clock = blk.header.timestamp * 1000
      expect(await early.chain.accept(blk, none)).toBe(true)
    } finally { await early.close() }
  })

  let a3: TipSet
  let b: TipSet[]
  it('follows one miner\'s chain, null rounds without an index entry', async () => {
    const a1 = next(g, [0])
    const a2 = next(a1, [0])
    a3 = next(a2, [0])
    for (const ts of [a1, a2, a3]) for (const blk of ts.blocks) expect(await chain.accept(blk, none)).toBe(true)
    expect(keyOf(chain.headTipSet().key)).toBe(keyOf(a3.key))
    for (const ts of [a1, a2, a3]) expect(keyOf((await db.canonicalKey(ts.height))!)).toBe(keyOf(ts.key))
    for (let h = 1; h < a3.height; h++) if (![a1, a2].some(ts => ts.height === h)) expect(await db.canonicalKey(h)).toBeUndefined()
    // the same block again: stored already, no error
    expect(await chain.accept(a3.blocks[0]!, none)).toBe(false)
  })

  it('takes a tipset of several blocks block by block, and reorganises to a heavier fork, the store\'s indexes with it', async () => {
    // a fork from genesis where two miners win together: more wins, so heavier, within a few tipsets
    b = [next(g, [1, 2])]
    while (b.length < 3) b.push(next(b.at(-1)!, [1, 2]))
    const reached: string[] = []
    for (const ts of b) {
      for (const blk of ts.blocks) expect(await chain.accept(blk, none)).toBe(true)
      reached.push(keyOf(chain.headTipSet().key))
    }
    const top = b.at(-1)!
    expect(chain.headTipSet().blocks).toHaveLength(2)
    expect(keyOf(chain.headTipSet().key)).toBe(keyOf(top.key))
    for (const ts of b) expect(keyOf((await db.canonicalKey(ts.height))!)).toBe(keyOf(ts.key))
    // heights only the old chain had are gone from the index; its headers are still stored by CID
    for (let h = 1; h <= Math.max(a3.height, top.height); h++) {
      if (!b.some(ts => ts.height === h)) expect(await db.canonicalKey(h)).toBeUndefined()
    }
    expect(await db.header(a3.key[0]!)).toBeDefined()
    expect(keyOf((await db.headKey())!)).toBe(keyOf(top.key))
    // a run served from the head is the fork's tipsets, each whole
    const run = (await db.headerRun(top.key, 10))!
    let served = 0
    for await (const batch of run.batches) served += batch.length
    expect(served).toBe(b.length + 1)
  })

  it('refuses by name, storing nothing: a wrong win count, a bad ticket, a powerless miner, a block signed by another key', async () => {
    const top = b.at(-1)!
    let blk: SealedHeader | null = null
    for (let h = top.height + 1; blk === null; h++) blk = mine(0, top, h)
    const cases: Array<[string, SealedHeader]> = [
      ['WinCountError', resign(blk, { electionProof: { ...blk.header.electionProof!, winCount: blk.header.electionProof!.winCount + 1 } }, 0)],
      ['TicketError', resign(blk, { ticket: blk.header.ticket!.map((x, i) => i === 5 ? x ^ 1 : x) }, 0)],
      ['IneligibleMinerError', resign(blk, { miner: miners[3]! }, 3)],
      ['BlockSignatureError', resign(blk, {}, 1)]
    ]
    for (const [name, forged] of cases) {
      const err = await chain.accept(forged, none).then(() => null, (e: Error) => e)
      expect(err, name).toBeInstanceOf(InvalidBlockError)
      expect((err as InvalidBlockError).cause.name, name).toBe(name)
      expect(await db.header(forged.cid)).toBeUndefined()
      expect(keyOf(chain.headTipSet().key)).toBe(keyOf(top.key))
    }
    // a base fee other than the parent's (Lotus CommonBlkChecks): a negative one would mint what it burns
    const fee = await chain.accept(resign(blk, { parentBaseFee: blk.header.parentBaseFee + 1n }, 0), none).then(() => null, (e: Error) => e)
    expect(fee?.name).toBe('BaseFeeMismatchError')
    // headers naming a subset of the head's blocks as parents, refused, take nothing into the fork tree
    const size = chain.forkTreeSize
    for (const b of top.blocks) {
      const subset = resign(blk, { parents: [b.cid] }, 1) // signed by another miner's key: refused
      expect(await chain.accept(subset, none).then(() => null, (e: Error) => e)).toBeInstanceOf(InvalidBlockError)
    }
    expect(chain.forkTreeSize).toBe(size)
    expect(await chain.accept(blk, none)).toBe(true)
    expect(chain.head().cid.equals(blk.cid)).toBe(true)
  })

  it('pays each block\'s miner its reward: WinCount × 1 FIL from the reward actor, on the heaviest chain\'s state', async () => {
    // the state the head names is after executing its parent tipset: the rewards of every tipset below the head
    const below: TipSet[] = [...b]
    const won = new Map<string, bigint>()
    for (const ts of below) for (const blk of ts.blocks) won.set(String(blk.header.miner), (won.get(String(blk.header.miner)) ?? 0n) + BigInt(blk.header.electionProof!.winCount))
    for (const [i, m] of miners.entries()) {
      const balance = (await chain.getActor(m))!.balance
      expect(balance, `miner ${i}`).toBe((won.get(String(m)) ?? 0n) * 10n ** 18n)
    }
  })
})
