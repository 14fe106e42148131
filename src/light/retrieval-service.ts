// Downloads as the tab runs them, in the light-client worker (beside deal-service.ts, not inside it). A file's
// providers are found from its deals by verified reads (each deal's label must be the payload root, the deal
// live) and priced from their verified asks; the retrieval session (retrieval-session.ts) streams, verifies,
// writes and pays through the payment-channel client (paych-client.ts); the record of each download (its
// session state: verified offset, lanes, failures) is in IndexedDB, written before each voucher leaves, so a
// closed tab resumes every download that was running from its verified offset and never pays twice.
//
//   download → quoting (providers found and priced) → paying (a channel created or funded, when one must be)
//            → fetching (blocks verified, written, paid) → done | failed;  paused / cancelled by the user
import { isTabGone } from './remote-platform'
import {
  addressToString, parseAddress, retrievalPrice, toWireError, CID, INIT_ACTOR_ADDRESS, METHOD_SEND, PaychMethod, bytesEqual,
  type SignedVoucher
} from '../core'
import { WalletLockedError } from './wallet-store'
import { NoWalletKeyError } from './deal-service'
import { lightDealChain } from './deal-chain'
import { PaychClient, channelReadPerState, type PaychChain, type RetrievalPayer, type CrossProcessLock } from './paych-client'
import { retrieveFile, newDownloadState, AllProvidersFailedError, type DownloadState } from './retrieval-session'
import { openRetrievalStore, RUNNING_STAGES, type DownloadRecord, type RetrievalStore } from './retrieval-store'
import { SavePermissionError, type DownloadSink } from './download-files'
import { sinkWritingBehind } from './sink-behind'
import { carBytesAtMost } from './unixfs-car'
import { findRetrievalProviders, MAX_DEALS } from './retrieval-providers'
import { tryDownloadLock, withDownloadLock } from './download-locks'
import {
  NoRetrievalProviderError, UnknownDownloadError, DownloadNotReadyError, DownloadInOtherTabError, isChainUnanswered,
  type DownloadQuoteRequest, type DownloadQuote, type QuoteProgress, type DownloadRequest, type DownloadView, type ChannelRow, type RetrievalsView,
  type RetrievalServiceInit, type RetrievalService
} from './retrieval-views'
export * from './retrieval-views'

/** The user paused or cancelled: the reason a running session was aborted with. */
class StoppedByUser extends Error {
  static override name = 'StoppedByUser'
  override name = 'StoppedByUser'
  constructor (readonly stage: 'paused' | 'cancelled') { super(`${stage} by the user`) }
}

/** The session state is persisted at least this often (bytes) on a free provider, where no voucher forces it. */
const SAVE_EVERY_BYTES = 4 * 2 ** 20

const paychLabel = (m: { to: Uint8Array, method: number }): string =>
  bytesEqual(m.to, INIT_ACTOR_ADDRESS) ? 'CreateChannel' : m.method === METHOD_SEND ? 'AddFunds' : m.method === PaychMethod.Settle ? 'Settle' : m.method === PaychMethod.Collect ? 'Collect' : `paych method ${m.method}`

/** Failures that are the payer's (no key, a locked wallet), not the provider's: they wait for the user, never count as a failover. */
const WALLET_FAILURES = ['PaymentRequiredError', 'WalletLockedError', 'NoWalletKeyError']
/** What the view says while another tab holds a download's lock. */
const IN_OTHER_TAB = 'running in another tab of this browser: this tab goes on with it when that one closes'

export async function createRetrievalService (init: RetrievalServiceInit): Promise<RetrievalService> {
  const { client: lc, keystore, files } = init
  const store: RetrievalStore = await openRetrievalStore(lc.genesis.header.cid.toString())
  const downloads = new Map<string, DownloadRecord>((await store.downloads()).map(d => [d.id, d]))
  /** A running download's progress between saves (what the page sees; the record holds only what is on disk). */
  const live = new Map<string, { rate: number | null, state: DownloadState }>()
  const running = new Map<string, AbortController>()
  /** What a waiting download waits for: the wallet's key (an unlock) or a full node (the next verified head). */
  const waitingFor = new Map<string, 'wallet' | 'chain'>()
  /** Downloads this tab waits to run while another tab holds their lock (this tab's records of them are stale). */
  const elsewhere = new Set<string>()
  let channelRows: ChannelRow[] = []

  // ---- view ----

  let timer: ReturnType<typeof setTimeout> | undefined
  const changed = (): void => {
    if (timer !== undefined) return
    timer = setTimeout(() => { timer = undefined; init.onChange(view()) }, 100)
  }
  const describe = (rec: DownloadRecord): DownloadView => {
    const now = live.get(rec.id)
    const d = now === undefined ? rec : { ...rec, state: now.state }
    const base = d.range?.from ?? 0
    const total = d.range === undefined ? (d.state.fileSize ?? d.size) : d.range.to - d.range.from
    const providers = Object.entries(d.state.providers)
    return {
      id: d.id, root: d.root, name: d.name, size: d.size, ...(d.range === undefined ? {} : { range: d.range }), dealIds: d.dealIds, sink: d.sink, stage: d.stage,
      verifiedBytes: Math.max(0, d.state.verifiedOffset - base), totalBytes: total,
      paid: providers.reduce((n, [, p]) => n + BigInt(p.paid), 0n).toString(),
      bytesPerSec: d.stage === 'fetching' ? now?.rate ?? null : null,
      ...(d.serving === undefined ? {} : { serving: d.serving }),
      lanes: providers.flatMap(([provider, p]) => p.channel === null || p.lane === null ? [] : [{ provider, channel: p.channel, lane: p.lane, paid: p.paid }]),
      failovers: providers.flatMap(([provider, p]) => p.failure === null ? [] : [{ provider, ...p.failure }]),
      ...(d.quoted === undefined ? {} : { quoted: d.quoted }),
      ...(d.needsPermission === true ? { needsPermission: true } : {}),
      ...(elsewhere.has(d.id) ? { waiting: IN_OTHER_TAB } : d.waiting === undefined ? {} : { waiting: d.waiting }),
      ...(d.error === undefined ? {} : { error: d.error }),
      createdAtMs: d.createdAtMs, ...(d.doneAtMs === undefined ? {} : { doneAtMs: d.doneAtMs })
    }
  }
  const view = (): RetrievalsView => ({
    downloads: [...downloads.values()].sort((a, b) => b.createdAtMs - a.createdAtMs).map(describe),
    channels: channelRows
  })

  /** Rewrites the record whole and waits until it is on disk. */
  const save = async (d: DownloadRecord): Promise<DownloadRecord> => {
    const next = { ...d, updatedAtMs: Date.now() }
    downloads.set(d.id, next)
    changed()
    await store.putDownload(next)
    return next
  }
  const patch = async (id: string, p: Partial<DownloadRecord>): Promise<DownloadRecord> => await save({ ...downloads.get(id)!, ...p })
  /**
   * The download's record as IndexedDB has it now, put in place of this tab's copy: another tab may have run it since
   * this one read it (each tab loads the records once), and a write from the old copy would set its verified offset
   * back while the lanes' paid amounts (the channel store) stay current: every byte in between fetched and paid again.
   */
  const reread = async (id: string): Promise<DownloadRecord> => {
    const d = (await store.downloads()).find(r => r.id === id)
    if (d === undefined) throw new UnknownDownloadError(id)
    downloads.set(id, d)
    return d
  }

  // ---- the chain and the payer ----

  const keyAddress = async (): Promise<Uint8Array | null> => {
    const keys = await keystore.list()
    return keys.length === 0 ? null : parseAddress(keys[0]!.address).bytes
  }

  const paychChain = (from: Uint8Array): PaychChain => {
    const dc = lightDealChain(lc, init.wallet, from)
    return {
      // the verified read is made at the head: once per head for each channel
      channel: channelReadPerState(() => lc.sync.head.cid.toString(), async (a) => (await lc.state.channel(a)).value),
      send: async (m, onSent) => {
        const cid = await init.wallet.message({ from: addressToString(from, 't'), to: addressToString(m.to, 't'), value: m.value, method: m.method, params: m.params, label: paychLabel(m) })
        onSent?.(cid)
        return { cid, ...(await dc.waitFor(cid)) }
      },
      waitFor: dc.waitFor,
      headEpoch: () => lc.sync.head.header.height
    }
  }

  // one client per key: it serialises lane and voucher-nonce allocation per provider for every download of this
  // worker, and across tabs through a Web Lock per provider (workers have navigator.locks too); the wallet orders the
  // messages' nonces. Node (tests) has no Web Locks and one process.
  const locks = (globalThis.navigator as { locks?: { request: <T>(name: string, opts: { mode: 'exclusive' }, cb: () => Promise<T>) => Promise<T> } } | undefined)?.locks
  const webLock: CrossProcessLock | undefined = locks === undefined ? undefined : async (name, fn) => await locks.request(name, { mode: 'exclusive' }, fn)
  let paych: { key: string, client: PaychClient } | undefined
  const paychClient = async (): Promise<PaychClient> => {
    const from = await keyAddress()
    if (from === null) throw new NoWalletKeyError('create or import a wallet key first: a priced provider is paid from it')
    const key = addressToString(from, 't')
    if (paych?.key !== key) {
      paych = {
        key,
        client: new PaychClient({
          chain: paychChain(from),
          store: store.paych,
          signer: { address: from, sign: async (v: SignedVoucher) => keystore.signVoucher(key, v) },
          // other tabs of this origin run their own worker over the same IndexedDB records
          lock: webLock
        })
      }
    }
    return paych.client
  }

  // ---- quoting: who verifiably holds the file (retrieval-providers.ts), and at what price ----

  const finder = { client: lc, wallet: init.wallet, bootstrap: init.bootstrap }
  const quoteBytesOf = (r: { size: number, carBytes?: number }): number => r.carBytes ?? r.size
  /**
   * What a download's lane is funded for: the CAR's bytes, which cover every block byte a voucher pays for, or when the
   * link does not carry them the most a file of its size packs to. Funded for the file's size alone, the lane ran
   * short at the last vouchers (they pay the DAG's nodes too), and the top-up they waited for held the provider a
   * block or two at the end of every such download (retrieval-browser bench, 256 MiB: 2.2 s of its 12).
   */
  const fundingBytesOf = (r: { size: number, carBytes?: number }): number => r.carBytes ?? carBytesAtMost(r.size)

  const quote = async (req: DownloadQuoteRequest, signal?: AbortSignal, onProgress?: (p: QuoteProgress) => void): Promise<DownloadQuote> => {
    CID.parse(req.root) // a link's root that is no CID is refused before any read
    const found = await findRetrievalProviders(finder, req.root, req.dealIds, signal, onProgress)
    const bytes = quoteBytesOf(req)
    return {
      root: req.root,
      bytes,
      providers: found.candidates.map(c => ({
        provider: c.provider.address, dealId: c.dealId, pricePerGiB: c.provider.terms.pricePerGiB.toString(),
        paymentInterval: c.provider.terms.paymentInterval, paymentIntervalIncrease: c.provider.terms.paymentIntervalIncrease,
        price: retrievalPrice({ retrievalPricePerGiB: c.provider.terms.pricePerGiB }, bytes).toString()
      })),
      refused: found.refused
    }
  }

  // ---- running a download ----

  const openSink = async (d: DownloadRecord): Promise<{ sink: DownloadSink, d: DownloadRecord }> => {
    const base = d.range?.from ?? 0
    const from = d.state.verifiedOffset - base
    if (d.sink === 'opfs') return { sink: await files.opfs(d.opfsName, from), d }
    const handle = await store.handle(d.id)
    if (handle === undefined) throw new SavePermissionError('the file picked for this download is no longer known to this browser: cancel it and download again')
    const opened = await files.picked(handle, d.opfsName, from)
    if (opened.from < from) {
      // the journal was lost (site data cleared): the bytes after its end are fetched, and paid for, again
      d = await save({ ...d, state: { ...d.state, verifiedOffset: base + opened.from } })
    }
    return { sink: opened.sink, d }
  }

  /** The payer, with the 'paying' stage shown while a channel is created or funded on chain. */
  const stagedPayer = (id: string, payer: RetrievalPayer): RetrievalPayer => ({
    prepare: async (to, needed, reuse) => {
      await patch(id, { stage: 'paying' })
      try { return await payer.prepare(to, needed, reuse) } finally { await patch(id, { stage: 'fetching' }) }
    },
    lanePaid: async (c, l) => await payer.lanePaid(c, l),
    voucher: async (c, l, a, signal) => await payer.voucher(c, l, a, signal)
  })

  const runNow = async (id: string, ac: AbortController): Promise<void> => {
    let d = await patch(id, { stage: 'quoting', waiting: undefined, error: undefined, needsPermission: undefined })
    const found = await findRetrievalProviders(finder, d.root, d.dealIds, ac.signal)
    const max = d.quoted === undefined ? undefined : BigInt(d.quoted.price)
    const bytes = quoteBytesOf(d)
    const funding = fundingBytesOf(d)
    const usable = found.candidates
      .filter(c => max === undefined || retrievalPrice({ retrievalPricePerGiB: c.provider.terms.pricePerGiB }, bytes) <= max)
      .map(c => ({ ...c.provider, quoteBytes: funding }))
    if (usable.length === 0) throw new NoRetrievalProviderError(found.refused)
    const priced = usable.some(p => p.terms.pricePerGiB > 0n)
    const free = usable.some(p => p.terms.pricePerGiB === 0n)
    // a priced provider needs the key: wait for it (nothing is lost) unless a free one can serve meanwhile
    if (priced && !free) {
      if (await keyAddress() === null) throw new NoWalletKeyError('create or import a wallet key (and fund it) first: this file\'s providers charge for retrieval')
      if (!keystore.isUnlocked()) throw new WalletLockedError('unlock the wallet to go on: the provider is paid with vouchers signed by your key')
    }
    const payer = priced && keystore.isUnlocked() ? stagedPayer(id, await paychClient()) : null
    const opened = await openSink(d)
    d = opened.d
    const sink = sinkWritingBehind(opened.sink)
    const base = d.range?.from ?? 0
    const state: DownloadState = structuredClone(d.state)
    // saves go one after another, each after the sink's flush: the recorded offset never runs ahead of the disk
    let saving: Promise<void> = Promise.resolve()
    /** The last state saved (taken once its flush is done): what the file is known to hold. */
    let lastSaved: DownloadState = structuredClone(state)
    const saveState = async (s: DownloadState): Promise<void> => {
      // the state as the session asks it saved, taken now: every byte below its offset has been handed to the sink, so
      // the flush below covers it (a copy taken after the flush could count a block written while it ran)
      const snapshot = structuredClone(s)
      const run = saving.then(async () => {
        await sink.flush()
        lastSaved = snapshot
        await patch(id, { state: snapshot })
      })
      saving = run.catch(() => {})
      await run
    }
    await patch(id, { stage: 'fetching' })
    try {
      await retrieveFile({
        libp2p: lc.dialer,
        root: CID.parse(d.root),
        ...(d.range === undefined ? {} : { range: d.range }),
        providers: usable,
        payer,
        sink: { write: async (offset, b, ownBuffer) => { await sink.write(offset - base, b, ownBuffer) } },
        ...(init.hash === undefined ? {} : { hash: init.hash }),
        ...(init.hashAsync === undefined ? {} : { hashAsync: init.hashAsync }),
        state,
        saveState,
        signal: ac.signal,
        onProgress: (p) => {
          live.set(id, { rate: p.rate, state: structuredClone(state) })
          if (downloads.get(id)!.serving !== p.provider) downloads.set(id, { ...downloads.get(id)!, serving: p.provider })
          changed()
          if (state.verifiedOffset - lastSaved.verifiedOffset >= SAVE_EVERY_BYTES) void saveState(state).catch(() => {})
        }
      })
      await saving
      await sink.close()
      await patch(id, { stage: 'done', serving: undefined, doneAtMs: Date.now(), state: structuredClone(state) })
      // (the journal's removal is tidying: a tab closing at this moment must not turn a finished download into a waiting one)
      if (d.sink === 'picked') { await files.remove(d.opfsName).catch(() => {}); await store.removeHandle(id) }
    } catch (err) {
      await saving
      // The session's offset counts bytes handed to the sink, which writes behind it: they are all in the file only
      // if the sink closes cleanly (its writes landed, then it flushed). Otherwise (the tab writing it closed, a full
      // quota) the state goes back to the last one saved, whole (its offset, and the payments and debts that go
      // with it: a resume asks the payer for what it owed, and gets the voucher sent since), as a crash would leave
      // it; the rest is fetched again. Saved with this run's offset instead, the resume skipped bytes never written
      // (Chromium test shared-download: the file saved differed from the one stored).
      const closed = await sink.close().then(() => true, () => false)
      const kept = structuredClone(closed ? state : lastSaved)
      // (a provider's failure, and why, is kept whatever the file holds; one first met since that save is asked again)
      if (!closed) for (const [a, p] of Object.entries(state.providers)) { const k = kept.providers[a]; if (k !== undefined) k.failure = p.failure }
      // a priced provider skipped for want of a key is no provider's failure: it is asked again once the wallet opens
      for (const p of Object.values(kept.providers)) if (p.failure !== null && WALLET_FAILURES.includes(p.failure.name)) p.failure = null
      await patch(id, { state: kept, serving: undefined })
      throw err
    }
  }

  const run = async (id: string): Promise<void> => {
    if (running.has(id)) return
    const ac = new AbortController()
    running.set(id, ac)
    try {
      await withDownloadLock(id, () => { elsewhere.add(id); changed() }, async () => {
        elsewhere.delete(id)
        // start from the record as the last tab to hold the lock left it, never from this tab's copy
        const d = await reread(id)
        // that tab (or this one, while it waited) paused, cancelled or finished it: nothing to run
        if (!RUNNING_STAGES.includes(d.stage)) return
        try {
          ac.signal.throwIfAborted() // paused or cancelled here while the lock was being taken
          await runNow(id, ac)
        } catch (err) {
          const reason = ac.signal.aborted ? ac.signal.reason : undefined
          if (reason instanceof StoppedByUser) {
            await patch(id, { stage: reason.stage, serving: undefined })
            if (reason.stage === 'cancelled') await discard(id)
            return
          }
          const e = err as Error
          // a priced provider left unpaid (no key, or locked) is one the wallet would let go on: every free one failed first (cheapest first)
          const cause = e instanceof AllProvidersFailedError ? e.failures.find(f => WALLET_FAILURES.includes(f.name)) : undefined
          // waiting for the user's key or permission loses nothing: the download stays where it is and goes on after
          if (WALLET_FAILURES.includes(e.name) || cause !== undefined) {
            waitingFor.set(id, 'wallet')
            await patch(id, { waiting: cause === undefined ? e.message : `${cause.message} (unlock the wallet, or create a key, to go on)` })
          } else if (isChainUnanswered(e) || isTabGone(e)) {
            // a shared node's download writes through a tab (remote-platform.ts): that tab closed, so it goes on from
            // its verified offset through another at the next head, as when it waits for a node
            waitingFor.set(id, 'chain')
            await patch(id, { waiting: e.name === 'NoChainPeerError' || isTabGone(e) ? e.message : `no full node could answer a chain read yet (${e.message}): going on at the next head` })
          } else if (e.name === 'SavePermissionError') {
            await patch(id, { stage: 'paused', needsPermission: true, waiting: e.message })
          } else {
            await patch(id, { stage: 'failed', error: toWireError(e) })
          }
        }
      })
    } finally {
      running.delete(id)
      elsewhere.delete(id)
      live.delete(id)
      changed()
      void refreshChannels()
    }
  }

  const discard = async (id: string): Promise<void> => {
    const d = downloads.get(id)
    if (d === undefined) return
    await files.remove(d.opfsName)
    await store.removeHandle(id)
  }

  const get = (id: string): DownloadRecord => {
    const d = downloads.get(id)
    if (d === undefined) throw new UnknownDownloadError(id)
    return d
  }

  const download = async (req: DownloadRequest): Promise<string> => {
    CID.parse(req.root)
    if (!Number.isSafeInteger(req.size) || req.size < 0) throw new RangeError('size must be a byte count')
    if (req.range !== undefined && !(req.range.from >= 0 && req.range.to > req.range.from && req.range.to <= req.size)) throw new RangeError(`range ${req.range.from}-${req.range.to} is not inside the file`)
    // another tab may have started this file since this one read the records: look at them as they are now
    for (const r of await store.downloads()) if (!running.has(r.id)) downloads.set(r.id, r)
    // the same file already on its way, paused or failed (and not to a newly picked file): go on with that one, from
    // its verified offset on its lanes; a new record would fetch and pay again for every byte it has verified
    const same = [...downloads.values()].find(d => d.root === req.root && d.range === undefined && req.range === undefined && req.saveHandle === undefined &&
      (RUNNING_STAGES.includes(d.stage) || d.stage === 'paused' || d.stage === 'failed'))
    if (same !== undefined) {
      // the quote just accepted is the cap from now on
      const quoted = req.maxPrice === undefined ? {} : { quoted: { price: BigInt(req.maxPrice).toString() } }
      if (same.stage === 'paused' || same.stage === 'failed') await resumeWith(same.id, quoted)
      else if (!running.has(same.id)) void run(same.id) // waiting (for the wallet or a node), or running in another tab: shown as such
      return same.id
    }
    const id = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`
    if (req.saveHandle !== undefined) await store.putHandle(id, req.saveHandle)
    const now = Date.now()
    const d: DownloadRecord = {
      id, root: req.root, name: req.name, size: req.size, ...(req.range === undefined ? {} : { range: req.range }), dealIds: req.dealIds.slice(0, MAX_DEALS),
      sink: req.saveHandle === undefined ? 'opfs' : 'picked', opfsName: req.saveHandle === undefined ? `${id}.bin` : `${id}.journal`,
      state: newDownloadState(req.root, req.range), stage: 'quoting', createdAtMs: now, updatedAtMs: now,
      ...(req.maxPrice === undefined ? {} : { quoted: { price: BigInt(req.maxPrice).toString() } }),
      ...(req.carBytes === undefined ? {} : { carBytes: req.carBytes })
    }
    await save(d)
    void run(id)
    return id
  }

  // Pause, resume and cancel of a download this tab is not running change the record as IndexedDB has it, holding the
  // download's lock (re-read, then rewritten): never this tab's copy, which another tab may have moved on from.

  const pause = async (id: string): Promise<void> => {
    get(id)
    if (elsewhere.has(id)) throw new DownloadInOtherTabError(id)
    const ac = running.get(id)
    if (ac !== undefined) { ac.abort(new StoppedByUser('paused')); return }
    const held = await tryDownloadLock(id, async () => {
      const d = await reread(id)
      if (RUNNING_STAGES.includes(d.stage)) await patch(id, { stage: 'paused', waiting: undefined })
    })
    if (!held) throw new DownloadInOtherTabError(id)
  }

  const resumeWith = async (id: string, p: Partial<DownloadRecord>): Promise<void> => {
    get(id)
    if (running.has(id)) return
    await tryDownloadLock(id, async () => {
      const d = await reread(id)
      if (d.stage === 'done' || d.stage === 'cancelled') throw new RangeError(`download ${id} is ${d.stage}`)
      // a failed download starts over from its verified offset, asking every provider again (liars excepted)
      await patch(id, { ...p, stage: 'quoting', waiting: undefined, error: undefined, needsPermission: undefined })
    })
    // the lock held elsewhere means another tab runs it: this one queues for the lock (and shows that) and goes on after it
    void run(id)
  }
  const resume = async (id: string): Promise<void> => { await resumeWith(id, {}) }

  const cancel = async (id: string): Promise<void> => {
    get(id)
    if (elsewhere.has(id)) throw new DownloadInOtherTabError(id)
    const ac = running.get(id)
    if (ac !== undefined) { ac.abort(new StoppedByUser('cancelled')); return }
    let discarded = false
    const held = await tryDownloadLock(id, async () => {
      const d = await reread(id)
      if (d.stage === 'cancelled' || (d.stage === 'done' && d.sink === 'picked')) return // nothing to do; a picked file is the user's now
      await patch(id, { stage: 'cancelled', waiting: undefined })
      discarded = true
    })
    if (!held) throw new DownloadInOtherTabError(id)
    if (discarded) await discard(id)
  }

  const downloadedFile = async (id: string): Promise<File> => {
    const d = get(id)
    if (d.stage !== 'done' || d.sink !== 'opfs') throw new DownloadNotReadyError(d.sink === 'picked' ? `${d.name} was saved to the file you picked` : `${d.name} is ${d.stage}, not done`)
    const f = await files.file(d.opfsName, d.name)
    if (f === null) throw new DownloadNotReadyError(`${d.name}'s bytes are gone from this browser's storage: download it again`)
    return f
  }

  const handle = async (id: string): Promise<FileSystemFileHandle> => {
    get(id)
    const h = await store.handle(id)
    if (h === undefined) throw new DownloadNotReadyError('this download saves to browser storage, not to a picked file')
    return h
  }

  // ---- channels ----

  const channels = async (): Promise<ChannelRow[]> => {
    if (await keyAddress() === null) return []
    const head = lc.sync.head.header.height
    const views = await (await paychClient()).channels()
    channelRows = views.map(v => {
      const sent = v.lanes.reduce((n, l) => n + l.sent, 0n)
      const state: ChannelRow['state'] = v.collected ? 'collected' : v.channel === null ? 'creating'
        : v.settlingAt !== null && v.settlingAt !== 0 ? (head >= v.settlingAt ? 'settled' : 'settling') : v.settling ? 'settling' : 'open'
      return {
        key: v.key, channel: v.channel, channelId: v.channelId, from: v.from, to: v.to,
        balance: v.balance?.toString() ?? null, redeemed: v.toSend?.toString() ?? null, available: v.available?.toString() ?? null,
        settlingAt: v.settlingAt, sent: sent.toString(), vouchersSent: v.vouchersSent,
        lanes: v.lanes.map(l => ({ lane: l.lane, redeemed: l.redeemed.toString(), nonce: l.nonce, sent: l.sent.toString(), sentNonce: l.sentNonce, vouchers: l.vouchers })),
        state, pending: v.pending, verifiedAt: v.balance === null ? null : head
      }
    })
    changed()
    return channelRows
  }

  let refreshingChannels = false
  const refreshChannels = async (): Promise<void> => {
    if (refreshingChannels) return
    refreshingChannels = true
    try { await channels() } catch { /* no peer yet, or a read that failed: the next head tries again */ } finally { refreshingChannels = false }
  }

  const settle = async (channel: string): Promise<string> => {
    if (!keystore.isUnlocked()) throw new WalletLockedError('unlock the wallet first: Settle is signed by its key')
    const r = await (await paychClient()).settle(channel)
    void refreshChannels()
    return r.message
  }
  const collect = async (channel: string): Promise<string> => {
    if (!keystore.isUnlocked()) throw new WalletLockedError('unlock the wallet first: Collect is signed by its key')
    const r = await (await paychClient()).collect(channel)
    void refreshChannels()
    return r.message
  }

  let heads = 0
  lc.onVerified(() => {
    if (++heads % 3 === 0) void refreshChannels()
    // downloads waiting for a full node try again at each head; those waiting for the wallet, once it is unlocked
    for (const d of downloads.values()) {
      if (d.waiting === undefined || d.needsPermission === true || !RUNNING_STAGES.includes(d.stage) || running.has(d.id)) continue
      if (waitingFor.get(d.id) === 'chain' || keystore.isUnlocked()) void run(d.id)
    }
  })

  // resume what a closed tab left running (never what the user paused or cancelled)
  for (const d of downloads.values()) if (RUNNING_STAGES.includes(d.stage)) void run(d.id)
  void refreshChannels()

  /** The channel client downloads pay through, lent to previews (range-reader.ts): one lane allocator per key. */
  const payer = async (): Promise<RetrievalPayer> => {
    if (!keystore.isUnlocked()) throw new WalletLockedError('unlock the wallet first: a priced preview is paid with vouchers signed by your key')
    return await paychClient()
  }

  return { view, quote, download, pause, resume, cancel, downloadedFile, handle, channels, settle, collect, payer, finder }
}
