// The tab's header sync under Expected Consensus (src/light/ec-header-sync.ts) against full nodes' real chains:
// chain exchange answered from a node's chain store and state from its answerState, both through the real wire
// codecs, the store in fake-indexeddb (the idb code the browser runs). Every block is checked in full against
// its miner's power at the lookback, proven by the node; the tab follows a heavier fork (a reorganisation in one
// store write), refuses each tampered block by name and faults its sender, stores nothing of it, and holds a
// block from the future without blaming anyone.
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import {
  idAddressBytes, unsealHeader, sealHeader, blsSign, headerSigningBytes, encodeExchangeResponse, decodeExchangeResponse, makeTipSet,
  encodeStateRequest, decodeStateRequest, encodeStateResponse, decodeStateResponse,
  ExchangeStatus, MAX_EXCHANGE_RESPONSE_BYTES, type SealedHeader, type BlockHeader, type CID, type ExchangeResponse, type TipSet
} from '../../src/core'
import { EcHeaderSync, openHeaderStore, chainDbName, ecBlockRequest, checkEcBlockState, type HeaderStore, type EcBlockHeaders } from '../../src/light'
import { answerState } from '../../src/node/state-answers'
import { openEcNode, ecGenesis, mineRounds as mineOn, type EcNode } from '../helpers/ec-node'
import { testBeaconEntry } from '../helpers/test-beacon'
import { until } from '../helpers/until'

const T0 = 1_800_000_000
const secrets = [71, 72, 73].map(n => new Uint8Array(32).fill(n))
const miners = [1001, 1002, 1003].map(idAddressBytes)
let net = 0
const newGenesis = () => ecGenesis({ network: `light-ec-${net++}`, time: T0, blockDelaySecs: 1, secrets, payloads: [3000, 3000, 3000].map((n, i) => new Uint8Array(n).fill(i + 1)) })
const now = (): number => (T0 + 10_000) * 1000

const cleanups: Array<() => Promise<void> | void> = []
const tabCleanups: Array<() => void> = []
afterAll(async () => { for (const c of tabCleanups.reverse()) c(); for (const c of cleanups.reverse()) await c() })

/** Mines `rounds` rounds on `n`'s head with the miners `who` (indexes), each on the same base. */
async function mineRounds (n: EcNode, rounds: number, who: number[]): Promise<void> {
  await mineOn(n, rounds, who.map(i => ({ miner: miners[i]!, workerSecretKey: secrets[i]! })))
}

/** Chain exchange from `n`'s store; `extra` tipsets (tampered ones) are served on top of its chain by their keys. */
function exchangeOf (n: EcNode, extra: TipSet[] = []) {
  return async (head: CID[], length: number): Promise<ExchangeResponse> => {
    const chain: SealedHeader[][] = []
    let key = head
    const top = extra.find(ts => ts.key.map(String).join() === key.map(String).join())
    if (top !== undefined) { chain.push(top.blocks); key = top.blocks[0]!.header.parents }
    const run = await n.db.headerRun(key, length - chain.length)
    if (run === null && chain.length === 0) return { status: ExchangeStatus.NotFound, errorMessage: 'unknown head', chain: [] }
    if (run !== null) for await (const batch of run.batches) for (const ts of batch) chain.push(ts.map(unsealHeader))
    return decodeExchangeResponse(encodeExchangeResponse({ status: ExchangeStatus.Ok, errorMessage: '', chain }), MAX_EXCHANGE_RESPONSE_BYTES)
  }
}

interface Tab { sync: EcHeaderSync, store: HeaderStore, rejected: Array<{ peer: string, name: string }>, stateAsks: number }

async function tab (nodes: Record<string, EcNode>, opts: { extra?: TipSet[], lie?: () => boolean, nowMs?: () => number } = {}): Promise<Tab> {
  const first = Object.values(nodes)[0]!
  const genesis = first.chain.genesis
  // a new tab: the last one's store closed and its database deleted (they share the genesis, so the name)
  for (const c of tabCleanups.splice(0).reverse()) c()
  await new Promise((resolve, reject) => { const r = indexedDB.deleteDatabase(chainDbName(genesis.header.cid.toString())); r.onsuccess = resolve; r.onerror = reject })
  const store = await openHeaderStore(genesis.header.cid.toString())
  tabCleanups.push(() => { store.close() })
  await store.append([genesis.header])
  const t: Tab = { sync: undefined as unknown as EcHeaderSync, store, rejected: [], stateAsks: 0 }
  t.sync = new EcHeaderSync({
    genesis, store, head: makeTipSet([genesis.header]), nowMs: opts.nowMs ?? now,
    net: { fetchChain: async (peer, head, length) => await exchangeOf(nodes[peer]!, opts.extra)(head, length) },
    blockState: async (miner, at: EcBlockHeaders, from) => {
      t.stateAsks++
      // through the wire codecs, as a remote node's answer arrives; a liar drops one block of its proof
      const req = decodeStateRequest(encodeStateRequest(ecBlockRequest(miner, at)))
      const resp = decodeStateResponse(encodeStateResponse(await answerState(nodes[from ?? 'a']!.chain, req)))
      if (!resp.ok) throw new Error(resp.error)
      const blocks = opts.lie?.() === true ? resp.blocks.slice(1) : resp.blocks
      return checkEcBlockState(blocks, at, miner)
    },
    onAppend: () => {},
    onRejection: (peer, err) => { t.rejected.push({ peer, name: err.name }) },
    onNetworkError: () => {},
    onChange: () => {}
  })
  tabCleanups.push(() => { t.sync.stop() })
  return t
}

const hello = (t: Tab, peer: string, n: EcNode): void => {
  const head = n.chain.headTipSet()
  t.sync.offerHead(peer, head.key, head.height, n.chain.head().header.parentWeight)
}

async function canonical (store: HeaderStore, top: number): Promise<string[]> {
  const out: string[] = []
  for (let h = 0; h <= top; h++) out.push(((await store.tipSetAt(h))?.key ?? []).map(String).join(','))
  return out
}
async function nodeCanonical (n: EcNode, top: number): Promise<string[]> {
  const out: string[] = []
  for (let h = 0; h <= top; h++) out.push(((await n.db.canonicalKey(h)) ?? []).map(String).join(','))
  return out
}

/** `h` altered by `change` and re-signed by `signer` (its own miner's worker unless told): only the altered rule is broken. */
function tampered (h: SealedHeader, change: (x: BlockHeader) => BlockHeader, signer: Uint8Array): SealedHeader {
  const unsigned = { ...change(h.header), blockSig: null }
  return sealHeader({ ...unsigned, blockSig: blsSign(signer, headerSigningBytes(unsigned)) })
}

describe('light client header sync under Expected Consensus', { timeout: 120_000 }, () => {
  let a: EcNode
  beforeAll(async () => {
    a = await openEcNode(newGenesis(), now)
    cleanups.push(a.close)
    await mineRounds(a, 12, [0, 1, 2])
  }, 120_000) // 36 blocks signed and executed: seconds on a quiet machine, more on a loaded or slow one

  it('takes a node\'s chain of several-miner tipsets from genesis, every block checked by state proofs, stored as the node holds it', async () => {
    const t = await tab({ a })
    hello(t, 'a', a)
    await t.sync.settled()

    expect(t.rejected).toEqual([])
    const top = a.chain.head().header.height
    expect(t.sync.headTipSet.key.map(String)).toEqual(a.chain.headTipSet().key.map(String))
    expect(await canonical(t.store, top)).toEqual(await nodeCanonical(a, top))
    expect(Math.max(...(await t.store.recentTipSets(top)).map(ts => ts.blocks.length))).toBeGreaterThanOrEqual(2)
    // one state proof per block
    const blocks = (await t.store.recentTipSets(top + 1)).reduce((n, ts) => n + ts.blocks.length, 0) - 1
    expect(t.stateAsks).toBe(blocks)
    expect(t.sync.headersVerified).toBe(blocks)
  })

  it('a reanchor shows the certified head while its run is written, checks nothing on it until then, and puts the old head back when the write fails', async () => {
    const t = await tab({ a })
    const top = a.chain.headTipSet()
    const parent = (await a.db.tipSet(top.blocks[0]!.header.parents))!
    let changes = 0
    ;(t.sync as unknown as { init: { onChange: () => void } }).init.onChange = () => { changes++ }
    let finish!: () => void
    const writing = new Promise<void>(resolve => { finish = resolve })
    const jumped = t.sync.reanchor(top, parent, async () => { await writing; await t.store.jump([parent, top]) })
    await new Promise(resolve => setTimeout(resolve, 50))
    expect(t.sync.head.header.height).toBe(top.height) // shown while the write is under way
    expect(changes).toBeGreaterThan(0)
    expect(t.stateAsks).toBe(0)
    finish()
    await jumped
    expect((await t.store.headTipSet())!.height).toBe(top.height)

    // a write that fails (a full disk, say): the head the store holds is the one shown again
    const lower = (await a.db.tipSetAt(3))!
    const lowerParent = (await a.db.tipSetAt(2))!
    await expect(t.sync.reanchor(lower, lowerParent, async () => { throw new Error('QuotaExceededError') })).rejects.toThrow('QuotaExceededError')
    expect(t.sync.head.header.height).toBe(top.height)
  })

  it('follows a heavier fork: the lighter chain\'s tipsets reverted and the heavier applied in one store write', async () => {
    // b: the same genesis, miner 2 alone (a third of the power): a lighter chain than a's
    const b = await openEcNode(a.chain.genesis, now)
    cleanups.push(b.close)
    await mineRounds(b, 12, [2])
    const t = await tab({ a, b })
    hello(t, 'b', b)
    await t.sync.settled()
    expect(t.sync.headTipSet.key.map(String)).toEqual(b.chain.headTipSet().key.map(String))
    hello(t, 'a', a)
    await t.sync.settled()
    expect(t.rejected).toEqual([])
    expect(t.sync.headTipSet.key.map(String)).toEqual(a.chain.headTipSet().key.map(String))
    expect(t.sync.reorgs.count).toBe(1)
    const top = a.chain.head().header.height
    expect(await canonical(t.store, top)).toEqual(await nodeCanonical(a, top))
    // the lighter chain's blocks stay by CID
    expect(await t.store.has(String(b.chain.head().cid))).toBe(true)
  })

  it('refuses each tampered block by name, faults its sender, stores nothing of it, and keeps the honest chain', async () => {
    const head = a.chain.headTipSet()
    const block = head.blocks[0]!
    const i = miners.findIndex(m => String(m) === String(block.header.miner))
    const own = secrets[i]!
    const other = secrets[(i + 1) % 3]!
    const cases: Array<[string, SealedHeader]> = [
      ['WinCountError', tampered(block, x => ({ ...x, electionProof: { ...x.electionProof!, winCount: x.electionProof!.winCount + 1 } }), own)],
      ['TicketError', tampered(block, x => ({ ...x, ticket: x.ticket!.map((b, j) => j === 0 ? b ^ 1 : b) }), own)],
      ['BlockSignatureError', tampered(block, x => x, other)],
      ['BlockBeaconError', tampered(block, x => ({ ...x, beaconEntries: x.beaconEntries.map(e => ({ ...e, data: testBeaconEntry(e.round + 1).data })) }), own)],
      ['ParentWeightError', tampered(block, x => ({ ...x, parentWeight: x.parentWeight + 1n }), own)]
    ]
    const t = await tab({ a, ...Object.fromEntries(cases.map((_, k) => [`evil${k}`, a])) }, { extra: cases.map(([, bad]) => makeTipSet([bad])) })
    hello(t, 'a', a)
    await t.sync.settled()
    for (const [k, [name, bad]] of cases.entries()) {
      t.sync.offerHead(`evil${k}`, [bad.cid], bad.header.height, bad.header.parentWeight)
      await t.sync.settled()
      expect(t.rejected.at(-1), name).toEqual({ peer: `evil${k}`, name })
      expect(await t.store.has(String(bad.cid))).toBe(false)
      expect(t.sync.headTipSet.key.map(String)).toEqual(head.key.map(String))
    }
    expect(t.rejected).toHaveLength(cases.length)
  })

  it('a lying state proof is not the block\'s fault: the block is asked again and taken', async () => {
    let lies = 2
    const started = Date.now()
    const t = await tab({ a }, { lie: () => lies-- > 0, nowMs: () => now() + Date.now() - started })
    hello(t, 'a', a)
    // the block whose proofs lied is offered again a second later
    await until(() => t.sync.headTipSet.key.map(String).join() === a.chain.headTipSet().key.map(String).join())
    expect(lies).toBeLessThan(0)
    expect(t.rejected).toEqual([])
  })

  it('after a restart the stored head\'s tipset can still grow: a late block of its round joins it', async () => {
    // a node whose head tipset lacks one winner of its round, the late block mined on the same base afterwards
    const c = await openEcNode(a.chain.genesis, now)
    cleanups.push(c.close)
    await mineRounds(c, 8, [0, 1])
    const head = c.chain.headTipSet()
    const parentKey = head.blocks[0]!.header.parents
    const late = await c.chain.mine({ miner: miners[2]!, workerSecretKey: secrets[2]!, height: head.height, beacon: { entry: async (r: number) => testBeaconEntry(r) }, base: parentKey })
    expect(late).not.toBeNull() // the third miner wins that round too (a third of the power, ~84 % a round)
    const t = await tab({ c })
    hello(t, 'c', c)
    await t.sync.settled()
    expect(t.sync.headTipSet.key.map(String)).toEqual(head.key.map(String))
    t.sync.stop()
    // the tab reopens: its fork tree rooted at the stored head's parent, the stored head checked again on it
    const stored = (await t.store.headTipSet())!
    const parent = makeTipSet(await Promise.all(stored.blocks[0]!.header.parents.map(async k => (await t.store.get(String(k)))!)))
    const again = new EcHeaderSync({
      genesis: c.chain.genesis, store: t.store, head: stored, headParent: parent, nowMs: now,
      net: { fetchChain: async (_p, key, length) => await exchangeOf(c)(key, length) },
      blockState: async (miner, at, _from) => checkEcBlockState(decodeStateResponse(encodeStateResponse(await answerState(c.chain, decodeStateRequest(encodeStateRequest(ecBlockRequest(miner, at)))))).blocks, at, miner),
      onAppend: () => {}, onRejection: (peer, err) => { t.rejected.push({ peer, name: err.name }) }, onNetworkError: () => {}, onChange: () => {}
    })
    tabCleanups.push(() => { again.stop() })
    again.offerBlock('c', late!)
    await until(() => again.headTipSet.blocks.length === head.blocks.length + 1)
    expect(t.rejected).toEqual([])
    expect((await t.store.headTipSet())!.key.map(String).sort()).toEqual([...head.key, late!.cid].map(String).sort())
  })

  it('holds a block from the future by its clock without blaming anyone, and takes it once the clock gets there', async () => {
    const top = a.chain.headTipSet()
    let clock = (top.blocks[0]!.header.timestamp - 5) * 1000
    const t = await tab({ a }, { nowMs: () => clock })
    hello(t, 'a', a)
    await new Promise(resolve => setTimeout(resolve, 500))
    expect(t.rejected).toEqual([])
    expect(t.sync.head.header.height).toBeLessThan(top.height)
    clock = now()
    await new Promise(resolve => setTimeout(resolve, 600))
    await t.sync.settled()
    expect(t.rejected).toEqual([])
    expect(t.sync.headTipSet.key.map(String)).toEqual(top.key.map(String))
  })
})
