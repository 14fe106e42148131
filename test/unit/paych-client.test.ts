// PaychClient over one record store shared by two clients of the same key (two tabs of one origin), ordered only by
// a cross-process lock: they must take different lanes, create one channel between them, and keep each other's vouchers.
import { describe, it, expect } from 'vitest'
import * as dagCbor from '@ipld/dag-cbor'
import {
  secpPublicKey, secpAddressBytes, idAddressBytes, newActorAddress, addressToString, bytesEqual, decodeSignedVoucher, signVoucher, chainCid,
  INIT_ACTOR_ADDRESS, METHOD_SEND, ExitCode,
  type AttoFil, type ChannelRecord
} from '../../src/core'
import { PaychClient, memoryPaychStore, ChannelClosedError, channelReadPerState, type PaychChain, type PaychStore, type CrossProcessLock } from '../../src/light/paych-client'

const clientKey = new Uint8Array(32).fill(41)
const client = secpAddressBytes(secpPublicKey(clientKey))
const provider = secpAddressBytes(secpPublicKey(new Uint8Array(32).fill(42)))

/** A turn of the event loop: everything already queued (the other client's awaits) runs before the caller goes on. */
const yieldTurn = async (): Promise<void> => { await new Promise<void>(resolve => setImmediate(resolve)) }

/**
 * A chain that executes each message as it is sent, yielding a turn at every read and send (as a real chain's round
 * trips do), so two clients' calls interleave whenever nothing orders them.
 */
function fakeChain (): PaychChain & { creates: number, channels: Map<string, ChannelRecord> } {
  const channels = new Map<string, ChannelRecord>()
  const receipts = new Map<string, { exitCode: number, return: Uint8Array }>()
  let messages = 0
  const chain = {
    creates: 0,
    channels,
    channel: async (a: Uint8Array) => {
      await yieldTurn()
      const c = channels.get(addressToString(a))
      return c === undefined ? null : structuredClone(c)
    },
    send: async (m: { to: Uint8Array, method: number, params: Uint8Array, value: AttoFil }, onSent?: (cid: string) => void) => {
      const cid = `bafy-fake-message-${messages++}`
      onSent?.(cid)
      await yieldTurn()
      let r: { exitCode: number, return: Uint8Array } = { exitCode: ExitCode.Ok, return: new Uint8Array(0) }
      if (bytesEqual(m.to, INIT_ACTOR_ADDRESS)) {
        chain.creates++
        const id = idAddressBytes(1000 + chain.creates)
        const robust = newActorAddress(client, messages, 0)
        const record: ChannelRecord = {
          id,
          balance: m.value,
          state: { from: client, to: provider, toSend: 0n, settlingAt: 0, minSettleHeight: 0, laneStates: chainCid(dagCbor.encode([])) },
          lanes: []
        }
        channels.set(addressToString(id), record)
        channels.set(addressToString(robust), record)
        r = { exitCode: ExitCode.Ok, return: dagCbor.encode([id, robust]) }
      } else if (m.method === METHOD_SEND) {
        const c = channels.get(addressToString(m.to))
        if (c === undefined) r = { exitCode: ExitCode.SysErrInvalidReceiver, return: new Uint8Array(0) }
        else c.balance += m.value
      }
      receipts.set(cid, r)
      return { cid, ...r }
    },
    waitFor: async (cid: string) => {
      await yieldTurn()
      const r = receipts.get(cid)
      if (r === undefined) throw new Error(`no message ${cid}`)
      return r
    },
    headEpoch: () => 10
  }
  return chain
}

/** An in-memory exclusive lock per name, standing in for Web Locks shared by the tabs of an origin. */
function memoryLocks (): CrossProcessLock & { names: string[] } {
  const tails = new Map<string, Promise<void>>()
  const names: string[] = []
  const lock = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    names.push(name)
    const before = tails.get(name) ?? Promise.resolve()
    let release!: () => void
    const mine = new Promise<void>(resolve => { release = resolve })
    tails.set(name, before.then(async () => await mine))
    await before
    try { return await fn() } finally { release() }
  }
  return Object.assign(lock, { names })
}

const tab = (chain: PaychChain, store: PaychStore, lock?: CrossProcessLock): PaychClient => new PaychClient({
  chain,
  store,
  signer: { address: client, sign: async (v) => { await yieldTurn(); return signVoucher(clientKey, client, v) } },
  lock
})

describe('PaychClient: two tabs over one store', () => {
  it('two tabs preparing at once with no channel yet create one channel and take different lanes', async () => {
    const chain = fakeChain()
    const store = memoryPaychStore()
    const lock = memoryLocks()
    const [a, b] = [tab(chain, store, lock), tab(chain, store, lock)]
    const [la, lb] = await Promise.all([a.prepare(provider, 100n), b.prepare(provider, 100n)])

    expect(chain.creates).toBe(1)
    expect(store.records.size).toBe(1)
    expect(la.channel).toBe(lb.channel)
    expect(new Set([la.lane, lb.lane])).toEqual(new Set([0, 1]))
    const [rec] = [...store.records.values()]
    expect(Object.keys(rec!.lanes).sort()).toEqual(['0', '1'])
    expect(rec!.nextLane).toBe(2)
    // keyed by the create message, not by a count two writers could both take
    expect(rec!.key).toBe(`${addressToString(client)}:${addressToString(provider)}:${rec!.createMessage}`)
    expect(lock.names.every(n => n === `coffer-paych-${addressToString(client)}-${addressToString(provider)}`)).toBe(true)
  })

  it('two tabs on one open channel take different lanes', async () => {
    const chain = fakeChain()
    const store = memoryPaychStore()
    const lock = memoryLocks()
    const [a, b] = [tab(chain, store, lock), tab(chain, store, lock)]
    const first = await a.prepare(provider, 1000n)

    const [la, lb] = await Promise.all([a.prepare(provider, 100n), b.prepare(provider, 100n)])
    expect(new Set([first.lane, la.lane, lb.lane]).size).toBe(3)
    expect(chain.creates).toBe(1)
    expect(Object.keys([...store.records.values()][0]!.lanes)).toHaveLength(3)
  })

  it('two tabs signing at once on their own lanes keep both vouchers recorded, each at its own nonce', async () => {
    const chain = fakeChain()
    const store = memoryPaychStore()
    const lock = memoryLocks()
    const [a, b] = [tab(chain, store, lock), tab(chain, store, lock)]
    // lanes taken one after the other: only the vouchers race here
    const la = await a.prepare(provider, 1000n)
    const lb = await b.prepare(provider, 100n)

    const [va, vb] = await Promise.all([a.voucher(la.channel, la.lane, 30n), b.voucher(lb.channel, lb.lane, 40n)])
    const [vb2] = await Promise.all([b.voucher(lb.channel, lb.lane, 70n), a.lanePaid(la.channel, la.lane)])

    expect(decodeSignedVoucher(va.bytes)).toMatchObject({ lane: la.lane, nonce: 1, amount: 30n })
    expect(decodeSignedVoucher(vb.bytes)).toMatchObject({ lane: lb.lane, nonce: 1, amount: 40n })
    expect(decodeSignedVoucher(vb2.bytes)).toMatchObject({ lane: lb.lane, nonce: 2, amount: 70n })
    // write-ahead: every voucher that left is the lane's recorded best, whichever tab signed it
    const [rec] = [...store.records.values()]
    expect(rec!.lanes[String(la.lane)]).toMatchObject({ nonce: 1, amount: '30', vouchers: 1 })
    expect(rec!.lanes[String(lb.lane)]).toMatchObject({ nonce: 2, amount: '70', vouchers: 2 })
    expect(await a.lanePaid(la.channel, la.lane)).toBe(30n)
  })

  // the control: the fake chain really interleaves two unlocked clients, so the cases above pass because of the lock
  it('without the lock, two tabs collide (why the tab passes one)', async () => {
    const chain = fakeChain()
    const store = memoryPaychStore()
    const [a, b] = [tab(chain, store), tab(chain, store)]
    await Promise.all([a.prepare(provider, 100n), b.prepare(provider, 100n)])
    expect(chain.creates).toBe(2)
  })
})

describe('PaychClient: a voucher under a caller\'s signal (a pause)', () => {
  it('an abort during its top-up\'s chain wait rejects at once and signs nothing; the top-up is still recorded', async () => {
    const chain = fakeChain()
    let release!: () => void
    const held = new Promise<void>(resolve => { release = resolve })
    const waitFor = chain.waitFor
    let holding = false
    chain.waitFor = async (cid) => { if (holding) await held; return await waitFor(cid) }
    const store = memoryPaychStore()
    const a = tab(chain, store)
    const l = await a.prepare(provider, 100n)
    holding = true
    const c = new AbortController()
    // 500 is past the channel's 100: a top-up first, whose wait for a block is held
    const v = a.voucher(l.channel, l.lane, 500n, c.signal)
    while ([...store.records.values()][0]!.pendingFunds === null) await yieldTurn()
    c.abort(new Error('paused'))
    await expect(v).rejects.toThrow('paused')
    release()
    // the top-up lands and is counted; the lane holds no voucher
    while ([...store.records.values()][0]!.pendingFunds !== null) await yieldTurn()
    const [rec] = [...store.records.values()]
    expect(BigInt(rec!.deposited)).toBeGreaterThanOrEqual(500n)
    expect(rec!.lanes[String(l.lane)]).toMatchObject({ nonce: 0, amount: '0', vouchers: 0 })
    // a rerun signs over the funds now there, without another top-up
    const send = chain.send
    let sent = 0
    chain.send = async (m, onSent) => { sent++; return await send(m, onSent) }
    expect((await a.voucher(l.channel, l.lane, 500n)).amount).toBe(500n)
    expect(sent).toBe(0)
  })

  it('an abort while it signs waits for the voucher: the caller learns of every voucher recorded', async () => {
    const chain = fakeChain()
    const store = memoryPaychStore()
    const c = new AbortController()
    const a = new PaychClient({
      chain,
      store,
      // the pause lands while the signer works
      signer: { address: client, sign: async (v) => { c.abort(new Error('paused')); await yieldTurn(); return signVoucher(clientKey, client, v) } }
    })
    const l = await a.prepare(provider, 1000n)
    const v = await a.voucher(l.channel, l.lane, 300n, c.signal)
    expect(v.amount).toBe(300n)
    expect([...store.records.values()][0]!.lanes[String(l.lane)]).toMatchObject({ nonce: 1, amount: '300', vouchers: 1 })
    // aborted already: nothing more is signed
    await expect(a.voucher(l.channel, l.lane, 600n, c.signal)).rejects.toThrow('paused')
    expect([...store.records.values()][0]!.lanes[String(l.lane)]).toMatchObject({ nonce: 1, amount: '300' })
  })
})

describe('PaychClient: downloads from two providers at once', () => {
  it('a voucher to one provider does not wait behind another provider\'s channel message (which waits for a block)', async () => {
    const chain = fakeChain()
    const store = memoryPaychStore()
    const lock = memoryLocks()
    const c = tab(chain, store, lock)
    const first = await c.prepare(provider, 1000n)
    // the second provider's channel create is sent and not executed until released (a block that is slow to come)
    const other = secpAddressBytes(secpPublicKey(new Uint8Array(32).fill(43)))
    let release!: () => void
    const slowBlock = new Promise<void>(resolve => { release = resolve })
    const send = chain.send
    chain.send = async (m, onSent) => { if (bytesEqual(m.to, INIT_ACTOR_ADDRESS)) await slowBlock; return await send(m, onSent) }
    const opening = c.prepare(other, 1000n)
    await yieldTurn()
    const v = await c.voucher(first.channel, first.lane, 10n)
    expect(decodeSignedVoucher(v.bytes)).toMatchObject({ lane: first.lane, nonce: 1, amount: 10n })
    release()
    await opening
    expect(chain.creates).toBe(2)
    // each provider's channel under its own lock name: other tabs still order their changes per provider
    expect(new Set(lock.names)).toEqual(new Set([addressToString(provider), addressToString(other)].map(to => `coffer-paych-${addressToString(client)}-${to}`)))
  })
})

describe('channelReadPerState', () => {
  it('reads each channel once per state: vouchers within one head reuse it, a new head reads again and sees the channel settling', async () => {
    const chain = fakeChain()
    let state = 'head-1'
    let reads = 0
    const counted: PaychChain = { ...chain, channel: channelReadPerState(() => state, async (a) => { reads++; return await chain.channel(a) }) }
    const payer = tab(counted, memoryPaychStore())
    const { channel, lane } = await payer.prepare(provider, 1000n)
    state = 'head-2'
    reads = 0
    for (let i = 1; i <= 5; i++) await payer.voucher(channel, lane, BigInt(i * 100))
    expect(reads).toBe(1)
    state = 'head-3'
    await payer.voucher(channel, lane, 600n)
    expect(reads).toBe(2)
    // the provider settles: a voucher at the head that shows it is refused
    chain.channels.get(channel)!.state.settlingAt = 99
    state = 'head-4'
    await expect(payer.voucher(channel, lane, 700n)).rejects.toThrow(ChannelClosedError)
  })

  it('keeps no failed read, and reads each address apart', async () => {
    let fail = true
    const asked: string[] = []
    const read = channelReadPerState(() => 's', async (a) => {
      asked.push(addressToString(a))
      if (fail) throw new Error('no node answered')
      return null
    })
    await expect(read(provider)).rejects.toThrow('no node answered')
    fail = false
    expect(await read(provider)).toBeNull()
    expect(await read(provider)).toBeNull()
    expect(await read(client)).toBeNull()
    expect(asked).toEqual([provider, provider, client].map(a => addressToString(a)))
  })
})
