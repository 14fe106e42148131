// The JSON-RPC's miner methods (issue 12) over HTTP against a chain built here: a genesis provider and a
// miner created by CreateMiner in a block. StateListMiners, StateMinerInfo and StateMinerPower answer in
// Lotus's JSON shapes (api/types.go MinerInfo, api/api_full.go MinerPower, stmgr.GetPowerRaw), at the head
// and at an older tipset.
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { base64pad } from 'multiformats/bases/base64'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { generateKeyPair } from '@libp2p/crypto/keys'
import {
  createGenesis, makeTipSet, executionContext, applyBlockMessages, packBlockMessages, blsAddressBytes, produceHeader, storeBlockMessages, signMessage, blsPublicKey,
  idAddressBytes, addressToString, encodeCreateMinerParams, decodeCreateMinerReturn, PowerMethod, POWER_ACTOR_ADDRESS, ExitCode, ATTO_PER_FIL,
  getActor, setActor, powerStateAt, setClaim, encodePowerState, emptyHamt, MINIMUM_CONSENSUS_POWER, CONSENSUS_MINER_MIN_MINERS,
  type CID, type BlockGetter, type SealedHeader, type Genesis, type PowerState
} from '../../src/core'
import { startRpcServer, type RpcServer, type RpcBackend } from '../../src/node/rpc'
import { TEST_BEACON, testBeaconEntries } from '../helpers/test-beacon'

const producerSecret = new Uint8Array(32).fill(5)
const workerKey = new Uint8Array(32).fill(0x44)
const worker = blsAddressBytes(blsPublicKey(workerKey)) // a miner's worker is a BLS key (f3)
const t = (b: Uint8Array): string => addressToString(b, 't')

let genesis: Genesis
let head: SealedHeader
let created: Uint8Array
let server: RpcServer
let peerString: string
const headers = new Map<string, SealedHeader>()
const listen = multiaddr('/ip4/192.0.2.7/tcp/4001/ws')

beforeAll(async () => {
  const genesisPeer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  peerString = peer.toString()
  genesis = createGenesis({ beacon: TEST_BEACON, network: 'rpc-miners', producer: idAddressBytes(1000), producerKey: blsPublicKey(producerSecret), blockDelaySecs: 1 }, 1_700_000_000,
    [{ address: worker, balance: 100n * ATTO_PER_FIL }], [{ id: 1001, info: { owner: worker, worker, peerId: genesisPeer.toMultihash().bytes } }])
  const store = genesis.store!
  const create = signMessage(workerKey, {
    version: 0, to: POWER_ACTOR_ADDRESS, from: worker, nonce: 0, value: 2n * ATTO_PER_FIL, gasLimit: 10_000_000, gasFeeCap: 300n, gasPremium: 100n,
    method: PowerMethod.CreateMiner,
    params: encodeCreateMinerParams({ owner: worker, worker, windowPoStProofType: 13, peer: peer.toMultihash().bytes, multiaddrs: [listen.bytes] })
  })
  const packed = packBlockMessages([create])
  const executed = applyBlockMessages(executionContext(store, genesis.state, genesis.header.header, () => undefined), genesis.header.header.parentStateRoot, packed.messages, packed.blsAggregate)
  expect(executed.receipts[0]!.exitCode).toBe(ExitCode.Ok)
  created = decodeCreateMinerReturn(executed.receipts[0]!.return).idAddress
  head = produceHeader(genesis.header, genesis, producerSecret, genesis.header.header.timestamp + 1, testBeaconEntries(genesis.header, genesis), {
    parentStateRoot: executed.root, parentMessageReceipts: executed.receiptsRoot, messages: storeBlockMessages(store, { bls: [], secp: [] }), blsAggregate: null
  })
  for (const h of [genesis.header, head]) headers.set(h.cid.toString(), h)
  const unused = (): never => { throw new Error('not used by these methods') }
  const backend: RpcBackend = {
    networkName: () => 'rpc-miners',
    blockDelaySecs: () => 1,
    head: () => head,
    nextHead: unused,
    headerAt: async (h) => [genesis.header, head][h],
    headerAtOrBelow: unused,
    headTipSet: () => makeTipSet([head]),
    tipSetAt: unused,
    beaconEntryAt: unused,
    headerByCid: async (cid: CID) => headers.get(cid.toString()),
    getMessage: unused,
    getActor: unused,
    mpoolPush: unused,
    mpoolNonce: unused,
    searchMessage: unused,
    waitMessage: unused,
    stateProof: unused,
    readState: <T>(read: (s: BlockGetter, r: CID) => T, at?: SealedHeader): T => read(store, (at ?? head).header.parentStateRoot),
    faucet: unused
  }
  server = await startRpcServer({ backend, port: 0 })
})
afterAll(async () => { await server?.close() })

/** A tipset after the head whose state has the power actor's state edited (power as proven storage will give it, or no claims). */
function tipsetWithPower (edit: (s: PowerState) => PowerState): unknown[] {
  const store = genesis.store!
  const root = head.header.parentStateRoot
  const actor = getActor(store, root, POWER_ACTOR_ADDRESS)!
  const parentStateRoot = setActor(store, root, POWER_ACTOR_ADDRESS, { ...actor, head: store.put(encodePowerState(edit(powerStateAt(store, root)!))) })
  const h = produceHeader(head, genesis, producerSecret, head.header.timestamp + 1, testBeaconEntries(head, genesis), {
    parentStateRoot, parentMessageReceipts: head.header.parentMessageReceipts, messages: storeBlockMessages(store, { bls: [], secp: [] }), blsAggregate: null
  })
  headers.set(h.cid.toString(), h)
  return [{ '/': h.cid.toString() }]
}

async function call (method: string, params: unknown[]): Promise<{ result?: any, error?: { code: number, message: string } }> {
  const res = await fetch(server.url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })
  expect(res.status).toBe(200)
  return await res.json() as { result?: any, error?: { code: number, message: string } }
}

describe('Filecoin.StateListMiners', () => {
  it('lists every miner with a claim, by ID address, at the head or at a given tipset', async () => {
    expect(t(created)).toBe('t01002')
    expect((await call('Filecoin.StateListMiners', [null])).result).toEqual(['t01001', 't01002'])
    expect((await call('Filecoin.StateListMiners', [[{ '/': genesis.header.cid.toString() }]])).result).toEqual(['t01001'])
  })

  it('answers null, not [], when no miner has a claim (Lotus\'s nil slice)', async () => {
    const none = tipsetWithPower(s => ({ ...s, claims: emptyHamt(genesis.store!) }))
    const r = await call('Filecoin.StateListMiners', [none])
    expect('result' in r && r.result === null).toBe(true)
  })
})

describe('Filecoin.StateMinerInfo', () => {
  it('answers api.MinerInfo, field for field and in Lotus\'s order', async () => {
    const info = (await call('Filecoin.StateMinerInfo', ['t01002', null])).result
    expect(Object.keys(info)).toEqual(['Owner', 'Worker', 'NewWorker', 'ControlAddresses', 'WorkerChangeEpoch', 'PeerId', 'Multiaddrs', 'WindowPoStProofType',
      'SectorSize', 'WindowPoStPartitionSectors', 'ConsensusFaultElapsed', 'PendingOwnerAddress', 'Beneficiary', 'BeneficiaryTerm', 'PendingBeneficiaryTerm'])
    expect(info).toEqual({
      Owner: t(worker), Worker: t(worker), NewWorker: '<empty>', ControlAddresses: null, WorkerChangeEpoch: -1,
      PeerId: peerString, Multiaddrs: [base64pad.baseEncode(listen.bytes)], WindowPoStProofType: 13, SectorSize: 34359738368, WindowPoStPartitionSectors: 2349,
      ConsensusFaultElapsed: -1, PendingOwnerAddress: null, Beneficiary: t(worker), BeneficiaryTerm: { Quota: '0', UsedQuota: '0', Expiration: 0 }, PendingBeneficiaryTerm: null
    })
    // the multiaddr a tool decodes from the base64 is the one registered
    expect(multiaddr(base64pad.baseDecode(info.Multiaddrs[0])).toString()).toBe('/ip4/192.0.2.7/tcp/4001/ws')
    // a genesis provider's record has the same shape, with no multiaddrs (Go's nil slice: null)
    const g = (await call('Filecoin.StateMinerInfo', ['t01001', null])).result
    expect(Object.keys(g)).toEqual(Object.keys(info))
    expect(g.Multiaddrs).toBeNull()
  })

  it('names an address that is no miner, at the head and before the miner existed', async () => {
    expect((await call('Filecoin.StateMinerInfo', [t(worker), null])).error?.message).toMatch(/is not a storage miner/)
    expect((await call('Filecoin.StateMinerInfo', ['t01002', [{ '/': genesis.header.cid.toString() }]])).error?.message).toMatch(/t01002 is not a storage miner/)
  })
})

describe('Filecoin.StateMinerPower', () => {
  it('answers api.MinerPower: zero power until proven storage counts (issue 13), a zero claim for a non-miner as Lotus', async () => {
    const zero = { RawBytePower: '0', QualityAdjPower: '0' }
    const power = (await call('Filecoin.StateMinerPower', ['t01002', null])).result
    expect(Object.keys(power)).toEqual(['MinerPower', 'TotalPower', 'HasMinPower'])
    expect(power).toEqual({ MinerPower: zero, TotalPower: zero, HasMinPower: false })
    expect((await call('Filecoin.StateMinerPower', [t(worker), null])).result).toEqual({ MinerPower: zero, TotalPower: zero, HasMinPower: false })
    expect((await call('Filecoin.StateMinerPower', ['not an address', null])).error?.code).toBe(-32602)
  })

  it('HasMinPower as builtin-actors miner_nominal_power_meets_consensus_minimum: at the minimum; below it, any power while fewer than CONSENSUS_MINER_MIN_MINERS are above it', async () => {
    expect(MINIMUM_CONSENSUS_POWER).toBe(2048n) // builtin-actors devnet (min-power-2k)
    expect(CONSENSUS_MINER_MIN_MINERS).toBe(4)
    const withPower = (above: number): unknown[] => tipsetWithPower(s => {
      let st = setClaim(genesis.store!, s, idAddressBytes(1001), { windowPoStProofType: 13, rawBytePower: MINIMUM_CONSENSUS_POWER, qualityAdjPower: MINIMUM_CONSENSUS_POWER })
      st = setClaim(genesis.store!, st, created, { windowPoStProofType: 13, rawBytePower: 1024n, qualityAdjPower: 1024n })
      return { ...st, minerAboveMinPowerCount: above, totalRawBytePower: MINIMUM_CONSENSUS_POWER + 1024n, totalQualityAdjPower: MINIMUM_CONSENSUS_POWER + 1024n }
    })
    const young = withPower(1)
    const has = async (miner: string, tsk: unknown[]): Promise<boolean> => (await call('Filecoin.StateMinerPower', [miner, tsk])).result.HasMinPower
    expect(await has('t01001', young)).toBe(true) // at the minimum
    expect(await has(t(created), young)).toBe(true) // below it, positive, fewer than 4 above
    const grown = withPower(CONSENSUS_MINER_MIN_MINERS)
    expect(await has('t01001', grown)).toBe(true)
    expect(await has(t(created), grown)).toBe(false) // below it once 4 miners are above
    expect((await call('Filecoin.StateMinerPower', [t(created), grown])).result.TotalPower).toEqual({ RawBytePower: '3072', QualityAdjPower: '3072' })
    expect(await has('t01001', null as unknown as unknown[])).toBe(false) // zero power at the head, a young network: false
  })
})
