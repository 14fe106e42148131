// Message application in Lotus's order of checks (vm.ApplyMessage, chain/vm/burn.go ComputeGasOutputs) and
// the block-level signature rules of Lotus's checkBlockMessages, on a real genesis state tree.
import { describe, it, expect, beforeAll } from 'vitest'
import * as dagCbor from '@ipld/dag-cbor'
import {
  createGenesis, executionContext, applyMessage, applyBlockMessages, checkBlockSignatures, signMessage, getActor, storeReceipts,
  amtValues, decodeReceipt, blsAggregate, secpSign, messageCid, blsPublicKey, blsAddressBytes, secpPublicKey, secpAddressBytes,
  idAddressBytes, encodeCreateMinerParams, powerStateAt, setClaim, setActor, encodePowerState, exitCodeOfThrow, ActorError, MalformedStateError, ProofIncompleteError,
  POWER_ACTOR_ADDRESS, PowerMethod, ActorExit, EXIT_ASSERTION_FAILED, DEFAULT_WINDOW_POST_PROOF_TYPE, MIN_MINER_PLEDGE, ExitCode, BASE_FEE, TRANSFER_GAS, BURNT_FUNDS_ADDRESS, ACCOUNT_ACTOR_CODE, ATTO_PER_FIL,
  REWARD_ACTOR_ADDRESS, type BlockApplyContext, type Genesis, type Message, type SignedMessage, type CID, type Signature
} from '../../src/core'
import { TEST_BEACON } from '../helpers/test-beacon'

const FIL = ATTO_PER_FIL
const secpKey = (n: number): Uint8Array => new Uint8Array(32).fill(n)
const aliceKey = secpKey(1)
const daveKey = secpKey(5)
const bobKey = new Uint8Array(32).fill(2)
const carolKey = new Uint8Array(32).fill(4)
const producerKey = new Uint8Array(32).fill(7)
const alice = secpAddressBytes(secpPublicKey(aliceKey))
const dave = secpAddressBytes(secpPublicKey(daveKey))
const bob = blsAddressBytes(blsPublicKey(bobKey))
const carol = blsAddressBytes(blsPublicKey(carolKey))
const erin = secpAddressBytes(secpPublicKey(secpKey(9))) // never funded
const producer = idAddressBytes(1000)
const exchange = idAddressBytes(1234) // an f0 that exists

let genesis: Genesis
let ctx: BlockApplyContext
let root: CID

beforeAll(() => {
  genesis = createGenesis({ beacon: TEST_BEACON, network: 'test', producer, producerKey: blsPublicKey(producerKey), blockDelaySecs: 1 }, 1_800_000_000, [
    { address: alice, balance: 100n * FIL },
    { address: bob, balance: 100n * FIL },
    { address: carol, balance: 10n * FIL },
    { address: dave, balance: 1n * FIL },
    { address: exchange, balance: 0n }
  ])
  ctx = { ...executionContext(genesis.store!, genesis.state, genesis.header.header, () => undefined), baseFee: BASE_FEE, miner: producer }
  root = genesis.header.header.parentStateRoot
})

const send = (over: Partial<Message>): Message => ({
  version: 0, to: erin, from: alice, nonce: 0, value: 1n * FIL, gasLimit: 2_000_000, gasFeeCap: 300n,
  gasPremium: 50n, method: 0, params: new Uint8Array(0), ...over
})
const balance = (r: CID, a: Uint8Array): bigint => getActor(ctx.store, r, a)?.balance ?? 0n
const nonce = (r: CID, a: Uint8Array): number | undefined => getActor(ctx.store, r, a)?.nonce
const everyone = [alice, bob, carol, dave, erin, exchange, producer, REWARD_ACTOR_ADDRESS, BURNT_FUNDS_ADDRESS]
const supply = (r: CID): bigint => everyone.reduce((sum, a) => sum + balance(r, a), 0n)
function failure (fn: () => unknown): { name: string, code?: string } | undefined {
  try { fn() } catch (err) { return { name: (err as Error).name, code: (err as { code?: string }).code } }
  return undefined
}
const BAD_SIGNATURE = { name: 'MessageSignatureError', code: 'BAD_SIGNATURE' }

describe('applyMessage: a transfer', () => {
  it('moves the value, burns gasUsed × baseFee to f099, pays gasLimit × premium to the reward actor (f02) as the miner tip', () => {
    const m = send({ value: 3n * FIL })
    const out = applyMessage(ctx, root, m)
    expect(out.receipt).toEqual({ exitCode: ExitCode.Ok, return: new Uint8Array(0), gasUsed: TRANSFER_GAS, eventsRoot: null })
    const burn = BigInt(TRANSFER_GAS) * BASE_FEE
    const tip = BigInt(m.gasLimit) * m.gasPremium
    expect(balance(out.root, alice)).toBe(100n * FIL - 3n * FIL - burn - tip)
    expect(balance(out.root, erin)).toBe(3n * FIL)
    expect(balance(out.root, BURNT_FUNDS_ADDRESS) - balance(root, BURNT_FUNDS_ADDRESS)).toBe(burn)
    expect(balance(out.root, REWARD_ACTOR_ADDRESS) - balance(root, REWARD_ACTOR_ADDRESS)).toBe(tip)
    expect(out.minerTip).toBe(tip)
    expect(balance(out.root, producer)).toBe(balance(root, producer))
    expect(nonce(out.root, alice)).toBe(1)
    expect(supply(out.root)).toBe(supply(root))
  })

  it('caps the premium at GasFeeCap − baseFee, and burns at GasFeeCap when that is below baseFee', () => {
    const capped = applyMessage(ctx, root, send({ gasFeeCap: 120n, gasPremium: 50n }))
    expect(balance(capped.root, REWARD_ACTOR_ADDRESS) - balance(root, REWARD_ACTOR_ADDRESS)).toBe(2_000_000n * 20n)
    expect(capped.minerTip).toBe(2_000_000n * 20n)
    expect(balance(capped.root, BURNT_FUNDS_ADDRESS) - balance(root, BURNT_FUNDS_ADDRESS)).toBe(BigInt(TRANSFER_GAS) * BASE_FEE)

    const under = applyMessage(ctx, root, send({ gasFeeCap: 60n, gasPremium: 10n }))
    expect(under.receipt.exitCode).toBe(ExitCode.Ok)
    expect(balance(under.root, REWARD_ACTOR_ADDRESS)).toBe(balance(root, REWARD_ACTOR_ADDRESS))
    expect(under.minerTip).toBe(0n)
    expect(balance(under.root, BURNT_FUNDS_ADDRESS) - balance(root, BURNT_FUNDS_ADDRESS)).toBe(BigInt(TRANSFER_GAS) * 60n)
    expect(supply(under.root)).toBe(supply(root))
  })

  it('creates an account actor for a new f1 or f3 recipient, whose head is the account state [address]', () => {
    for (const to of [erin, blsAddressBytes(blsPublicKey(new Uint8Array(32).fill(8)))]) {
      expect(getActor(ctx.store, root, to)).toBeNull()
      const out = applyMessage(ctx, root, send({ to }))
      const created = getActor(ctx.store, out.root, to)!
      expect(created.code.equals(ACCOUNT_ACTOR_CODE)).toBe(true)
      expect(created).toMatchObject({ nonce: 0, balance: 1n * FIL, delegatedAddress: null })
      expect(dagCbor.decode(ctx.store.get(created.head)!)).toEqual([to])
    }
  })

  it('to an existing f0 actor the value arrives; to an unknown f0 it does not (SysErrInvalidReceiver)', () => {
    const known = applyMessage(ctx, root, send({ to: exchange }))
    expect(known.receipt.exitCode).toBe(ExitCode.Ok)
    expect(balance(known.root, exchange)).toBe(1n * FIL)
    const unknown = applyMessage(ctx, root, send({ to: idAddressBytes(4321) }))
    expect(unknown.receipt.exitCode).toBe(ExitCode.SysErrInvalidReceiver)
    expect(getActor(ctx.store, unknown.root, idAddressBytes(4321))).toBeNull()
    expect(nonce(unknown.root, alice)).toBe(1) // the gas was spent
  })

  it('a send to oneself costs only gas', () => {
    const out = applyMessage(ctx, root, send({ to: alice, value: 50n * FIL }))
    expect(out.receipt.exitCode).toBe(ExitCode.Ok)
    expect(balance(out.root, alice)).toBe(100n * FIL - BigInt(TRANSFER_GAS) * BASE_FEE - 2_000_000n * 50n)
  })
})

describe('applyMessage: failures that change nothing', () => {
  const unchanged = (m: Message, exitCode: number): void => {
    const out = applyMessage(ctx, root, m)
    expect(out.receipt).toEqual({ exitCode, return: new Uint8Array(0), gasUsed: 0, eventsRoot: null })
    expect(out.root.equals(root)).toBe(true)
  }

  it('unknown sender: SysErrSenderInvalid', () => { unchanged(send({ from: erin }), ExitCode.SysErrSenderInvalid) })
  it('fields out of range (premium above fee cap): SysErrSenderInvalid', () => {
    unchanged(send({ gasPremium: 301n }), ExitCode.SysErrSenderInvalid)
    unchanged(send({ gasLimit: 0 }), ExitCode.SysErrSenderInvalid)
  })
  it('a nonce ahead of the sender\'s: SysErrSenderStateInvalid', () => { unchanged(send({ nonce: 1 }), ExitCode.SysErrSenderStateInvalid) })
  it('balance below GasLimit × GasFeeCap: SysErrSenderStateInvalid', () => {
    // dave has exactly 1 FIL = 10^9 gas × 10^9 attoFIL: one attoFIL more per gas unit is out of reach
    unchanged(send({ from: dave, value: 0n, gasLimit: 1_000_000_000, gasFeeCap: 1_000_000_001n, gasPremium: 0n }), ExitCode.SysErrSenderStateInvalid)
    expect(applyMessage(ctx, root, send({ from: dave, value: 0n, gasLimit: 1_000_000_000, gasFeeCap: 1_000_000_000n, gasPremium: 0n })).receipt.exitCode).toBe(ExitCode.Ok)
  })

  it('a replayed nonce: the first application counts, the replay changes nothing', () => {
    const first = applyMessage(ctx, root, send({}))
    const replay = applyMessage(ctx, first.root, send({}))
    expect(replay.receipt.exitCode).toBe(ExitCode.SysErrSenderStateInvalid)
    expect(replay.root.equals(first.root)).toBe(true)
    expect(balance(replay.root, erin)).toBe(1n * FIL)
  })
})

describe('applyMessage: failures that spend the nonce and the gas but move no value', () => {
  it('value above what is left after gas: SysErrInsufficientFunds (6)', () => {
    const m = send({ from: dave, value: 1n * FIL, gasLimit: 1_000_000, gasFeeCap: 100n, gasPremium: 0n })
    const out = applyMessage(ctx, root, m)
    expect(out.receipt).toMatchObject({ exitCode: ExitCode.SysErrInsufficientFunds, gasUsed: TRANSFER_GAS })
    const gas = BigInt(TRANSFER_GAS) * BASE_FEE
    expect(balance(out.root, dave)).toBe(1n * FIL - gas)
    expect(nonce(out.root, dave)).toBe(1)
    expect(getActor(ctx.store, out.root, erin)).toBeNull()
    expect(supply(out.root)).toBe(supply(root))
  })

  it('gas limit below what a transfer uses: SysErrOutOfGas, the whole limit is used', () => {
    const out = applyMessage(ctx, root, send({ gasLimit: TRANSFER_GAS - 1 }))
    expect(out.receipt).toMatchObject({ exitCode: ExitCode.SysErrOutOfGas, gasUsed: TRANSFER_GAS - 1 })
    expect(getActor(ctx.store, out.root, erin)).toBeNull()
    expect(balance(out.root, BURNT_FUNDS_ADDRESS) - balance(root, BURNT_FUNDS_ADDRESS)).toBe(BigInt(TRANSFER_GAS - 1) * BASE_FEE)
  })

  it('a method other than Send: ErrUnhandledMessage', () => {
    const out = applyMessage(ctx, root, send({ method: 2 }))
    expect(out.receipt.exitCode).toBe(ExitCode.ErrUnhandledMessage)
    expect(getActor(ctx.store, out.root, erin)).toBeNull()
    expect(nonce(out.root, alice)).toBe(1)
  })
})

describe('applyBlockMessages', () => {
  let blsMsgs: Message[]
  let blsSigs: Signature[]
  let secpMsgs: SignedMessage[]
  beforeAll(() => {
    blsMsgs = [send({ from: bob, nonce: 0 }), send({ from: bob, nonce: 1, value: 2n * FIL }), send({ from: carol, to: bob, value: 5n * FIL })]
    blsSigs = blsMsgs.map((m, i) => signMessage(i === 2 ? carolKey : bobKey, m).signature)
    secpMsgs = [signMessage(aliceKey, send({ to: carol })), signMessage(aliceKey, send({ nonce: 1, to: bob }))]
  })

  it('BLS messages with a correct aggregate apply, BLS first then secp, with a receipts AMT', () => {
    const out = applyBlockMessages(ctx, root, { bls: blsMsgs, secp: secpMsgs }, blsAggregate(blsSigs))
    expect(out.receipts.map(r => r.exitCode)).toEqual([0, 0, 0, 0, 0])
    expect(balance(out.root, erin)).toBe(3n * FIL)
    expect(nonce(out.root, bob)).toBe(2)
    expect(nonce(out.root, alice)).toBe(2)
    expect(out.receiptsRoot.equals(storeReceipts(ctx.store, out.receipts))).toBe(true)
    expect(amtValues(ctx.store, out.receiptsRoot, 'v0').map(decodeReceipt)).toEqual(out.receipts)
    expect(supply(out.root)).toBe(supply(root))
  })

  it('out-of-order nonces in a block: the early one is refused, the rest apply', () => {
    const [first, second] = secpMsgs as [SignedMessage, SignedMessage]
    const out = applyBlockMessages(ctx, root, { bls: [], secp: [second, first] }, null)
    expect(out.receipts.map(r => r.exitCode)).toEqual([ExitCode.SysErrSenderStateInvalid, ExitCode.Ok])
    expect(nonce(out.root, alice)).toBe(1)
  })

  const flip = (sig: Signature): Signature => { const data = sig.data.slice(); data[20]! ^= 4; return { ...sig, data } }
  const cases: Array<[string, () => [Message[], SignedMessage[], Signature | null]]> = [
    ['a secp message changed after signing', () => [[], [{ ...secpMsgs[0]!, message: { ...secpMsgs[0]!.message, value: 99n * FIL } }], null]],
    ['a secp signature with a flipped bit', () => [[], [{ ...secpMsgs[0]!, signature: flip(secpMsgs[0]!.signature) }], null]],
    ['a secp message signed by another key', () => [[], [{ message: send({}), signature: secpSign(daveKey, messageCid(send({})).bytes) }], null]],
    ['an aggregate missing one message\'s signature', () => [blsMsgs, [], blsAggregate(blsSigs.slice(0, 2))]],
    ['an aggregate with a flipped bit', () => [blsMsgs, [], flip(blsAggregate(blsSigs))]],
    ['a BLS message changed after aggregation', () => [[blsMsgs[0]!, { ...blsMsgs[1]!, value: 1n }], [], blsAggregate(blsSigs.slice(0, 2))]],
    ['BLS messages without an aggregate', () => [blsMsgs, [], null]],
    ['an aggregate without BLS messages', () => [[], secpMsgs, blsAggregate(blsSigs)]],
    ['an f1 message in the BLS list', () => [[secpMsgs[0]!.message], [], secpMsgs[0]!.signature]],
    // Lotus (checkBlockMessages, network v14+) accepts only secp-type signatures in SecpkMessages
    ['a BLS-signed message in the secp list', () => [[], [{ message: blsMsgs[0]!, signature: blsSigs[0]! }], null]],
    // filecoin-ffi's aggregate check refuses repeated messages (bls-signatures `verify`)
    ['the same BLS message twice', () => [[blsMsgs[0]!, blsMsgs[0]!], [], blsAggregate([blsSigs[0]!, blsSigs[0]!])]]
  ]
  for (const [name, make] of cases) {
    it(`rejects the whole block: ${name}`, () => {
      const [bls, secp, agg] = make()
      expect(failure(() => checkBlockSignatures({ bls, secp }, agg))).toEqual(BAD_SIGNATURE)
      expect(failure(() => applyBlockMessages(ctx, root, { bls, secp }, agg))).toEqual(BAD_SIGNATURE)
    })
  }
})

describe('applyMessage: actor code that throws something other than an ActorError', () => {
  const peer = new Uint8Array([0x00, 0x24, 0x08, 0x01, 0x12, 0x20, ...new Uint8Array(32).fill(0xd4)])
  const createMiner = (nonce: number): Message => send({
    to: POWER_ACTOR_ADDRESS, method: PowerMethod.CreateMiner, value: MIN_MINER_PLEDGE, gasLimit: 10_000_000, nonce,
    params: encodeCreateMinerParams({ owner: alice, worker: bob, windowPoStProofType: DEFAULT_WINDOW_POST_PROOF_TYPE, peer, multiaddrs: [] })
  })
  /** The genesis state with a power claim keyed by a key address: well-formed CBOR that breaks the claims' rule (ID keys only). */
  function badClaimRoot (): { root: CID, claims: CID } {
    const power = getActor(ctx.store, root, POWER_ACTOR_ADDRESS)!
    const state = setClaim(ctx.store, powerStateAt(ctx.store, root)!, dave, { windowPoStProofType: DEFAULT_WINDOW_POST_PROOF_TYPE, rawBytePower: 0n, qualityAdjPower: 0n })
    return { root: setActor(ctx.store, root, POWER_ACTOR_ADDRESS, { ...power, head: ctx.store.put(encodePowerState(state)) }), claims: state.claims }
  }

  it('malformed state (MalformedStateError) ends the message with ErrIllegalState: nonce and gas spent, no value moved, the block goes on', () => {
    const bad = badClaimRoot().root
    const first = createMiner(0)
    const out = applyBlockMessages(ctx, bad, { bls: [], secp: [signMessage(aliceKey, first), signMessage(aliceKey, send({ nonce: 1 }))] }, null)
    expect(out.receipts.map(r => r.exitCode)).toEqual([ActorExit.ErrIllegalState, ExitCode.Ok])
    expect(nonce(out.root, alice)).toBe(2)
    expect(balance(out.root, POWER_ACTOR_ADDRESS)).toBe(balance(bad, POWER_ACTOR_ADDRESS)) // the pledge did not move
    expect(balance(out.root, erin)).toBe(1n * FIL) // the message after it applied
  })

  it('a state block missing from this node\'s store fails the block on this node (ProofIncompleteError), never a receipt', () => {
    const { root: bad, claims } = badClaimRoot()
    const holey = { get: (c: CID) => c.equals(claims) ? undefined : ctx.store.get(c), put: (b: Uint8Array) => ctx.store.put(b) }
    expect(failure(() => applyBlockMessages({ ...ctx, store: holey }, bad, { bls: [], secp: [signMessage(aliceKey, createMiner(0))] }, null))?.name).toBe('ProofIncompleteError')
  })

  it('maps each kind of throw: ActorError its code, MalformedStateError ErrIllegalState, a missing block none, any other Error (an actor panic) USR_ASSERTION_FAILED', () => {
    expect(exitCodeOfThrow(new ActorError(ActorExit.ErrForbidden, 'no'))).toBe(ActorExit.ErrForbidden)
    expect(exitCodeOfThrow(new MalformedStateError('bad'))).toBe(ActorExit.ErrIllegalState)
    expect(exitCodeOfThrow(new ProofIncompleteError('bafy…'))).toBeNull()
    expect(exitCodeOfThrow(new TypeError('x is undefined'))).toBe(EXIT_ASSERTION_FAILED)
    expect(EXIT_ASSERTION_FAILED).toBe(24)
  })
})
