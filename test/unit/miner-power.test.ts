// Miners created on chain through the power actor (issue 12): CreateMiner executed as a block's message,
// each refusal by its exit code and message, ChangePeerID/ChangeMultiaddrs by who may and may not, and
// WithdrawBalance with the pledge locked while the miner has live deals. Genesis providers hold the same
// records a created miner does.
import { describe, it, expect, beforeEach } from 'vitest'
import * as dagCbor from '@ipld/dag-cbor'
import {
  createGenesis, executionContext, applyBlockMessages, packBlockMessages, blsAddressBytes, runMarketCron, signMessage, getActor, secpPublicKey, secpAddressBytes, idAddressBytes, blsPublicKey,
  chainCid, pieceDigest, pieceCidV1, signDealProposal, encodeClientDealProposal, encodeBigInt, creditActor, addressToString, newActorAddress, resolveAddress,
  methodHandler, callRuntime, decodeMinerInfo, decodePowerState, encodePowerState, setClaim, setActor, minerHoldingPeerId, MAX_LISTED_MINERS, getMinerInfo, getMinerState, listMiners, powerStateAt, readClaim, hasLiveDeals, mustGet,
  encodeCreateMinerParams, decodeCreateMinerReturn, encodeChangePeerIdParams, encodeChangeMultiaddrsParams, encodeWithdrawBalanceParams, decodeWithdrawBalanceReturn,
  encodeExecParams, encodeMinerConstructorParams, readInitState, ActorError, ActorExit, ExitCode, MarketMethod, MinerMethod, PowerMethod, MinerExit, InitMethod,
  POWER_ACTOR_ADDRESS, POWER_ACTOR_CODE, MINER_ACTOR_CODE, INIT_ACTOR_ADDRESS, STORAGE_MARKET_ADDRESS, MIN_MINER_PLEDGE, MAX_PEER_ID_LENGTH, MAX_MULTIADDR_DATA,
  RegisteredPoStProof, DEFAULT_WINDOW_POST_PROOF_TYPE, ATTO_PER_FIL,
  type CID, type Genesis, type Message, type DealProposal, type Epoch, type MessageReceipt,
  type BeaconEntry
} from '../../src/core'
import { TEST_BEACON } from '../helpers/test-beacon'

const FIL = ATTO_PER_FIL
const keyOf = (n: number): Uint8Array => new Uint8Array(32).fill(n)
const [ownerKey, workerKey, strangerKey, clientKey, genesisWorkerKey] = [41, 42, 43, 44, 45].map(keyOf) as [Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array]
const owner = secpAddressBytes(secpPublicKey(ownerKey))
// workers are BLS keys (builtin-actors resolve_worker_address); owners may be any key
const worker = blsAddressBytes(blsPublicKey(workerKey))
const stranger = secpAddressBytes(secpPublicKey(strangerKey))
const client = secpAddressBytes(secpPublicKey(clientKey))
const genesisWorker = blsAddressBytes(blsPublicKey(genesisWorkerKey))
const keys = new Map([owner, worker, stranger, client, genesisWorker].map((a, i) => [a.join(), [ownerKey, workerKey, strangerKey, clientKey, genesisWorkerKey][i]!]))
const producer = idAddressBytes(1000)
const peerA = new Uint8Array([0x00, 0x24, 0x08, 0x01, 0x12, 0x20, ...new Uint8Array(32).fill(0xa1)]) // an identity-multihash Ed25519 peer ID's shape
const peerB = new Uint8Array([0x00, 0x24, 0x08, 0x01, 0x12, 0x20, ...new Uint8Array(32).fill(0xb2)])
const peerGenesis = new Uint8Array([0x00, 0x24, 0x08, 0x01, 0x12, 0x20, ...new Uint8Array(32).fill(0xc3)])
const ma = (port: number): Uint8Array => Uint8Array.of(0x04, 127, 0, 0, 1, 0x06, port >> 8, port & 0xff) // /ip4/127.0.0.1/tcp/<port>
const beaconAt = (e: Epoch): BeaconEntry => ({ round: e, data: chainCid(dagCbor.encode(['miner test header', e])).bytes })
const market = { provingPeriod: 4, challengesPerPeriod: 3, maxConsecutiveFaults: 2 }

let genesis: Genesis
let root: CID
let nonces: Map<string, number>

beforeEach(() => {
  genesis = createGenesis(
    { beacon: TEST_BEACON, network: 'miner-test', producer, producerKey: blsPublicKey(keyOf(9)), blockDelaySecs: 1, market }, 1_800_000_000,
    [owner, worker, stranger, client, genesisWorker].map(address => ({ address, balance: 1000n * FIL })),
    [{ id: 1001, info: { owner: genesisWorker, worker: genesisWorker, peerId: peerGenesis } }]
  )
  root = genesis.header.header.parentStateRoot
  nonces = new Map()
})

const store = (): Genesis['store'] & object => genesis.store!
const balance = (a: Uint8Array): bigint => getActor(store(), root, a)?.balance ?? 0n
const ctxAt = (epoch: Epoch): ReturnType<typeof executionContext> => executionContext(store(), genesis.state, { ...genesis.header.header, height: epoch }, beaconAt)

/** Executes one signed message from `from` as a block's only message (applyBlockMessages, market cron included). */
function send (epoch: Epoch, from: Uint8Array, to: Uint8Array, method: number, params: Uint8Array, value = 0n): MessageReceipt {
  const nonce = nonces.get(from.join()) ?? 0
  const m: Message = { version: 0, to, from, nonce, value, gasLimit: 100_000_000, gasFeeCap: 200n, gasPremium: 100n, method, params }
  const packed = packBlockMessages([signMessage(keys.get(from.join())!, m)])
  const out = applyBlockMessages(ctxAt(epoch), root, packed.messages, packed.blsAggregate)
  root = out.root
  nonces.set(from.join(), nonce + 1)
  return out.receipts[0]!
}

/** The refusal a method call meets, with its message (a receipt carries only the code). */
function refusal (epoch: Epoch, from: Uint8Array, to: Uint8Array, method: number, params: Uint8Array, value = 0n): { exitCode: number, message: string } {
  const handler = methodHandler(getActor(store(), root, to)?.code, method)!
  const credited = creditActor(store(), root, to, value)
  const call = { store: store(), epoch, market, paych: { settleDelay: 10 }, beaconAt }
  try {
    handler(callRuntime(call, { origin: from, nonce: 0, actorsCreated: 0 }, from, to, value), credited, params)
  } catch (err) {
    if (err instanceof ActorError) return { exitCode: err.exitCode, message: err.message }
    throw err
  }
  throw new Error('the call was not refused')
}

const createParams = (over: Partial<Parameters<typeof encodeCreateMinerParams>[0]> = {}): Uint8Array =>
  encodeCreateMinerParams({ owner, worker, windowPoStProofType: DEFAULT_WINDOW_POST_PROOF_TYPE, peer: peerA, multiaddrs: [ma(4001)], ...over })

function createMiner (value = 2n * FIL, over: Partial<Parameters<typeof encodeCreateMinerParams>[0]> = {}): Uint8Array {
  const r = send(1, worker, POWER_ACTOR_ADDRESS, PowerMethod.CreateMiner, createParams(over), value)
  expect(r.exitCode).toBe(ExitCode.Ok)
  return decodeCreateMinerReturn(r.return).idAddress
}

describe('method numbers', () => {
  it('are builtin-actors\' numbers', () => {
    expect(PowerMethod).toMatchObject({ Constructor: 1, CreateMiner: 2, UpdatePledgeTotal: 6 })
    expect(MinerMethod).toEqual({ Constructor: 1, ControlAddresses: 2, ChangeWorkerAddress: 3, ChangePeerID: 4, WithdrawBalance: 16, ChangeMultiaddrs: 18 })
    expect(POWER_ACTOR_ADDRESS).toEqual(idAddressBytes(4))
    expect(new TextDecoder().decode(POWER_ACTOR_CODE.multihash.digest)).toBe('fil/1/storagepower')
  })
})

describe('decoders', () => {
  it('refuse records in another layout by name: the pre-issue-12 [Owner, Worker, PeerId], a power state short of a field', () => {
    expect(() => decodeMinerInfo(dagCbor.encode([owner, worker, peerA]))).toThrow(expect.objectContaining({ name: 'MalformedStateError', message: expect.stringMatching(/14-field MinerInfo/) }))
    const powerHead = getActor(store(), root, POWER_ACTOR_ADDRESS)!.head
    const fields = dagCbor.decode(mustGet(store(), powerHead)) as unknown[]
    expect(() => decodePowerState(dagCbor.encode(fields.slice(0, 16)))).toThrow(expect.objectContaining({ name: 'MalformedStateError' }))
    expect(() => decodeCreateMinerReturn(dagCbor.encode([owner, worker]))).toThrow(expect.objectContaining({ name: 'MalformedCreateMinerReturnError' }))
    expect(() => decodeWithdrawBalanceReturn(dagCbor.encode(7))).toThrow(expect.objectContaining({ name: 'MalformedWithdrawReturnError' }))
  })
})

describe('genesis providers', () => {
  it('have a claim in the power actor and a MinerInfo in Filecoin\'s 14-field layout under a miner State', () => {
    const power = powerStateAt(store(), root)!
    expect(power.minerCount).toBe(1)
    expect(listMiners(store(), root)).toEqual([idAddressBytes(1001)])
    expect(readClaim(store(), root, idAddressBytes(1001))).toEqual({ windowPoStProofType: RegisteredPoStProof.StackedDrgWindow32GiBV1_1, rawBytePower: 0n, qualityAdjPower: 0n })
    // the power State is Filecoin's 17 fields; claims keyed by address bytes hold [ProofType, Raw, QA]
    const powerHead = getActor(store(), root, POWER_ACTOR_ADDRESS)!.head
    expect((dagCbor.decode(mustGet(store(), powerHead)) as unknown[]).length).toBe(17)
    const actor = getActor(store(), root, idAddressBytes(1001))!
    expect(actor.code.equals(MINER_ACTOR_CODE)).toBe(true)
    const state = dagCbor.decode(mustGet(store(), actor.head)) as unknown[]
    expect(state.length).toBe(6)
    const rawInfo = dagCbor.decode(mustGet(store(), getMinerState(store(), root, idAddressBytes(1001))!.info)) as unknown[]
    expect(rawInfo).toEqual([
      genesisWorker, genesisWorker, [], null, peerGenesis, [], 13, 32 * 2 ** 30, 2349, -1, null, genesisWorker,
      [new Uint8Array(0), new Uint8Array(0), 0], null
    ])
    expect(getMinerInfo(store(), root, idAddressBytes(1001))).toMatchObject({ owner: genesisWorker, worker: genesisWorker, peerId: peerGenesis, multiaddrs: [] })
  })
})

describe('CreateMiner', () => {
  it('creates a miner through init Exec, pledged with the message value, listed and equal in shape to a genesis provider', () => {
    const workerBefore = balance(worker)
    const nextId = readInitState(store(), getActor(store(), root, INIT_ACTOR_ADDRESS)!.head).nextId
    const r = send(1, worker, POWER_ACTOR_ADDRESS, PowerMethod.CreateMiner, createParams(), 2n * FIL)
    expect(r.exitCode).toBe(ExitCode.Ok)
    const { idAddress, robustAddress } = decodeCreateMinerReturn(r.return)
    expect(idAddress).toEqual(idAddressBytes(nextId))
    // the robust address is Filecoin's: from the message's origin and nonce; the init actor maps it
    expect(robustAddress).toEqual(newActorAddress(worker, 0, 0))
    expect(resolveAddress(store(), root, robustAddress)).toEqual(idAddress)
    expect(balance(idAddress)).toBe(2n * FIL)
    expect(workerBefore - balance(worker)).toBeGreaterThan(2n * FIL) // the value and the gas
    expect(balance(POWER_ACTOR_ADDRESS)).toBe(0n)
    expect(balance(INIT_ACTOR_ADDRESS)).toBe(0n)
    expect(getMinerState(store(), root, idAddress)!.initialPledge).toBe(2n * FIL)
    const info = getMinerInfo(store(), root, idAddress)!
    expect(info).toMatchObject({ owner, worker, peerId: peerA, multiaddrs: [ma(4001)], beneficiary: owner, controlAddresses: [] })
    // a created miner's record has the same fields and starting values as a genesis provider's
    const genesisInfo = getMinerInfo(store(), root, idAddressBytes(1001))!
    expect({ ...info, owner: null, worker: null, beneficiary: null, peerId: null, multiaddrs: null })
      .toEqual({ ...genesisInfo, owner: null, worker: null, beneficiary: null, peerId: null, multiaddrs: null })
    expect(listMiners(store(), root)).toEqual([idAddressBytes(1001), idAddress])
    expect(readClaim(store(), root, idAddress)).toEqual({ windowPoStProofType: DEFAULT_WINDOW_POST_PROOF_TYPE, rawBytePower: 0n, qualityAdjPower: 0n })
    expect(powerStateAt(store(), root)).toMatchObject({ minerCount: 2, totalPledgeCollateral: 2n * FIL, totalRawBytePower: 0n, totalQualityAdjPower: 0n })
    // the market takes the new miner as a provider
    expect(send(2, worker, STORAGE_MARKET_ADDRESS, MarketMethod.AddBalance, dagCbor.encode(idAddress), 1n * FIL).exitCode).toBe(ExitCode.Ok)
  })

  it('refuses a value below MIN_MINER_PLEDGE (ErrPledgeTooLow), and nothing is created', () => {
    const before = root
    for (const value of [0n, MIN_MINER_PLEDGE - 1n]) {
      expect(send(1, worker, POWER_ACTOR_ADDRESS, PowerMethod.CreateMiner, createParams(), value).exitCode).toBe(MinerExit.ErrPledgeTooLow)
      expect(refusal(1, worker, POWER_ACTOR_ADDRESS, PowerMethod.CreateMiner, createParams(), value).message).toMatch(/not enough balance to lock for create miner pledge/)
    }
    expect(listMiners(store(), root)).toEqual([idAddressBytes(1001)])
    expect(readInitState(store(), getActor(store(), root, INIT_ACTOR_ADDRESS)!.head).nextId)
      .toBe(readInitState(store(), getActor(store(), before, INIT_ACTOR_ADDRESS)!.head).nextId)
    expect(MIN_MINER_PLEDGE).toBe(1n * FIL)
    createMiner(MIN_MINER_PLEDGE) // exactly the minimum is enough
  })

  it('refuses a peer ID another miner holds (ErrPeerIdTaken, naming it)', () => {
    expect(send(1, worker, POWER_ACTOR_ADDRESS, PowerMethod.CreateMiner, createParams({ peer: peerGenesis }), 2n * FIL).exitCode).toBe(MinerExit.ErrPeerIdTaken)
    expect(refusal(1, worker, POWER_ACTOR_ADDRESS, PowerMethod.CreateMiner, createParams({ peer: peerGenesis }), 2n * FIL).message).toBe('peer ID is already registered to miner t01001')
    const created = createMiner()
    expect(refusal(1, stranger, POWER_ACTOR_ADDRESS, PowerMethod.CreateMiner, encodeCreateMinerParams({ owner: stranger, worker, windowPoStProofType: 13, peer: peerA, multiaddrs: [] }), 2n * FIL))
      .toEqual({ exitCode: MinerExit.ErrPeerIdTaken, message: `peer ID is already registered to miner ${addressToString(created)}` })
    expect(listMiners(store(), root)).toHaveLength(2)
  })

  it('a listing cap does not bound the chain rule: past it the listing throws, CreateMiner still walks every claim and finds a taken peer ID', () => {
    // MAX_LISTED_MINERS (10,000) caps what is served; here a cap of 2 over 3 claims stands for 10,001 claims
    // (claims alone, without miner actors: the peer-ID walk reads each and passes over them)
    const power = getActor(store(), root, POWER_ACTOR_ADDRESS)!
    let state = powerStateAt(store(), root)!
    for (const id of [2002, 2003]) state = setClaim(store(), state, idAddressBytes(id), { windowPoStProofType: DEFAULT_WINDOW_POST_PROOF_TYPE, rawBytePower: 0n, qualityAdjPower: 0n })
    root = setActor(store(), root, POWER_ACTOR_ADDRESS, { ...power, head: store().put(encodePowerState(state)) })
    expect(MAX_LISTED_MINERS).toBe(10_000)
    expect(() => listMiners(store(), root, 2)).toThrow(/more than 2 entries/)
    expect(listMiners(store(), root)).toHaveLength(3)
    expect(minerHoldingPeerId(store(), root, peerGenesis)).toEqual(idAddressBytes(1001))
    expect(send(1, worker, POWER_ACTOR_ADDRESS, PowerMethod.CreateMiner, createParams({ peer: peerGenesis }), 2n * FIL).exitCode).toBe(MinerExit.ErrPeerIdTaken)
    expect(send(1, worker, POWER_ACTOR_ADDRESS, PowerMethod.CreateMiner, createParams(), 2n * FIL).exitCode).toBe(ExitCode.Ok)
    expect(() => listMiners(store(), root, 3)).toThrow(/more than 3 entries/)
  })

  it('refuses malformed params, bad addresses, unknown proof types and oversized peer info', () => {
    const cases: Array<[string, Uint8Array, number, RegExp]> = [
      ['not CBOR', new Uint8Array([0xff]), ActorExit.ErrSerialization, /not DAG-CBOR/],
      ['no params', new Uint8Array(0), ActorExit.ErrIllegalArgument, /expects arguments/],
      ['four fields', dagCbor.encode([owner, worker, 13, peerA]), ActorExit.ErrSerialization, /\[Owner, Worker, WindowPoStProofType, Peer, Multiaddrs\]/],
      ['owner not an address', dagCbor.encode([new Uint8Array([9, 9]), worker, 13, peerA, []]), ActorExit.ErrSerialization, /Owner/],
      ['multiaddrs not bytes', dagCbor.encode([owner, worker, 13, peerA, ['x']]), ActorExit.ErrSerialization, /Multiaddrs/],
      ['owner an ID address', createParams({ owner: idAddressBytes(1001) }), ActorExit.ErrIllegalArgument, /owner t01001 is not a key address/],
      ['worker with no account', createParams({ worker: blsAddressBytes(blsPublicKey(keyOf(99))) }), ActorExit.ErrIllegalArgument, /unable to resolve worker address/],
      // builtin-actors resolve_worker_address: the worker signs blocks, election proofs and tickets, all BLS
      ['a secp256k1 worker', createParams({ worker: stranger }), ActorExit.ErrIllegalArgument, new RegExp(`^${addressToString(stranger)} is not a BLS key$`)],
      ['unmapped f2 owner', createParams({ owner: newActorAddress(stranger, 7, 0) }), ActorExit.ErrIllegalArgument, /unable to resolve owner address/],
      ['winning PoSt proof type', createParams({ windowPoStProofType: 3 }), ActorExit.ErrIllegalArgument, /proof type 3 not allowed/],
      ['peer ID too long', createParams({ peer: new Uint8Array(MAX_PEER_ID_LENGTH + 1).fill(1) }), ActorExit.ErrIllegalArgument, /peer ID size of 129 exceeds maximum size of 128/],
      ['multiaddrs too large', createParams({ multiaddrs: [new Uint8Array(600).fill(1), new Uint8Array(MAX_MULTIADDR_DATA - 599).fill(1)] }), ActorExit.ErrIllegalArgument, /multiaddr size of 1025 exceeds maximum of 1024/],
      ['an empty multiaddr', createParams({ multiaddrs: [new Uint8Array(0)] }), ActorExit.ErrIllegalArgument, /invalid empty multiaddr/]
    ]
    for (const [what, params, code, message] of cases) {
      expect(send(1, worker, POWER_ACTOR_ADDRESS, PowerMethod.CreateMiner, params, 2n * FIL).exitCode, what).toBe(code)
      expect(refusal(1, worker, POWER_ACTOR_ADDRESS, PowerMethod.CreateMiner, params, 2n * FIL).message, what).toMatch(message)
    }
    expect(listMiners(store(), root)).toEqual([idAddressBytes(1001)])
    // limits are inclusive: exactly 128 bytes of peer ID and 1024 of multiaddrs are allowed
    createMiner(2n * FIL, { peer: new Uint8Array(MAX_PEER_ID_LENGTH).fill(7), multiaddrs: [new Uint8Array(MAX_MULTIADDR_DATA).fill(1)] })
  })

  it('creates miners only through the power actor: init Exec of the miner code and a direct Constructor are forbidden', () => {
    const ctor = encodeMinerConstructorParams({ owner, worker, controlAddresses: [], windowPoStProofType: 13, peerId: peerB, multiaddrs: [] })
    const exec = encodeExecParams({ code: MINER_ACTOR_CODE, constructorParams: ctor })
    expect(send(1, worker, INIT_ACTOR_ADDRESS, InitMethod.Exec, exec, 2n * FIL).exitCode).toBe(ActorExit.ErrForbidden)
    expect(refusal(1, worker, INIT_ACTOR_ADDRESS, InitMethod.Exec, exec, 2n * FIL).message).toMatch(/cannot exec actor type/)
    expect(send(1, genesisWorker, idAddressBytes(1001), MinerMethod.Constructor, ctor).exitCode).toBe(ActorExit.ErrForbidden)
    expect(send(1, worker, POWER_ACTOR_ADDRESS, PowerMethod.UpdatePledgeTotal, dagCbor.encode(encodeBigInt(-1n))).exitCode).toBe(ActorExit.ErrForbidden)
    expect(listMiners(store(), root)).toEqual([idAddressBytes(1001)])
  })
})

describe('ChangePeerID and ChangeMultiaddrs', () => {
  it('the owner, the worker may change them; a stranger may not; a taken peer ID is refused', () => {
    const miner = createMiner()
    expect(send(2, stranger, miner, MinerMethod.ChangePeerID, encodeChangePeerIdParams(peerB)).exitCode).toBe(ActorExit.ErrForbidden)
    expect(refusal(2, stranger, miner, MinerMethod.ChangePeerID, encodeChangePeerIdParams(peerB)).message).toMatch(/is not the miner's owner, worker or a control address/)
    expect(getMinerInfo(store(), root, miner)!.peerId).toEqual(peerA)
    expect(send(2, owner, miner, MinerMethod.ChangePeerID, encodeChangePeerIdParams(peerB)).exitCode).toBe(ExitCode.Ok)
    expect(getMinerInfo(store(), root, miner)!.peerId).toEqual(peerB)
    expect(send(2, worker, miner, MinerMethod.ChangePeerID, encodeChangePeerIdParams(peerB)).exitCode).toBe(ExitCode.Ok) // its own: allowed
    expect(send(2, worker, miner, MinerMethod.ChangePeerID, encodeChangePeerIdParams(peerGenesis)).exitCode).toBe(MinerExit.ErrPeerIdTaken)
    expect(refusal(2, worker, miner, MinerMethod.ChangePeerID, encodeChangePeerIdParams(peerGenesis)).message).toBe('peer ID is already registered to miner t01001')
    expect(send(2, worker, miner, MinerMethod.ChangePeerID, encodeChangePeerIdParams(new Uint8Array(129))).exitCode).toBe(ActorExit.ErrIllegalArgument)
    expect(send(2, worker, miner, MinerMethod.ChangePeerID, dagCbor.encode(peerA)).exitCode).toBe(ActorExit.ErrSerialization)
    expect(getMinerInfo(store(), root, miner)!.peerId).toEqual(peerB)
    // the old one is free again for another miner
    expect(send(3, genesisWorker, idAddressBytes(1001), MinerMethod.ChangePeerID, encodeChangePeerIdParams(peerA)).exitCode).toBe(ExitCode.Ok)

    expect(send(4, stranger, miner, MinerMethod.ChangeMultiaddrs, encodeChangeMultiaddrsParams([ma(5000)])).exitCode).toBe(ActorExit.ErrForbidden)
    expect(send(4, worker, miner, MinerMethod.ChangeMultiaddrs, encodeChangeMultiaddrsParams([ma(5000), ma(5001)])).exitCode).toBe(ExitCode.Ok)
    expect(getMinerInfo(store(), root, miner)!.multiaddrs).toEqual([ma(5000), ma(5001)])
    expect(send(4, owner, miner, MinerMethod.ChangeMultiaddrs, encodeChangeMultiaddrsParams([new Uint8Array(1025)])).exitCode).toBe(ActorExit.ErrIllegalArgument)
    expect(send(4, owner, miner, MinerMethod.ChangeMultiaddrs, encodeChangeMultiaddrsParams([])).exitCode).toBe(ExitCode.Ok)
    expect(getMinerInfo(store(), root, miner)!.multiaddrs).toEqual([])
    // ControlAddresses answers anyone with [Owner, Worker, ControlAddresses]
    const r = send(5, stranger, miner, MinerMethod.ControlAddresses, new Uint8Array(0))
    expect(r.exitCode).toBe(ExitCode.Ok)
    expect(dagCbor.decode(r.return)).toEqual([owner, worker, []])
    // the record still decodes as Filecoin's MinerInfo
    expect(decodeMinerInfo(mustGet(store(), getMinerState(store(), root, miner)!.info)).owner).toEqual(owner)
  })
})

describe('WithdrawBalance', () => {
  const digest = pieceDigest(new Uint8Array(3000).fill(5))
  const proposal = (provider: Uint8Array, over: Partial<DealProposal>): DealProposal => ({
    pieceCid: pieceCidV1(digest.root), pieceSize: digest.paddedBytes, verifiedDeal: false, client, provider, label: 'payload',
    startEpoch: 8, endEpoch: 12, storagePricePerEpoch: 10n, providerCollateral: 100n, clientCollateral: 0n, ...over
  })
  const publish = (epoch: Epoch, ...ps: DealProposal[]): void => {
    const params = dagCbor.encode([ps.map(p => dagCbor.decode(encodeClientDealProposal(signDealProposal(clientKey, p))))])
    expect(send(epoch, worker, STORAGE_MARKET_ADDRESS, MarketMethod.PublishStorageDeals, params).exitCode).toBe(ExitCode.Ok)
  }
  const withdraw = (epoch: Epoch, from: Uint8Array, miner: Uint8Array, amount: bigint): { exitCode: number, amount: bigint | null } => {
    const r = send(epoch, from, miner, MinerMethod.WithdrawBalance, encodeWithdrawBalanceParams(amount))
    return { exitCode: r.exitCode, amount: r.exitCode === ExitCode.Ok ? decodeWithdrawBalanceReturn(r.return) : null }
  }
  const cron = (epoch: Epoch): void => { root = runMarketCron(ctxAt(epoch), root) }

  it('with no live deals: only the owner, and everything, pledge included', () => {
    const miner = createMiner(2n * FIL)
    expect(send(1, stranger, miner, 0, new Uint8Array(0), 1n * FIL).exitCode).toBe(ExitCode.Ok) // a plain send adds to its balance
    expect(withdraw(2, stranger, miner, 1n).exitCode).toBe(ActorExit.ErrForbidden)
    expect(withdraw(2, worker, miner, 1n).exitCode).toBe(ActorExit.ErrForbidden) // Filecoin: owner or beneficiary only
    expect(withdraw(2, owner, miner, -1n).exitCode).toBe(ActorExit.ErrIllegalArgument)
    const ownerBefore = balance(owner)
    expect(withdraw(2, owner, miner, 1n * FIL)).toEqual({ exitCode: ExitCode.Ok, amount: 1n * FIL })
    expect(getMinerState(store(), root, miner)!.initialPledge).toBe(2n * FIL) // the unpledged FIL goes first
    expect(withdraw(2, owner, miner, 100n * FIL)).toEqual({ exitCode: ExitCode.Ok, amount: 2n * FIL })
    expect(balance(miner)).toBe(0n)
    expect(balance(owner) - ownerBefore).toBeGreaterThan(2n * FIL) // both withdrawals, less two messages' gas
    expect(getMinerState(store(), root, miner)!.initialPledge).toBe(0n)
    expect(powerStateAt(store(), root)!.totalPledgeCollateral).toBe(0n)
    expect(withdraw(3, owner, miner, 1n)).toEqual({ exitCode: ExitCode.Ok, amount: 0n })
  })

  it('with live deals the pledge is locked; once they expire or are slashed it may go', () => {
    const miner = createMiner(2n * FIL)
    expect(send(1, stranger, miner, 0, new Uint8Array(0), 1n * FIL).exitCode).toBe(ExitCode.Ok)
    expect(send(1, client, STORAGE_MARKET_ADDRESS, MarketMethod.AddBalance, dagCbor.encode(client), 1n * FIL).exitCode).toBe(ExitCode.Ok)
    expect(send(1, worker, STORAGE_MARKET_ADDRESS, MarketMethod.AddBalance, dagCbor.encode(miner), 1n * FIL).exitCode).toBe(ExitCode.Ok)
    // deal 0 runs one period (8..12), deal 1 three (8..20); neither is ever proven
    publish(2, proposal(miner, {}), proposal(miner, { endEpoch: 20, label: 'second' }))
    expect(hasLiveDeals(store(), root, miner, 3)).toBe(true)
    expect(hasLiveDeals(store(), root, idAddressBytes(1001), 3)).toBe(false)
    expect(withdraw(3, owner, miner, 100n * FIL)).toEqual({ exitCode: ExitCode.Ok, amount: 1n * FIL }) // only what is not pledge
    expect(withdraw(3, owner, miner, 1n)).toEqual({ exitCode: ExitCode.Ok, amount: 0n })
    expect(balance(miner)).toBe(2n * FIL)
    cron(12) // deal 0 ends (its one period missed, not slashed); deal 1 has its first fault
    expect(withdraw(13, owner, miner, 100n * FIL)).toEqual({ exitCode: ExitCode.Ok, amount: 0n })
    cron(16) // deal 1's second fault in a row: slashed
    expect(hasLiveDeals(store(), root, miner, 17)).toBe(false)
    expect(withdraw(17, owner, miner, 100n * FIL)).toEqual({ exitCode: ExitCode.Ok, amount: 2n * FIL })
    expect(getMinerState(store(), root, miner)!.initialPledge).toBe(0n)
    expect(powerStateAt(store(), root)!.totalPledgeCollateral).toBe(0n)
  })

  it('a deal that runs to its end locks the pledge through its EndEpoch (messages run before that epoch\'s cron) and frees it once settled', () => {
    const miner = createMiner(2n * FIL)
    expect(send(1, client, STORAGE_MARKET_ADDRESS, MarketMethod.AddBalance, dagCbor.encode(client), 1n * FIL).exitCode).toBe(ExitCode.Ok)
    expect(send(1, worker, STORAGE_MARKET_ADDRESS, MarketMethod.AddBalance, dagCbor.encode(miner), 1n * FIL).exitCode).toBe(ExitCode.Ok)
    publish(2, proposal(miner, {})) // one period, 8..12, missed once: not slashed, settled at 12
    expect(withdraw(11, owner, miner, 100n * FIL)).toEqual({ exitCode: ExitCode.Ok, amount: 0n })
    // executed at 12 before the cron of 12 settles the deal: still live
    expect(withdraw(12, owner, miner, 100n * FIL)).toEqual({ exitCode: ExitCode.Ok, amount: 0n })
    expect(hasLiveDeals(store(), root, miner, 12)).toBe(false) // the block's cron settled it
    expect(withdraw(13, owner, miner, 100n * FIL)).toEqual({ exitCode: ExitCode.Ok, amount: 2n * FIL })
    expect(getMinerState(store(), root, miner)!.initialPledge).toBe(0n)
  })
})
