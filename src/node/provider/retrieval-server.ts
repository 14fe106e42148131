// The provider's side of `/coffer/retrieval/1.1.0`: finds the stored payload a request names (payload-index.ts),
// streams its blocks depth-first from the CAR index, checks each voucher against the channel as its own chain
// shows it, and keeps the best voucher per lane and the channel's ledger (what every stream on it sent and was
// paid) on disk (voucher-records.ts). The lane redeemer (lane-redeemer.ts) takes the vouchers to the chain.
import { readdir, mkdir, rm } from 'node:fs/promises'
import path from 'node:path'
import type { PeerId } from '@libp2p/interface'
import {
  CID, RetrievalRejectedError, VoucherRejectedError, MalformedVoucherError,
  carHeader, carSection, readChannel, decodeSignedVoucher, checkVoucher, addressToString,
  bytesEqual, ChannelLedger, emptyLedgerEntry,
  type RetrievalRequest, type RetrievalPayment, type ChannelRecord, type HeldLane, type AttoFil, type Epoch
} from '../../core'
import { priceOfBytes, type RetrievalHandler, type RetrievalServerSession, type RetrievalTerms, type CarPart } from '../../net'
import { PayloadIndex, readBounded } from './payload-index'
import { LaneRedeemer } from './lane-redeemer'
import { ChargedBlocks } from './charged-blocks'
import { syncDirectory } from './durable-write'
import { readVoucherRecord, writeVoucherRecord, type ChannelVouchers, type HeldVoucher } from './voucher-records'
export { VoucherRecordError, type ChannelVouchers, type HeldVoucher } from './voucher-records'
import type { ProviderStore } from './provider-store'
import type { ProviderChain } from './storage-provider'

/** What the retrieval server needs of its storage provider (StorageProvider has all of it). */
export interface RetrievalProvider {
  /** The miner's ID address (t01001…), for logs. */
  readonly address: Uint8Array
  /** The worker's key address: the To of every channel that pays this provider, and the sender of its redeems. */
  readonly worker: Uint8Array
  readonly store: ProviderStore
  readonly chain: ProviderChain
  /** The retrieval terms of the provider's current ask. */
  retrievalTerms: () => RetrievalTerms
  /** Signs and pushes a message from the worker in the provider's own nonce order; `beforePush` learns its CID and nonce first. */
  pushFromWorker: (to: Uint8Array, method: number, params: Uint8Array, beforePush?: (cid: CID, nonce: number) => Promise<void>) => Promise<CID>
}

export interface RetrievalServerInit {
  provider: RetrievalProvider
  log?: (line: string) => void
}

const VOUCHERS_DIR = 'vouchers'

export interface RetrievalServerStatus {
  channels: ChannelVouchers[]
  /** Retrievals being paid right now, by channel (t0…) and lane. */
  running: Array<{ channel: string, lane: number }>
}

const laneKey = (channel: string, lane: number): string => `${channel}/${lane}`

/**
 * The retrieval handler of one provider. Create with `RetrievalServer.open` (loads the vouchers it holds),
 * serve with `serveRetrievals(node, server)`, and `start()` its redeem loop.
 */
export class RetrievalServer implements RetrievalHandler {
  /** Held vouchers by channel ID string (t0…). */
  private readonly channels = new Map<string, ChannelVouchers>()
  /** The live ledger of each channel a retrieval ran on, by channel ID (its figures are written with the record). */
  private readonly ledgers = new Map<string, ChannelLedger>()
  /**
   * Blocks each channel has been charged for, by channel ID (loaded from disk on first use). A block a later stream
   * sends again (bytes lost in flight when a stream broke, sent again on resume) is not charged again: the client
   * pays for what it verifies, once, and the debt the lost bytes left clears when it pays for them. So a stream on
   * a channel that owes an interval still sends blocks already charged (no new risk) and waits only before a new one.
   */
  private readonly chargedBlocks = new Map<string, Promise<ChargedBlocks>>()
  /** Retrievals running per lane (`t0…/lane`): their lane is redeemed when they end, not before (one message per retrieval). */
  private readonly running = new Map<string, number>()
  /** Voucher checks and record writes run one at a time (locked()). */
  private records: Promise<unknown> = Promise.resolve()
  /** Retrievals' end steps still running (their ledger written, their lane redeemed): stop waits for them. */
  private readonly ending = new Set<Promise<void>>()
  private stopping = false

  /** Payload and block CID → stored file: the HTTP gateway looks its blocks up in this one too. */
  readonly payloads: PayloadIndex
  private readonly redeemer: LaneRedeemer

  private constructor (private readonly init: RetrievalServerInit, private readonly dir: string) {
    this.payloads = new PayloadIndex(init.provider.store, line => { this.log(line) })
    const p = init.provider
    this.redeemer = new LaneRedeemer({
      chain: p.chain,
      worker: p.worker,
      pushFromWorker: async (...args) => await p.pushFromWorker(...args),
      channelIds: () => [...this.channels.keys()],
      channel: (id) => this.channels.get(id),
      running: (id, lane) => this.running.has(laneKey(id, lane)),
      setRedeem: async (id, lane, redeem) => { await this.setRedeem(id, lane, redeem) },
      forget: async (id) => { await this.forget(id) },
      log: (line) => { this.log(line) }
    })
  }

  static async open (init: RetrievalServerInit): Promise<RetrievalServer> {
    const dir = path.join(init.provider.store.dir, VOUCHERS_DIR)
    await mkdir(dir, { recursive: true })
    const s = new RetrievalServer(init, dir)
    for (const name of await readdir(dir)) {
      if (name.endsWith('.tmp')) { await rm(path.join(dir, name), { force: true }); continue }
      if (!name.endsWith('.json')) continue
      const rec = await readVoucherRecord(path.join(dir, name))
      s.channels.set(rec.channel, rec)
    }
    return s
  }

  private get p (): RetrievalProvider { return this.init.provider }
  private log (line: string): void { this.init.log?.(`retrieval ${addressToString(this.p.address)}: ${line}`) }
  private epoch (): Epoch { return this.p.chain.head().header.height }

  /** Starts the redeem loop (see LaneRedeemer). */
  start (): void { this.redeemer.start() }

  /**
   * Stops redeeming, after the end steps of retrievals that have ended (their ledger written, their lane's redeem)
   * and the record writes queued: a caller that removes the folder next once found it refilled. Streams still
   * open (libp2p stops after this) may still record a voucher or their end; no redeem starts after this.
   */
  async stop (): Promise<void> {
    this.stopping = true
    while (this.ending.size > 0) await Promise.allSettled([...this.ending])
    await this.redeemer.stop()
    for (let queued = this.records; ; queued = this.records) {
      await queued
      if (queued === this.records) break
    }
  }

  status (): RetrievalServerStatus {
    return {
      channels: [...this.channels.values()].map(c => ({ ...c, lanes: c.lanes.map(l => ({ ...l })), ledger: this.ledgers.get(c.channel)?.entry ?? { ...c.ledger } })),
      running: [...this.running.keys()].map(k => { const [channel, lane] = k.split('/'); return { channel: channel!, lane: Number(lane) } })
    }
  }

  // ---- serving ----

  async accept (req: RetrievalRequest, peer: PeerId): Promise<RetrievalServerSession> {
    const terms = this.p.retrievalTerms()
    const { blocks, walk, rootBytes, size } = await this.payloads.open(req)
    let paying: { id: string, lane: number, address: string } | undefined
    let charged: ChargedBlocks | undefined
    try {
      const range = { from: req.range?.from ?? 0, to: req.range?.to ?? size }
      if (terms.pricePerGiB !== 0n) paying = this.checkChannel(req, terms, range.to - range.from)
      if (paying !== undefined) {
        charged = await this.chargedOf(paying.id).catch((err: Error) => {
          throw new RetrievalRejectedError('INTERNAL', `the channel's record of charged blocks cannot be read: ${err.name}: ${err.message}`)
        })
      }
    } catch (err) {
      await blocks.close()
      throw err
    }
    const key = paying === undefined ? undefined : laneKey(paying.id, paying.lane)
    if (key !== undefined) this.running.set(key, (this.running.get(key) ?? 0) + 1)
    const ledger = paying === undefined ? undefined : this.ledgerOf(paying.id)
    // what earlier streams were charged for: a block this stream visits twice (a file with repeated content) is
    // charged at each visit, as the client pays for each; one an earlier stream sent is not charged again
    const earlier = charged?.snapshot() ?? new Set<string>()
    /** Block bytes `cid` charges: none when an earlier stream on this channel was charged for it (see chargedBlocks). */
    const charge = (cid: CID, bytes: number): number => {
      if (charged === undefined) return bytes
      const k = cid.toString()
      if (earlier.has(k)) return 0
      charged.add(k)
      return bytes
    }
    const what = `${req.root.toString()}${req.range === undefined ? '' : ` [${req.range.from}, ${req.range.to})`} for ${peer.toString()}${key === undefined ? '' : ` paid on ${key}`}`
    this.log(`serving ${what}`)

    let paid: AttoFil = 0n
    let ended = false
    const root = req.root
    /** A retrieval's end: the store's file closed, what it ran up written, its lane redeemed (once no stream runs on it). */
    const finish = async (outcome: { complete: boolean, error?: Error, sent: number, paid: AttoFil }): Promise<void> => {
      await blocks.close()
      const how = outcome.complete ? 'complete' : `stopped${outcome.error === undefined ? '' : ` (${outcome.error.name}: ${outcome.error.message})`}`
      this.log(`${what}: ${how}, ${outcome.sent} bytes sent, ${outcome.paid} attoFIL paid`)
      if (key === undefined) return
      // what the stream ran up stays owed on the channel, across a restart
      await this.saveLedger(paying!.id, paying!.address).catch((err: Error) => { this.log(`ledger ${paying!.id}: ${err.name}: ${err.message}`) })
      const n = (this.running.get(key) ?? 1) - 1
      if (n > 0) this.running.set(key, n)
      else this.running.delete(key)
      // redeemed now, not at the next head: a retrieval's end is when its lane's voucher is final
      if (!this.stopping) void this.redeemer.redeemChannel(paying!.id).catch((err: Error) => { this.log(`redeem ${paying!.id}: ${err.name}: ${err.message}`) })
    }
    return {
      terms,
      car: (async function * (): AsyncIterable<CarPart> {
        try {
          yield { bytes: carHeader(root), charged: 0 }
          yield { bytes: carSection(root, rootBytes), charged: charge(root, rootBytes.length) }
          // the walk already took the root: every block it asks for next, in its order, each visit sent
          for (let cid = walk.next(); cid !== null; cid = walk.next()) {
            let bytes: Uint8Array
            try {
              bytes = await readBounded(blocks, cid)
              // the client checks each block's hash; the provider's walk only needs the links and sizes to go on
              walk.accept(cid, bytes)
            } catch (err) {
              const e = err as Error
              throw new RetrievalRejectedError('INTERNAL', `the stored payload cannot be served past block ${cid.toString()}: ${e.name}: ${e.message}`)
            }
            yield { bytes: carSection(cid, bytes), charged: charge(cid, bytes.length) }
          }
        } finally {
          await blocks.close()
        }
      })(),
      // What this stream has been paid: the sum of what its vouchers added over the lane's best. With one stream
      // on a lane at a time that is its last voucher's amount less the lane's best when it began (what a resumed
      // download pays on from); two streams paying on one lane at once are never both credited one payment.
      voucher: async (bytes) => {
        if (paying === undefined) return 0n
        const added = await this.takeVoucher(req.payment!, paying.id, bytes)
        paid += added
        return paid
      },
      ...(ledger === undefined ? {} : { ledger, holding: async () => { await this.saveLedger(paying!.id, paying!.address) } }),
      end: async (outcome) => {
        if (ended) return
        ended = true
        const done = finish(outcome)
        this.ending.add(done)
        try { await done } finally { this.ending.delete(done) }
      }
    }
  }

  /**
   * A priced retrieval's channel, read from the provider's own chain: it must exist, pay this provider's worker,
   * not be settling, and have funds left for at least one interval (or the whole request, if smaller).
   */
  private checkChannel (req: RetrievalRequest, terms: RetrievalTerms, requestBytes: number): { id: string, lane: number, address: string } {
    const fail = (message: string): never => { throw new RetrievalRejectedError('PAYMENT', message) }
    const worker = addressToString(this.p.worker)
    if (req.payment === undefined) {
      return fail(`this provider charges ${terms.pricePerGiB} attoFIL per GiB sent: open a payment channel to ${worker} and name it and a lane in the request`)
    }
    const named = addressToString(req.payment.channel)
    const ch = this.readChannel(req.payment.channel)
    if (ch === null) return fail(`there is no payment channel ${named} on this provider's chain`)
    if (!bytesEqual(ch.state.to, this.p.worker)) return fail(`payment channel ${named} pays ${addressToString(ch.state.to)}, not this provider's worker ${worker}`)
    if (ch.state.settlingAt !== 0) return fail(`payment channel ${named} is settling (collectable from epoch ${ch.state.settlingAt}): open a new one`)
    const id = addressToString(ch.id)
    const left = this.fundsLeft(ch, this.channels.get(id))
    // the request's file bytes: a lower bound of the block bytes it will be charged for (DAG nodes come on top)
    const need = priceOfBytes(Math.min(terms.paymentInterval, requestBytes), terms.pricePerGiB)
    if (left < need) {
      return fail(`payment channel ${named} has ${left} attoFIL left beyond the vouchers already given for it; ${need} attoFIL (one payment interval of ${Math.min(terms.paymentInterval, requestBytes)} bytes at ${terms.pricePerGiB} attoFIL per GiB) is needed to start`)
    }
    return { id, lane: req.payment.lane, address: named }
  }

  /** The channel's ledger: the one its running streams share, else as last recorded. */
  private ledgerOf (id: string): ChannelLedger {
    let l = this.ledgers.get(id)
    if (l === undefined) this.ledgers.set(id, l = new ChannelLedger(this.channels.get(id)?.ledger ?? emptyLedgerEntry()))
    return l
  }

  /** Writes the channel's ledger as it stands (a channel nobody paid on yet gets a record of its own). */
  private async saveLedger (id: string, address: string): Promise<void> {
    await this.locked(async () => {
      const ledger = this.ledgers.get(id)
      if (ledger === undefined) return
      const cur = this.channels.get(id)
      const next: ChannelVouchers = { channel: id, address: cur?.address ?? address, lanes: cur?.lanes ?? [], ledger: ledger.entry }
      await this.writeRecord(next)
      this.channels.set(id, next)
    })
  }

  /**
   * What vouchers can still add: the channel's balance less, on every lane, the larger of what the chain has
   * redeemed and the best voucher held (= balance − ToSend − what held vouchers claim beyond it; the same sum
   * checkVoucher's FUNDS rule makes).
   */
  private fundsLeft (ch: ChannelRecord, held: ChannelVouchers | undefined): AttoFil {
    const claimed = new Map<number, AttoFil>(ch.lanes.map(l => [l.lane, l.redeemed]))
    for (const l of held?.lanes ?? []) if (l.amount > (claimed.get(l.lane) ?? 0n)) claimed.set(l.lane, l.amount)
    let total = 0n
    for (const v of claimed.values()) total += v
    return ch.balance - total
  }

  private readChannel (address: Uint8Array): ChannelRecord | null {
    return this.p.chain.readState((s, r) => readChannel(s, r, address))
  }

  /**
   * Checks a voucher against the channel as the chain shows it now and the best held per lane, records it (on
   * disk, before anything is given for it), and returns what it adds over the lane's best.
   */
  private async takeVoucher (payment: RetrievalPayment, id: string, bytes: Uint8Array, atLeast: AttoFil = 0n): Promise<AttoFil> {
    return await this.locked(async () => {
      const refuse = (code: string, message: string): never => {
        this.log(`voucher on ${laneKey(id, payment.lane)} refused: ${code}: ${message}`)
        throw new RetrievalRejectedError('PAYMENT', `voucher refused (${code}): ${message}`)
      }
      let sv
      try {
        sv = decodeSignedVoucher(bytes)
      } catch (err) {
        if (err instanceof MalformedVoucherError) return refuse('MALFORMED', err.message)
        throw err
      }
      const ch = this.readChannel(payment.channel)
      if (ch === null || addressToString(ch.id) !== id) return refuse('CHANNEL', `payment channel ${addressToString(payment.channel)} is gone from the chain`)
      const rec = this.channels.get(id)
      // the very voucher held already adds nothing (as Lotus's paychmgr ignores a voucher re-added): a client that
      // resumes from a state saved before it knew this one arrived sends it again
      const same = rec?.lanes.find(l => l.lane === sv.lane)
      if (same !== undefined && bytesEqual(same.voucher, bytes)) {
        // (an up-front payment must add its price: a voucher used once pays for nothing more)
        if (atLeast > 0n) return refuse('AMOUNT', `voucher adds nothing over the lane's best (it is that voucher), less than the ${atLeast} attoFIL this response costs`)
        return 0n
      }
      const held = new Map<number, HeldLane>((rec?.lanes ?? []).map(l => [l.lane, { nonce: l.nonce, amount: l.amount }]))
      let added: AttoFil
      try {
        added = checkVoucher({ channel: ch, channelAddress: payment.channel, voucher: sv, recipient: this.p.worker, epoch: this.epoch(), held, lane: payment.lane }).added
      } catch (err) {
        if (err instanceof VoucherRejectedError) return refuse(err.code, err.message)
        throw err
      }
      // an up-front payment (payUpfront) that does not cover its response is refused before it is recorded
      if (added < atLeast) return refuse('AMOUNT', `voucher adds ${added} attoFIL over the lane's best, less than the ${atLeast} attoFIL this response costs`)
      // the payment goes into the channel's ledger in the same write as the voucher: a crash between the two would
      // leave a restarted provider holding the voucher but asking for its amount again
      const ledger = this.ledgerOf(id)
      const entry = { ...ledger.entry, paid: ledger.entry.paid + added }
      const prev = rec?.lanes.find(l => l.lane === sv.lane)
      const lane: HeldVoucher = { lane: sv.lane, nonce: sv.nonce, amount: sv.amount, voucher: bytes.slice(), ...(prev?.redeem === undefined ? {} : { redeem: prev.redeem }) }
      const next: ChannelVouchers = {
        channel: id,
        // redeems go to the address the client's vouchers name (its f2 survives a re-org; Lotus's paychmgr does the same)
        address: rec?.address ?? addressToString(sv.channelAddr),
        lanes: [...(rec?.lanes ?? []).filter(l => l.lane !== sv.lane), lane].sort((a, b) => a.lane - b.lane),
        ledger: entry
      }
      await this.writeRecord(next)
      this.channels.set(id, next)
      ledger.pay(added)
      return added
    })
  }

  /**
   * Takes a voucher paying up front for an HTTP gateway response (http-gateway/) of `bytes` block or piece bytes
   * costing `price`: checked as a stream's vouchers are, on the channel and lane it names, it must raise that lane
   * by at least `price` (else nothing is recorded). The response is charged to the channel's ledger, so HTTP and
   * libp2p share one ledger and one best voucher per lane, and the redeem loop redeems it. Throws
   * RetrievalRejectedError('PAYMENT') saying which rule the voucher broke.
   */
  async payUpfront (voucher: Uint8Array, price: AttoFil, bytes: number): Promise<{ channel: string, lane: number, added: AttoFil }> {
    let sv
    try {
      sv = decodeSignedVoucher(voucher)
    } catch (err) {
      if (err instanceof MalformedVoucherError) throw new RetrievalRejectedError('PAYMENT', `voucher refused (MALFORMED): ${err.message}`)
      throw err
    }
    const payment: RetrievalPayment = { channel: sv.channelAddr, lane: sv.lane }
    const ch = this.readChannel(sv.channelAddr)
    if (ch === null) throw new RetrievalRejectedError('PAYMENT', `voucher refused (CHANNEL): there is no payment channel ${addressToString(sv.channelAddr)} on this provider's chain`)
    const id = addressToString(ch.id)
    const added = await this.takeVoucher(payment, id, voucher, price)
    this.ledgerOf(id).charge(bytes, price)
    await this.saveLedger(id, addressToString(sv.channelAddr))
    this.log(`${bytes} bytes for ${price} attoFIL paid up front on ${laneKey(id, sv.lane)} (the voucher added ${added})`)
    void this.redeemer.redeemChannel(id).catch((err: Error) => { this.log(`redeem ${id}: ${err.name}: ${err.message}`) })
    return { channel: id, lane: sv.lane, added }
  }

  /** Runs `fn` alone among the changes to held vouchers: each sees what the one before it recorded. */
  private async locked<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.records.then(fn)
    this.records = run.catch(() => {})
    return await run
  }

  /** A collected channel: its record and everything held of it dropped (a debt on it can never be paid: nothing is left to ask it of). */
  private async forget (id: string): Promise<void> {
    await this.locked(async () => {
      await rm(this.recordPath(id), { force: true })
      this.channels.delete(id)
      this.ledgers.delete(id)
      this.chargedBlocks.delete(id)
      await rm(path.join(this.dir, `${id}.charged`), { force: true })
      await syncDirectory(this.dir)
    })
  }

  /** Marks (or clears) the redeem message out for one lane, on disk. */
  private async setRedeem (id: string, lane: number, redeem: HeldVoucher['redeem']): Promise<void> {
    await this.locked(async () => {
      const cur = this.channels.get(id)
      if (cur === undefined) return
      const next: ChannelVouchers = {
        ...cur,
        lanes: cur.lanes.map(l => {
          if (l.lane !== lane) return l
          const { redeem: _old, ...rest } = l
          return redeem === undefined ? rest : { ...rest, redeem }
        })
      }
      await this.writeRecord(next)
      this.channels.set(id, next)
    })
  }

  private recordPath (id: string): string { return path.join(this.dir, `${id}.json`) }

  /** The channel's record written, after its charged blocks: the ledger on disk never counts a charge whose block is not there. */
  private async writeRecord (next: ChannelVouchers): Promise<void> {
    await (await this.chargedBlocks.get(next.channel))?.flush()
    await writeVoucherRecord(this.recordPath(next.channel), next, this.ledgers.get(next.channel)?.entry)
  }

  /** The channel's charged blocks, read from disk once. */
  private async chargedOf (id: string): Promise<ChargedBlocks> {
    let c = this.chargedBlocks.get(id)
    if (c === undefined) {
      c = ChargedBlocks.open(path.join(this.dir, `${id}.charged`))
      this.chargedBlocks.set(id, c)
      // a file that could not be read is tried again by the next request
      c.catch(() => { if (this.chargedBlocks.get(id) === c) this.chargedBlocks.delete(id) })
    }
    return await c
  }

  /** How many blocks the channel has been charged for, as this provider holds it (read from disk if not yet loaded). */
  async chargedBlockCount (channel: string): Promise<number> { return (await this.chargedOf(channel)).size }
}
