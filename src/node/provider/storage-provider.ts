// A storage provider: its own libp2p identity, worker key and folder; it answers asks, takes deals over
// `/coffer/deal/1.0.0` (checking each proposal before a byte moves and the bytes against the proposed
// piece before publishing), and in every proving period proves each of its active deals from the bytes on
// disk. It talks to the chain only through messages signed by its worker, as any provider would.
// Nothing is locked on chain before publication, so the provider bounds what an accepted proposal may hold:
// a client's running transfers count against its escrow and against a per-client share of the capacity,
// everything staged counts as used space, a start may be at most MAX_START_DELAY_SECS ahead, and staged bytes
// left idle expire. Staged bytes are kept by client and piece, not by proposal: a client whose start came too
// soon signs a later one for the same piece and resumes from what is staged (or goes straight to publication).
import { open, rename, type FileHandle } from 'node:fs/promises'
import {
  DealRejectedError, verifyClientDealProposal, dealProposalCid, bytesEqual, readEscrow, readDeal, dealStorageFee, dealStatus,
  askPricePerEpoch, askCollateral, signStorageAsk, secpAddressBytes, secpPublicKey, signMessage, encodeClientDealProposal,
  encodeSubmitPossessionProofs, challengeSeed, dealProofSet, provePossession, gasLimitFor, addressToString, idAddressBytes,
  MarketMethod, ExitCode, TRANSFER_GAS_FEE_CAP, TRANSFER_GAS_PREMIUM, paddedPieceSize, isKeyAddress,
  type DealRequest, type SignedStorageAsk, type StorageAsk, type Message, type CID, type SealedHeader, type Genesis,
  type BlockGetter, type DealProposal, type AttoFil, type Epoch, type NodeHasher
} from '../../core'
import * as dagCbor from '@ipld/dag-cbor'
import { DEFAULT_TRANSFER_RATE_FLOOR, type PayloadSink, type DealHandler, type TransferRateFloor } from '../../net'
import { pieceOfFile } from '../piece-file'
import { fileChunks } from '../prove-possession'
import type { MsgLookup } from '../rpc/backend'
import { ProviderStore, stagingKey, type StoredDeal } from './provider-store'

/** What a provider needs of a full node: the head, message submission, and reads of the head's state. */
export interface ProviderChain {
  readonly genesis: Genesis
  head: () => SealedHeader
  nextHead: (signal: AbortSignal) => Promise<void>
  headerAt: (height: number) => Promise<SealedHeader | undefined>
  mpoolNonce: (address: Uint8Array) => Promise<number>
  mpoolPush: (sm: ReturnType<typeof signMessage>) => Promise<CID>
  waitMessage: (cid: CID, signal: AbortSignal) => Promise<MsgLookup>
  /** Reads the state the head names (its ParentStateRoot). */
  readState: <T>(read: (store: BlockGetter, root: CID) => T) => T
}

export interface ProviderAskInit {
  pricePerGiBEpoch: AttoFil
  minPieceSize: number
  maxPieceSize: number
  collateralPerGiB: AttoFil
  /** Bytes this provider sells. */
  capacityBytes: number
}

/**
 * What one client may hold of a provider, and how long staged bytes live. A proposal locks nothing on chain
 * until it is published, so without these a client with a little escrow could reserve every byte a provider
 * sells, for as long as it cared to trickle.
 */
export interface ProviderLimits {
  /** Transfers one client may run at once (Lotus's SimultaneousTransfersForStoragePerClient). */
  maxClientTransfers: number
  /** Bytes one client may hold: the whole pieces of its running transfers plus its other staged bytes. */
  maxClientBytes: number
  /** How far past the head a deal may start, in seconds of the chain's block time (Lotus's MaxDealStartDelay). */
  maxStartDelaySecs: number
  /** Staged bytes that no stream has written or resumed for this long are removed. */
  stagingIdleMs: number
  /** The slowest a running transfer may go (deal-protocol's rate floor). */
  rateFloor: TransferRateFloor
}

/** Lotus's default MaxDealStartDelay (node/config/def.go): 14 days. */
export const MAX_START_DELAY_SECS = 14 * 24 * 3600
/** Far above an honest client's needs (the app sends a file's copies to different providers), and bounded. */
export const MAX_CLIENT_TRANSFERS = 8
/**
 * An hour: a client re-plans within seconds of a refused start, and a tab reopened after a dropped connection
 * within minutes; past that the disk is worth more to the next client than the bytes are to this one.
 */
export const STAGING_IDLE_MS = 60 * 60_000

/**
 * Defaults for an ask: one client may hold a quarter of the capacity, or one piece of the largest size the
 * ask takes when that is more (the client could not send it otherwise).
 */
export function defaultProviderLimits (ask: ProviderAskInit): ProviderLimits {
  return {
    maxClientTransfers: MAX_CLIENT_TRANSFERS,
    maxClientBytes: Math.max(ask.maxPieceSize, Math.floor(ask.capacityBytes / 4)),
    maxStartDelaySecs: MAX_START_DELAY_SECS,
    stagingIdleMs: STAGING_IDLE_MS,
    rateFloor: DEFAULT_TRANSFER_RATE_FLOOR
  }
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
}

/** Epochs a proposal must leave between now and its start: time to receive, check and publish. */
export const MIN_START_DELAY: Epoch = 5
/** Free escrow the provider keeps for collateral; it tops up from its worker below this. */
export const ESCROW_LOW_WATER: AttoFil = 10n * 10n ** 18n
export const ESCROW_TOP_UP: AttoFil = 100n * 10n ** 18n

/**
 * A transfer running on a stream: an accepted proposal not yet published. It holds its whole piece's room, and
 * what publishing it will lock of its client's escrow, until it is published, refused or dropped.
 */
interface Transfer {
  key: string
  client: string
  pieceSize: number
  /** Bytes in its staging file so far. */
  staged: number
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
  /** Staged files whose bytes were hashed and match their piece, by key: nothing has written to them since. */
  private readonly verified = new Set<string>()
  private readonly proving = new Map<string, 'sent' | 'failed'>()
  private sending: Promise<unknown> = Promise.resolve()
  private seqNo = 0
  private readonly stopped = new AbortController()
  private loop: Promise<void> | undefined

  constructor (private readonly init: StorageProviderInit) {
    this.address = idAddressBytes(init.id)
    this.worker = secpAddressBytes(secpPublicKey(init.workerKey))
    this.limits = { ...defaultProviderLimits(init.ask), ...init.limits }
  }

  private log (line: string): void { this.init.log?.(`provider ${addressToString(this.address)}: ${line}`) }
  private nowMs (): number { return this.init.nowMs?.() ?? Date.now() }
  get store (): ProviderStore { return this.init.store }

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
   * is disk handed out, whoever it is for), less what running transfers have yet to write of their pieces.
   */
  private async freeBytes (excluding?: string): Promise<number> {
    const a = this.init.ask
    const store = this.init.store
    const used = await store.piecesBytes() + await store.stagingBytes()
    let owed = 0
    for (const [cid, t] of this.transfers) if (cid !== excluding) owed += Math.max(0, t.pieceSize - t.staged)
    return Math.min(a.capacityBytes - used, await store.diskFreeBytes()) - owed
  }

  async ask (): Promise<SignedStorageAsk> {
    const a = this.init.ask
    const head = this.init.chain.head().header.height
    const ask: StorageAsk = {
      pricePerGiBEpoch: a.pricePerGiBEpoch, verifiedPricePerGiBEpoch: a.pricePerGiBEpoch, minPieceSize: a.minPieceSize, maxPieceSize: a.maxPieceSize,
      miner: this.address, timestamp: head, expiry: head + 600, seqNo: this.seqNo++, freeBytes: Math.max(0, await this.freeBytes()), collateralPerGiB: a.collateralPerGiB
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
    return new DealRejectedError('START', `${why} (head ${head}): sign a start from ${this.earliestStart(head)} to ${this.latestStart(head)}, on a ${this.init.chain.genesis.state.market.provingPeriod}-epoch period boundary`)
  }

  /** Everything about a proposal that needs no disk: it is checked, and the transfer claimed, in one synchronous step. */
  private check (req: DealRequest): Omit<Transfer, 'staged'> {
    const p = req.proposal.proposal
    try { verifyClientDealProposal(req.proposal) } catch (err) { throw new DealRejectedError('PROPOSAL', (err as Error).message) }
    if (!bytesEqual(p.provider, this.address)) throw new DealRejectedError('PROPOSAL', `the proposal is for ${addressToString(p.provider)}, not ${addressToString(this.address)}`)
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

  async accept (req: DealRequest): ReturnType<DealHandler['accept']> {
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
    const transfer: Transfer = { ...checked, staged: 0 }
    this.transfers.set(proposalCid, transfer)
    this.writers.set(key, proposalCid)
    try {
      return await this.admit(req, proposalCid, transfer)
    } catch (err) {
      this.release(proposalCid, transfer)
      throw err
    }
  }

  private release (proposalCid: string, t: Transfer): void {
    this.transfers.delete(proposalCid)
    if (this.writers.get(t.key) === proposalCid) this.writers.delete(t.key)
  }

  private async admit (req: DealRequest, proposalCid: string, t: Transfer): Promise<{ offset: number, sink: PayloadSink }> {
    const p = req.proposal.proposal
    const staging = this.init.store.stagingPath(t.key)
    let offset = await this.init.store.sizeOf(staging)
    if (offset > req.payloadBytes) { await this.init.store.remove(staging); this.verified.delete(t.key); offset = 0 }
    t.staged = offset
    // what one client holds: its other running transfers' whole pieces, and its staged bytes no stream is writing
    let held = 0
    for (const [cid, x] of this.transfers) if (cid !== proposalCid && x.client === t.client) held += x.pieceSize
    for (const f of await this.init.store.stagedFiles()) if (f.client === t.client && f.key !== t.key && !this.writers.has(f.key)) held += f.bytes
    if (held + p.pieceSize > this.limits.maxClientBytes) {
      throw new DealRejectedError('CLIENT_LIMIT', `this client already holds ${held} bytes here; with this ${p.pieceSize}-byte piece it would pass the ${this.limits.maxClientBytes} one client may hold`)
    }
    // room: other transfers reserve what they have yet to write; everything staged (this piece's bytes too) is used
    const free = await this.freeBytes(proposalCid)
    if (free < p.pieceSize - offset) throw new DealRejectedError('SPACE', `${Math.max(0, free)} bytes free, the piece needs ${p.pieceSize - offset} more`)
    const file: FileHandle = await open(staging, 'a')
    // resuming counts as use: the idle expiry starts over
    await this.init.store.touch(staging)
    const closeFile = async (): Promise<void> => { await file.close().catch(() => {}) }
    const sink: PayloadSink = {
      write: async (bytes) => {
        this.verified.delete(t.key)
        await file.write(bytes)
        t.staged += bytes.length
      },
      interrupted: async () => { this.release(proposalCid, t); await closeFile() },
      finish: async () => {
        await closeFile()
        try { return await this.complete(req, proposalCid, t.key, staging) } finally { this.release(proposalCid, t) }
      }
    }
    this.log(`accepted ${proposalCid} (${req.payloadBytes} bytes, resuming at ${offset})`)
    return { offset, sink }
  }

  /**
   * Every byte is in: the bytes must hash to the proposed piece before the provider commits on chain. A start
   * that has come too close is refused with the bytes kept staged: the client signs a later start for the
   * same piece, and that proposal goes straight to publication (the hash is not taken twice).
   */
  private async complete (req: DealRequest, proposalCid: string, key: string, staging: string): Promise<{ dealId: number, message: string }> {
    const p = req.proposal.proposal
    // publication lands in a later block, and the market refuses a deal whose start has come (market-actor)
    const tooLate = (): boolean => p.startEpoch <= this.init.chain.head().header.height + 1
    const late = (): DealRejectedError => this.startError(`the deal starts at ${p.startEpoch}, before it could be published; every byte is kept`, this.init.chain.head().header.height)
    if (tooLate()) throw late()
    if (!this.verified.has(key)) {
      const piece = await pieceOfFile(staging)
      if (!piece.v1.equals(p.pieceCid) || piece.digest.paddedBytes !== p.pieceSize) {
        await this.init.store.remove(staging)
        throw new DealRejectedError('PIECE_MISMATCH', `the bytes hash to ${String(piece.v1)}, the proposal names ${String(p.pieceCid)}`)
      }
      this.verified.add(key)
    }
    if (tooLate()) throw late() // hashing a large piece takes a while
    const final = this.init.store.piecePath(proposalCid)
    await rename(staging, final)
    // until the deal is on chain, a failure puts the bytes back where a re-signed proposal finds them
    const restage = async (): Promise<void> => { await rename(final, staging).catch(async () => { await this.init.store.remove(final) }) }
    const params = dagCbor.encode([[dagCbor.decode(encodeClientDealProposal(req.proposal))]])
    let published: { cid: CID, lookup: MsgLookup }
    try {
      published = await this.send(idAddressBytes(5), MarketMethod.PublishStorageDeals, params)
    } catch (err) {
      await restage()
      throw new DealRejectedError('PUBLISH', `the deal could not be sent to the chain: ${(err as Error).message}`)
    }
    const { cid, lookup } = published
    if (lookup.receipt.exitCode !== ExitCode.Ok) {
      // only this attempt's file: the piece is held (BUSY) until here, so no published deal shares it
      await restage()
      // the message can land after the start it checked for: that is a START the client can act on
      if (tooLate()) throw late()
      throw new DealRejectedError('PUBLISH', `the chain refused the deal (exit code ${lookup.receipt.exitCode}); every byte is kept`)
    }
    this.verified.delete(key)
    const [[dealId]] = dagCbor.decode(lookup.receipt.return) as [[number]]
    await this.init.store.add({
      dealId: dealId!, proposalCid, pieceCid: p.pieceCid.toString(), paddedBytes: p.pieceSize, payloadBytes: req.payloadBytes,
      startEpoch: p.startEpoch, endEpoch: p.endEpoch, file: this.init.store.relative(final), publishMessage: cid.toString()
    })
    this.log(`published deal ${dealId!} for ${p.pieceCid.toString()}`)
    return { dealId: dealId!, message: cid.toString() }
  }

  /** Signs and pushes a message from the worker, one at a time (nonces in order), and waits for its receipt. */
  private async send (to: Uint8Array, method: number, params: Uint8Array, value = 0n): Promise<{ cid: CID, lookup: MsgLookup }> {
    const pushed = this.sending.then(async () => {
      const m: Message = {
        version: 0, to, from: this.worker, nonce: await this.init.chain.mpoolNonce(this.worker), value, gasLimit: 0,
        gasFeeCap: TRANSFER_GAS_FEE_CAP, gasPremium: TRANSFER_GAS_PREMIUM, method, params
      }
      return await this.init.chain.mpoolPush(signMessage(this.init.workerKey, { ...m, gasLimit: gasLimitFor(m) }))
    })
    this.sending = pushed.catch(() => {})
    const cid = await pushed
    return { cid, lookup: await this.init.chain.waitMessage(cid, this.stopped.signal) }
  }

  // ---- proving ----

  private async run (): Promise<void> {
    // staged bytes are named by client and piece, so they outlive a restart: a client re-signs and resumes from
    // them; they expire by idle time like any other. Files this version does not name are dropped.
    await this.init.store.sweepStaging(f => f === null)
    let topUp: Promise<void> | undefined
    while (!this.stopped.signal.aborted) {
      // collateral escrow is topped up whenever it runs low (penalties drain it), one top-up at a time
      topUp ??= this.topUpEscrow().catch((err: Error) => { this.log(`escrow top-up: ${err.message}`) }).finally(() => { topUp = undefined })
      await this.proveDue().catch((err: Error) => { this.log(`proving: ${err.message}`) })
      await this.sweep().catch((err: Error) => { this.log(`staging: ${err.message}`) })
      await this.init.chain.nextHead(this.stopped.signal)
    }
  }

  private async topUpEscrow (): Promise<void> {
    const e = this.init.chain.readState((s, r) => readEscrow(s, r, this.address))
    if (e.escrow - e.locked >= ESCROW_LOW_WATER) return
    const { lookup } = await this.send(idAddressBytes(5), MarketMethod.AddBalance, dagCbor.encode(this.address), ESCROW_TOP_UP)
    this.log(`escrow top-up: exit code ${lookup.receipt.exitCode}`)
  }

  /** Drops staged bytes nobody has written or resumed for stagingIdleMs, and old proving marks. */
  private async sweep (): Promise<void> {
    const head = this.init.chain.head().header.height
    const idleSince = this.nowMs() - this.limits.stagingIdleMs
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
    const challengeHeader = await this.init.chain.headerAt(c)
    if (challengeHeader === undefined) return
    for (const d of this.init.store.all()) {
      if (c < d.startEpoch || c + P > d.endEpoch) continue
      const key = `${d.dealId}@${c}`
      if (this.proving.has(key)) continue
      const deal = this.init.chain.readState((s, r) => readDeal(s, r, d.dealId))
      if (deal === null || dealStatus(deal.proposal, deal.state, head.header.height) !== 'active') continue
      if (deal.periods.length > (c - d.startEpoch) / P) continue // already proven (or settled)
      this.proving.set(key, 'sent')
      void this.proveOne(d, deal.proposal, challengeHeader.cid, c).catch((err: Error) => {
        // bytes that no longer hash to the piece will not next head either; a refused or lost message may
        if (err.name === 'PossessionProofError' || (err as NodeJS.ErrnoException).code === 'ENOENT') this.proving.set(key, 'failed')
        else this.proving.delete(key)
        this.log(`cannot prove deal ${d.dealId} for the period at ${c}: ${err.message}`)
      })
    }
  }

  private async proveOne (d: StoredDeal, proposal: DealProposal, challengeHeader: CID, c: Epoch): Promise<void> {
    const seed = challengeSeed(challengeHeader, c, d.dealId)
    const file = this.init.store.absolute(d.file)
    const proof = await provePossession(dealProofSet(proposal), () => fileChunks(file), seed, this.init.chain.genesis.state.market.challengesPerPeriod, this.init.hasher)
    const { lookup } = await this.send(idAddressBytes(5), MarketMethod.SubmitPossessionProofs, encodeSubmitPossessionProofs([{ dealId: d.dealId, challengeEpoch: c, proof }]))
    if (lookup.receipt.exitCode !== ExitCode.Ok) throw new Error(`the chain refused the proof (exit code ${lookup.receipt.exitCode})`)
    this.log(`proved deal ${d.dealId} for the period at ${c}`)
  }
}
