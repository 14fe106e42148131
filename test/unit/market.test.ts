// The storage market actor as state transitions: escrow, publishing, proofs each period, payments,
// faults, slashing and expiry, checked to the attoFIL, with FIL conserved at every step; and the deal
// reads a light client replays over a node's blocks.
import { bls12_381 } from '@noble/curves/bls12-381.js'
import { describe, it, expect, beforeEach } from 'vitest'
import * as dagCbor from '@ipld/dag-cbor'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import {
  createGenesis, executionContext, applyMessage, runMarketCron, getActor, secpPublicKey, secpAddressBytes, idAddressBytes,
  blsPublicKey, blsAddressBytes, signDealProposal, pieceDigest, pieceCidV1, provePossession, challengeSeed, chainCid, encodeBigInt, decodeBigInt,
  encodeSubmitPossessionProofs, encodeClientDealProposal, readEscrow, readDeal, proveDeal, verifyDealProof, dealStatus, faultPenalty,
  frc42MethodNumber, allOnesBitfield, dealProofSet, MarketMethod, ExitCode, ActorExit, STORAGE_MARKET_ADDRESS, BURNT_FUNDS_ADDRESS, REWARD_ACTOR_ADDRESS,
  ATTO_PER_FIL, TRANSFER_GAS, PARAMS_GAS_PER_BYTE, BASE_FEE, type CID, type Message, type MarketParams, type DealProposal, type Genesis, type ApplyContext, type Epoch,
  type BeaconEntry
} from '../../src/core'
import { TEST_BEACON } from '../helpers/test-beacon'

const FIL = ATTO_PER_FIL
const key = (): Uint8Array => secp256k1.utils.randomSecretKey()
const params: MarketParams = { provingPeriod: 4, challengesPerPeriod: 3, maxConsecutiveFaults: 2 }
const clientKey = key()
// workers are BLS keys (builtin-actors resolve_worker_address)
const workerKey = bls12_381.longSignatures.keygen().secretKey
const otherWorkerKey = bls12_381.longSignatures.keygen().secretKey
const client = secpAddressBytes(secpPublicKey(clientKey))
const worker = blsAddressBytes(blsPublicKey(workerKey))
const otherWorker = blsAddressBytes(blsPublicKey(otherWorkerKey))
const provider = idAddressBytes(1001)
const otherProvider = idAddressBytes(1002)
const producer = idAddressBytes(1000)
const payload = new Uint8Array(5000).map((_, i) => (i * 7 + (i >> 8)) & 0xff)
const digest = pieceDigest(payload)
const beaconAt = (e: Epoch): BeaconEntry => ({ round: e, data: chainCid(dagCbor.encode(['test chain header', e])).bytes })

let genesis: Genesis
let root: CID
let nonces: Map<string, number>
const everyone = [client, worker, otherWorker, provider, otherProvider, producer, REWARD_ACTOR_ADDRESS, STORAGE_MARKET_ADDRESS, BURNT_FUNDS_ADDRESS]

beforeEach(() => {
  genesis = createGenesis(
    { beacon: TEST_BEACON, network: 'market-test', producer, producerKey: blsPublicKey(key()), blockDelaySecs: 1, market: params }, 1_800_000_000,
    [{ address: client, balance: 1000n * FIL }, { address: worker, balance: 100n * FIL }, { address: otherWorker, balance: 100n * FIL }],
    [{ id: 1001, info: { owner: worker, worker, peerId: new Uint8Array([1]) } }, { id: 1002, info: { owner: otherWorker, worker: otherWorker, peerId: new Uint8Array([2]) } }]
  )
  root = genesis.header.header.parentStateRoot
  nonces = new Map()
})

const ctxAt = (epoch: Epoch): ApplyContext => ({ ...executionContext(genesis.store!, genesis.state, { ...genesis.header.header, height: epoch }, beaconAt) })
const balance = (a: Uint8Array, r = root): bigint => getActor(genesis.store!, r, a)?.balance ?? 0n
const totalFil = (r = root): bigint => everyone.reduce((sum, a) => sum + balance(a, r), 0n)

/** Applies one message from `from` at `epoch`; returns its receipt. */
function call (epoch: Epoch, from: Uint8Array, method: number, params: Uint8Array, value = 0n, to = STORAGE_MARKET_ADDRESS): { exitCode: number, return: Uint8Array } {
  const nonce = nonces.get(from.join()) ?? 0
  const m: Message = { version: 0, to, from, nonce, value, gasLimit: 100_000_000, gasFeeCap: 200n, gasPremium: 100n, method, params }
  const before = totalFil()
  const out = applyMessage(ctxAt(epoch), root, m)
  root = out.root
  nonces.set(from.join(), nonce + 1)
  expect(totalFil()).toBe(before) // gas goes to f099 and the producer, never out of the system
  return out.receipt
}

const cron = (epoch: Epoch): void => { root = runMarketCron(ctxAt(epoch), root) }

/** Escrow held in the table equals the market actor's balance. */
function expectMarketBalanced (): void {
  const sum = [client, provider, otherProvider].reduce((s, a) => s + readEscrow(genesis.store!, root, a).escrow, 0n)
  expect(balance(STORAGE_MARKET_ADDRESS)).toBe(sum)
}

const proposal = (over: Partial<DealProposal> = {}): DealProposal => ({
  pieceCid: pieceCidV1(digest.root), pieceSize: digest.paddedBytes, verifiedDeal: false, client, provider, label: 'bafy-payload',
  startEpoch: 8, endEpoch: 20, storagePricePerEpoch: 1000n, providerCollateral: 300n, clientCollateral: 50n, ...over
})
const publishParams = (...ps: DealProposal[]): Uint8Array =>
  dagCbor.encode([ps.map(p => dagCbor.decode(encodeClientDealProposal(signDealProposal(clientKey, p))))])

async function proofFor (dealId: number, p: DealProposal, c: Epoch, bytes = payload): Promise<Uint8Array> {
  const proof = await provePossession(dealProofSet(p), () => [bytes], challengeSeed(beaconAt(c), c, dealId), params.challengesPerPeriod)
  return encodeSubmitPossessionProofs([{ dealId, challengeEpoch: c, proof }])
}

function fund (): void {
  expect(call(1, client, MarketMethod.AddBalance, dagCbor.encode(client), 10n * FIL).exitCode).toBe(ExitCode.Ok)
  expect(call(1, worker, MarketMethod.AddBalance, dagCbor.encode(provider), 1n * FIL).exitCode).toBe(ExitCode.Ok)
}

describe('market method numbers and formats', () => {
  it('uses Filecoin\'s numbers, FRC-0042 for Coffer\'s own method', () => {
    // builtin-actors' exported market methods, as FRC-0042 hashes them
    expect(frc42MethodNumber('AddBalance')).toBe(822473126)
    expect(frc42MethodNumber('PublishStorageDeals')).toBe(2236929350)
    expect(frc42MethodNumber('AuthenticateMessage')).toBe(2643134072)
    expect(MarketMethod.SubmitPossessionProofs).toBe(frc42MethodNumber('SubmitPossessionProofs'))
  })

  it('writes ValidDeals as an RLE+ bitfield', () => {
    expect([...allOnesBitfield(1)]).toEqual([0x0c]) // version 00, value 1, run of one
    expect([...allOnesBitfield(3)]).toEqual([0x74]) // bits 0 0 1 | 0 1 | 1 1 0 0 (no trailing zero byte)
    expect([...allOnesBitfield(16)]).toEqual([0x04, 0x02]) // 00 1 00 then varint 16
  })
})

describe('escrow', () => {
  it('adds and withdraws; only the owner withdraws for a provider, only the client for itself', () => {
    fund()
    expect(readEscrow(genesis.store!, root, client)).toEqual({ escrow: 10n * FIL, locked: 0n })
    expect(readEscrow(genesis.store!, root, provider)).toEqual({ escrow: 1n * FIL, locked: 0n })
    expectMarketBalanced()
    const withdraw = (who: Uint8Array, amount: bigint): Uint8Array => dagCbor.encode([who, encodeBigInt(amount)])
    expect(call(2, worker, MarketMethod.WithdrawBalance, withdraw(client, 1n)).exitCode).toBe(ActorExit.ErrForbidden)
    expect(call(2, otherWorker, MarketMethod.WithdrawBalance, withdraw(provider, 1n)).exitCode).toBe(ActorExit.ErrForbidden)
    const before = balance(client)
    const params = withdraw(client, 100n * FIL)
    const r = call(2, client, MarketMethod.WithdrawBalance, params) // more than there is: all of it
    expect(r.exitCode).toBe(ExitCode.Ok)
    expect(decodeBigInt(dagCbor.decode(r.return) as Uint8Array)).toBe(10n * FIL) // WithdrawBalanceReturn: CBOR of the amount (builtin-actors)
    // the withdrawal arrives, less this message's gas: burn at the base fee, the premium on the whole limit
    const gas = BigInt(TRANSFER_GAS + PARAMS_GAS_PER_BYTE * params.length) * BASE_FEE + 100_000_000n * 100n
    expect(balance(client) - before).toBe(10n * FIL - gas)
    expect(readEscrow(genesis.store!, root, client).escrow).toBe(0n)
    expect(call(2, client, MarketMethod.AddBalance, dagCbor.encode(idAddressBytes(4444)), 1n).exitCode).toBe(ActorExit.ErrIllegalArgument)
    expect(call(2, client, MarketMethod.AddBalance, new Uint8Array([0xff]), 1n).exitCode).toBe(ActorExit.ErrSerialization)
    // a plain send to the market would be FIL no escrow owns: refused, nothing moves
    const market = balance(STORAGE_MARKET_ADDRESS)
    expect(call(2, client, 0, new Uint8Array(0), 5n).exitCode).toBe(ActorExit.ErrForbidden)
    expect(balance(STORAGE_MARKET_ADDRESS)).toBe(market)
    expectMarketBalanced()
  })
})

describe('publishing', () => {
  it('locks the fee and both collaterals, and names every refusal', () => {
    fund()
    const p = proposal()
    expect(call(3, otherWorker, MarketMethod.PublishStorageDeals, publishParams(p)).exitCode).toBe(ActorExit.ErrForbidden)
    expect(call(3, worker, MarketMethod.PublishStorageDeals, publishParams(proposal({ startEpoch: 9 }))).exitCode).toBe(ActorExit.ErrIllegalArgument)
    expect(call(3, worker, MarketMethod.PublishStorageDeals, publishParams(proposal({ startEpoch: 0, endEpoch: 8 }))).exitCode).toBe(ActorExit.ErrIllegalArgument)
    expect(call(3, worker, MarketMethod.PublishStorageDeals, publishParams(proposal({ storagePricePerEpoch: FIL }))).exitCode).toBe(ActorExit.ErrInsufficientFunds)
    expect(call(3, worker, MarketMethod.PublishStorageDeals, publishParams(proposal({ providerCollateral: 2n * FIL }))).exitCode).toBe(ActorExit.ErrInsufficientFunds)
    // a proposal whose signature is another key's
    const forged = dagCbor.encode([[dagCbor.decode(encodeClientDealProposal({ ...signDealProposal(clientKey, p), proposal: { ...p, storagePricePerEpoch: 1n } }))]])
    expect(call(3, worker, MarketMethod.PublishStorageDeals, forged).exitCode).toBe(ActorExit.ErrIllegalArgument)

    const r = call(3, worker, MarketMethod.PublishStorageDeals, publishParams(p))
    expect(r.exitCode).toBe(ExitCode.Ok)
    expect(dagCbor.decode(r.return)).toEqual([[0], allOnesBitfield(1)])
    expect(readEscrow(genesis.store!, root, client)).toEqual({ escrow: 10n * FIL, locked: 12_000n + 50n })
    expect(readEscrow(genesis.store!, root, provider)).toEqual({ escrow: 1n * FIL, locked: 300n })
    // the same proposal again does not lock (or pay) twice
    expect(call(4, worker, MarketMethod.PublishStorageDeals, publishParams(p)).exitCode).toBe(ActorExit.ErrIllegalArgument)
    expect(readEscrow(genesis.store!, root, client).locked).toBe(12_050n)
    const deal = readDeal(genesis.store!, root, 0)!
    expect(dealStatus(deal.proposal, deal.state, 4)).toBe('published')
    expect(dealStatus(deal.proposal, deal.state, 8)).toBe('active')
    expect(readDeal(genesis.store!, root, 1)).toBeNull()
    expectMarketBalanced()
  })
})

describe('proving periods', () => {
  it('pays each proven period, to the attoFIL, and unlocks the collaterals at the end', async () => {
    fund()
    const p = proposal()
    call(3, worker, MarketMethod.PublishStorageDeals, publishParams(p))
    const clientEscrow0 = 10n * FIL
    for (const c of [8, 12, 16]) {
      // too early (the challenge header is the period's first), then in time
      expect(call(c, worker, MarketMethod.SubmitPossessionProofs, await proofFor(0, p, c)).exitCode).toBe(ActorExit.ErrIllegalArgument)
      expect(call(c + 1, worker, MarketMethod.SubmitPossessionProofs, await proofFor(0, p, c)).exitCode).toBe(ExitCode.Ok)
      // a second proof for the same period is refused
      expect(call(c + 2, worker, MarketMethod.SubmitPossessionProofs, await proofFor(0, p, c)).exitCode).toBe(ActorExit.ErrIllegalArgument)
      cron(c + 4)
      expectMarketBalanced()
    }
    const deal = readDeal(genesis.store!, root, 0)!
    expect(deal.periods.map(r => [r.settled, r.paid, r.penalty, r.proof !== null])).toEqual([[true, 4000n, 0n, true], [true, 4000n, 0n, true], [true, 4000n, 0n, true]])
    expect(dealStatus(deal.proposal, deal.state, 20)).toBe('expired')
    expect(readEscrow(genesis.store!, root, client)).toEqual({ escrow: clientEscrow0 - 12_000n, locked: 0n })
    expect(readEscrow(genesis.store!, root, provider)).toEqual({ escrow: 1n * FIL + 12_000n, locked: 0n })
    // another provider's worker cannot prove someone else's deal
    expect(call(21, otherWorker, MarketMethod.SubmitPossessionProofs, await proofFor(0, p, 16)).exitCode).toBe(ActorExit.ErrForbidden)
  })

  it('refuses a proof made from other bytes, or for another deal\'s challenges', async () => {
    fund()
    const p = proposal()
    call(3, worker, MarketMethod.PublishStorageDeals, publishParams(p))
    const corrupt = payload.slice()
    corrupt[100]! ^= 1
    // the provider's own prover refuses to prove from bytes that no longer hash to the piece
    await expect(proofFor(0, p, 8, corrupt)).rejects.toMatchObject({ name: 'PossessionProofError' })
    // a proof for deal 0's challenges at another epoch's seed
    const stale = await proofFor(0, p, 8)
    const moved = encodeSubmitPossessionProofs([{ dealId: 0, challengeEpoch: 12, proof: (dagCbor.decode(stale) as [Array<[number, number, Uint8Array]>])[0][0]![2] }])
    expect(call(13, worker, MarketMethod.SubmitPossessionProofs, moved).exitCode).toBe(ActorExit.ErrIllegalArgument)
  })

  it('penalises a missed period, slashes after consecutive misses, refunds the client and burns the rest', async () => {
    fund()
    const p = proposal({ endEpoch: 24 })
    call(3, worker, MarketMethod.PublishStorageDeals, publishParams(p))
    const burnt0 = balance(BURNT_FUNDS_ADDRESS)
    call(9, worker, MarketMethod.SubmitPossessionProofs, await proofFor(0, p, 8))
    cron(12) // proven
    cron(16) // missed
    const share = faultPenalty(p, params)
    expect(share).toBe(75n) // ceil(300 / (2 × 2))
    expect(readEscrow(genesis.store!, root, client)).toEqual({ escrow: 10n * FIL - 4000n + share, locked: 16_000n + 50n - 4000n - 4000n })
    const burntBefore = balance(BURNT_FUNDS_ADDRESS)
    cron(20) // missed again: slashed
    const deal = readDeal(genesis.store!, root, 0)!
    expect(deal.state.slashEpoch).toBe(20)
    expect(dealStatus(deal.proposal, deal.state, 20)).toBe('slashed')
    expect(deal.periods.map(r => [r.paid, r.penalty])).toEqual([[4000n, 0n], [0n, share], [0n, share]])
    // the client paid for one proven period only, got two penalties, and nothing stays locked
    expect(readEscrow(genesis.store!, root, client)).toEqual({ escrow: 10n * FIL - 4000n + 2n * share, locked: 0n })
    // the provider earned one period, lost its whole collateral: half to the client, the rest burnt
    expect(readEscrow(genesis.store!, root, provider)).toEqual({ escrow: 1n * FIL + 4000n - 300n, locked: 0n })
    expect(balance(BURNT_FUNDS_ADDRESS) - burntBefore).toBe(300n - 2n * share)
    expect(burntBefore).toBeGreaterThanOrEqual(burnt0)
    expectMarketBalanced()
    // a slashed deal takes no more proofs, and cron leaves it alone
    expect(call(21, worker, MarketMethod.SubmitPossessionProofs, await proofFor(0, p, 20)).exitCode).toBe(ActorExit.ErrIllegalState)
    const before = root
    cron(24)
    expect(readDeal(genesis.store!, root, 0)).toEqual(readDeal(genesis.store!, before, 0))
  })
})

describe('deal reads for the light client', () => {
  it('verify over the recorded blocks alone; a changed block fails', async () => {
    fund()
    const p = proposal()
    call(3, worker, MarketMethod.PublishStorageDeals, publishParams(p))
    call(9, worker, MarketMethod.SubmitPossessionProofs, await proofFor(0, p, 8))
    cron(12)
    const blocks = proveDeal(genesis.store!, root, 0)
    const got = verifyDealProof(root, 0, blocks)!
    expect(got.periods[0]!.proofBytes).not.toBeNull()
    expect(got).toEqual(readDeal(genesis.store!, root, 0))
    expect(verifyDealProof(root, 5, proveDeal(genesis.store!, root, 5))).toBeNull()
    for (let i = 0; i < blocks.length; i++) {
      const tampered = blocks.map((b, j) => j === i ? Uint8Array.from(b, (x, k) => k === b.length - 1 ? x ^ 1 : x) : b)
      expect(() => verifyDealProof(root, 0, tampered)).toThrow()
    }
  })
})
