// The list of miners as a verified read (issue 12): a node records the blocks listMiners walks (the power
// actor's claims), a light client replays it over those blocks alone against a header it verified, and a
// block altered or left out makes the peer a liar (StateProofRejectedError), not a shorter list.
import { describe, it, expect, vi, beforeAll } from 'vitest'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { generateKeyPair } from '@libp2p/crypto/keys'
import {
  createGenesis, applyMessage, executionContext, idAddressBytes, blsPublicKey, blsAddressBytes, recordReads, listMiners, powerStateAt, ProofBlockStore,
  encodeCreateMinerParams, decodeCreateMinerReturn, encodeStateRequest, decodeStateRequest, chainCid, PowerMethod, POWER_ACTOR_ADDRESS, ExitCode, ATTO_PER_FIL,
  type CID, type Genesis, type SealedHeader
} from '../../src/core'
import { TEST_BEACON } from '../helpers/test-beacon'

const served: { blocks: Uint8Array[], requests: unknown[] } = { blocks: [], requests: [] }
vi.mock('../../src/net', () => ({
  requestState: async (_libp2p: unknown, _peer: unknown, req: unknown) => {
    served.requests.push(req)
    return { ok: true, blocks: served.blocks }
  }
}))
const { createStateClient } = await import('../../src/light/state-client')

const workerKey = new Uint8Array(32).fill(7)
const worker = blsAddressBytes(blsPublicKey(workerKey)) // a miner's worker is a BLS key
let genesis: Genesis
let root: CID
let created: Uint8Array[]

beforeAll(() => {
  // three genesis providers, then 40 miners created by message: enough claims (43 over 32 slots of 3) for child nodes in the HAMT
  genesis = createGenesis({ beacon: TEST_BEACON, network: 'miners-read', producer: idAddressBytes(1000), producerKey: blsPublicKey(new Uint8Array(32).fill(3)), blockDelaySecs: 1 }, 1_800_000_000,
    [{ address: worker, balance: 1000n * ATTO_PER_FIL }],
    [1001, 1002, 1003].map(id => ({ id, info: { owner: worker, worker, peerId: new Uint8Array([id & 0xff, id >> 8]) } })))
  root = genesis.header.header.parentStateRoot
  created = []
  for (let nonce = 0; nonce < 40; nonce++) {
    const params = encodeCreateMinerParams({ owner: worker, worker, windowPoStProofType: 13, peer: new Uint8Array([0xee, nonce]), multiaddrs: [] })
    const out = applyMessage(executionContext(genesis.store!, genesis.state, { ...genesis.header.header, height: 1 }, () => undefined), root, {
      version: 0, to: POWER_ACTOR_ADDRESS, from: worker, nonce, value: ATTO_PER_FIL, gasLimit: 10_000_000, gasFeeCap: 300n, gasPremium: 100n, method: PowerMethod.CreateMiner, params
    })
    expect(out.receipt.exitCode).toBe(ExitCode.Ok)
    root = out.root
    created.push(decodeCreateMinerReturn(out.receipt.return).idAddress)
  }
})

describe('listMiners: a verified read', () => {
  it('lists genesis providers and created miners, by ID', () => {
    expect(listMiners(genesis.store!, root)).toEqual([...[1001, 1002, 1003].map(idAddressBytes), ...created])
    expect(created[0]).toEqual(idAddressBytes(1004))
  })

  it('the recorded blocks prove it; an altered or missing block does not', () => {
    const blocks = recordReads(genesis.store!, g => listMiners(g, root))
    // beyond the path to the power state: the claims root and at least one child node
    expect(blocks.length).toBeGreaterThan(recordReads(genesis.store!, g => powerStateAt(g, root)).length + 1)
    expect(listMiners(new ProofBlockStore(blocks), root)).toEqual(listMiners(genesis.store!, root))
    for (let i = 0; i < blocks.length; i++) {
      const altered = blocks.map((b, j) => {
        if (j !== i) return b
        const t = b.slice()
        t[t.length - 1] = t[t.length - 1]! ^ 1
        return t
      })
      expect(() => listMiners(new ProofBlockStore(altered), root), `block ${i} altered`).toThrow(/proof lacks/)
      expect(() => listMiners(new ProofBlockStore(blocks.filter((_, j) => j !== i)), root), `block ${i} missing`).toThrow(/proof lacks/)
    }
  })

  it('the state request kind \'miners\' goes over the wire', () => {
    const req = { kind: 'miners' as const, at: chainCid(new Uint8Array([1])) }
    expect(decodeStateRequest(encodeStateRequest(req))).toEqual(req)
  })
})

describe('the light state client\'s miners()', () => {
  it('believes the list only when it verifies against its head; names the peer otherwise', async () => {
    const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const lies: string[] = []
    const head = { cid: chainCid(new Uint8Array([7])), header: { parentStateRoot: root } } as unknown as SealedHeader
    // what a tab keeps to serve other tabs (verified-state-cache.ts): only answers that verified
    const kept: Array<{ req: unknown, blocks: Uint8Array[] }> = []
    const client = createStateClient({
      libp2p: { getConnections: () => [{ remotePeer: peer }] } as never,
      store: {} as never,
      head: () => head,
      onLie: (p) => { lies.push(p) },
      onVerified: (req, blocks) => { kept.push({ req, blocks }) }
    })
    const blocks = recordReads(genesis.store!, g => listMiners(g, root))
    served.blocks = blocks
    expect(await client.miners()).toEqual(listMiners(genesis.store!, root))
    expect(served.requests.at(-1)).toEqual({ kind: 'miners', at: head.cid })
    expect(lies).toEqual([])
    // a node that leaves a claims node out (hiding some miners) or alters one is refused and named
    served.blocks = blocks.slice(0, -1)
    await expect(client.miners()).rejects.toMatchObject({ name: 'StateProofRejectedError' })
    served.blocks = blocks.map((b, i) => i === blocks.length - 1 ? Uint8Array.from(b, (x, j) => j === b.length - 1 ? x ^ 1 : x) : b)
    await expect(client.miners()).rejects.toMatchObject({ name: 'StateProofRejectedError' })
    expect(lies).toEqual([peer.toString(), peer.toString()])
    // the verified answer was kept, with its request; neither lie was
    expect(kept).toEqual([{ req: { kind: 'miners', at: head.cid }, blocks }])
  })
})
