// A storage provider: its own libp2p identity, worker key and folder; it answers asks, takes deals over
// `/coffer/deal/1.0.0` (checking each proposal before a byte moves and the bytes against the proposed
// piece before publishing), and in every proving period proves each of its active deals from the bytes on
// disk. It talks to the chain only through messages signed by its worker, as any provider would.
// Nothing is locked on chain before publication, so the provider bounds what an accepted proposal may hold:
// a client's running transfers count against its escrow and against a per-client share of the capacity, at
// most MAX_TRANSFERS run at once, each holds room only a bounded stretch ahead of its bytes, everything staged
// counts as used space, a start may be at most MAX_START_DELAY_SECS ahead, and staged bytes
// left idle expire. Staged bytes are kept by client and piece, not by proposal: a client whose start came too
// soon signs a later one for the same piece and resumes from what is staged (or goes straight to publication).
import { workerAddress } from './provider-keys'
import { open, rename, copyFile, type FileHandle } from 'node:fs/promises'
import { constants as fsConstants } from 'node:fs'
import {
  DealRejectedError, isDiskFullError, verifyClientDealProposal, dealProposalCid, bytesEqual, readEscrow, readDeal, dealStorageFee, dealStatus,
  askPricePerEpoch, askCollateral, signStorageAsk, signMessage, encodeClientDealProposal,
  encodeSubmitPossessionProofs, challengeSeed, beaconEntryForEpoch, beaconTimingOf, type BeaconEntry, dealProofSet, gasLimitFor, addressToString, idAddressBytes,
  MarketMethod, ExitCode, TRANSFER_GAS_FEE_CAP, TRANSFER_GAS_PREMIUM, paddedPieceSize, isKeyAddress, getActor, signedMessageCid, CID,
  type DealRequest, type SignedStorageAsk, type StorageAsk, type Message, type SealedHeader, type Genesis,
  type BlockGetter, type DealProposal, type AttoFil, type Epoch, type NodeHasher
} from '../../core'
import * as dagCbor from '@ipld/dag-cbor'
import type { PayloadSink, DealHandler, RetrievalTerms } from '../../net'
import { pieceOfFile, pieceWriter, type PieceWriter } from '../piece-file'
import { provePossessionFromFiles } from '../prove-possession'
import { fileStamp, removePieceTree, writePieceTree } from './piece-tree-cache'
import type { MsgLookup } from '../rpc/backend'
import { ProviderStore, stagingKey, type StoredDeal, type PendingPublication } from './provider-store'
import { Prestage, PRESTAGE_FILE_PREFIX, type Adopted } from './prestage'
import { defaultProviderLimits, type ProviderAskInit, type ProviderLimits } from './provider-limits'
export * from './provider-limits'

/** What a provider needs of a full node: the head, message submission, and reads of the head's state. */
export interface ProviderChain {
  readonly genesis: Genesis
  head: () => SealedHeader
  nextHead: (signal: AbortSignal) => Promise<void>
  /** The first block at or above `height` on the heaviest chain up to the head (past null rounds), or undefined. */
  headerAtOrAbove: (height: Epoch) => Promise<SealedHeader | undefined>
  mpoolNonce: (address: Uint8Array) => Promise<number>
  mpoolPush: (sm: ReturnType<typeof signMessage>) => Promise<CID>
  waitMessage: (cid: CID, signal: AbortSignal) => Promise<MsgLookup>
  /** The message's receipt if the chain has executed it, null if not (yet). */
  searchMessage: (cid: CID) => Promise<MsgLookup | null>
  /** Reads the state the head names (its ParentStateRoot). */
  readState: <T>(read: (store: BlockGetter, root: CID) => T) => T
}

export interface StorageProviderInit {
  id: number
  store: ProviderStore
  workerKey: Uint8Array
  chain: ProviderChain
  ask: ProviderAskInit
  /** Any left out take defaultProviderLimits(ask). */
  limits?: Partial<ProviderLimits>
  hasher?: NodeHasher
  log?: (line: string) => void
  nowMs?: () => number
  /**
   * False while the provider takes no new deals (`coffer provider stop-deals`): proposals are refused CLOSED and
   * the ask offers no room; live deals are proven as before. Asked on every proposal and ask; always true when left out.
   */
  acceptingDeals?: () => boolean
}

/** Epochs a proposal must leave between now and its start: time to receive, check and publish. */
export const MIN_START_DELAY: Epoch = 5
/** Free escrow the provider keeps for collateral; it tops up from its worker below this. */
export const ESCROW_LOW_WATER: AttoFil = 10n * 10n ** 18n
export const ESCROW_TOP_UP: AttoFil = 100n * 10n ** 18n
/**
 * What a top-up leaves the worker for gas: the worker pays every publication, proof and redeem. Gas costs about
 * 1e9 attoFIL a message here (a million gas at 300 attoFIL), so this is a long life of messages; a faucet-funded
 * worker holds far less than ESCROW_TOP_UP, and its top-up takes what the balance allows above this.
 */
export const WORKER_GAS_RESERVE: AttoFil = 10n ** 18n

/**
 * A transfer running on a stream: an accepted proposal not yet published. It holds room up to `reserved` bytes
 * of staging, and what publishing it will lock of its client's escrow, until it is published, refused or dropped.
 */
interface Transfer {
  key: string
  client: string
  pieceSize: number
  /** Bytes in its staging file so far. */
  staged: number
  /**
   * Room it holds (staged bytes included): its whole piece while it is admitted, then its staged bytes plus
   * reserveAheadBytes, extended as it writes. A transfer's hold on the disk grows only with bytes it has sent,
   * so a slow one holds little: the whole piece, held from the start, outlived what a transfer at the rate
   * floor could ever deliver (two clients with 16 GiB pieces at 16 KiB/s each held a 32 GiB devnet for 12 days).
   */
  reserved: number
  /** Storage fee plus client collateral. */
  owed: AttoFil
}

export class StorageProvider implements DealHandler {
  readonly address: Uint8Array
  readonly worker: Uint8Array
  readonly limits: ProviderLimits
  /** Running transfers by proposal CID. */
  private readonly transfers = new Map<string, Transfer>()
  /** Staging keys being written, and by which proposal: one stream per staged piece. */
  private readonly writers = new Map<string, string>()
  /**
   * Staged files whose bytes were hashed and match their piece, by key (nothing has written to them since), with the
   * segment roots that hashing gave (none when it did not keep them): a re-signed proposal for the same bytes (a
   * later start) is not hashed again, and its piece tree is written under its own name from these.
   */
  private readonly verified = new Map<string, Uint8Array[] | undefined>()
  private readonly proving = new Map<string, 'sent' | 'failed'>()
  private sending: Promise<unknown> = Promise.resolve()
  private roomChecks: Promise<unknown> = Promise.resolve()
  /**
   * The ask's SeqNo: seeded with the clock so a restarted provider's asks still supersede those it announced
   * before (gossip keeps each miner's highest SeqNo, as Filecoin's ask store persists its SeqNo for the same reason).
   */
  private seqNo: number
  /** Bytes peers send before proposing; a DealRequest naming the transfer adopts them. */
  readonly prestage: Prestage
  private readonly stopped = new AbortController()
  private loop: Promise<void> | undefined
  private unfundedLogged = false

  constructor (private readonly init: StorageProviderInit) {
    this.address = idAddressBytes(init.id)
    this.worker = workerAddress({ worker: init.workerKey })
    this.limits = { ...defaultProviderLimits(init.ask), ...init.limits }
    this.seqNo = Math.floor(this.nowMs())
    this.prestage = new Prestage({
      store: init.store, limits: this.limits.prestage, freeBytes: async () => await this.freeBytes(), withRoom: async (fn) => await this.withRoom(fn),
      log: (line) => { this.log(line) }, nowMs: () => this.nowMs()
    })
  }

  private log (line: string): void { this.init.log?.(`provider ${addressToString(this.address)}: ${line}`) }
  private nowMs (): number { return this.init.nowMs?.() ?? Date.now() }
  get store (): ProviderStore { return this.init.store }
  get chain (): ProviderChain { return this.init.chain }

  /** The retrieval terms of the ask as it stands (what a retrieval is served under). */
  retrievalTerms (): RetrievalTerms {
    const a = this.init.ask
    return { pricePerGiB: a.retrievalPricePerGiB, paymentInterval: a.paymentInterval, paymentIntervalIncrease: a.paymentIntervalIncrease }
  }

  /** Signs and pushes a message from the worker in this provider's nonce order (the retrieval server's redeems). */
  async pushFromWorker (to: Uint8Array, method: number, params: Uint8Array, beforePush?: (cid: CID, nonce: number) => Promise<void>): Promise<CID> {
    return await this.push(to, method, params, 0n, beforePush)
  }

  /** Starts the proving loop (and tops up collateral escrow). */
  start (): void {
    this.loop = this.run().catch((err: Error) => { if (!this.stopped.signal.aborted) this.log(`stopped: ${err.message}`) })
  }

  async stop (): Promise<void> {
    this.stopped.abort()
    await this.loop
  }

  /**
   * Bytes this provider can still promise: capacity less stored pieces and everything staged (a staged file
   * is disk handed out, whoever it is for), less the room running transfers hold beyond their staged bytes.
   */
  private async freeBytes (excluding?: string): Promise<number> {
    const a = this.init.ask
    const store = this.init.store
    const used = await store.piecesBytes() + await store.stagingBytes()
    let owed = 0
    for (const [cid, t] of this.transfers) if (cid !== excluding) owed += Math.max(0, t.reserved - t.staged)
    owed += this.prestage.heldAhead()
    return Math.min(a.capacityBytes - used, await store.diskFreeBytes()) - owed
  }

  /** False after `coffer provider stop-deals`: no new deals, live ones proven to their end. */
  get acceptingDeals (): boolean { return this.init.acceptingDeals?.() ?? true }

  async ask (): Promise<SignedStorageAsk> {
    const a = this.init.ask
    const head = this.init.chain.head().header.height
    // Filecoin's ask has no "closed" field: a provider taking no deals offers no room for any piece (FreeBytes and
    // MaxPieceSize 0), which every client's choice of providers already skips
    const open = this.acceptingDeals
    const ask: StorageAsk = {
      pricePerGiBEpoch: a.pricePerGiBEpoch, verifiedPricePerGiBEpoch: a.pricePerGiBEpoch, minPieceSize: a.minPieceSize, maxPieceSize: open ? a.maxPieceSize : 0,
      miner: this.address, timestamp: head, expiry: head + 600, seqNo: this.seqNo++, freeBytes: open ? Math.max(0, await this.freeBytes()) : 0, collateralPerGiB: a.collateralPerGiB,
      retrievalPricePerGiB: a.retrievalPricePerGiB, paymentInterval: a.paymentInterval, paymentIntervalIncrease: a.paymentIntervalIncrease,
      ...(a.gatewayUrl === undefined ? {} : { gatewayUrl: a.gatewayUrl })
    }
    return signStorageAsk(this.init.workerKey, this.worker, ask)
  }

  // ---- taking deals ----

  /** The earliest start a proposal may name now: MIN_START_DELAY past the head, on a period boundary. */
  private earliestStart (head: Epoch): Epoch {
    const P = this.init.chain.genesis.state.market.provingPeriod
    return Math.ceil((head + MIN_START_DELAY) / P) * P
  }

  private latestStart (head: Epoch): Epoch {
    return head + Math.floor(this.limits.maxStartDelaySecs / this.init.chain.genesis.state.blockDelaySecs)
  }

  /** A START refusal says where the head is and which starts would do, so the client re-signs without guessing. */
  private startError (why: string, head: Epoch): DealRejectedError {
    return new DealRejectedError('START', `${why} (head ${head}): sign a start from ${this.earliestStart(head)} to ${this.latestStart(head)}, on a ${this.init.chain.genesis.state.market.provingPeriod}-epoch period boundary`, { earliestStart: this.earliestStart(head) })
  }

  /** Everything about a proposal that needs no disk: it is checked, and the transfer claimed, in one synchronous step. */
  private check (req: DealRequest): Omit<Transfer, 'staged' | 'reserved'> {
    const p = req.proposal.proposal
    try { verifyClientDealProposal(req.proposal) } catch (err) { throw new DealRejectedError('PROPOSAL', (err as Error).message) }
    if (!bytesEqual(p.provider, this.address)) throw new DealRejectedError('PROPOSAL', `the proposal is for ${addressToString(p.provider)}, not ${addressToString(this.address)}`)
    if (!this.acceptingDeals) throw new DealRejectedError('CLOSED', `${addressToString(this.address)} takes no new deals (its operator ran stop-deals); its live deals run to their end`)
    // the market refuses any other client at publication (market-actor): refused here before a byte moves,
    // and it keeps one name per client for the staging key
    if (!isKeyAddress(p.client)) throw new DealRejectedError('PROPOSAL', 'the client must be a key address')
    const a = this.init.ask
    if (paddedPieceSize(req.payloadBytes) !== p.pieceSize) throw new DealRejectedError('SIZE', `${req.payloadBytes} payload bytes make a ${paddedPieceSize(req.payloadBytes)}-byte piece, the proposal says ${p.pieceSize}`)
    if (p.pieceSize < a.minPieceSize || p.pieceSize > a.maxPieceSize) throw new DealRejectedError('SIZE', `pieces of ${a.minPieceSize}..${a.maxPieceSize} bytes only`)
    if (p.storagePricePerEpoch < askPricePerEpoch(a, p.pieceSize)) throw new DealRejectedError('PRICE', `the price is below the ask (${askPricePerEpoch(a, p.pieceSize)} attoFIL per epoch)`)
    if (p.providerCollateral > askCollateral(a, p.pieceSize)) throw new DealRejectedError('PRICE', 'the proposal asks for more collateral than the ask offers')
    const P = this.init.chain.genesis.state.market.provingPeriod
    const head = this.init.chain.head().header.height
    if (p.startEpoch % P !== 0 || (p.endEpoch - p.startEpoch) % P !== 0) throw this.startError(`deals start on a period boundary and last whole periods; this one starts at ${p.startEpoch} and ends at ${p.endEpoch}`, head)
    if (p.startEpoch < head + MIN_START_DELAY) throw this.startError(`the deal starts at ${p.startEpoch}, too soon to receive, check and publish it`, head)
    // bounded, or a transfer dropped half way would have nothing to say when it can be forgotten, and the
    // provider would promise room for a start nobody can plan for
    if (p.startEpoch > this.latestStart(head)) throw this.startError(`the deal starts at ${p.startEpoch}, further ahead than ${this.limits.maxStartDelaySecs} s`, head)
    const client = addressToString(p.client)
    const key = stagingKey(client, p.pieceCid.toString(), req.payloadBytes)
    const owed = dealStorageFee(p) + p.clientCollateral
    // escrow is locked only at publication, so what this client's running transfers will lock is spoken for.
    // A dropped transfer no longer counts: nothing of it can be published until the client proposes again,
    // and that proposal is checked here in turn (with the staged bytes counted as space meanwhile).
    // A transfer of the same piece under an older proposal is not counted: the client re-signed a later start
    // for the same deal, and the two can never both publish (one staging file; the old one is refused BUSY
    // below until its stream ends)
    let others = 0n
    for (const t of this.transfers.values()) if (t.client === client && t.key !== key) others += t.owed
    const escrow = this.init.chain.readState((s, r) => readEscrow(s, r, p.client))
    if (escrow.escrow - escrow.locked < owed + others) {
      throw new DealRejectedError('FUNDS', `the client's free escrow (${escrow.escrow - escrow.locked} attoFIL) does not cover this deal (${owed}) with its other proposals this provider has accepted and not yet published (${others})`)
    }
    const own = this.init.chain.readState((s, r) => readEscrow(s, r, this.address))
    if (own.escrow - own.locked < p.providerCollateral) throw new DealRejectedError('FUNDS', 'this provider\'s free escrow does not cover the collateral right now; try again shortly')
    return { key, client, owed, pieceSize: p.pieceSize }
  }

  async accept (req: DealRequest, peer?: string): ReturnType<DealHandler['accept']> {
    try {
      return await this.acceptNow(req, peer)
    } catch (err) {
      // the operator sees every refusal with its reason, as the client does (a client retries FUNDS and BUSY)
      if (err instanceof DealRejectedError) this.log(`refused ${dealProposalCid(req.proposal.proposal).toString()} from ${peer ?? 'a client'}: ${err.code}: ${err.message}`)
      throw err
    }
  }

  private async acceptNow (req: DealRequest, peer?: string): ReturnType<DealHandler['accept']> {
    const p = req.proposal.proposal
    const proposalCid = dealProposalCid(p).toString()
    const stored = this.init.store.byProposal(proposalCid)
    if (stored !== undefined) return { published: { dealId: stored.dealId, message: stored.publishMessage } }
    const checked = this.check(req)
    const { key, client } = checked
    // claimed before the first await, and held until the deal is published or refused or the stream drops: a
    // second stream for the same proposal, or for the same client's piece under another proposal (a re-signed
    // start while the old stream is still open), is refused, never run alongside it on the same file
    if (this.transfers.has(proposalCid)) throw new DealRejectedError('BUSY', 'this proposal\'s data is already arriving on another stream')
    if (this.writers.has(key)) throw new DealRejectedError('BUSY', 'another proposal of this client\'s for the same piece is still running on another stream; ask again once it ends')
    const mine = [...this.transfers.values()].filter(t => t.client === client)
    if (mine.length >= this.limits.maxClientTransfers) throw new DealRejectedError('CLIENT_LIMIT', `this client already runs ${mine.length} transfers here, the most one client may`)
    // BUSY, not SPACE: a slot frees as soon as any transfer ends, and the client asks again shortly
    if (this.transfers.size >= this.limits.maxTransfers) throw new DealRejectedError('BUSY', `this provider already runs ${this.transfers.size} transfers, the most it runs at once; ask again shortly`)
    if (this.init.store.pendingByProposal(proposalCid) !== undefined) throw new DealRejectedError('BUSY', 'this proposal\'s publication is on its way to the chain; ask again shortly for its deal ID')
    // the whole piece is held while it is admitted (its room is checked against everything else held), then
    // only what it has staged and the stretch ahead
    const transfer: Transfer = { ...checked, staged: 0, reserved: checked.pieceSize }
    this.transfers.set(proposalCid, transfer)
    this.writers.set(key, proposalCid)
    try {
      return await this.admit(req, proposalCid, transfer, peer)
    } catch (err) {
      this.release(proposalCid, transfer)
      throw err
    }
  }

  private release (proposalCid: string, t: Transfer): void {
    this.transfers.delete(proposalCid)
    if (this.writers.get(t.key) === proposalCid) this.writers.delete(t.key)
  }

  /**
   * Runs `fn` with no other room check in between: each check reads the folder and then raises a reservation,
   * and two interleaved ones would each count the room the other is about to take.
   */
  private async withRoom<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.roomChecks.then(fn)
    this.roomChecks = run.catch(() => {})
    return await run
  }

  private async admit (req: DealRequest, proposalCid: string, t: Transfer, peer?: string): Promise<{ offset: number, sink: PayloadSink }> {
    const p = req.proposal.proposal
    const store = this.init.store
    const staging = store.stagingPath(t.key)
    // bytes this peer staged before it had the proposal: now this proposal's, resumed from like any staged bytes
    let adopted: Adopted | undefined
    if (req.transfer !== undefined && peer !== undefined) {
      this.verified.delete(t.key)
      adopted = await this.prestage.adopt(peer, req.transfer, req.head, staging, req.payloadBytes)
    }
    let offset = await store.sizeOf(staging)
    if (offset > req.payloadBytes) { await store.remove(staging); this.verified.delete(t.key); offset = 0 }
    // the same client's piece is already stored here under a proposal published earlier (a re-signed start
    // crossed with the publication of the one it replaced): its bytes are copied, not sent again, and hashed
    // against this proposal before it is published in turn
    if (offset === 0 && store.pendingAll().some(x => x.stagingKey === t.key)) {
      throw new DealRejectedError('BUSY', 'this client\'s piece was sent to the chain under another proposal and the provider has not yet seen it land; ask again shortly')
    }
    const sibling = offset === 0 ? await this.storedSibling(t.client, p.pieceCid.toString(), req.payloadBytes) : undefined
    t.staged = offset
    await this.withRoom(async () => {
      // what one client holds: its other running transfers' whole pieces, and its staged bytes no stream is writing
      let running = 0
      for (const [cid, x] of this.transfers) if (cid !== proposalCid && x.client === t.client) running += x.pieceSize
      if (running + p.pieceSize > this.limits.maxClientBytes) {
        throw new DealRejectedError('CLIENT_LIMIT', `this client's running transfers here hold ${running} bytes; with this ${p.pieceSize}-byte piece they would pass the ${this.limits.maxClientBytes} one client may hold. This clears as they finish or end`)
      }
      // its idle staged files (uploads it dropped) are its own to trade: the oldest go first to make room for
      // this piece, rather than refusing the client for the hour they take to expire
      const idle = (await store.stagedFiles()).filter(f => f.client === t.client && f.key !== t.key && !this.writers.has(f.key)).sort((a, b) => a.touchedMs - b.touchedMs)
      let held = running + idle.reduce((n, f) => n + f.bytes, 0)
      const evict: typeof idle = []
      for (const f of idle) {
        if (held + p.pieceSize <= this.limits.maxClientBytes) break
        evict.push(f)
        held -= f.bytes
      }
      // room: other transfers hold what they have reserved beyond their bytes; everything staged is used (this
      // piece's bytes too), less what this admission would evict
      const freed = evict.reduce((n, f) => n + f.bytes, 0)
      const free = await this.freeBytes(proposalCid) + freed
      const need = p.pieceSize - (sibling === undefined ? offset : 0)
      if (free < need) throw new DealRejectedError('SPACE', `${Math.max(0, free)} bytes free, the piece needs ${need} more`)
      for (const f of evict) {
        await store.remove(store.stagingPath(f.key))
        this.verified.delete(f.key)
        this.log(`staging: ${f.key} (${f.bytes} bytes) dropped to make room for the same client's new piece`)
      }
      if (sibling !== undefined) {
        await copyFile(sibling, staging, fsConstants.COPYFILE_FICLONE)
        offset = t.staged = await store.sizeOf(staging)
        this.log(`${proposalCid}: the piece is already stored here for this client; copied from ${store.relative(sibling)}`)
      }
      t.reserved = Math.min(p.pieceSize, offset + this.limits.reserveAheadBytes)
    })
    const file: FileHandle = await open(staging, 'a')
    // resuming counts as use: the idle expiry starts over
    await this.init.store.touch(staging)
    const closeFile = async (): Promise<void> => { await file.close().catch(() => {}) }
    // Frames are hashed as they arrive (the process's shared pool), so the last byte leaves only the piece's
    // top to combine, not a second pass over the file. A transfer that resumes from staged bytes (or a copied
    // sibling) is hashed from disk at the end instead: feeding a large prefix here would hold the stream back
    // before its first frame. A stream that fails (a hashing worker died) falls back to the same pass.
    // an adopted stage hashed as it arrived (with its header written over) covers every byte staged so far
    let hashing: PieceWriter | null = offset === 0
      ? await pieceWriter().catch(() => null)
      : (adopted?.hasher !== undefined && adopted.hasher !== null && adopted.bytes === offset ? adopted.hasher : null)
    if (hashing === null) adopted?.hasher?.abort()
    const dropHashing = (): void => { hashing?.abort(); hashing = null }
    const sink: PayloadSink = {
      write: async (bytes) => {
        if (t.staged + bytes.length > t.reserved) await this.reserveMore(t, bytes.length, proposalCid)
        this.verified.delete(t.key)
        const h = hashing
        // the frame's bytes are copied into the stream's segment before it resolves, so both may read them at once
        await Promise.all([file.write(bytes), h?.write(bytes).catch(() => { if (hashing === h) dropHashing() })])
        t.staged += bytes.length
      },
      interrupted: async () => { dropHashing(); this.release(proposalCid, t); await closeFile() },
      finish: async () => {
        await closeFile()
        const streamed = hashing
        hashing = null
        try { return await this.complete(req, proposalCid, t.key, staging, streamed) } finally { streamed?.abort(); this.release(proposalCid, t) }
      }
    }
    this.log(`accepted ${proposalCid} (${req.payloadBytes} bytes, resuming at ${offset})`)
    return { offset, sink }
  }

  /**
   * The transfer's bytes have reached the room it holds: the next stretch, if the disk still has it. If not,
   * SPACE, before this frame is written: everything staged is kept, and a proposal made once the ask shows room
   * resumes from it.
   */
  private async reserveMore (t: Transfer, frame: number, proposalCid: string): Promise<void> {
    await this.withRoom(async () => {
      const want = Math.min(t.pieceSize, t.staged + frame + this.limits.reserveAheadBytes)
      const free = await this.freeBytes(proposalCid)
      if (free < want - t.staged) {
        throw new DealRejectedError('SPACE', `the provider ran out of room for this piece: ${Math.max(0, free)} bytes free, ${t.pieceSize - t.staged} more to come; the ${t.staged} bytes received are kept, so a proposal made once the ask shows room resumes from them`)
      }
      t.reserved = want
    })
  }

  /** The file of a deal published here for `client`'s piece, if its bytes are still on disk. */
  private async storedSibling (client: string, pieceCid: string, payloadBytes: number): Promise<string | undefined> {
    for (const d of this.init.store.all()) {
      if (d.client !== client || d.pieceCid !== pieceCid || d.payloadBytes !== payloadBytes) continue
      const file = this.init.store.absolute(d.file)
      if (await this.init.store.sizeOf(file) === payloadBytes) return file
    }
    return undefined
  }

  /**
   * Every byte is in: the bytes must hash to the proposed piece before the provider commits on chain. A start
   * that has come too close is refused with the bytes kept staged: the client signs a later start for the
   * same piece, and that proposal goes straight to publication (the hash is not taken twice).
   */
  private async complete (req: DealRequest, proposalCid: string, key: string, staging: string, streamed: PieceWriter | null = null): Promise<{ dealId: number, message: string }> {
    const p = req.proposal.proposal
    // publication lands in a later block, and the market refuses a deal whose start has come (market-actor)
    const tooLate = (): boolean => p.startEpoch <= this.init.chain.head().header.height + 1
    const late = (): DealRejectedError => this.startError(`the deal starts at ${p.startEpoch}, before it could be published; every byte is kept`, this.init.chain.head().header.height)
    if (tooLate()) throw late()
    let roots = this.verified.get(key)
    if (!this.verified.has(key)) {
      // the piece of the frames as they arrived, when every staged byte went through that stream; else one pass over the file
      const fromStream = await streamed?.finish().catch(() => null) ?? null
      const piece = fromStream !== null && fromStream.digest.payloadBytes === await this.init.store.sizeOf(staging) ? fromStream : await pieceOfFile(staging)
      if (!piece.v1.equals(p.pieceCid) || piece.digest.paddedBytes !== p.pieceSize) {
        await this.init.store.remove(staging)
        throw new DealRejectedError('PIECE_MISMATCH', `the bytes hash to ${String(piece.v1)}, the proposal names ${String(p.pieceCid)}`)
      }
      this.log(`${proposalCid}: the bytes hash to the proposed piece (${piece === fromStream ? 'hashed as they arrived' : 'one pass over the staged file'}, ${piece.hasher})`)
      roots = piece.segmentRoots
      this.verified.set(key, roots)
    }
    if (tooLate()) throw late() // hashing a large piece takes a while
    const store = this.init.store
    const final = store.piecePath(proposalCid)
    // the segment roots, kept for the proofs: under the name the file takes once published (a rename keeps the
    // stamp), written for each proposal of these bytes (a re-signed one publishes under its own name; settle removes
    // a refused one's); a failed write only means the first proof builds them again
    if (roots !== undefined) {
      const kept = roots
      await fileStamp(staging).then(async stamp => { await writePieceTree(final, stamp, { pieceCid: p.pieceCid, payloadBytes: req.payloadBytes }, kept) })
        .catch((err: Error) => { this.log(`${proposalCid}: piece tree not kept (${err.message}); the first proof builds it`) })
    }
    const pending: PendingPublication = {
      proposalCid, client: addressToString(p.client), pieceCid: p.pieceCid.toString(), paddedBytes: p.pieceSize, payloadBytes: req.payloadBytes,
      startEpoch: p.startEpoch, endEpoch: p.endEpoch, file: store.relative(final), publishMessage: '', nonce: 0, stagingKey: key
    }
    await rename(staging, final)
    const params = dagCbor.encode([[dagCbor.decode(encodeClientDealProposal(req.proposal))]])
    let cid: CID
    try {
      // recorded before the push: from the push on, the deal may land whatever happens to this process
      cid = await this.push(idAddressBytes(5), MarketMethod.PublishStorageDeals, params, 0n, async (message, nonce) => {
        Object.assign(pending, { publishMessage: message.toString(), nonce })
        await store.addPending(pending)
      })
    } catch (err) {
      // never handed to the chain: the bytes go back where a re-signed proposal finds them
      await this.settle(pending, null)
      // a disk that filled since the proposal was taken: told as such (the client may send again once there is room)
      if (isDiskFullError(err)) throw new DealRejectedError('SPACE', `the provider's disk filled before it could record the deal (${(err as { code: string }).code}); every byte is kept: send again once it has room`)
      throw new DealRejectedError('PUBLISH', `the deal could not be sent to the chain: ${(err as Error).message}`)
    }
    let lookup: MsgLookup
    try {
      lookup = await this.init.chain.waitMessage(cid, this.stopped.signal)
    } catch (err) {
      // handed to the chain, outcome unseen (the provider is stopping): the deal may land, so the piece stays
      // where a published deal's piece lives, and the chain settles it (each head, and after a restart)
      throw new DealRejectedError('PUBLISH', `the deal was sent to the chain (message ${cid.toString()}), and the provider stopped before seeing it land (${(err as Error).message}); propose it again later to learn its deal ID`)
    }
    const dealId = await this.settle(pending, lookup)
    if (dealId === null) {
      // the message can land after the start it checked for: that is a START the client can act on
      if (tooLate()) throw late()
      throw new DealRejectedError('PUBLISH', `the chain refused the deal (exit code ${lookup.receipt.exitCode}); every byte is kept`)
    }
    return { dealId, message: cid.toString() }
  }

  /**
   * The outcome of a publication: on chain (`lookup` with exit code 0) the deal goes into the index; refused, or
   * never to land (null), the piece goes back to staging, where a re-signed proposal finds it. The deal's ID, or
   * null. The piece was held by its transfer (BUSY) until publication, so no other published deal shares its file.
   */
  private async settle (pending: PendingPublication, lookup: MsgLookup | null): Promise<number | null> {
    const store = this.init.store
    const final = store.absolute(pending.file)
    if (lookup === null || lookup.receipt.exitCode !== ExitCode.Ok) {
      const staging = store.stagingPath(pending.stagingKey)
      await rename(final, staging).catch(async () => { await store.remove(final) })
      // this proposal's piece tree: a re-signed one writes its own (the roots stay in `verified`)
      await removePieceTree(final).catch(() => {})
      // its idle time starts now, not when its last byte arrived (the wait may have spanned a restart)
      await store.touch(staging)
      if (pending.publishMessage !== '') await store.removePending(pending.proposalCid)
      return null
    }
    this.verified.delete(pending.stagingKey)
    const [[dealId]] = dagCbor.decode(lookup.receipt.return) as [[number]]
    const { nonce: _n, stagingKey: _k, ...deal } = pending
    await store.add({ ...deal, dealId: dealId! })
    await store.removePending(pending.proposalCid)
    this.log(`published deal ${dealId!} for ${pending.pieceCid}`)
    return dealId!
  }

  /**
   * Publications whose outcome was not seen (the provider stopped while waiting): each is settled once the chain
   * has executed its message, or once the worker's nonce on chain has passed the message's (another message
   * took the nonce, so this one can never land).
   */
  private async settlePending (): Promise<void> {
    for (const pending of this.init.store.pendingAll()) {
      if (this.transfers.has(pending.proposalCid)) continue // its own stream is waiting for it
      // the nonce is read before the search: a message executed between the two reads is then found by the search,
      // never taken for one that can no longer land
      const onChain = this.init.chain.readState((s, r) => getActor(s, r, this.worker))?.nonce ?? 0
      const lookup = await this.init.chain.searchMessage(CID.parse(pending.publishMessage))
      if (lookup !== null) {
        const dealId = await this.settle(pending, lookup)
        this.log(`publication ${pending.publishMessage} settled: ${dealId === null ? `refused (exit code ${lookup.receipt.exitCode}), piece restaged` : `deal ${dealId}`}`)
        continue
      }
      if (onChain > pending.nonce) {
        await this.settle(pending, null)
        this.log(`publication ${pending.publishMessage} will never land (the worker's nonce is ${onChain}); piece restaged`)
      }
    }
  }

  /**
   * Signs and pushes a message from the worker, one at a time (nonces in order). `beforePush` learns the
   * message's CID and nonce before the chain does.
   */
  private async push (to: Uint8Array, method: number, params: Uint8Array, value = 0n, beforePush?: (cid: CID, nonce: number) => Promise<void>): Promise<CID> {
    const pushed = this.sending.then(async () => {
      const m: Message = {
        version: 0, to, from: this.worker, nonce: await this.init.chain.mpoolNonce(this.worker), value, gasLimit: 0,
        gasFeeCap: TRANSFER_GAS_FEE_CAP, gasPremium: TRANSFER_GAS_PREMIUM, method, params
      }
      const signed = signMessage(this.init.workerKey, { ...m, gasLimit: gasLimitFor(m) })
      await beforePush?.(signedMessageCid(signed), m.nonce)
      return await this.init.chain.mpoolPush(signed)
    })
    this.sending = pushed.catch(() => {})
    return await pushed
  }

  /** push, then waits for the message's receipt. */
  private async send (to: Uint8Array, method: number, params: Uint8Array, value = 0n): Promise<{ cid: CID, lookup: MsgLookup }> {
    const cid = await this.push(to, method, params, value)
    return { cid, lookup: await this.init.chain.waitMessage(cid, this.stopped.signal) }
  }

  // ---- proving ----

  private async run (): Promise<void> {
    // staged bytes are named by client and piece, so they outlive a restart: a client re-signs and resumes from
    // them; they expire by idle time like any other, and so do stages (prestage.ts), whose bytes a proposal
    // can still adopt after a restart. Files this version does not name are dropped.
    await this.init.store.sweepStaging((f, name) => f === null && !name.startsWith(PRESTAGE_FILE_PREFIX))
    let topUp: Promise<void> | undefined
    while (!this.stopped.signal.aborted) {
      // collateral escrow is topped up whenever it runs low (penalties drain it), one top-up at a time
      topUp ??= this.topUpEscrow().catch((err: Error) => { this.log(`escrow top-up: ${err.message}`) }).finally(() => { topUp = undefined })
      await this.settlePending().catch((err: Error) => { this.log(`pending publications: ${err.message}`) })
      await this.proveDue().catch((err: Error) => { this.log(`proving: ${err.message}`) })
      await this.sweep().catch((err: Error) => { this.log(`staging: ${err.message}`) })
      await this.init.chain.nextHead(this.stopped.signal)
    }
  }

  private async topUpEscrow (): Promise<void> {
    const e = this.init.chain.readState((s, r) => readEscrow(s, r, this.address))
    if (e.escrow - e.locked >= ESCROW_LOW_WATER) return
    // a provider taking no new deals needs no free collateral: topping up would undo its operator's withdraw
    if (!this.acceptingDeals) return
    // what the worker can spare above its gas reserve, up to ESCROW_TOP_UP (a faucet-funded worker holds less)
    const balance = this.init.chain.readState((s, r) => getActor(s, r, this.worker))?.balance ?? 0n
    const spare = balance - WORKER_GAS_RESERVE
    const amount = spare < ESCROW_TOP_UP ? spare : ESCROW_TOP_UP
    if (amount <= 0n) {
      if (!this.unfundedLogged) this.log(`escrow top-up: the worker holds ${balance} attoFIL, nothing above its gas reserve; fund ${addressToString(this.worker)}`)
      this.unfundedLogged = true
      return
    }
    this.unfundedLogged = false
    const { lookup } = await this.send(idAddressBytes(5), MarketMethod.AddBalance, dagCbor.encode(this.address), amount)
    this.log(`escrow top-up of ${amount} attoFIL: exit code ${lookup.receipt.exitCode}`)
  }

  /** Drops staged bytes nobody has written or resumed for stagingIdleMs, and old proving marks. */
  private async sweep (): Promise<void> {
    const head = this.init.chain.head().header.height
    const idleSince = this.nowMs() - this.limits.stagingIdleMs
    await this.prestage.sweep()
    const dropped = await this.init.store.sweepStaging(f => f !== null && !this.writers.has(f.key) && f.touchedMs < idleSince)
    for (const name of dropped) {
      this.verified.delete(name.slice(0, -'.part'.length))
      this.log(`staging: ${name} expired unused`)
    }
    const P = this.init.chain.genesis.state.market.provingPeriod
    for (const key of this.proving.keys()) if (Number(key.split('@')[1]) < head - 2 * P) this.proving.delete(key)
  }

  /** For each active deal whose current period has no proof yet, proves from disk and submits. */
  async proveDue (): Promise<void> {
    const head = this.init.chain.head()
    const P = this.init.chain.genesis.state.market.provingPeriod
    const c = Math.floor(head.header.height / P) * P
    // a challenge epoch that was a null round draws from the round the first block above it carries for it (as the
    // market's cron does): waiting for a block at c itself left the period unproven, every deal faulted, and with the
    // power of all providers gone no block could be won again
    const challengeHeader = await this.init.chain.headerAtOrAbove(c)
    if (challengeHeader === undefined) return
    const beacon = beaconEntryForEpoch(beaconTimingOf(this.init.chain.genesis), c, challengeHeader.header)
    if (beacon === undefined) return
    for (const d of this.init.store.all()) {
      if (c < d.startEpoch || c + P > d.endEpoch) continue
      const key = `${d.dealId}@${c}`
      if (this.proving.has(key)) continue
      const deal = this.init.chain.readState((s, r) => readDeal(s, r, d.dealId))
      if (deal === null || dealStatus(deal.proposal, deal.state, head.header.height) !== 'active') continue
      if (deal.periods.length > (c - d.startEpoch) / P) continue // already proven (or settled)
      this.proving.set(key, 'sent')
      void this.proveOne(d, deal.proposal, beacon, c).catch((err: Error) => {
        // bytes that no longer hash to the piece will not next head either; a refused or lost message may
        if (err.name === 'PossessionProofError' || (err as NodeJS.ErrnoException).code === 'ENOENT') this.proving.set(key, 'failed')
        else this.proving.delete(key)
        this.log(`cannot prove deal ${d.dealId} for the period at ${c}: ${err.message}`)
      })
    }
  }

  private async proveOne (d: StoredDeal, proposal: DealProposal, beacon: BeaconEntry, c: Epoch): Promise<void> {
    const seed = challengeSeed(beacon, c, d.dealId)
    const file = this.init.store.absolute(d.file)
    // only the challenged segments are read and hashed, the rest from the segment roots kept beside the file
    // (built once on the pool where missing): re-hashing a whole 1 GiB piece here took ~86% of this process's CPU
    const proof = await provePossessionFromFiles(dealProofSet(proposal), [{ file, payloadBytes: d.payloadBytes }], seed,
      this.init.chain.genesis.state.market.challengesPerPeriod, { hasher: this.init.hasher, log: (l) => { this.log(`deal ${d.dealId}: ${l}`) } })
    const sentAt = this.init.chain.head().header.height
    const { lookup } = await this.send(idAddressBytes(5), MarketMethod.SubmitPossessionProofs, encodeSubmitPossessionProofs([{ dealId: d.dealId, challengeEpoch: c, proof }]))
    if (lookup.receipt.exitCode !== ExitCode.Ok) {
      // when it was sent and where it landed: a proof that lands after its period ends is refused (16) as a wrong one is
      const P = this.init.chain.genesis.state.market.provingPeriod
      throw new Error(`the chain refused the proof (exit code ${lookup.receipt.exitCode}; sent at head ${sentAt}, its receipt in the block at ${lookup.executedIn.header.height}; the period takes proofs in epochs ${c + 1}..${c + P})`)
    }
    this.log(`proved deal ${d.dealId} for the period at ${c}`)
  }
}
