// Payment channels on chain: the init actor's Exec creating a channel (from secp-signed messages, through
// applyBlockMessages), then every check of builtin-actors' paych actor, one case each that breaks it, with
// its exit code; Settle and Collect paying To exactly ToSend and From the rest, to the attoFIL.
import { describe, it, expect, beforeEach } from 'vitest'
import * as dagCbor from '@ipld/dag-cbor'
import { blake2b } from '@noble/hashes/blake2.js'
import {
  createGenesis, executionContext, applyMessage, applyBlockMessages, signMessage, getActor, secpPublicKey, secpAddressBytes, blsPublicKey,
  blsAddressBytes, idAddressBytes, createChannelMessageParams, updateChannelStateParams, decodeExecReturn, signVoucher, newActorAddress,
  resolveAddress, readChannel, readInitState, encodeExecParams, encodePaychConstructorParams, signedVoucherTuple, amtValues, decodeReceipt,
  ExitCode, ActorExit, InitMethod, PaychMethod, INIT_ACTOR_ADDRESS, PAYCH_ACTOR_CODE, MARKET_ACTOR_CODE, BURNT_FUNDS_ADDRESS, REWARD_ACTOR_ADDRESS, STORAGE_MARKET_ADDRESS,
  ERR_CHANNEL_STATE_UPDATE_AFTER_SETTLED, DEFAULT_PAYCH_PARAMS, TRANSFER_GAS, PARAMS_GAS_PER_BYTE, BASE_FEE, ATTO_PER_FIL,
  TRANSFER_GAS_FEE_CAP, TRANSFER_GAS_PREMIUM, gasLimitFor, redeemGasCost, worthRedeeming, REDEEM_GAS_MULTIPLE,
  type CID, type Genesis, type Message, type SignedVoucher, type Epoch, type ChannelRecord
} from '../../src/core'
import { TEST_BEACON } from '../helpers/test-beacon'

const FIL = ATTO_PER_FIL
const SETTLE_DELAY = 10
const clientKey = new Uint8Array(32).fill(21)
const providerKey = new Uint8Array(32).fill(22)
const blsProviderKey = new Uint8Array(32).fill(23)
const strangerKey = new Uint8Array(32).fill(24)
const client = secpAddressBytes(secpPublicKey(clientKey))
const provider = secpAddressBytes(secpPublicKey(providerKey))
const blsProvider = blsAddressBytes(blsPublicKey(blsProviderKey))
const stranger = secpAddressBytes(secpPublicKey(strangerKey))
const producer = idAddressBytes(1000)
const keys = new Map([[client, clientKey], [provider, providerKey], [stranger, strangerKey]].map(([a, k]) => [a!.join(), k!]))

let genesis: Genesis
let root: CID
let nonces: Map<string, number>
const everyone = [client, provider, blsProvider, stranger, producer, REWARD_ACTOR_ADDRESS, BURNT_FUNDS_ADDRESS, STORAGE_MARKET_ADDRESS, INIT_ACTOR_ADDRESS]

beforeEach(() => {
  genesis = createGenesis(
    { beacon: TEST_BEACON, network: 'paych-test', producer, producerKey: blsPublicKey(new Uint8Array(32).fill(9)), blockDelaySecs: 1, paych: { settleDelay: SETTLE_DELAY } },
    1_800_000_000,
    [{ address: client, balance: 1000n * FIL }, { address: provider, balance: 10n * FIL }, { address: stranger, balance: 10n * FIL }, { address: idAddressBytes(1234), balance: 0n }],
    [{ id: 1001, info: { owner: provider, worker: blsProvider, peerId: new Uint8Array([1]) } }]
  )
  root = genesis.header.header.parentStateRoot
  nonces = new Map()
})

const store = (): Genesis['store'] & object => genesis.store!
const ctxAt = (epoch: Epoch) => executionContext(store(), genesis.state, { ...genesis.header.header, height: epoch }, () => undefined)
const balance = (a: Uint8Array, r = root): bigint => getActor(store(), r, a)?.balance ?? 0n
const channelsOf = (r: CID): Uint8Array[] => [1235, 1236, 1237].map(id => idAddressBytes(id)).filter(a => getActor(store(), r, a) !== null)
const totalFil = (r = root): bigint => [...everyone, ...channelsOf(r)].reduce((s, a) => s + balance(a, r), 0n)

function message (from: Uint8Array, to: Uint8Array, method: number, params: Uint8Array, value: bigint): Message {
  const nonce = nonces.get(from.join()) ?? 0
  nonces.set(from.join(), nonce + 1)
  return { version: 0, to, from, nonce, value, gasLimit: 10_000_000, gasFeeCap: 300n, gasPremium: 100n, method, params }
}

/** Applies one message at `epoch`; FIL is conserved whatever it does. */
function call (epoch: Epoch, from: Uint8Array, to: Uint8Array, method: number, params: Uint8Array = new Uint8Array(0), value = 0n): { exitCode: number, return: Uint8Array } {
  const before = totalFil()
  const out = applyMessage(ctxAt(epoch), root, message(from, to, method, params, value))
  root = out.root
  expect(totalFil()).toBe(before)
  return out.receipt
}

/** Creates a channel client → `to` holding `funds`, from a signed message in a block; returns its f0 and f2. */
function createChannel (funds: bigint, to = provider): { id: Uint8Array, robust: Uint8Array } {
  const m = message(client, INIT_ACTOR_ADDRESS, InitMethod.Exec, createChannelMessageParams(client, to), funds)
  const out = applyBlockMessages(ctxAt(1), root, { bls: [], secp: [signMessage(clientKey, m)] }, null)
  root = out.root
  const r = decodeReceipt(amtValues(store(), out.receiptsRoot, 'v0')[0])
  expect(r.exitCode).toBe(ExitCode.Ok)
  const ret = decodeExecReturn(r.return)
  return { id: ret.idAddress, robust: ret.robustAddress }
}

const voucher = (channel: Uint8Array, over: Partial<SignedVoucher> = {}): SignedVoucher => ({
  channelAddr: channel, timeLockMin: 0, timeLockMax: 0, secretHash: new Uint8Array(0), extra: null, lane: 0, nonce: 1, amount: 1n * FIL,
  minSettleHeight: 0, merges: [], signature: null, ...over
})
const signed = (v: SignedVoucher, by = client): SignedVoucher => signVoucher(keys.get(by.join())!, by, v)
/** The provider redeems `v` (signed by the client unless given signed) at `epoch`. */
const redeem = (epoch: Epoch, channel: Uint8Array, v: SignedVoucher, secret?: Uint8Array, by = provider): number =>
  call(epoch, by, channel, PaychMethod.UpdateChannelState, updateChannelStateParams(v.signature === null ? signed(v) : v, secret)).exitCode
const state = (channel: Uint8Array): ChannelRecord => readChannel(store(), root, channel)!

describe('init actor Exec', () => {
  it('creates a channel at the next ID after every genesis ID, funded by the message value, mapped from its f2', () => {
    const initBefore = readInitState(store(), getActor(store(), root, INIT_ACTOR_ADDRESS)!.head)
    expect(initBefore.nextId).toBe(1235) // genesis placed f01000, f01001 and f01234
    expect(initBefore.networkName).toBe('paych-test')
    const { id, robust } = createChannel(5n * FIL)
    expect(id).toEqual(idAddressBytes(1235))
    expect(robust).toEqual(newActorAddress(client, 0, 0)) // the message's origin and nonce, first actor it creates
    expect(resolveAddress(store(), root, robust)).toEqual(id)
    const actor = getActor(store(), root, id)!
    expect(actor.code.equals(PAYCH_ACTOR_CODE)).toBe(true)
    expect(actor.balance).toBe(5n * FIL)
    expect(balance(INIT_ACTOR_ADDRESS)).toBe(0n)
    const ch = state(robust)
    expect(ch.state).toMatchObject({ from: client, to: provider, toSend: 0n, settlingAt: 0, minSettleHeight: 0 })
    expect(ch.lanes).toEqual([])
    const second = createChannel(1n, blsProvider)
    expect(second.id).toEqual(idAddressBytes(1236))
    expect(second.robust).toEqual(newActorAddress(client, 1, 0))
    expect(readChannel(store(), root, second.id)!.state.to).toEqual(blsProvider)
  })

  it('funds arrive by a plain send to the channel\'s f0 or f2', () => {
    const { id, robust } = createChannel(1n * FIL)
    expect(call(2, client, id, 0, new Uint8Array(0), 2n * FIL).exitCode).toBe(ExitCode.Ok)
    expect(call(2, client, robust, 0, new Uint8Array(0), 3n * FIL).exitCode).toBe(ExitCode.Ok)
    expect(balance(id)).toBe(6n * FIL)
    expect(getActor(store(), root, robust)).toBeNull() // the state tree holds it at its f0 only
  })

  it('creates nothing but channels (ErrForbidden), refuses bad params (ErrSerialization, ErrIllegalArgument)', () => {
    const execOf = (code: CID): Uint8Array => encodeExecParams({ code, constructorParams: encodePaychConstructorParams(client, provider) })
    expect(call(1, client, INIT_ACTOR_ADDRESS, InitMethod.Exec, execOf(MARKET_ACTOR_CODE), 1n).exitCode).toBe(ActorExit.ErrForbidden)
    expect(call(1, client, INIT_ACTOR_ADDRESS, InitMethod.Exec, dagCbor.encode([1, 2])).exitCode).toBe(ActorExit.ErrSerialization)
    const notKey = encodeExecParams({ code: PAYCH_ACTOR_CODE, constructorParams: encodePaychConstructorParams(client, idAddressBytes(1001)) })
    expect(call(1, client, INIT_ACTOR_ADDRESS, InitMethod.Exec, notKey, 1n).exitCode).toBe(ActorExit.ErrIllegalArgument)
    const badCtor = encodeExecParams({ code: PAYCH_ACTOR_CODE, constructorParams: dagCbor.encode([client]) })
    expect(call(1, client, INIT_ACTOR_ADDRESS, InitMethod.Exec, badCtor, 1n).exitCode).toBe(ActorExit.ErrSerialization)
    expect(call(1, client, INIT_ACTOR_ADDRESS, 3, new Uint8Array(0)).exitCode).toBe(ExitCode.ErrUnhandledMessage)
    // nothing was created and no ID was spent by the refused calls
    expect(readInitState(store(), getActor(store(), root, INIT_ACTOR_ADDRESS)!.head).nextId).toBe(1235)
    expect(balance(client)).toBeGreaterThan(999n * FIL)
  })

  it('a channel\'s constructor runs only from the init actor', () => {
    const { id } = createChannel(1n * FIL)
    expect(call(2, client, id, PaychMethod.Constructor, encodePaychConstructorParams(client, stranger)).exitCode).toBe(ActorExit.ErrForbidden)
    expect(state(id).state.to).toEqual(provider)
  })

  it('a method call costs TRANSFER_GAS plus its params\' bytes, whatever actor it reaches', () => {
    const params = createChannelMessageParams(client, provider)
    const before = balance(client)
    const m = message(client, INIT_ACTOR_ADDRESS, InitMethod.Exec, params, 1n)
    const out = applyMessage(ctxAt(1), root, m)
    expect(out.receipt.gasUsed).toBe(TRANSFER_GAS + PARAMS_GAS_PER_BYTE * params.length)
    expect(before - balance(client, out.root)).toBe(1n + BigInt(out.receipt.gasUsed) * BASE_FEE + BigInt(m.gasLimit) * m.gasPremium)
  })

  it('unknown methods of a channel are ErrUnhandledMessage; an older genesis settles after the default delay', () => {
    const { id } = createChannel(1n * FIL)
    expect(call(2, provider, id, 5).exitCode).toBe(ExitCode.ErrUnhandledMessage)
    expect(executionContext(store(), { ...genesis.state, paych: undefined }, genesis.header.header, () => undefined).paych).toEqual(DEFAULT_PAYCH_PARAMS)
  })
})

describe('UpdateChannelState: builtin-actors\' checks in order', () => {
  let ch: { id: Uint8Array, robust: Uint8Array }
  beforeEach(() => { ch = createChannel(10n * FIL) })

  it('redeems a cumulative amount per lane, with a strictly increasing nonce', () => {
    expect(redeem(2, ch.id, voucher(ch.id, { amount: 1n * FIL, nonce: 1 }))).toBe(ExitCode.Ok)
    expect(redeem(2, ch.id, voucher(ch.robust, { amount: 3n * FIL, nonce: 2 }))).toBe(ExitCode.Ok) // by its f2 too
    expect(redeem(2, ch.id, voucher(ch.id, { lane: 7, amount: 2n * FIL, nonce: 1 }))).toBe(ExitCode.Ok)
    expect(state(ch.id).state.toSend).toBe(5n * FIL)
    expect(state(ch.id).lanes).toEqual([{ lane: 0, redeemed: 3n * FIL, nonce: 2 }, { lane: 7, redeemed: 2n * FIL, nonce: 1 }])
    // the same nonce again, a lower one, or a nonce at all on a lane that holds a higher one
    expect(redeem(3, ch.id, voucher(ch.id, { amount: 4n * FIL, nonce: 2 }))).toBe(ActorExit.ErrIllegalArgument)
    expect(redeem(3, ch.id, voucher(ch.id, { amount: 4n * FIL, nonce: 1 }))).toBe(ActorExit.ErrIllegalArgument)
    // From may redeem too, with a voucher signed by To
    expect(redeem(3, ch.id, signed(voucher(ch.id, { amount: 4n * FIL, nonce: 3 }), provider), undefined, client)).toBe(ExitCode.Ok)
    expect(state(ch.id).state.toSend).toBe(6n * FIL)
  })

  it('caller must be From or To (ErrForbidden)', () => {
    expect(redeem(2, ch.id, voucher(ch.id), undefined, stranger)).toBe(ActorExit.ErrForbidden)
  })

  it('voucher must be signed, by the other party (ErrIllegalArgument)', () => {
    const params = dagCbor.encode([signedVoucherTuple(voucher(ch.id)), new Uint8Array(0)]) // Signature = null
    expect(call(2, provider, ch.id, PaychMethod.UpdateChannelState, params).exitCode).toBe(ActorExit.ErrIllegalArgument)
    expect(redeem(2, ch.id, signed(voucher(ch.id), stranger))).toBe(ActorExit.ErrIllegalArgument)
    expect(redeem(2, ch.id, signed(voucher(ch.id), provider))).toBe(ActorExit.ErrIllegalArgument) // To signing for itself
    expect(redeem(2, ch.id, signed(voucher(ch.id), client), undefined, client)).toBe(ActorExit.ErrIllegalArgument)
    expect(state(ch.id).state.toSend).toBe(0n)
  })

  it('no update at or after SettlingAt (32)', () => {
    expect(call(2, client, ch.id, PaychMethod.Settle).exitCode).toBe(ExitCode.Ok)
    expect(redeem(2 + SETTLE_DELAY - 1, ch.id, voucher(ch.id))).toBe(ExitCode.Ok) // still before SettlingAt
    expect(redeem(2 + SETTLE_DELAY, ch.id, voucher(ch.id, { nonce: 2, amount: 2n * FIL }))).toBe(ERR_CHANNEL_STATE_UPDATE_AFTER_SETTLED)
  })

  it('secret at most 256 bytes, and it must hash (blake2b-256) to SecretHash', () => {
    const secret = new TextEncoder().encode('open sesame')
    const withHash = voucher(ch.id, { secretHash: blake2b(secret, { dkLen: 32 }) })
    expect(redeem(2, ch.id, withHash, new Uint8Array(257))).toBe(ActorExit.ErrIllegalArgument)
    expect(redeem(2, ch.id, withHash, new TextEncoder().encode('open sesame!'))).toBe(ActorExit.ErrIllegalArgument)
    expect(redeem(2, ch.id, withHash)).toBe(ActorExit.ErrIllegalArgument)
    expect(redeem(2, ch.id, withHash, secret)).toBe(ExitCode.Ok)
  })

  it('ChannelAddr must be this channel', () => {
    const other = createChannel(10n * FIL)
    expect(redeem(2, ch.id, voucher(other.id))).toBe(ActorExit.ErrIllegalArgument)
    expect(redeem(2, ch.id, voucher(other.robust))).toBe(ActorExit.ErrIllegalArgument)
    expect(redeem(2, ch.id, voucher(newActorAddress(stranger, 0, 0)))).toBe(ActorExit.ErrIllegalArgument) // an f2 nobody has
  })

  it('TimeLockMin and TimeLockMax (0 = none) bound the epoch it redeems at', () => {
    expect(redeem(4, ch.id, voucher(ch.id, { timeLockMin: 5 }))).toBe(ActorExit.ErrIllegalArgument)
    expect(redeem(6, ch.id, voucher(ch.id, { timeLockMax: 5 }))).toBe(ActorExit.ErrIllegalArgument)
    expect(redeem(5, ch.id, voucher(ch.id, { timeLockMin: 5, timeLockMax: 5 }))).toBe(ExitCode.Ok)
  })

  it('a negative amount is refused', () => {
    expect(redeem(2, ch.id, voucher(ch.id, { amount: -1n }))).toBe(ActorExit.ErrIllegalArgument)
  })

  it('Extra is refused (Coffer has no actor to verify it)', () => {
    expect(redeem(2, ch.id, voucher(ch.id, { extra: { actor: STORAGE_MARKET_ADDRESS, method: 2, data: new Uint8Array(0) } }))).toBe(ActorExit.ErrIllegalArgument)
  })

  it('a lane beyond what Coffer indexes is ErrIllegalArgument; malformed params ErrSerialization; none ErrIllegalArgument', () => {
    const tuple = signedVoucherTuple(signed(voucher(ch.id)))
    tuple[5] = 2n ** 62n
    expect(call(2, provider, ch.id, PaychMethod.UpdateChannelState, dagCbor.encode([tuple, new Uint8Array(0)])).exitCode).toBe(ActorExit.ErrIllegalArgument)
    expect(call(2, provider, ch.id, PaychMethod.UpdateChannelState, dagCbor.encode([1])).exitCode).toBe(ActorExit.ErrSerialization)
    expect(call(2, provider, ch.id, PaychMethod.UpdateChannelState, new Uint8Array([0xff])).exitCode).toBe(ActorExit.ErrSerialization)
    expect(call(2, provider, ch.id, PaychMethod.UpdateChannelState).exitCode).toBe(ActorExit.ErrIllegalArgument)
  })

  it('merges: not into its own lane, only existing lanes, each at a higher nonce; merged amounts count once', () => {
    expect(redeem(2, ch.id, voucher(ch.id, { lane: 1, amount: 2n * FIL }))).toBe(ExitCode.Ok)
    expect(redeem(2, ch.id, voucher(ch.id, { lane: 2, amount: 3n * FIL }))).toBe(ExitCode.Ok)
    expect(redeem(3, ch.id, voucher(ch.id, { lane: 0, amount: 6n * FIL, merges: [{ lane: 0, nonce: 5 }] }))).toBe(ActorExit.ErrIllegalArgument)
    expect(redeem(3, ch.id, voucher(ch.id, { lane: 0, amount: 6n * FIL, merges: [{ lane: 9, nonce: 5 }] }))).toBe(ActorExit.ErrIllegalArgument)
    expect(redeem(3, ch.id, voucher(ch.id, { lane: 0, amount: 6n * FIL, merges: [{ lane: 1, nonce: 1 }] }))).toBe(ActorExit.ErrIllegalArgument)
    // lane 0 takes 6 FIL including lanes 1 and 2's 5 FIL: ToSend grows by 1 FIL, not 6
    expect(redeem(3, ch.id, voucher(ch.id, { lane: 0, amount: 6n * FIL, merges: [{ lane: 1, nonce: 2 }, { lane: 2, nonce: 4 }] }))).toBe(ExitCode.Ok)
    expect(state(ch.id).state.toSend).toBe(6n * FIL)
    expect(state(ch.id).lanes).toEqual([
      { lane: 0, redeemed: 6n * FIL, nonce: 1 }, { lane: 1, redeemed: 2n * FIL, nonce: 2 }, { lane: 2, redeemed: 3n * FIL, nonce: 4 }
    ])
  })

  it('ToSend never above the channel\'s balance, never negative', () => {
    expect(redeem(2, ch.id, voucher(ch.id, { amount: 10n * FIL + 1n }))).toBe(ActorExit.ErrIllegalArgument)
    expect(redeem(2, ch.id, voucher(ch.id, { amount: 10n * FIL }))).toBe(ExitCode.Ok)
    expect(redeem(2, ch.id, voucher(ch.id, { lane: 1, amount: 1n }))).toBe(ActorExit.ErrIllegalArgument)
    expect(call(2, client, ch.id, 0, new Uint8Array(0), 1n).exitCode).toBe(ExitCode.Ok)
    expect(redeem(2, ch.id, voucher(ch.id, { lane: 1, amount: 1n }))).toBe(ExitCode.Ok)
    // a lower cumulative amount on a lane takes back what it redeemed (builtin-actors allows it while ToSend
    // stays ≥ 0); lanes merged twice count twice against ToSend, which must then refuse to go negative
    const fresh = createChannel(10n * FIL)
    expect(redeem(2, fresh.id, voucher(fresh.id, { lane: 1, amount: 2n * FIL, nonce: 1 }))).toBe(ExitCode.Ok)
    expect(redeem(2, fresh.id, voucher(fresh.id, { lane: 1, amount: 1n * FIL, nonce: 2 }))).toBe(ExitCode.Ok)
    expect(state(fresh.id).state.toSend).toBe(1n * FIL)
    expect(redeem(2, fresh.id, voucher(fresh.id, { lane: 0, amount: 1n * FIL, nonce: 1, merges: [{ lane: 1, nonce: 3 }] }))).toBe(ExitCode.Ok)
    expect(state(fresh.id).state.toSend).toBe(1n * FIL)
    expect(redeem(2, fresh.id, voucher(fresh.id, { lane: 2, amount: 0n, nonce: 1, merges: [{ lane: 0, nonce: 2 }, { lane: 1, nonce: 4 }] }))).toBe(ActorExit.ErrIllegalArgument)
    expect(redeem(2, fresh.id, voucher(fresh.id, { lane: 2, amount: 1n * FIL, nonce: 1, merges: [{ lane: 0, nonce: 2 }, { lane: 1, nonce: 4 }] }))).toBe(ExitCode.Ok)
    expect(state(fresh.id).state.toSend).toBe(0n)
  })

  it('MinSettleHeight raises the channel\'s MinSettleHeight, and SettlingAt once settling', () => {
    expect(redeem(2, ch.id, voucher(ch.id, { minSettleHeight: 50 }))).toBe(ExitCode.Ok)
    expect(state(ch.id).state.minSettleHeight).toBe(50)
    expect(call(3, client, ch.id, PaychMethod.Settle).exitCode).toBe(ExitCode.Ok)
    expect(state(ch.id).state.settlingAt).toBe(50) // not 3 + SETTLE_DELAY
    expect(redeem(4, ch.id, voucher(ch.id, { nonce: 2, minSettleHeight: 70 }))).toBe(ExitCode.Ok)
    expect(state(ch.id).state).toMatchObject({ settlingAt: 70, minSettleHeight: 70 })
    expect(redeem(5, ch.id, voucher(ch.id, { nonce: 3, minSettleHeight: 60 }))).toBe(ExitCode.Ok)
    expect(state(ch.id).state).toMatchObject({ settlingAt: 70, minSettleHeight: 70 })
  })
})

describe('Settle and Collect', () => {
  let ch: { id: Uint8Array, robust: Uint8Array }
  beforeEach(() => { ch = createChannel(10n * FIL) })

  it('Settle: From or To only, once, SettlingAt = epoch + the genesis settle delay; no params', () => {
    expect(call(3, stranger, ch.id, PaychMethod.Settle).exitCode).toBe(ActorExit.ErrForbidden)
    expect(call(3, provider, ch.id, PaychMethod.Settle, dagCbor.encode(1)).exitCode).toBe(ActorExit.ErrIllegalArgument)
    expect(call(3, provider, ch.id, PaychMethod.Settle).exitCode).toBe(ExitCode.Ok)
    expect(state(ch.id).state.settlingAt).toBe(3 + SETTLE_DELAY)
    expect(call(4, client, ch.id, PaychMethod.Settle).exitCode).toBe(ActorExit.ErrIllegalState)
  })

  it('Collect only at or after SettlingAt, by From or To: To gets ToSend, From the rest, the actor is gone', () => {
    expect(redeem(2, ch.id, voucher(ch.id, { amount: 3n * FIL }))).toBe(ExitCode.Ok)
    expect(redeem(2, ch.id, voucher(ch.id, { lane: 4, amount: 1n * FIL + 7n }))).toBe(ExitCode.Ok)
    expect(call(3, client, ch.id, PaychMethod.Collect).exitCode).toBe(ActorExit.ErrForbidden) // not settling
    expect(call(3, client, ch.id, PaychMethod.Settle).exitCode).toBe(ExitCode.Ok)
    expect(call(3 + SETTLE_DELAY - 1, client, ch.id, PaychMethod.Collect).exitCode).toBe(ActorExit.ErrForbidden) // too early
    expect(call(3 + SETTLE_DELAY, stranger, ch.id, PaychMethod.Collect).exitCode).toBe(ActorExit.ErrForbidden)
    expect(call(3 + SETTLE_DELAY, client, ch.id, PaychMethod.Collect, dagCbor.encode(1)).exitCode).toBe(ActorExit.ErrIllegalArgument)
    const [c, p] = [balance(client), balance(provider)]
    const m = message(provider, ch.id, PaychMethod.Collect, new Uint8Array(0), 0n)
    const out = applyMessage(ctxAt(3 + SETTLE_DELAY), root, m)
    expect(out.receipt.exitCode).toBe(ExitCode.Ok)
    const gas = BigInt(out.receipt.gasUsed) * BASE_FEE + BigInt(m.gasLimit) * m.gasPremium
    root = out.root
    expect(balance(provider) - p).toBe(4n * FIL + 7n - gas)
    expect(balance(client) - c).toBe(6n * FIL - 7n)
    expect(getActor(store(), root, ch.id)).toBeNull()
    expect(readChannel(store(), root, ch.robust)).toBeNull()
    // the f2 stays mapped to the deleted ID: a later send finds no actor there
    expect(call(3 + SETTLE_DELAY, client, ch.robust, 0, new Uint8Array(0), 1n).exitCode).toBe(ExitCode.SysErrInvalidReceiver)
    expect(call(3 + SETTLE_DELAY, client, ch.id, PaychMethod.Collect).exitCode).toBe(ExitCode.ErrUnhandledMessage)
  })
})

describe('what a redeem costs (the provider\'s threshold)', () => {
  it('a redeem signed as the provider\'s worker signs it never costs more than redeemGasCost; only more than twice that is worth sending', () => {
    const ch = createChannel(10n * FIL)
    for (const [lane, nonce, amount] of [[0, 1, 1n], [7, 3, 5n * FIL], [2 ** 40, 2 ** 40, 10n * FIL - 5n * FIL - 1n]] as const) {
      const sv = signed(voucher(ch.robust, { lane, nonce, amount }))
      const m0 = message(provider, ch.robust, PaychMethod.UpdateChannelState, updateChannelStateParams(sv), 0n)
      const m = { ...m0, gasFeeCap: TRANSFER_GAS_FEE_CAP, gasPremium: TRANSFER_GAS_PREMIUM }
      const signedMsg = { ...m, gasLimit: gasLimitFor(m) }
      expect(redeemGasCost(sv)).toBe(BigInt(signedMsg.gasLimit) * TRANSFER_GAS_FEE_CAP)
      const before = balance(provider)
      const out = applyMessage(ctxAt(2), root, signedMsg)
      expect(out.receipt.exitCode).toBe(ExitCode.Ok)
      root = out.root
      // what the chain took from the worker: burnt gas and the premium, within the bound the threshold uses
      const charged = before - balance(provider)
      expect(charged).toBeGreaterThan(0n)
      expect(charged).toBeLessThanOrEqual(redeemGasCost(sv))
    }
    const sv = signed(voucher(ch.robust, { lane: 9, amount: 1n }))
    const limit = REDEEM_GAS_MULTIPLE * redeemGasCost(sv)
    expect(REDEEM_GAS_MULTIPLE).toBeGreaterThanOrEqual(1n)
    expect(worthRedeeming(limit, sv)).toBe(false)
    expect(worthRedeeming(limit + 1n, sv)).toBe(true)
    expect(worthRedeeming(1n, sv)).toBe(false)
  })
})
