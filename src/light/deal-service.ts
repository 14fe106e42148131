// Storage as the tab runs it, all in the light-client worker: a file becomes a UnixFS CAR staged in OPFS,
// its piece hashed in the WASM pool as the CAR is written, providers are chosen from verified asks, proposals are signed
// by the wallet, escrow is topped up, the CAR streams to each provider (resuming where a provider stands),
// and every deal is then followed through verified state proofs, each proof re-checked in WASM here and
// the verdict kept in IndexedDB. Upload records are rewritten at every step, so a closed tab resumes.
import {
  parseAddress, addressToString, dealStorageFee,
  decodeClientDealProposal, encodeClientDealProposal, encodeBigInt, MarketMethod, STORAGE_MARKET_ADDRESS, toWireError, CID,
  paddedPieceSize, pieceCidV1, TRANSFER_ID_BYTES, HELD_ACK_BYTES, MAX_DATA_FRAME, NoProvidersError
} from '../core'
import * as dagCbor from '@ipld/dag-cbor'
import { base16 } from 'multiformats/bases/base16'
import type { BootstrapDocument, BootstrapProvider } from '../net'
import type { PiecePool, PieceResult } from '../../workers/piece-pool'
import type { LightClient } from './light-client'
import type { WalletService } from './wallet-service'
import type { WalletStore } from './wallet-store'
import { WalletLockedError } from './wallet-store'
import { lightDealChain } from './deal-chain'
import { StorageClient } from './storage-client'
import { packAndHash, openPackSink, type PackingPlatform } from './pack-piece'
import { stageTee, type StageOutcome } from './stage-tee'
import { openDealStore, type DealStore, type UploadRecord, type CopyRecord } from './deal-store'
import { createDealWatch } from './deal-watch'
import { createAuditService } from './audit-service'
import type { AuditRecord } from './audit-store'
import { describeUpload, type DealsView, type ProviderView, type ProofDetail } from './deal-views'
import { ProviderDirectory } from './provider-directory'
import { askInRounds, describeAskFailures } from './ask-rounds'
export * from './deal-views'
import type { Staging } from './staging'
import { isTabGone } from './remote-platform'

export interface UploadRequest {
  file: File
  copies: number
  periods: number
  providers?: string[]
  /** The highest ask (attoFIL per GiB per epoch) the user was shown: a provider that raised its price since is not used. */
  maxPricePerGiBEpoch?: string
}

export type { PackingPlatform } from './pack-piece'

export interface DealServiceInit {
  client: LightClient
  wallet: WalletService
  keystore: WalletStore
  bootstrap: BootstrapDocument
  pool: () => Promise<PiecePool>
  staging: Staging
  packSink?: PackingPlatform['packSink']
  onChange: (view: DealsView) => void
}

export interface DealService {
  view: () => DealsView
  /** `via`: where to pack and hash it (a shared node packs in the tab whose file it is); the node's own otherwise. */
  upload: (req: UploadRequest, via?: PackingPlatform) => Promise<string>
  /** Sends WithdrawBalance for all of the key's free escrow; the message CID. */
  withdrawEscrow: () => Promise<string>
  refreshProviders: () => Promise<ProviderView[]>
  proofDetail: (dealId: number, period: number) => Promise<ProofDetail>
  /** A spot audit of the deal now (audit-service.ts); resolves with its record, whatever the outcome. */
  auditNow: (dealId: number) => Promise<AuditRecord>
  /** Minutes between scheduled audits of each live deal while a tab is open (0 = off), kept in IndexedDB. */
  setAuditSchedule: (minutes: number) => Promise<void>
}

export class NoWalletKeyError extends Error {
  static override name = 'NoWalletKeyError'
  override name = 'NoWalletKeyError'
}

const liveCopies = (u: UploadRecord): number => (u.proposals ?? []).filter(c => c.state === 'published').length

/** Runs `fn` holding this upload's Web Lock, so two tabs never run one upload; where locks are missing (Node), just runs it. */
async function withUploadLock (id: string, fn: () => Promise<void>): Promise<void> {
  const locks = (globalThis.navigator as { locks?: { request: (name: string, opts: { ifAvailable: boolean }, cb: (lock: unknown) => Promise<void>) => Promise<void> } } | undefined)?.locks
  if (locks === undefined) { await fn(); return }
  await locks.request(`coffer-upload-${id}`, { ifAvailable: true }, async (lock) => { if (lock !== null) await fn() })
}

const READ_CHUNK = 1 << 20
/** Verified heads between re-reads of the market's providers from state (ask announcements refresh sooner). */
export const PROVIDER_REFRESH_HEADS = 5
/**
 * Blocks of silence after which a provider that announced its ask is asked again on a refresh: three of the
 * provider process's announcement intervals (5 epochs, src/node/provider/provider-process.ts). Until then its
 * announcements stand for the query, so the tab does not ask every provider every few blocks.
 */
export const ANNOUNCE_SILENCE_BLOCKS = 15
/** Audits of a deal sent to the page with each view: enough for the timeline, not an unbounded history. */
const AUDITS_SHOWN = 50

export async function createDealService (init: DealServiceInit): Promise<DealService> {
  const { client: lc, keystore } = init
  const store: DealStore = await openDealStore(lc.genesis.header.cid.toString())
  const uploads = new Map<string, UploadRecord>((await store.uploads()).map(u => [u.id, u]))
  let providers: ProviderView[] = []
  let providerErrors: DealsView['providerErrors'] = []

  // The market's providers from verified state (provider-directory.ts), not from the bootstrap document, whose
  // list only hints at addresses the chain does not give
  const directory = new ProviderDirectory({
    miners: async () => await lc.state.miners(),
    minerInfo: async (address) => (await lc.state.miner(address)).value,
    quote: async (p, signal) => {
      // asks need no key: anyone may look at the providers' terms
      const { quotes, failures } = await new StorageClient(lc.dialer, lightDealChain(lc, init.wallet, new Uint8Array()), null).quotes([p], signal)
      if (quotes[0] === undefined) throw failures[0]?.error ?? new Error('no ask')
      return quotes[0].ask
    },
    hints: init.bootstrap.providers ?? [],
    nowMs: () => Date.now(),
    announcedFreshMs: ANNOUNCE_SILENCE_BLOCKS * lc.genesis.state.blockDelaySecs * 1000,
    onChange: () => { describeProviders() }
  })
  /** Every provider the chain lists (the directory read once at least): a proposal re-asks each, so one offline is not chosen. */
  const marketProviders = async (): Promise<BootstrapProvider[]> => {
    if (directory.list().length === 0) await directory.refresh()
    return directory.all()
  }

  const save = async (u: UploadRecord): Promise<void> => { uploads.set(u.id, u); changed(); await store.putUpload(u) }
  const watch = await createDealWatch({ client: lc, wallet: init.wallet, pool: init.pool, store, uploads, save, changed: () => { changed() } })
  const faultsOf = watch.faultsOf
  // spot audits of the live deals, from the verified records (piece CID, size) and this tab's own upload (payload, peer)
  const audits = await createAuditService({
    libp2p: lc.dialer,
    store,
    target: (dealId) => {
      const d = watch.deals().find(x => x.dealId === dealId && x.status === 'active')
      const u = d === undefined ? undefined : uploads.get(d.uploadId)
      const copy = u?.proposals?.find(c => c.dealId === dealId && c.state === 'published')
      if (d === undefined || u?.carBytes === undefined || copy === undefined) return null
      return { dealId, provider: d.provider, pieceCid: CID.parse(d.pieceCid), paddedBytes: d.pieceSize, payloadBytes: u.carBytes, peerId: copy.peerId, addrs: copy.addrs }
    },
    liveDeals: () => watch.deals().filter(d => d.status === 'active').map(d => d.dealId),
    head: () => lc.sync.head.header.height,
    verify: async (pieceCid, paddedBytes, leaves, proof) => { await (await init.pool()).verifyAudit(pieceCid.bytes, paddedBytes, leaves, proof) },
    changed: () => { changed() }
  })

  let timer: ReturnType<typeof setTimeout> | undefined
  const changed = (): void => {
    if (timer !== undefined) return
    timer = setTimeout(() => { timer = undefined; init.onChange(view()) }, 100)
  }

  const clientAddress = async (): Promise<Uint8Array> => {
    const keys = await keystore.list()
    if (keys.length === 0) throw new NoWalletKeyError('create or import a wallet key first: deals are paid from it')
    if (!keystore.isUnlocked()) throw new WalletLockedError('unlock the wallet first: proposals are signed with its key')
    return parseAddress(keys[0]!.address).bytes
  }

  const storageClient = async (): Promise<{ sc: StorageClient, address: Uint8Array }> => {
    const address = await clientAddress()
    const chain = lightDealChain(lc, init.wallet, address)
    return { sc: new StorageClient(lc.dialer, chain, { address, sign: async (p) => keystore.signProposal(p) }), address }
  }

  /** The directory as the page shows it: every provider with a verified ask, online or not; errors beside. */
  function describeProviders (): void {
    const faults = faultsOf()
    const failedAudits = audits.failuresOf()
    const entries = directory.list()
    lc.noteProviderPeers(entries.map(e => e.provider.peerId))
    providers = entries.flatMap(e => e.ask === null ? [] : [{
      address: e.provider.address, pricePerGiBEpoch: e.ask.pricePerGiBEpoch.toString(), freeBytes: e.ask.freeBytes, minPieceSize: e.ask.minPieceSize,
      maxPieceSize: e.ask.maxPieceSize, collateralPerGiB: e.ask.collateralPerGiB.toString(), faults: faults.get(e.provider.address) ?? 0,
      retrievalPricePerGiB: e.ask.retrievalPricePerGiB.toString(), paymentInterval: e.ask.paymentInterval, paymentIntervalIncrease: e.ask.paymentIntervalIncrease,
      failedAudits: failedAudits.get(e.provider.address) ?? 0,
      online: e.online, peerId: e.provider.peerId, seqNo: e.ask.seqNo, expiry: e.ask.expiry, addrSource: e.addrSource,
      ...(e.heardAtMs === null ? {} : { heardAtMs: e.heardAtMs })
    }])
    providerErrors = entries.filter(e => !e.online).map(e => ({ provider: e.provider.address, error: e.error ?? 'offline' }))
    changed()
  }

  const refreshProviders = async (): Promise<ProviderView[]> => {
    await directory.refresh()
    describeProviders()
    return providers
  }

  // ---- the upload pipeline ----

  const fail = async (u: UploadRecord, err: unknown): Promise<void> => {
    await save({ ...u, stage: 'failed', error: toWireError(err) })
    await init.staging.remove(u.staging)
  }

  /** What a stage may still have queued when packing ends and finish sending: about one deal send window's floor. */
  const STAGE_FINISH_BYTES = HELD_ACK_BYTES + MAX_DATA_FRAME
  /** How long the stage plan may take (asks from every provider) before the upload goes on without stages. */
  const STAGE_PLAN_TIMEOUT_MS = 30_000
  /** Stages this worker runs for uploads it packed: a copy is proposed once its stage has ended (the provider adopts only then). */
  const stageRuns = new Map<string, Promise<StageOutcome[]>>()

  /**
   * The providers this upload will most likely go to, planned from their verified asks before the piece is
   * known: the payload is estimated from the file (its raw leaves with their CIDs and the DAG nodes above them)
   * and the piece CID is a placeholder, neither of which changes which providers fit and are cheapest in all
   * but edge cases. A copy planned elsewhere later simply sends its bytes after proposing, as before.
   */
  const stageProviders = async (u: UploadRecord): Promise<BootstrapProvider[]> => {
    const { sc } = await storageClient()
    // bounded, so a provider that never answers cannot hold the packer (which waits a queue's worth for the
    // plan): past it the upload goes on without stages, as it did before they existed
    const { quotes } = await sc.quotes(await marketProviders(), AbortSignal.timeout(STAGE_PLAN_TIMEOUT_MS))
    const payloadBytes = u.fileBytes + Math.ceil(u.fileBytes / (256 * 1024)) * 48 + 4096
    const plan = sc.plan(quotes, {
      pieceCid: pieceCidV1(new Uint8Array(32)), paddedBytes: paddedPieceSize(payloadBytes), payloadBytes, label: '', copies: u.copies, periods: u.periods,
      chosen: u.chosen, faults: faultsOf(), failedAudits: audits.failuresOf(), bytesPerSec: knownBytesPerSec(), ...(u.maxPrice === undefined ? {} : { maxPricePerGiBEpoch: BigInt(u.maxPrice) })
    })
    return plan.proposals.map(p => p.provider.provider)
  }

  /** Packs the file into the staged CAR, hashing it on the way (packAndHash) and sending it to the providers it will likely go to (stageTee): the upload leaves packing with its piece and much of its transfer done. */
  const pack = async (u: UploadRecord, file: File, via: PackingPlatform = init): Promise<UploadRecord | null> => {
    const sink = await openPackSink(via, u.staging, { onHashed: (p) => { uploads.set(u.id, { ...uploads.get(u.id)!, hashedBytes: p.bytesHashed }); changed() } })
    let lastSave = 0
    // each copy's stage waits for the plan (a queue's worth of the CAR meanwhile); any failure only means no stage
    const targets = stageProviders(u).catch(() => [] as BootstrapProvider[])
    // The same file added again after a tab closed while it was packed: its earlier stages are continued (the
    // CAR is the same bytes, packed the same way), each from what its provider holds, rather than sent again
    const earlier = new Map(([...uploads.values()].find(o => o.id !== u.id && o.stage === 'failed' && o.name === u.name && o.fileBytes === u.fileBytes && o.stages !== undefined)?.stages ?? [])
      .map(st => [st.provider, hexToBytes(st.transfer)]))
    const transfers = Array.from({ length: u.copies }, () => crypto.getRandomValues(new Uint8Array(TRANSFER_ID_BYTES)))
    const stagingClient = storageClient().then(({ sc }) => sc)
    stagingClient.catch(() => {})
    const chosen = targets.then(async (planned) => {
      const stages = planned.map((p, i) => ({ provider: p.address, transfer: bytesToHex(earlier.get(p.address) ?? transfers[i]!) }))
      // kept before the first byte goes, so a tab closed mid-packing leaves the transfer IDs to continue
      if (stages.length > 0 && uploads.get(u.id)?.stage === 'packing') await save({ ...uploads.get(u.id)!, stages })
      return stages
    })
    chosen.catch(() => {})
    const tee = stageTee(sink, transfers.map((_, i) => ({
      stage: async (chunks, signal) => {
        const p = (await targets)[i]
        const st = (await chosen)[i]
        if (p === undefined || st === undefined) throw new Error('no provider planned for this copy')
        const onProgress = (held: number): void => {
          const cur = uploads.get(u.id)
          if (cur === undefined) return
          uploads.set(u.id, { ...cur, staged: { ...cur.staged, [p.address]: held } })
          changed()
        }
        return await (await stagingClient).stage(p, hexToBytes(st.transfer), chunks, { signal, onProgress })
      }
    })))
    try {
      const { car, piece } = await packAndHash(blobChunks(file, 0), tee.sink, {
        onPacked: (n) => { if (n - lastSave >= 8 * READ_CHUNK || n === file.size) { lastSave = n; uploads.set(u.id, { ...uploads.get(u.id)!, packedBytes: n }); changed() } }
      })
      // the stages end with packing. One far behind (a slow link) stops: what it has queued goes by the deal
      // stream, which measures the link and re-plans the start as it goes (a stage has no start to keep), and
      // the asks and proposal that come next do not wait behind it. One close behind finishes.
      stageRuns.set(u.id, tee.end(STAGE_FINISH_BYTES))
      const head = tee.head()
      const stages = head === undefined ? [] : await chosen.catch(() => [])
      const packed: UploadRecord = {
        ...uploads.get(u.id)!, stage: 'hashing', root: car.root.toString(), carBytes: car.carBytes, layout: car.layout, packedBytes: file.size,
        ...(stages.length === 0 ? {} : { stages, head: bytesToHex(head!) })
      }
      // without the streamed piece, the record says 'hashing' and the staged CAR is hashed in a second pass
      if (piece === null) { await save(packed); return packed }
      uploads.set(u.id, packed)
      return await hashed(packed, piece)
    } catch (err) {
      tee.abort(err as Error) // (the sink cleans up after itself: packAndHash aborts it when packing fails, finish when closing does)
      throw err
    }
  }

  /** The piece of the staged CAR, read back in one pass: for an upload that left packing without its piece. */
  const hash = async (u: UploadRecord): Promise<UploadRecord | null> => {
    const blob = await init.staging.open(u.staging)
    if (blob === null || blob.size !== u.carBytes) throw new Error('the staged CAR is gone: add the file again')
    const pool = await init.pool()
    const r = await pool.pieceOf(blob, { onProgress: (p) => { uploads.set(u.id, { ...uploads.get(u.id)!, hashedBytes: p.bytesHashed }); changed() } })
    return await hashed(u, r)
  }

  /** The piece is known: a duplicate of a stored upload ends here, otherwise on to proposing. */
  const hashed = async (u: UploadRecord, r: PieceResult): Promise<UploadRecord | null> => {
    const pieceCid = r.v1.toString()
    // the same bytes already stored with as many live copies: do not pay twice
    const twins = [...uploads.values()].filter(o => o.id !== u.id && o.pieceCid === pieceCid)
    const stored = twins.find(o => o.stage === 'done' && liveCopies(o) >= u.copies)
    if (stored !== undefined) {
      await init.staging.remove(u.staging)
      await save({ ...uploads.get(u.id)!, stage: 'duplicate', duplicateOf: stored.id, pieceCid, paddedBytes: r.digest.paddedBytes, hashedBytes: u.carBytes })
      return null
    }
    if (twins.some(o => o.stage === 'hashing' || o.stage === 'proposing' || o.stage === 'sending')) {
      throw new Error('the same file is being stored right now: wait for that upload to finish, then add it again if you want more copies')
    }
    const next: UploadRecord = { ...uploads.get(u.id)!, stage: 'proposing', pieceCid, paddedBytes: r.digest.paddedBytes, hashedBytes: u.carBytes }
    await save(next)
    return next
  }

  /** Fees and collateral this tab has signed for but no provider has published yet: not locked, but promised. */
  const promised = (except: string): bigint => [...uploads.values()].filter(o => o.id !== except).flatMap(o => o.proposals ?? [])
    .filter(c => c.state === 'sending')
    .reduce((sum, c) => { const p = decodeClientDealProposal(c.signed).proposal; return sum + dealStorageFee(p) + p.clientCollateral }, 0n)

  let proposing: Promise<unknown> = Promise.resolve()
  const propose = async (u: UploadRecord): Promise<UploadRecord> => {
    // one upload at a time: each counts the escrow the others have promised
    const run = proposing.then(async () => await proposeNow(u))
    proposing = run.catch(() => {})
    return await run
  }

  const proposeNow = async (u: UploadRecord): Promise<UploadRecord> => {
    // the stages end first (the provider adopts one only then), so the asks below do not wait behind their bytes
    await stageRuns.get(u.id)
    const { sc, address } = await storageClient()
    const chain = lightDealChain(lc, init.wallet, address)
    // an AddBalance a closed tab sent and never saw land: wait for it rather than send a second one
    if (u.pendingEscrow !== undefined) await chain.waitFor(u.pendingEscrow).catch(() => {})
    const chosen = u.chosen
    const { quotes, failures } = await askInRounds({
      providers: await marketProviders(),
      quotes: async (list) => await sc.quotes(list),
      enough: (qs) => qs.filter(q => chosen === undefined || chosen.includes(q.provider.address)).length >= u.copies,
      nextHead: async () => { await new Promise<void>(resolve => { const off = lc.onVerified(() => { off(); resolve() }) }) }
    })
    if (quotes.length === 0 && failures.length > 0) throw new NoProvidersError(`no provider answered: ${describeAskFailures(failures)}`)
    const planInit = {
      pieceCid: CID.parse(u.pieceCid!), paddedBytes: u.paddedBytes!, payloadBytes: u.carBytes!, label: u.root!, copies: u.copies,
      periods: u.periods, chosen: u.chosen, faults: faultsOf(), failedAudits: audits.failuresOf(), bytesPerSec: knownBytesPerSec(), ...(u.maxPrice === undefined ? {} : { maxPricePerGiBEpoch: BigInt(u.maxPrice) })
    }
    const first = (() => {
      try { return sc.plan(quotes, planInit) } catch (err) {
        // which providers were never heard from says more than "0 of 0 take the piece"
        if ((err as Error).name === 'NoProvidersError' && failures.length > 0) throw new NoProvidersError(`${(err as Error).message}; ${describeAskFailures(failures)}`)
        throw err
      }
    })()
    // escrow before any byte moves: a wallet that cannot pay is told so here
    const escrow = await sc.ensureEscrow(first.escrowNeeded + promised(u.id), (cid) => { void save({ ...uploads.get(u.id)!, pendingEscrow: cid }) })
    // planned again now that the escrow has landed, so the start epoch still leaves time for the transfer
    const plan = sc.plan(quotes.filter(q => first.proposals.some(p => p.provider.provider.address === q.provider.address)), planInit)
    const proposals: CopyRecord[] = []
    for (const p of plan.proposals) {
      const signed = await sc.sign(p.proposal)
      proposals.push({ provider: p.provider.provider.address, peerId: p.provider.provider.peerId, addrs: p.provider.provider.addrs, signed: encodeClientDealProposal(signed), state: 'sending', held: 0 })
    }
    const { pendingEscrow, waiting, ...rest } = uploads.get(u.id)!
    void pendingEscrow
    void waiting
    const next: UploadRecord = { ...rest, stage: 'sending', client: addressToString(address, 't'), proposals, ...(escrow.message === undefined ? {} : { escrowMessage: escrow.message }) }
    await save(next)
    return next
  }

  /** The rate this tab measured on its earlier transfers (median), so the next plan starts from it. */
  const knownBytesPerSec = (): number | undefined => {
    const rates = [...uploads.values()].flatMap(o => o.proposals ?? []).map(c => c.bytesPerSec).filter((r): r is number => r !== undefined && r > 0).sort((a, b) => a - b)
    return rates.length === 0 ? undefined : rates[Math.floor(rates.length / 2)]
  }

  const send = async (u: UploadRecord): Promise<void> => {
    const blob = await init.staging.open(u.staging)
    // sending needs no key (the proposals are signed): a reopened tab resumes with its wallet still locked;
    // only a re-plan (a later start) needs the key again, and waits for it
    const client = parseAddress(u.client).bytes
    const sc = new StorageClient(lc.dialer, lightDealChain(lc, init.wallet, client), { address: client, sign: async (p) => keystore.signProposal(p) })
    const update = async (i: number, patch: Partial<CopyRecord>, persist: boolean): Promise<void> => {
      const cur = uploads.get(u.id)!
      const copies = cur.proposals!.map((c, j) => j === i ? { ...c, ...patch } : c)
      const next = { ...cur, proposals: copies }
      if (persist) await save(next)
      else { uploads.set(u.id, next); changed() }
    }
    let locked: Error | undefined
    // a provider adopts a stage only once it has ended (stopped when packing ended; its last frames in flight)
    await stageRuns.get(u.id)
    stageRuns.delete(u.id)
    await Promise.all(u.proposals!.map(async (copy, i) => {
      if (copy.state !== 'sending') return
      const stage = u.stages?.find(s => s.provider === copy.provider)
      const staged = stage === undefined || u.head === undefined ? undefined : { transfer: hexToBytes(stage.transfer), head: hexToBytes(u.head) }
      try {
        if (blob === null) throw new Error('the staged CAR is gone: the transfer cannot resume')
        const target = { address: copy.provider, peerId: copy.peerId, addrs: copy.addrs }
        const r = await sc.store(target, decodeClientDealProposal(copy.signed), u.carBytes!, (offset) => blobChunks(blob, offset), {
          knownBytesPerSec: knownBytesPerSec(),
          ...(staged === undefined ? {} : { staged }),
          onProgress: (held, _, bytesPerSec) => { void update(i, { held, ...(bytesPerSec === null ? {} : { bytesPerSec }) }, false) },
          onReplan: async (re) => {
            const cur = uploads.get(u.id)!.proposals![i]!
            await update(i, { signed: encodeClientDealProposal(re.proposal), replans: (cur.replans ?? 0) + 1, lastReplan: { reason: re.reason, startEpoch: re.proposal.proposal.startEpoch, bytesPerSec: re.bytesPerSec, held: re.held } }, true)
          }
        })
        await update(i, { state: 'published', held: u.carBytes!, dealId: r.dealId, message: r.message, confirmed: r.confirmed }, true)
      } catch (err) {
        // a re-plan that needs the locked wallet: the copy stays 'sending' (its bytes staged on both sides)
        if ((err as Error).name === 'WalletLockedError') { locked = err as Error; await update(i, {}, true); return }
        await update(i, { state: 'failed', error: toWireError(err) }, true)
      }
    }))
    if (locked !== undefined) { await save({ ...uploads.get(u.id)!, waiting: `a copy needs a later start, signed by your key: ${locked.message}` }); return }
    const done = uploads.get(u.id)!
    await init.staging.remove(u.staging)
    const published = done.proposals!.some(c => c.state === 'published')
    await save({ ...done, stage: published ? 'done' : 'failed', ...(published ? {} : { error: { name: 'UploadFailedError', message: 'no provider took the file' } }) })
    void watch.refresh()
  }

  /** Uploads running in this worker: a resume (unlock, reopened tab) never starts a second run of one. */
  const running = new Set<string>()
  const run = async (u: UploadRecord, file?: File, via?: PackingPlatform): Promise<void> => {
    if (running.has(u.id)) return
    running.add(u.id)
    try {
      await withUploadLock(u.id, async () => {
        // whatever it waited for is being retried now; it says so again if it still has to wait
        const cur = uploads.get(u.id) ?? u
        if (cur.waiting !== undefined) await save({ ...cur, waiting: undefined })
        await runLocked(uploads.get(u.id) ?? cur, file, via)
      })
    } finally { running.delete(u.id) }
  }

  const runLocked = async (u: UploadRecord, file?: File, via?: PackingPlatform): Promise<void> => {
    try {
      let cur: UploadRecord | null = u
      if (cur.stage === 'packing') {
        if (file === undefined) throw new Error('the tab closed while the file was being packed: add the file again')
        cur = await pack(cur, file, via)
      }
      // packing hashes as it goes; this pass is for a record left in 'hashing' (a failed stream, an older version)
      if (cur?.stage === 'hashing') cur = await hash(cur)
      if (cur === null) return
      if (cur.stage === 'proposing') cur = await propose(cur)
      if (cur.stage === 'sending') await send(cur)
    } catch (err) {
      const name = (err as Error).name
      // nothing is lost by waiting for the user's key: the upload waits in `proposing`, its CAR kept. Nor by a shared
      // node's tab closing under a pass over the staged CAR (remote-platform.ts): another tab takes it at a later head
      const tabGone = isTabGone(err as Error) && uploads.get(u.id)?.stage !== 'packing'
      if (name === 'WalletLockedError' || name === 'NoWalletKeyError' || tabGone) await save({ ...uploads.get(u.id)!, waiting: (err as Error).message })
      else await fail(uploads.get(u.id) ?? u, err)
    }
  }

  const upload = async (req: UploadRequest, via?: PackingPlatform): Promise<string> => {
    if (!(req.copies >= 1 && req.copies <= 10) || !(req.periods >= 1 && req.periods <= 10_000)) throw new RangeError('copies must be 1..10 and periods 1..10000')
    const client = addressToString(await clientAddress(), 't') // a locked or empty wallet is refused before any work
    const id = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`
    const u: UploadRecord = {
      id, name: req.file.name, fileBytes: req.file.size, createdAtMs: Date.now(), stage: 'packing', client, copies: req.copies, periods: req.periods,
      ...(req.providers !== undefined && req.providers.length > 0 ? { chosen: req.providers } : {}), staging: `${id}.car`,
      ...(req.maxPricePerGiBEpoch === undefined ? {} : { maxPrice: BigInt(req.maxPricePerGiBEpoch).toString() })
    }
    await save(u)
    void run(u, req.file, via)
    return id
  }

  let heads = 0
  lc.onVerified(() => {
    if (++heads % 2 === 0) void watch.refresh()
    // a provider that joined (or left) shows within a few blocks even when no announcement reached us
    if (heads % PROVIDER_REFRESH_HEADS === 0) void directory.refresh().catch(() => {})
    // uploads waiting for the wallet go on once it is unlocked
    if (keystore.isUnlocked()) for (const u of uploads.values()) if (u.waiting !== undefined && !running.has(u.id) && (u.stage === 'hashing' || u.stage === 'proposing' || u.stage === 'sending')) void run(u)
  })

  const view = (): DealsView => {
    const list = [...uploads.values()].sort((a, b) => b.createdAtMs - a.createdAtMs)
    return {
      uploads: list.map(describeUpload),
      deals: watch.deals().map(d => ({ ...d, audits: audits.auditsOf(d.dealId).slice(-AUDITS_SHOWN) })),
      providers,
      providerErrors,
      escrow: watch.escrow(),
      epochSeconds: lc.genesis.state.blockDelaySecs,
      auditEveryMinutes: audits.everyMinutes()
    }
  }

  const withdrawEscrow = async (): Promise<string> => {
    const address = await clientAddress()
    const v = (await lc.state.escrow(address)).value
    const free = v.escrow - v.locked
    if (free <= 0n) throw new RangeError('no free escrow to withdraw: what is there is locked by live deals')
    return await init.wallet.message({
      from: addressToString(address, 't'), to: addressToString(STORAGE_MARKET_ADDRESS, 't'), value: 0n, method: MarketMethod.WithdrawBalance,
      params: dagCbor.encode([address, encodeBigInt(free)]), label: 'WithdrawBalance'
    })
  }

  // a verified ask announcement updates its provider at once (a new one is asked for its ask and shown)
  lc.onAsk((a) => { void directory.announced(a).catch(() => {}) })

  // resume what a closed tab left
  for (const u of uploads.values()) {
    if (u.stage === 'packing' || u.stage === 'hashing' || u.stage === 'proposing' || u.stage === 'sending') void run(u)
  }
  void watch.refresh()

  return {
    view, upload, withdrawEscrow, refreshProviders, proofDetail: watch.proofDetail,
    auditNow: async (dealId) => await audits.auditNow(dealId),
    setAuditSchedule: async (minutes) => { await audits.setEveryMinutes(minutes) }
  }
}


async function * blobChunks (blob: Blob, offset: number): AsyncIterable<Uint8Array> {
  for (let at = offset; at < blob.size; at += READ_CHUNK) yield new Uint8Array(await blob.slice(at, at + READ_CHUNK).arrayBuffer())
}

const bytesToHex = (b: Uint8Array): string => base16.baseEncode(b)
const hexToBytes = (h: string): Uint8Array => base16.baseDecode(h)
