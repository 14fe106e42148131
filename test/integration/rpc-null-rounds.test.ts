// The JSON-RPC over an Expected Consensus chain with null rounds and tipsets of several blocks, as Lotus answers
// them: ChainGetTipSetByHeight at a null round gives the tipset before it (Lotus GetTipsetByHeight with prev),
// StateGetBeaconEntry of a null round's epoch gives that epoch's round, carried by the block above it, and a tipset
// is answered with all its blocks, its key accepted back.
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { base64pad } from 'multiformats/bases/base64'
import { idAddressBytes, beaconTimingOf, maxBeaconRoundForEpoch } from '../../src/core'
import { startRpcServer, type RpcServer } from '../../src/node/rpc'
import { openEcNode, ecGenesis, type EcNode } from '../helpers/ec-node'
import { testBeaconEntry } from '../helpers/test-beacon'

const T0 = 1_800_000_000
const secrets = [61, 62, 63].map(n => new Uint8Array(32).fill(n))
const miners = [1001, 1002, 1003].map(idAddressBytes)
const genesis = ecGenesis({ network: 'rpc-null-rounds', time: T0, blockDelaySecs: 1, secrets, payloads: [3000, 3000, 3000].map((n, i) => new Uint8Array(n).fill(i + 1)) })
const beacon = { entry: async (r: number) => testBeaconEntry(r) }

let n: EcNode
let server: RpcServer
/** The heights mined: 1 and 2, then nothing until a height past the null rounds 3 and 4. */
let above = 0
afterAll(async () => { await server?.close(); await n?.close() })

async function rpc<T> (method: string, params: unknown[] = []): Promise<T> {
  const res = await fetch(server.url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })
  const body = await res.json() as { result?: T, error?: { message: string } }
  if (body.error !== undefined) throw new Error(body.error.message)
  return body.result as T
}

beforeAll(async () => {
  n = await openEcNode(genesis, () => (T0 + 10_000) * 1000)
  const mineAt = async (h: number): Promise<boolean> => {
    const base = n.chain.headTipSet()
    let won = false
    for (const [i, m] of miners.entries()) {
      const block = await n.chain.mine({ miner: m, workerSecretKey: secrets[i]!, height: h, beacon, base: base.key })
      if (block !== null) { await n.chain.submit(block); won = true }
    }
    return won
  }
  for (let h = 1; n.chain.head().header.height < 2; h++) await mineAt(h)
  // heights 3 and 4 left out: null rounds, whatever the elections would have said
  for (let h = 5; n.chain.head().header.height <= 2; h++) if (await mineAt(h)) above = h
  server = await startRpcServer({ backend: n.chain, port: 0 })
}, 60_000)

describe('the JSON-RPC across null rounds', () => {
  it('ChainGetTipSetByHeight at a null round answers the tipset before it, as Lotus does', async () => {
    expect(await n.chain.tipSetAt(3)).toBeUndefined()
    const before = (await n.chain.tipSetAt(2))!
    for (const h of [3, 4]) {
      const ts = await rpc<{ Height: number, Cids: Array<{ '/': string }> }>('Filecoin.ChainGetTipSetByHeight', [h, null])
      expect(ts.Height).toBe(2)
      expect(ts.Cids[0]!['/']).toBe(String(before.blocks[0]!.cid))
    }
    expect((await rpc<{ Height: number }>('Filecoin.ChainGetTipSetByHeight', [above, null])).Height).toBe(above)
  })

  it('StateGetBeaconEntry of a null round\'s epoch is that epoch\'s round, from the block above it', async () => {
    const timing = beaconTimingOf(genesis)
    for (const e of [2, 3, 4, above]) {
      const entry = await rpc<{ Round: number, Data: string }>('Filecoin.StateGetBeaconEntry', [e])
      const round = maxBeaconRoundForEpoch(timing, e)
      expect(entry.Round).toBe(round)
      expect(entry.Data).toBe(base64pad.baseEncode(testBeaconEntry(round).data))
    }
  })

  it('ChainHead, ChainGetTipSet and ChainGetTipSetByHeight answer every block of a tipset, and its whole key is taken back', async () => {
    interface Ts { Height: number, Cids: Array<{ '/': string }>, Blocks: Array<{ Miner: string }> }
    const cids = (ts: Ts): string[] => ts.Cids.map(c => c['/'])
    let several: number | undefined
    for (let h = 1; h <= above && several === undefined; h++) if (((await n.chain.tipSetAt(h))?.blocks.length ?? 0) >= 2) several = h
    expect(several, 'a tipset of several blocks among the mined heights').toBeDefined()
    const ts = (await n.chain.tipSetAt(several!))!
    const byHeight = await rpc<Ts>('Filecoin.ChainGetTipSetByHeight', [several, null])
    expect(cids(byHeight)).toEqual(ts.key.map(String))
    expect(byHeight.Blocks).toHaveLength(ts.blocks.length)
    expect(cids(await rpc<Ts>('Filecoin.ChainGetTipSet', [byHeight.Cids]))).toEqual(ts.key.map(String))
    // a state read anchored at the whole key answers as at any of its blocks
    expect(await rpc('Filecoin.StateGetActor', ['t01001', byHeight.Cids])).toEqual(await rpc('Filecoin.StateGetActor', ['t01001', [byHeight.Cids[0]]]))
    const head = await rpc<Ts>('Filecoin.ChainHead')
    expect(cids(head)).toEqual(n.chain.headTipSet().key.map(String))
    // blocks of two heights make no tipset
    await expect(rpc('Filecoin.ChainGetTipSet', [[head.Cids[0], byHeight.Cids[0]]])).rejects.toThrow(/make no tipset/)
  })
})
