// Power as a verified read (issue 13 part 1): a node records the blocks readPower walks (the state tree's path to
// f04, the power State, the claims HAMT's path to the miner), a light client replays readPower over those blocks
// alone against a header it verified (the head, or an older one: Expected Consensus reads power at a lookback),
// and a block altered or left out makes the peer a liar (StateProofRejectedError), never a different figure.
import { describe, it, expect, vi, beforeAll } from 'vitest'
import * as dagCbor from '@ipld/dag-cbor'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { generateKeyPair } from '@libp2p/crypto/keys'
import {
  recordReads, readPower, updateClaimedPowers, powerStateAt, ProofBlockStore, encodeStateRequest, decodeStateRequest, chainCid, idAddressBytes,
  type CID, type SealedHeader, type BlockStore
} from '../../src/core'
import { answerState } from '../../src/node/state-answers'
import { PowerChain } from '../helpers/power-chain'

const served: { blocks: Uint8Array[], requests: unknown[] } = { blocks: [], requests: [] }
vi.mock('../../src/net', () => ({
  requestState: async (_libp2p: unknown, _peer: unknown, req: unknown) => {
    served.requests.push(req)
    return { ok: true, blocks: served.blocks }
  }
}))
const { createStateClient } = await import('../../src/light/state-client')

const providers = Array.from({ length: 40 }, (_, i) => 1001 + i)
const miner = idAddressBytes(1007)
let store: BlockStore
/** An older state (the lookback) and the head's, with different power for `miner`. */
let older: CID
let head: CID

beforeAll(() => {
  // 40 claims over the HAMT's 32 slots of 3: child nodes, so a proof is a path, not the whole table
  const chain = new PowerChain(providers, { provingPeriod: 4, challengesPerPeriod: 2, maxConsecutiveFaults: 2 })
  store = chain.store
  const give = (root: CID, ids: number[], size: bigint): CID =>
    updateClaimedPowers(store, root, ids.map(id => ({ miner: idAddressBytes(id), rawByteDelta: size, qualityAdjustedDelta: size })))
  older = give(chain.root, [1007, 1008, 1009], 4096n)
  head = give(older, [1007, 1010, 1011, 1012], 4096n)
})

const flip = (b: Uint8Array): Uint8Array => Uint8Array.from(b, (x, j) => j === b.length - 1 ? x ^ 1 : x)

describe('readPower: a verified read', () => {
  it('reads the claim and the totals, the same from the recorded blocks alone, in a few KiB', () => {
    expect(readPower(store, older, miner)).toEqual({
      claim: { windowPoStProofType: 13, rawBytePower: 4096n, qualityAdjPower: 4096n },
      totalRawBytePower: 3n * 4096n, totalQualityAdjPower: 3n * 4096n, totalBytesCommitted: 3n * 4096n, totalQABytesCommitted: 3n * 4096n,
      minerAboveMinPowerCount: 3, hasMinPower: true
    })
    expect(readPower(store, head, miner)).toMatchObject({ claim: { rawBytePower: 8192n }, totalRawBytePower: 7n * 4096n, minerAboveMinPowerCount: 6 })
    for (const root of [older, head]) {
      const blocks = recordReads(store, g => readPower(g, root, miner))
      expect(readPower(new ProofBlockStore(blocks), root, miner)).toEqual(readPower(store, root, miner))
      expect(blocks.reduce((n, b) => n + b.length, 0)).toBeLessThan(8 * 1024)
      // the claims table itself is larger than the path the proof carries
      expect(blocks.length).toBeLessThan(recordReads(store, g => powerStateAt(g, root)).length + 4)
    }
  })

  it('proves a miner has no claim (null), not only that it has one', () => {
    const stranger = idAddressBytes(1999)
    const blocks = recordReads(store, g => readPower(g, head, stranger))
    expect(readPower(new ProofBlockStore(blocks), head, stranger)).toMatchObject({ claim: null, hasMinPower: false, totalRawBytePower: 7n * 4096n })
  })

  it('refuses every altered or missing block by name (ProofIncompleteError)', () => {
    const blocks = recordReads(store, g => readPower(g, head, miner))
    expect(blocks.length).toBeGreaterThan(3)
    for (let i = 0; i < blocks.length; i++) {
      const altered = blocks.map((b, j) => j === i ? flip(b) : b)
      expect(() => readPower(new ProofBlockStore(altered), head, miner), `block ${i} altered`).toThrow(expect.objectContaining({ name: 'ProofIncompleteError' }))
      expect(() => readPower(new ProofBlockStore(blocks.filter((_, j) => j !== i)), head, miner), `block ${i} missing`).toThrow(expect.objectContaining({ name: 'ProofIncompleteError' }))
    }
  })
})

describe('the state request kind \'power\'', () => {
  it('goes over the wire; a malformed one is refused by name', () => {
    const req = { kind: 'power' as const, address: miner, at: chainCid(new Uint8Array([1])) }
    expect(decodeStateRequest(encodeStateRequest(req))).toEqual(req)
    for (const bad of [{ kind: 'power', address: 'f01007', at: req.at }, { kind: 'power', at: req.at }, { kind: 'power', address: miner, at: 'bafy' }, { kind: 'power', address: miner }]) {
      expect(() => decodeStateRequest(dagCbor.encode(bad)), JSON.stringify(bad)).toThrow(expect.objectContaining({ name: 'MalformedMessageError' }))
    }
  })

  it('is answered by a node with the blocks readPower walks at the named header\'s ParentStateRoot', async () => {
    const header = { cid: chainCid(new Uint8Array([2])), header: { parentStateRoot: older } } as unknown as SealedHeader
    const chain = {
      headerByCid: async (c: CID) => c.equals(header.cid) ? header : undefined,
      proveState: (read: (g: BlockStore, r: CID) => unknown, at: SealedHeader) => recordReads(store, g => read(g as BlockStore, at.header.parentStateRoot))
    }
    const answer = await answerState(chain as never, { kind: 'power', address: miner, at: header.cid })
    expect(answer.ok).toBe(true)
    expect(readPower(new ProofBlockStore(answer.blocks), older, miner)).toEqual(readPower(store, older, miner))
    expect(await answerState(chain as never, { kind: 'power', address: miner, at: chainCid(new Uint8Array([3])) })).toMatchObject({ ok: false, error: 'unknown header' })
  })
})

describe('the light state client\'s power()', () => {
  it('checks against the head, or the older verified header it is given; a lie is refused and the peer named', async () => {
    const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const lies: string[] = []
    const headHeader = { cid: chainCid(new Uint8Array([7])), header: { parentStateRoot: head } } as unknown as SealedHeader
    const lookback = { cid: chainCid(new Uint8Array([6])), header: { parentStateRoot: older } } as unknown as SealedHeader
    const client = createStateClient({
      libp2p: { getConnections: () => [{ remotePeer: peer }] } as never,
      store: {} as never,
      head: () => headHeader,
      onLie: (p) => { lies.push(p) }
    })
    const headBlocks = recordReads(store, g => readPower(g, head, miner))
    const olderBlocks = recordReads(store, g => readPower(g, older, miner))

    served.blocks = headBlocks
    const atHead = await client.power(miner)
    expect(atHead.value).toEqual(readPower(store, head, miner))
    expect(atHead.header).toBe(headHeader)
    expect(served.requests.at(-1)).toEqual({ kind: 'power', address: miner, at: headHeader.cid })

    served.blocks = olderBlocks
    const atLookback = await client.power(miner, lookback)
    expect(atLookback.value.claim?.rawBytePower).toBe(4096n)
    expect(atLookback.header).toBe(lookback)
    expect(served.requests.at(-1)).toEqual({ kind: 'power', address: miner, at: lookback.cid })
    expect(lies).toEqual([])

    // the head's blocks offered for the lookback (a figure from the wrong state), a block altered, one left out
    for (const [blocks, at] of [[headBlocks, lookback], [headBlocks.map((b, i) => i === headBlocks.length - 1 ? flip(b) : b), headHeader], [headBlocks.slice(0, -1), headHeader]] as const) {
      served.blocks = [...blocks]
      await expect(client.power(miner, at)).rejects.toMatchObject({ name: 'StateProofRejectedError', cause: { name: 'ProofIncompleteError' } })
    }
    expect(lies).toEqual([peer.toString(), peer.toString(), peer.toString()])
  })
})
