// The client's payment channels (in the manner of Lotus's paychmgr): one channel from the client's key to each
// provider's worker, created through the init actor and topped up by plain sends, one lane per download, and
// cumulative vouchers with strictly increasing nonces, each recorded (write-ahead) before anyone sees it.
// Browser-safe: the caller brings the record store (IndexedDB in the tab, a JSON file for the CLI), the chain
// (verified channel reads, send-and-wait) and the voucher signer.
import {
  addressToString, parseAddress, bytesEqual, createChannelMessageParams, decodeExecReturn, encodeSignedVoucher, INIT_ACTOR_ADDRESS,
  InitMethod, PaychMethod, METHOD_SEND, ExitCode,
  type AttoFil, type Epoch, type ChannelRecord, type SignedVoucher
} from '../core'
import { base16 } from 'multiformats/bases/base16'
import { untilAborted } from './until-aborted'

/** What the payment-channel client needs of the chain; the tab implements it over the light client, the CLI over its node's RPC. */
export interface PaychChain {
  /** The channel at `address` (f0 or f2) as of the head; null when there is none (never created, or collected). */
  channel: (address: Uint8Array) => Promise<ChannelRecord | null>
  /** Signs as the client, sends (`onSent` hears the CID at once), and resolves with the executed message's receipt. */
  send: (m: { to: Uint8Array, method: number, params: Uint8Array, value: AttoFil }, onSent?: (cid: string) => void) => Promise<{ cid: string, exitCode: number, return: Uint8Array }>
  /** The receipt of a message sent earlier (a restarted client waits for its own pending create or top-up). */
  waitFor: (cid: string) => Promise<{ exitCode: number, return: Uint8Array }>
  headEpoch: () => Epoch
}

/**
 * A PaychChain's channel read made once per chain state: reads at one state give one answer, and a download checks
 * its channel before each voucher (tens a file, often several within one block; in a tab busy downloading the
 * verified read was most of a voucher's time, while the provider waited for it). `stateNow` names the state a read
 * would see now (the head's CID, or its parent state root); a read asked while the head moves may be newer than its
 * name, never older. Only the latest state's reads are kept, and a failed read is not kept.
 */
export function channelReadPerState (
  stateNow: () => Promise<string> | string,
  read: (address: Uint8Array, state: string) => Promise<ChannelRecord | null>
): (address: Uint8Array) => Promise<ChannelRecord | null> {
  let kept: { state: string, reads: Map<string, Promise<ChannelRecord | null>> } = { state: '', reads: new Map() }
  return async (address) => {
    const state = await stateNow()
    if (kept.state !== state) kept = { state, reads: new Map() }
    const key = base16.baseEncode(address)
    let r = kept.reads.get(key)
    if (r === undefined) {
      const reads = kept.reads
      const asked = r = read(address, state)
      reads.set(key, asked)
      asked.catch(() => { if (reads.get(key) === asked) reads.delete(key) })
    }
    return await r
  }
}

/** Signs a voucher with the channel's From key (the wallet in the tab, a Lotus key file in the CLI). */
export interface VoucherSigner {
  /** The client's key address (f1 or f3): every channel's From. */
  address: Uint8Array
  sign: (v: SignedVoucher) => Promise<SignedVoucher>
}

/** One lane as the client recorded it: its best voucher (the one to resend), written before it was sent. */
export interface StoredLane {
  nonce: number
  /** Cumulative attoFIL (decimal), the voucher's Amount. */
  amount: string
  /** Hex of the encoded SignedVoucher with that nonce and amount. */
  voucher: string
  vouchers: number
}

/**
 * A channel as the client keeps it (JSON-safe: amounts are decimal attoFIL strings). `key` is the store's key;
 * a channel settled or collected stays listed (its figures still show), and a new one to the same provider gets a new key
 * (`from:to:createMessageCid`; records written before that scheme end in a count instead, and keep it).
 */
export interface StoredChannel {
  key: string
  from: string
  to: string
  /** The channel's robust address (t2…), once the create message executed; vouchers and requests name it. */
  channel: string | null
  channelId: string | null
  /** The create message, recorded as soon as it was sent (a restart waits for it rather than create again). */
  createMessage: string | null
  createAmount: string
  /** A top-up sent and not yet seen executed. */
  pendingFunds: { message: string, amount: string } | null
  /** Everything sent to the channel that executed: its balance as far as the client funded it. */
  deposited: string
  nextLane: number
  lanes: Record<string, StoredLane>
  settleMessage: string | null
  collectMessage: string | null
  /** Settle executed: no new lanes or vouchers on this channel. */
  settling: boolean
  collected: boolean
}

/** Where the records live. `put` resolves only once the record is durable: a voucher is returned after that. */
export interface PaychStore {
  list: () => Promise<StoredChannel[]>
  put: (c: StoredChannel) => Promise<void>
}

/** An in-memory store (tests; a caller that persists elsewhere can wrap it). */
export function memoryPaychStore (initial: StoredChannel[] = []): PaychStore & { records: Map<string, StoredChannel> } {
  const records = new Map(initial.map(c => [c.key, structuredClone(c)]))
  return {
    records,
    list: async () => [...records.values()].map(c => structuredClone(c)),
    put: async (c) => { records.set(c.key, structuredClone(c)) }
  }
}

/** A message the channel needed (create, top-up, settle, collect) did not execute successfully. */
export class ChannelMessageFailedError extends Error {
  static override name = 'ChannelMessageFailedError'
  override name = 'ChannelMessageFailedError'
  constructor (readonly action: 'create' | 'add funds' | 'settle' | 'collect', readonly messageCid: string, readonly exitCode: number) {
    super(`payment channel ${action} (message ${messageCid}) failed with exit code ${exitCode}`)
  }
}

/** The channel is settling or gone: it takes no new lanes or vouchers. */
export class ChannelClosedError extends Error {
  static override name = 'ChannelClosedError'
  override name = 'ChannelClosedError'
  constructor (readonly channel: string, readonly state: 'settling' | 'collected') { super(`payment channel ${channel} is ${state}`) }
}

/** A lane the client never allocated on that channel (records lost or from another client). */
export class UnknownLaneError extends Error {
  static override name = 'UnknownLaneError'
  override name = 'UnknownLaneError'
  constructor (readonly channel: string, readonly lane: number) { super(`lane ${lane} of ${channel} is not one this client allocated`) }
}

/** The chain does not show the channel the records name (a lying node, or records from another network). */
export class ChannelNotFoundError extends Error {
  static override name = 'ChannelNotFoundError'
  override name = 'ChannelNotFoundError'
  constructor (readonly channel: string) { super(`payment channel ${channel} is not on chain`) }
}

/** What a retrieval needs of a payer: a funded lane to a provider, and vouchers on it. */
export interface RetrievalPayer {
  /**
   * A lane paying `to` (a provider's worker): `reuse` when it is still usable (a resumed download), else a new lane on
   * this client's open channel to `to` (created if none). The channel is topped up so that `needed` more than every
   * voucher already signed on it can be paid on the lane. `paid` is what the lane already holds.
   */
  prepare: (to: Uint8Array, needed: AttoFil, reuse?: { channel: string, lane: number }) => Promise<{ channel: string, lane: number, paid: AttoFil }>
  /** What the lane's best voucher pays (0 for a new lane). */
  lanePaid: (channel: string, lane: number) => Promise<AttoFil>
  /**
   * A signed voucher paying the lane `amount` in all, recorded before it is returned. An amount not above the lane's best
   * returns that best voucher again (nothing new is signed: a rerun never pays twice). Tops the channel up first when its
   * funds would not cover it. An abort of `signal` while the call is queued or waiting on the chain rejects at once
   * (the top-up goes on and is recorded, and no voucher is signed after it); once signing began, the call finishes.
   */
  voucher: (channel: string, lane: number, amount: AttoFil, signal?: AbortSignal) => Promise<{ bytes: Uint8Array, amount: AttoFil, nonce: number }>
}

export interface LaneView { lane: number, redeemed: AttoFil, nonce: number, sent: AttoFil, sentNonce: number, vouchers: number }

/** One channel's figures for the UI: chain figures from the verified read, `sent`/`vouchers` from the records. */
export interface ChannelView {
  key: string
  channel: string | null
  channelId: string | null
  from: string
  to: string
  /** The channel actor's balance (null: not created yet, or collected). */
  balance: AttoFil | null
  /** Redeemed by the provider so far (paid to it at Collect). */
  toSend: AttoFil | null
  settlingAt: Epoch | null
  /** Funds not promised by any voucher this client signed. */
  available: AttoFil | null
  lanes: LaneView[]
  vouchersSent: number
  pending: string | null
  settling: boolean
  collected: boolean
}

/**
 * Runs `fn` holding the exclusive lock `name` across every process sharing the store (Web Locks in the tab:
 * `navigator.locks.request(name, { mode: 'exclusive' }, fn)`), released when `fn` settles. Never re-entered.
 */
export type CrossProcessLock = <T>(name: string, fn: () => Promise<T>) => Promise<T>

export interface PaychClientInit {
  chain: PaychChain
  store: PaychStore
  signer: VoucherSigner
  /**
   * Needed wherever another process (another tab) may run a PaychClient for the same key over the same records: the
   * in-process queue orders only this instance's calls, and two tabs would otherwise take the same lane, sign the same
   * nonce, or create two channels under one record. Omit it only when this process alone writes the store.
   */
  lock?: CrossProcessLock
  /** 't' (the devnet and tests) or 'f'. */
  network?: 't' | 'f'
}

const hex = (b: Uint8Array): string => base16.baseEncode(b)
const unhex = (s: string): Uint8Array => Uint8Array.from(s.match(/../g) ?? [], h => parseInt(h, 16))
const max = (a: bigint, b: bigint): bigint => a > b ? a : b

export class PaychClient implements RetrievalPayer {
  private readonly chain: PaychChain
  private readonly store: PaychStore
  private readonly signer: VoucherSigner
  private readonly net: 't' | 'f'
  private readonly from: string
  private readonly lock: CrossProcessLock | undefined
  /**
   * The changes to one provider's channel run in turn: two downloads never take the same lane or voucher nonce, nor
   * create two channels. Channels to different providers do not wait on each other: one download's voucher must not
   * wait behind another's channel message, which waits for a block (the reliability load run's final sweep, four
   * downloads at once per client, had vouchers queued behind top-ups for minutes and providers cutting the streams).
   */
  private readonly queues = new Map<string, Promise<unknown>>()
  /** Each channel's To, by its address (payee). */
  private readonly payees = new Map<string, string>()

  constructor (init: PaychClientInit) {
    this.chain = init.chain
    this.store = init.store
    this.signer = init.signer
    this.net = init.network ?? 't'
    this.from = addressToString(init.signer.address, this.net)
    this.lock = init.lock
  }

  /**
   * Runs `fn` after this instance's earlier calls, and inside the cross-process lock for this client's key (one per
   * From address: channels of other keys never wait). Every body re-reads the records it changes once it holds the
   * lock, so it builds on what another tab wrote before it. The queue stays too: it keeps this worker's calls in the
   * order they were made, and keeps them from all waiting on the lock at once.
   */
  private async serial<T>(to: string, body: () => Promise<T>): Promise<T> {
    const lock = this.lock
    const fn = lock === undefined ? body : async () => await lock(`coffer-paych-${this.from}-${to}`, body)
    const run = (this.queues.get(to) ?? Promise.resolve()).then(fn, fn)
    const tail = run.then(() => {}, () => {})
    this.queues.set(to, tail)
    void tail.then(() => { if (this.queues.get(to) === tail) this.queues.delete(to) })
    return await run
  }

  /** The provider a channel pays (whose queue its changes join): a channel's To never changes, so it is looked up once. */
  private async payee (channel: string): Promise<string> {
    let to = this.payees.get(channel)
    if (to === undefined) this.payees.set(channel, to = (await this.find(channel)).to)
    return to
  }

  private async find (channel: string): Promise<StoredChannel> {
    const c = (await this.store.list()).find(x => x.channel === channel || x.channelId === channel)
    if (c === undefined) throw new ChannelNotFoundError(channel)
    return c
  }

  /** The open channel to `to` (not settling), if the records have one. */
  private async open (to: string): Promise<StoredChannel | undefined> {
    return (await this.store.list()).find(c => c.from === this.from && c.to === to && !c.settling && !c.collected)
  }

  /** Finishes a create or top-up a previous run sent and did not see executed. */
  private async settlePending (c: StoredChannel): Promise<StoredChannel> {
    if (c.channel === null && c.createMessage !== null) {
      const r = await this.chain.waitFor(c.createMessage)
      if (r.exitCode !== ExitCode.Ok) {
        const message = c.createMessage
        c.createMessage = null
        await this.store.put(c)
        throw new ChannelMessageFailedError('create', message, r.exitCode)
      }
      const ret = decodeExecReturn(r.return)
      c.channel = addressToString(ret.robustAddress, this.net)
      c.channelId = addressToString(ret.idAddress, this.net)
      c.deposited = c.createAmount
      await this.store.put(c)
    }
    if (c.pendingFunds !== null) {
      const { message, amount } = c.pendingFunds
      const r = await this.chain.waitFor(message)
      c.pendingFunds = null
      if (r.exitCode === ExitCode.Ok) c.deposited = String(BigInt(c.deposited) + BigInt(amount))
      await this.store.put(c)
      if (r.exitCode !== ExitCode.Ok) throw new ChannelMessageFailedError('add funds', message, r.exitCode)
    }
    return c
  }

  /** What every voucher this client signed on the channel promises, lanes the chain shows counted too. */
  private promised (c: StoredChannel, onChain: ChannelRecord | null): AttoFil {
    const lanes = new Map<number, bigint>(Object.entries(c.lanes).map(([l, s]) => [Number(l), BigInt(s.amount)]))
    for (const l of onChain?.lanes ?? []) lanes.set(l.lane, max(lanes.get(l.lane) ?? 0n, l.redeemed))
    let sum = 0n
    for (const v of lanes.values()) sum += v
    return sum
  }

  /** Makes sure `needed` more than the vouchers already promise fits in the channel; creates it when there is none. */
  private async fund (to: string, needed: AttoFil): Promise<StoredChannel> {
    let c = await this.open(to)
    if (c !== undefined) c = await this.settlePending(c)
    if (c === undefined || c.channel === null) {
      // Lotus's paychmgr creates the channel with the amount the first retrieval needs; so does this.
      // A new record is keyed by its create message's CID (known before its first put): unique whoever creates, where
      // a count of the records could be taken twice by two writers. A record whose create failed keeps its key.
      const fresh = c === undefined
      c = c ?? {
        key: '', from: this.from, to, channel: null, channelId: null, createMessage: null, createAmount: '0', pendingFunds: null, deposited: '0',
        nextLane: 0, lanes: {}, settleMessage: null, collectMessage: null, settling: false, collected: false
      }
      const amount = needed > 0n ? needed : 0n
      c.createAmount = String(amount)
      const rec = c
      const sent = (cid: string): void => {
        rec.createMessage = cid
        if (fresh) rec.key = `${this.from}:${to}:${cid}`
      }
      const r = await this.chain.send(
        { to: INIT_ACTOR_ADDRESS, method: InitMethod.Exec, params: createChannelMessageParams(this.signer.address, parseAddress(to).bytes), value: amount },
        // recorded as soon as it is sent: a restart waits for this message instead of creating a second channel
        (cid) => { sent(cid); void this.store.put(rec) }
      )
      sent(r.cid)
      await this.store.put(c)
      return await this.settlePending(c)
    }
    const onChain = await this.chain.channel(parseAddress(c.channel).bytes)
    if (onChain === null) throw new ChannelNotFoundError(c.channel)
    if (onChain.state.settlingAt !== 0) {
      c.settling = true
      await this.store.put(c)
      return await this.fund(to, needed)
    }
    const shortfall = this.promised(c, onChain) + needed - onChain.balance
    if (shortfall <= 0n) return c
    const rec = c
    const r = await this.chain.send(
      { to: parseAddress(c.channel).bytes, method: METHOD_SEND, params: new Uint8Array(0), value: shortfall },
      (cid) => { rec.pendingFunds = { message: cid, amount: String(shortfall) }; void this.store.put(rec) }
    )
    c.pendingFunds = { message: r.cid, amount: String(shortfall) }
    await this.store.put(c)
    return await this.settlePending(c)
  }

  async prepare (to: Uint8Array, needed: AttoFil, reuse?: { channel: string, lane: number }): Promise<{ channel: string, lane: number, paid: AttoFil }> {
    const toText = addressToString(to, this.net)
    return await this.serial(toText, async () => {
      if (reuse !== undefined) {
        const c = (await this.store.list()).find(x => x.channel === reuse.channel)
        const lane = c?.lanes[String(reuse.lane)]
        if (c !== undefined && c.to === toText && lane !== undefined && !c.settling && !c.collected) {
          const paid = BigInt(lane.amount)
          // `needed` is what the rest of the download will add to the lane: on top of what the lane already promises
          await this.fund(toText, needed)
          return { channel: reuse.channel, lane: reuse.lane, paid }
        }
      }
      const c = await this.fund(toText, needed)
      const lane = c.nextLane
      c.nextLane++
      // an allocated lane is recorded with nothing paid: it is this download's, even before its first voucher
      c.lanes[String(lane)] = { nonce: 0, amount: '0', voucher: '', vouchers: 0 }
      await this.store.put(c)
      return { channel: c.channel!, lane, paid: 0n }
    })
  }

  async lanePaid (channel: string, lane: number): Promise<AttoFil> {
    const c = await this.find(channel)
    const l = c.lanes[String(lane)]
    if (l === undefined) throw new UnknownLaneError(channel, lane)
    return BigInt(l.amount)
  }

  async voucher (channel: string, lane: number, amount: AttoFil, signal?: AbortSignal): Promise<{ bytes: Uint8Array, amount: AttoFil, nonce: number }> {
    let signing = false
    const run = this.payee(channel).then(async to => await this.serial(to, async () => {
      signal?.throwIfAborted()
      let c = await this.find(channel)
      const l = c.lanes[String(lane)]
      if (l === undefined) throw new UnknownLaneError(channel, lane)
      if (amount <= BigInt(l.amount) && l.voucher !== '') return { bytes: unhex(l.voucher), amount: BigInt(l.amount), nonce: l.nonce }
      if (c.collected) throw new ChannelClosedError(channel, 'collected')
      if (c.settling) throw new ChannelClosedError(channel, 'settling')
      // never promise more than the channel holds (the provider would refuse it as FUNDS, and a final voucher's refusal
      // reaches no one): checked against the chain's balance, not the records' own sum of what was sent to it
      const onChain = await this.chain.channel(parseAddress(channel).bytes)
      if (onChain === null) throw new ChannelNotFoundError(channel)
      if (onChain.state.settlingAt !== 0) {
        c.settling = true
        await this.store.put(c)
        throw new ChannelClosedError(channel, 'settling')
      }
      if (this.promised(c, onChain) - max(BigInt(l.amount), onChain.lanes.find(x => x.lane === lane)?.redeemed ?? 0n) + amount > onChain.balance) {
        // at least doubling the channel: a download whose size was not known up front (no quote) tops up a
        // logarithmic number of times, not once per voucher (each top-up waits for a block)
        c = await this.fund(c.to, max(amount - BigInt(l.amount), onChain.balance))
        // the provider settled the channel meanwhile: a new one is no use to this lane
        if (c.channel !== channel) throw new ChannelClosedError(channel, 'settling')
      }
      // past the chain's waits: from here a voucher is signed and recorded whole, or (aborted) not at all
      signal?.throwIfAborted()
      signing = true
      const v: SignedVoucher = {
        channelAddr: parseAddress(channel).bytes, timeLockMin: 0, timeLockMax: 0, secretHash: new Uint8Array(0), extra: null,
        lane, nonce: l.nonce + 1, amount, minSettleHeight: 0, merges: [], signature: null
      }
      const signed = await this.signer.sign(v)
      if (signed.signature === null || !bytesEqual(signed.channelAddr, v.channelAddr) || signed.amount !== amount || signed.nonce !== v.nonce) {
        throw new TypeError('the signer returned another voucher than it was given')
      }
      const bytes = encodeSignedVoucher(signed)
      // write-ahead: the voucher exists for the provider only once the record of it is durable
      c.lanes[String(lane)] = { nonce: v.nonce, amount: String(amount), voucher: hex(bytes), vouchers: l.vouchers + 1 }
      await this.store.put(c)
      return { bytes, amount, nonce: v.nonce }
    }))
    return await untilAborted(run, signal, () => !signing)
  }

  /** Starts the channel's settle delay (Settle, method 3): after it, Collect pays the provider what it redeemed and the rest back. */
  async settle (channel: string): Promise<{ message: string }> {
    return await this.serial(await this.payee(channel), async () => {
      const c = await this.find(channel)
      const rec = c
      const r = await this.chain.send({ to: parseAddress(channel).bytes, method: PaychMethod.Settle, params: new Uint8Array(0), value: 0n },
        (cid) => { rec.settleMessage = cid; void this.store.put(rec) })
      c.settleMessage = r.cid
      if (r.exitCode !== ExitCode.Ok) { await this.store.put(c); throw new ChannelMessageFailedError('settle', r.cid, r.exitCode) }
      c.settling = true
      await this.store.put(c)
      return { message: r.cid }
    })
  }

  /** Collect (method 4), once the chain is past SettlingAt: ToSend to the provider, the rest back to the client. */
  async collect (channel: string): Promise<{ message: string }> {
    return await this.serial(await this.payee(channel), async () => {
      const c = await this.find(channel)
      const rec = c
      const r = await this.chain.send({ to: parseAddress(channel).bytes, method: PaychMethod.Collect, params: new Uint8Array(0), value: 0n },
        (cid) => { rec.collectMessage = cid; void this.store.put(rec) })
      c.collectMessage = r.cid
      if (r.exitCode !== ExitCode.Ok) { await this.store.put(c); throw new ChannelMessageFailedError('collect', r.cid, r.exitCode) }
      c.collected = true
      c.settling = true
      await this.store.put(c)
      return { message: r.cid }
    })
  }

  /** Every channel of this client, with figures from the chain's (verified) read. */
  async channels (): Promise<ChannelView[]> {
    const all = (await this.store.list()).filter(c => c.from === this.from)
    return await Promise.all(all.map(async (c): Promise<ChannelView> => {
      const onChain = c.channel === null || c.collected ? null : await this.chain.channel(parseAddress(c.channel).bytes)
      const byLane = new Map((onChain?.lanes ?? []).map(l => [l.lane, l]))
      const lanes = Object.entries(c.lanes).map(([n, s]): LaneView => {
        const chain = byLane.get(Number(n))
        return { lane: Number(n), redeemed: chain?.redeemed ?? 0n, nonce: chain?.nonce ?? 0, sent: BigInt(s.amount), sentNonce: s.nonce, vouchers: s.vouchers }
      })
      return {
        key: c.key, channel: c.channel, channelId: c.channelId, from: c.from, to: c.to,
        balance: onChain?.balance ?? null, toSend: onChain?.state.toSend ?? null, settlingAt: onChain === null ? null : onChain.state.settlingAt,
        available: onChain === null ? null : onChain.balance - this.promised(c, onChain),
        lanes, vouchersSent: lanes.reduce((n, l) => n + l.vouchers, 0),
        pending: c.pendingFunds?.message ?? (c.channel === null ? c.createMessage : null),
        settling: c.settling || (onChain !== null && onChain.state.settlingAt !== 0), collected: c.collected
      }
    }))
  }
}
